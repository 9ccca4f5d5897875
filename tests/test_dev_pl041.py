"""Black-box MMIO tests of the PL041 AACI and its LM4549 codec (no sound)."""
import pytest

from pysystem.devices.pl041 import PL041
from pysystem.qom import QOMError

from qtest_oracle import qemu_vexpress

TXCR1, SR1, ISR1, IE1 = 0x04, 0x08, 0x0C, 0x10
SL1RX, SL1TX, SL2RX, SL2TX, SLFR = 0x50, 0x54, 0x58, 0x5C, 0x68
INTCLR, MAINCR, ALLINTS, DR1 = 0x74, 0x78, 0x84, 0x90
TXFE, TXHE, TXFF, TXUNDERRUN, RXFE = 0x2, 0x8, 0x20, 0x200, 0x1
TXEN, SLOT3, SLOT4, FEN, COMPACT = 0x1, 0x8, 0x10, 0x10000, 0x8000
AACIFE, SL1RXEN, SL1TXEN, SL2RXEN, SL2TXEN = 0x1, 0x8, 0x10, 0x20, 0x40
MAINCR_ON = AACIFE | SL1RXEN | SL1TXEN | SL2RXEN | SL2TXEN


class Rig:
    def __init__(self, depth=512):
        self.dev = PL041(nc_fifo_depth=depth)
        self.dev.realize()
        self.dev.reset()
        self.region = self.dev.mmio[0]

    def read(self, off):
        return self.region.dispatch_read(off, 4, False)

    def write(self, off, value):
        self.region.dispatch_write(off, value, 4, False)

    def codec_read(self, reg):
        """As Linux's aaci_ac97_read: address with the read bit, then poll and read."""
        self.write(SL1TX, (reg << 12) | (1 << 19))
        assert self.read(SLFR) & 0x140 == 0x140      # SL1RXVALID | SL2RXVALID
        assert (self.read(SL1RX) >> 12) & 0x7F == reg
        return self.read(SL2RX) >> 4

    def codec_write(self, reg, value):
        self.write(SL2TX, value << 4)
        self.write(SL1TX, reg << 12)


def test_reset_values_and_ids():
    r = Rig()
    assert r.read(SR1) == TXFE | RXFE | TXHE and r.read(ISR1) == 0 and r.read(ALLINTS) == 0
    assert r.read(SLFR) == 0xA80
    assert [r.read(0xFE0 + 4 * i) for i in range(8)] == [0x41, 0x10, 0x04, 0x29,
                                                         0x0D, 0xF0, 0x05, 0xB1]
    assert Rig(8).read(0xFEC) == 0x01 and Rig(2048).read(0xFEC) == 0x39


def test_bad_fifo_depth_is_refused():
    with pytest.raises(QOMError, match="fifo depth"):
        PL041(nc_fifo_depth=16).realize()


def test_codec_registers():
    r = Rig()
    r.write(MAINCR, MAINCR_ON)
    assert r.codec_read(0x7C) == 0x4E53 and r.codec_read(0x7E) == 0x4331   # vendor "NSC1"
    assert r.codec_read(0x02) == 0x8008 and r.codec_read(0x2C) == 0xBB80
    r.codec_write(0x02, 0x0404)
    assert r.codec_read(0x02) == 0x0404
    r.codec_write(0x2C, 22050)
    assert r.codec_read(0x2C) == 22050
    r.codec_write(0x2C, 100)                 # QEMU 7.2 takes any rate
    assert r.codec_read(0x2C) == 100
    r.codec_write(0x26, 0xFF00)              # powerdown keeps its status bits
    assert r.codec_read(0x26) == 0xFF0F
    r.codec_write(0x7C, 0)                   # read-only
    assert r.codec_read(0x7C) == 0x4E53
    r.codec_write(0x00, 0)                   # codec reset
    assert r.codec_read(0x02) == 0x8008 and r.codec_read(0x2C) == 0xBB80


