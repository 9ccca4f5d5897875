"""Generators for data processing and multiplies (shared by A32 and T32).

Argument conventions (what a decoder must provide):

* ``trans_dp_imm``: ``op`` (0..15, the A32 opcode numbering AND EOR SUB RSB ADD
  ADC SBC RSC TST TEQ CMP CMN ORR MOV BIC MVN), ``s``, ``rd``, ``rn``, ``imm`` (the
  expanded constant), ``imm_c`` (shifter carry-out: -1 = C unchanged, else 0/1).
* ``trans_dp_reg``: ``op s rd rn rm shtype shimm`` (shtype 0 LSL 1 LSR 2 ASR 3 ROR,
  ``shimm`` as encoded: LSR/ASR #0 mean 32, ROR #0 means RRX).
* ``trans_dp_rsr``: ``op s rd rn rm shtype rs`` (shift by register).
* ``trans_movw``/``trans_movt``: ``rd imm``.
* multiplies: see each function.
"""
from __future__ import annotations

import re

from ..engine.codegen import PYPY
from .translator import Ctx

M = "0xffffffff"
AND, EOR, SUB, RSB, ADD, ADC, SBC, RSC, TST, TEQ, CMP, CMN, ORR, MOV, BIC, MVN = range(16)
LOGICAL = {AND, EOR, TST, TEQ, ORR, MOV, BIC, MVN}


_CONST = re.compile(r"0x[0-9a-f]+|\d+")


def _is_const(e: str) -> bool:
    return _CONST.fullmatch(e) is not None


def _simple(e: str) -> bool:
    return e.isidentifier() or _is_const(e)


def _fix(ctx: Ctx, e: str) -> str:
    """Put a non-trivial expression in a temporary so it is evaluated once."""
    if _simple(e):
        return e
    t = ctx.tmp()
    ctx.emit(f"{t} = {e}")
    return t


def shift_imm(ctx: Ctx, rm: int, shtype: int, shimm: int, want_carry: bool):
    """(value expr, carry expr or None) of ``rm`` shifted by a constant."""
    v = ctx.r(rm)
    if shtype == 0:
        if shimm == 0:
            return v, None
        return f"({v} << {shimm}) & {M}", (f"({v} >> {32 - shimm}) & 1" if want_carry else None)
    if shtype == 1:
        if shimm == 0:
            return "0", (f"{v} >> 31" if want_carry else None)
        return f"{v} >> {shimm}", (f"({v} >> {shimm - 1}) & 1" if want_carry else None)
    if shtype == 2:
        n = shimm or 32
        if n == 32:
            return f"-({v} >> 31) & {M}", (f"{v} >> 31" if want_carry else None)
        return (f"((({v} ^ 0x80000000) - 0x80000000) >> {n}) & {M}",
                f"({v} >> {n - 1}) & 1" if want_carry else None)
    if shimm == 0:  # RRX
        ctx.use_flags("c")
        return f"(cf << 31) | ({v} >> 1)", (f"{v} & 1" if want_carry else None)
    return (f"(({v} >> {shimm}) | ({v} << {32 - shimm})) & {M}",
            f"({v} >> {shimm - 1}) & 1" if want_carry else None)


def shift_reg(ctx: Ctx, rm: int, shtype: int, rs: int, want_carry: bool):
    """(value, carry) of ``rm`` shifted by the bottom byte of ``rs`` (emits temporaries)."""
    v = ctx.r(rm)
    s = ctx.tmp("sh")
    ctx.emit(f"{s} = {ctx.r(rs)} & 0xff")
    if want_carry:
        ctx.use_flags("c")
    if shtype == 0:
        val = f"({v} << {s}) & {M}"
        carry = f"((({v} << {s}) >> 32) & 1) if {s} else cf"
    elif shtype == 1:
        val = f"{v} >> {s}"
        carry = f"(({v} >> ({s} - 1)) & 1) if {s} else cf"
    elif shtype == 2:
        sx = ctx.tmp("x")
        ctx.emit(f"{sx} = ({v} ^ 0x80000000) - 0x80000000")
        val = f"({sx} >> {s}) & {M}"
        carry = f"(({sx} >> ({s} - 1)) & 1) if {s} else cf"
    else:
        s2 = ctx.tmp("sh")
        ctx.emit(f"{s2} = {s} & 31")
        t = ctx.tmp("v")
        ctx.emit(f"{t} = (({v} >> {s2}) | ({v} << (32 - {s2}))) & {M} if {s2} else {v}")
        return t, (f"({t} >> 31) if {s} else cf" if want_carry else None)
    return val, (carry if want_carry else None)


