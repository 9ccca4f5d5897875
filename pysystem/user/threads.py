"""Guest threads (clone with CLONE_VM) on the one CPU object, scheduled deterministically,
and futex, mixed into ``Process``.

Each thread is a saved register state (the architecture's ``save_state``/``load_state``:
registers, PC, FPU, TLS, exclusive monitor); the running thread's lives in the CPU.  A
thread runs until it blocks (FUTEX_WAIT), exits, or has run ``SLICE`` instructions, then
the next runnable one in creation order takes the CPU; so a run is repeatable.  A system
call that switched threads returns ``SWITCHED``: the result was already stored in the
blocked thread's state (a futex wait that is woken returns 0).  With every thread
waiting, the longest-waiting one wakes up (futex allows spurious wake-ups), so a guest
can spin but never hang the emulator.

A system call that would block in the host (a read on an empty pipe, accept, poll,
nanosleep...) while other threads could run does not make the host wait: the thread
records what it waits for (descriptors and poll events, a deadline) and what completes
the call, and the others run; the scheduler looks at the waiting thread's descriptors
when its turn comes and, ready, runs the call then (it no longer blocks) and resumes
it (wait4, with no descriptor to wait for, looks again every few milliseconds).  A
completion that finds the call not ready after all (another thread took the data)
waits again.  Only when no thread can run does the host wait, in one poll over all the waiting
threads' descriptors.  A call that would not block runs at once, so a run in which
nothing blocks is scheduled as before: deterministically.
"""
from __future__ import annotations

import fcntl
import os
import select
import struct
import time
from typing import Callable, List, Optional, Sequence, Tuple

from pysystem import log

# clone() flags (the kernel's numbers; the same on ARM and MIPS)
CLONE_VM, CLONE_VFORK, CLONE_SETTLS = 0x100, 0x4000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000

SLICE = 20000
#: how long the host waits at most when threads wait for descriptors while others wait
#: on futexes (one of those then wakes up spuriously, as futex allows)
FUTEX_NUDGE = 0.05
POLLIN, POLLOUT = select.POLLIN, select.POLLOUT
#: system calls that wait for one descriptor (their first argument): the poll event
FD_WAITS = {"read": POLLIN, "readv": POLLIN, "recv": POLLIN, "recvfrom": POLLIN,
            "recvmsg": POLLIN, "accept": POLLIN, "accept4": POLLIN, "write": POLLOUT,
            "writev": POLLOUT, "send": POLLOUT, "sendto": POLLOUT, "sendmsg": POLLOUT}
FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
#: a system call that switched threads: nothing to store for the (now other) thread
SWITCHED = object()


class WaitAgain:
    """What a waiting call's completion returns when it is not ready after all: the
    thread waits again, for ``fds`` (fd, poll events) or until ``deadline``."""

    def __init__(self, fds: Sequence[Tuple[int, int]] = (), deadline: Optional[float] = None):
        self.fds, self.deadline = tuple(fds), deadline


class Thread:
    def __init__(self, tid: int, state: Optional[tuple]):
        self.tid = tid
        self.state = state            # None while it is the one on the CPU
        self.clear_tid = 0            # CLONE_CHILD_CLEARTID / set_tid_address
        self.waiting: Optional[int] = None   # the futex address it waits on
        self.wait_seq = 0
        # waiting in a host call: its descriptors (fd, poll events), its deadline
        # (time.monotonic()) and what completes the call (returns its result)
        self.host_fds: Sequence[Tuple[int, int]] = ()
        self.deadline: Optional[float] = None
        self.complete: Optional[Callable[[], int]] = None


