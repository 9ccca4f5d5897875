"""Run pysystem as a user does and talk to the guest over its serial console.

``GuestSession`` starts ``pysystem-<arch> ... -nographic`` as a subprocess with the
console on pipes, collects everything the guest prints, and offers ``expect``
(wait for a text) and ``send`` (type a line).  The console script is the one of the
interpreter running the tests unless ``PYSYSTEM_GUEST_PYTHON`` names another (CI boots
guests under PyPy, which is several times faster): then the one beside it.
"""
from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import List, Optional

from tools import guest_script


def command(arch: str) -> List[str]:
    """How a user starts ``pysystem-<arch>``: its console script, the one installed for
    the guest interpreter (tools.guest_script)."""
    return [guest_script(f"pysystem-{arch}")]


def echo_pattern(line: str) -> str:
    """A regex for the shell's echo of ``line``: busybox's line editor wraps a line at
    the terminal's width (80 columns when it cannot ask) by writing spaces, CR, LF or
    backspaces between two characters, so any of those may come between any two."""
    return r"[ \r\n\x08]*".join(re.escape(ch) for ch in line)


class GuestSession:
    def __init__(self, arch: str, args: List[str], log_path: Optional[str] = None,
                 program: Optional[str] = None):
        """``program``: run that emulator (e.g. qemu-system-mips, the oracle) instead."""
        cmd = ([program] if program else command(arch)) + list(args)
        self.output = bytearray()
        self._lock = threading.Condition()
        self._log = open(log_path, "wb") if log_path else None
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            chunk = self.proc.stdout.read1(65536)
            with self._lock:
                if not chunk:
                    self._lock.notify_all()
                    return
                self.output += chunk
                if self._log:
                    self._log.write(chunk)
                    self._log.flush()
                self._lock.notify_all()

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def expect(self, pattern: str, timeout: float, start: int = 0) -> re.Match:
        """Wait until ``pattern`` (a regex) appears in the output after offset ``start``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern.encode())
        with self._lock:
            while True:
                m = regex.search(self.output, start)
                if m:
                    return m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    tail = self.output[-3000:].decode("utf-8", "replace")
                    raise AssertionError(f"did not see {pattern!r} within {timeout:.0f} s "
                                         f"(exit status {self.proc.poll()}); last output:\n{tail}")
                self._lock.wait(min(remaining, 1.0))

    def send(self, line: str) -> int:
        """Type ``line`` and Enter; returns the output offset before it, for ``expect``."""
        with self._lock:
            mark = len(self.output)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return mark

    def command(self, line: str, prompt: str = r"/ # ", timeout: float = 120) -> str:
        """Run a shell command and return what it printed (up to the next prompt)."""
        mark = self.send(line)
        echo = self.expect(echo_pattern(line.strip()) + r"\r?\n", timeout, mark)
        end = self.expect(prompt, timeout, echo.end())
        return self.output[echo.end():end.start()].decode("utf-8", "replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._reader.join(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._log:
            self._log.close()
