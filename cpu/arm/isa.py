"""Instruction-set dispatch: one guest instruction -> code in the block being built.

``translate_insn(ctx, fetch)`` is what the block translator calls per
instruction; it picks the A32 or T32 decoder from ``ctx.thumb``, and returns the
instruction's size in bytes (0 if it could not be fetched).  ``emit_insn`` is the
part both decoders share: condition wrapping, UNDEF fallback, unimp logging.

T32 plugs in here: ``t32.translate_t32(ctx, fetch)`` (same contract as
``translate_a32``; it handles IT blocks by passing each instruction's condition
to ``emit_insn``).
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem import log

from . import a32
from . import vfp_decode  # noqa: F401  (registers the VFP forms with a32)
from . import neon  # noqa: F401  (registers the Advanced SIMD forms with a32)
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


def translate_a32(ctx: Ctx, fetch: Callable[[int, int], Optional[int]]) -> int:
    insn = fetch(0, 4)
    if insn is None:
        return 0
    ctx.insn = insn
    ctx.size = 4
    form, args = a32.decode(insn)
    emit_insn(ctx, form, args, insn >> 28 if insn >> 28 != 0xF else None)
    return 4


def translate_t32_missing(ctx: Ctx, fetch) -> int:
    """Until T32 lands: every Thumb instruction is UNDEFINED."""
    hw = fetch(0, 2)
    if hw is None:
        return 0
    ctx.insn, ctx.size = hw, 2
    emit_insn(ctx, None, None, None)
    return 2


translate_t32 = translate_t32_missing
from .t32 import translate_t32  # noqa: E402,F811  (T32 decoder; it uses emit_insn above)


def translate_insn(ctx: Ctx, fetch) -> int:
    if ctx.thumb:
        return translate_t32(ctx, fetch)
    return translate_a32(ctx, fetch)
