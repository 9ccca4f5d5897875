"""Reverse execution for the gdb stub (gdb's ``bs`` and ``bc``: reverse-stepi,
reverse-continue, and what gdb builds on them: reverse-step, reverse-next, reverse-finish),
on whole-machine snapshots kept in memory and an exact replay of what happened since.

    history = History(machine, cpu, skip=stub_chardev)
    history.before_resume(stepping)   # the stub calls this before each live c/s
    history.after_step() / after_run()
    history.step_back() -> bool       # False: at the beginning of the history
    history.continue_back() -> (found, watch)   # the last breakpoint/watchpoint hit
    history.replaying                 # back in the history: c/s replay it ...
    history.step_forward() -> watch   # ... one step
    history.continue_forward() -> (found, watch)  # ... to a hit, or to its end (live again)
    history.state_changed()           # the debugger wrote registers/memory: no future
    history.stop()                    # the debugger left: forget it all, record nothing

The history is a list of segments.  A segment starts with a snapshot (pysystem/snapshot.py's
capture, held in memory: the machine state and the RAM pages that are not zero,
compressed) and goes on either by debugger steps (positions: steps, interrupts and timers
held off as QEMU does for gdb) or by one run (a ``continue``; positions: instructions
executed since its start).  While a debugger drives the guest, the events that do not
follow from the machine state (interrupts taken, timers fired, idle jumps of the clock,
host input given to a UART: monitor/gdbstub_replay.py) are recorded with the position
they happened at.  Going back restores the latest snapshot before the target and replays:
blocks with interrupts held off, the recorded events applied at their positions, and the
last instructions one by one; so the replay is the recorded run, whatever the slices,
breakpoints or host timing were, and a breakpoint or watchpoint set afterwards is found in
it.  The state at a position is the one after its events (at a segment's start: the
snapshot).  Guest output is muted while replaying to go back, and shown again when going
forward through the history (what the guest printed the first time).  Going forward from a
point in the history replays it (so the guest sees the same input at the same instruction)
up to its end, then runs live again; writing registers or memory, or new host input there,
drops the history after that point.

Cost (vexpress-a9, 128 MiB, CPython 3.11): a snapshot takes about 0.2 s (scanning the
RAM for zero pages) and a few KB to a few MB of host memory (what the guest wrote,
compressed); one is taken when a ``continue`` starts and when a run of steps starts, none
per step.  An event takes a list entry.  A step back costs a restore plus a replay from
that snapshot (blocks, at the emulator's usual speed, minus chaining).  Recording wraps a
few methods on the instances while a debugger drives the guest and is removed when it
detaches: a run without a debugger executes exactly the code it did before.
"""
from __future__ import annotations

import json
from typing import List, Optional, Tuple

from pysystem.cpu.engine.translate import MAX_INSNS

from pysystem import log, snapshot

from .gdbstub_replay import Recorder, apply


class _MemorySnapshot(snapshot._Snapshot):
    """A snapshot held in memory, in the file format's header and blob area."""

    def __init__(self, machine):
        header, blobs, _ = snapshot._capture(machine)
        self.tag = "gdb-history"
        self.meta = {}
        self.header = json.loads(header)
        self.data = b"".join(blobs.parts)
        self.blob_base = 0
        self.blob_end = len(self.data)

    def close(self) -> None:
        pass


class Segment:
    def __init__(self, snap: _MemorySnapshot, icount: int):
        self.snap = snap
        self.icount = icount    # where it starts
        self.steps = 0          # debugger steps taken from there (a step segment)
        self.run_to: Optional[int] = None   # a run segment: the icount it stopped at
        self.events: List[Tuple[int, str, object]] = []   # (position, kind, arg)

    @property
    def is_run(self) -> bool:
        return self.run_to is not None

    def length(self, now: int) -> int:
        if self.run_to is None:
            return self.steps
        return (self.run_to if self.run_to >= 0 else now) - self.icount

    def truncate(self, pos: int) -> None:
        """End the segment at ``pos`` (the events there stay: they made its state)."""
        if self.run_to is None:
            self.steps = pos
        else:
            self.run_to = self.icount + pos
        self.events = [e for e in self.events if e[0] < pos or (e[0] == pos and pos > 0)]


