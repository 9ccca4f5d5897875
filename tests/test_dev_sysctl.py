"""Black-box MMIO tests of the vexpress system registers (realview_sysctl)."""
import pytest

from pysystem import log
from pysystem.clock import VirtualClock
from pysystem.devices.vexpress_sysctl import A9_DB_CLOCKS, A9_DB_VOLTAGES, VexpressSysctl
from pysystem.qom import QOMError

from qtest_oracle import qemu_vexpress

BASE = 0x10000000
SYS_ID, SYS_LED, SYS_LOCK, SYS_100HZ = 0x00, 0x08, 0x20, 0x24
SYS_FLAGS, SYS_FLAGSCLR, SYS_NVFLAGS, SYS_NVFLAGSCLR = 0x30, 0x34, 0x38, 0x3C
SYS_RESETCTL, SYS_PCICTL, SYS_MCI, SYS_CLCD, SYS_24MHZ = 0x40, 0x44, 0x48, 0x50, 0x5C
SYS_PROCID0, SYS_PROCID1 = 0x84, 0x88
SYS_CFGDATA, SYS_CFGCTRL, SYS_CFGSTAT = 0xA0, 0xA4, 0xA8
START, WRITE = 1 << 31, 1 << 30


def cfgctrl(function, site, device, write=False, position=0, dcc=0):
    return START | (WRITE if write else 0) | dcc << 26 | function << 20 | site << 16 | \
        position << 12 | device


class Board:
    """The sysctl as vexpress-a9 configures it, with the board's callbacks recorded."""

    def __init__(self, **props):
        self.clock = VirtualClock(shift=0)
        self.dev = VexpressSysctl(sys_id=0x1190F500, proc_id=0x0C000191,
                                  db_voltage=A9_DB_VOLTAGES, db_clock=A9_DB_CLOCKS, **props)
        self.dev.clock = self.clock
        self.events = []
        self.dev.on_shutdown = lambda: self.events.append("shutdown")
        self.dev.on_reset = lambda: self.events.append("reset")
        self.dev.realize()
        self.dev.reset()
        self.region = self.dev.mmio[0]

    def read(self, off, size=4):
        return self.region.dispatch_read(off, size, False)

    def write(self, off, value, size=4):
        assert self.region.dispatch_write(off, value, size, False)

    def cfg(self, ctrl, data=0):
        self.write(SYS_CFGSTAT, 0)
        self.write(SYS_CFGDATA, data)
        self.write(SYS_CFGCTRL, ctrl)
        return self.read(SYS_CFGSTAT), self.read(SYS_CFGDATA)


def test_ids():
    b = Board()
    assert b.read(SYS_ID) == 0x1190F500
    assert b.read(SYS_PROCID0) == 0x0C000191
    assert b.read(SYS_PROCID1) == 0xFF000000
    assert b.read(SYS_PCICTL) == 1
    assert b.dev.mmio[0].size == 0x1000


def test_leds_flags_and_nvflags_survive_reset():
    b = Board()
    b.write(SYS_LED, 0xA5)
    assert b.read(SYS_LED) == 0xA5
    b.write(SYS_FLAGS, 0x0F0)
    b.write(SYS_FLAGS, 0x00F)
    b.write(SYS_FLAGSCLR, 0x030)
    assert b.read(SYS_FLAGS) == 0x0CF
    b.write(SYS_NVFLAGS, 0x11)
    b.write(SYS_NVFLAGSCLR, 0x01)
    assert b.read(SYS_NVFLAGS) == 0x10
    b.dev.reset()
    assert b.read(SYS_FLAGS) == 0 and b.read(SYS_LED) == 0
    assert b.read(SYS_NVFLAGS) == 0x10


def test_lock_register():
    b = Board()
    b.write(SYS_LOCK, 0xA05F)
    assert b.read(SYS_LOCK) == 0xA05F
    b.write(SYS_LOCK, 0xFFFF1234)
    assert b.read(SYS_LOCK) == 0x1234


