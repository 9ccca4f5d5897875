"""What makes a run under the debugger replayable: the events that do not follow from the
machine's state and its instruction count, recorded while gdb drives the guest and
applied again at the same counts (monitor/gdbstub_reverse.py replays runs with them).

    rec = Recorder(machine, cpu, skip=stub_chardev)
    rec.install(sink)        # sink(kind, arg) for each event; costs nothing until then
    rec.remove()
    with rec.muted(): ...    # guest output to the host is dropped (a replay going back)
    apply(machine, cpu, kind, arg)

The events (``kind``, ``arg``), in the order they happened:

- ``"irq"``: the CPU took an interrupt at a block boundary.  Where a run's blocks end
  depends on how it was sliced (timer deadlines, host polls, breakpoints present at the
  time), so a replay runs with interrupts held off and takes them exactly here.
- ``"timers"``: the main loop ran the clock's due timers.  It does so between slices,
  so how late past its deadline a timer fires depends on block boundaries too.
- ``"warp"`` (``arg``: the clock's new ``warp_ns``): every CPU waited (WFI, ``wait``) and
  guest time jumped to the next deadline; with ``-icount sleep=on`` host input can cut
  such a wait short, so the jump is recorded, not recomputed.
- ``"input"`` (``arg``: (the frontend's receive handler, bytes)): host input given to a
  guest device (a UART) through its chardev.

Recording wraps, on the instances only, ``cpu.check_interrupts``, ``clock.run_timers``,
``clock.warp_to_next_deadline`` and the receive handler of every chardev whose frontend
is a device (the gdb stub's own and the monitor's are not); ``remove()`` puts the class's
methods back, so a machine without a debugger attached runs the same code as before.
Not recorded (a replay across them is not exact): network packets, keyboard/mouse
input, and several CPUs (reverse execution is for one CPU).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, List, Optional

from pysystem.qdev import Device


def _frontends(machine, skip) -> List:
    """The chardevs (mux ports included) whose input goes to a guest device."""
    out = []
    for chardev in machine.all_chardevs():
        for c in [chardev] + list(getattr(chardev, "ports", ())):
            if c is skip:
                continue
            read = c.__dict__.get("_read")
            if isinstance(getattr(read, "__self__", None), Device):
                out.append(c)
    return out


class Recorder:
    def __init__(self, machine, cpu, skip=None):
        self.machine = machine
        self.cpu = cpu
        self.skip = skip                    # the gdb stub's chardev
        self.sink: Optional[Callable[[str, object], None]] = None
        self._wrapped: List = []            # (object, attribute, what it was) on instances
        self._frontends: List = []          # the chardevs whose input is recorded

    @property
    def installed(self) -> bool:
        return bool(self._wrapped)

    def _emit(self, kind: str, arg) -> None:
        sink = self.sink
        if sink is not None:        # None while paused
            sink(kind, arg)

    def _wrap(self, obj, name: str, wrapper) -> None:
        self._wrapped.append((obj, name, obj.__dict__.get(name, _MISSING)))
        obj.__dict__[name] = wrapper

    def install(self, sink: Callable[[str, object], None]) -> None:
        self.sink = sink
        if self._wrapped:
            return
        cpu, clock = self.cpu, self.machine.clock
        check = type(cpu).check_interrupts
        run_timers = type(clock).run_timers
        warp = type(clock).warp_to_next_deadline

        def check_interrupts(key: int) -> int:
            new = check(cpu, key)
            if new != key:
                self._emit("irq", None)
            return new

        def timers() -> None:
            deadline = clock.next_deadline()
            if deadline is not None and deadline <= clock.now():
                self._emit("timers", None)
            run_timers(clock)

        def warp_to_next_deadline() -> bool:
            before = clock.warp_ns
            done = warp(clock)
            if clock.warp_ns != before:
                self._emit("warp", clock.warp_ns)
            return done

        self._wrap(cpu, "check_interrupts", check_interrupts)
        self._wrap(clock, "run_timers", timers)
        self._wrap(clock, "warp_to_next_deadline", warp_to_next_deadline)
        self._frontends = _frontends(self.machine, self.skip)
        for c in self._frontends:
            self._wrap(c, "_read", self._input(c.__dict__["_read"]))

    def _input(self, read):
        def receive(data: bytes) -> None:
            self._emit("input", (read, bytes(data)))
            read(data)
        return receive

    def remove(self) -> None:
        for obj, name, was in reversed(self._wrapped):
            if was is _MISSING:
                obj.__dict__.pop(name, None)
            else:
                obj.__dict__[name] = was
        self._wrapped.clear()
        self._frontends = []
        self.sink = None

    @contextmanager
    def paused(self):
        """No recording (a replay applies the events itself)."""
        sink, self.sink = self.sink, None
        try:
            yield
        finally:
            self.sink = sink

    @contextmanager
    def muted(self):
        """Guest output to the host dropped: a replay going back re-runs what was shown."""
        muted = self._frontends if self._wrapped else _frontends(self.machine, self.skip)
        for c in muted:
            c.__dict__["write"] = _drop
        try:
            yield
        finally:
            for c in muted:
                c.__dict__.pop("write", None)


_MISSING = object()


def _drop(data) -> int:
    return len(bytes(data))


def apply(machine, cpu, kind: str, arg) -> None:
    """Do again what a recorded event did."""
    clock = machine.clock
    if kind == "irq":
        if cpu.halted:
            cpu.halted = False
        cpu.set_key(type(cpu).check_interrupts(cpu, cpu.key()))
    elif kind == "timers":
        type(clock).run_timers(clock)
    elif kind == "warp":
        clock.warp_ns = arg
    elif kind == "input":
        read, data = arg
        read(data)
