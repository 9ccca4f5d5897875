"""The seam between a NIC model and a network backend (QEMU's NetClientState pair).

A NIC model (devices/lan9118.py, devices/pcnet.py) offers::

    nic.receive(frame: bytes) -> bool    # False: not taken now, offer it again later
    nic.can_receive() -> bool            # optional: room for a frame now
    nic.mac                              # its configured MAC address text

and calls ``backend.send(frame)`` for each frame the guest transmits.  A backend
(``NetBackend`` subclasses: net/user.py) hands frames to its NIC with ``deliver``:
they wait in a bounded queue while the NIC cannot take them (the driver has not
enabled reception, or its RX FIFO is full) and are offered again at every
``flush`` (after each guest frame and at each host I/O poll of the main loop).
A full queue drops its oldest frame, as a wire would.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Deque, List, Optional

from pysystem import log
from pysystem.qom import QOMError

QUEUE_LIMIT = 1024              # frames waiting for the NIC


class NetBackend:
    """A network backend (``-netdev TYPE,id=ID``) with at most one NIC as its peer."""

    KIND = ""

    def __init__(self, netdev_id: str):
        self.id = netdev_id
        self.nic = None
        self.loop = None
        self.link_up = True
        self.hotplugged = False         # made by netdev_add while the machine runs
        self._queue: Deque[bytes] = deque()
        self.dropped_to_guest = 0

    # --- the NIC side ------------------------------------------------------------------
    def attach(self, nic) -> None:
        """``nic`` becomes this backend's peer (a NIC model calls it at realize)."""
        if self.nic is not None and self.nic is not nic:
            raise QOMError(f"Property 'netdev' can't use value '{self.id}': already in use")
        self.nic = nic

    def send(self, frame: bytes) -> None:
        """A frame from the guest (the NIC transmitted it)."""
        if self.link_up:
            self.receive_from_guest(bytes(frame))
        self.flush()

    def deliver(self, frame: bytes) -> None:
        """Queue a frame for the guest and offer the queue to the NIC (lost while the
        link is down: ``set_link``)."""
        if not self.link_up:
            return
        if len(self._queue) >= QUEUE_LIMIT:
            self._queue.popleft()
            self.dropped_to_guest += 1
        self._queue.append(frame)
        self.flush()

    def flush(self) -> None:
        nic = self.nic
        if nic is None:
            self._queue.clear()
            return
        while self._queue:
            can = getattr(nic, "can_receive", None)
            if can is not None and not can():
                return
            if not nic.receive(self._queue[0]):
                return
            self._queue.popleft()

    def now(self) -> float:
        """Seconds of the guest's virtual time (the NIC's clock), else of host time."""
        clock = getattr(self.nic, "clock", None)
        if clock is not None:
            return clock.now() / 1e9
        return time.monotonic()

    @property
    def pending(self) -> int:
        return len(self._queue)

    # --- the host side -----------------------------------------------------------------
    def open(self, loop) -> None:
        """Start serving host I/O in ``loop`` (a MainLoop)."""
        self.loop = loop
        loop.add_poll_hook(self.poll)

    def close(self) -> None:
        if self.loop is not None:
            hooks = getattr(self.loop, "_hooks", [])
            if self.poll in hooks:
                hooks.remove(self.poll)
        self.loop = None

    def poll(self) -> None:
        """Called at every host I/O poll: timers, pending writes, then the queue."""
        self.flush()

    def receive_from_guest(self, frame: bytes) -> None:
        raise NotImplementedError

    def info(self) -> str:
        """The one-line description ``info network`` shows."""
        return f"{self.id}: index=0,type={self.KIND}"

    def bad_frame(self, reason: str) -> None:
        log.log("guest_errors", f"net {self.id}: dropped a frame from the guest: {reason}")


def nic_info(nic, name: str = "") -> str:
    """A NIC's ``info network`` line; ``name``: its net client name (default: the model)."""
    model = getattr(nic, "nic_model", None) or getattr(nic, "TYPE", type(nic).__name__)
    mac = getattr(nic, "mac", "")
    return f"{name or model}: index=0,type=nic,model={model},macaddr={mac}"


def backends_text(backends: List[NetBackend]) -> str:
    """``info network`` (QEMU's layout: the NIC, then its peer indented)."""
    lines: List[str] = []
    for b in backends:
        if b.nic is not None:
            lines.append(nic_info(b.nic))
            lines.append(" \\ " + b.info())
        else:
            lines.append(b.info())
    return "\n".join(lines)


def find(backends: List[NetBackend], netdev_id: str) -> Optional[NetBackend]:
    for b in backends:
        if b.id == netdev_id:
            return b
    return None