def dp(ctx: Ctx, a, b: str, carry) -> bool:
    """Data processing op ``a.op`` with first operand ``rn`` and second ``b``."""
    op, s, rd = a.op, a.s, a.rd
    if op in (TST, TEQ, CMP, CMN) and not s:
        return False
    if not (op in (MOV, MVN) and not s and rd != 15):
        b = _fix(ctx, b)  # used more than once below
    if s and op in LOGICAL and carry is not None:
        c = ctx.tmp("c")
        ctx.emit(f"{c} = {carry}")
        carry = c
    ra = ctx.r(a.rn) if op not in (MOV, MVN) else None
    exc_return = s and rd == 15
    flags = s and not exc_return
    res = ctx.tmp("d") if (flags or rd == 15 or op in (TST, TEQ, CMP, CMN)) else None

    def out(expr):
        if res:
            ctx.emit(f"{res} = {expr}")
        else:
            ctx.w(rd, expr)

    if op in LOGICAL:
        expr = {AND: f"{ra} & {b}", EOR: f"{ra} ^ {b}", TST: f"{ra} & {b}", TEQ: f"{ra} ^ {b}",
                ORR: f"{ra} | {b}", MOV: b, BIC: f"{ra} & ~{b} & {M}" if not _is_const(b)
                else f"{ra} & {hex(~int(b, 0) & 0xFFFFFFFF)}",
                MVN: f"({b}) ^ {M}" if not _is_const(b) else hex(~int(b, 0) & 0xFFFFFFFF)}[op]
        out(expr)
        if flags:
            ctx.set_nz(res)
            if carry is not None:
                ctx.set_flags("c")
                ctx.emit(f"cf = {carry}")
    else:
        if op in (ADC, SBC, RSC):
            ctx.use_flags("c")
        x, y = (ra, b) if op not in (RSB, RSC) else (b, ra)
        if op in (ADD, CMN, ADC):
            full = f"{x} + {y}" + (" + cf" if op == ADC else "")
            sub = False
        else:
            if op in (SUB, CMP, RSB):
                if _is_const(y):
                    full = f"{x} + {hex(0x100000000 - int(y, 0))}"
                else:
                    full = f"{x} - {y} + 0x100000000"
            else:
                full = f"{x} - {y} + 0xffffffff + cf"
            sub = True
        if not flags:
            out(f"({full}) & {M}")
        else:
            t = ctx.tmp("t")
            ctx.emit(f"{t} = {full}")
            ctx.emit(f"{res} = {t} & {M}")
            ctx.set_flags("nzcv")
            ctx.emit(f"cf = {t} >> 32")
            if sub:
                ctx.emit(f"vf = ({x} ^ {y}) & ({x} ^ {res})")
            else:
                ctx.emit(f"vf = ({x} ^ {res}) & ({y} ^ {res})")
            ctx.emit(f"nf = zf = {res}")
    if op in (TST, TEQ, CMP, CMN):
        return True
    if res and rd != 15:
        ctx.w(rd, res)
    elif rd == 15:
        if exc_return:
            ctx.sync()
            er = ctx.helper("exception_return", ctx.cpu.exception_return)
            ctx.exit_raw(f"{er}({res})")
        else:
            ctx.write_pc(res, "alu")
    return True


def trans_dp_imm(ctx: Ctx, a) -> bool:
    return dp(ctx, a, hex(a.imm & 0xFFFFFFFF), (str(a.imm_c) if a.imm_c >= 0 else None))


def trans_dp_reg(ctx: Ctx, a) -> bool:
    want = bool(a.s) and a.op in LOGICAL
    v, c = shift_imm(ctx, a.rm, a.shtype, a.shimm, want)
    return dp(ctx, a, v, c)


def trans_dp_rsr(ctx: Ctx, a) -> bool:
    if 15 in (a.rd, a.rn, a.rm, a.rs):
        return False  # UNPREDICTABLE; we UNDEF
    want = bool(a.s) and a.op in LOGICAL
    v, c = shift_reg(ctx, a.rm, a.shtype, a.rs, want)
    return dp(ctx, a, v, c)


def trans_movw(ctx: Ctx, a) -> bool:
    if a.rd == 15:
        return False
    ctx.w(a.rd, hex(a.imm))
    return True


def trans_movt(ctx: Ctx, a) -> bool:
    if a.rd == 15:
        return False
    ctx.w(a.rd, f"({ctx.r(a.rd)} & 0xffff) | {hex(a.imm << 16)}")
    return True


# --- multiplies ------------------------------------------------------------------------

