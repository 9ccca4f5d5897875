"""Declarative instruction decoding: bit patterns -> one handler per instruction form.

A ``Decoder`` is a table of ``Form`` objects, tried in table order (put the more
specific encodings first, as in the ARM ARM's decode tables).  A form is written
as a pattern string read most-significant bit first, QEMU-decodetree style::

    Form("ADD_rri", "cond:4 001 0100 s:1 rn:4 rd:4 rot:4 imm8:8", trans.dp_imm,
         op=4, imm=lambda f: ror32(f["imm8"], 2 * f["rot"]))

* ``0``/``1`` are fixed bits, ``-`` a don't-care bit, ``name:N`` an N-bit field;
  tokens are separated by spaces; a fixed run may prefix a field (``0001s:1``).
* keyword arguments are constants (``op=4``) or functions of the raw fields
  (``imm=...``) that derive a canonical argument; this is how the A32 and T32
  tables feed the *same* generator (``trans.dp_imm``) with the same argument names
  although their bit layouts differ.
* ``when=`` is an optional predicate on the fields that must hold too (used for
  "rd != 15"-style constraints of the architecture's decode tables).

``Decoder.decode(insn)`` returns ``(form, args)`` where ``args`` is an ``Args``
(attribute access to fields and derived values) or ``None``.  Candidate forms
are bucketed by a few key bits so decoding does not scan the whole table.
The same table serves translation, disassembly names in traces, and tests
(``Decoder.forms`` lists every form; tests generate random operands per form).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["Form", "Decoder", "Args", "ror32", "sext"]


def ror32(value: int, amount: int) -> int:
    amount &= 31
    value &= 0xFFFFFFFF
    return ((value >> amount) | (value << (32 - amount))) & 0xFFFFFFFF if amount else value


def sext(value: int, bits: int) -> int:
    """Sign-extend a ``bits``-wide field to a Python int."""
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


class Args:
    """The decoded fields of one instruction; attributes are field names."""

    def __init__(self, values: Dict[str, Any]):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return "Args(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


_TOKEN = re.compile(r"([01\-]*)(?:([a-z_][a-z0-9_]*):(\d+))?", re.I)


class Form:
    """One instruction form: a name, a bit pattern, a generator, extra arguments."""

    def __init__(self, name: str, pattern: str, handler: Callable, width: int = 32,
                 when: Optional[Callable[[Dict[str, int]], bool]] = None, **extra: Any):
        self.name, self.pattern, self.handler, self.width = name, pattern, handler, width
        self.when = when
        self.extra = extra
        self.fields: List[Tuple[str, int, int]] = []  # (name, shift, width)
        mask = match = 0
        pos = width
        for tok in pattern.split():
            m = _TOKEN.fullmatch(tok)
            if not m or not tok:
                raise ValueError(f"form {name}: bad pattern token '{tok}'")
            for ch in m.group(1):
                pos -= 1
                if ch != "-":
                    mask |= 1 << pos
                    if ch == "1":
                        match |= 1 << pos
            if m.group(2):
                w = int(m.group(3))
                pos -= w
                self.fields.append((m.group(2), pos, w))
        if pos != 0:
            raise ValueError(f"form {name}: pattern has {width - pos} bits, not {width}")
        self.mask, self.match = mask, match

    def matches(self, insn: int) -> bool:
        return (insn & self.mask) == self.match

    def raw_fields(self, insn: int) -> Dict[str, int]:
        return {n: (insn >> s) & ((1 << w) - 1) for n, s, w in self.fields}

    def args(self, insn: int) -> Optional[Args]:
        f = self.raw_fields(insn)
        if self.when is not None and not self.when(f):
            return None
        for k, v in self.extra.items():
            f[k] = v(f) if callable(v) else v
        return Args(f)

    def __repr__(self) -> str:
        return f"Form({self.name}, mask={self.mask:#x}, match={self.match:#x})"


class Decoder:
    """An ordered table of forms with a bucketed lookup on ``key_mask`` bits."""

    def __init__(self, forms: List[Form], key_mask: int):
        self.forms = list(forms)
        self.key_mask = key_mask
        self._buckets: Dict[int, List[Form]] = {}
        names = set()
        for f in self.forms:
            if f.name in names:
                raise ValueError(f"duplicate form name {f.name}")
            names.add(f.name)

    def _bucket(self, key: int) -> List[Form]:
        b = self._buckets.get(key)
        if b is None:
            km = self.key_mask
            b = [f for f in self.forms if (key & f.mask & km) == (f.match & km)]
            self._buckets[key] = b
        return b

    def decode(self, insn: int) -> Tuple[Optional[Form], Optional[Args]]:
        for f in self._bucket(insn & self.key_mask):
            if (insn & f.mask) == f.match:
                a = f.args(insn)
                if a is not None:
                    return f, a
        return None, None

    def form(self, name: str) -> Form:
        for f in self.forms:
            if f.name == name:
                return f
        raise KeyError(name)