class ThreadCalls:
    """Mixed into Process (``threads``, ``current``)."""

    def init_threads(self) -> None:
        self.threads: List[Thread] = [Thread(self.pid, None)]
        self.current = self.threads[0]
        self._next_tid = self.pid + 1
        self._wait_seq = 0

    # --- switching ---------------------------------------------------------------------
    def _switch_to(self, t: Thread) -> None:
        cur = self.current
        if t is cur:
            return
        if cur in self.threads:
            cur.state = self.arch.save_state(self)
        self.arch.load_state(self, t.state)
        t.state = None
        self.current = t

    def _runnable_after(self, cur: Thread) -> Thread:
        ts = self.threads
        while True:
            i = ts.index(cur) if cur in ts else -1
            for k in range(1, len(ts) + 1):
                t = ts[(i + k) % len(ts)]
                if t.waiting is None and (t.complete is None or self._host_ready(t)):
                    return t
            if not any(t.complete is not None for t in ts):
                t = min(ts, key=lambda x: x.wait_seq)   # all wait: a spurious wake-up
                t.waiting = None
                return t
            if not self._host_wait(ts):
                futex = [t for t in ts if t.complete is None]
                if futex:
                    t = min(futex, key=lambda x: x.wait_seq)
                    t.waiting = None
                    return t

    def _host_ready(self, t: Thread) -> bool:
        if t.deadline is not None and time.monotonic() >= t.deadline:
            return True
        if not t.host_fds:
            return False
        p = select.poll()
        for fd, events in t.host_fds:
            p.register(fd, events)
        return bool(p.poll(0))

    def _host_wait(self, ts: List[Thread]) -> bool:
        """No thread can run: the host waits for one of the waiting calls' descriptors
        or deadlines (a short while only when futex waiters could be woken instead).
        Whether something became ready."""
        p = select.poll()
        deadlines = []
        for t in ts:
            if t.complete is not None:
                for fd, events in t.host_fds:
                    p.register(fd, events)
                if t.deadline is not None:
                    deadlines.append(t.deadline)
        now = time.monotonic()
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        if any(t.complete is None for t in ts):
            timeout = FUTEX_NUDGE if timeout is None else min(timeout, FUTEX_NUDGE)
        ready = p.poll(None if timeout is None else int(timeout * 1000) + 1)
        return bool(ready) or any(d <= time.monotonic() for d in deadlines)

    def _resume(self, t: Thread) -> None:
        """Give ``t`` the CPU; a host call it waited in is completed first (if it must
        wait again after all, the next thread is tried)."""
        while True:
            self._switch_to(t)
            done = t.complete
            if done is None:
                return
            result = done()
            if isinstance(result, WaitAgain):
                t.host_fds, t.deadline = result.fds, result.deadline
                t = self._runnable_after(t)
                continue
            t.complete, t.host_fds, t.deadline = None, (), None
            if result is not SWITCHED:
                self.arch.set_result(self.cpu, result)
            return

    def others_can_run(self) -> bool:
        """Whether another thread exists that a blocking host call would hold up."""
        return len(self.threads) > 1

    def would_block(self, fd: int, events: int) -> bool:
        """Whether a blocking call on host descriptor ``fd`` would wait now."""
        try:
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK:
                return False
        except OSError:
            return False   # the call itself reports the bad descriptor
        p = select.poll()
        p.register(fd, events)
        return not p.poll(0)

    def wait_in_host(self, fds: Sequence[Tuple[int, int]], deadline: Optional[float],
                     complete: Callable[[], int]) -> object:
        """The current thread waits for ``fds``/``deadline`` without holding up the
        others; ``complete()`` gives the call's result once it is ready."""
        cur = self.current
        cur.host_fds, cur.deadline, cur.complete = tuple(fds), deadline, complete
        self._resume(self._runnable_after(cur))
        return SWITCHED

    def rotate_threads(self) -> None:
        """The time slice ended: the next runnable thread."""
        if len(self.threads) > 1:
            self._resume(self._runnable_after(self.current))

    def _block_current(self, addr: int) -> object:
        cur = self.current
        self.arch.set_result(self.cpu, 0)
        self._wait_seq += 1
        cur.waiting, cur.wait_seq = addr, self._wait_seq
        self._resume(self._runnable_after(cur))
        return SWITCHED

    # --- clone / exit -------------------------------------------------------------------
    def clone_thread(self, flags: int, newsp: int, ptid: int, tls: int, ctid: int) -> int:
        arch, cpu = self.arch, self.cpu
        tid = self._next_tid
        self._next_tid += 1
        mine = arch.save_state(self)
        arch.set_result(cpu, 0)
        if newsp:
            arch.set_stack_pointer(cpu, newsp)
        if flags & CLONE_SETTLS:
            arch.set_tls(self, tls)
        child = Thread(tid, arch.save_state(self))
        arch.load_state(self, mine)
        if flags & CLONE_CHILD_CLEARTID:
            child.clear_tid = ctid
        if flags & CLONE_PARENT_SETTID and ptid:
            self.mem.write(ptid, struct.pack(arch.order + "i", tid))
        if flags & CLONE_CHILD_SETTID and ctid:
            self.mem.write(ctid, struct.pack(arch.order + "i", tid))
        self.threads.append(child)
        return tid

    def exit_thread(self, status: int) -> object:
        """exit(): this thread ends (the process, if it is the last one)."""
        from .outcome import ProcessExit
        cur = self.current
        if len(self.threads) == 1:
            raise ProcessExit(status & 0xFF)
        if cur.clear_tid:
            try:
                self.mem.write(cur.clear_tid, bytes(4))
            except Exception:
                pass
            self._wake(cur.clear_tid, 1)
        nxt = self._runnable_after(cur)
        self.threads.remove(cur)
        self._resume(nxt)
        return SWITCHED

    # --- futex --------------------------------------------------------------------------
    def _wake(self, addr: int, n: int) -> int:
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

    def sys_futex(self, addr, op, val, timeout, addr2, val3, *_):
        cmd = op & 0x7F
        if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
            if self._load32(addr) != val:
                return -self.errno("EAGAIN")
            if len(self.threads) == 1:
                # nobody could wake it: a timeout runs out, anything else is a deadlock
                return -self.errno("ETIMEDOUT") if timeout else -self.errno("EINTR")
            return self._block_current(addr)
        if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
            return self._wake(addr, val)
        if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
            if cmd == FUTEX_CMP_REQUEUE and self._load32(addr) != val3:
                return -self.errno("EAGAIN")
            n = self._wake(addr, val)
            for t in self.threads:
                if t.waiting == addr:
                    t.waiting = addr2
            return n
        if cmd == FUTEX_WAKE_OP:
            return self._wake_op(addr, val, timeout, addr2, val3)
        log.log("unimp", f"futex op {op:#x}")
        return -self.errno("ENOSYS")

    sys_futex_time64 = sys_futex

    def _wake_op(self, addr, n, n2, addr2, val3):
        op, cmp = (val3 >> 28) & 7, (val3 >> 24) & 15
        oparg, cmparg = (val3 >> 12) & 0xFFF, val3 & 0xFFF
        if (val3 >> 28) & 8:
            oparg = 1 << oparg
        old = self._load32(addr2)
        new = {0: oparg, 1: old + oparg, 2: old | oparg, 3: old & ~oparg,
               4: old ^ oparg}.get(op, old) & 0xFFFFFFFF
        self.mem.write(addr2, struct.pack(self.arch.order + "I", new))
        woken = self._wake(addr, n)
        ok = {0: old == cmparg, 1: old != cmparg, 2: old < cmparg, 3: old <= cmparg,
              4: old > cmparg, 5: old >= cmparg}.get(cmp, False)
        if ok:
            woken += self._wake(addr2, n2)
        return woken
