"""IRQ lines: small objects with ``set(level)`` that call whatever they drive.

A device owns its output lines (``IRQ`` objects) and a board connects each to an
input of an interrupt controller or CPU: ``uart.irqs[0].connect(gic.set_irq, 37)``
makes the line call ``gic.set_irq(37, level)``.  A line remembers its
level, so devices can call ``set`` freely from their ``_update_irq()``; only a
change of level is passed on.
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



def irq_array(name: str, count: int) -> List[IRQ]:
    return [IRQ(f"{name}[{i}]") for i in range(count)]
