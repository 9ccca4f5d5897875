"""The base of every CPU's typed guest exceptions.

Generated block code and the slow paths raise a CPU's subclasses of ``GuestException``
(ARM's ``DataAbort``, MIPS's ``TLBRefill``...); the run loop (cpu.py) catches them,
works out the faulting instruction from ``idx`` (its index in the block; -1 means
"before the block's first instruction", e.g. a fault fetching it) and hands them to the
CPU's ``deliver``.  ``counted`` says whether the instruction that raised counts as
executed (a system call does, a fault does not), which keeps the instruction count exact.
"""
from __future__ import annotations


class GuestException(Exception):
    """Base of every architectural exception raised while executing guest code."""

    excp = 0
    counted = False
    in_slot = False  # raised before its block ran, for an instruction in a delay slot

    def __init__(self, idx: int = -1):
        super().__init__()
        self.idx = idx

    def __str__(self) -> str:
        return f"{type(self).__name__} at insn {self.idx}"