class History:
    def __init__(self, machine, cpu, skip=None):
        self.machine = machine
        self.cpu = cpu
        self.segments: List[Segment] = []
        self.recorder = Recorder(machine, cpu, skip)
        self._where: Optional[tuple] = None   # (icount, key) of the current state
        self._cur: Optional[Tuple[int, int]] = None   # replaying: (segment, position)
        self._ev = 0            # replaying: the next event of the segment to apply
        self._fresh = False     # the next resume takes a snapshot

    # --- recording ------------------------------------------------------------------------
    @property
    def replaying(self) -> bool:
        self._check()
        return self._cur is not None

    def _now(self) -> int:
        return self.machine.clock.icount

    def _mark(self) -> None:
        self._where = (self._now(), self.cpu.key())

    def _check(self) -> None:
        """A jump the history did not see (loadvm, a reset, the monitor changing state
        between stops): start a new history here."""
        if self.segments and self._where != (self._now(), self.cpu.key()):
            self.segments.clear()
            self._cur = None

    def _record(self, kind: str, arg) -> None:
        if not self.segments:
            return
        if self._cur is not None:   # new input back in the history: it ends there
            self._truncate()
        seg = self.segments[-1]
        seg.events.append((seg.length(self._now()), kind, arg))

    def _truncate(self) -> None:
        i, p = self._cur
        del self.segments[i + 1:]
        self.segments[i].truncate(p)
        self._cur = None

    def state_changed(self) -> None:
        """The debugger changed the machine: the history after this point is void."""
        if self._cur is not None:
            self._truncate()
        self._fresh = True

    def stop(self) -> None:
        self.recorder.remove()
        self.segments.clear()
        self._cur = None

    def _snapshot(self) -> Segment:
        self._fresh = False
        seg = Segment(_MemorySnapshot(self.machine), self._now())
        self.segments.append(seg)
        return seg

    def before_resume(self, stepping: bool) -> None:
        self._check()
        if self._cur is not None:
            self._truncate()
        if not self.recorder.installed:
            self.recorder.install(self._record)
        last = self.segments[-1] if self.segments else None
        if stepping:
            if last is None or last.is_run or self._fresh:
                self._snapshot()
            return
        seg = self._snapshot()
        seg.run_to = -1         # set when the run stops

    def after_step(self) -> None:
        if self.segments:
            self.segments[-1].steps += 1
        self._mark()

    def after_run(self) -> None:
        seg = self.segments[-1] if self.segments else None
        if seg is not None and seg.run_to == -1:
            seg.run_to = self._now()
        self._mark()

    # --- replay ---------------------------------------------------------------------------
    def _restore(self, i: int) -> None:
        snapshot._restore(self.machine, self.segments[i].snap)
        cpu = self.cpu
        cpu.flush_all()
        cpu.debug_event = None
        self._cur = (i, 0)
        self._ev = 0

    def _apply_due(self, seg: Segment, pos: int) -> None:
        events = seg.events
        while self._ev < len(events) and events[self._ev][0] <= pos:
            _, kind, arg = events[self._ev]
            apply(self.machine, self.cpu, kind, arg)
            self._ev += 1

    def _step_over(self) -> Optional[tuple]:
        """One debugger step in a replay; a watchpoint the step touched (then taken
        over too), else None."""
        cpu = self.cpu
        cpu.debug_step()
        ev = cpu.debug_event
        if ev is not None and ev.reason == "watchpoint":
            cpu._watch_off = True
            try:
                cpu.debug_step()
            finally:
                cpu._watch_off = False
            return ev.watch
        return None

    def _advance(self, target: int, scan: bool = False, stop: bool = False,
                 skip_start: bool = False) -> List[tuple]:
        """Replay the current segment from the current position towards ``target``.
        ``scan``: the breakpoint and watchpoint hits on the way, (position, watch);
        ``stop``: stop at the first (the state before a watched access), not counting a
        breakpoint at the start with ``skip_start``."""
        i, pos = self._cur
        seg = self.segments[i]
        cpu, clock = self.cpu, self.machine.clock
        hits: List[tuple] = []
        fast_ok = True
        start = pos
        while pos < target:
            pc = cpu.key_pc(cpu.key())
            if (scan or stop) and pc in cpu.breakpoints and not (skip_start and pos == start):
                hits.append((pos, None))
                if stop:
                    break
            self._apply_due(seg, pos)
            before = clock.icount
            watch = None
            limit = target
            if self._ev < len(seg.events):
                limit = min(limit, seg.events[self._ev][0])
            if seg.is_run and fast_ok and limit - pos > 2 * MAX_INSNS:
                cpu.debug_event = None
                cpu.resume_at(pc)
                cpu._execute(limit - pos - MAX_INSNS, cpu.jc, MAX_INSNS, irqs=False)
                cpu._resume_pc = None
                ev = cpu.debug_event
                fast_ok = ev is None or ev.reason != "watchpoint"
            elif stop:
                cpu.debug_step()
                ev = cpu.debug_event
                if ev is not None and ev.reason == "watchpoint":
                    hits.append((pos, ev.watch))
                    break
                fast_ok = True
            else:
                watch = self._step_over()
                fast_ok = True
            new = clock.icount - seg.icount if seg.is_run else pos + 1
            if watch is not None:
                hits.append((pos, watch))
            if seg.is_run and new == pos and cpu.halted and clock.icount == before:
                log.log("guest_errors", f"gdbstub: replay stuck at 0x{pc:08x}")
                break
            pos = new
            self._cur = (i, pos)
            self._apply_due(seg, pos)
        self._cur = (i, pos)
        return hits

    def _goto(self, i: int, pos: int) -> int:
        """Restore segment ``i`` and replay it to ``pos`` (muted); where it landed (a
        MIPS branch and its delay slot replay together)."""
        with self.recorder.paused(), self.recorder.muted():
            self._restore(i)
            self._advance(pos)
        self._settle()
        return self._cur[1]

    def _settle(self) -> None:
        """Back at the end of the history: live again."""
        i, pos = self._cur
        if i == len(self.segments) - 1 and pos >= self.segments[i].length(self._now()):
            self._cur = None
        self._mark()

    def position(self) -> Tuple[int, int]:
        """(segment, position in it) of the current state."""
        if self._cur is not None:
            return self._cur
        i = len(self.segments) - 1
        return i, self.segments[i].length(self._now())

    # --- going back -----------------------------------------------------------------------
    def step_back(self) -> bool:
        self._check()
        if not self.segments:
            return False
        i, n = self.position()
        while n == 0:
            if i == 0:
                self._goto(0, 0)
                return False
            i -= 1
            n = self.segments[i].length(self._now())
        target = n - 1
        while self._goto(i, target) >= n and target > 0:
            target -= 1
        return True

    def continue_back(self) -> Tuple[bool, Optional[tuple]]:
        """Go back to the last breakpoint or watchpoint hit before now: (found, the
        watchpoint); not found: at the beginning of the history."""
        self._check()
        if not self.segments:
            return False, None
        i, n = self.position()
        while True:
            with self.recorder.paused(), self.recorder.muted():
                self._restore(i)
                hits = self._advance(n, scan=True)
            if hits:
                pos, watch = hits[-1]
                self._goto(i, pos)
                return True, watch
            if i == 0:
                self._goto(0, 0)
                return False, None
            i -= 1
            n = self.segments[i].length(self._now())

    # --- going forward through the history ----------------------------------------------
    def _next_segment(self) -> bool:
        """At the end of a segment, go on at the start of the next (the same state)."""
        i, pos = self._cur
        if pos < self.segments[i].length(self._now()) or i + 1 >= len(self.segments):
            return False
        self._cur, self._ev = (i + 1, 0), 0
        return True

    def step_forward(self) -> Optional[tuple]:
        """One step forward in the history (as recorded: an interrupt taken there is
        taken); a watchpoint the step stopped at (before its access)."""
        self._check()
        self._next_segment()
        i, pos = self._cur
        seg = self.segments[i]
        cpu = self.cpu
        with self.recorder.paused():
            self._apply_due(seg, pos)
            cpu.debug_step()
            ev = cpu.debug_event
            if ev is None or ev.reason != "watchpoint":
                new = self._now() - seg.icount if seg.is_run else pos + 1
                self._cur = (i, new)
                self._apply_due(seg, new)
        self._settle()
        return ev.watch if ev is not None and ev.reason == "watchpoint" else None

    def continue_forward(self) -> Tuple[bool, Optional[tuple]]:
        """Replay forward to the next breakpoint or watchpoint hit: (True, watch); or to
        the end of the history (False: the caller runs live from there; True if a
        breakpoint is there, as the live run stopped at it)."""
        self._check()
        first = True
        with self.recorder.paused():
            while True:
                self._next_segment()
                i, _ = self._cur
                hits = self._advance(self.segments[i].length(self._now()), stop=True,
                                     skip_start=first)
                first = False
                if hits:
                    self._mark()
                    return True, hits[0][1]
                if not self._next_segment():
                    break
        self._settle()
        cpu = self.cpu   # the end of the history, where a breakpoint stopped it then
        return cpu.key_pc(cpu.key()) in cpu.breakpoints, None
