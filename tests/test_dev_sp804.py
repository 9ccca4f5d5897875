"""Black-box MMIO tests of the SP804 dual timer: write, advance the virtual clock, read."""
import pytest

from pysystem.clock import VirtualClock
from pysystem.devices.sp804 import SP804
from pysystem.qom import QOMError

from qtest_oracle import qemu_vexpress

LOAD, VALUE, CONTROL, INTCLR, RIS, MIS, BGLOAD = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
T1 = 0x20
EN, PERIODIC, IE, BIT32, ONESHOT = 0x80, 0x40, 0x20, 0x02, 0x01
DIV16, DIV256 = 0x04, 0x08
US = 1000  # ns


class Rig:
    """An SP804 on its own virtual clock (1 ns per instruction), IRQ line recorded."""

    def __init__(self, **props):
        self.clock = VirtualClock(shift=0)
        self.dev = SP804(**props)
        self.dev.clock = self.clock
        self.dev.realize()
        self.dev.reset()
        self.levels = []
        self.dev.irqs[0].connect(lambda n, level: self.levels.append(level))
        self.region = self.dev.mmio[0]

    def read(self, off):
        return self.region.dispatch_read(off, 4, False)

    def write(self, off, value):
        assert self.region.dispatch_write(off, value, 4, False)

    def run(self, ns):
        """Advance guest time by ``ns``, firing due timers in steps as a CPU loop would."""
        end = self.clock.now() + ns
        while True:
            deadline = self.clock.next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.advance(max(0, deadline - self.clock.now()))
            self.clock.run_timers()
        self.clock.advance(end - self.clock.now())
        self.clock.run_timers()

    @property
    def irq(self):
        return self.dev.irqs[0].level


def test_reset_values_and_ids():
    r = Rig()
    assert r.read(CONTROL) == IE and r.read(CONTROL + T1) == IE
    assert r.read(LOAD) == 0 and r.read(VALUE) == 0 and r.read(RIS) == 0
    assert [r.read(0xFE0 + 4 * i) for i in range(8)] == [0x04, 0x18, 0x14, 0x00,
                                                         0x0D, 0xF0, 0x05, 0xB1]
    assert r.irq == 0


def test_periodic_reload_and_interrupt():
    r = Rig()
    r.write(LOAD, 100)
    r.write(CONTROL, EN | PERIODIC | IE | BIT32)
    assert r.read(VALUE) == 100
    r.run(50 * US)
    assert r.read(VALUE) == 50
    r.run(50 * US - 1)
    assert r.read(VALUE) == 1 and r.read(RIS) == 0 and r.irq == 0
    r.run(1)
    assert r.read(RIS) == 1 and r.read(MIS) == 1 and r.irq == 1
    assert r.read(VALUE) == 100  # reloaded from Load
    r.write(INTCLR, 0)
    assert r.read(RIS) == 0 and r.irq == 0
    r.run(100 * US)  # one period later: again
    assert r.irq == 1
    assert r.levels == [1, 0, 1]


def test_periodic_keeps_phase_over_many_periods():
    r = Rig()
    r.write(LOAD, 1000)
    r.write(CONTROL, EN | PERIODIC | IE | BIT32)
    fired = []
    r.dev.irqs[0].connect(lambda n, level: (fired.append(r.clock.now()), r.write(INTCLR, 1))
                          if level else None)
    r.run(10_000 * US)
    assert fired == [1000 * US * k for k in range(1, 11)]


def test_one_shot_stops_at_zero():
    r = Rig()
    r.write(LOAD, 100)
    r.write(CONTROL, EN | ONESHOT | IE | BIT32)
    r.run(100 * US - 1)
    assert r.read(VALUE) == 1 and r.irq == 0
    r.run(1)
    assert r.irq == 1 and r.read(VALUE) == 0
    r.write(INTCLR, 1)
    r.run(1000 * US)
    assert r.irq == 0 and r.read(VALUE) == 0 and r.clock.next_deadline() is None
    # re-enabling restarts from Load
    r.write(CONTROL, EN | ONESHOT | IE | BIT32)
    assert r.read(VALUE) == 100


