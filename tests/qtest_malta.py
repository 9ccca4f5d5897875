"""QEMU's Malta, with its default PCI devices, as an oracle for the PCI side.

``qemu_malta(ops, big_endian=False)`` starts ``qemu-system-mipsel`` (or ``-mips``)
``-M malta -S -qtest stdio`` (the CPU never runs), performs ``ops`` and returns the
values read, in order.  Ops: ``("r", addr, size)`` and ``("w", addr, value, size)``
with size 1, 2 or 4; accesses are the CPU's (target byte order) at physical
addresses.  Unlike tests/qtest_malta_oracle.py (the ISA devices' oracle, always
``-nodefaults``), QEMU keeps its default devices unless ``extra_args`` says
otherwise: the pcnet in slot 11, the Cirrus VGA in slot 18 and the empty CD-ROM at
IDE index 2 are part of what the PCI tests compare.  A missing QEMU is a missing
prerequisite (tests/tools.py: skip, or fail under CI).
"""
from __future__ import annotations

import os
import subprocess
import threading
from typing import List, Sequence, Tuple

import pytest

from tools import program

_CMD = {1: "b", 2: "w", 4: "l"}


def qemu_binary(big_endian: bool) -> str:
    return program("qemu-system-mips" if big_endian else "qemu-system-mipsel")


def qemu_malta(ops: Sequence[Tuple], big_endian: bool = False,
               extra_args: Sequence[str] = ()) -> List[int]:
    qemu = qemu_binary(big_endian)
    proc = subprocess.Popen(
        [qemu, "-M", "malta", "-display", "none", "-S", "-qtest", "stdio",
         "-monitor", "none", "-serial", "null", *extra_args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=dict(os.environ, QEMU_AUDIO_DRV="none"))
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()

    def command(text: str) -> str:
        proc.stdin.write(text + "\n")
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"qtest: QEMU stopped answering at '{text}'")
            if line.startswith(("OK", "FAIL")):
                if not line.startswith("OK"):
                    pytest.fail(f"qtest: {line.strip()} for '{text}'")
                return line.strip()

    out: List[int] = []
    try:
        for op in ops:
            if op[0] == "r":
                out.append(int(command(f"read{_CMD[op[2]]} 0x{op[1]:x}").split()[1], 16))
            elif op[0] == "w":
                command(f"write{_CMD[op[3]]} 0x{op[1]:x} 0x{op[2]:x}")
            else:
                raise ValueError(f"unknown oracle op {op!r}")
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait(timeout=30)
    return out
