"""Generators for the VFPv3 instructions (one per form of vfp_decode.py; A32 encoding,
which T32 reuses bit for bit).

Register arguments are already combined register numbers: ``sd sn sm`` for single
precision (Vd:D), ``dd dn dm`` for double (D:Vd); forms whose operand size is ``sz``
pass ``vd vn vm`` meaning s- or d-registers according to ``sz``.

* ``trans_vldr``: ``l sz u rn vd imm`` (byte offset).  ``trans_vldm``: ``l sz p u w rn
  vd imm8``.  ``trans_vmov_64``: ``op sz rt rt2 vm``.  ``trans_vmov_single``: ``op sn
  rt``.  ``trans_vmov_scalar``: ``op dn h rt``.  ``trans_vmrs``/``trans_vmsr``: ``reg rt``.
* ``trans_vfp_3op``: ``op`` in MLA MLS NMLS NMLA MUL NMUL ADD SUB DIV, ``sz vd vn vm``.
* ``trans_vmov_imm``: ``sz vd imm`` (the expanded constant).  ``trans_vfp_2op``: ``op``
  in MOV ABS NEG SQRT, ``sz vd vm``.  ``trans_vcmp``: ``sz vd vm e z``.
* ``trans_vcvt_ds``: ``sz vd vm`` (vd has the other size).  ``trans_vcvt_half``: ``sd sm
  op t``.  ``trans_vcvt_toint``: ``sz sd vm s rz``.  ``trans_vcvt_fromint``: ``sz vd sm
  s``.  ``trans_vcvt_fix``: ``sz vd op u size fbits`` (to fixed point rounds towards
  zero, from fixed point to nearest, whatever FPSCR.RMode says: the pseudocode's
  FPToFixed(..., round_zero=TRUE) and FixedToFP(..., round_to_nearest=TRUE)).

Every generator first emits the access check (CPACR/NSACR/FPEXC.EN, and FPSCR.LEN/
STRIDE for the short-vector-capable data-processing instructions; see vfp.py).  An
unconditional instruction's check covers the rest of the block: nothing but VMSR
(which resets that) and block-ending instructions (MCR to CPACR, mode changes) can
change the outcome.  (An MCR to SCR.NS or NSACR does not end the block; a VFP
instruction right after one in the same block is checked against the old state.)

Loads and stores are MemA accesses: unaligned addresses fault whatever SCTLR.A says.

The register file is ``cpu.vfp_d``, read into the local ``VD`` by each instruction
(a snapshot load may replace the list).  Moves, loads and stores are inline; the
arithmetic calls the ``VFPUnit`` closures: host-float fast paths (``vfp._fast_ops``:
ADD/SUB/MUL/DIV and VCVT in round-to-nearest, VCMP) that fall back to softfloat for
NaNs, denormals, overflow/underflow and the other rounding modes; VSQRT and the
half-precision conversions always use softfloat (``fp1``).
"""
from __future__ import annotations

from .. import softfloat as sf
from . import exceptions, vfp
from .translator import Ctx


# --- checks and register access ----------------------------------------------------------

_ACC, _EN, _DP = 1, 2, 3  # what a check covers: CPACR/NSACR, + FPEXC.EN, + LEN/STRIDE


def _check(ctx: Ctx, need_en: bool = True, dp: bool = False) -> None:
    """Emit the UNDEF check for this instruction unless an earlier unconditional one in
    the block already covered it."""
    level = _DP if dp else (_EN if need_en else _ACC)
    if ctx.__dict__.get("vfp_level", 0) >= level:
        return
    ok = ctx.helper("vfpok", vfp.unit(ctx.cpu).ok)
    und = ctx.helper("Undefined", exceptions.Undefined)
    ctx.emit(f"if not {ok}({ctx.user}, {need_en or dp}, {dp}): raise {und}({ctx.idx})")
    if ctx.indent == 1:  # unconditional: holds for the rest of the block
        ctx.vfp_level = level


def _forget_checks(ctx: Ctx, level: int) -> None:
    """After a VMSR: checks above ``level`` must be made again."""
    ctx.vfp_level = min(ctx.__dict__.get("vfp_level", 0), level)


def _regs(ctx: Ctx) -> None:
    ctx.emit("VD = cpu.vfp_d")


def _s(n: int) -> str:
    """Expression reading single register n."""
    return f"(VD[{n >> 1}] >> 32)" if n & 1 else f"(VD[{n >> 1}] & 0xffffffff)"


def _set_s(ctx: Ctx, n: int, value: str) -> None:
    k = n >> 1
    if n & 1:
        ctx.emit(f"VD[{k}] = (VD[{k}] & 0xffffffff) | (({value}) << 32)")
    else:
        ctx.emit(f"VD[{k}] = (VD[{k}] & 0xffffffff00000000) | ({value})")


