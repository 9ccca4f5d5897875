"""Deterministic virtual time and timers.

Guest time is derived from the number of guest instructions executed, never from
the host's clock: ``now() = (icount << shift) + warp``, in nanoseconds.  Each
instruction therefore takes ``2**shift`` ns of guest time (``-icount shift=N``).

The default is shift=3 (8 ns per instruction, a 125 MHz virtual CPU), the value
QEMU's ``-icount shift=auto`` starts from.  It keeps delay loops and polling
short in instructions (they are calibrated in guest time), while a 100 Hz tick
still costs the guest only one interrupt per 1.25 million instructions.

When every CPU is idle (WFI, MIPS ``wait``) the clock warps straight to the next
timer deadline, adding the skipped time to ``warp``; so an idle guest costs
nothing and a run is the same whatever the host's speed.  ``rtc_base_ns`` is the
guest's wall clock at virtual time zero (``-rtc base=``); devices such as an RTC
read ``wall_ns()``.
"""
from __future__ import annotations

import calendar
import heapq
import time
from typing import Callable, List, Optional, Tuple

from .qom import Field, Object, QOMError, register

DEFAULT_SHIFT = 3
NS_PER_SEC = 1_000_000_000


@register
class VirtualClock(Object):
    TYPE = "virtual-clock"
    STATE = (
        Field("icount", "u64", 0, "guest instructions executed"),
        Field("warp_ns", "u64", 0, "guest time skipped while idle"),
        Field("rtc_base_ns", "i64", 0, "guest wall clock at virtual time zero"),
    )

    def __init__(self, shift: int = DEFAULT_SHIFT, **props):
        super().__init__(**props)
        if not 0 <= shift <= 10:
            raise QOMError("icount shift must be between 0 and 10")
        self.shift = shift
        self.icount = 0
        self.warp_ns = 0
        self.rtc_base_ns = 0
        self._heap: List[Tuple[int, int, int, "Timer"]] = []
        self._timers: List["Timer"] = []

    # time
    def now(self) -> int:
        """Guest time in ns."""
        return (self.icount << self.shift) + self.warp_ns

    def wall_ns(self) -> int:
        """Guest wall-clock time (ns since the Unix epoch)."""
        return self.rtc_base_ns + self.now()

    def set_rtc_base(self, spec: str = "utc") -> None:
        """``-rtc base=utc|localtime|YYYY-MM-DD[THH:MM:SS]``."""
        if spec == "utc":
            self.rtc_base_ns = time.time_ns()
        elif spec == "localtime":
            t = time.time()
            self.rtc_base_ns = int((t + time.localtime(t).tm_gmtoff) * NS_PER_SEC)
        else:
            for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
                try:
                    st = time.strptime(spec, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise QOMError(f"invalid -rtc base '{spec}' (use utc, localtime or YYYY-MM-DDTHH:MM:SS)")
            self.rtc_base_ns = calendar.timegm(st) * NS_PER_SEC

    def advance(self, insns: int) -> None:
        self.icount += insns

    # timers
    def _add_timer(self, timer: "Timer") -> int:
        self._timers.append(timer)
        return len(self._timers) - 1

    def _arm(self, timer: "Timer") -> None:
        heapq.heappush(self._heap, (timer.deadline, timer.order, timer.generation, timer))

    def next_deadline(self) -> Optional[int]:
        heap = self._heap
        while heap:
            deadline, _, gen, timer = heap[0]
            if gen == timer.generation and timer.deadline is not None:
                return deadline
            heapq.heappop(heap)
        return None

    def insns_until_deadline(self, limit: int) -> int:
        """How many instructions may run before the next timer is due (at least 1)."""
        deadline = self.next_deadline()
        if deadline is None:
            return limit
        delta = deadline - self.now()
        if delta <= 0:
            return 1
        return max(1, min(limit, (delta + (1 << self.shift) - 1) >> self.shift))

    def run_timers(self) -> None:
        """Call every timer whose deadline has passed, in deadline order."""
        heap = self._heap
        now = self.now()
        while heap and heap[0][0] <= now:
            deadline, _, gen, timer = heapq.heappop(heap)
            if gen != timer.generation or timer.deadline is None:
                continue
            timer.deadline = None
            timer.generation += 1
            timer.callback()

    def warp_to_next_deadline(self) -> bool:
        """Idle: jump guest time to the next deadline.  False if no timer is armed."""
        deadline = self.next_deadline()
        if deadline is None:
            return False
        now = self.now()
        if deadline > now:
            self.warp_ns += deadline - now
        return True


class Timer:
    """A one-shot timer on a ``VirtualClock``; ``callback()`` runs at the deadline.

    Timers created in the same order by the same board keep the same ``order``,
    which breaks ties between equal deadlines, so runs and restored snapshots fire
    them in the same sequence.  A device declares a timer as a ``Field(.., "timer")``
    to have its deadline saved and restored.
    """

    __slots__ = ("clock", "callback", "name", "deadline", "generation", "order")

    def __init__(self, clock: VirtualClock, callback: Callable[[], None], name: str = "timer"):
        self.clock, self.callback, self.name = clock, callback, name
        self.deadline: Optional[int] = None
        self.generation = 0
        self.order = clock._add_timer(self)

    def mod(self, deadline_ns: int) -> None:
        """Fire at absolute guest time ``deadline_ns``."""
        self.generation += 1
        self.deadline = int(deadline_ns)
        self.clock._arm(self)

    def mod_in(self, delta_ns: int) -> None:
        self.mod(self.clock.now() + max(0, int(delta_ns)))

    def cancel(self) -> None:
        if self.deadline is not None:
            self.deadline = None
            self.generation += 1

    @property
    def pending(self) -> bool:
        return self.deadline is not None

    def restore(self, deadline: Optional[int]) -> None:
        if deadline is None:
            self.cancel()
        else:
            self.mod(deadline)