# On PyPy an int is a machine word: a product of two 32-bit values overflows it and falls
# back to a big integer, about 20x slower in JIT code.  There the products are built from
# 32x16-bit halves, whose intermediates stay below 2**49; CPython keeps the plain form.

def _mul32(ctx: Ctx, x: str, y: str) -> str:
    """The low 32 bits of ``x * y`` (not masked yet on CPython)."""
    if PYPY:
        return f"({x} * ({y} & 0xffff) + ((({x} * ({y} >> 16)) & 0xffff) << 16))"
    return f"{x} * {y}"


def _mul64(ctx: Ctx, x: str, y: str) -> tuple:
    """Emit the unsigned 64-bit product of two 32-bit values; (low, high) expressions,
    the high one not yet masked."""
    if not PYPY:
        t = ctx.tmp("p")
        ctx.emit(f"{t} = {x} * {y}")
        return f"({t} & {M})", f"({t} >> 32)"
    if not x.isidentifier():
        t = ctx.tmp("x")
        ctx.emit(f"{t} = {x}")
        x = t
    if not y.isidentifier():
        t = ctx.tmp("y")
        ctx.emit(f"{t} = {y}")
        y = t
    lo, hi = ctx.tmp("pl"), ctx.tmp("ph")
    ctx.emit(f"{hi} = {x} * ({y} >> 16); {lo} = {x} * ({y} & 0xffff) + (({hi} & 0xffff) << 16)")
    return f"({lo} & {M})", f"(({hi} >> 16) + ({lo} >> 32))"


def trans_mul(ctx: Ctx, a) -> bool:
    """MUL/MLA/MLS: ``rd = rn * rm (+/- ra)``; ``acc`` 0 none, 1 add, -1 subtract; ``s``."""
    if 15 in (a.rd, a.rn, a.rm) or (a.acc and a.ra == 15):
        return False
    e = _mul32(ctx, ctx.r(a.rn), ctx.r(a.rm))
    if a.acc == 1:
        e = f"({e} + {ctx.r(a.ra)}) & {M}"
    elif a.acc == -1:
        e = f"({ctx.r(a.ra)} - {e}) & {M}"
    else:
        e = f"({e}) & {M}"
    ctx.w(a.rd, e)
    if a.s:
        ctx.set_nz(f"r{a.rd}")
    return True


def _signed(ctx: Ctx, reg: int) -> str:
    return f"(({ctx.r(reg)} ^ 0x80000000) - 0x80000000)"


def trans_mull(ctx: Ctx, a) -> bool:
    """UMULL/UMLAL/SMULL/SMLAL: ``rdhi:rdlo (+)= rn * rm``; ``u`` (1 unsigned), ``acc``, ``s``."""
    if 15 in (a.rdlo, a.rdhi, a.rn, a.rm) or a.rdlo == a.rdhi:
        return False
    if a.u:
        lo, hi = _mul64(ctx, ctx.r(a.rn), ctx.r(a.rm))
    else:  # a signed product fits a machine word; >> 32 on it is an arithmetic shift
        t = ctx.tmp("p")
        ctx.emit(f"{t} = {_signed(ctx, a.rn)} * {_signed(ctx, a.rm)}")
        lo, hi = f"({t} & {M})", f"({t} >> 32)"
    if a.acc:
        s = ctx.tmp("sh")
        ctx.emit(f"{s} = {lo} + {ctx.r(a.rdlo)}")
        lo, hi = f"({s} & {M})", f"({hi} + {ctx.r(a.rdhi)} + ({s} >> 32))"
    tl, th = ctx.tmp("l"), ctx.tmp("h")
    ctx.emit(f"{tl} = {lo}; {th} = {hi} & {M}")
    ctx.w(a.rdlo, tl)
    ctx.w(a.rdhi, th)
    if a.s:
        ctx.set_flags("nz")
        ctx.emit(f"nf = {th}; zf = {tl} | {th}")
    return True


def trans_umaal(ctx: Ctx, a) -> bool:
    if 15 in (a.rdlo, a.rdhi, a.rn, a.rm) or a.rdlo == a.rdhi:
        return False
    lo, hi = _mul64(ctx, ctx.r(a.rn), ctx.r(a.rm))
    s = ctx.tmp("sh")
    ctx.emit(f"{s} = {lo} + {ctx.r(a.rdhi)} + {ctx.r(a.rdlo)}")
    th = ctx.tmp("h")
    ctx.emit(f"{th} = ({hi} + ({s} >> 32)) & {M}")
    ctx.w(a.rdlo, f"{s} & {M}")
    ctx.w(a.rdhi, th)
    return True
