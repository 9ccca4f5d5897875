"""Generators for branches (shared by A32 and T32).

* ``trans_b``: ``imm`` (signed byte offset from the PC as read), ``link`` (BL),
  ``exchange`` (BLX immediate: switches state; from Thumb the base is Align(PC, 4)).
* ``trans_bx``: ``rm``, ``link`` (BLX register).
"""
from __future__ import annotations

from .translator import Ctx

M = 0xFFFFFFFF


def _lr_value(ctx: Ctx) -> str:
    nxt = (ctx.pc + ctx.size) & M
    return hex(nxt | 1) if ctx.thumb else hex(nxt)


def trans_b(ctx: Ctx, a) -> bool:
    base = ctx.pc_read
    if a.exchange and ctx.thumb:
        base &= ~3
    target = (base + a.imm) & M
    if a.link:
        ctx.w(14, _lr_value(ctx))
    to_thumb = ctx.thumb != bool(a.exchange)
    if not a.exchange and not a.link and target == ctx.block_start and ctx.loop_back():
        return True
    if (ctx.cond is not None and not a.exchange and not a.link and not ctx.thumb
            and ctx.loop_ok and target != ctx.block_start):
        if target > ctx.pc and ctx.skip_forward(target):
            return True
        ctx.side_exit(hex((target & ~3) | ctx.key_hi))
        return True
    if not a.exchange and ctx.cond is None and (target ^ ctx.pc) & ~0xFFF == 0 \
            and target not in ctx.visited and not ctx.regions:
        # an unconditional branch within the page: keep translating at the target
        ctx.follow = target & ~(1 if ctx.thumb else 3)
        return True
    if to_thumb:
        ctx.exit(hex((target & ~1) | 1 | ctx.key_hi))
    else:
        ctx.exit(hex((target & ~3) | ctx.key_hi))
    return True


def trans_bx(ctx: Ctx, a) -> bool:
    if a.link and a.rm == 15:
        return False
    v = ctx.r(a.rm)
    if a.link:
        t = ctx.tmp("b")
        ctx.emit(f"{t} = {v}")
        v = t
        ctx.w(14, _lr_value(ctx))
    ctx.write_pc(v, "bx")
    return True
