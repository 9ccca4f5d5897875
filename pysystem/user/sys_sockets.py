"""Socket system calls (AF_UNIX, AF_INET, AF_INET6; stream and datagram), mixed into
``Process``: the guest's sockets are host sockets, reached through Python's ``socket``
objects wrapped around the descriptor for the duration of one call.

Addresses are converted both ways (``sockaddr`` bytes in the guest, Python tuples on the
host): the family is a guest-order u16, ports and IPv4/IPv6 addresses are in network
order everywhere.  Socket types and SOL_SOCKET option numbers differ on MIPS (the
architecture's ``sock_types`` / ``sol_socket`` / ``sockopt_names``).  sendmsg/recvmsg
carry data and addresses; ancillary data (SCM_RIGHTS...) is not passed (msg_controllen
comes back 0).
"""
from __future__ import annotations

import contextlib
import os
import socket
import struct

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10


def s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


class SocketCalls:
    """Mixed into Process."""

    @contextlib.contextmanager
    def _socket(self, fd):
        s = socket.socket(fileno=s32(fd))
        try:
            yield s
        finally:
            s.detach()

    # --- addresses ----------------------------------------------------------------------
    def _read_addr(self, addr: int, length: int):
        data = self.mem.read(addr, length)
        family = struct.unpack(self.arch.order + "H", data[:2])[0]
        if family == AF_UNIX:
            path = data[2:]
            if path[:1] != b"\0":
                path = path.split(b"\0")[0]
                return self.paths.hostb(path)
            return path
        if family == AF_INET:
            port = struct.unpack(">H", data[2:4])[0]
            return (socket.inet_ntop(socket.AF_INET, data[4:8]), port)
        if family == AF_INET6:
            port, flow = struct.unpack(">HI", data[2:8])
            scope = struct.unpack(self.arch.order + "I", data[24:28])[0]
            return (socket.inet_ntop(socket.AF_INET6, data[8:24]), port, flow, scope)
        raise OSError(97, "address family not supported")   # EAFNOSUPPORT

    def _pack_addr(self, family: int, addr) -> bytes:
        o = self.arch.order
        if family == socket.AF_UNIX:
            path = addr if isinstance(addr, bytes) else os.fsencode(addr or "")
            return struct.pack(o + "H", AF_UNIX) + path + (b"\0" if path[:1] != b"\0" else b"")
        if family == socket.AF_INET:
            return (struct.pack(o + "H", AF_INET) + struct.pack(">H", addr[1])
                    + socket.inet_pton(socket.AF_INET, addr[0]) + bytes(8))
        if family == socket.AF_INET6:
            return (struct.pack(o + "H", AF_INET6) + struct.pack(">HI", addr[1], addr[2])
                    + socket.inet_pton(socket.AF_INET6, addr[0]) + struct.pack(o + "I", addr[3]))
        return struct.pack(o + "H", 0)

    def _write_addr(self, family: int, addr, buf: int, lenp: int) -> None:
        if not buf or not lenp:
            return
        o = self.arch.order
        room = struct.unpack(o + "I", self.mem.read(lenp, 4))[0]
        data = self._pack_addr(family, addr)
        self.mem.write(buf, data[:room])
        self.mem.write(lenp, struct.pack(o + "I", len(data)))

    # --- creating -----------------------------------------------------------------------
    def _type_flags(self, type_):
        a = self.arch
        kind = a.sock_types.get(type_ & 0xF, type_ & 0xF)
        nonblock = bool(type_ & a.open_flags["O_NONBLOCK"])
        cloexec = bool(type_ & a.o_cloexec)
        return kind, nonblock, cloexec

    def _adopt(self, s: socket.socket, nonblock: bool, cloexec: bool) -> int:
        fd = s.detach()
        os.set_blocking(fd, not nonblock)
        os.set_inheritable(fd, not cloexec)
        return fd

    def sys_socket(self, domain, type_, proto, *_):
        kind, nonblock, cloexec = self._type_flags(type_)
        return self._adopt(socket.socket(domain, kind, proto), nonblock, cloexec)

    def sys_socketpair(self, domain, type_, proto, sv, *_):
        kind, nonblock, cloexec = self._type_flags(type_)
        a, b = socket.socketpair(domain, kind, proto)
        fds = (self._adopt(a, nonblock, cloexec), self._adopt(b, nonblock, cloexec))
        self.mem.write(sv, struct.pack(self.arch.order + "ii", *fds))
        return 0

    # --- connecting -----------------------------------------------------------------------
    def sys_bind(self, fd, addr, length, *_):
        with self._socket(fd) as s:
            s.bind(self._read_addr(addr, length))
        return 0

    def sys_connect(self, fd, addr, length, *_):
        with self._socket(fd) as s:
            err = s.connect_ex(self._read_addr(addr, length))
        return -self.guest_errno(err) if err else 0

    def sys_listen(self, fd, backlog, *_):
        with self._socket(fd) as s:
            s.listen(s32(backlog))
        return 0

    def sys_accept4(self, fd, addr, lenp, flags, *_):
        with self._socket(fd) as s:
            conn, peer = s.accept()
            family = s.family
        nonblock = bool(flags & self.arch.open_flags["O_NONBLOCK"])
        new = self._adopt(conn, nonblock, bool(flags & self.arch.o_cloexec))
        self._write_addr(family, peer, addr, lenp)
        return new

    def sys_accept(self, fd, addr, lenp, *_):
        return self.sys_accept4(fd, addr, lenp, 0)

    def sys_getsockname(self, fd, addr, lenp, *_):
        with self._socket(fd) as s:
            self._write_addr(s.family, s.getsockname(), addr, lenp)
        return 0

    def sys_getpeername(self, fd, addr, lenp, *_):
        with self._socket(fd) as s:
            self._write_addr(s.family, s.getpeername(), addr, lenp)
        return 0

    def sys_shutdown(self, fd, how, *_):
        with self._socket(fd) as s:
            s.shutdown(how)
        return 0

    # --- options ------------------------------------------------------------------------
    def _sockopt(self, level, name):
        a = self.arch
        if level == a.sol_socket:
            return socket.SOL_SOCKET, getattr(socket, a.sockopt_names.get(name, ""), name)
        return level, name

    def sys_setsockopt(self, fd, level, name, val, length, *_):
        lvl, opt = self._sockopt(level, name)
        data = self.mem.read(val, length)
        with self._socket(fd) as s:
            if length == 4:
                s.setsockopt(lvl, opt, struct.unpack(self.arch.order + "i", data)[0])
            else:
                s.setsockopt(lvl, opt, data)
        return 0

    def sys_getsockopt(self, fd, level, name, val, lenp, *_):
        lvl, opt = self._sockopt(level, name)
        o = self.arch.order
        room = struct.unpack(o + "I", self.mem.read(lenp, 4))[0]
        with self._socket(fd) as s:
            if room == 4:
                v = s.getsockopt(lvl, opt)
                if lvl == socket.SOL_SOCKET and opt == socket.SO_TYPE:
                    v = {k: g for g, k in self.arch.sock_types.items()}.get(v, v)
                data = struct.pack(o + "i", v)
            else:
                data = s.getsockopt(lvl, opt, room)
        self.mem.write(val, data[:room])
        self.mem.write(lenp, struct.pack(o + "I", len(data)))
        return 0

    # --- data ---------------------------------------------------------------------------
    def sys_sendto(self, fd, buf, n, flags, addr, length, *_):
        data = self.mem.read(buf, n)
        with self._socket(fd) as s:
            if addr:
                return s.sendto(data, flags, self._read_addr(addr, length))
            return s.send(data, flags)

    def sys_send(self, fd, buf, n, flags, *_):
        return self.sys_sendto(fd, buf, n, flags, 0, 0)

    def sys_recvfrom(self, fd, buf, n, flags, addr, lenp, *_):
        with self._socket(fd) as s:
            data, peer = s.recvfrom(min(n, 1 << 20), flags)
            family = s.family
        self.mem.write(buf, data)
        if addr and peer is not None:
            self._write_addr(family, peer, addr, lenp)
        elif lenp:
            self.mem.write(lenp, struct.pack(self.arch.order + "I", 0))
        return len(data)

    def sys_recv(self, fd, buf, n, flags, *_):
        return self.sys_recvfrom(fd, buf, n, flags, 0, 0)

    def _msghdr(self, msg):
        name, namelen, iov, iovlen, _ctl, _ctllen, _flags = struct.unpack(
            self.arch.order + "7I", self.mem.read(msg, 28))
        return name, namelen, self._iov(iov, iovlen)

    def sys_sendmsg(self, fd, msg, flags, *_):
        name, namelen, iovs = self._msghdr(msg)
        data = b"".join(self.mem.read(b, ln) for b, ln in iovs)
        with self._socket(fd) as s:
            if name:
                return s.sendto(data, flags, self._read_addr(name, namelen))
            return s.send(data, flags)

    def sys_recvmsg(self, fd, msg, flags, *_):
        name, namelen, iovs = self._msghdr(msg)
        total = sum(ln for _, ln in iovs)
        with self._socket(fd) as s:
            data, _anc, mflags, peer = s.recvmsg(min(total, 1 << 20))
            family = s.family
        pos = 0
        for base, length in iovs:
            chunk = data[pos:pos + length]
            self.mem.write(base, chunk)
            pos += len(chunk)
        o = self.arch.order
        if name and peer is not None:
            packed = self._pack_addr(family, peer)
            self.mem.write(name, packed[:namelen])
            self.mem.write(msg + 4, struct.pack(o + "I", len(packed)))
        else:
            self.mem.write(msg + 4, struct.pack(o + "I", 0))
        self.mem.write(msg + 20, struct.pack(o + "II", 0, mflags))
        return len(data)
