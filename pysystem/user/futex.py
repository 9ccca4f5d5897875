"""futex(2) for the guest's threads (threads.py schedules them), mixed into ``Process``.

FUTEX_WAIT and FUTEX_WAIT_BITSET compare the word and make the thread wait in the
scheduler until a FUTEX_WAKE (or WAKE_OP, or a requeue and then a wake) for its address,
or its timeout: FUTEX_WAIT's is relative, FUTEX_WAIT_BITSET's an absolute time on
CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME; either becomes a deadline
on the host's monotonic clock, and the wait ends there with ETIMEDOUT (which is how
pthread_cond_timedwait, sem_timedwait and pthread_mutex_timedlock time out).  A signal
for a guest handler ends a wait with EINTR, or restarts an untimed one under SA_RESTART,
as the kernel does.  Bitsets are not matched: a wake wakes any waiter on the address.
futex and futex_time64 differ in the timespec they read (32- or 64-bit seconds).
"""
from __future__ import annotations

import struct
import time

from pysystem import log

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_CLOCK_REALTIME = 256


class FutexCalls:
    """Mixed into Process (with ThreadCalls)."""

    def futex_wake(self, addr: int, n: int) -> int:
        woken = 0
        for t in sorted(self.threads, key=lambda x: x.wait_seq):
            if woken >= n:
                break
            if t.waiting == addr:
                t.waiting = None
                woken += 1
        return woken

    def _load32(self, addr: int) -> int:
        return struct.unpack(self.arch.order + "I", self.mem.read(addr, 4))[0]

    def _futex_deadline(self, op: int, timeout: int, fmt: str):
        """The wait's deadline on time.monotonic() (None: no timeout)."""
        if not timeout:
            return None
        sec, ns = struct.unpack(self.arch.order + fmt, self.mem.read(timeout, struct.calcsize(fmt)))
        t = sec + ns / 1e9
        if op & 0x7F == FUTEX_WAIT:
            return time.monotonic() + t
        if op & FUTEX_CLOCK_REALTIME:
            return time.monotonic() + t - time.time()
        return t   # CLOCK_MONOTONIC is the host's time.monotonic()

    def _futex_wait(self, addr: int, deadline) -> object:
        if deadline is not None and deadline <= time.monotonic():
            return -self.errno("ETIMEDOUT")
        if deadline is None and len(self.threads) == 1:
            return -self.errno("EINTR")   # nobody could wake it: a deadlock
        cur = self.current
        self._wait_seq += 1
        cur.waiting, cur.wait_seq = addr, self._wait_seq

        def complete():
            if cur.waiting is None:
                return 0
            cur.waiting = None   # the deadline passed
            return -self.errno("ETIMEDOUT")
        return self.wait_in_host((), deadline, complete, restart=deadline is None,
                                 ready=lambda: cur.waiting is None)

    def _futex(self, addr, op, val, timeout, addr2, val3, fmt: str):
        cmd = op & 0x7F
        if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
            if cmd == FUTEX_WAIT_BITSET and not val3:
                return -self.errno("EINVAL")
            deadline = self._futex_deadline(op, timeout, fmt)
            if self._load32(addr) != val:
                return -self.errno("EAGAIN")
            return self._futex_wait(addr, deadline)
        if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
            return self.futex_wake(addr, val)
        if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
            if cmd == FUTEX_CMP_REQUEUE and self._load32(addr) != val3:
                return -self.errno("EAGAIN")
            n = self.futex_wake(addr, val)
            for t in self.threads:
                if t.waiting == addr:
                    t.waiting = addr2
            return n
        if cmd == FUTEX_WAKE_OP:
            return self._wake_op(addr, val, timeout, addr2, val3)
        log.log("unimp", f"futex op {op:#x}")
        return -self.errno("ENOSYS")

    def sys_futex(self, addr, op, val, timeout, addr2, val3, *_):
        return self._futex(addr, op, val, timeout, addr2, val3, "ii")

    def sys_futex_time64(self, addr, op, val, timeout, addr2, val3, *_):
        return self._futex(addr, op, val, timeout, addr2, val3, "qq")

    def _wake_op(self, addr, n, n2, addr2, val3):
        op, cmp = (val3 >> 28) & 7, (val3 >> 24) & 15
        oparg, cmparg = (val3 >> 12) & 0xFFF, val3 & 0xFFF
        if (val3 >> 28) & 8:
            oparg = 1 << oparg
        old = self._load32(addr2)
        new = {0: oparg, 1: old + oparg, 2: old | oparg, 3: old & ~oparg,
               4: old ^ oparg}.get(op, old) & 0xFFFFFFFF
        self.mem.write(addr2, struct.pack(self.arch.order + "I", new))
        woken = self.futex_wake(addr, n)
        ok = {0: old == cmparg, 1: old != cmparg, 2: old < cmparg, 3: old <= cmparg,
              4: old > cmparg, 5: old >= cmparg}.get(cmp, False)
        if ok:
            woken += self.futex_wake(addr2, n2)
        return woken
