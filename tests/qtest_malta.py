"""QEMU's Malta, with its default PCI devices, as an oracle for the PCI side.

``qemu_malta(ops, big_endian=False)`` starts ``qemu-system-mipsel`` (or ``-mips``)
``-M malta -S -qtest stdio`` (the CPU never runs), performs ``ops`` and returns the
values read, in order.  Ops: ``("r", addr, size)`` and ``("w", addr, value, size)``
with size 1, 2 or 4; accesses are the CPU's (target byte order) at physical
addresses.  It runs QEMU as tests/qtest_malta_oracle.py does (the ISA devices' oracle),
but not ``-nodefaults``: QEMU keeps its default devices unless ``extra_args`` says
otherwise: the pcnet in slot 11, the Cirrus VGA in slot 18 and the empty CD-ROM at
IDE index 2 are part of what the PCI tests compare.  A missing QEMU is a missing
prerequisite (tests/tools.py: skip, or fail under CI).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from qtest_malta_oracle import need_qemu as qemu_binary
from qtest_malta_oracle import run_ops

_CMD = {1: "b", 2: "w", 4: "l"}


def qemu_malta(ops: Sequence[Tuple], big_endian: bool = False,
               extra_args: Sequence[str] = ()) -> List[int]:
    commands = []
    for op in ops:
        if op[0] == "r":
            commands.append((f"read{_CMD[op[2]]} 0x{op[1]:x}", True))
        elif op[0] == "w":
            commands.append((f"write{_CMD[op[3]]} 0x{op[1]:x} 0x{op[2]:x}", False))
        else:
            raise ValueError(f"unknown oracle op {op!r}")
    return run_ops(qemu_binary(big_endian), extra_args, commands)
