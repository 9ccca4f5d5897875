"""Black-box tests of the MC146818 RTC: CMOS through ports 0x70/0x71, on the virtual clock."""
import pytest

from pysystem.clock import VirtualClock
from pysystem.devices.mc146818 import (MC146818, UIP_HOLD_NS, civil_from_days,
                                       days_from_civil)

from isa_rig import IsaRig, run_clock
from qtest_malta_oracle import qemu_malta

NS = 1_000_000_000
A, B, C, D = 0x0A, 0x0B, 0x0C, 0x0D
UIP, SET, PIE, AIE, UIE, DM, H24 = 0x80, 0x80, 0x40, 0x20, 0x10, 0x04, 0x02
IRQF, PF, AF, UF = 0x80, 0x40, 0x20, 0x10


class Rtc:
    def __init__(self):
        self.rig = IsaRig()
        self.dev = self.rig.rtc
        self.clock = self.rig.clock
        for op in (("outb", 0x43, 0x30), ("outb", 0x40, 1), ("outb", 0x40, 0)):
            self.rig.outb(op[1], op[2])                # quiet the PIT: mode 0, stops at once

    def rd(self, index):
        self.rig.outb(0x70, index)
        return self.rig.inb(0x71)

    def wr(self, index, value):
        self.rig.outb(0x70, index)
        self.rig.outb(0x71, value)

    def run(self, ns):
        self.rig.run(ns)

    @property
    def irq(self):
        return self.dev.irqs[0].level

    def time(self):
        return [self.rd(i) for i in (0, 2, 4, 6, 7, 8, 9, 0x32)]


def test_civil_date_arithmetic_round_trips():
    for days in (-1, 0, 59, 365, 11016, 20794, 2932896):
        assert days_from_civil(*civil_from_days(days)) == days
    assert civil_from_days(0) == (1970, 1, 1)
    assert days_from_civil(2026, 12, 7) == 20794
    assert days_from_civil(2026, 13, 1) == days_from_civil(2027, 1, 1)   # months wrap


def test_power_on_time_follows_rtc_base_and_ticks():
    r = Rtc()
    assert r.time() == [0x30, 0x20, 0x10, 0x02, 0x07, 0x12, 0x26, 0x20]
    assert [r.rd(i) for i in (A, B, C, D)] == [0x26, 0x02, 0x00, 0x80]
    r.run(NS - 1)
    assert r.rd(0) == 0x30
    r.run(1)
    assert r.rd(0) == 0x31
    r.run(30 * NS)
    assert r.time()[:3] == [0x01, 0x21, 0x10]
    assert r.dev.time_text() == "2026-12-07T10:21:01"


def test_uip_window_is_the_last_244us_of_each_second():
    r = Rtc()
    r.run(NS - UIP_HOLD_NS - 1)
    assert not r.rd(A) & UIP
    r.run(1)
    assert r.rd(A) & UIP
    r.run(UIP_HOLD_NS - 1)
    assert r.rd(A) & UIP
    r.run(1)
    assert not r.rd(A) & UIP and r.rd(0) == 0x31


def test_binary_and_12_hour_modes():
    r = Rtc()
    r.wr(B, H24 | DM)
    assert r.time() == [30, 20, 10, 2, 7, 12, 26, 20]
    r.wr(B, 0)                                         # BCD, 12-hour
    r.run(3 * 3600 * NS)                               # 13:20:30 is 1 PM
    assert r.rd(4) == 0x81
    r.wr(B, DM)
    assert r.rd(4) == 0x81
    r.run(11 * 3600 * NS)                              # 00:20:30 is 12 AM
    assert r.rd(4) == 12


