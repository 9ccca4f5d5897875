"""Black-box tests of the Cortex-A9 MPCore private region (a9mpcore_priv) as mapped on
vexpress-a9: the parts at their offsets, the timers' PPIs reaching the CPUs through the GIC."""
import pytest

from pysystem.clock import VirtualClock
from pysystem.devices.a9mpcore import A9MPCorePriv
from pysystem.memory import AddressSpace, ContainerRegion
from pysystem.qom import QOMError

BASE = 0x1E000000
SCU, GICC, GT, TWD, WDT, GICD = 0x0, 0x100, 0x200, 0x600, 0x620, 0x1000


class A9Board:
    """a9mpcore_priv at vexpress-a9's address, a clock at 1 ns per instruction, the CPUs'
    IRQ lines recorded, and ``self.cpu`` the CPU that does the accesses."""

    def __init__(self, num_cpu=1):
        self.clock = VirtualClock(shift=0)
        self.priv = A9MPCorePriv(num_cpu=num_cpu, num_irq=96)
        self.priv.clock = self.clock
        self.cpu = 0
        self.priv.current_cpu = lambda: self.cpu
        self.priv.realize()
        self.priv.reset()
        root = ContainerRegion(None, "system", 1 << 32)
        root.add_subregion(BASE, self.priv.mmio[0])
        self.space = AddressSpace("test", root)
        self.irq = [0] * num_cpu
        self.fiq = [0] * num_cpu
        for c in range(num_cpu):
            self.priv.irqs[c].connect(self._line, c)
            self.priv.irqs[num_cpu + c].connect(self._line, 100 + c)
        self.resets = 0
        self.priv.wdt_reset.connect(self._reset, 0)

    def _line(self, n, level):
        if n >= 100:
            self.fiq[n - 100] = level
        else:
            self.irq[n] = level

    def _reset(self, n, level):
        self.resets += level

    def r(self, off, cpu=None):
        with self.as_cpu(cpu):
            return self.space.read(BASE + off, 4)

    def w(self, off, value, cpu=None):
        with self.as_cpu(cpu):
            self.space.write(BASE + off, value, 4)

    def as_cpu(self, cpu):
        board = self

        class _Ctx:
            def __enter__(self):
                self.old = board.cpu
                if cpu is not None:
                    board.cpu = cpu

            def __exit__(self, *exc):
                board.cpu = self.old
        return _Ctx()

    def run(self, ns):
        """Let ``ns`` of virtual time pass, firing timers at their deadlines."""
        target = self.clock.now() + ns
        while True:
            d = self.clock.next_deadline()
            stop = target if d is None or d > target else d
            self.clock.advance(stop - self.clock.now())
            self.clock.run_timers()
            if stop == target:
                return

    def gic_up(self, *irqs, cpu=0):
        """What Linux does: distributor and CPU interface on, these IRQs enabled."""
        self.w(GICD + 0x000, 1)
        with self.as_cpu(cpu):
            for irq in irqs:
                self.w(GICD + 0x100 + (irq // 32) * 4, 1 << (irq % 32))
                self.space.write(BASE + GICD + 0x400 + irq, 0xA0, 1)
            self.w(GICC + 0x04, 0xF0)
            self.w(GICC + 0x00, 1)


def test_parts_at_their_offsets():
    b = A9Board(num_cpu=2)
    assert b.r(SCU + 0x04) == 0x31                    # 2 CPUs in SMP
    assert b.r(GICD + 0x004) == 0x422                 # 96 lines, 2 CPUs, TrustZone
    assert b.r(GICD + 0xFE8) == 0x1B
    assert b.r(GICC + 0xFC) == 0x3901243B
    b.w(GT + 0x18, 1234)
    assert b.r(GT + 0x18) == 1234
    b.w(TWD + 0x00, 777)
    assert b.r(TWD + 0x00) == 777 and b.r(WDT + 0x00) == 0
    b.w(WDT + 0x00, 555)
    assert b.r(WDT + 0x00) == 555 and b.r(TWD + 0x00) == 777
    assert [p.name for p in b.priv.children.values()] == ["scu", "gic", "gtimer", "mptimer", "wdt"]


def test_needs_a_clock_and_sane_cpu_count():
    with pytest.raises(QOMError):
        A9MPCorePriv().realize()
    d = A9MPCorePriv(num_cpu=5)
    d.clock = VirtualClock()
    with pytest.raises(QOMError):
        d.realize()


def test_twd_interrupt_reaches_the_cpu_as_ppi_29():
    b = A9Board()
    b.gic_up(29)
    b.w(TWD + 0x00, 999)                             # 1000 ticks of 10 ns per period
    b.w(TWD + 0x08, 0b111)                           # enable, auto-reload, IT enable
    b.run(9_980)                                     # 999 ticks to reach zero
    assert b.r(TWD + 0x04) == 1
    assert b.irq == [0]
    b.run(10)
    assert b.irq == [1]
    assert b.r(TWD + 0x04) == 999
    assert b.r(GICC + 0x0C) == 29
    b.w(TWD + 0x0C, 1)                               # the handler clears the event
    b.w(GICC + 0x10, 29)
    assert b.irq == [0]
    b.run(9_990)                                     # period: Load + 1 ticks
    assert b.irq == [0]
    b.run(10)
    assert b.irq == [1]


def test_global_timer_interrupt_is_ppi_27_and_watchdog_ppi_30():
    b = A9Board()
    b.gic_up(27, 30)
    b.w(GT + 0x10, 50)
    b.w(GT + 0x08, 0b0111)                           # enable, comparator, IRQ
    b.run(500)
    assert b.irq == [1]
    assert b.r(GICC + 0x0C) == 27
    b.w(GT + 0x08, 0b0001)
    b.w(GT + 0x0C, 1)
    b.w(GICC + 0x10, 27)
    assert b.irq == [0]
    b.w(WDT + 0x00, 9)
    b.w(WDT + 0x08, 0b101)
    b.run(100)
    assert b.irq == [1]
    assert b.r(GICC + 0x0C) == 30


def test_spi_input_and_fiq_lines():
    b = A9Board()
    b.gic_up(32 + 5)
    b.priv.set_irq(5, 1)
    assert b.irq == [1] and b.fiq == [0]
    assert b.r(GICC + 0x0C) == 37


def test_smp_timers_are_private_to_each_cpu():
    b = A9Board(num_cpu=2)
    b.gic_up(29, cpu=0)
    b.gic_up(29, cpu=1)
    b.w(TWD + 0x00, 99, cpu=1)
    b.w(TWD + 0x08, 0b101, cpu=1)
    assert b.r(TWD + 0x08, cpu=0) == 0
    b.run(1000)
    assert b.irq == [0, 1]
    assert b.r(GICC + 0x0C, cpu=0) == 1023
    assert b.r(GICC + 0x0C, cpu=1) == 29
    # SGI from CPU 1 to CPU 0 (Linux's IPI)
    b.w(GICD + 0xF00, (1 << 16) | 1, cpu=1)
    assert b.irq[0] == 1
    assert b.r(GICC + 0x0C, cpu=0) == 1 | (1 << 10)


def test_reset_lowers_every_line():
    b = A9Board()
    b.gic_up(29)
    b.w(TWD + 0x00, 9)
    b.w(TWD + 0x08, 0b111)
    b.run(200)
    assert b.irq == [1]
    b.priv.reset()
    assert b.irq == [0]
    assert b.r(TWD + 0x08) == 0 and b.r(GICD) == 0
    assert b.priv.gic.ppi_level == [0, 0, 0, 0]
    b.run(10_000)
    assert b.irq == [0]
