"""``pty``: a new pseudo-terminal; the guest's serial port appears as /dev/pts/N.

The slave's name is printed as QEMU does ("char device redirected to /dev/pts/N
(label serial0)").  The slave is in raw mode.  While nothing has the slave open,
output is dropped (as QEMU does) rather than filling the pty's buffer.
"""
from __future__ import annotations

import os
import sys
import time
import tty

from ..qom import register
from .base import Chardev, ChardevError


@register
class PtyChardev(Chardev):
    TYPE = "chardev-pty"
    BACKEND = "pty"

    def __init__(self, **props):
        super().__init__(**props)
        try:
            self.master, slave = os.openpty()
        except OSError as e:
            raise ChardevError(f"could not open a pty: {e.strerror}") from None
        self.pts = os.ttyname(slave)
        tty.setraw(slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self._retry_at = 0.0

    def filename(self) -> str:
        return f"pty:{self.pts}"

    def _open(self) -> None:
        sys.stderr.write(f"char device redirected to {self.pts} (label {self.label})\n")
        sys.stderr.flush()
        if self.loop is not None:
            self.loop.add_reader(self.master, self._readable, self._ready)

    def _ready(self) -> bool:
        return time.monotonic() >= self._retry_at and self.can_accept() > 0

    def _readable(self) -> None:
        n = self.can_accept()
        if n <= 0:
            return
        try:
            data = os.read(self.master, min(n, 4096))
        except BlockingIOError:
            return
        except OSError:
            self._retry_at = time.monotonic() + 1.0     # EIO: nobody has the slave open
            return
        if data:
            self.deliver(data)

    def _write(self, data: bytes) -> int:
        try:
            os.write(self.master, data)
        except (BlockingIOError, OSError):
            pass            # nobody reading: drop, as QEMU does
        return len(data)

    def _close(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.master)
        os.close(self.master)
