"""``-netdev socket``: frames to another emulator over a host socket (QEMU's format).

    -netdev socket,id=n0,listen=[host]:port     wait for one peer (127.0.0.1 unless written)
    -netdev socket,id=n0,connect=host:port      connect to a listening peer
    -netdev socket,id=n0,mcast=group:port[,localaddr=addr]   a UDP multicast segment
    -netdev socket,id=n0,udp=host:port,localaddr=host:port   one UDP peer

On a TCP stream each frame is preceded by its length as a 32-bit big-endian number;
over UDP each datagram is one frame.  Everything is non-blocking: frames for a peer
that is not there yet (or whose socket is full) wait in a bounded queue; the peer's
frames are read at the main loop's host I/O polls and queued towards the NIC.
"""
from __future__ import annotations

import errno
import socket
import struct
from typing import Optional, Tuple

from pysystem import log

from .client import NetBackend

MAX_FRAME = 65536 + 14
OUT_LIMIT = 1 << 20           # bytes waiting for a slow TCP peer before frames are dropped


def _addr(text: str, key: str, default_host: str = "") -> Tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Parameter '{key}' expects host:port")
    return host or default_host, int(port)


class SocketNet(NetBackend):
    KIND = "socket"

    def __init__(self, netdev_id: str, listen: Optional[str] = None, connect: Optional[str] = None,
                 mcast: Optional[str] = None, udp: Optional[str] = None,
                 localaddr: Optional[str] = None):
        super().__init__(netdev_id)
        modes = [m for m in (listen, connect, mcast, udp) if m is not None]
        if len(modes) != 1:
            raise ValueError("exactly one of listen=, connect=, mcast= and udp= is needed")
        self.listener: Optional[socket.socket] = None
        self.sock: Optional[socket.socket] = None     # the stream or the datagram socket
        self.stream = mcast is None and udp is None
        self._in = bytearray()
        self._out = bytearray()
        self.dest: Optional[Tuple[str, int]] = None
        self.describe = ""
        if listen is not None:
            addr = _addr(listen, "listen", "127.0.0.1")
            self.listener = self._bound(socket.SOCK_STREAM, addr, "listen")
            self.listener.listen(1)
            self.describe = f"listen={addr[0]}:{addr[1]}"
        elif connect is not None:
            addr = _addr(connect, "connect", "127.0.0.1")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex(addr)
            if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
                sock.close()
                raise ValueError(f"could not connect to {addr[0]}:{addr[1]}: "
                                 f"{errno.errorcode.get(err, err)}")
            self.sock = sock
            self.describe = f"connect={addr[0]}:{addr[1]}"
        elif mcast is not None:
            group, port = _addr(mcast, "mcast")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((group, port))
                local = socket.inet_aton(localaddr or "0.0.0.0")
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                socket.inet_aton(group) + local)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
                if localaddr:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, local)
            except OSError as e:
                sock.close()
                raise ValueError(f"mcast={mcast}: {e.strerror}") from None
            sock.setblocking(False)
            self.sock, self.dest = sock, (group, port)
            self.describe = f"mcast={group}:{port}"
        else:
            if localaddr is None:
                raise ValueError("udp= needs localaddr=")
            self.sock = self._bound(socket.SOCK_DGRAM, _addr(localaddr, "localaddr", "127.0.0.1"),
                                    "localaddr")
            self.dest = _addr(udp, "udp", "127.0.0.1")
            self.describe = f"udp={self.dest[0]}:{self.dest[1]}"

    @staticmethod
    def _bound(kind: int, addr: Tuple[str, int], key: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
        except OSError as e:
            sock.close()
            raise ValueError(f"{key}={addr[0]}:{addr[1]}: {e.strerror}") from None
        sock.setblocking(False)
        return sock

    def info(self) -> str:
        return f"{self.id}: index=0,type=socket,{self.describe}"

    # --- host I/O ---------------------------------------------------------------------
    def open(self, loop) -> None:
        super().open(loop)
        if self.listener is not None:
            loop.add_reader(self.listener.fileno(), self._accept)
        if self.sock is not None:
            loop.add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        for s in (self.listener, self.sock):
            if s is not None:
                if self.loop is not None:
                    self.loop.remove_reader(s.fileno())
                s.close()
        self.listener = self.sock = None
        super().close()

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        if self.sock is not None:                 # one peer at a time
            sock.close()
            return
        sock.setblocking(False)
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._readable)

    def _peer_gone(self) -> None:
        log.log("net", f"net {self.id}: the socket peer went away")
        if self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.sock = None
        self._in.clear()
        self._out.clear()

    def _readable(self) -> None:
        if self.sock is None:
            return
        if not self.stream:
            for _ in range(64):
                try:
                    data = self.sock.recv(MAX_FRAME)
                except OSError:
                    return
                self.deliver(data)
            return
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._peer_gone()
            return
        self._in += data
        while len(self._in) >= 4:
            n = struct.unpack_from("!I", self._in)[0]
            if n > MAX_FRAME:
                log.log("guest_errors", f"net {self.id}: the peer sent a {n}-byte frame: closing")
                self._peer_gone()
                return
            if len(self._in) < 4 + n:
                break
            frame = bytes(self._in[4:4 + n])
            del self._in[:4 + n]
            self.deliver(frame)

    def receive_from_guest(self, frame: bytes) -> None:
        if self.sock is None:
            return                                    # no peer yet: the wire is empty
        if not self.stream:
            try:
                self.sock.sendto(frame, self.dest)
            except OSError:
                pass
            return
        if len(self._out) > OUT_LIMIT:
            return                                    # a stalled peer: drop, as a wire would
        self._out += struct.pack("!I", len(frame)) + frame
        self._write()

    def _write(self) -> None:
        if self.sock is None or not self._out:
            return
        try:
            n = self.sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._peer_gone()
            return
        del self._out[:n]

    def poll(self) -> None:
        self._write()
        super().poll()
