"""``mux``: several frontends (serial0 and the monitor) sharing one backend.

This is what ``-nographic`` (``-serial mon:stdio``) and ``-chardev ...,mux=on``
build.  Each frontend gets its own port (``claim()``); output of every port goes
to the backend, input goes to the port that has the focus.  The frontend that
attached last has the focus at start (the serial port, on a board).  Escapes,
after Ctrl-A (QEMU's keys):

    C-a h    print this help            C-a c    switch between console and monitor
    C-a x    exit emulator              C-a t    toggle console timestamps
    C-a s    save disk data back        C-a b    send break (magic sysrq)
    C-a C-a  sends C-a

Any other key after C-a is dropped.  ``on_exit`` (default: raise SystemExit(0),
so every ``finally`` and atexit handler runs) is what C-a x calls after
printing the termination line.
"""
from __future__ import annotations

import time
from typing import Callable, List, Optional

from ..qom import register
from .base import (EVENT_BREAK, EVENT_MUX_IN, EVENT_MUX_OUT, EVENT_OPENED, Chardev,
                   ChardevError)

ESCAPE = 0x01           # Ctrl-A
MAX_PORTS = 4
PORT_BUFFER = 256       # input kept for a port that is not reading

HELP_LINES = (
    ("h", "print this help"),
    ("x", "exit emulator"),
    ("s", "save disk data back to file (if -snapshot)"),
    ("t", "toggle console timestamps"),
    ("b", "send break (magic sysrq)"),
    ("c", "switch between console and monitor"),
)
TERMINATED = b"pysystem: Terminated\n\r"


def help_text() -> bytes:
    out = "\n\r"
    for key, text in HELP_LINES:
        out += f"C-a {key}    {text}\n\r"
    out += "C-a C-a  sends C-a\n\r"
    return out.encode()


def _exit_emulator() -> None:
    raise SystemExit(0)


@register
class MuxPort(Chardev):
    """One frontend's view of a mux."""

    TYPE = "chardev-mux-port"

    def __init__(self, mux: "MuxChardev" = None, **props):
        super().__init__(**props)
        self.mux = mux

    def set_handlers(self, can_read=None, read=None, event=None) -> None:
        super().set_handlers(can_read, read, event)
        if read is not None:
            self.mux.take_focus(self)

    def _write(self, data: bytes) -> int:
        return self.mux.output(data)


@register
class MuxChardev(Chardev):
    TYPE = "chardev-mux"
    BACKEND = "mux"

    def __init__(self, backend: Chardev = None, **props):
        super().__init__(**props)
        if backend is None:
            raise ChardevError("mux: no backend")
        self.backend = backend.claim()
        self.ports: List[MuxPort] = []
        self.focus = -1
        self.got_escape = False
        self.timestamps = False
        self.timestamps_start: Optional[float] = None
        self.linestart = False
        self.on_exit: Callable[[], None] = _exit_emulator
        self.on_commit: Optional[Callable[[], None]] = None
        self.backend.set_handlers(self._can_read_in, self._read_in, self._event_in)

    # frontends
    def claim(self) -> MuxPort:
        if len(self.ports) >= MAX_PORTS:
            raise ChardevError(f"too many uses of multiplexed chardev '{self.label}'")
        port = MuxPort(mux=self, id=self.id)
        self.ports.append(port)
        if self.is_open:
            port.is_open = True
        return port

    def take_focus(self, port: MuxPort) -> None:
        self.set_focus(self.ports.index(port))

    def set_focus(self, index: int) -> None:
        if index == self.focus:
            return
        if self.is_open and 0 <= self.focus < len(self.ports):
            self.ports[self.focus].send_event(EVENT_MUX_OUT)
        self.focus = index
        if self.is_open:
            self.ports[index].send_event(EVENT_MUX_IN)

    @property
    def focused(self) -> Optional[MuxPort]:
        return self.ports[self.focus] if 0 <= self.focus < len(self.ports) else None

    # lifecycle
    def _open(self) -> None:
        self.backend.open(self.loop)
        for port in self.ports:
            port.open(self.loop)
        port = self.focused
        if port is not None:
            port.send_event(EVENT_MUX_IN)
        if self.loop is not None:
            self.loop.add_poll_hook(self.pump_ports)

    def _close(self) -> None:
        for port in self.ports:
            port.close()
        self.backend.close()

    # output
    def output(self, data: bytes) -> int:
        if not self.timestamps:
            return self.backend.write(data)
        out = bytearray()
        for b in data:
            if self.linestart:
                out += self._stamp()
                self.linestart = False
            out.append(b)
            if b == 0x0A:
                self.linestart = True
        self.backend.write(bytes(out))
        return len(data)

    def _stamp(self) -> bytes:
        now = time.monotonic()
        if self.timestamps_start is None:
            self.timestamps_start = now
        ms = int((now - self.timestamps_start) * 1000)
        secs, ms = divmod(ms, 1000)
        mins, secs = divmod(secs, 60)
        hours, mins = divmod(mins, 60)
        return b"[%02d:%02d:%02d.%03d] " % (hours % 24, mins, secs, ms)

    # input
    def _can_read_in(self) -> int:
        port = self.focused
        if port is None:
            return PORT_BUFFER
        room = PORT_BUFFER - len(port._pending)
        return max(room, 0) or (1 if port.can_accept() else 0)

    def _read_in(self, data: bytes) -> None:
        for b in data:
            self._byte(b)
        self.pump_ports()

    def _byte(self, b: int) -> None:
        if self.got_escape:
            self.got_escape = False
            if b == ESCAPE:
                self._to_focus(b)
            elif b in (ord("h"), ord("?")):
                self.output(help_text())
            elif b == ord("x"):
                self.output(TERMINATED)
                self.on_exit()
            elif b == ord("s"):
                if self.on_commit is not None:
                    self.on_commit()
            elif b == ord("b"):
                port = self.focused
                if port is not None:
                    port.send_event(EVENT_BREAK)
            elif b == ord("c"):
                if self.ports:
                    self.set_focus((self.focus + 1) % len(self.ports))
            elif b == ord("t"):
                self.timestamps = not self.timestamps
                self.timestamps_start = None
                self.linestart = False
        elif b == ESCAPE:
            self.got_escape = True
        else:
            self._to_focus(b)

    def _to_focus(self, b: int) -> None:
        port = self.focused
        if port is None or port._read is None:
            return
        if len(port._pending) < PORT_BUFFER:
            port._pending.append(b)

    def pump_ports(self) -> None:
        for port in self.ports:
            if port._pending:
                port.pump()

    def _event_in(self, ev: str) -> None:
        if ev == EVENT_OPENED:
            # a socket backend got a (new) peer after start-up: the frontend that
            # has the focus announces itself again (the monitor shows its prompt)
            port = self.focused
            if self.is_open and port is not None:
                port.send_event(EVENT_MUX_IN)
            return
        port = self.focused
        if port is not None:
            port.send_event(ev)
