"""Generators for the Advanced SIMD (NEON) instructions (one per form group of neon.py;
A32 encoding, which T32 reuses after moving its U bit, see t32.py).

Arguments arrive decoded (neon.py): register numbers ``vd vn vm`` are D-register
numbers (D:Vd...), ``q`` selects quadword operation (two consecutive D registers),
``esize`` is the element size in bits, ``op`` names the operation.

Every generator first emits the access check that VFP instructions make (CPACR,
NSACR, FPEXC.EN; trans_vfp._check), then reads the register file into ``VD``.
Bitwise operations, moves and VDUP are inline Python on the doublewords; lane
arithmetic calls the ``h_`` helpers of neon_helpers.py with constant arguments.

Element and structure loads/stores are inline, one ``ctx.load``/``ctx.store`` per
element (the soft TLB fast path; SCTLR.A alignment checks and big-endian data come
with it), after an explicit alignment check when the instruction specifies an
alignment (a Data Abort with the alignment FSR, WnR for stores).  Loads write the
registers only after every element was read, so a fault leaves them unchanged.
Little-endian VLD1/VST1 (multiple elements) move as words instead: one TLB lookup and
one struct access when the transfer lies in one mapped RAM page, aligned or not (glibc's
NEON string functions use unaligned ones); element by element otherwise.
"""
from __future__ import annotations

from typing import List, Optional

from . import exceptions
from . import neon_helpers as nh
from .trans_vfp import _check, _regs
from .translator import Ctx
from ..engine.codegen import words_packer, words_unpacker

M64 = "0xffffffffffffffff"


def _start(ctx: Ctx) -> None:
    _check(ctx)
    _regs(ctx)


def _call(ctx: Ctx, name: str, *args) -> None:
    """Emit ``h_name(cpu, VD, args...)`` (strings are passed as literals)."""
    fn = ctx.helper(name, getattr(nh, name))
    ctx.emit(f"{fn}(cpu, VD, {', '.join(repr(a) for a in args)})")


# --- three registers of the same length ---------------------------------------------------------

_LOGIC = {
    "VAND": "{n} & {m}", "VBIC": "{n} & ~{m} & " + M64, "VORR": "{n} | {m}",
    "VORN": "({n} | ~{m}) & " + M64, "VEOR": "{n} ^ {m}",
    "VBSL": "({m} ^ (({n} ^ {m}) & {d}))", "VBIT": "({d} ^ (({n} ^ {d}) & {m}))",
    "VBIF": "({d} ^ (({n} ^ {d}) & ~{m} & " + M64 + "))",
}


def trans_logic(ctx: Ctx, a) -> bool:
    _start(ctx)
    regs = 2 if a.q else 1
    tmps = []
    for i in range(regs):
        t = ctx.tmp("q")
        expr = _LOGIC[a.op].format(n=f"VD[{a.vn + i}]", m=f"VD[{a.vm + i}]", d=f"VD[{a.vd + i}]")
        ctx.emit(f"{t} = {expr}")
        tmps.append(t)
    for i, t in enumerate(tmps):
        ctx.emit(f"VD[{a.vd + i}] = {t}")
    return True


def _per_register(ctx: Ctx, a, srcs, expr) -> None:
    """Inline ``VD[d+i] = expr(*(VD[s+i] for s in srcs))`` over the operation's registers,
    all read before any is written."""
    tmps = []
    for i in range(2 if a.q else 1):
        t = ctx.tmp("q")
        ctx.emit(f"{t} = {expr(*(f'VD[{r + i}]' for r in srcs))}")
        tmps.append(t)
    for i, t in enumerate(tmps):
        ctx.emit(f"VD[{a.vd + i}] = {t}")


