"""Black-box tests of the A9 private timer and watchdog (arm_mptimer): write registers,
advance the virtual clock, read registers and interrupt lines."""
import pytest

from pysystem.clock import VirtualClock
from pysystem.devices.arm_mptimer import ArmMPTimer
from pysystem.qom import QOMError

LOAD, COUNTER, CONTROL, ISR, WDRSR, WDDR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
EN, AUTO, IT, WD = 1, 2, 4, 8


class Rig:
    def __init__(self, num_cpu=1, watchdog=False, clock=None):
        self.clock = clock or VirtualClock(shift=0)
        self.dev = ArmMPTimer(num_cpu=num_cpu, watchdog=watchdog)
        self.dev.clock = self.clock
        self.dev.realize()
        self.dev.reset()
        self.irq = [0] * num_cpu
        for i in range(num_cpu):
            self.dev.irqs[i].connect(self._set, i)
        self.resets = 0
        if watchdog:
            self.dev.irqs[num_cpu].connect(self._reset, 0)

    def _set(self, n, level):
        self.irq[n] = level

    def _reset(self, n, level):
        self.resets += level

    def r(self, off, cpu=0):
        return self.dev.mmio[1 + cpu].read(off, 4)

    def w(self, off, value, cpu=0):
        self.dev.mmio[1 + cpu].write(off, value, 4)

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
        ArmMPTimer().realize()


def test_load_sets_counter_and_disabled_counter_holds():
    t = Rig()
    t.w(LOAD, 500)
    assert t.r(LOAD) == 500 and t.r(COUNTER) == 500
    t.run(10_000)
    assert t.r(COUNTER) == 500
    t.w(COUNTER, 42)
    assert t.r(COUNTER) == 42 and t.r(LOAD) == 500


def test_counts_down_at_100mhz_over_prescaler():
    t = Rig()
    t.w(LOAD, 1000)
    t.w(CONTROL, EN)
    t.run(2500)
    assert t.r(COUNTER) == 750
    t.w(CONTROL, EN | (9 << 8))                      # prescaler 9: 100 ns per tick
    assert t.r(CONTROL) == EN | (9 << 8)
    t.run(5000)
    assert t.r(COUNTER) == 700


def test_one_shot_stops_at_zero_with_event_but_no_irq_without_it_enable():
    t = Rig()
    t.w(LOAD, 100)
    t.w(CONTROL, EN)
    t.run(999)
    assert t.r(ISR) == 0
    t.run(1)
    assert t.r(ISR) == 1 and t.r(COUNTER) == 0
    assert t.irq == [0]
    t.w(CONTROL, EN | IT)
    assert t.irq == [1]
    t.w(ISR, 1)
    assert t.r(ISR) == 0 and t.irq == [0]
    t.run(100_000)
    assert t.r(ISR) == 0 and t.r(COUNTER) == 0   # stopped


def test_periodic_reload_has_period_load_plus_one_and_no_drift():
    t = Rig()
    t.w(LOAD, 99)
    t.w(CONTROL, EN | AUTO | IT)
    t.run(990)
    assert t.irq == [1]
    t.w(ISR, 1)
    t.run(995)
    assert t.irq == [0]
    t.run(5)                                          # 990 + 1000
    assert t.irq == [1]
    t.w(ISR, 1)
    # a late look (the CPU ran long): the grid of zero crossings is kept
    t.clock.advance(3_500)
    t.clock.run_timers()
    assert t.irq == [1]
    t.w(ISR, 1)
    assert t.clock.next_deadline() == 990 + 5 * 1000


def test_enable_with_zero_count_in_auto_reload_loads_load():
    t = Rig()
    t.w(LOAD, 50)
    t.w(COUNTER, 0)
    t.w(CONTROL, EN | AUTO)
    assert t.r(COUNTER) == 50
    t.run(500)
    assert t.r(ISR) == 1


def test_writing_load_while_running_restarts():
    t = Rig()
    t.w(LOAD, 1000)
    t.w(CONTROL, EN | IT)
    t.run(5000)
    t.w(LOAD, 1000)
    t.run(9000)
    assert t.irq == [0]
    t.run(1000)
    assert t.irq == [1]


def test_per_cpu_blocks_and_this_cpu_region():
    t = Rig(num_cpu=2)
    cpu = [1]
    t.dev.current_cpu = lambda: cpu[0]
    t.dev.mmio[0].write(LOAD, 10, 4)
    assert t.r(LOAD, cpu=1) == 10 and t.r(LOAD, cpu=0) == 0
    t.w(CONTROL, EN | IT, cpu=1)
    t.run(100)
    assert t.irq == [0, 1]


def test_timer_registers_of_the_watchdog_and_its_watchdog_mode():
    t = Rig(watchdog=True)
    t.w(LOAD, 10)
    t.w(CONTROL, EN | IT)                             # timer mode: an interrupt
    t.run(100)
    assert t.irq == [1]
    t.w(ISR, 1)
    t.w(CONTROL, EN | WD)
    t.w(LOAD, 100)                                    # kick
    t.w(CONTROL, EN)                                  # cannot leave watchdog mode so
    assert t.r(CONTROL) & WD
    t.run(999)
    assert t.resets == 0
    t.run(1)
    assert t.resets == 1 and t.r(WDRSR) == 1 and t.irq == [0]
    t.w(WDRSR, 1)
    assert t.r(WDRSR) == 0
    t.w(WDDR, 0x12345678)
    t.w(WDDR, 0x87654321)
    assert not t.r(CONTROL) & WD
    # the timer block has no watchdog registers
    plain = Rig()
    plain.w(CONTROL, WD)
    assert plain.r(CONTROL) == 0 and plain.r(WDRSR) == 0


def test_snapshot_of_a_running_timer():
    t = Rig()
    t.w(LOAD, 1000)
    t.w(CONTROL, EN | AUTO | IT)
    t.run(3000)
    blob = t.dev.state_bytes()
    clock = VirtualClock(shift=0)
    clock.advance(t.clock.now())
    u = Rig(clock=clock)
    u.dev.load_state_bytes(blob)
    assert u.r(COUNTER) == t.r(COUNTER) == 700
    u.run(7000)
    assert u.irq == [1]
    u.w(ISR, 1)
    u.run(10_000)
    assert u.irq == [0]
    u.run(10)                                         # reloaded on the saved grid
    assert u.irq == [1]
