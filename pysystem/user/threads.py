"""Guest threads (clone with CLONE_VM) on the one CPU object, scheduled deterministically,
and the waits of system calls that would block, mixed into ``Process``.

Each thread is a saved register state (the architecture's ``save_state``/``load_state``:
registers, PC, FPU, TLS, exclusive monitor); the running thread's lives in the CPU.  A
thread runs until it waits (a futex, a host call that would block), exits, or has run
``SLICE`` instructions, then the next runnable one in creation order takes the CPU; so a
run in which nothing blocks is repeatable.  A system call that switched threads returns
``SWITCHED``: its result is stored when the waiting thread resumes.

A system call that would block in the host (a futex wait, a read on an empty pipe,
accept, connect, poll, select, nanosleep, a write bigger than the pipe's free space...)
does not make the host wait: the thread records what it waits for (descriptors and
poll events, a deadline on the host's monotonic clock, a futex wake-up) and what
completes the call, and the others run; the scheduler looks at the waiting thread when
its turn comes and, ready, runs the completion (which no longer blocks) and resumes it.
A completion that finds the call not ready after all (another thread took the data)
waits again.  A call that would not block runs at once.  Only when no thread can run
does the host wait, in one poll over all the waiting threads' descriptors until the
earliest deadline: a futex wait with a timeout ends there with ETIMEDOUT.  With every
thread in an untimed futex wait, the longest-waiting one wakes up (futex allows
spurious wake-ups), so a guest can spin but never hang the emulator.

Signals: that host poll is the only place the emulator blocks for a guest, and a host
signal for a guest handler interrupts it (the handler raises ``Interrupted`` while the
host waits; a poll has nothing to lose).  The first waiting thread in creation order
then takes the signal, as the kernel's would: its call ends with EINTR, or starts again
after the handler when it is one the kernel restarts under SA_RESTART (``restart``), or
returns what it did so far (a write that wrote part: ``interrupted``).
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import stat
import struct
import time
from typing import Callable, List, Optional, Sequence, Tuple

# clone() flags (the kernel's numbers; the same on ARM and MIPS)
CLONE_VM, CLONE_VFORK, CLONE_SETTLS = 0x100, 0x4000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000
SA_RESTART = 0x10000000   # ARM's and MIPS's

SLICE = 20000
#: how long the host waits at most when threads wait for descriptors while others wait
#: on futexes without a timeout (one of those then wakes up spuriously, as futex allows)
FUTEX_NUDGE = 0.05
POLLIN, POLLOUT = select.POLLIN, select.POLLOUT
#: system calls that wait for one descriptor (their first argument): the poll event
FD_WAITS = {"read": POLLIN, "readv": POLLIN, "recv": POLLIN, "recvfrom": POLLIN,
            "recvmsg": POLLIN, "accept": POLLIN, "accept4": POLLIN, "write": POLLOUT,
            "writev": POLLOUT, "send": POLLOUT, "sendto": POLLOUT, "sendmsg": POLLOUT}
#: what a pipe takes at once without blocking when poll says POLLOUT (PIPE_BUF)
PIPE_BUF = 4096
#: a system call that switched threads: nothing to store for the (now other) thread
SWITCHED = object()
#: a completion's result: the call starts again (SA_RESTART after a signal handler)
RESTART = object()


class Interrupted(Exception):
    """Raised by the host signal handler while the host waits for the guest: a signal
    for a guest handler arrived."""


class WaitAgain:
    """What a waiting call's completion returns when it is not ready after all: the
    thread waits again, for ``fds`` (fd, poll events) or until ``deadline``; with
    ``complete``, that completes the call next time."""

    def __init__(self, fds: Sequence[Tuple[int, int]] = (), deadline: Optional[float] = None,
                 complete: Optional[Callable[[], object]] = None):
        self.fds, self.deadline, self.complete = tuple(fds), deadline, complete


class Thread:
    def __init__(self, tid: int, state: Optional[tuple]):
        self.tid = tid
        self.state = state            # None while it is the one on the CPU
        self.clear_tid = 0            # CLONE_CHILD_CLEARTID / set_tid_address
        self.waiting: Optional[int] = None   # the futex address it waits on
        self.wait_seq = 0
        self.cpu_index = 0            # QEMU's CPU number for it (gdb's "CPU#n")
        # waiting in a call: its descriptors (fd, poll events), its deadline
        # (time.monotonic()), what else makes it ready (a futex wake-up), what
        # completes the call (returns its result), whether a signal handler restarts
        # it (SA_RESTART) and what it returns when a signal ends it after some progress
        self.host_fds: Sequence[Tuple[int, int]] = ()
        self.deadline: Optional[float] = None
        self.ready: Optional[Callable[[], bool]] = None
        self.complete: Optional[Callable[[], object]] = None
        self.restart = True
        self.interrupted: Optional[Callable[[], Optional[int]]] = None
        self.signalled = False
        self.strace_call: Optional[tuple] = None   # (name, args) for -strace's result
        self.mask_after: Optional[int] = None      # the signal mask the call restores

    def stop_waiting(self) -> None:
        self.host_fds, self.deadline, self.ready, self.complete = (), None, None, None
        self.restart, self.interrupted, self.signalled = True, None, False
        self.strace_call = self.mask_after = None


def _is_stream(fd: int) -> bool:
    s = socket.socket(fileno=fd)
    try:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
    finally:
        s.detach()


class ThreadCalls:
    """Mixed into Process (``threads``, ``current``)."""

    def init_threads(self) -> None:
        self.threads: List[Thread] = [Thread(self.pid, None)]
        self.current = self.threads[0]
        self._next_tid = self.pid + 1
        self._wait_seq = 0
        self.host_waiting = False     # the host waits in _host_wait (signals interrupt it)
        self._completing = False      # a waiting call's completion runs
        self._keep_current = False    # the slice ended early (clone): no switch
        self.strace_call: Optional[tuple] = None   # -strace: the call being made
        self._polls: dict = {}        # would_block's poll objects by (fd, events)

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
        """The next thread to run after ``cur``."""
        return self._runnable_from(self.threads.index(cur) + 1)

    def _runnable_from(self, i: int) -> Thread:
        """The first thread, from the ``i``-th on in a circle, that can run."""
        ts = self.threads
        while True:
            for k in range(len(ts)):
                t = ts[(i + k) % len(ts)]
                if t.complete is None or self._host_ready(t):
                    return t
            victim = self._signal_victim(ts)
            if victim is not None:
                return victim
            untimed = [t for t in ts if t.waiting is not None and t.deadline is None]
            if len(untimed) == len(ts):
                return self._spurious_wake(untimed)   # all wait on futexes, for ever
            if not self._host_wait(ts) and untimed:
                return self._spurious_wake(untimed)

    @staticmethod
    def _spurious_wake(futex: List[Thread]) -> Thread:
        t = min(futex, key=lambda x: x.wait_seq)
        t.waiting = None
        return t

    def _host_ready(self, t: Thread) -> bool:
        if t.deadline is not None and time.monotonic() >= t.deadline:
            return True
        if t.ready is not None and t.ready():
            return True
        if not t.host_fds:
            return False
        p = select.poll()
        for fd, events in t.host_fds:
            p.register(fd, events)
        return bool(p.poll(0))

    def _host_wait(self, ts: List[Thread]) -> bool:
        """No thread can run: the host waits for one of the waiting calls' descriptors
        or deadlines (a short while only when untimed futex waiters could be woken
        instead), or a signal for a guest handler.  Whether something happened."""
        wanted: dict = {}
        deadlines = []
        for t in ts:
            for fd, events in t.host_fds:   # two threads may wait on one descriptor
                wanted[fd] = wanted.get(fd, 0) | events
            if t.deadline is not None:
                deadlines.append(t.deadline)
        p = select.poll()
        for fd, events in wanted.items():
            p.register(fd, events)
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        if any(t.waiting is not None and t.deadline is None for t in ts):
            timeout = FUTEX_NUDGE if timeout is None else min(timeout, FUTEX_NUDGE)
        self.host_waiting = True
        try:
            if self.deliverable_signal() is not None:
                return True
            ready = p.poll(None if timeout is None else int(timeout * 1000) + 1)
        except Interrupted:
            return True
        finally:
            self.host_waiting = False
        return bool(ready) or any(d <= time.monotonic() for d in deadlines)

    def _signal_victim(self, ts: List[Thread]) -> Optional[Thread]:
        """A signal for a guest handler is pending while every thread waits: the first
        waiting thread's call ends (EINTR, a restart, or what it did so far) and it
        takes the signal when it resumes."""
        sig = self.deliverable_signal()
        if sig is None:
            return None
        t = next((t for t in ts if t.complete is not None), None)
        if t is None:
            return None
        done = t.interrupted() if t.interrupted is not None else None
        if done is not None:
            result = done
        elif t.restart and self.signals.get(sig)[1] & SA_RESTART:
            result = RESTART
        else:
            result = -self.errno("EINTR")
        call, mask = t.strace_call, t.mask_after
        t.stop_waiting()
        t.waiting = None
        t.complete, t.signalled, t.strace_call = (lambda: result), True, call
        t.mask_after = mask
        return t

    def _resume(self, t: Thread) -> None:
        """Give ``t`` the CPU; a call it waited in is completed first (if it must wait
        again after all, the next thread is tried)."""
        while True:
            self._switch_to(t)
            done = t.complete
            if done is None:
                return
            self._completing = True
            try:
                result = done()
            finally:
                self._completing = False
            if isinstance(result, WaitAgain):
                t.host_fds, t.deadline = result.fds, result.deadline
                if result.complete is not None:
                    t.complete = result.complete
                t = self._runnable_after(t)
                continue
            signalled, call, mask = t.signalled, t.strace_call, t.mask_after
            t.stop_waiting()
            if mask is not None and not signalled:
                self.signals.blocked, self.signals.saved = mask, None
            if call is not None and result is not SWITCHED:
                from . import strace
                strace.leave(self, call[0], call[1], -512 if result is RESTART else result)
            if result is RESTART:
                self.arch.restart_syscall(self.cpu)
            elif result is not SWITCHED:
                self.arch.set_result(self.cpu, result)
            if signalled:
                self.check_signals()
                if mask is not None and self.signals.saved is not None:
                    # no handler frame took the mask (gdb discarded the signal)
                    self.signals.blocked, self.signals.saved = mask, None
            return

    def would_block(self, fd: int, events: int) -> bool:
        """Whether a blocking call on host descriptor ``fd`` would wait now (ready
        first: one host call in the usual case)."""
        p = self._polls.get((fd, events))
        if p is None:   # (poll looks the number up at each call: reusing it is safe)
            p = self._polls[(fd, events)] = select.poll()
            p.register(fd, events)
        if p.poll(0):
            return False   # ready, or a bad descriptor (POLLNVAL) that the call reports
        try:
            return not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        except OSError:
            return False

    def wait_in_host(self, fds: Sequence[Tuple[int, int]], deadline: Optional[float],
                     complete: Callable[[], object], restart: bool = True,
                     interrupted: Optional[Callable[[], Optional[int]]] = None,
                     ready: Optional[Callable[[], bool]] = None) -> object:
        """The current thread waits for ``fds``/``deadline``/``ready()`` without
        holding up the others; ``complete()`` gives the call's result once it is
        ready (see the module docstring for ``restart`` and ``interrupted``).  Called
        from a completion, this is a WaitAgain for it to return."""
        if self._completing:
            return WaitAgain(fds, deadline, complete)
        cur = self.current
        cur.strace_call, self.strace_call = self.strace_call, None
        cur.host_fds, cur.deadline, cur.complete = tuple(fds), deadline, complete
        cur.restart, cur.interrupted, cur.ready = restart, interrupted, ready
        self._resume(self._runnable_after(cur))
        return SWITCHED

    def with_mask(self, mask_addr: int, call: Callable[[], object]) -> object:
        """``call()`` with the guest's signal mask at ``mask_addr`` while it waits
        (rt_sigsuspend, pselect6, ppoll): a handler that interrupts it saves the mask
        from before in its frame (the kernel's saved_sigmask), else the call's end
        restores it."""
        if not mask_addr:
            return call()
        sigs, cur = self.signals, self.current
        old = sigs.blocked
        sigs.blocked, sigs.saved = self.arch.unpack_sigset(self.mem.read(mask_addr, 8)), old
        cur.mask_after = old
        result = call()
        if result is not SWITCHED and cur.mask_after is not None:   # it did not wait
            sigs.blocked, sigs.saved, cur.mask_after = old, None, None
        return result

    def write_all(self, fd: int, data: bytes, write: Callable[[bytes], int]) -> object:
        """A blocking write of ``data`` to a pipe or socket as the kernel does it: all
        of it, waiting for room as often as needed (other threads run meanwhile, a
        signal ends it with what was written); ``write`` writes one piece."""
        if len(data) <= PIPE_BUF:
            return write(data)
        try:
            blocking = not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
            mode = os.fstat(fd).st_mode
        except OSError:
            return write(data)
        if not blocking or not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) and _is_stream(fd)):
            return write(data)   # (a datagram goes whole or not at all)
        done = [0]

        def more():
            while done[0] < len(data):
                if self.would_block(fd, POLLOUT):
                    return self.wait_in_host([(fd, POLLOUT)], None, more,
                                             interrupted=lambda: done[0] or None)
                try:
                    done[0] += write(data[done[0]:done[0] + PIPE_BUF])
                except OSError:
                    if done[0]:
                        return done[0]
                    raise
            return done[0]
        return more()

    def rotate_threads(self) -> None:
        """The time slice ended: the next runnable thread (not while the debugger has
        the program stopped: gdb looks at the thread that stopped)."""
        keep, self._keep_current = self._keep_current, False
        if len(self.threads) > 1 and not keep and (self.gdb is None or self.gdb.lets_run()):
            self._resume(self._runnable_after(self.current))

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
        # QEMU numbers a new thread's CPU one above the highest in use
        child.cpu_index = max(t.cpu_index for t in self.threads) + 1
        arch.load_state(self, mine)
        if flags & CLONE_CHILD_CLEARTID:
            child.clear_tid = ctid
        if flags & CLONE_PARENT_SETTID and ptid:
            self.mem.write(ptid, struct.pack(arch.order + "i", tid))
        if flags & CLONE_CHILD_SETTID and ctid:
            self.mem.write(ctid, struct.pack(arch.order + "i", tid))
        self.threads.append(child)
        # the run goes on in time slices from now on, this thread's first
        cpu.exit_request = self._keep_current = True
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
            self.futex_wake(cur.clear_tid, 1)
        i = self.threads.index(cur)
        self.threads.remove(cur)
        self._resume(self._runnable_from(i))
        return SWITCHED
