"""The character device base type: what a frontend (UART, monitor) talks to.

Frontend side (devices, the monitor)::

    chr.set_handlers(can_read, read, event)   # can_read() -> int, read(data), event(ev)
    chr.write(data) -> int                    # output towards the host
    chr.accept_input()                        # "I have room again": push pending input

``event(ev)`` receives one of the ``EVENT_*`` strings: ``"break"`` (a break
condition, Ctrl-A b), ``"opened"``/``"closed"`` (the backend is up/down),
``"mux-in"``/``"mux-out"`` (a mux gave this frontend the keyboard or took it away).

Backend side (subclasses): ``_open()`` starts host I/O (register an fd with the
main loop), ``_write(data)`` sends output, ``deliver(data)`` hands input to the
frontend (what the frontend cannot take yet is kept and pushed on
``accept_input()`` or at the main loop's next poll), ``_close()`` releases host
handles.  ``claim()`` is what a frontend is given: the chardev itself, or for a
mux a new port of it.

Watchers (``pysystem-images --boot`` notices the guest's shell prompt this way):
``on_output`` and ``on_input`` are lists of callables ``fn(data)`` that see every
write before the backend sends it, and every chunk of input as the frontend is
given it.
"""
from __future__ import annotations

import os
from typing import Callable, List, Optional

from ..qom import Object, Property, register

EVENT_BREAK = "break"
EVENT_OPENED = "opened"
EVENT_CLOSED = "closed"
EVENT_MUX_IN = "mux-in"
EVENT_MUX_OUT = "mux-out"

MAX_PENDING = 1 << 16


class ChardevError(Exception):
    """A bad chardev spec or a host error opening one; one line for the user."""


@register
class Chardev(Object):
    TYPE = "chardev"
    ABSTRACT = True
    BACKEND = ""            # the -chardev backend name
    PROPERTIES = (
        Property("id", "str", None, "the chardev's label"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self._can_read: Optional[Callable[[], int]] = None
        self._read: Optional[Callable[[bytes], None]] = None
        self._event: Optional[Callable[[str], None]] = None
        self._pending = bytearray()
        self.loop = None
        self.is_open = False
        self.claimed = False
        self._logfd: Optional[int] = None
        self.origin = ""        # the command-line option that made it, for messages
        self.program = "pysystem"   # the emulator's name in its messages (its registry's)
        self.on_output: List[Callable[[bytes], None]] = []
        self.on_input: List[Callable[[bytes], None]] = []

    @property
    def label(self) -> str:
        return self.id or self.TYPE

    # --- frontend side --------------------------------------------------------------
    def set_handlers(self, can_read=None, read=None, event=None) -> None:
        self._can_read, self._read, self._event = can_read, read, event
        if self.is_open and event is not None:
            event(EVENT_OPENED)

    def write(self, data) -> int:
        data = bytes(data)
        if not data:
            return 0
        for watcher in self.on_output:
            watcher(data)
        if self._logfd is not None:
            _write_all(self._logfd, data)
        return self._write(data)

    def set_logfile(self, path: str, append="off") -> None:
        """``logfile=``: a copy of everything written goes to ``path`` too."""
        appending = str(append) in ("on", "yes", "true", "True")
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if appending else os.O_TRUNC)
        try:
            self._logfd = os.open(path, flags, 0o666)
        except OSError as e:
            raise ChardevError(f"Could not open '{path}': {e.strerror}") from None

    def accept_input(self) -> None:
        self.pump()

    def claim(self) -> "Chardev":
        """The object a frontend gets; a plain chardev serves one frontend."""
        if self.claimed:
            raise ChardevError(f"chardev '{self.label}' is already in use (add mux=on to share it)")
        self.claimed = True
        return self

    # --- backend side ---------------------------------------------------------------
    def open(self, loop) -> None:
        """Start host I/O under main loop ``loop`` and tell the frontend."""
        if self.is_open:
            return
        self.loop = loop
        self._open()
        self.is_open = True
        self.send_event(EVENT_OPENED)

    def close(self) -> None:
        """Release host handles (once; also for a chardev never opened)."""
        if not getattr(self, "_closed", False):
            self._closed = True
            self.is_open = False
            self._close()
            if self._logfd is not None:
                os.close(self._logfd)
                self._logfd = None

    def can_accept(self) -> int:
        """How many bytes of input the frontend takes now (0 while input is pending)."""
        if self._read is None or self._pending:
            return 0
        return self._can_read() if self._can_read is not None else 4096

    def deliver(self, data: bytes) -> None:
        """Hand host input to the frontend; what it cannot take now waits."""
        if self._read is None:
            return
        self._pending += data
        del self._pending[:-MAX_PENDING]
        self.pump()

    def pump(self) -> None:
        """Push pending input as far as the frontend's ``can_read`` allows."""
        while self._pending and self._read is not None:
            n = self._can_read() if self._can_read is not None else len(self._pending)
            if n <= 0:
                return
            chunk = bytes(self._pending[:n])
            del self._pending[:n]
            for watcher in self.on_input:
                watcher(chunk)
            self._read(chunk)

    def send_event(self, ev: str) -> None:
        if self._event is not None:
            self._event(ev)

    def filename(self) -> str:
        """What ``info chardev`` shows after ``filename=`` (QEMU's words)."""
        return self.BACKEND

    # subclasses
    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _write(self, data: bytes) -> int:
        return len(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass            # a full disk must not stop the guest's output
