"""``stdio``: the host terminal (or whatever stdin/stdout are).

When stdin is a terminal it is put into raw mode as QEMU does (no echo, no line
editing, 8-bit, output post-processing kept so ``\\n`` still moves to a new
line).  With ``signal=off`` (what ``-nographic`` uses) Ctrl-C reaches the guest
instead of stopping the emulator.  The terminal's settings are restored on
every way out: ``restore_terminal()`` runs from the chardev's close, from
``atexit``, and from the command line's ``finally``; signal handlers installed
by the command line turn SIGTERM/SIGHUP/SIGINT into an orderly exit.

Only one stdio chardev may exist (QEMU's rule).  Input is read only when the
frontend can take it; at end of file the fd is no longer watched, so a piped
stdin that ends never makes the main loop spin.
"""
from __future__ import annotations

import atexit
import os
import select
import termios
from typing import List, Optional

from ..qom import Property, register
from .base import Chardev, ChardevError

_saved: List[Optional[list]] = [None]      # (fd, attrs) of the terminal we changed
_in_use: List[bool] = [False]


def restore_terminal() -> None:
    """Put the terminal back the way we found it (safe to call any number of times)."""
    saved = _saved[0]
    if saved is None:
        return
    _saved[0] = None
    fd, attrs = saved
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except (termios.error, OSError):
        pass


atexit.register(restore_terminal)


def set_raw(fd: int, allow_signals: bool) -> None:
    """QEMU's stdio terminal mode; the old settings are kept for restore_terminal()."""
    attrs = termios.tcgetattr(fd)
    if _saved[0] is None:
        _saved[0] = [fd, [list(a) if isinstance(a, list) else a for a in attrs]]
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP |
               termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    oflag |= termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.IEXTEN)
    if not allow_signals:
        lflag &= ~termios.ISIG
    cflag &= ~(termios.CSIZE | termios.PARENB)
    cflag |= termios.CS8
    cc = list(cc)
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])


@register
class StdioChardev(Chardev):
    TYPE = "chardev-stdio"
    BACKEND = "stdio"
    PROPERTIES = (
        Property("signal", "bool", True, "Ctrl-C on the terminal stops the emulator"),
    )

    def __init__(self, in_fd: int = 0, out_fd: int = 1, **props):
        super().__init__(**props)
        if _in_use[0]:
            raise ChardevError("cannot use stdio by multiple character devices")
        _in_use[0] = True
        self.in_fd, self.out_fd = in_fd, out_fd
        self.eof = False

    def _open(self) -> None:
        if os.isatty(self.in_fd):
            set_raw(self.in_fd, self.signal)
        if self.loop is not None:
            self.loop.add_reader(self.in_fd, self._readable, self._ready)

    def _ready(self) -> bool:
        return not self.eof and self.can_accept() > 0

    def _readable(self) -> None:
        n = self.can_accept()
        if n <= 0:
            return
        try:
            data = os.read(self.in_fd, min(n, 4096))
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            if self.loop is not None:
                self.loop.remove_reader(self.in_fd)
            return
        self.deliver(data)

    def _write(self, data: bytes) -> int:
        view = memoryview(data)
        try:
            while view:
                try:
                    n = os.write(self.out_fd, view)
                except BlockingIOError:     # a non-blocking stdout that is full: wait a bit
                    if not select.select([], [self.out_fd], [], 1.0)[1]:
                        break               # nobody reads it: drop the rest
                    continue
                view = view[n:]
        except OSError:
            pass            # stdout closed: output goes nowhere
        return len(data)

    def _close(self) -> None:
        if self.loop is not None and not self.eof:
            self.loop.remove_reader(self.in_fd)
        restore_terminal()
        _in_use[0] = False