def _get(sz: int, n: int) -> str:
    return f"VD[{n}]" if sz else _s(n)


def _set(ctx: Ctx, sz: int, n: int, value: str) -> None:
    if sz:
        ctx.emit(f"VD[{n}] = {value}")
    else:
        _set_s(ctx, n, value)


def _big_endian(ctx: Ctx) -> bool:
    return bool(ctx.key_hi & (1 << 33))


def _load_d(ctx: Ctx, addr: str, dn: int) -> None:
    """d<dn> <- two aligned words at addr (the lower-addressed word is the low half,
    or the high half in big-endian state)."""
    lo, hi = ctx.tmp("w"), ctx.tmp("w")
    a2 = ctx.tmp("a")
    ctx.emit(f"{a2} = ({addr} + 4) & 0xffffffff")
    ctx.load(4, addr, lo, aligned=True)
    ctx.load(4, a2, hi, aligned=True)
    if _big_endian(ctx):
        lo, hi = hi, lo
    ctx.emit(f"VD[{dn}] = {lo} | ({hi} << 32)")


def _store_d(ctx: Ctx, addr: str, dn: int) -> None:
    lo, hi = ctx.tmp("w"), ctx.tmp("w")
    a2 = ctx.tmp("a")
    ctx.emit(f"{lo} = VD[{dn}] & 0xffffffff; {hi} = VD[{dn}] >> 32")
    ctx.emit(f"{a2} = ({addr} + 4) & 0xffffffff")
    if _big_endian(ctx):
        lo, hi = hi, lo
    ctx.store(4, addr, lo, aligned=True)
    ctx.store(4, a2, hi, aligned=True)


def _base(ctx: Ctx, rn: int) -> str:
    """Base register value; the PC reads word-aligned (literal addressing)."""
    if rn == 15:
        return hex(ctx.pc_read & ~3)
    return ctx.r(rn)


# --- loads and stores -----------------------------------------------------------------------

def trans_vldr(ctx: Ctx, a) -> bool:
    _check(ctx)
    _regs(ctx)
    base = _base(ctx, a.rn)
    addr = ctx.tmp("a")
    if a.imm:
        ctx.emit(f"{addr} = ({base} {'+' if a.u else '-'} {a.imm}) & 0xffffffff")
    else:
        ctx.emit(f"{addr} = {base}")
    if a.sz:
        if a.l:
            _load_d(ctx, addr, a.vd)
        else:
            _store_d(ctx, addr, a.vd)
        return True
    v = ctx.tmp("w")
    if a.l:
        ctx.load(4, addr, v, aligned=True)
        _set_s(ctx, a.vd, v)
    else:
        ctx.emit(f"{v} = {_s(a.vd)}")
        ctx.store(4, addr, v, aligned=True)
    return True


def trans_vldm(ctx: Ctx, a) -> bool:
    n = a.imm8 // 2 if a.sz else a.imm8
    limit = 32
    if n == 0 or a.vd + n > limit or (a.sz and n > 16):
        return False  # UNPREDICTABLE: UNDEF (as QEMU)
    if a.rn == 15 and a.w:
        return False  # UNPREDICTABLE: UNDEF (as QEMU)
    _check(ctx)
    _regs(ctx)
    base = _base(ctx, a.rn)
    b = ctx.tmp("b")
    ctx.emit(f"{b} = {base}")
    size = a.imm8 * 4
    addr = ctx.tmp("a")
    if a.p:  # decrement before
        ctx.emit(f"{addr} = ({b} - {size}) & 0xffffffff")
    else:
        ctx.emit(f"{addr} = {b}")
    step = 8 if a.sz else 4
    for i in range(n):
        ea = addr if i == 0 else f"({addr} + {i * step}) & 0xffffffff"
        if i:
            t = ctx.tmp("a")
            ctx.emit(f"{t} = {ea}")
            ea = t
        if a.sz:
            (_load_d if a.l else _store_d)(ctx, ea, a.vd + i)
        else:
            v = ctx.tmp("w")
            if a.l:
                ctx.load(4, ea, v, aligned=True)
                _set_s(ctx, a.vd + i, v)
            else:
                ctx.emit(f"{v} = {_s(a.vd + i)}")
                ctx.store(4, ea, v, aligned=True)
    if a.w:
        if a.p:
            ctx.w(a.rn, addr)
        else:
            ctx.w(a.rn, f"({b} + {size}) & 0xffffffff")
    return True


# --- moves between core and extension registers ---------------------------------------------

def trans_vmov_single(ctx: Ctx, a) -> bool:
    if a.rt == 15:
        return False  # UNPREDICTABLE
    _check(ctx)
    _regs(ctx)
    if a.op:
        ctx.w(a.rt, _s(a.sn))
    else:
        _set_s(ctx, a.sn, ctx.r(a.rt))
    return True


