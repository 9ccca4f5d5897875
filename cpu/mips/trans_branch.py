"""Generators for MIPS32 branches and jumps.  Each calls ``ctx.branch``: the translator
evaluates the condition and target before the delay slot, writes the link register
(pc + 8, also when a linking branch is not taken), then emits the slot and the exit;
``likely`` forms nullify the slot when not taken."""
from __future__ import annotations

_CMP = {
    "eq": "{x} == {y}", "ne": "{x} != {y}",
    "lez": "{x} == 0 or {x} > 0x7fffffff", "gtz": "0 < {x} < 0x80000000",
    "ltz": "{x} > 0x7fffffff", "gez": "{x} < 0x80000000",
}


def branch(ctx, a) -> None:
    """BEQ/BNE/BLEZ/BGTZ/BLTZ/BGEZ (and -L, -AL, -ALL): pc-relative, ``off`` in bytes."""
    target = hex((ctx.pc + 4 + a.off) & 0xFFFFFFFF)
    x = ctx.r(a.rs)
    y = ctx.r(a.rt) if a.op in ("eq", "ne") else "0"
    if a.op == "eq" and a.rs == a.rt:
        cond = None
    else:
        cond = _CMP[a.op].format(x=x, y=y)
    if cond is None and a.likely:
        cond = "True"
    ctx.branch(cond, target, likely=a.likely, link=31 if a.link else None)


def jump(ctx, a) -> None:
    """J/JAL: the 256 MiB region of the delay slot."""
    target = hex(((ctx.pc + 4) & 0xF0000000) | (a.index << 2))
    ctx.branch(None, target, link=31 if a.link else None)


def jump_reg(ctx, a) -> None:
    """JR/JALR (and their .HB hazard-barrier forms): to rs; JALR links rd."""
    ctx.branch(None, ctx.r(a.rs), link=a.rd if a.link and a.rd else None)
