"""Black-box MMIO tests of the PL031 RTC on a virtual clock with a fixed -rtc base."""
import calendar
import time

import pytest

from pysystem.clock import VirtualClock
from pysystem.devices.pl031 import PL031
from pysystem.qom import QOMError

from qtest_oracle import qemu_vexpress

DR, MR, LR, CR, IMSC, RIS, MIS, ICR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C
SEC = 1_000_000_000
BASE = "2020-01-02T03:04:05"
BASE_SECONDS = calendar.timegm(time.strptime(BASE, "%Y-%m-%dT%H:%M:%S"))


class Rig:
    def __init__(self):
        self.clock = VirtualClock(shift=0)
        self.clock.set_rtc_base(BASE)
        self.dev = PL031()
        self.dev.clock = self.clock
        self.dev.realize()
        self.dev.reset()
        self.region = self.dev.mmio[0]

    def read(self, off):
        return self.region.dispatch_read(off, 4, False)

    def write(self, off, value):
        assert self.region.dispatch_write(off, value, 4, False)

    def run(self, ns):
        self.clock.advance(ns)
        self.clock.run_timers()

    @property
    def irq(self):
        return self.dev.irqs[0].level


def test_count_follows_rtc_base_and_virtual_time():
    r = Rig()
    assert BASE_SECONDS == 1577934245
    assert r.read(DR) == BASE_SECONDS
    r.run(SEC - 1)
    assert r.read(DR) == BASE_SECONDS
    r.run(1)
    assert r.read(DR) == BASE_SECONDS + 1
    r.clock.warp_ns += 3600 * SEC  # an idle hour
    assert r.read(DR) == BASE_SECONDS + 3601


def test_ids_and_control():
    r = Rig()
    assert [r.read(0xFE0 + 4 * i) for i in range(8)] == [0x31, 0x10, 0x14, 0x00,
                                                         0x0D, 0xF0, 0x05, 0xB1]
    assert r.read(CR) == 1
    r.write(CR, 0)
    assert r.read(CR) == 1


def test_match_interrupt_at_the_second():
    r = Rig()
    r.write(IMSC, 1)
    r.run(SEC // 3)
    r.write(MR, BASE_SECONDS + 3)
    r.run(3 * SEC - SEC // 3 - 1)
    assert r.irq == 0 and r.read(RIS) == 0
    r.run(1)
    assert r.irq == 1 and r.read(RIS) == 1 and r.read(MIS) == 1
    assert r.read(DR) == BASE_SECONDS + 3
    r.write(ICR, 1)
    assert r.irq == 0 and r.read(RIS) == 0


def test_match_is_masked_by_imsc():
    r = Rig()
    r.write(MR, BASE_SECONDS + 1)
    r.run(SEC)
    assert r.read(RIS) == 1 and r.read(MIS) == 0 and r.irq == 0
    r.write(IMSC, 1)
    assert r.irq == 1


def test_match_now_fires_at_once():
    r = Rig()
    r.write(IMSC, 1)
    r.write(MR, BASE_SECONDS)
    assert r.irq == 1


def test_load_sets_the_count():
    r = Rig()
    r.run(SEC // 2)
    r.write(LR, 1000)
    assert r.read(DR) == 1000 and r.read(LR) == 1000
    r.run(SEC // 2)  # the next wall-clock second
    assert r.read(DR) == 1001
    r.write(IMSC, 1)
    r.write(MR, 1005)
    r.run(4 * SEC - 1)
    assert r.irq == 0
    r.run(1)
    assert r.irq == 1


def test_count_wraps_at_32_bits():
    r = Rig()
    r.write(LR, 0xFFFFFFFF)
    r.write(MR, 1)
    r.write(IMSC, 1)
    r.run(SEC)
    assert r.read(DR) == 0 and r.irq == 0
    r.run(SEC)
    assert r.read(DR) == 1 and r.irq == 1


def test_reset_keeps_the_guest_time_but_not_the_alarm():
    r = Rig()
    r.write(LR, 5000)
    r.write(MR, 5010)
    r.write(IMSC, 1)
    r.dev.reset()
    assert r.read(DR) == 5000 and r.read(MR) == 0 and r.read(IMSC) == 0
    r.run(20 * SEC)
    assert r.read(RIS) == 0


def test_snapshot_keeps_pending_alarm():
    a = Rig()
    a.write(IMSC, 1)
    a.write(LR, 7)
    a.write(MR, 9)
    blob = a.dev.state_bytes()
    b = Rig()
    b.dev.load_state_bytes(blob)
    assert b.read(DR) == 7
    b.run(2 * SEC)
    assert b.irq == 1


def test_needs_a_clock():
    with pytest.raises(QOMError):
        PL031().realize()


ORACLE_OPS = [
    ("r", DR), ("r", CR), ("r", MR), ("r", LR), ("r", IMSC), ("r", RIS), ("r", MIS),
    ("w", IMSC, 0xFF), ("r", IMSC), ("w", MR, BASE_SECONDS + 10), ("r", MR), ("r", RIS),
    ("w", MR, BASE_SECONDS), ("r", RIS), ("r", MIS), ("w", ICR, 1), ("r", RIS),
    ("w", LR, 12345), ("r", DR), ("r", LR), ("w", CR, 0), ("r", CR),
] + [("r", 0xFE0 + 4 * i) for i in range(8)]


def test_registers_match_qemu():
    expected = qemu_vexpress([(op[0], 0x10017000 + op[1]) + op[2:] for op in ORACLE_OPS],
                             ["-rtc", f"base={BASE},clock=vm"])
    r = Rig()
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(op[1]))
        else:
            r.write(op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]