@pytest.mark.parametrize("div, shift", [(0, 0), (DIV16, 4), (DIV256, 8)])
def test_prescale(div, shift):
    freq = 1_000_000 >> shift  # an integer division, as QEMU's (3906 Hz for /256)

    def tick_ns(k):
        return -(-k * 1_000_000_000 // freq)

    r = Rig()
    r.write(LOAD, 10)
    r.write(CONTROL, EN | PERIODIC | IE | BIT32 | div)
    r.run(tick_ns(1) - 1)
    assert r.read(VALUE) == 10
    r.run(1)
    assert r.read(VALUE) == 9
    r.run(tick_ns(10) - tick_ns(1) - 1)
    assert r.read(VALUE) == 1 and r.irq == 0
    r.run(1)
    assert r.irq == 1 and r.clock.now() == tick_ns(10)


def test_frequency_property():
    r = Rig(freq0=24_000_000)
    r.write(LOAD, 24)
    r.write(CONTROL, EN | ONESHOT | IE | BIT32)
    r.run(1 * US - 1)
    assert r.irq == 0
    r.run(1)
    assert r.irq == 1


def test_free_running_32_and_16_bit():
    r = Rig()
    r.write(LOAD, 5)  # ignored by free-running mode
    r.write(CONTROL, EN | IE | BIT32)
    assert r.read(VALUE) == 0xFFFFFFFF
    r.run(3 * US)
    assert r.read(VALUE) == 0xFFFFFFFC
    r.write(CONTROL + T1, EN | IE)  # 16-bit
    assert r.read(VALUE + T1) == 0xFFFF
    r.run(0xFFFF * US - 1)
    assert r.read(VALUE + T1) == 1 and r.irq == 0
    r.run(1)
    assert r.irq == 1 and r.read(RIS + T1) == 1 and r.read(RIS) == 0
    assert r.read(VALUE + T1) == 0xFFFF  # wrapped


def test_16_bit_mode_truncates_load():
    r = Rig()
    r.write(LOAD, 0x12345)
    r.write(CONTROL, EN | PERIODIC | IE)
    assert r.read(VALUE) == 0x2345
    assert r.read(LOAD) == 0x12345
    r.run(0x2345 * US)
    assert r.irq == 1 and r.read(VALUE) == 0x2345


def test_interrupt_enable_masks_output_only():
    r = Rig()
    r.write(LOAD, 10)
    r.write(CONTROL, EN | PERIODIC | BIT32)  # IE clear
    r.run(10 * US)
    assert r.read(RIS) == 1 and r.read(MIS) == 0 and r.irq == 0
    r.write(CONTROL, EN | PERIODIC | BIT32 | IE)
    assert r.irq == 1 and r.read(MIS) == 1


def test_combined_output_is_or_of_both_timers():
    r = Rig()
    r.write(LOAD, 10)
    r.write(LOAD + T1, 20)
    r.write(CONTROL, EN | ONESHOT | IE | BIT32)
    r.write(CONTROL + T1, EN | ONESHOT | IE | BIT32)
    r.run(10 * US)
    assert r.irq == 1 and r.read(RIS + T1) == 0
    r.run(10 * US)
    assert r.read(RIS + T1) == 1
    r.write(INTCLR, 1)
    assert r.irq == 1  # timer 1 still asserts
    r.write(INTCLR + T1, 1)
    assert r.irq == 0


def test_disable_freezes_and_load_reloads_bgload_does_not():
    r = Rig()
    r.write(LOAD, 100)
    r.write(CONTROL, EN | PERIODIC | IE | BIT32)
    r.run(30 * US)
    r.write(CONTROL, PERIODIC | IE | BIT32)  # disable
    r.run(1000 * US)
    assert r.read(VALUE) == 70 and r.irq == 0
    r.write(BGLOAD, 200)
    assert r.read(VALUE) == 70 and r.read(LOAD) == 200 and r.read(BGLOAD) == 200
    r.write(LOAD, 300)
    assert r.read(VALUE) == 300


def test_bgload_applies_at_next_reload():
    r = Rig()
    r.write(LOAD, 100)
    r.write(CONTROL, EN | PERIODIC | IE | BIT32)
    r.run(40 * US)
    r.write(BGLOAD, 10)
    assert r.read(VALUE) == 60
    r.run(60 * US)
    assert r.irq == 1 and r.read(VALUE) == 10
    r.write(INTCLR, 1)
    r.run(10 * US)
    assert r.irq == 1


def test_load_while_running_restarts_count():
    r = Rig()
    r.write(LOAD, 100)
    r.write(CONTROL, EN | PERIODIC | IE | BIT32)
    r.run(90 * US)
    r.write(LOAD, 50)
    assert r.read(VALUE) == 50
    r.run(49 * US)
    assert r.irq == 0
    r.run(1 * US)
    assert r.irq == 1


def test_zero_load_interrupts_at_once():
    r = Rig()
    r.write(CONTROL, EN | ONESHOT | IE | BIT32)
    assert r.read(RIS) == 1 and r.irq == 1 and r.read(VALUE) == 0


def test_value_writes_are_ignored():
    r = Rig()
    r.write(CONTROL, PERIODIC | IE | BIT32)
    r.write(LOAD, 100)
    r.write(VALUE, 5)
    assert r.read(VALUE) == 100


def test_snapshot_mid_count_resumes_identically():
    a = Rig()
    a.write(LOAD, 100)
    a.write(CONTROL, EN | PERIODIC | IE | BIT32)
    a.run(250 * US)
    a.write(INTCLR, 1)
    blob = a.dev.state_bytes()
    b = Rig()
    b.clock.advance(a.clock.now())
    b.dev.load_state_bytes(blob)
    assert b.read(VALUE) == a.read(VALUE) == 50
    a.run(50 * US)
    b.run(50 * US)
    assert a.irq == b.irq == 1 and a.read(VALUE) == b.read(VALUE) == 100


def test_needs_a_clock():
    with pytest.raises(QOMError):
        SP804().realize()


# Register semantics compared with QEMU's sp804 at 0x10011000 (virtual time stopped).
ORACLE_OPS = [
    ("r", CONTROL), ("r", VALUE), ("r", LOAD), ("r", RIS), ("r", MIS),
    ("w", LOAD, 1000), ("r", VALUE), ("r", BGLOAD),
    ("w", CONTROL, EN | PERIODIC | IE | BIT32), ("r", VALUE), ("r", CONTROL),
    ("w", BGLOAD, 500), ("r", VALUE), ("r", LOAD),
    ("w", CONTROL, PERIODIC | IE | BIT32), ("r", VALUE),
    ("w", CONTROL, EN | PERIODIC | IE | BIT32), ("r", VALUE),
    ("w", CONTROL, EN | IE | BIT32), ("r", VALUE),
    ("w", CONTROL, 0), ("w", LOAD, 0), ("w", CONTROL, EN | ONESHOT | IE | BIT32),
    ("r", RIS), ("r", MIS), ("r", VALUE), ("w", INTCLR, 0), ("r", RIS),
    ("w", CONTROL + T1, EN | ONESHOT | BIT32), ("r", RIS + T1), ("r", MIS + T1),
    ("w", VALUE + T1, 1234), ("r", VALUE + T1),
    ("w", LOAD + T1, 777), ("r", VALUE + T1), ("r", BGLOAD + T1),
] + [("r", 0xFE0 + 4 * i) for i in range(8)]


def test_registers_match_qemu():
    expected = qemu_vexpress([(op[0], 0x10011000 + op[1]) + op[2:] for op in ORACLE_OPS])
    r = Rig()
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(op[1]))
        else:
            r.write(op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]
