"""QEMU as an oracle for device registers: replay reads and writes through its qtest protocol.

``qemu_vexpress(ops)`` starts ``qemu-system-arm -M vexpress-a9 -S -qtest stdio`` (the
CPU never runs, so virtual time stands still and nothing but the test touches the
devices), performs ``ops`` and returns the values read, in order:

* ``("r", addr)`` / ``("w", addr, value)``: 32-bit reads and writes;
* ``("send", data)``: bytes into UART0's input (then a pause for QEMU to take them);
* ``("break",)``: a telnet BREAK into UART0's input.

UART0 (serial0) is a telnet server on a local port when ``serial=True``, else null.
Tests skip when QEMU is not installed.  Debian's QEMU has no qtest accelerator,
so there is no ``clock_step``: only time-independent behaviour can be compared.
"""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from typing import List, Optional, Sequence, Tuple

import pytest

from tools import program

SETTLE_S = 0.3  # time for QEMU's main loop to deliver bytes sent to the UART


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def qemu_vexpress(ops: Sequence[Tuple], extra_args: Sequence[str] = (),
                  serial: bool = False) -> List[int]:
    qemu = program("qemu-system-arm")
    port = _free_port() if serial else 0
    serial_arg = f"telnet:127.0.0.1:{port},server=on,wait=off" if serial else "null"
    env = dict(os.environ, QEMU_AUDIO_DRV="none")
    proc = subprocess.Popen(
        [qemu, "-M", "vexpress-a9", "-display", "none", "-S", "-qtest", "stdio",
         "-serial", serial_arg, "-monitor", "none", "-nodefaults", *extra_args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env)
    watchdog = threading.Timer(60, proc.kill)  # never hang the suite on a stuck QEMU
    watchdog.start()
    conn: Optional[socket.socket] = None

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
        command("readl 0x10000000")  # QEMU is up: the serial socket is listening
        if serial:
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            time.sleep(SETTLE_S)
            conn.setblocking(False)
        for op in ops:
            if op[0] == "r":
                out.append(int(command(f"readl 0x{op[1]:x}").split()[1], 16))
            elif op[0] == "w":
                command(f"writel 0x{op[1]:x} 0x{op[2]:x}")
            elif op[0] in ("send", "break"):
                conn.sendall(op[1] if op[0] == "send" else b"\xff\xf3")  # IAC BRK
                time.sleep(SETTLE_S)
            else:
                raise ValueError(f"unknown oracle op {op!r}")
    finally:
        watchdog.cancel()
        if conn is not None:
            conn.close()
        proc.kill()
        proc.wait(timeout=30)
    return out