def test_fifo_depth_as_linux_sizes_it():
    """aaci_size_fifo: enable without slots, write until TXFF, count the writes."""
    r = Rig()
    r.write(MAINCR, MAINCR_ON)
    r.write(TXCR1, FEN | TXEN)
    n = 0
    while not r.read(SR1) & TXFF and n < 4096:
        r.write(DR1, 0)
        n += 1
    assert n == 512
    assert r.read(SR1) & (TXFE | TXHE) == 0
    r.write(TXCR1, 0)
    r.write(MAINCR, MAINCR_ON & ~AACIFE)     # re-initialise: FIFO emptied
    assert r.read(SR1) == TXFE | RXFE | TXHE and r.read(MAINCR) == 0
    r.write(MAINCR, MAINCR_ON)
    assert r.read(SR1) == TXFE | RXFE | TXHE


def test_compact_mode_and_playback_interrupts():
    r = Rig(depth=8)
    lines = []
    r.dev.irqs[0].connect(lambda n, level: lines.append(level))
    r.write(MAINCR, MAINCR_ON)
    r.write(IE1, 0x24)                       # TX and underrun interrupts
    assert lines == [1]                      # half empty at once
    r.write(TXCR1, FEN | COMPACT)            # compact, not enabled: two samples a write
    r.write(DR1, 0x11112222)
    r.write(DR1, 0x33334444)
    assert r.dev.tx_level == 4 and r.read(SR1) & TXHE == 0 and lines == [1, 0]
    r.write(TXCR1, FEN | COMPACT | TXEN | SLOT3 | SLOT4)
    # the codec takes every pair: empty again, underrun flagged
    assert r.read(SR1) & (TXFE | TXHE | TXUNDERRUN) == TXFE | TXHE | TXUNDERRUN
    assert r.read(ISR1) & 0x25 == 0x25 and lines == [1, 0, 1]
    r.write(INTCLR, 0x20)
    assert r.read(SR1) & TXUNDERRUN == 0 and r.read(ALLINTS) & 0x20 == 0


ORACLE_OPS = [
    ("r", SR1), ("r", ISR1), ("r", SLFR), ("r", ALLINTS), ("r", 0xFEC), ("r", 0x200),
    ("w", MAINCR, MAINCR_ON), ("r", SR1), ("r", ISR1), ("r", ALLINTS), ("r", MAINCR),
    ("w", SL1TX, (0x7C << 12) | (1 << 19)), ("r", SLFR), ("r", SL1RX), ("r", SL2RX),
    ("w", SL2TX, 0x0404 << 4), ("w", SL1TX, 0x02 << 12), ("r", SLFR),
    ("w", SL1TX, (0x02 << 12) | (1 << 19)), ("r", SL2RX),
    ("w", SL2TX, 100 << 4), ("w", SL1TX, 0x2C << 12),
    ("w", SL1TX, (0x2C << 12) | (1 << 19)), ("r", SL2RX),
    ("w", IE1, 0x25), ("w", TXCR1, FEN | TXEN), ("r", TXCR1),
    *[("w", DR1, i) for i in range(300)], ("r", SR1), ("r", ISR1), ("r", DR1),
    ("w", TXCR1, FEN | TXEN | SLOT3 | SLOT4), ("r", SR1), ("r", ISR1), ("r", ALLINTS),
    ("w", INTCLR, 0x20), ("r", SR1), ("r", ISR1),
    ("w", TXCR1, FEN | TXEN | COMPACT), *[("w", DR1, 0x10001) for _ in range(3)], ("r", SR1),
    ("w", MAINCR, 0), ("r", SR1), ("r", ISR1), ("r", SLFR), ("r", TXCR1), ("r", IE1),
]


def test_registers_match_qemu():
    expected = qemu_vexpress([(op[0], 0x10004000 + op[1]) + op[2:] for op in ORACLE_OPS])
    r = Rig()
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(op[1]))
        else:
            r.write(op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]
