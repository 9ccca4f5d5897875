"""``hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport``: host sockets whose
clients are connected to a guest port through the user network.

    fwd = parse_hostfwd("tcp::5555-:22")      # ValueError with QEMU's wording if bad
    net.add_forward(fwd)                      # listens now (or when the net opens)

The socket binds to 127.0.0.1 unless an address is written (``0.0.0.0`` for
every interface).  An empty guest address is the first address DHCP hands out
(10.0.2.15).  TCP: each accepted client becomes a connection to the guest port.
UDP: each datagram reaches the guest port from the gateway's address and the
sender's port; the guest's replies to that address and port go back to the sender
(``UserNet.udp_forwarded``), as slirp's UDP redirections do.
"""
from __future__ import annotations

import socket
from typing import Optional

from . import packet as P

DEFAULT_HOST = "127.0.0.1"


class ForwardError(ValueError):
    pass


class Forward:
    def __init__(self, host_addr: str, host_port: int, guest_addr: Optional[str],
                 guest_port: int, text: str = "", proto: str = "tcp"):
        self.proto = proto
        self.host_addr, self.host_port = host_addr, host_port
        self.guest_addr, self.guest_port = guest_addr, guest_port
        self.text = text
        self.net = None
        self.sock: Optional[socket.socket] = None
        self.loop = None

    @property
    def fd(self) -> int:
        return self.sock.fileno() if self.sock is not None else -1

    def guest_ip(self, net) -> bytes:
        return P.ip_bytes(self.guest_addr) if self.guest_addr else net.config.dhcp_start

    def bind(self) -> None:
        """Create the listening socket (ForwardError when the port cannot be had)."""
        if self.sock is not None:
            return
        udp = self.proto == "udp"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        try:
            if not udp:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host_addr, self.host_port))
            if not udp:
                sock.listen(16)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            raise ForwardError(f"Could not set up host forwarding rule '{self.text}': "
                               f"{e.strerror}") from None
        self.sock = sock
        if self.host_port == 0:
            self.host_port = sock.getsockname()[1]

    def open(self, loop) -> None:
        self.bind()
        self.loop = loop
        loop.add_reader(self.sock.fileno(), self._datagrams if self.proto == "udp"
                        else self._accept)

    def _datagrams(self) -> None:
        for _ in range(64):
            try:
                data, peer = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.net.udp_forwarded(self, data, peer)

    def reply(self, data: bytes, peer) -> None:
        """A guest datagram back to the host sender ``peer``."""
        if self.sock is None:
            return
        try:
            self.sock.sendto(data, peer)
        except OSError:
            pass                        # a full buffer loses the datagram, as UDP may

    def _accept(self) -> None:
        try:
            client, peer = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        self.net.accept_forwarded(client, peer[1], self.guest_ip(self.net), self.guest_port)

    def close(self) -> None:
        if self.sock is None:
            return
        if self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.sock = None


def _port(text: str, rule: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ForwardError(f"Invalid host forwarding rule '{rule}' (bad port '{text}')")
    return port


def _addr(text: str, rule: str) -> str:
    try:
        socket.inet_aton(text)
    except OSError:
        raise ForwardError(f"Invalid host forwarding rule '{rule}' (bad address '{text}')") from None
    if text.count(".") != 3:
        raise ForwardError(f"Invalid host forwarding rule '{rule}' (bad address '{text}')")
    return text


def parse_hostfwd(rule: str) -> Forward:
    """``[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport``"""
    proto, sep, rest = rule.partition(":")
    if not sep:
        raise ForwardError(f"Invalid host forwarding rule '{rule}'")
    if proto not in ("tcp", "udp", ""):
        raise ForwardError(f"Invalid host forwarding rule '{rule}' (bad protocol name)")
    host, dash, guest = rest.partition("-")
    if not dash or ":" not in host or ":" not in guest:
        raise ForwardError(f"Invalid host forwarding rule '{rule}'")
    haddr, _, hport = host.rpartition(":")
    gaddr, _, gport = guest.rpartition(":")
    host_port = _port(hport, rule)
    guest_port = _port(gport, rule)
    if guest_port == 0:
        raise ForwardError(f"Invalid host forwarding rule '{rule}' (bad guest port)")
    return Forward(_addr(haddr, rule) if haddr else DEFAULT_HOST, host_port,
                   _addr(gaddr, rule) if gaddr else None, guest_port, rule,
                   proto or "tcp")
