"""A command on a new pseudo-terminal, driven as a user at a terminal drives it.

    s = PtySession([python, "-m", "x"], env=...)
    s.expect(rb"/ # $", timeout=60)       # wait for a regex in everything read so far
    mark = s.send(b"uname -m\\n")           # type; returns the output offset before it
    s.wait(timeout) -> exit status          # reads until the command ends
    s.close()                               # kills it if it is still running

Stdin, stdout and stderr of the command are the pty (as in a terminal window), so
``os.isatty(1)`` is true in it; ``started`` and ``seen_at(offset)`` tell when
(host monotonic time) output arrived, and ``cpu_seconds()`` the processor time
the command has used so far (Linux), for timings.
"""
from __future__ import annotations

import os
import pty
import re
import select
import signal
import time
from typing import Dict, List, Optional


class PtySession:
    def __init__(self, argv: List[str], env: Optional[Dict[str, str]] = None):
        self.started = time.monotonic()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, env if env is not None else dict(os.environ))
            finally:
                os._exit(127)
        self.out = bytearray()
        self.times: List[tuple] = []        # (offset where a read ended, monotonic time)
        self.status: Optional[int] = None

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False at end of output."""
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            return False
        self.out += data
        self.times.append((len(self.out), time.monotonic()))
        return True

    def expect(self, pattern: bytes, timeout: float, start: int = 0) -> "re.Match[bytes]":
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = regex.search(self.out, start)
            if m:
                return m
            left = end - time.monotonic()
            if left <= 0 or not self._read(min(left, 1.0)):
                tail = bytes(self.out[-3000:]).decode("utf-8", "replace")
                raise AssertionError(f"did not see {pattern!r} within {timeout:.0f} s; "
                                     f"last output:\n{tail}")

    def seen_at(self, offset: int) -> float:
        """When the output byte at ``offset`` had arrived (monotonic seconds)."""
        for end, when in self.times:
            if end > offset:
                return when
        return time.monotonic()

    def cpu_seconds(self) -> float:
        """User + system time of the command so far (its own process, from /proc)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def send(self, data: bytes) -> int:
        mark = len(self.out)
        os.write(self.fd, data)
        return mark

    def wait(self, timeout: float) -> int:
        end = time.monotonic() + timeout
        while self._read(min(max(end - time.monotonic(), 0), 1.0)):
            if time.monotonic() > end:
                raise AssertionError("the command did not end; last output:\n"
                                     + bytes(self.out[-2000:]).decode("utf-8", "replace"))
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.status = -9
        try:
            os.close(self.fd)
        except OSError:
            pass

    @property
    def text(self) -> str:
        return bytes(self.out).decode("utf-8", "replace")