def test_vexpress_raz_wi_registers():
    b = Board()
    for off in (SYS_RESETCTL, SYS_CLCD, 0x4C, 0x0C, 0x64):
        b.write(off, 0xFFFFFFFF)
        assert b.read(off) == 0, hex(off)
    assert b.events == []


def test_counters_follow_virtual_time():
    b = Board()
    assert b.read(SYS_24MHZ) == 0 and b.read(SYS_100HZ) == 0
    b.clock.advance(417)  # ten 24 MHz ticks take 416.7 ns
    assert b.read(SYS_24MHZ) == 10
    b.clock.advance(2_500_000_000)
    assert b.read(SYS_24MHZ) == (b.clock.now() * 24 // 1000)
    assert b.read(SYS_100HZ) == 250
    # an idle warp counts as time too
    b.clock.warp_ns += 10_000_000
    assert b.read(SYS_100HZ) == 251


def test_oscillator_queries():
    b = Board()
    # motherboard OSC1 is the CLCD clock: 23.75 MHz
    assert b.cfg(cfgctrl(1, 0, 1)) == (1, 23_750_000)
    assert b.cfg(cfgctrl(1, 0, 0)) == (1, 50_000_000)
    assert b.cfg(cfgctrl(1, 0, 2)) == (1, 24_000_000)
    # daughterboard oscillators from the db-clock property
    assert [b.cfg(cfgctrl(1, 1, i))[1] for i in range(3)] == list(A9_DB_CLOCKS)
    # set and read back an oscillator; reset restores it
    assert b.cfg(cfgctrl(1, 1, 1, write=True), 25_000_000)[0] == 1
    assert b.cfg(cfgctrl(1, 1, 1)) == (1, 25_000_000)
    b.dev.reset()
    assert b.cfg(cfgctrl(1, 1, 1)) == (1, 23_750_000)
    # no such oscillator: complete with error
    assert b.cfg(cfgctrl(1, 1, 3))[0] == 3
    assert b.cfg(cfgctrl(1, 0, 6))[0] == 3


def test_voltage_queries():
    b = Board()
    assert [b.cfg(cfgctrl(2, 1, i))[1] for i in range(6)] == list(A9_DB_VOLTAGES)
    assert b.cfg(cfgctrl(2, 0, 0)) == (1, 3_300_000)
    assert b.cfg(cfgctrl(2, 1, 6))[0] == 3
    assert b.cfg(cfgctrl(2, 2, 0))[0] == 3  # site 2 (second daughterboard) is absent


def test_cfgctrl_start_bit_reads_zero_and_reserved_bits():
    b = Board()
    b.write(SYS_CFGCTRL, (3 << 18) | cfgctrl(1, 0, 1))
    assert b.read(SYS_CFGCTRL) == cfgctrl(1, 0, 1) & ~START
    b.write(SYS_CFGSTAT, 0xFF)
    assert b.read(SYS_CFGSTAT) == 3


def test_shutdown_and_reboot_reach_the_board():
    b = Board()
    assert b.cfg(cfgctrl(8, 0, 0, write=True))[0] == 1
    assert b.events == ["shutdown"]
    assert b.cfg(cfgctrl(9, 0, 0, write=True))[0] == 1
    assert b.events == ["shutdown", "reset"]
    # a read of the function, or another device, does nothing
    assert b.cfg(cfgctrl(8, 0, 0))[0] == 3
    assert b.cfg(cfgctrl(9, 0, 1, write=True))[0] == 3
    assert b.events == ["shutdown", "reset"]


def test_without_callbacks_requests_are_ignored():
    b = Board()
    b.dev.on_shutdown = None
    assert b.cfg(cfgctrl(8, 0, 0, write=True))[0] == 1


def test_unimplemented_function_logs(tmp_path):
    b = Board()
    path = tmp_path / "log"
    log.set_mask("unimp")
    log.set_file(str(path))
    try:
        assert b.cfg(cfgctrl(4, 1, 0))[0] == 3  # temperature
    finally:
        log.set_file(None)
        log.set_mask("")
    assert "Unimplemented SYS_CFGCTRL read of function 0x4" in path.read_text()


def test_mmc_card_detect():
    b = Board(mmc_cardin=True)
    assert b.read(SYS_MCI) == 1
    b.dev.gpio_in(0, 1)  # write-protect
    assert b.read(SYS_MCI) == 3
    b.dev.gpio_in(1, 0)
    assert b.read(SYS_MCI) == 2
    b.dev.reset()  # the wires keep their levels across reset
    assert b.read(SYS_MCI) == 2


def test_bad_properties_are_refused():
    dev = VexpressSysctl(db_voltage="1,2,x")
    dev.clock = VirtualClock()
    with pytest.raises(QOMError):
        dev.realize()
    dev = VexpressSysctl(db_clock=",".join(["1"] * 17))
    dev.clock = VirtualClock()
    with pytest.raises(QOMError):
        dev.realize()
    with pytest.raises(QOMError):
        VexpressSysctl().realize()  # no clock


def test_state_round_trip_keeps_oscillators():
    b = Board()
    b.cfg(cfgctrl(1, 0, 1, write=True), 12_345_678)
    blob = b.dev.state_bytes()
    other = Board()
    other.dev.load_state_bytes(blob)
    assert other.cfg(cfgctrl(1, 0, 1)) == (1, 12_345_678)


# The sequence run on QEMU's vexpress-a9 and on ours; every value read must agree.
ORACLE_OPS = [
    ("r", SYS_ID), ("r", 0x04), ("r", SYS_LED), ("w", SYS_LED, 0x5A), ("r", SYS_LED),
    ("r", SYS_PROCID0), ("r", SYS_PROCID1), ("r", SYS_PCICTL), ("r", SYS_MCI),
    ("w", SYS_LOCK, 0xA05F), ("r", SYS_LOCK), ("w", SYS_LOCK, 0x1234ABCD), ("r", SYS_LOCK),
    ("w", SYS_FLAGS, 0xF0F0), ("w", SYS_FLAGSCLR, 0x00F0), ("r", SYS_FLAGS),
    ("w", SYS_RESETCTL, 0xFF), ("r", SYS_RESETCTL), ("w", SYS_CLCD, 0xFFFF), ("r", SYS_CLCD),
    ("r", 0x28), ("w", 0x28, 0x77), ("r", 0x28),
] + [
    op for fn, site, dev in [(1, 0, d) for d in range(7)] + [(1, 1, d) for d in range(4)]
    + [(2, 1, d) for d in range(7)] + [(2, 0, 0), (2, 0, 1), (4, 0, 0), (1, 2, 0)]
    for op in (("w", SYS_CFGSTAT, 0), ("w", SYS_CFGCTRL, cfgctrl(fn, site, dev)),
               ("r", SYS_CFGSTAT), ("r", SYS_CFGDATA), ("r", SYS_CFGCTRL))
] + [
    ("w", SYS_CFGDATA, 30_000_000), ("w", SYS_CFGCTRL, cfgctrl(1, 1, 1, write=True)),
    ("r", SYS_CFGSTAT), ("w", SYS_CFGCTRL, cfgctrl(1, 1, 1)), ("r", SYS_CFGDATA),
    ("w", SYS_CFGCTRL, (3 << 18) | 0x123), ("r", SYS_CFGCTRL),
    ("w", SYS_CFGSTAT, 0xFF), ("r", SYS_CFGSTAT),
]


def test_registers_match_qemu():
    expected = qemu_vexpress([(op[0], BASE + op[1]) + op[2:] for op in ORACLE_OPS])
    b = Board()
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(b.read(op[1]))
        else:
            b.write(op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]


def test_mmc_lines_connect_like_irqs():
    from pysystem.irq import IRQ
    b = Board()
    cardin, wprot = IRQ("card-inserted"), IRQ("card-read-only")
    cardin.set(1)  # already high when the board connects it
    cardin.connect(b.dev.gpio_in, 1)
    wprot.connect(b.dev.gpio_in, 0)
    assert b.read(SYS_MCI) == 1
    wprot.set(1)
    assert b.read(SYS_MCI) == 3
    cardin.set(0)
    assert b.read(SYS_MCI) == 2