def trans_vmov_64(ctx: Ctx, a) -> bool:
    if a.rt == 15 or a.rt2 == 15 or (a.op and a.rt == a.rt2) or (not a.sz and a.vm == 31):
        return False  # UNPREDICTABLE
    _check(ctx)
    _regs(ctx)
    if a.op:  # to core registers
        if a.sz:
            ctx.w(a.rt, f"VD[{a.vm}] & 0xffffffff")
            ctx.w(a.rt2, f"VD[{a.vm}] >> 32")
        else:
            ctx.w(a.rt, _s(a.vm))
            ctx.w(a.rt2, _s(a.vm + 1))
    else:
        lo, hi = ctx.r(a.rt), ctx.r(a.rt2)
        if a.sz:
            ctx.emit(f"VD[{a.vm}] = {lo} | ({hi} << 32)")
        else:
            _set_s(ctx, a.vm, lo)
            _set_s(ctx, a.vm + 1, hi)
    return True


def trans_vmov_scalar(ctx: Ctx, a) -> bool:
    if a.rt == 15:
        return False  # UNPREDICTABLE
    _check(ctx)
    _regs(ctx)
    sn = a.dn * 2 + a.h
    if a.op:
        ctx.w(a.rt, _s(sn))
    else:
        _set_s(ctx, sn, ctx.r(a.rt))
    return True


def trans_vmrs(ctx: Ctx, a) -> bool:
    reg = a.reg
    if reg not in vfp.SYSREG_NAMES:
        return False
    if reg != vfp.REG_FPSCR:
        if ctx.user or a.rt == 15:
            return False
        _check(ctx, need_en=False)
        if reg == vfp.REG_FPEXC:
            ctx.w(a.rt, "cpu.fpexc")
        else:
            ctx.w(a.rt, hex(vfp.CONST_REGS[reg]))
        return True
    _check(ctx)
    if a.rt == 15:  # VMRS APSR_nzcv, FPSCR
        t = ctx.tmp("v")
        ctx.emit(f"{t} = cpu.fpscr")
        ctx.set_flags("nzcv")
        ctx.emit(f"nf = {t} & 0x80000000; zf = 0 if {t} & 0x40000000 else 1; "
                 f"cf = ({t} >> 29) & 1; vf = ({t} << 3) & 0x80000000")
        return True
    ctx.w(a.rt, "cpu.fpscr")
    return True


def trans_vmsr(ctx: Ctx, a) -> bool:
    reg = a.reg
    if reg not in vfp.SYSREG_NAMES or a.rt == 15:
        return False
    if reg != vfp.REG_FPSCR:
        if ctx.user:
            return False
        _check(ctx, need_en=False)
        if reg == vfp.REG_FPEXC:
            ctx.emit(f"cpu.fpexc = {ctx.r(a.rt)} & {hex(vfp.FPEXC_WMASK)}")
            _forget_checks(ctx, _ACC)
        return True
    _check(ctx)
    ctx.emit(f"cpu.fpscr = {ctx.r(a.rt)} & {hex(vfp.FPSCR_WMASK)}")
    _forget_checks(ctx, _EN)
    return True


# --- data processing ---------------------------------------------------------------------------

_SQRT = {0: sf.f32_sqrt, 1: sf.f64_sqrt}
_SIGN = {0: "0x80000000", 1: "0x8000000000000000"}
_ABS = {0: "0x7fffffff", 1: "0x7fffffffffffffff"}


def _arith(ctx: Ctx, sz: int, name: str) -> str:
    """A fast-path function of ``vfp._fast_ops`` (it falls back to softfloat itself)."""
    return ctx.helper(f"v{name}{64 if sz else 32}", vfp.unit(ctx.cpu).fast[sz, name])


def trans_vfp_3op(ctx: Ctx, a) -> bool:
    _check(ctx, dp=True)
    sz, op = a.sz, a.op
    sign = _SIGN[sz]
    _regs(ctx)
    n, m = _get(sz, a.vn), _get(sz, a.vm)
    simple = {"ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div"}
    if op in simple:
        _set(ctx, sz, a.vd, f"{_arith(ctx, sz, simple[op])}({n}, {m})")
        return True
    p = ctx.tmp("p")
    ctx.emit(f"{p} = {_arith(ctx, sz, 'mul')}({n}, {m})")
    if op == "NMUL":
        _set(ctx, sz, a.vd, f"{p} ^ {sign}")
        return True
    d = _get(sz, a.vd)
    if op in ("MLS", "NMLA"):
        ctx.emit(f"{p} ^= {sign}")
    if op in ("NMLS", "NMLA"):
        d = f"{d} ^ {sign}"
    _set(ctx, sz, a.vd, f"{_arith(ctx, sz, 'add')}({d}, {p})")
    return True