def test_setting_the_time_with_set_bit():
    r = Rtc()
    r.run(NS // 4)
    r.wr(B, H24 | SET)
    for index, value in ((0, 0x59), (2, 0x59), (4, 0x23), (7, 0x31), (8, 0x12), (9, 0x99), (0x32, 0x19)):
        r.wr(index, value)
    r.run(5 * NS)                                      # frozen while SET
    assert r.rd(0) == 0x59 and not r.rd(A) & UIP
    r.wr(B, H24)
    assert r.dev.time_text() == "1999-12-31T23:59:59"
    r.run(NS - NS // 4 - 1)                            # the sub-second phase was kept
    assert r.rd(0) == 0x59
    r.run(1)
    assert r.time() == [0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]


def test_update_interrupt_every_second():
    r = Rtc()
    r.wr(B, H24 | UIE)
    r.run(NS - 1)
    assert not r.irq
    r.run(1)
    assert r.irq and r.rd(C) == IRQF | UF
    assert not r.irq and r.rd(C) == 0
    r.run(NS)
    assert r.irq
    assert r.rig.bus.levels[8] == 1                    # ISA IRQ 8 ...
    assert r.rig.replay([("outb", 0xA0, 0x0A), ("inb", 0xA0)]) == [0x01]   # ... at the slave


def test_alarm_interrupt():
    r = Rtc()
    r.wr(1, 0x45)
    r.wr(3, 0x20)
    r.wr(5, 0x10)                                      # 10:20:45
    r.wr(B, H24 | AIE)
    r.rd(C)
    r.run(14 * NS)
    assert not r.irq
    r.run(NS)
    assert r.irq and r.rd(C) & (IRQF | AF) == IRQF | AF
    r.wr(1, 0xC0)                                      # every second ("don't care" seconds)
    r.rd(C)
    r.run(NS)
    assert r.irq and r.rd(C) & AF


def test_alarm_a_day_away_arms_one_timer():
    r = Rtc()
    r.wr(1, 0x29)
    r.wr(3, 0x20)
    r.wr(5, 0x10)                                      # 10:20:29: a second short of a day away
    r.run(NS)                                          # UF gets set
    r.wr(B, H24 | AIE)
    deadline = r.dev.update_timer.deadline
    assert deadline == (86400 - 1) * NS
    r.run(deadline - r.clock.now())
    assert r.irq and r.rd(C) & AF


def test_periodic_interrupt_rate():
    r = Rtc()
    r.wr(A, 0x26)                                      # 1024 Hz
    r.wr(B, H24 | PIE)
    count = 0
    for _ in range(100):
        r.run(NS // 1024)
        if r.irq:
            count += 1
            assert r.rd(C) & (IRQF | PF) == IRQF | PF
    assert count in (99, 100)
    r.wr(B, H24)
    assert not r.dev.periodic_timer.pending


def test_divider_reset_freezes_and_restarts_half_a_second_later():
    r = Rtc()
    r.wr(A, 0x76)
    r.run(10 * NS)
    assert r.rd(0) == 0x30
    r.wr(A, 0x26)
    r.run(NS // 2 - 1)
    assert r.rd(0) == 0x30
    r.run(1)
    assert r.rd(0) == 0x31


def test_cmos_ram_survives_reset_and_index_reads_ff():
    r = Rtc()
    for i in range(0x0E, 0x80):
        r.wr(i, i ^ 0x5A)
    r.wr(B, H24 | PIE | AIE | UIE)
    r.dev.reset()
    ram = [i for i in range(0x0E, 0x80) if i != 0x32]    # 0x32 is the century
    assert [r.rd(i) for i in ram] == [i ^ 0x5A for i in ram]
    assert r.rd(B) == H24 | UIE
    assert r.rig.inb(0x70) == 0xFF
    r.rig.outb(0x70, 0x80 | 0x20)                      # bit 7 (NMI mask) is dropped
    assert r.rig.inb(0x71) == 0x20 ^ 0x5A


def test_uip_polling_costs_few_reads_and_measures_one_second():
    """Linux's Malta calibration: wait for UIP's falling edge, then time a whole second."""
    r = Rtc()
    reads = [0]

    def uip():
        reads[0] += 1
        value = r.rd(A) & UIP
        r.run(40)                                      # the loop's own instructions
        return value

    def falling_edge():
        while uip():
            pass
        while not uip():
            pass
        while uip():
            pass

    r.run(NS // 3)
    falling_edge()
    start = r.clock.now()
    falling_edge()
    elapsed = r.clock.now() - start
    assert abs(elapsed - NS) <= 200                    # one second of guest time passed ...
    assert reads[0] < 400                              # ... without a second of polling
    assert r.clock.now() < 3 * NS


def test_other_accesses_stop_the_warp():
    r = Rtc()
    r.run(NS // 3)
    before = r.clock.now()
    for _ in range(10):
        r.rd(A)
        r.rd(0)                                        # mc146818_get_time reads between
    assert r.clock.now() == before


def test_snapshot_round_trip_keeps_time_and_timers():
    r = Rtc()
    r.wr(B, H24 | UIE)
    r.wr(0x40, 0x77)
    r.run(NS // 2)
    blob = r.dev.state_bytes()
    other = Rtc()
    other.clock.advance(r.clock.now())
    other.dev.load_state_bytes(blob)
    assert other.rd(0x40) == 0x77 and other.dev.update_timer.deadline == NS
    other.run(NS // 2)
    assert other.irq


# --- against QEMU (-rtc base=...,clock=vm: the clock stands still) ------------------
def test_against_qemu():
    time_regs = [op for i in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x32, A, B, C, D)
                 for op in (("outb", 0x70, i), ("inb", 0x71))]
    ops = list(time_regs) + [("inb", 0x70)]
    ops += [("outb", 0x70, B), ("outb", 0x71, 0x06)] + time_regs          # binary
    ops += [("outb", 0x70, B), ("outb", 0x71, 0x00)] + time_regs          # BCD, 12 hours
    ops += [("outb", 0x70, B), ("outb", 0x71, 0x82)]                       # SET
    for index, value in ((0, 0x59), (2, 0x59), (4, 0x23), (6, 0x05), (7, 0x31), (8, 0x12),
                         (9, 0x99), (0x32, 0x19)):
        ops += [("outb", 0x70, index), ("outb", 0x71, value)]
    ops += time_regs + [("outb", 0x70, B), ("outb", 0x71, 0x02)] + time_regs
    for i in (0x0E, 0x20, 0x40, 0x7F):
        ops += [("outb", 0x70, i), ("outb", 0x71, i + 1), ("outb", 0x70, i), ("inb", 0x71)]
    ops += [("outb", 0x70, 0x85), ("outb", 0x71, 0x12), ("outb", 0x70, 5), ("inb", 0x71)]
    ops += [("outb", 0x70, A), ("outb", 0x71, 0xA3), ("inb", 0x71)]        # UIP is read-only
    ops += [("outb", 0x70, C), ("outb", 0x71, 0xFF), ("inb", 0x71)]
    ops += [("outb", 0x70, D), ("outb", 0x71, 0x00), ("inb", 0x71)]
    ops += [("outb", 0x70, B), ("outb", 0x71, 0x92), ("inb", 0x71)]        # SET drops UIE
    ours = IsaRig().replay(ops)
    assert ours == qemu_malta(ops)
