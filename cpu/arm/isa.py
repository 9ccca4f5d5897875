"""Instruction-set dispatch: one guest instruction -> code in the block being built.

``translate_insn(ctx, fetch)`` is what the block translator calls per
instruction; it picks the A32 or T32 decoder from ``ctx.thumb``, and returns the
instruction's size in bytes (0 if it could not be fetched).  Both decoders emit a
decoded instruction through ``emit.emit_insn`` (condition wrapping, UNDEF fallback,
unimp logging); ``t32.translate_t32(ctx, fetch)`` has ``translate_a32``'s contract and
handles IT blocks by passing each instruction's condition to ``emit_insn``.
"""
from __future__ import annotations

from typing import Callable, Optional

from . import a32
from . import vfp_decode  # noqa: F401  (registers the VFP forms with a32)
from . import neon  # noqa: F401  (registers the Advanced SIMD forms with a32)
from .emit import emit_insn
from .t32 import translate_t32
from .translator import Ctx


def translate_a32(ctx: Ctx, fetch: Callable[[int, int], Optional[int]]) -> int:
    insn = fetch(0, 4)
    if insn is None:
        return 0
    ctx.insn = insn
    ctx.size = 4
    form, args = a32.decode(insn)
    emit_insn(ctx, form, args, insn >> 28 if insn >> 28 != 0xF else None)
    return 4


def translate_insn(ctx: Ctx, fetch) -> int:
    if ctx.thumb:
        return translate_t32(ctx, fetch)
    return translate_a32(ctx, fetch)
