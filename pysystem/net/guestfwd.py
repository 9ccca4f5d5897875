"""``guestfwd=[tcp]:[server]:port-DEV``: guest connections to a virtual address carried
to a host program or a host TCP server (QEMU 7.2's two forms).

    gfwd = parse_guestfwd("tcp:10.0.2.100:1234-cmd:cat")
    gfwd = parse_guestfwd("tcp:10.0.2.100:1234-tcp:127.0.0.1:5555")

``cmd:COMMAND``: every guest connection runs ``/bin/sh -c COMMAND`` with the
connection as its standard input and output (slirp's exec forwarding).
``tcp:HOST:PORT``: the chardev form; the host server is connected when the network
is set up (refused: QEMU's "Could not open guest forwarding device"), that
connection carries the guest's first connection and later ones connect anew.
Other chardev backends are refused.  An empty server address is the network's
.4 (10.0.2.4); the address must lie in the network and be neither the gateway
nor the DNS server.  The user network answers ARP for it; ``restrict=on`` does
not block it (as slirp).
"""
from __future__ import annotations

import socket
import subprocess
from typing import List, Optional

from . import packet as P


class GuestFwdError(ValueError):
    pass


class GuestFwd:
    def __init__(self, server: Optional[str], port: int, target: str, text: str):
        self.server, self.port, self.target, self.text = server, port, target, text
        self.addr = b""                              # set by ``place``
        self.ready: Optional[socket.socket] = None   # tcp: the connection made at setup
        self.children: List[subprocess.Popen] = []

    @property
    def is_cmd(self) -> bool:
        return self.target.startswith("cmd:")

    def _conflict(self) -> GuestFwdError:
        return GuestFwdError(f"Conflicting/invalid host:port in guest forwarding rule "
                             f"'{self.text}'")

    def place(self, config, taken) -> None:
        """Fix the server address in ``config``'s network (``taken``: other rules)."""
        if self.server:
            addr = P.ip_bytes(self.server)
        else:
            base = int.from_bytes(config.network, "big")
            addr = (base + 4).to_bytes(4, "big")
        if not config.contains(addr) or addr in (config.host, config.dns) or \
                (addr, self.port) in taken:
            raise self._conflict()
        self.addr = addr

    def host_target(self):
        """The (host, port) of a ``tcp:`` target."""
        _, host, port = self.target.split(":", 2)
        return host or "127.0.0.1", int(port)

    def setup(self) -> None:
        """Open the chardev's connection now, as QEMU does (GuestFwdError if refused)."""
        if self.is_cmd or self.ready is not None:
            return
        try:
            self.ready = socket.create_connection(self.host_target(), timeout=5)
        except OSError as e:
            raise GuestFwdError(f"Could not open guest forwarding device "
                                f"'guestfwd.tcp.{self.port}' ({e.strerror or e})") from None
        self.ready.setblocking(False)

    def connect(self) -> socket.socket:
        """A host socket for a new guest connection (connected, or connecting)."""
        if self.is_cmd:
            mine, theirs = socket.socketpair()
            try:
                child = subprocess.Popen(["/bin/sh", "-c", self.target[4:]], stdin=theirs,
                                         stdout=theirs, close_fds=True, start_new_session=True)
            finally:
                theirs.close()
            self.children.append(child)
            mine.setblocking(False)
            return mine
        if self.ready is not None:
            sock, self.ready = self.ready, None
            return sock
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(self.host_target())
        return sock

    def reap(self) -> None:
        self.children = [c for c in self.children if c.poll() is None]

    def close(self) -> None:
        if self.ready is not None:
            self.ready.close()
            self.ready = None
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        self.children = []


def parse_guestfwd(rule: str) -> GuestFwd:
    """``[tcp]:[server]:port-(cmd:COMMAND|tcp:HOST:PORT)``"""
    bad = GuestFwdError(f"Invalid guest forwarding rule '{rule}'")
    proto, sep, rest = rule.partition(":")
    if not sep or proto not in ("tcp", ""):
        raise bad
    server, sep, rest = rest.partition(":")
    if not sep:
        raise bad
    port_text, dash, target = rest.partition("-")
    if not dash:
        raise bad
    if server:
        try:
            socket.inet_aton(server)
        except OSError:
            raise bad from None
        if server.count(".") != 3:
            raise bad
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise bad
    port = int(port_text)
    if target.startswith("cmd:"):
        if not target[4:]:
            raise bad
    elif target.startswith("tcp:"):
        _, host, tport = target.split(":", 2) if target.count(":") >= 2 else ("", "", "")
        if not tport.isdigit() or not 1 <= int(tport) <= 65535 or "," in tport:
            raise GuestFwdError(f"Could not open guest forwarding device "
                                f"'guestfwd.tcp.{port}' (bad chardev '{target}')")
    else:
        raise GuestFwdError(f"Could not open guest forwarding device 'guestfwd.tcp.{port}' "
                            f"(only 'cmd:COMMAND' and 'tcp:HOST:PORT' are supported)")
    return GuestFwd(server or None, port, target, rule)
