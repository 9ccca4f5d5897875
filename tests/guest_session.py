"""Run pysystem as a user does and talk to the guest over its serial console.

``GuestSession`` starts ``pysystem-<arch> ... -nographic`` as a subprocess with the
console on pipes, collects everything the guest prints, and offers ``expect``
(wait for a text) and ``send`` (type a line).  The interpreter is the one running
the tests unless ``PYSYSTEM_GUEST_PYTHON`` names another (CI boots guests under
PyPy, which is several times faster).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from typing import List, Optional

BINARIES = {"arm": "main_arm", "mipsel": "main_mipsel", "mips": "main_mips"}


def guest_python() -> str:
    return os.environ.get("PYSYSTEM_GUEST_PYTHON") or sys.executable


def command(arch: str) -> List[str]:
    """How the guest interpreter starts ``pysystem-<arch>``: its console script when it
    is installed beside the interpreter (as in a venv), else the entry point by ``-c``
    (then under PyPy without the restart that sets its GC nursery: pysystem/pypy_gc.py)."""
    python = guest_python()
    script = os.path.join(os.path.dirname(python), f"pysystem-{arch}")
    if os.access(script, os.X_OK):
        return [python, script]
    entry = BINARIES[arch]
    return [python, "-c", f"import sys; from pysystem.cli import {entry}; sys.exit({entry}())"]


class GuestSession:
    def __init__(self, arch: str, args: List[str], log_path: Optional[str] = None):
        cmd = command(arch) + list(args)
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
        echo = self.expect(re.escape(line.strip()) + r"\r?\n", timeout, mark)
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
