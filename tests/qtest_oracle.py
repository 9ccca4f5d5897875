"""QEMU as an oracle for device registers: replay reads and writes through its qtest protocol.

``qemu_vexpress(ops)`` starts ``qemu-system-arm -M vexpress-a9 -S -qtest stdio`` (the
CPU never runs, so virtual time stands still and nothing but the test touches the
devices), performs ``ops`` - ``("r", addr)`` or ``("w", addr, value)``, 32-bit - and
returns the values read, in order.  Tests skip when QEMU is not installed.
Debian's QEMU has no qtest accelerator, so there is no ``clock_step``: only
time-independent behaviour can be compared.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from typing import List, Sequence, Tuple

import pytest

QEMU = shutil.which("qemu-system-arm")


def qemu_vexpress(ops: Sequence[Tuple], extra_args: Sequence[str] = ()) -> List[int]:
    if QEMU is None:
        pytest.skip("qemu-system-arm is not installed")
    lines = []
    for op in ops:
        if op[0] == "r":
            lines.append(f"readl 0x{op[1]:x}")
        else:
            lines.append(f"writel 0x{op[1]:x} 0x{op[2]:x}")
    env = dict(os.environ, QEMU_AUDIO_DRV="none")
    # QEMU keeps running after stdin closes: read the replies, then stop it.
    proc = subprocess.Popen(
        [QEMU, "-M", "vexpress-a9", "-display", "none", "-S", "-qtest", "stdio",
         "-serial", "null", "-monitor", "none", "-nodefaults", *extra_args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env)
    replies: List[str] = []
    watchdog = threading.Timer(60, proc.kill)  # never hang the suite on a stuck QEMU
    watchdog.start()
    try:
        proc.stdin.write("\n".join(lines) + "\n")
        proc.stdin.flush()
        while len(replies) < len(ops):
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(("OK", "FAIL")):
                replies.append(line.strip())
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait(timeout=30)
    if len(replies) != len(ops):
        pytest.fail(f"qtest gave {len(replies)} replies for {len(ops)} commands")
    out = []
    for op, reply in zip(ops, replies):
        if not reply.startswith("OK"):
            pytest.fail(f"qtest: {reply}")
        if op[0] == "r":
            out.append(int(reply.split()[1], 16))
    return out
