"""HMP expressions and ``/fmt`` specifiers, as QEMU's monitor reads them.

    value = evaluate(text, registers)      # registers(name) -> int, or None if unknown
    fmt, rest = parse_format(text, state)  # "/4xw 0x100" -> Format(count, format, size)

Expressions are QEMU's: numbers (``0x`` hex, leading ``0`` octal, decimal),
``'c'`` characters, ``$reg`` registers, unary ``+ - ~`` (any number), parentheses (at most
``MAX_NESTING`` deep, a clear error beyond), and the
binary operators with QEMU's (unusual) precedence, tightest first:
``* / %``, then ``& | ^``, then ``+ -`` (so ``1+2&3`` is ``1+(2&3)``).  As an extension ``<<`` and ``>>`` bind
loosest.  Arithmetic is on 64-bit values, wrapping as QEMU's int64 does.
Errors raise ``ExprError`` with QEMU's texts (``unknown register``, ``division
by zero``, ``')' expected``, ``number too large``, ``unexpected end of
expression``, ``invalid char 'x' in expression``).

Register names come from the CPU (``REGISTER_NAMES``, ``read_register``; ARM's are in
pysystem/cpu/arm/debug.py).

``/fmt`` is ``/[count][format][size]`` with formats ``x d u o c i`` and sizes
``b h w g``; format and size are sticky between commands (QEMU's
default_fmt_format/default_fmt_size, kept in a ``FormatState``), the count is
not.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Tuple

M64 = (1 << 64) - 1
MAX_NESTING = 100       # parentheses deep: each level is five Python frames

class ExprError(Exception):
    """A malformed expression or format; the message is QEMU's."""


def _signed(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


class _Parser:
    def __init__(self, text: str, registers: Callable[[str], Optional[int]]):
        self.s, self.i, self.registers = text, 0, registers
        self.depth = 0

    def peek(self) -> str:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1
        return self.s[self.i] if self.i < len(self.s) else ""

    def shift(self) -> int:
        v = self.sum()
        while True:
            c = self.peek()
            op = self.s[self.i:self.i + 2]
            if op not in ("<<", ">>"):
                return v
            self.i += 2
            n = self.sum() & M64
            if op == "<<":
                v = (v << n) & M64 if n < 64 else 0
            else:
                v = (v & M64) >> n if n < 64 else 0

    def sum(self) -> int:
        v = self.logic()
        while self.peek() in ("+", "-") and self.peek() != "":
            op = self.s[self.i]
            self.i += 1
            w = self.logic()
            v = (v + w if op == "+" else v - w) & M64
        return v

    def logic(self) -> int:
        v = self.prod()
        while self.peek() in ("&", "|", "^") and self.peek() != "":
            op = self.s[self.i]
            self.i += 1
            w = self.prod()
            v = (v & w) if op == "&" else (v | w) if op == "|" else (v ^ w)
        return v

    def prod(self) -> int:
        v = self.unary()
        while self.peek() in ("*", "/", "%") and self.peek() != "":
            op = self.s[self.i]
            self.i += 1
            w = self.unary()
            if op == "*":
                v = (v * w) & M64
            else:
                a, b = _signed(v), _signed(w)
                if b == 0:
                    raise ExprError("division by zero")
                q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
                v = (q if op == "/" else a - q * b) & M64
        return v

    def unary(self) -> int:
        signs = []                      # prefix operators, read in a loop: any number of them
        while self.peek() in ("+", "-", "~") and self.peek() != "":
            signs.append(self.s[self.i])
            self.i += 1
        v = self.primary()
        for c in reversed(signs):
            if c == "-":
                v = (-v) & M64
            elif c == "~":
                v = (~v) & M64
        return v

    def primary(self) -> int:
        c = self.peek()
        if c == "":
            raise ExprError("unexpected end of expression")
        if c == "(":
            if self.depth >= MAX_NESTING:
                raise ExprError(f"expression nested too deeply (at most {MAX_NESTING} "
                                "parentheses)")
            self.i += 1
            self.depth += 1
            v = self.shift()
            self.depth -= 1
            if self.peek() != ")":
                raise ExprError("')' expected")
            self.i += 1
            return v
        if c == "'":
            if self.i + 1 >= len(self.s):
                raise ExprError("character constant expected")
            v = ord(self.s[self.i + 1]) & 0xFF if ord(self.s[self.i + 1]) < 256 else ord(self.s[self.i + 1])
            if self.s[self.i + 2:self.i + 3] != "'":
                raise ExprError("missing terminating ' character")
            self.i += 3
            return v
        if c == "$":
            self.i += 1
            j = self.i
            while j < len(self.s) and (self.s[j].isalnum() or self.s[j] in "_."):
                j += 1
            name = self.s[self.i:j]
            self.i = j
            v = self.registers(name) if name else None
            if v is None:
                raise ExprError("unknown register")
            return v & M64
        if c.isdigit():
            return self.number()
        raise ExprError(f"invalid char '{c}' in expression")

    def number(self) -> int:
        s, i = self.s, self.i
        if s.startswith(("0x", "0X"), i) and i + 2 < len(s) and s[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            digits = "0123456789abcdefABCDEF"
            base = 16
        elif s[i] == "0":
            j, digits, base = i, "01234567", 8
        else:
            j, digits, base = i, "0123456789", 10
        k = j
        while k < len(s) and s[k] in digits:
            k += 1
        text = s[j:k] or "0"
        self.i = k if k > j else i + 1
        v = int(text, base)
        if v > M64:
            raise ExprError("number too large")
        return v


def evaluate(text: str, registers: Callable[[str], Optional[int]] = lambda n: None,
             whole: bool = True) -> Tuple[int, str]:
    """Evaluate the expression at the start of ``text``; returns (value, what follows).

    With ``whole`` (the default) anything left over is an error, as QEMU's
    "extraneous characters at the end of line" (raised as ``ExprError("extraneous")``).
    """
    p = _Parser(text, registers)
    v = p.shift()
    rest = text[p.i:].strip()
    if whole and rest:
        raise ExprError("extraneous")
    return v, rest


class Format(NamedTuple):
    count: int
    format: str       # one of x d u o c i
    size: int         # 1 2 4 8; -1 for 'i' without an explicit size


class FormatState:
    """QEMU's sticky defaults for ``x``, ``xp`` and ``print``."""

    def __init__(self):
        self.format = "x"
        self.size = 4


FORMAT_CHARS = "oduxic"
SIZE_CHARS = {"b": 1, "h": 2, "w": 4, "g": 8, "L": 8}


def parse_format(text: str, state: FormatState) -> Tuple[Format, str]:
    """Read an optional ``/fmt`` at the start of ``text``; returns it and the rest."""
    text = text.lstrip()
    if not text.startswith("/"):
        fmt = state.format
        return Format(1, fmt, state.size if fmt != "i" else -1), text
    i = 1
    j = i
    while j < len(text) and text[j].isdigit():
        j += 1
    count = int(text[i:j]) if j > i else 1
    i = j
    fmt: Optional[str] = None
    size = -1
    while i < len(text):
        c = text[i]
        if c in FORMAT_CHARS:
            fmt = c
        elif c in SIZE_CHARS:
            size = SIZE_CHARS[c]
        else:
            break
        i += 1
    if i < len(text) and not text[i].isspace():
        raise ExprError(f"invalid char in format: '{text[i]}'")
    if fmt is None:
        fmt = state.format
    if fmt != "i":
        if size < 0:
            size = state.size
        state.size = size
    state.format = fmt
    return Format(count, fmt, size), text[i:].lstrip()
