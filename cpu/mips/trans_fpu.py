"""Generators for the FPU (coprocessor 1) of the 24Kf/34Kf, FR=0.

Moves, loads, stores, branches and conditional moves are inline code on ``cpu.fpr``
(bound as ``F``) and ``cpu.fcsr``; arithmetic, conversions and compares call the
``FPU`` object of fpu_ops.py (bound as ``fpu``), which keeps FCSR's Cause/Flags and
raises FPE.  Double operands must be even registers with FR=0 (else RI, as QEMU);
the 64-bit integer format (L) needs FR=1 and is RI here, also as QEMU.
"""
from __future__ import annotations

from .fpu_ops import fcc_bit

M32 = "0xffffffff"


def _F(ctx) -> str:
    return ctx.helper("F", ctx.cpu.fpr)


def _fpu(ctx) -> str:
    return ctx.helper("fpu", ctx.cpu.fpu)


def _regs_ok(a, fmt: str, *regs: int) -> bool:
    return fmt in ("s", "w") or not any(r & 1 for r in regs)


def mfc1(ctx, a) -> None:
    ctx.w(a.rt, f"{_F(ctx)}[{a.fs}]")


def mtc1(ctx, a) -> None:
    ctx.emit(f"{_F(ctx)}[{a.fs}] = {ctx.r(a.rt)}")


def mfhc1(ctx, a):
    if a.fs & 1:
        return False
    ctx.w(a.rt, f"{_F(ctx)}[{a.fs | 1}]")


def mthc1(ctx, a):
    if a.fs & 1:
        return False
    ctx.emit(f"{_F(ctx)}[{a.fs | 1}] = {ctx.r(a.rt)}")


def cfc1(ctx, a) -> None:
    ctx.w(a.rt, f"{_fpu(ctx)}.cfc1({a.fs})")


def ctc1(ctx, a) -> None:
    ctx.emit(f"{_fpu(ctx)}.ctc1({a.fs}, {ctx.r(a.rt)}, {ctx.idx})")


def arith(ctx, a):
    if not _regs_ok(a, a.fmt, a.fd, a.fs, a.ft):
        return False
    ctx.emit(f"{_fpu(ctx)}.arith({a.op!r}, {a.fmt!r}, {a.fd}, {a.fs}, {a.ft}, {ctx.idx})")


def recip(ctx, a):
    if a.fmt == "d":  # needs FR=1 on these cores (QEMU's check_cp1_64bitmode)
        return False
    ctx.emit(f"{_fpu(ctx)}.recip({a.op!r}, 's', {a.fd}, {a.fs}, {ctx.idx})")


def madd(ctx, a):
    if not _regs_ok(a, a.fmt, a.fd, a.fr, a.fs, a.ft):
        return False
    ctx.emit(f"{_fpu(ctx)}.madd({a.op!r}, {a.fmt!r}, {a.fd}, {a.fr}, {a.fs}, {a.ft}, {ctx.idx})")


def fmove(ctx, a):
    """MOV/ABS/NEG.fmt: bit operations, no exceptions (the legacy, non-2008 forms)."""
    if not _regs_ok(a, a.fmt, a.fd, a.fs):
        return False
    F = _F(ctx)
    sign = {"mov": None, "abs": "&", "neg": "^"}[a.op]
    hi_src = a.fs | 1 if a.fmt == "d" else a.fs
    hi_dst = a.fd | 1 if a.fmt == "d" else a.fd
    if a.fmt == "d":
        ctx.emit(f"{F}[{a.fd}] = {F}[{a.fs}]")
    if sign is None:
        ctx.emit(f"{F}[{hi_dst}] = {F}[{hi_src}]")
    elif sign == "&":
        ctx.emit(f"{F}[{hi_dst}] = {F}[{hi_src}] & 0x7fffffff")
    else:
        ctx.emit(f"{F}[{hi_dst}] = {F}[{hi_src}] ^ 0x80000000")


def cvt(ctx, a):
    sfmt, dfmt = a.fmt, a.to
    if "l" in (sfmt, dfmt) or sfmt == dfmt or sfmt == "w" and dfmt == "w":
        return False
    if not _regs_ok(a, sfmt, a.fs) or not _regs_ok(a, dfmt, a.fd):
        return False
    ctx.emit(f"{_fpu(ctx)}.cvt({dfmt!r}, {sfmt!r}, {a.fd}, {a.fs}, {a.rounding!r}, {ctx.idx})")


