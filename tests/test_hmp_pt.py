"""``-monitor stdio`` on a real terminal: the prompt_toolkit front end.

pysystem-arm runs with a pty as its stdin and stdout (a terminal, as in a
shell); we type at the pty's master side: Tab completion, history (Up), and
quit.  prompt_toolkit asks for the cursor position (ESC [ 6n); we answer as a
terminal would.
"""
from __future__ import annotations

import os
import select
import subprocess
import time

from tools import module, script

module("prompt_toolkit")
keystone = module("keystone")

from test_hmp_cli import guest  # noqa: E402,F401  (the idle guest fixture)


class Terminal:
    def __init__(self, args):
        self.master, slave = os.openpty()
        env = dict(os.environ, TERM="xterm")
        env.pop("PYSYSTEM_MONITOR_READLINE", None)
        self.proc = subprocess.Popen(
            [script("pysystem-arm"), *args],
            stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env, start_new_session=True)
        os.close(slave)
        self.buf = b""

    def until(self, marker: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {self.buf[-500:]!r}"
            r, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if r:
                data = os.read(self.master, 65536)
                if b"\x1b[6n" in data:
                    os.write(self.master, b"\x1b[1;1R")
                self.buf += data
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.master)
            self.proc.stderr.close()


def test_prompt_toolkit_monitor_on_a_terminal(guest):  # noqa: F811
    t = Terminal(guest + ["-display", "none", "-serial", "null", "-monitor", "stdio"])
    try:
        t.until(b"monitor - type 'help' for more information")
        t.until(b"(qemu)")
        t.type(b"info sta\t")                  # Tab completes the info subcommand
        t.until(b"tus")
        t.type(b"\r")
        t.until(b"VM status: running")
        t.until(b"(qemu)")
        t.type(b"p 6*7\r")
        t.until(b"0x2a")
        t.until(b"(qemu)")
        t.type(b"\x1b[A\x1b[A\r")              # Up, Up: "info status" again
        t.until(b"VM status: running")
        t.until(b"(qemu)")
        t.type(b"quit\r")
    finally:
        status = t.close()
    assert status == 0
