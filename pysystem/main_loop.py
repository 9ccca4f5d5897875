"""The main loop: run the CPUs in slices, fire timers, service host I/O.

    loop = MainLoop(machine)
    loop.add_reader(fd, on_readable, ready=None)   # ready() -> bool: watch fd now?
    loop.remove_reader(fd)
    loop.add_poll_hook(fn)                         # called at every host I/O poll
    status = loop.run()                            # until request_exit(status)

One iteration: ``budget = clock.insns_until_deadline(machine.cpu_slice())``; each
CPU that is not halted runs up to that many instructions (round robin in index
order, each CPU's budget recomputed since every CPU advances the one clock; a CPU
ends its turn early at WFI, at WFE with several CPUs, or on an interrupt);
``clock.run_timers()``.  ``machine.running_cpu`` is the index of the CPU running,
which banked per-CPU devices read through ``machine.current_cpu_index()``.  When
every CPU is halted (WFI) the clock warps straight to the next timer deadline;
with no timer armed the loop blocks on host I/O, which is then the only thing
that can wake the guest.  A machine without CPUs (``-M none``) or a paused one
(``-S``, monitor ``stop``) also just blocks on host I/O.

Guest time never depends on the host: host I/O is polled (select with timeout 0)
between slices, at most every POLL_INTERVAL of host time, and input delivered
there lands at whatever guest time the slice ended.  With ``sleep=True``
(``-icount sleep=on``; the command line's default when stdin is a terminal) an
idle guest waits in host time until its next deadline, so an idle interactive
shell does not spin the host CPU; the warp itself stays exact, so only the
guest time at which host input lands differs.  With ``sleep=False`` idle time
costs nothing: guest time races ahead of the host's as fast as the loop can warp,
which keeps a host CPU busy for as long as the guest idles.  ``sleep=PACE`` (the
command line's default when stdin is not a terminal: a scripted run) is between
the two: an idle guest warps for free while its time is behind the host time
elapsed since the run began (the emulator is slower than the guest clock, so a
boot's idle periods still cost nothing), and once it has caught up it waits in
host time like ``sleep=True``, so a scripted guest idling at a prompt or in WFI
sleeps instead of spinning a host CPU.  The warp stays exact in every mode.

The machine's requests (shutdown, reset, pause) are acted on between slices: a
device asks through ``machine.request_*`` and sets the CPUs' ``exit_request``.
"""
from __future__ import annotations

import errno
import select
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

SLICE = 100_000             # instructions per slice at most
SMP_SLICE = 10_000          # the same with several CPUs (machine.cpu_slice())
POLL_INTERVAL = 0.01        # host seconds between I/O polls while the guest runs
IDLE_POLL_LIMIT = 1.0       # a blocked loop re-checks readers this often
PACE = "pace"               # sleep mode: idle is free only while guest time lags the host's

#: Set by the command line's SIGTERM/SIGHUP/SIGINT handler, which also raises SystemExit.
#: That exception can get lost (a PyPy process under load once printed the handler's message
#: and idled on; a handler run inside a finalizer would do that): poll() raises it again while
#: this is set, so the process ends within IDLE_POLL_LIMIT whatever became of the first.
termination_requested = False


