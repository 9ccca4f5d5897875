"""Reverse execution for the gdb stub (gdb's ``bs`` and ``bc``: reverse-stepi,
reverse-continue, and what gdb builds on them: reverse-step, reverse-next, reverse-finish),
on whole-machine snapshots kept in memory and deterministic replay.

    history = History(machine, cpu)
    history.before_resume(stepping)   # the stub calls this before each c/s
    history.after_step()              # ... and after each step
    history.step_back() -> bool       # False: at the beginning of the history
    history.continue_back() -> event  # the last breakpoint/watchpoint hit before now

The history is a list of segments.  A segment starts with a snapshot (pysystem/snapshot.py's
capture, held in memory: the machine state and the RAM pages that are not zero,
compressed) and goes on either by debugger steps (counted) or by one run (a ``continue``,
from its start to where it stopped).  Going back restores the latest snapshot before the
target and replays forward with debugger steps, which are exact and deterministic: the
same instructions, the same memory.  A run segment is replayed by steps as well; a guest
that took an interrupt during that run replays without it (interrupts are held off in
steps), so going back into such a run is exact only for code that runs without
interrupts (bare-metal loops, a kernel with interrupts masked).  Going forward again from
a restored point discards the history after it.

Cost (vexpress-a9, 128 MiB, CPython 3.11): a snapshot takes about 0.2 s (scanning the
RAM for zero pages) and a few KB to a few MB of host memory (what the guest wrote,
compressed); one is taken when a ``continue`` starts and when it stops, none per step.
A step back costs a restore plus a replay of the steps since that snapshot.
"""
from __future__ import annotations

import json
from typing import List, Optional, Tuple

from pysystem import snapshot


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


class History:
    def __init__(self, machine, cpu):
        self.machine = machine
        self.cpu = cpu
        self.segments: List[Segment] = []
        self._where: Optional[tuple] = None   # (icount, key) where the history ends

    def _mark(self) -> None:
        self._where = (self.machine.clock.icount, self.cpu.key())

    def _check(self) -> None:
        """A jump the history did not see (loadvm, a reset, the monitor changing state
        between stops): start a new history here."""
        if self.segments and self._where != (self.machine.clock.icount, self.cpu.key()):
            self.segments.clear()

    def _snapshot(self) -> Segment:
        seg = Segment(_MemorySnapshot(self.machine), self.machine.clock.icount)
        self.segments.append(seg)
        return seg

    def before_resume(self, stepping: bool) -> None:
        self._check()
        last = self.segments[-1] if self.segments else None
        if stepping:
            if last is None or last.run_to is not None:
                self._snapshot()
            return
        seg = self._snapshot()
        seg.run_to = -1         # set when the run stops

    def after_step(self) -> None:
        self.segments[-1].steps += 1
        self._mark()

    def after_run(self) -> None:
        seg = self.segments[-1] if self.segments else None
        if seg is not None and seg.run_to == -1:
            seg.run_to = self.machine.clock.icount
        self._mark()

    # --- going back -------------------------------------------------------------------
    def _restore(self, seg: Segment) -> None:
        snapshot._restore(self.machine, seg.snap)
        cpu = self.cpu
        cpu.flush_all()
        cpu.debug_event = None

    def _step(self) -> Optional[tuple]:
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

    def _length(self, seg: Segment, index: int) -> int:
        """The number of replay steps segment ``seg`` (number ``index``) spans."""
        if seg.run_to is None:
            return seg.steps
        end = seg.run_to if seg.run_to >= 0 else self.machine.clock.icount
        self._restore(seg)
        n = 0
        while self.machine.clock.icount < end:
            self._step()
            n += 1
        return n

    def _goto(self, index: int, steps: int) -> None:
        seg = self.segments[index]
        self._restore(seg)
        for _ in range(steps):
            self._step()
        del self.segments[index + 1:]
        seg.run_to = None
        seg.steps = steps
        self._mark()

    def position(self) -> Tuple[int, int]:
        """(segment, steps into it) of the current state."""
        i = len(self.segments) - 1
        return i, self._length(self.segments[i], i)

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
            n = self._length(self.segments[i], i)
        self._goto(i, n - 1)
        return True

    def continue_back(self) -> Tuple[bool, Optional[tuple]]:
        """Go back to the last breakpoint or watchpoint hit before now: (found, the
        watchpoint); not found: at the beginning of the history."""
        self._check()
        if not self.segments:
            return False, None
        cpu = self.cpu
        i, n = self.position()
        while True:
            self._restore(self.segments[i])
            last = None
            for k in range(n):
                hit = None
                if cpu.key_pc(cpu.key()) in cpu.breakpoints:
                    hit = (k, None)
                watch = self._step()
                if watch is not None:
                    hit = (k, watch)
                if hit is not None:
                    last = hit
            if last is not None:
                self._goto(i, last[0])
                return True, last[1]
            if i == 0:
                self._goto(0, 0)
                return False, None
            i -= 1
            n = self._length(self.segments[i], i)
