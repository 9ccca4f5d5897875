"""Emitting one decoded ARM instruction: condition wrapping, UNDEF fallback, unimp logging.

The A32 and T32 decoders (isa.py, t32.py) both end in ``emit_insn``.
"""
from __future__ import annotations

from typing import Optional

from pysystem import log

from .translator import Ctx


def emit_insn(ctx: Ctx, form, args, cond: Optional[int]) -> None:
    """Generate one decoded instruction, conditional on ``cond`` (None = always)."""
    mark = len(ctx.lines)
    indent = ctx.indent
    ctx.ended = False
    ctx.cond = cond if cond is not None and cond < 14 else None
    if cond is not None and cond < 14:
        ctx.emit(f"if {ctx.cond_expr(cond)}:")
        ctx.push()
    ok = form is not None and form.handler(ctx, args) is not False
    if not ok:
        del ctx.lines[mark:]
        ctx.indent = indent
        if log.enabled("unimp"):
            name = form.name if form is not None else "unallocated"
            width = 4 if ctx.size == 4 else 2
            log.log("unimp", f"undefined instruction 0x{ctx.insn:0{2 * width}x} ({name}) at 0x{ctx.pc:08x}")
        if cond is not None and cond < 14:
            ctx.emit(f"if {ctx.cond_expr(cond)}:")
            ctx.push()
        ctx.undef()
    if cond is not None and cond < 14:
        if len(ctx.lines) == mark + 1:
            ctx.emit("pass")
        ctx.pop()
        if ctx.ended:
            ctx.exit(ctx.next_key())
