"""IRQ lines: small objects with ``set(level)`` that call whatever they drive.

A device owns its output lines (``IRQ`` objects) and a board connects each to an
input of an interrupt controller or CPU: ``uart.irqs[0].connect(gic.set_irq, 37)``
makes the line call ``gic.set_irq(37, level)``.  A line remembers its
level, so devices can call ``set`` freely from their ``_update_irq()``; only a
change of level is passed on.

Fan-in and fan-out are objects too, so a board wires them like any line:

* ``OrGate(n)``: ``n`` inputs, one output line (``gate.out``), high while any
  input is high.  Shared interrupts (PCI INTx pins routed to one PIRQ) fan in
  through one: ``dev.irqs[0].connect(gate.set_input, 2)``.
* ``Splitter(n)``: one input, ``n`` output lines, each following the input:
  ``line.connect(split.set_input)``; ``split.outs[i].connect(...)``.

An OR gate keeps its inputs as one bit mask, so a change costs a few integer
operations; both have a ``level`` as lines do, and ``Splitter.set(level)`` lets
a splitter stand where code expects a line.
"""
from __future__ import annotations

from typing import Callable, List, Optional


class IRQ:
    __slots__ = ("name", "level", "_handler", "_n")

    def __init__(self, name: str = "irq"):
        self.name = name
        self.level = 0
        self._handler: Optional[Callable[[int, int], None]] = None
        self._n = 0

    def connect(self, handler: Callable[[int, int], None], n: int = 0) -> None:
        """Drive ``handler(n, level)`` from this line."""
        self._handler, self._n = handler, n
        if self.level and handler is not None:
            handler(n, self.level)

    def set(self, level: int) -> None:
        level = 1 if level else 0
        if level != self.level:
            self.level = level
            if self._handler is not None:
                self._handler(self._n, level)

    def raise_(self) -> None:
        self.set(1)

    def lower(self) -> None:
        self.set(0)

    def pulse(self) -> None:
        self.set(1)
        self.set(0)


class OrGate:
    """``inputs`` lines in (``set_input(n, level)``), one line out: the OR of them all."""

    __slots__ = ("name", "inputs", "_mask", "out")

    def __init__(self, inputs: int = 2, name: str = "or"):
        if inputs < 1:
            raise ValueError(f"{name}: an OR gate needs at least one input")
        self.name = name
        self.inputs = inputs
        self._mask = 0          # bit n: input n is high
        self.out = IRQ(f"{name}.out")

    @property
    def level(self) -> int:
        return self.out.level

    @property
    def input_levels(self) -> int:
        """The inputs as a bit mask (bit n: input n high)."""
        return self._mask

    def set_input(self, n: int, level: int) -> None:
        if not 0 <= n < self.inputs:
            raise IndexError(f"{self.name}: no input {n} (it has {self.inputs})")
        bit = 1 << n
        mask = (self._mask | bit) if level else (self._mask & ~bit)
        self._mask = mask
        self.out.set(mask)

    def reset_inputs(self) -> None:
        """Forget every input's level (the output follows: low)."""
        self._mask = 0
        self.out.set(0)


class Splitter:
    """One line in (``set_input(n, level)``, ``n`` ignored), ``outputs`` lines out, each the input."""

    __slots__ = ("name", "outs", "level")

    def __init__(self, outputs: int = 2, name: str = "split"):
        if outputs < 1:
            raise ValueError(f"{name}: a splitter needs at least one output")
        self.name = name
        self.level = 0
        self.outs = [IRQ(f"{name}.out[{i}]") for i in range(outputs)]

    def set_input(self, n: int, level: int) -> None:
        level = 1 if level else 0
        self.level = level
        for line in self.outs:
            line.set(level)

    def set(self, level: int) -> None:
        self.set_input(0, level)


def irq_array(name: str, count: int) -> List[IRQ]:
    return [IRQ(f"{name}[{i}]") for i in range(count)]