def compare(ctx, a):
    if not _regs_ok(a, a.fmt, a.fs, a.ft):
        return False
    ctx.emit(f"{_fpu(ctx)}.compare({a.fmt!r}, {a.cond}, {a.cc}, {a.fs}, {a.ft}, {ctx.idx})")


def _fcc_test(ctx, cc: int, tf: int) -> str:
    return f"cpu.fcsr & {hex(fcc_bit(cc))}" if tf else f"not cpu.fcsr & {hex(fcc_bit(cc))}"


def bc1(ctx, a) -> None:
    target = hex((ctx.pc + 4 + a.off) & 0xFFFFFFFF)
    ctx.branch(_fcc_test(ctx, a.cc, a.tf), target, likely=bool(a.nd))


def movci(ctx, a) -> None:
    """MOVF/MOVT: rd = rs if FCC[cc] == tf."""
    if a.rd:
        ctx.w(a.rd, f"{ctx.r(a.rs)} if {_fcc_test(ctx, a.cc, a.tf)} else {ctx.r(a.rd)}")


def fmovc(ctx, a):
    """MOVF/MOVT/MOVZ/MOVN.fmt: fd = fs under an FCC or GPR condition."""
    if not _regs_ok(a, a.fmt, a.fd, a.fs):
        return False
    F = _F(ctx)
    if a.op == "cf":
        cond = _fcc_test(ctx, a.cc, a.tf)
    else:
        cond = f"{ctx.r(a.rt)} {'==' if a.op == 'z' else '!='} 0"
    ctx.emit(f"if {cond}:")
    ctx.push()
    ctx.emit(f"{F}[{a.fd}] = {F}[{a.fs}]")
    if a.fmt == "d":
        ctx.emit(f"{F}[{a.fd | 1}] = {F}[{a.fs | 1}]")
    ctx.pop()


def _ea(ctx, base: str, off: str) -> str:
    t = ctx.tmp("a")
    ctx.emit(f"{t} = ({base} + {off}) & {M32}")
    return t


def _word_pair_order(ctx):
    """(offset of the low word, offset of the high word) of a double in memory."""
    return (4, 0) if ctx.be else (0, 4)


def ldst(ctx, a):
    """LWC1/SWC1/LDC1/SDC1 (imm offset) and LWXC1/SWXC1/LDXC1/SDXC1 (index register)."""
    if a.size == 8 and hasattr(a, "index") and a.ft & 1:
        return False  # LDXC1/SDXC1 check the register pair (LDC1/SDC1 do not), as QEMU
    F = _F(ctx)
    off = hex(a.imm) if hasattr(a, "imm") else ctx.r(a.index)
    addr = _ea(ctx, ctx.r(a.base), off)
    if a.size == 4:
        if a.store:
            ctx.store(4, addr, f"{F}[{a.ft}]")
        else:
            v = ctx.tmp("v")
            ctx.load(4, addr, v)
            ctx.emit(f"{F}[{a.ft}] = {v}")
        return
    lo_off, hi_off = _word_pair_order(ctx)
    store = a.store
    ctx.emit(f"if {addr} & 7: raise {ctx.exc('AddressError', addr, str(store))}")
    lo, hi = a.ft & ~1, a.ft | 1
    if store:
        # probe both words before writing either (they lie in one page: 8-aligned)
        ctx.store(4, f"{addr} + {lo_off}" if lo_off else addr, f"{F}[{lo}]")
        ctx.store(4, f"{addr} + {hi_off}" if hi_off else addr, f"{F}[{hi}]")
    else:
        v1, v2 = ctx.tmp("v"), ctx.tmp("v")
        ctx.load(4, f"{addr} + {lo_off}" if lo_off else addr, v1)
        ctx.load(4, f"{addr} + {hi_off}" if hi_off else addr, v2)
        ctx.emit(f"{F}[{lo}] = {v1}; {F}[{hi}] = {v2}")


def prefx(ctx, a) -> None:
    """PREFX: nothing to do."""
