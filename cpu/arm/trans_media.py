"""Generators for media, saturating and DSP instructions (shared by A32 and T32).

Argument names follow the A32 encodings (see a32.py); a T32 decoder supplies the
same names.  Simple operations are inlined; fiddly ones call ``helpers``.
"""
from __future__ import annotations

from . import helpers as hp
from .translator import Ctx

M = "0xffffffff"


def _h(ctx: Ctx, name: str) -> str:
    return ctx.helper("h_" + name, getattr(hp, name))


def _no_pc(*regs: int) -> bool:
    return 15 not in regs


def _set_q(ctx: Ctx, q: str) -> None:
    ctx.emit(f"if {q}: cpu.QF = 1")


def trans_clz(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rm):
        return False
    ctx.w(a.rd, f"32 - {ctx.r(a.rm)}.bit_length()")
    return True


def trans_qaddsub(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    t = ctx.tmp("q")
    ctx.emit(f"{t} = {_h(ctx, 'qaddsub')}({a.op}, {ctx.r(a.rn)}, {ctx.r(a.rm)})")
    ctx.w(a.rd, f"{t}[0]")
    _set_q(ctx, f"{t}[1]")
    return True


def trans_smlaxy(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm) or (a.acc and a.ra == 15):
        return False
    if not a.acc:
        ctx.w(a.rd, f"{_h(ctx, 'smlaxy')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, 0, {a.n}, {a.m}, 0)[0]")
        return True
    t = ctx.tmp("q")
    ctx.emit(f"{t} = {_h(ctx, 'smlaxy')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, {ctx.r(a.ra)}, {a.n}, {a.m}, 1)")
    ctx.w(a.rd, f"{t}[0]")
    _set_q(ctx, f"{t}[1]")
    return True


def trans_smlawy(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm) or (a.acc and a.ra == 15):
        return False
    t = ctx.tmp("q")
    ra = ctx.r(a.ra) if a.acc else "0"
    ctx.emit(f"{t} = {_h(ctx, 'smlawy')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, {ra}, {a.m}, {a.acc})")
    ctx.w(a.rd, f"{t}[0]")
    if a.acc:
        _set_q(ctx, f"{t}[1]")
    return True


def trans_smlalxy(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rdhi, a.rdlo, a.rn, a.rm) or a.rdhi == a.rdlo:
        return False
    t = ctx.tmp("p")
    ctx.emit(f"{t} = {_h(ctx, 'smlalxy')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, {ctx.r(a.rdlo)}, {ctx.r(a.rdhi)}, {a.n}, {a.m})")
    ctx.w(a.rdlo, f"{t} & {M}")
    ctx.w(a.rdhi, f"{t} >> 32")
    return True


def trans_parallel(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    t = ctx.tmp("q")
    ctx.emit(f"{t} = {_h(ctx, 'parallel')}({a.u}, {a.op1}, {a.op2}, {ctx.r(a.rn)}, {ctx.r(a.rm)})")
    ctx.w(a.rd, f"{t}[0]")
    if a.op1 == 1:
        ctx.emit(f"cpu.GE = {t}[1]")
    return True


def trans_pkh(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    rn, rm = ctx.r(a.rn), ctx.r(a.rm)
    if a.tb:
        n = a.imm5 or 32
        if n == 32:
            low = f"(0xffff if {rm} & 0x80000000 else 0)"
        else:
            low = f"(((({rm} ^ 0x80000000) - 0x80000000) >> {n}) & 0xffff)"
        ctx.w(a.rd, f"({rn} & 0xffff0000) | {low}")
    else:
        ctx.w(a.rd, f"({rn} & 0xffff) | (({rm} << {a.imm5}) & 0xffff0000)")
    return True


def trans_sel(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    ctx.w(a.rd, f"{_h(ctx, 'sel')}(cpu.GE, {ctx.r(a.rn)}, {ctx.r(a.rm)})")
    return True


def trans_extend(ctx: Ctx, a) -> bool:
    """SXTAB16 (0) SXTAB (2) SXTAH (3) UXTAB16 (4) UXTAB (6) UXTAH (7); rn 15 = no add."""
    if not _no_pc(a.rd, a.rm):
        return False
    rm = ctx.r(a.rm)
    rot = a.rot * 8
    v = f"((({rm} >> {rot}) | ({rm} << {32 - rot})) & {M})" if rot else rm
    kind = a.op & 3
    signed = a.op < 4
    if kind == 0:  # 16-bit lanes: bytes 0 and 2
        if signed:
            t = ctx.tmp("x")
            ctx.emit(f"{t} = {v}")
            lo = f"((({t} & 0xff) ^ 0x80) - 0x80)"
            hi = f"(((({t} >> 16) & 0xff) ^ 0x80) - 0x80)"
        else:
            t = ctx.tmp("x")
            ctx.emit(f"{t} = {v}")
            lo, hi = f"({t} & 0xff)", f"(({t} >> 16) & 0xff)"
        if a.rn == 15:
            ctx.w(a.rd, f"(({hi} & 0xffff) << 16) | ({lo} & 0xffff)")
        else:
            rn = ctx.r(a.rn)
            ctx.w(a.rd, f"(((({rn} >> 16) + {hi}) & 0xffff) << 16) | ((({rn} & 0xffff) + {lo}) & 0xffff)")
        return True
    width = 8 if kind == 2 else 16
    mask = (1 << width) - 1
    sign = 1 << (width - 1)
    e = f"(({v} & {hex(mask)}) ^ {hex(sign)}) - {hex(sign)}" if signed else f"{v} & {hex(mask)}"
    if a.rn == 15:
        ctx.w(a.rd, f"({e}) & {M}" if signed else e)
    else:
        ctx.w(a.rd, f"({ctx.r(a.rn)} + ({e})) & {M}")
    return True


def trans_sat(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn):
        return False
    t = ctx.tmp("q")
    fn = _h(ctx, "usat_insn" if a.u else "ssat_insn")
    ctx.emit(f"{t} = {fn}({ctx.r(a.rn)}, {a.sh}, {a.imm5}, {a.satimm})")
    ctx.w(a.rd, f"{t}[0]")
    _set_q(ctx, f"{t}[1]")
    return True


def trans_sat16(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn):
        return False
    t = ctx.tmp("q")
    fn = _h(ctx, "usat16" if a.u else "ssat16")
    ctx.emit(f"{t} = {fn}({ctx.r(a.rn)}, {a.satimm})")
    ctx.w(a.rd, f"{t}[0]")
    _set_q(ctx, f"{t}[1]")
    return True


def trans_rev(ctx: Ctx, a) -> bool:
    """REV (0) REV16 (1) RBIT (2) REVSH (3)."""
    if not _no_pc(a.rd, a.rm):
        return False
    rm = ctx.r(a.rm)
    if a.op == 0:
        e = (f"(({rm} & 0xff) << 24) | (({rm} & 0xff00) << 8) | "
             f"(({rm} >> 8) & 0xff00) | ({rm} >> 24)")
    elif a.op == 1:
        e = f"(({rm} & 0x00ff00ff) << 8) | (({rm} >> 8) & 0x00ff00ff)"
    elif a.op == 2:
        e = f"{_h(ctx, 'rbit')}({rm})"
    else:
        e = f"((((({rm} & 0xff) << 8) | (({rm} >> 8) & 0xff)) ^ 0x8000) - 0x8000) & {M}"
    ctx.w(a.rd, e)
    return True


def trans_smlad(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    acc = int(a.ra != 15)
    t = ctx.tmp("q")
    ra = ctx.r(a.ra) if acc else "0"
    ctx.emit(f"{t} = {_h(ctx, 'smlad')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, {ra}, {a.sub}, {a.x}, {acc})")
    ctx.w(a.rd, f"{t}[0]")
    _set_q(ctx, f"{t}[1]")
    return True


def trans_smlald(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rdhi, a.rdlo, a.rn, a.rm) or a.rdhi == a.rdlo:
        return False
    t = ctx.tmp("p")
    ctx.emit(f"{t} = {_h(ctx, 'smlald')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, {ctx.r(a.rdlo)}, {ctx.r(a.rdhi)}, {a.sub}, {a.x})")
    ctx.w(a.rdlo, f"{t} & {M}")
    ctx.w(a.rdhi, f"{t} >> 32")
    return True


def trans_smmla(ctx: Ctx, a) -> bool:
    """SMMLA/SMMUL (op 0; ra 15 = SMMUL), SMMLS (op 3); ``r`` rounds."""
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    acc = int(a.ra != 15)
    if a.op == 3 and not acc:
        return False
    ra = ctx.r(a.ra) if acc else "0"
    ctx.w(a.rd, f"{_h(ctx, 'smmla')}({ctx.r(a.rn)}, {ctx.r(a.rm)}, {ra}, {a.op}, {a.r}, {acc})")
    return True


def trans_usad8(ctx: Ctx, a) -> bool:
    if not _no_pc(a.rd, a.rn, a.rm):
        return False
    e = f"{_h(ctx, 'usad8')}({ctx.r(a.rn)}, {ctx.r(a.rm)})"
    if a.ra != 15:
        e = f"({e} + {ctx.r(a.ra)}) & {M}"
    ctx.w(a.rd, e)
    return True


def trans_bfx(ctx: Ctx, a) -> bool:
    """SBFX (u=0) / UBFX (u=1): ``rd rn lsb widthm1``."""
    if not _no_pc(a.rd, a.rn) or a.lsb + a.widthm1 > 31:
        return False
    w = a.widthm1 + 1
    mask = (1 << w) - 1
    rn = ctx.r(a.rn)
    e = f"({rn} >> {a.lsb}) & {hex(mask)}" if a.lsb else f"{rn} & {hex(mask)}"
    if not a.u:
        sign = 1 << (w - 1)
        e = f"((({e}) ^ {hex(sign)}) - {hex(sign)}) & {M}"
    ctx.w(a.rd, e)
    return True


def trans_bfi(ctx: Ctx, a) -> bool:
    """BFI (rn != 15) / BFC (rn == 15): ``rd rn lsb msb``."""
    if a.rd == 15 or a.msb < a.lsb:
        return False
    w = a.msb - a.lsb + 1
    field = ((1 << w) - 1) << a.lsb
    keep = hex(~field & 0xFFFFFFFF)
    rd = ctx.r(a.rd)
    if a.rn == 15:
        ctx.w(a.rd, f"{rd} & {keep}")
    else:
        rn = ctx.r(a.rn)
        ctx.w(a.rd, f"({rd} & {keep}) | (({rn} << {a.lsb}) & {hex(field)})")
    return True