class MainLoop:
    def __init__(self, machine=None, sleep: Union[bool, str] = False):
        assert sleep in (True, False, PACE), sleep
        self.machine = machine
        self.sleep = sleep
        self._origin: Tuple[float, int] = (0.0, 0)  # (host, guest ns) when run() began
        self._readers: Dict[int, Tuple[Callable[[], None], Optional[Callable[[], bool]]]] = {}
        self._hooks: List[Callable[[], None]] = []
        self.exit_status: Optional[int] = None
        self._last_poll = 0.0
        if machine is not None:
            machine.loop = self

    # --- host I/O -------------------------------------------------------------------
    def add_reader(self, fd: int, callback: Callable[[], None],
                   ready: Optional[Callable[[], bool]] = None) -> None:
        self._readers[fd] = (callback, ready)

    def remove_reader(self, fd: int) -> None:
        self._readers.pop(fd, None)

    def add_poll_hook(self, hook: Callable[[], None]) -> None:
        if hook not in self._hooks:
            self._hooks.append(hook)

    def request_exit(self, status: int = 0) -> None:
        self.exit_status = status
        if self.machine is not None:
            for cpu in self.machine.cpus:
                cpu.exit_request = True

    @property
    def exiting(self) -> bool:
        return self.exit_status is not None

    def poll(self, timeout: Optional[float] = 0.0) -> None:
        """Service host I/O: wait up to ``timeout`` seconds (None: until something happens)."""
        if termination_requested:
            raise SystemExit(0)
        self._last_poll = time.monotonic()
        for hook in list(self._hooks):
            hook()
        fds = [fd for fd, (_, ready) in self._readers.items() if ready is None or ready()]
        if timeout is None or timeout > IDLE_POLL_LIMIT:
            timeout = IDLE_POLL_LIMIT
        if not fds:
            if timeout > 0:
                time.sleep(timeout)
            return
        try:
            readable, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return
        except OSError as e:
            if e.errno == errno.EINTR:
                return
            raise
        for fd in readable:
            entry = self._readers.get(fd)
            if entry is not None:
                entry[0]()
        for hook in list(self._hooks):
            hook()

    def _poll_if_due(self) -> None:
        if time.monotonic() - self._last_poll >= POLL_INTERVAL:
            self.poll(0.0)

    # --- the loop -------------------------------------------------------------------
    def run(self, until: Optional[Callable[[], bool]] = None,
            icount_limit: Optional[int] = None) -> Optional[int]:
        """Run until ``request_exit``; returns the exit status.

        The embedding API (pysystem.api) bounds a run: it also returns None, with the
        machine still up, as soon as ``until()`` is true (checked between slices) or
        the clock has run ``icount_limit`` instructions in all, or when every CPU
        waits with no timer armed and no host input to wait for (nothing can happen).
        The machine is in effect meanwhile (``Machine.in_effect``: its log, its
        ``-global`` defaults)."""
        with self.machine.in_effect():
            return self._run(until, icount_limit)

    def _run(self, until: Optional[Callable[[], bool]],
             icount_limit: Optional[int]) -> Optional[int]:
        machine = self.machine
        clock = machine.clock
        bounded = until is not None or icount_limit is not None
        self._origin = (time.monotonic(), clock.now())
        self.poll(0.0)
        while self.exit_status is None:
            machine.handle_requests()
            if self.exit_status is not None:
                break
            if bounded and ((until is not None and until()) or
                            (icount_limit is not None and clock.icount >= icount_limit)):
                return None
            if not machine.running or not machine.cpus:
                if bounded and not self._readers:
                    return None         # paused with no host I/O: nothing can resume it
                self._idle_wait(clock)
                continue
            executed = 0
            slice_ = machine.cpu_slice()
            for i, cpu in enumerate(machine.cpus):
                if not has_work(cpu):
                    continue
                budget = slice_ if icount_limit is None else min(slice_, icount_limit - clock.icount)
                if budget <= 0:
                    break
                executed += run_cpu(machine, i, cpu, clock.insns_until_deadline(budget))
                if machine.has_requests() or self.exit_status is not None or \
                        not machine.running:    # e.g. a CPU stopped for the debugger
                    break
            clock.run_timers()
            if not executed and not any(has_work(cpu) for cpu in machine.cpus):
                if bounded and clock.next_deadline() is None and not self._readers:
                    return None         # every CPU waits and nothing can wake one
                self._idle_warp(clock)
                continue
            self._poll_if_due()
        return self.exit_status

    def _idle_warp(self, clock) -> None:
        """Every CPU waits for an interrupt: jump to the next deadline, or block on I/O."""
        self.poll(0.0)
        if self._woken():
            return
        deadline = clock.next_deadline()
        if deadline is None:
            self.poll(None)
            return
        target = self._wake_time(clock, deadline)
        if target is not None:
            while True:
                left = target - time.monotonic()
                if left <= 0:
                    break
                self.poll(left)
                if self._woken() or clock.next_deadline() != deadline:
                    return          # input woke the guest, or a new timer: look again
        clock.warp_to_next_deadline()
        clock.run_timers()

    def _wake_time(self, clock, deadline: int) -> Optional[float]:
        """The host time (monotonic) an idle guest waits for before warping to
        ``deadline``, or None to warp at once."""
        if self.sleep == PACE:
            host, guest = self._origin
            target = host + (deadline - guest) / 1e9
            return target if target > time.monotonic() else None
        if self.sleep:
            return time.monotonic() + (deadline - clock.now()) / 1e9
        return None

    def _woken(self) -> bool:
        m = self.machine
        return (self.exit_status is not None or m.has_requests() or not m.running
                or any(has_work(cpu) for cpu in m.cpus))

    def _idle_wait(self, clock) -> None:
        """Paused, or no CPU at all: only host I/O (and, with no CPU, timers) happen."""
        if self.machine.running and not self.machine.cpus and clock.next_deadline() is not None:
            clock.warp_to_next_deadline()
            clock.run_timers()
            self.poll(0.0)
            return
        self.poll(None)


def run_cpu(machine, index: int, cpu, budget: int) -> int:
    """Run CPU ``index`` for up to ``budget`` instructions as the machine's running CPU."""
    machine.running_cpu = index
    return cpu.run(budget)


def has_work(cpu) -> bool:
    """A CPU runs unless it is halted (WFI, WAIT) with nothing to wake it: it says."""
    return cpu.has_work()
