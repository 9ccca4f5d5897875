"""Generators for T32-only instruction forms and T32 variants of shared forms.

Everything here either has no A32 counterpart (IT, CBZ/CBNZ, TBB/TBH, ADR's
``Align(PC, 4)`` base, ORN) or checks a T32 rule and then calls the shared
generator of ``trans_dp`` / ``trans_mem`` / ``trans_branch`` / ``trans_sys`` with
the argument names documented there.  The T32 decoder (``t32.py``) sets
``ctx.t32_it`` (the IT state of the instruction being translated) and
``ctx.t32_next_it`` (the IT state after it) before calling these.

Argument conventions (besides those of the shared generators):

* ``trans_it``: ``firstcond mask``.
* ``trans_cbz``: ``rn imm nz`` (``nz`` 1 = CBNZ).
* ``trans_tbb``: ``rn rm h`` (``h`` 1 = TBH).
* ``trans_adr``: ``rd imm add``.
* ``trans_dp32_imm``/``trans_dp32_reg``: as ``trans_dp_imm``/``trans_dp_reg``, with
  ``op`` in the A32 numbering or ``ORN`` (-1); ``rd`` 15 is only valid for the
  compare forms (which then get ``rd`` 0).
* ``trans_ldst32``: ``load size sign rt rn`` and ``mode`` ("lit", "imm12", "imm8",
  "reg") with ``imm`` or ``p u w imm`` or ``rm imm2``.
* ``trans_ldm32``: as ``trans_ldm`` with T32's rules (two registers at least, no
  write-back to a base in the list).
* ``trans_svc_t``: SVC; inside an IT block it saves the advanced IT state.
* ``trans_bcond``: B<cond> (UNDEFINED inside an IT block).

Conditional branches and CBZ/CBNZ become side exits when ``ctx.loop_ok`` (the T32
decoder clears it while the IT state differs from the block's).
"""
from __future__ import annotations

from . import trans_branch as br
from . import trans_dp as dp
from . import trans_mem as mem
from . import trans_sys as sy
from ..engine.decode import Args
from .exceptions import EXCP_SWI
from .translator import Ctx

M = "0xffffffff"
ORN = -1


def _in_it(ctx: Ctx) -> bool:
    return bool(getattr(ctx, "t32_it", 0) & 0xF)


def _copy(a, **changes) -> Args:
    d = dict(a.__dict__)
    d.update(changes)
    return Args(d)


def trans_it(ctx: Ctx, a) -> bool:
    """IT: the decoder keeps the IT state; nothing runs.  IT inside an IT block,
    a mask of zero and firstcond 1111 (or AL with more than one instruction) are
    UNPREDICTABLE: UNDEFINED here."""
    if _in_it(ctx) or a.mask == 0 or a.firstcond == 15:
        return False
    if a.firstcond == 14 and a.mask != 8:
        return False
    return True


def trans_cbz(ctx: Ctx, a) -> bool:
    """CBZ/CBNZ: a side exit (the block goes on with the fall-through path)."""
    if _in_it(ctx):
        return False
    target = (ctx.pc_read + a.imm) & 0xFFFFFFFF
    ctx.emit(f"if {ctx.r(a.rn)} {'!=' if a.nz else '=='} 0:")
    ctx.push()
    if ctx.loop_ok:
        ctx.side_exit(hex(target | 1 | ctx.key_hi))
        ctx.pop()
        return True
    ctx.exit(hex(target | 1 | ctx.key_hi))
    ctx.pop()
    ctx.exit(ctx.next_key())
    return True


def trans_tbb(ctx: Ctx, a) -> bool:
    if a.rm in (13, 15):
        return False
    rm = ctx.r(a.rm)
    off = f"({rm} << 1)" if a.h else rm
    addr = ctx.tmp("a")
    ctx.emit(f"{addr} = ({ctx.r(a.rn)} + {off}) & {M}")
    v = ctx.tmp("v")
    ctx.load(2 if a.h else 1, addr, v)
    ctx.write_pc(f"{hex(ctx.pc_read)} + ({v} << 1)", "branch")
    return True


def trans_adr(ctx: Ctx, a) -> bool:
    if a.rd == 15:
        return False
    base = ctx.pc_read & ~3
    ctx.w(a.rd, hex((base + a.imm if a.add else base - a.imm) & 0xFFFFFFFF))
    return True


def _dp32_ok(a) -> bool:
    """T32 data processing: rd 15 only for the compares (S=1); they get rd 0."""
    if a.op in (dp.TST, dp.TEQ, dp.CMP, dp.CMN):
        return bool(a.s)
    return a.rd != 15


