"""Socket system calls (AF_UNIX, AF_INET, AF_INET6; stream and datagram), mixed into
``Process``: the guest's sockets are host sockets, reached through Python's ``socket``
objects wrapped around the descriptor for the duration of one call.

Addresses are converted both ways (``sockaddr`` bytes in the guest, Python tuples on the
host): the family is a guest-order u16, ports and IPv4/IPv6 addresses are in network
order everywhere.  Socket types and SOL_SOCKET option numbers differ on MIPS (the
architecture's ``sock_types`` / ``sol_socket`` / ``sockopt_names``).  sendmsg/recvmsg
carry data, addresses and ancillary data: the guest's 32-bit ``cmsghdr`` records (12-byte
headers, 4-byte alignment) become the host's and back, with SOL_SOCKET renumbered and
SCM_RIGHTS's descriptors (which are the host's: a guest descriptor is a host one) and
SCM_CREDENTIALS's pid/uid/gid byte-swapped where the guest's order differs; a control
buffer too small for what arrived truncates it and sets MSG_CTRUNC, as the kernel does.
"""
from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import time

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
MSG_CTRUNC = 0x8
CMSG_HEADER = 12    # the guest's cmsghdr: u32 len, s32 level, s32 type
POLLOUT = select.POLLOUT
#: how often a connect to a unix listener with a full backlog tries again
CONNECT_POLL = 0.005


def _align4(n: int) -> int:
    return (n + 3) & ~3


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
        """connect; a blocking one that cannot finish at once (TCP's handshake, a unix
        listener's full backlog) waits in the scheduler, as threads.py's calls do."""
        fd = s32(fd)
        where = self._read_addr(addr, length)
        if not os.get_blocking(fd):
            return self._connect(fd, where)
        os.set_blocking(fd, False)
        try:
            err = self._connect(fd, where)
        finally:
            os.set_blocking(fd, True)
        if err in (-self.errno("EINPROGRESS"), -self.errno("EALREADY")):
            # TCP: writable once connected (EALREADY: a connect restarted after a
            # signal handler finds the first one still under way, and waits for it)
            return self.wait_in_host([(fd, POLLOUT)], None, lambda: self._connected(fd))
        if err == -self.errno("EAGAIN"):          # unix: no room in the backlog yet
            def again():
                os.set_blocking(fd, False)
                try:
                    r = self._connect(fd, where)
                finally:
                    os.set_blocking(fd, True)
                if r == -self.errno("EAGAIN"):
                    return self.wait_in_host((), time.monotonic() + CONNECT_POLL, again)
                return r
            return self.wait_in_host((), time.monotonic() + CONNECT_POLL, again)
        return err

    def _connect(self, fd: int, where) -> int:
        with self._socket(fd) as s:
            err = s.connect_ex(where)
        return -self.guest_errno(err) if err else 0

    def _connected(self, fd: int) -> int:
        with self._socket(fd) as s:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
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
        if addr:
            with self._socket(fd) as s:
                return s.sendto(data, flags, self._read_addr(addr, length))

        def send(piece: bytes) -> int:
            with self._socket(fd) as s:
                return s.send(piece, flags)
        return self.write_all(s32(fd), data, send)

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
        name, namelen, iov, iovlen, ctl, ctllen, _flags = struct.unpack(
            self.arch.order + "7I", self.mem.read(msg, 28))
        return name, namelen, self._iov(iov, iovlen), ctl, ctllen

    def _swap_ints(self, data: bytes, to_guest: bool) -> bytes:
        """SCM_RIGHTS/SCM_CREDENTIALS payloads are 32-bit integers: host order <-> guest."""
        host, guest = "=", self.arch.order
        src, dst = (host, guest) if to_guest else (guest, host)
        n = len(data) // 4
        return struct.pack(f"{dst}{n}I", *struct.unpack(f"{src}{n}I", data[:n * 4])) + data[n * 4:]

    def _read_cmsgs(self, ctl: int, ctllen: int) -> list:
        """The guest's control buffer as [(level, type, data)] for the host's sendmsg."""
        o, out, pos = self.arch.order, [], 0
        buf = self.mem.read(ctl, ctllen) if ctl and ctllen else b""
        while pos + CMSG_HEADER <= len(buf):
            length, level, kind = struct.unpack_from(o + "Iii", buf, pos)
            if length < CMSG_HEADER or pos + length > len(buf):
                raise OSError(22, "bad cmsg_len")
            data = buf[pos + CMSG_HEADER:pos + length]
            if level == self.arch.sol_socket:
                level = socket.SOL_SOCKET
                if kind in (SCM_RIGHTS, SCM_CREDENTIALS):
                    data = self._swap_ints(data, to_guest=False)
            out.append((level, kind, data))
            pos += _align4(length)
        return out

    def _write_cmsgs(self, msg: int, ctl: int, ctllen: int, anc: list, mflags: int) -> int:
        """Write the host's ancillary data into the guest's control buffer; the flags
        (MSG_CTRUNC when it did not fit, and the descriptors that did not fit closed)."""
        o, out = self.arch.order, b""
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET:
                if kind in (SCM_RIGHTS, SCM_CREDENTIALS):
                    data = self._swap_ints(data, to_guest=True)
                level = self.arch.sol_socket
            room = ctllen - len(out) - CMSG_HEADER
            if room < len(data):
                mflags |= MSG_CTRUNC
                if kind == SCM_RIGHTS and level == self.arch.sol_socket:
                    keep = max(room, 0) // 4
                    for (fd,) in struct.iter_unpack(o + "i", data[keep * 4:]):
                        os.close(fd)
                    data = data[:keep * 4]
                    if keep == 0:
                        continue
                else:
                    continue
            record = struct.pack(o + "Iii", CMSG_HEADER + len(data), level, kind) + data
            out += record + bytes(_align4(len(record)) - len(record))
        out = out[:ctllen]
        if out:
            self.mem.write(ctl, out)
        self.mem.write(msg + 20, struct.pack(o + "I", len(out)))
        return mflags

    def sys_sendmsg(self, fd, msg, flags, *_):
        name, namelen, iovs, ctl, ctllen = self._msghdr(msg)
        data = b"".join(self.mem.read(b, ln) for b, ln in iovs)
        anc = self._read_cmsgs(ctl, ctllen)
        with self._socket(fd) as s:
            addr = self._read_addr(name, namelen) if name else None
            return s.sendmsg([data], anc, flags, *([addr] if addr is not None else []))

    def sys_recvmsg(self, fd, msg, flags, *_):
        name, namelen, iovs, ctl, ctllen = self._msghdr(msg)
        total = sum(ln for _, ln in iovs)
        # the host's headers are bigger (16 bytes, 8-aligned): room for as many records
        ancsize = 2 * ctllen + 64 if ctl and ctllen else 0
        with self._socket(fd) as s:
            data, anc, mflags, peer = s.recvmsg(min(total, 1 << 20), ancsize, flags)
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
        mflags = self._write_cmsgs(msg, ctl, ctllen, anc, mflags)
        self.mem.write(msg + 24, struct.pack(o + "I", mflags))
        return len(data)
