"""Waiting for descriptors: poll, ppoll, select (_newselect), pselect6, mixed into
``Process``.

Each looks at its descriptors at once (the host's poll with no timeout); when nothing
is ready and the guest's timeout is not zero, the thread waits in the scheduler
(threads.py) for those descriptors until the timeout's deadline: other threads run
meanwhile, and a signal for a guest handler ends the call with EINTR (the kernel never
restarts these).  select's fd_sets are arrays of the guest's 32-bit words, bit n%32 of
word n/32 for descriptor n; a descriptor is readable when poll says POLLIN, POLLHUP or
POLLERR, writable for POLLOUT or POLLERR, exceptional for POLLPRI (the kernel's
POLLIN_SET, POLLOUT_SET, POLLEX_SET), and a closed one is EBADF.  select and pselect6
write the time left back into the timeout, as Linux does.  ppoll's and pselect6's signal
masks hold while they wait (threads.py: with_mask), as rt_sigsuspend's.
"""
from __future__ import annotations

import select
import struct
import time
from typing import List, Optional, Tuple

POLL_BITS = 0x3F   # POLLIN..POLLNVAL are the same numbers everywhere
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 1, 2, 4, 8, 0x10, 0x20
#: what select's three sets ask poll for, and which poll events satisfy each
SELECT_SETS = ((POLLIN, POLLIN | POLLHUP | POLLERR), (POLLOUT, POLLOUT | POLLERR),
               (POLLPRI, POLLPRI))


def s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


class PollCalls:
    """Mixed into Process."""

    # --- poll -----------------------------------------------------------------------------
    def sys_poll(self, fds, nfds, timeout, *_):
        o = self.arch.order
        p = select.poll()
        items = [struct.unpack(o + "ihh", self.mem.read(fds + 8 * i, 8)) for i in range(nfds)]
        for fd, events, _r in items:
            if fd >= 0:
                p.register(fd, events & POLL_BITS)
        t = s32(timeout)
        if t != 0 and not p.poll(0):
            deadline = None if t < 0 else time.monotonic() + t / 1000
            return self.wait_in_host([(fd, events & POLL_BITS) for fd, events, _r in items
                                      if fd >= 0], deadline,
                                     lambda: self.sys_poll(fds, nfds, 0), restart=False)
        ready = dict(p.poll(0))
        n = 0
        for i, (fd, events, _r) in enumerate(items):
            rev = ready.get(fd, 0) if fd >= 0 else 0
            n += bool(rev)
            self.mem.write(fds + 8 * i, struct.pack(o + "ihh", fd, events, rev))
        return n

    def _ppoll(self, fds, nfds, tsp, sigmask, fmt: str):
        timeout = -1
        if tsp:
            sec, ns = struct.unpack(self.arch.order + fmt,
                                    self.mem.read(tsp, struct.calcsize(fmt)))
            timeout = sec * 1000 + ns // 1000000
        return self.with_mask(sigmask, lambda: self.sys_poll(fds, nfds, timeout & 0xFFFFFFFF))

    def sys_ppoll_time64(self, fds, nfds, tsp, sigmask, *_):
        return self._ppoll(fds, nfds, tsp, sigmask, "qq")

    def sys_ppoll(self, fds, nfds, tsp, sigmask, *_):
        return self._ppoll(fds, nfds, tsp, sigmask, "ii")

    # --- select ---------------------------------------------------------------------------
    def _read_fdset(self, addr: int, nfds: int) -> List[int]:
        if not addr:
            return []
        words = (nfds + 31) // 32
        vals = struct.unpack(self.arch.order + "%dI" % words, self.mem.read(addr, 4 * words))
        return [fd for fd in range(nfds) if vals[fd // 32] >> (fd % 32) & 1]

    def _write_fdset(self, addr: int, nfds: int, fds: List[int]) -> None:
        if not addr:
            return
        words = [0] * ((nfds + 31) // 32)
        for fd in fds:
            words[fd // 32] |= 1 << (fd % 32)
        self.mem.write(addr, struct.pack(self.arch.order + "%dI" % len(words), *words))

    def _select(self, nfds, sets: Tuple[int, int, int], tvp: int, fmt: str, unit: float):
        """select over the three fd_set addresses; the timeout at ``tvp`` is two
        ``fmt`` fields, seconds and ``unit``-second parts (timeval or timespec)."""
        nfds = s32(nfds)
        if not 0 <= nfds <= 1024:
            return -self.errno("EINVAL")
        wanted = [self._read_fdset(a, nfds) for a in sets]
        events: dict = {}
        for (ask, _ok), fds in zip(SELECT_SETS, wanted):
            for fd in fds:
                events[fd] = events.get(fd, 0) | ask
        deadline: Optional[float] = None
        if tvp:
            sec, part = struct.unpack(self.arch.order + fmt,
                                      self.mem.read(tvp, struct.calcsize(fmt)))
            if sec < 0 or part < 0:
                return -self.errno("EINVAL")
            deadline = time.monotonic() + sec + part * unit

        def now():
            p = select.poll()
            for fd, ev in events.items():
                p.register(fd, ev)
            ready = dict(p.poll(0))
            if any(ev & POLLNVAL for ev in ready.values()):
                return -self.errno("EBADF")
            got = [[fd for fd in fds if ready.get(fd, 0) & ok]
                   for (_ask, ok), fds in zip(SELECT_SETS, wanted)]
            n = sum(len(g) for g in got)
            if not n and (deadline is None or time.monotonic() < deadline):
                return None
            for addr, g in zip(sets, got):
                self._write_fdset(addr, nfds, g)
            if tvp:
                left = max(0.0, deadline - time.monotonic())
                self.mem.write(tvp, struct.pack(self.arch.order + fmt, int(left),
                                                int(left % 1 / unit)))
            return n

        result = now()
        if result is not None:
            return result
        if deadline is not None and deadline <= time.monotonic():
            return 0
        fds = list(events.items())

        def complete():
            r = now()
            return self.wait_in_host(fds, deadline, complete) if r is None else r
        return self.wait_in_host(fds, deadline, complete, restart=False)

    def sys__newselect(self, nfds, r, w, e, tvp, *_):
        return self._select(nfds, (r, w, e), tvp, "ii", 1e-6)

    def _pselect6(self, nfds, sets, tsp, sig, fmt: str):
        """``sig`` points at {the signal mask's address, its size}."""
        mask = struct.unpack(self.arch.order + "I", self.mem.read(sig, 4))[0] if sig else 0
        return self.with_mask(mask, lambda: self._select(nfds, sets, tsp, fmt, 1e-9))

    def sys_pselect6(self, nfds, r, w, e, tsp, sig, *_):
        return self._pselect6(nfds, (r, w, e), tsp, sig, "ii")

    def sys_pselect6_time64(self, nfds, r, w, e, tsp, sig, *_):
        return self._pselect6(nfds, (r, w, e), tsp, sig, "qq")