def trans_dp32_imm(ctx: Ctx, a) -> bool:
    if not _dp32_ok(a):
        return False
    if a.op == ORN:
        b = hex(~a.imm & 0xFFFFFFFF)
        return dp.dp(ctx, _copy(a, op=dp.ORR), b, (str(a.imm_c) if a.imm_c >= 0 else None))
    return dp.trans_dp_imm(ctx, a)


def trans_dp32_reg(ctx: Ctx, a) -> bool:
    if not _dp32_ok(a) or a.rm == 15:
        return False
    if a.op == ORN:
        v, c = dp.shift_imm(ctx, a.rm, a.shtype, a.shimm, bool(a.s))
        t = ctx.tmp("o")
        ctx.emit(f"{t} = ({v}) ^ {M}")
        return dp.dp(ctx, _copy(a, op=dp.ORR), t, c)
    return dp.trans_dp_reg(ctx, a)


def trans_ldst32(ctx: Ctx, a) -> bool:
    """LDR/STR{B,H,SB,SH}{T} in every T32 addressing mode, and the preload hints."""
    if a.size == 8 or (a.sign and (not a.load or a.size == 4)):
        return False
    mode = a.mode
    if (mode == "imm8" and not a.p and not a.w) or (mode == "lit" and not a.load):
        return False
    user = int(mode == "imm8" and a.p and a.u and not a.w)
    if a.load and a.rt == 15 and a.size < 4:
        # PLD/PLDW/PLI and the unallocated hints: no access, no fault
        if mode == "imm8" and (user or not a.p or a.u or a.w):
            return False
        return True
    if not a.load and a.rn == 15:
        return False
    if mode == "lit":
        args = Args(dict(load=a.load, size=a.size, sign=a.sign, rt=a.rt, rn=15, p=1, u=a.u, w=0,
                         imm=a.imm, user=0))
        return mem.trans_ldst_imm(ctx, args)
    if mode == "imm12":
        args = Args(dict(load=a.load, size=a.size, sign=a.sign, rt=a.rt, rn=a.rn, p=1, u=1, w=0,
                         imm=a.imm, user=0))
        return mem.trans_ldst_imm(ctx, args)
    if mode == "imm8":
        if user:
            if a.rt == 15:
                return False
            args = Args(dict(load=a.load, size=a.size, sign=a.sign, rt=a.rt, rn=a.rn, p=1, u=1, w=0,
                             imm=a.imm, user=1))
        else:
            if a.w and a.rn == a.rt:
                return False
            args = Args(dict(load=a.load, size=a.size, sign=a.sign, rt=a.rt, rn=a.rn, p=a.p, u=a.u,
                             w=a.w, imm=a.imm, user=0))
        return mem.trans_ldst_imm(ctx, args)
    if a.rm in (13, 15):
        return False
    args = Args(dict(load=a.load, size=a.size, sign=a.sign, rt=a.rt, rn=a.rn, p=1, u=1, w=0,
                     rm=a.rm, shtype=0, shimm=a.imm2, user=0))
    return mem.trans_ldst_reg(ctx, args)


def trans_ldm32(ctx: Ctx, a) -> bool:
    n = bin(a.reglist).count("1")
    if n < 2 or (a.w and a.reglist >> a.rn & 1):
        return False
    return mem.trans_ldm(ctx, a)


def trans_ldm16(ctx: Ctx, a) -> bool:
    """16-bit LDM/STM: write-back unless (LDM) the base is in the list."""
    w = 0 if (a.load and a.reglist >> a.rn & 1) else 1
    return mem.trans_ldm(ctx, _copy(a, w=w))


def svc_in_it(cpu, pc: int, itstate: int) -> int:
    """SVC inside an IT block: the SPSR gets the IT state after the SVC."""
    cpu.thumb = 1
    cpu.itstate = itstate
    cpu.take_exception(EXCP_SWI, pc, 2)
    return cpu.key()


def trans_svc_t(ctx: Ctx, a) -> bool:
    if not _in_it(ctx):
        return sy.trans_svc(ctx, a)
    h = ctx.helper("svc_in_it", svc_in_it)
    ctx.sync()
    ctx.exit_raw(f"{h}(cpu, {hex(ctx.pc)}, {ctx.t32_next_it})")
    return True


def trans_bcond(ctx: Ctx, a) -> bool:
    """B<cond> (T1/T3): a side exit unless it loops to the block's start."""
    if _in_it(ctx):
        return False
    target = (ctx.pc_read + a.imm) & 0xFFFFFFFF
    if ctx.cond is not None and ctx.loop_ok and target != ctx.block_start:
        ctx.side_exit(hex(target | 1 | ctx.key_hi))
        return True
    return br.trans_b(ctx, a)
