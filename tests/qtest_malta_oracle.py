"""QEMU's Malta as an oracle for ISA and FPGA registers, through its qtest protocol.

``qemu_malta(ops)`` starts ``qemu-system-mipsel -M malta -S -qtest stdio`` with no
kernel: the CPU never runs, so nothing but the test touches the devices, and
virtual time stands still (the VM is stopped; Debian's QEMU has no qtest
accelerator, so ``clock_step`` is unavailable and only time-independent
behaviour can be compared).  ``-rtc base=...,clock=vm`` fixes the RTC.

Ops, performed in order; the values read are returned in order:

* ``("inb", port)`` / ``("outb", port, value)``: the ISA I/O space (qtest's
  in/out reach the PCI I/O space, which PIIX4's ISA bridge decodes);
* ``("readb"|"readw"|"readl", addr)`` / ``("writeb"|"writel", addr, value)``: the
  CPU's physical address space (the FPGA at 0x1f000000, the GT-64120's default
  PCI I/O window at 0x10000000: at reset its PCI0IOLD/HD registers map I/O
  0-0x1ffffff at 0x10000000, so ISA port N is physical 0x10000000 + N).

A missing QEMU is a missing prerequisite (tests/tools.py: skip, or fail under CI).
"""
from __future__ import annotations

import os
import subprocess
import threading
from typing import List, Sequence, Tuple

import pytest

from tools import program

RTC_BASE = "2026-12-07T10:20:30"
ISA_IO_BASE = 0x10000000


def need_qemu(big_endian: bool = False) -> str:
    """The QEMU binary (qemu-system-mips for ``big_endian``); missing: skip, or fail under CI."""
    return program("qemu-system-mips" if big_endian else "qemu-system-mipsel")


def qtest(binary: str, args: Sequence[str], commands: Sequence[str]) -> List[str]:
    """Start ``binary -M malta -display none -S -qtest stdio ... args``, send each qtest
    command in turn and return QEMU's ``OK ...`` replies, in order."""
    proc = subprocess.Popen(
        [binary, "-M", "malta", "-display", "none", "-S", "-qtest", "stdio", "-monitor", "none",
         "-serial", "null", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, QEMU_AUDIO_DRV="none"))
    watchdog = threading.Timer(60, proc.kill)   # never hang the suite on a stuck QEMU
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

    try:
        return [command(text) for text in commands]
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait(timeout=30)


def run_ops(binary: str, args: Sequence[str], commands: Sequence[Tuple[str, bool]]) -> List[int]:
    """``commands``: (qtest command, whether it reads); returns the values read, in order."""
    replies = qtest(binary, args, [text for text, _ in commands])
    return [int(reply.split()[1], 16) for reply, (_, reads) in zip(replies, commands) if reads]


def qemu_malta(ops: Sequence[Tuple], extra_args: Sequence[str] = (),
               big_endian: bool = False) -> List[int]:
    """Run ``ops`` on qemu-system-mipsel (``big_endian``: qemu-system-mips), -nodefaults."""
    commands = []
    for op in ops:
        name = op[0]
        if name in ("inb", "readb", "readw", "readl"):
            commands.append((f"{name} 0x{op[1]:x}", True))
        elif name in ("outb", "writeb", "writel"):
            commands.append((f"{name} 0x{op[1]:x} 0x{op[2]:x}", False))
        else:
            raise ValueError(f"unknown oracle op {op!r}")
    return run_ops(need_qemu(big_endian),
                   ["-nodefaults", "-rtc", f"base={RTC_BASE},clock=vm", *extra_args], commands)
