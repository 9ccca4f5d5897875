"""Black-box tests of the A9 global timer (a9gtimer)."""
import pytest

from pysystem.clock import VirtualClock
from pysystem.devices.a9_gtimer import A9GlobalTimer
from pysystem.qom import QOMError

CNT_LO, CNT_HI, CONTROL, ISR, CMP_LO, CMP_HI, AUTOINC = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
EN, COMP, IRQ, AUTO = 1, 2, 4, 8


class Rig:
    def __init__(self, num_cpu=1):
        self.clock = VirtualClock(shift=0)
        self.dev = A9GlobalTimer(num_cpu=num_cpu)
        self.dev.clock = self.clock
        self.dev.realize()
        self.dev.reset()
        self.irq = [0] * num_cpu
        for i in range(num_cpu):
            self.dev.irqs[i].connect(self._set, i)

    def _set(self, n, level):
        self.irq[n] = level

    def r(self, off, cpu=0):
        return self.dev.mmio[1 + cpu].read(off, 4)

    def w(self, off, value, cpu=0):
        self.dev.mmio[1 + cpu].write(off, value, 4)

    def counter(self, cpu=0):
        """Linux's gt_counter_read: high, low, high until stable."""
        while True:
            hi = self.r(CNT_HI, cpu)
            lo = self.r(CNT_LO, cpu)
            if self.r(CNT_HI, cpu) == hi:
                return (hi << 32) | lo

    def run(self, ns):
        target = self.clock.now() + ns
        while True:
            d = self.clock.next_deadline()
            stop = target if d is None or d > target else d
            self.clock.advance(stop - self.clock.now())
            self.clock.run_timers()
            if stop == target:
                return


def test_needs_clock():
    with pytest.raises(QOMError):
        A9GlobalTimer().realize()


def test_counter_holds_when_disabled_and_counts_at_100mhz():
    t = Rig()
    t.run(1000)
    assert t.counter() == 0
    t.w(CNT_LO, 0xFFFFFFF0)
    t.w(CNT_HI, 1)
    assert t.counter() == 0x1FFFFFFF0
    t.w(CONTROL, EN)
    t.run(1000)
    assert t.counter() == 0x1FFFFFFF0 + 100           # carries into the high word
    t.w(CNT_LO, 0)                                     # ignored while running
    assert t.counter() == 0x1FFFFFFF0 + 100
    t.w(CONTROL, EN | (4 << 8))                        # prescaler 4: 50 ns per tick
    t.run(1000)
    assert t.counter() == 0x1FFFFFFF0 + 120
    t.w(CONTROL, 0)
    t.run(1000)
    assert t.counter() == 0x1FFFFFFF0 + 120


def test_comparator_event_and_interrupt():
    t = Rig()
    t.w(CONTROL, EN)
    t.run(1000)                                        # counter 100
    t.w(CMP_LO, 150)
    t.w(CMP_HI, 0)
    t.w(CONTROL, EN | COMP | IRQ)
    t.run(490)
    assert t.irq == [0] and t.r(ISR) == 0
    t.run(10)                                          # counter reaches 150
    assert t.irq == [1] and t.r(ISR) == 1
    # Linux's handler: comparator off, then clear the event
    t.w(CONTROL, EN)
    assert t.irq == [0]
    t.w(ISR, 1)
    assert t.r(ISR) == 0
    assert t.r(CONTROL) == EN


def test_comparator_already_passed_fires_at_once():
    t = Rig()
    t.w(CONTROL, EN)
    t.run(1000)
    t.w(CMP_LO, 10)
    t.w(CONTROL, EN | COMP | IRQ)
    assert t.irq == [1]


def test_auto_increment_gives_periodic_events():
    t = Rig()
    t.w(CMP_LO, 100)
    t.w(AUTOINC, 100)
    t.w(CONTROL, EN | COMP | IRQ | AUTO)
    t.run(1000)
    assert t.irq == [1]
    assert t.r(CMP_LO) == 200
    t.w(ISR, 1)
    assert t.irq == [0]
    t.run(999)
    assert t.irq == [0]
    t.run(1)
    assert t.irq == [1] and t.r(CMP_LO) == 300
    t.w(ISR, 1)
    t.run(5000)                                        # five more periods
    assert t.r(CMP_LO) == 800 and t.r(ISR) == 1


def test_banked_comparators_shared_enable():
    t = Rig(num_cpu=2)
    t.w(CMP_LO, 50, cpu=1)
    t.w(CONTROL, EN | COMP | IRQ, cpu=1)
    assert t.r(CONTROL, cpu=0) == EN                   # enable shared, the rest banked
    assert t.r(CMP_LO, cpu=0) == 0
    t.run(500)
    assert t.irq == [0, 1]
    assert t.r(ISR, cpu=0) == 0
    cpu = [0]
    t.dev.current_cpu = lambda: cpu[0]
    assert t.dev.mmio[0].read(CMP_LO, 4) == 0
    cpu[0] = 1
    assert t.dev.mmio[0].read(CMP_LO, 4) == 50


def test_snapshot_keeps_the_count_and_pending_match():
    t = Rig()
    t.w(CMP_LO, 300)
    t.w(CONTROL, EN | COMP | IRQ)
    t.run(1000)
    blob = t.dev.state_bytes()
    u = Rig()
    u.clock.advance(t.clock.now())
    u.dev.load_state_bytes(blob)
    assert u.counter() == 100
    u.run(2000)
    assert u.irq == [1]