def trans_3same(ctx: Ctx, a) -> bool:
    _start(ctx)
    if a.op in ("VADD", "VSUB"):
        # lanes added as one integer, carries kept inside the lanes by their top bits
        if a.esize == 64:
            sign = "+" if a.op == "VADD" else "-"
            _per_register(ctx, a, (a.vn, a.vm), lambda n, m: f"({n} {sign} {m}) & {M64}")
            return True
        hi = nh.dup(1 << (a.esize - 1), a.esize)
        lo = hex(nh.M64 ^ hi)
        hi = hex(hi)
        if a.op == "VADD":
            _per_register(ctx, a, (a.vn, a.vm),
                          lambda n, m: f"(({n} & {lo}) + ({m} & {lo})) ^ (({n} ^ {m}) & {hi})")
        else:
            _per_register(ctx, a, (a.vn, a.vm),
                          lambda n, m: f"(({n} | {hi}) - ({m} & {lo})) ^ (({n} ^ {m} ^ {hi}) & {hi})")
        return True
    _call(ctx, "h_3same", a.op, a.vd, a.vn, a.vm, a.q, a.esize, a.u, a.shift)
    return True


def trans_pairwise(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_pairwise", a.op, a.vd, a.vn, a.vm, a.esize, a.u)
    return True


# --- three registers of different lengths, two registers and a scalar -----------------------------

def trans_long(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_long", a.op, a.vd, a.vn, a.vm, a.esize, a.u, a.wide)
    return True


def trans_narrow_high(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_narrow_high", a.op, a.vd, a.vn, a.vm, a.esize, a.rnd)
    return True


def trans_scalar(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_vmul_scalar", a.op, a.vd, a.vn, a.vm, a.idx, a.q, a.esize)
    return True


def trans_long_scalar(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_long_scalar", a.op, a.vd, a.vn, a.vm, a.idx, a.esize, a.u)
    return True


# --- two registers and a shift amount ----------------------------------------------------------

def trans_shift(ctx: Ctx, a) -> bool:
    _start(ctx)
    e, sh = a.esize, a.sh
    if a.op == "VSHL" or (a.op == "VSHR" and a.u):
        # whole doublewords shifted, the bits that crossed into other lanes masked off
        if a.op == "VSHL":
            keep = hex(nh.dup((nh.MASK[e] << sh) & nh.MASK[e], e))
            _per_register(ctx, a, (a.vm,), lambda m: f"({m} << {sh}) & {keep}")
        elif sh == e:
            _per_register(ctx, a, (a.vm,), lambda m: "0")
        else:
            keep = hex(nh.dup(nh.MASK[e] >> sh, e))
            _per_register(ctx, a, (a.vm,), lambda m: f"({m} >> {sh}) & {keep}")
        return True
    _call(ctx, "h_shift", a.op, a.vd, a.vm, a.q, a.esize, a.u, a.sh)
    return True


def trans_shift_narrow(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_shift_narrow", a.op, a.vd, a.vm, a.esize, a.sh, a.rnd, a.u)
    return True


def trans_shll(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_shll", a.vd, a.vm, a.esize, a.u, a.sh)
    return True


def trans_cvt_fixed(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_cvt_fixed", a.vd, a.vm, a.q, a.tofix, a.u, a.fbits)
    return True


# --- one register and a modified immediate --------------------------------------------------

def trans_imm(ctx: Ctx, a) -> bool:
    _start(ctx)
    for i in range(2 if a.q else 1):
        r = a.vd + i
        if a.op == "VMOV":
            ctx.emit(f"VD[{r}] = {hex(a.imm)}")
        elif a.op == "VORR":
            ctx.emit(f"VD[{r}] |= {hex(a.imm)}")
        else:  # VBIC
            ctx.emit(f"VD[{r}] &= {hex(~a.imm & nh.M64)}")
    return True


# --- two registers, miscellaneous --------------------------------------------------------------

def trans_misc(ctx: Ctx, a) -> bool:
    _start(ctx)
    if a.op == "VMVN":
        for i in range(2 if a.q else 1):
            ctx.emit(f"VD[{a.vd + i}] = VD[{a.vm + i}] ^ {M64}")
        return True
    _call(ctx, "h_misc", a.op, a.vd, a.vm, a.q, a.esize)
    return True


def trans_rev(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_rev", a.vd, a.vm, a.q, a.esize, a.group)
    return True


def trans_paddl(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_paddl", a.vd, a.vm, a.q, a.esize, a.u, a.acc)
    return True


def trans_swp(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_swp", a.vd, a.vm, a.q)
    return True


def trans_trn(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_trn", a.vd, a.vm, a.q, a.esize)
    return True


def trans_zip(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_zip", a.vd, a.vm, a.q, a.esize, a.unzip)
    return True


def trans_movn(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_movn", a.op, a.vd, a.vm, a.esize)
    return True


def trans_shll_max(ctx: Ctx, a) -> bool:
    """VSHLL with the shift equal to the element size (the two-register-misc form)."""
    _start(ctx)
    _call(ctx, "h_shll", a.vd, a.vm, a.esize, 1, a.esize)
    return True


def trans_cvt_half(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_cvt_half", a.vd, a.vm, a.to_half)
    return True


# --- VEXT, VTBL/VTBX, VDUP ------------------------------------------------------------------

def trans_ext(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_ext", a.vd, a.vn, a.vm, a.q, a.imm4)
    return True


def trans_tbl(ctx: Ctx, a) -> bool:
    _start(ctx)
    _call(ctx, "h_tbl", a.vd, a.vn, a.length, a.vm, a.tbx)
    return True


def trans_dup_scalar(ctx: Ctx, a) -> bool:
    _start(ctx)
    e = a.esize
    t = ctx.tmp("q")
    lane = f"(VD[{a.vm}] >> {a.idx * e}) & {hex(nh.MASK[e])}"
    ctx.emit(f"{t} = ({lane}) * {hex(nh.dup(1, e))}")
    for i in range(2 if a.q else 1):
        ctx.emit(f"VD[{a.vd + i}] = {t}")
    return True


def trans_dup_core(ctx: Ctx, a) -> bool:
    _start(ctx)
    e = a.esize
    t = ctx.tmp("q")
    ctx.emit(f"{t} = ({ctx.r(a.rt)} & {hex(nh.MASK[e])}) * {hex(nh.dup(1, e))}")
    for i in range(2 if a.q else 1):
        ctx.emit(f"VD[{a.vd + i}] = {t}")
    return True


# --- core register <-> scalar (8 and 16 bits; 32 bits is in vfp_decode.py) -------------------------

def trans_vmov_to_scalar(ctx: Ctx, a) -> bool:
    _start(ctx)
    sh = a.idx * a.esize
    mask = nh.MASK[a.esize] << sh
    ctx.emit(f"VD[{a.vd}] = (VD[{a.vd}] & {hex(nh.M64 & ~mask)}) | "
             f"(({ctx.r(a.rt)} & {hex(nh.MASK[a.esize])}) << {sh})")
    return True


def trans_vmov_from_scalar(ctx: Ctx, a) -> bool:
    _start(ctx)
    e = a.esize
    v = f"(VD[{a.vn}] >> {a.idx * e}) & {hex(nh.MASK[e])}"
    if a.u or e == 32:
        ctx.w(a.rt, v)
    else:
        b = 1 << (e - 1)
        ctx.w(a.rt, f"((({v}) ^ {hex(b)}) - {hex(b)}) & 0xffffffff")
    return True


# --- element and structure loads and stores ----------------------------------------------------

def _align_check(ctx: Ctx, addr: str, align: int, store: bool) -> None:
    if align > 1:
        da = ctx.helper("DataAbort", exceptions.DataAbort)
        fsr = exceptions.FSR_ALIGNMENT | (exceptions.FSR_WNR if store else 0)
        ctx.emit(f"if {addr} & {align - 1}: raise {da}({ctx.idx}, {hex(fsr)}, {addr})")


def _element_load(ctx: Ctx, addr: str, ebytes: int) -> str:
    """Emit the load of one element at ``addr`` (an expression); returns its local."""
    v = ctx.tmp("e")
    if ebytes < 8:
        ctx.load(ebytes, addr, v)
        return v
    a = ctx.tmp("a")
    ctx.emit(f"{a} = {addr}")
    lo, hi = ctx.tmp("w"), ctx.tmp("w")
    ctx.load(4, a, lo)
    ctx.load(4, f"({a} + 4) & 0xffffffff", hi)
    if ctx.big_endian:  # big-endian: the doubleword is byte-reversed as a whole
        lo, hi = hi, lo
    ctx.emit(f"{v} = {lo} | ({hi} << 32)")
    return v


def _element_store(ctx: Ctx, addr: str, value: str, ebytes: int) -> None:
    if ebytes < 8:
        v = ctx.tmp("v")
        ctx.emit(f"{v} = {value}")
        ctx.store(ebytes, addr, v)
        return
    a = ctx.tmp("a")
    ctx.emit(f"{a} = {addr}")
    lo, hi = ctx.tmp("w"), ctx.tmp("w")
    ctx.emit(f"{lo} = ({value}) & 0xffffffff; {hi} = ({value}) >> 32")
    if ctx.big_endian:
        lo, hi = hi, lo
    ctx.store(4, a, lo)
    ctx.store(4, f"({a} + 4) & 0xffffffff", hi)


def _addr(base: str, off: int) -> str:
    return base if not off else f"({base} + {off}) & 0xffffffff"


def _writeback(ctx: Ctx, a, base: str, size: int) -> None:
    if a.rm == 15:
        return
    if a.rm == 13:
        ctx.w(a.rn, f"({base} + {size}) & 0xffffffff")
    else:
        ctx.w(a.rn, f"({base} + {ctx.r(a.rm)}) & 0xffffffff")


def trans_ldst_multiple(ctx: Ctx, a) -> bool:
    """VLD1-4/VST1-4 (multiple structures): ``nregs`` groups of ``nelem`` interleaved
    registers ``spacing`` apart."""
    _start(ctx)
    eb = a.esize // 8
    base = ctx.tmp("b")
    ctx.emit(f"{base} = {ctx.r(a.rn)}")
    _align_check(ctx, base, a.align, not a.l)
    if a.nelem == 1 and not ctx.big_endian:
        # VLD1/VST1: the registers are the bytes in memory order; word-aligned ones move
        # as words (one TLB lookup), others as one unaligned access when it stays in a
        # TLB-mapped page, element by element otherwise
        words = [ctx.tmp("w") for _ in range(2 * a.nregs)]
        regs = range(a.vd, a.vd + a.nregs)
        if not a.l:
            for i, r in enumerate(regs):
                ctx.emit(f"{words[2 * i]} = VD[{r}] & 0xffffffff; {words[2 * i + 1]} = VD[{r}] >> 32")
        ctx.emit(f"if {base} & 3:")
        ctx.push()
        _unaligned_multiple(ctx, a, base, eb, words)
        ctx.pop()
        ctx.emit("else:")
        ctx.push()
        if a.l:
            ctx.load_words(base, words)
        else:
            ctx.store_words(base, words)
        ctx.pop()
        if a.l:
            for i, r in enumerate(regs):
                ctx.emit(f"VD[{r}] = {words[2 * i]} | ({words[2 * i + 1]} << 32)")
        _writeback(ctx, a, base, 8 * a.nregs)
        return True
    size = _multiple_elements(ctx, a, base, eb)
    _writeback(ctx, a, base, size)
    return True


def _unaligned_multiple(ctx: Ctx, a, base: str, eb: int, words: List[str]) -> None:
    """VLD1/VST1 (little-endian) at an address that is not word-aligned, registers as
    ``words`` (loads assign them; stores hold them): one multi-word access at the host
    offset when the read/write TLB maps the page and the transfer does not run past it
    (a TLB key with bit 0 set never hits), and the elements are aligned or SCTLR.A is
    clear; otherwise element by element (MMIO, page crossings, faults at the exact
    element's address, SCTLR.A alignment faults)."""
    n = len(words)
    level = ctx.level
    tlbs = ctx.cpu.tlb_write if not a.l else ctx.cpu.tlb_read
    tlb = ctx.helper(("tw" if not a.l else "tr") + ctx.cpu.PRIVS[level], tlbs[level])
    o = ctx.tmp("o")
    key = f"{base} & 0xfffff000 | (({base} & 0xfff) > {hex(0x1000 - 4 * n)})"
    cond = "" if eb == 1 else f" if not {base} & {eb - 1} or not cpu.cp15.sctlr & 2 else None"
    ctx.emit(f"{o} = {tlb}.get({key}){cond}")
    ctx.emit(f"if {o} is None:")
    ctx.push()
    _multiple_elements(ctx, a, base, eb, words if a.l else None)
    ctx.pop()
    ctx.helper("ram", ctx.cpu.ram_view(1))
    names = ", ".join(words)
    if a.l:
        fn = ctx.helper(f"u32x{n}", words_unpacker(n, False))
        ctx.emit(f"else: {names} = {fn}(ram, {base} + {o})")
    else:
        fn = ctx.helper(f"p32x{n}", words_packer(n, False))
        ctx.emit(f"else: {fn}(ram, {base} + {o}, {names})")


def _multiple_elements(ctx: Ctx, a, base: str, eb: int, words: Optional[List[str]] = None) -> int:
    """The element-by-element transfer of VLDn/VSTn (multiple structures); returns its size."""
    per = 8 // eb
    off = 0
    lanes = {}  # register -> element locals (loads)
    for r in range(a.nregs):
        for e in range(per):
            for i in range(a.nelem):
                reg = a.vd + i * a.spacing + r
                if a.l:
                    lanes.setdefault(reg, []).append(_element_load(ctx, _addr(base, off), eb))
                else:
                    val = f"(VD[{reg}] >> {e * a.esize}) & {hex(nh.MASK[a.esize])}"
                    _element_store(ctx, _addr(base, off), val, eb)
                off += eb
    for reg, vals in lanes.items():
        value = " | ".join(v if k == 0 else f"({v} << {k * a.esize})" for k, v in enumerate(vals))
        if words is None:
            ctx.emit(f"VD[{reg}] = {value}")
        else:  # VLD1's registers as words (reg - vd: their index)
            lo, hi = words[2 * (reg - a.vd)], words[2 * (reg - a.vd) + 1]
            ctx.emit(f"{lo} = ({value}) & 0xffffffff; {hi} = ({value}) >> 32")
    return off


def trans_ldst_single(ctx: Ctx, a) -> bool:
    """VLD1-4/VST1-4 (single structure to/from one lane)."""
    _start(ctx)
    eb = a.esize // 8
    base = ctx.tmp("b")
    ctx.emit(f"{base} = {ctx.r(a.rn)}")
    _align_check(ctx, base, a.align, not a.l)
    sh = a.idx * a.esize
    mask = nh.MASK[a.esize]
    vals: List[str] = []
    for i in range(a.nelem):
        reg = a.vd + i * a.inc
        if a.l:
            vals.append(_element_load(ctx, _addr(base, i * eb), eb))
        else:
            _element_store(ctx, _addr(base, i * eb), f"(VD[{reg}] >> {sh}) & {hex(mask)}", eb)
    for i, v in enumerate(vals):
        reg = a.vd + i * a.inc
        ctx.emit(f"VD[{reg}] = (VD[{reg}] & {hex(nh.M64 & ~(mask << sh))}) | ({v} << {sh})")
    _writeback(ctx, a, base, a.nelem * eb)
    return True


def trans_ld_all(ctx: Ctx, a) -> bool:
    """VLD1-4 (single structure to all lanes)."""
    _start(ctx)
    eb = a.esize // 8
    base = ctx.tmp("b")
    ctx.emit(f"{base} = {ctx.r(a.rn)}")
    _align_check(ctx, base, a.align, False)
    vals = [_element_load(ctx, _addr(base, i * eb), eb) for i in range(a.nelem)]
    rep = hex(nh.dup(1, a.esize))
    if a.nelem == 1:
        t = ctx.tmp("q")
        ctx.emit(f"{t} = {vals[0]} * {rep}")
        for r in range(a.nregs):
            ctx.emit(f"VD[{a.vd + r}] = {t}")
    else:
        for i, v in enumerate(vals):
            ctx.emit(f"VD[{a.vd + i * a.inc}] = {v} * {rep}")
    _writeback(ctx, a, base, a.nelem * eb)
    return True