def trans_vmov_imm(ctx: Ctx, a) -> bool:
    _check(ctx, dp=True)
    _regs(ctx)
    _set(ctx, a.sz, a.vd, hex(a.imm))
    return True


def trans_vfp_2op(ctx: Ctx, a) -> bool:
    _check(ctx, dp=True)
    sz = a.sz
    _regs(ctx)
    m = _get(sz, a.vm)
    if a.op == "MOV":
        _set(ctx, sz, a.vd, m)
    elif a.op == "ABS":
        _set(ctx, sz, a.vd, f"{m} & {_ABS[sz]}")
    elif a.op == "NEG":
        _set(ctx, sz, a.vd, f"{m} ^ {_SIGN[sz]}")
    else:  # SQRT
        fp1 = ctx.helper("fp1", vfp.unit(ctx.cpu).fp1)
        fn = ctx.helper(f"f{64 if sz else 32}_sqrt", _SQRT[sz])
        _set(ctx, sz, a.vd, f"{fp1}({fn}, {m})")
    return True


def trans_vcmp(ctx: Ctx, a) -> bool:
    if a.z and a.vm:
        return False  # the Vm/M bits must be zero in the compare-with-zero form
    _check(ctx)
    _regs(ctx)
    m = "0" if a.z else _get(a.sz, a.vm)
    ctx.emit(f"{_arith(ctx, a.sz, 'cmp')}({_get(a.sz, a.vd)}, {m}, {bool(a.e)})")
    return True


def trans_vcvt_ds(ctx: Ctx, a) -> bool:
    _check(ctx)
    _regs(ctx)
    if a.sz:  # double -> single
        _set(ctx, 0, a.vd, f"{_arith(ctx, 1, 'cvt')}(VD[{a.vm}])")
    else:
        _set(ctx, 1, a.vd, f"{_arith(ctx, 0, 'cvt')}({_s(a.vm)})")
    return True


def trans_vcvt_half(ctx: Ctx, a) -> bool:
    _check(ctx)
    fp1 = ctx.helper("fp1", vfp.unit(ctx.cpu).fp1)
    _regs(ctx)
    if a.op == 0:  # half (bottom/top of Sm) -> single
        fn = ctx.helper("f16_to_f32", sf.f16_to_f32)
        half = f"({_s(a.sm)} >> 16)" if a.t else f"({_s(a.sm)} & 0xffff)"
        _set_s(ctx, a.sd, f"{fp1}({fn}, {half})")
    else:  # single -> half, into the bottom/top of Sd
        fn = ctx.helper("f32_to_f16", sf.f32_to_f16)
        h = ctx.tmp("h")
        ctx.emit(f"{h} = {fp1}({fn}, {_s(a.sm)})")
        if a.t:
            _set_s(ctx, a.sd, f"({_s(a.sd)} & 0xffff) | ({h} << 16)")
        else:
            _set_s(ctx, a.sd, f"({_s(a.sd)} & 0xffff0000) | {h}")
    return True


def trans_vcvt_toint(ctx: Ctx, a) -> bool:
    _check(ctx)
    _regs(ctx)
    _set_s(ctx, a.sd, f"{_arith(ctx, a.sz, 'toint')}({_get(a.sz, a.vm)}, {a.s}, 32, 0, {a.rz}) & 0xffffffff")
    return True


def trans_vcvt_fromint(ctx: Ctx, a) -> bool:
    _check(ctx)
    _regs(ctx)
    _set(ctx, a.sz, a.vd, f"{_arith(ctx, a.sz, 'fromint')}({_s(a.sm)}, {a.s}, 32, 0)")
    return True


def trans_vcvt_fix(ctx: Ctx, a) -> bool:
    if a.fbits < 0:
        return False  # UNPREDICTABLE (more fraction bits than the size): UNDEF as QEMU
    _check(ctx)
    sz, signed = a.sz, 1 - a.u
    _regs(ctx)
    v = _get(sz, a.vd)
    if a.op:  # float -> fixed, round towards zero; the result is extended to the register
        mask = "0xffffffffffffffff" if sz else "0xffffffff"
        _set(ctx, sz, a.vd, f"{_arith(ctx, sz, 'toint')}({v}, {signed}, {a.size}, {a.fbits}, 1) & {mask}")
    else:  # fixed -> float rounds to nearest whatever FPSCR.RMode says (FixedToFP)
        _set(ctx, sz, a.vd, f"{_arith(ctx, sz, 'fromint')}({v}, {signed}, {a.size}, {a.fbits}, 1)")
    return True
