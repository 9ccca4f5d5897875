"""Black-box MMIO tests of the PL110/PL111 CLCD controller (registers only)."""
from pysystem.devices.pl111 import PL110, PL111

from qtest_oracle import qemu_vexpress

TIM0, TIM1, TIM2, TIM3, UPBASE, LPBASE = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
R18, R1C, RIS, MIS, ICR, UPCURR, LPCURR, PAL = 0x18, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x30, 0x200


class Rig:
    def __init__(self, cls=PL111):
        self.dev = cls()
        self.dev.realize()
        self.dev.reset()
        self.region = self.dev.mmio[0]

    def read(self, off):
        return self.region.dispatch_read(off, 4, False)

    def write(self, off, value):
        self.region.dispatch_write(off, value, 4, False)


def periphid(r):
    return sum(r.read(0xFE0 + 4 * i) << (8 * i) for i in range(4))


def test_ids_as_linux_clcd_prints_them():
    r = Rig(PL111)
    pid = periphid(r)
    # "PL111 designer 41 rev2": part, designer and revision fields of the AMBA ID
    assert (pid & 0xFFF, (pid >> 12) & 0xFF, (pid >> 20) & 0xF) == (0x111, 0x41, 2)
    assert [r.read(0xFF0 + 4 * i) for i in range(4)] == [0x0D, 0xF0, 0x05, 0xB1]
    assert periphid(Rig(PL110)) & 0xFFFFF == 0x41110


def test_registers_hold_values_and_control_imsc_swap():
    r = Rig(PL111)
    for off, v in ((TIM0, 0x3F1F3F9C), (TIM1, 0x090B61DF), (TIM2, 0x067F1800),
                   (TIM3, 0x1), (UPBASE, 0x4C000000), (LPBASE, 0x4C100000)):
        r.write(off, v)
        assert r.read(off) == v
    assert r.read(UPCURR) == 0x4C000000 and r.read(LPCURR) == 0x4C100000
    r.write(R18, 0x1829)                    # PL111: control at 0x18
    r.write(R1C, 0x1E)                      # PL111: interrupt mask at 0x1c
    assert r.dev.control == 0x1829 and r.dev.imsc == 0x1E
    p = Rig(PL110)
    p.write(R18, 0x1E)
    p.write(R1C, 0x1829)
    assert p.dev.control == 0x1829 and p.dev.imsc == 0x1E


def test_interrupt_status_and_clear():
    r = Rig(PL111)
    lines = []
    r.dev.irqs[0].connect(lambda n, level: lines.append(level))
    r.write(R1C, 0x1E)
    assert r.read(RIS) == 0 and r.read(MIS) == 0 and lines == []   # nothing raises it
    r.dev.ris = 0x6
    r.write(ICR, 0x2)
    assert r.read(RIS) == 0x4 and r.read(MIS) == 0x4 and lines == [1]
    r.write(ICR, 0x4)
    assert lines == [1, 0] and r.read(ICR) == 0


def test_palette_and_reset():
    r = Rig(PL111)
    r.write(PAL, 0x7FFF0000)
    r.write(PAL + 0x1FC, 0x12345678)
    assert r.read(PAL) == 0x7FFF0000 and r.read(PAL + 0x1FC) == 0x12345678
    r.dev.reset()
    assert r.read(PAL) == 0 and r.read(UPBASE) == 0


ORACLE_OPS = [
    *[("r", 0xFE0 + 4 * i) for i in range(8)],
    *[("r", off) for off in (TIM0, UPBASE, R18, R1C, RIS, MIS, UPCURR, PAL, 0xC00)],
    ("w", TIM0, 0x3F1F3F9C), ("w", TIM1, 0x090B61DF), ("w", UPBASE, 0x4C000000),
    ("w", LPBASE, 0x4C100000), ("w", R18, 0x1829), ("w", R1C, 0x1E), ("w", PAL + 8, 0xABCD1234),
    ("w", ICR, 0xFF),
    *[("r", off) for off in (TIM0, TIM1, UPBASE, LPBASE, R18, R1C, RIS, MIS, UPCURR, LPCURR,
                             PAL + 8, PAL + 12)],
]


def test_registers_match_qemu():
    expected = qemu_vexpress([(op[0], 0x1001F000 + op[1]) + op[2:] for op in ORACLE_OPS])
    r = Rig(PL111)
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(op[1]))
        else:
            r.write(op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]
