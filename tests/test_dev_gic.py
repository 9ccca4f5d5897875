"""Black-box tests of the GICv1 (arm_gic): registers through its MMIO regions, IRQ lines
recorded as a CPU would see them."""
import pytest

from pysystem.devices.arm_gic import ArmGIC
from pysystem.memory import AddressSpace, ContainerRegion
from pysystem.qom import QOMError

DIST, CPUIF = 0x1000, 0x100
# distributor offsets
CTLR, TYPER, IIDR = 0x000, 0x004, 0x008
ISENABLER, ICENABLER, ISPENDR, ICPENDR, ACTIVER = 0x100, 0x180, 0x200, 0x280, 0x300
IPRIORITYR, ITARGETSR, ICFGR, SGIR = 0x400, 0x800, 0xC00, 0xF00
# CPU interface offsets
C_CTLR, C_PMR, C_BPR, C_IAR, C_EOIR, C_RPR, C_HPPIR, C_IIDR = 0, 4, 8, 0xC, 0x10, 0x14, 0x18, 0xFC


class Lines:
    """What each CPU's IRQ/FIQ inputs see."""

    def __init__(self, gic):
        n = gic.num_cpu
        self.irq = [0] * n
        self.fiq = [0] * n
        for c in range(n):
            gic.irqs[c].connect(self._set, c)
            gic.irqs[n + c].connect(self._set, 100 + c)

    def _set(self, n, level):
        if n >= 100:
            self.fiq[n - 100] = level
        else:
            self.irq[n] = level


class Board:
    """The GIC mapped as on the A9 (distributor at 0x1000, CPU interface at 0x100); the
    accessing CPU is chosen with ``self.cpu``."""

    def __init__(self, num_cpu=1, num_irq=96, secure=False):
        self.gic = ArmGIC(num_cpu=num_cpu, num_irq=num_irq, has_security_extensions=secure)
        self.gic.realize()
        self.gic.reset()
        self.cpu = 0
        self.gic.current_cpu = lambda: self.cpu
        root = ContainerRegion(None, "sys", 0x2000)
        root.add_subregion(DIST, self.gic.mmio[0])
        root.add_subregion(CPUIF, self.gic.mmio[1])
        self.space = AddressSpace("test", root)
        self.lines = Lines(self.gic)

    def dr(self, off, size=4, cpu=None):
        return self._as(cpu, lambda: self.space.read(DIST + off, size))

    def dw(self, off, value, size=4, cpu=None):
        self._as(cpu, lambda: self.space.write(DIST + off, value, size))

    def cr(self, off, cpu=None):
        return self._as(cpu, lambda: self.space.read(CPUIF + off, 4))

    def cw(self, off, value, cpu=None):
        self._as(cpu, lambda: self.space.write(CPUIF + off, value, 4))

    def _as(self, cpu, fn):
        old = self.cpu
        if cpu is not None:
            self.cpu = cpu
        try:
            return fn()
        finally:
            self.cpu = old

    def linux_init(self):
        """The register writes of Linux's gic_dist_init and gic_cpu_init/gic_cpu_if_up."""
        self.dw(CTLR, 0)
        nirq = ((self.dr(TYPER) & 0x1F) + 1) * 32
        mask = 0
        for i in range(0, 32, 4):
            mask = self.dr(ITARGETSR + i)
            mask |= mask >> 16
            mask |= mask >> 8
            if mask:
                break
        mask &= 0xFF
        mask |= mask << 8
        mask |= mask << 16
        for i in range(32, nirq, 4):
            self.dw(ITARGETSR + i, mask)
        for i in range(32, nirq, 16):
            self.dw(ICFGR + i // 4, 0)
        for i in range(32, nirq, 4):
            self.dw(IPRIORITYR + i, 0xA0A0A0A0)
        for i in range(32, nirq, 32):
            self.dw(0x380 + i // 8, 0xFFFFFFFF)  # ICACTIVER (GICv2; unimplemented on v1)
            self.dw(ICENABLER + i // 8, 0xFFFFFFFF)
        self.dw(CTLR, 1)
        for cpu in range(self.gic.num_cpu):
            self.dw(ICENABLER, 0xFFFF0000, cpu=cpu)
            self.dw(ISENABLER, 0x0000FFFF, cpu=cpu)
            for i in range(0, 32, 4):
                self.dw(IPRIORITYR + i, 0xA0A0A0A0, cpu=cpu)
            self.cw(C_PMR, 0xF0, cpu=cpu)
            self.cw(C_CTLR, self.cr(C_CTLR, cpu=cpu) | 1, cpu=cpu)
        return nirq

    def enable(self, irq, cpu=None):
        self.dw(ISENABLER + (irq // 32) * 4, 1 << (irq % 32), cpu=cpu)

    def set_prio(self, irq, prio, cpu=None):
        self.dw(IPRIORITYR + irq, prio, size=1, cpu=cpu)


def test_identification_registers():
    b = Board(num_cpu=2)
    assert b.dr(TYPER) == 0x22            # 3 groups of 32 lines, 2 CPUs, no security ext.
    assert b.dr(IIDR) == 0x0102043B
    assert b.cr(C_IIDR) == 0x3901243B
    assert [b.dr(0xFE0 + 4 * i) for i in range(4)] == [0x90, 0xB3, 0x1B, 0x00]
    assert [b.dr(0xFF0 + 4 * i) for i in range(4)] == [0x0D, 0xF0, 0x05, 0xB1]
    assert Board(num_cpu=1, num_irq=160).dr(TYPER) == 0x04


def test_bad_properties_are_refused():
    for props in ({"num_cpu": 0}, {"num_cpu": 5}, {"num_irq": 100}, {"num_irq": 1056}):
        with pytest.raises(QOMError):
            ArmGIC(**props).realize()


def test_reset_state_and_sgis_always_enabled():
    b = Board()
    assert b.dr(ISENABLER) == 0x0000FFFF
    b.dw(ICENABLER, 0xFFFFFFFF)
    assert b.dr(ISENABLER) == 0x0000FFFF
    assert b.dr(ICFGR) == 0xAAAAAAAA       # SGIs are edge triggered and read-only
    b.dw(ICFGR, 0)
    assert b.dr(ICFGR) == 0xAAAAAAAA
    assert b.cr(C_RPR) == 0xFF
    assert b.cr(C_IAR) == 1023
    assert b.cr(C_BPR) == 2
    assert b.dr(0x080) == 0                # IGROUPR: no security extensions, RAZ/WI
    b.dw(0x080, 0xFFFFFFFF)
    assert b.dr(0x080) == 0
    b.cw(0x1C, 5)                           # ABPR likewise
    assert b.cr(0x1C) == 0
    b.dw(CTLR, 3)
    b.cw(C_CTLR, 0x1F)
    assert b.dr(CTLR) == 1 and b.cr(C_CTLR) == 1


def test_uniprocessor_targets_read_as_zero_and_route_to_cpu0():
    b = Board(num_cpu=1)
    assert b.dr(ITARGETSR) == 0
    b.dw(ITARGETSR + 32, 0x01010101)
    assert b.dr(ITARGETSR + 32) == 0
    b.linux_init()
    b.enable(40)
    b.gic.set_irq(8, 1)
    assert b.lines.irq == [1]


def test_priorities_implement_five_bits_and_byte_access():
    b = Board()
    b.dw(IPRIORITYR + 32, 0xFFFFFFFF)
    assert b.dr(IPRIORITYR + 32) == 0xF8F8F8F8
    b.dw(IPRIORITYR + 33, 0x17, size=1)
    assert b.dr(IPRIORITYR + 32) == 0xF8F810F8
    assert b.dr(IPRIORITYR + 33, size=1) == 0x10
    b.cw(C_PMR, 0xFF)
    assert b.cr(C_PMR) == 0xF8
    b.cw(C_BPR, 0)
    assert b.cr(C_BPR) == 2
    b.cw(C_BPR, 5)
    assert b.cr(C_BPR) == 5


def test_linux_init_sequence_and_level_spi_flow():
    b = Board()
    assert b.linux_init() == 96
    assert b.dr(CTLR) == 1 and b.cr(C_CTLR) == 1 and b.cr(C_PMR) == 0xF0
    assert b.dr(ICFGR + 8) == 0 and b.dr(IPRIORITYR + 60) == 0xA0A0A0A0
    # Linux's irq_enable for SPI 37 (pic[5])
    b.dw(ISENABLER + 4, 1 << 5)
    assert b.lines.irq == [0]
    b.gic.set_irq(5, 1)
    assert b.lines.irq == [1]
    assert b.dr(ISPENDR + 4) == 1 << 5
    assert b.cr(C_HPPIR) == 37
    assert b.cr(C_IAR) == 37
    assert b.lines.irq == [0]              # active: not signalled again
    assert b.cr(C_RPR) == 0xA0
    assert b.dr(ACTIVER + 4) == 1 << 5
    assert b.cr(C_IAR) == 1023
    b.cw(C_EOIR, 37)                        # line still high: pending again
    assert b.cr(C_RPR) == 0xFF
    assert b.lines.irq == [1]
    assert b.cr(C_IAR) == 37
    b.gic.set_irq(5, 0)                     # the device is serviced
    b.cw(C_EOIR, 37)
    assert b.lines.irq == [0]
    assert b.dr(ISPENDR + 4) == 0 and b.dr(ACTIVER + 4) == 0
    assert b.cr(C_IAR) == 1023


def test_level_interrupt_pending_follows_line_and_software_pending():
    b = Board()
    b.linux_init()
    b.enable(40)
    b.gic.set_irq(8, 1)
    b.gic.set_irq(8, 0)
    assert b.lines.irq == [0] and b.dr(ISPENDR + 4) == 0
    b.dw(ISPENDR + 4, 1 << 8)              # software pend latches
    assert b.lines.irq == [1]
    b.dw(ICPENDR + 4, 1 << 8)
    assert b.lines.irq == [0]
    b.gic.set_irq(8, 1)
    b.dw(ICPENDR + 4, 1 << 8)              # cannot clear an asserted level interrupt
    assert b.lines.irq == [1]


def test_edge_interrupt_latches_and_is_not_resignalled():
    b = Board()
    b.linux_init()
    b.dw(ICFGR + 12, 2 << 2)               # IRQ 49 edge triggered
    assert b.dr(ICFGR + 12) == 2 << 2
    b.enable(49)
    b.gic.set_irq(17, 1)
    b.gic.set_irq(17, 0)                    # a pulse
    assert b.lines.irq == [1]
    assert b.cr(C_IAR) == 49
    assert b.lines.irq == [0]
    b.gic.set_irq(17, 1)                    # new edge while active: pending and active
    assert b.dr(ISPENDR + 4) == 1 << 17 and b.dr(ACTIVER + 4) == 1 << 17
    assert b.lines.irq == [0]
    b.cw(C_EOIR, 49)
    assert b.lines.irq == [1]
    assert b.cr(C_IAR) == 49
    b.cw(C_EOIR, 49)                        # line still high, but no new edge
    assert b.lines.irq == [0]
    assert b.cr(C_IAR) == 1023


def test_disable_and_distributor_or_cpu_interface_off():
    b = Board()
    b.linux_init()
    b.enable(40)
    b.gic.set_irq(8, 1)
    assert b.lines.irq == [1]
    b.dw(ICENABLER + 4, 1 << 8)
    assert b.lines.irq == [0] and b.cr(C_IAR) == 1023
    assert b.dr(ISPENDR + 4) == 1 << 8     # still pending, only disabled
    b.enable(40)
    assert b.lines.irq == [1]
    b.dw(CTLR, 0)
    assert b.lines.irq == [0] and b.cr(C_IAR) == 1023 and b.cr(C_HPPIR) == 1023
    b.dw(CTLR, 1)
    b.cw(C_CTLR, 0)
    assert b.lines.irq == [0]
    b.cw(C_CTLR, 1)
    assert b.lines.irq == [1]


def test_priority_mask():
    b = Board()
    b.linux_init()
    b.enable(40)
    b.set_prio(40, 0xF0)
    b.gic.set_irq(8, 1)
    assert b.lines.irq == [0]               # 0xF0 is not below PMR 0xF0
    assert b.cr(C_IAR) == 1023
    b.cw(C_PMR, 0xF8)
    assert b.lines.irq == [1]
    b.cw(C_PMR, 0)
    assert b.lines.irq == [0]


def test_highest_priority_wins_and_lowest_id_breaks_ties():
    b = Board()
    b.linux_init()
    for irq in (40, 41, 42):
        b.enable(irq)
    b.set_prio(41, 0x80)
    b.gic.set_irq(8, 1)
    b.gic.set_irq(10, 1)
    b.gic.set_irq(9, 1)
    assert b.cr(C_HPPIR) == 41
    assert b.cr(C_IAR) == 41
    b.gic.set_irq(9, 0)
    b.cw(C_EOIR, 41)
    assert b.cr(C_IAR) == 40               # same priority 0xA0 as 42: lower ID first


def test_preemption_by_running_priority():
    b = Board()
    b.linux_init()
    for irq in (40, 41, 42):
        b.enable(irq)
    b.set_prio(41, 0x80)
    b.gic.set_irq(8, 1)                     # A: 0xA0
    assert b.cr(C_IAR) == 40 and b.cr(C_RPR) == 0xA0
    b.gic.set_irq(10, 1)                    # C: 0xA0, cannot preempt A
    assert b.lines.irq == [0] and b.cr(C_IAR) == 1023
    assert b.cr(C_HPPIR) == 42
    b.gic.set_irq(9, 1)                     # B: 0x80 preempts
    assert b.lines.irq == [1]
    assert b.cr(C_IAR) == 41 and b.cr(C_RPR) == 0x80
    assert b.lines.irq == [0]
    b.gic.set_irq(9, 0)
    b.cw(C_EOIR, 41)
    assert b.cr(C_RPR) == 0xA0 and b.lines.irq == [0]
    b.gic.set_irq(8, 0)
    b.cw(C_EOIR, 40)
    assert b.cr(C_RPR) == 0xFF and b.lines.irq == [1]
    assert b.cr(C_IAR) == 42


def test_binary_point_groups_priorities():
    b = Board()
    b.linux_init()
    b.enable(40)
    b.enable(41)
    b.set_prio(40, 0xA0)
    b.set_prio(41, 0x90)
    b.cw(C_BPR, 5)                          # group priority = bits [7:6]: both 0x80
    b.gic.set_irq(8, 1)
    assert b.cr(C_IAR) == 40
    assert b.cr(C_RPR) == 0x80
    b.gic.set_irq(9, 1)                     # same group priority: no preemption
    assert b.lines.irq == [0]
    b.cw(C_BPR, 2)
    b.gic.set_irq(8, 0)
    b.cw(C_EOIR, 40)
    assert b.cr(C_IAR) == 41


def test_sgi_routing_between_two_cpus():
    b = Board(num_cpu=2)
    b.linux_init()
    assert b.dr(ITARGETSR, cpu=0) == 0x01010101
    assert b.dr(ITARGETSR, cpu=1) == 0x02020202
    b.dw(SGIR, (0 << 24) | (0b10 << 16) | 3, cpu=0)       # CPU0 -> CPU1, SGI 3
    assert b.lines.irq == [0, 1]
    assert b.dr(ISPENDR, cpu=1) == 1 << 3 and b.dr(ISPENDR, cpu=0) == 0
    assert b.cr(C_IAR, cpu=0) == 1023
    assert b.cr(C_IAR, cpu=1) == 3 | (0 << 10)
    b.cw(C_EOIR, 3, cpu=1)
    assert b.lines.irq == [0, 0]
    b.dw(SGIR, (1 << 24) | 7, cpu=1)                      # all but self: CPU0
    assert b.lines.irq == [1, 0]
    assert b.cr(C_IAR, cpu=0) == 7 | (1 << 10)
    b.cw(C_EOIR, 7 | (1 << 10), cpu=0)
    b.dw(SGIR, (2 << 24) | 9, cpu=1)                      # self only
    assert b.lines.irq == [0, 1]
    assert b.cr(C_HPPIR, cpu=1) == 9 | (1 << 10)
    assert b.cr(C_IAR, cpu=1) == 9 | (1 << 10)
    b.cw(C_EOIR, 9, cpu=1)
    # the same SGI from two sources is taken twice, one source at a time
    b.dw(SGIR, (0b10 << 16) | 5, cpu=0)
    b.dw(SGIR, (2 << 24) | 5, cpu=1)
    assert b.cr(C_IAR, cpu=1) == 5
    assert b.lines.irq == [0, 0]
    b.cw(C_EOIR, 5, cpu=1)
    assert b.lines.irq == [0, 1]
    assert b.cr(C_IAR, cpu=1) == 5 | (1 << 10)
    b.cw(C_EOIR, 5 | (1 << 10), cpu=1)
    assert b.cr(C_IAR, cpu=1) == 1023


def test_spi_targets_and_per_cpu_banking():
    b = Board(num_cpu=2)
    b.linux_init()
    b.dw(ITARGETSR + 40, 0x02, size=1)
    assert b.dr(ITARGETSR + 40) == 0x01010102
    b.enable(40)
    b.gic.set_irq(8, 1)
    assert b.lines.irq == [0, 1]
    b.dw(ITARGETSR + 40, 0x03, size=1)     # both: the first to acknowledge takes it
    assert b.lines.irq == [1, 1]
    assert b.cr(C_IAR, cpu=0) == 40
    assert b.lines.irq == [0, 0]
    assert b.cr(C_IAR, cpu=1) == 1023
    # PPI 29 (TWD) banked: enable and priority per CPU
    b.enable(29, cpu=1)
    b.set_prio(29, 0x40, cpu=1)
    assert b.dr(IPRIORITYR + 28, cpu=0) == 0xA0A0A0A0
    assert b.dr(IPRIORITYR + 28, cpu=1) == 0xA0A040A0
    b.gic.set_ppi(0, 29, 1)
    assert b.lines.irq == [0, 0]           # disabled on CPU0
    b.gic.set_internal(32 + 29, 1)
    assert b.lines.irq == [0, 1]
    assert b.dr(0xD00, cpu=1) == 1 << 13   # PPI status
    assert b.cr(C_IAR, cpu=1) == 29
    assert b.dr(ACTIVER, cpu=1) == 1 << 29 and b.dr(ACTIVER, cpu=0) == 0
    assert b.lines.fiq == [0, 0]


def test_eoi_without_active_is_ignored_and_spurious_eoi():
    b = Board()
    b.linux_init()
    b.cw(C_EOIR, 1023)
    b.cw(C_EOIR, 40)
    assert b.cr(C_RPR) == 0xFF


def test_snapshot_restores_lines_and_reset_keeps_input_levels():
    b = Board()
    b.linux_init()
    b.enable(40)
    b.enable(41)
    b.set_prio(41, 0x80)
    b.gic.set_irq(8, 1)
    assert b.cr(C_IAR) == 40
    b.gic.set_irq(9, 1)
    blob = b.gic.state_bytes()
    c = Board()
    c.gic.load_state_bytes(blob)
    assert c.lines.irq == [1]
    assert c.cr(C_RPR) == 0xA0 and c.cr(C_IAR) == 41
    assert c.gic.state_bytes() != blob
    b.gic.reset()
    assert b.lines.irq == [0]
    assert b.gic.spi_level == (1 << 40) | (1 << 41)
    b.linux_init()
    b.enable(40)
    assert b.lines.irq == [1]


def test_security_extensions_linux_runs_secure_with_group_0():
    b = Board(secure=True)
    assert b.dr(TYPER) == 0x402
    b.linux_init()                          # Linux never touches IGROUPR: all group 0
    assert b.dr(CTLR) == 1 and b.cr(C_CTLR) == 1
    b.enable(40)
    b.gic.set_irq(8, 1)
    assert b.lines.irq == [1] and b.lines.fiq == [0]
    assert b.cr(C_IAR) == 40


def test_security_extensions_groups_fiq_and_ackctl():
    b = Board(secure=True)
    b.linux_init()
    b.dw(0x080 + 4, 1 << 9)                 # IRQ 41 is group 1
    assert b.dr(0x080 + 4) == 1 << 9
    b.enable(40)
    b.enable(41)
    b.gic.set_irq(9, 1)
    assert b.lines.irq == [0]               # group 1 not enabled
    b.dw(CTLR, 3)
    assert b.lines.irq == [0]
    b.cw(C_CTLR, 0b00011)                   # EnableGrp0 | EnableGrp1
    assert b.lines.irq == [1]
    assert b.cr(C_HPPIR) == 1022 and b.cr(C_IAR) == 1022   # AckCtl clear
    b.cw(C_CTLR, 0b00111)
    assert b.cr(C_IAR) == 41
    b.gic.set_irq(9, 0)
    b.cw(C_EOIR, 41)
    b.cw(C_CTLR, 0b01011)                   # FIQEn: group 0 goes to nFIQ
    b.gic.set_irq(8, 1)
    assert b.lines.fiq == [1] and b.lines.irq == [0]
    assert b.cr(C_IAR) == 40
    assert b.lines.fiq == [0]
    b.cw(C_EOIR, 40)


def test_security_extensions_abpr_groups_group_1():
    b = Board(secure=True)
    b.linux_init()
    assert b.cr(0x1C) == 3
    b.dw(0x080 + 4, 0b11 << 8)              # IRQs 40, 41 group 1
    b.dw(CTLR, 3)
    b.cw(C_CTLR, 0b10111)                   # both groups, AckCtl, CBPR: BPR for both
    b.enable(40)
    b.enable(41)
    b.set_prio(40, 0x90)
    b.set_prio(41, 0x88)
    b.gic.set_irq(8, 1)
    assert b.cr(C_IAR) == 40
    b.gic.set_irq(9, 1)
    assert b.lines.irq == [1]               # BPR 2: 0x88 preempts 0x90
    assert b.cr(C_IAR) == 41
    b.gic.set_irq(9, 0)
    b.cw(C_EOIR, 41)
    b.gic.set_irq(8, 0)
    b.cw(C_EOIR, 40)
    assert b.cr(C_RPR) == 0xFF
    b.cw(C_CTLR, 0b00111)                   # CBPR clear: group 1 uses ABPR
    b.cw(0x1C, 5)                           # group priority = bits [7:5]
    assert b.cr(0x1C) == 5
    b.gic.set_irq(8, 1)
    assert b.cr(C_IAR) == 40
    assert b.cr(C_RPR) == 0x80
    b.gic.set_irq(9, 1)
    assert b.lines.irq == [0]               # 0x88 and 0x90 are both group priority 0x80


# --- properties over random guest behaviour ---------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

_OP = st.one_of(
    st.tuples(st.just("line"), st.integers(0, 63), st.integers(0, 1)),
    st.tuples(st.just("ppi"), st.integers(0, 1), st.integers(16, 31), st.integers(0, 1)),
    st.tuples(st.just("dw"), st.integers(0, 0x3FF).map(lambda x: x * 4),
              st.integers(0, 0xFFFFFFFF), st.integers(0, 1)),
    st.tuples(st.just("cw"), st.sampled_from([0, 4, 8, 0x10, 0x1C]),
              st.integers(0, 0xFFFFFFFF), st.integers(0, 1)),
    st.tuples(st.just("ack"), st.integers(0, 1)),
    st.tuples(st.just("prio"), st.integers(0, 95), st.integers(0, 255), st.integers(0, 1)),
    st.tuples(st.just("eoi"), st.integers(0, 1)),
)


@settings(max_examples=150, deadline=None)
@given(st.booleans(), st.lists(_OP, max_size=40))
def test_random_guest_never_breaks_the_gic(secure, ops):
    """Any register writes and input changes: no exception, IAR only hands out enabled,
    pending interrupts, and the IRQ line is high exactly when IAR has one to give."""
    b = Board(num_cpu=2, secure=secure)
    b.linux_init()
    for cpu in (0, 1):
        b.dw(ISENABLER, 0xFFFFFFFF, cpu=cpu)
        b.dw(ITARGETSR + 32 + 4 * cpu, 0x03030303)
    b.dw(ISENABLER + 4, 0xFFFFFFFF)
    b.dw(ISENABLER + 8, 0xFFFFFFFF)
    acked = {0: [], 1: []}
    for op in ops:
        kind = op[0]
        if kind == "line":
            b.gic.set_irq(op[1], op[2])
        elif kind == "ppi":
            b.gic.set_ppi(op[1], op[2], op[3])
        elif kind == "dw":
            b.dw(op[1], op[2], cpu=op[3])
        elif kind == "cw":
            b.cw(op[1], op[2], cpu=op[3])
        elif kind == "prio":
            b.set_prio(op[1], op[2], cpu=op[3])
        elif kind == "eoi":
            if acked[op[1]]:
                b.cw(C_EOIR, acked[op[1]].pop(), cpu=op[1])
        else:
            cpu = op[1]
            signalled = b.lines.irq[cpu] or b.lines.fiq[cpu]
            hppir = b.cr(C_HPPIR, cpu=cpu)
            enabled = b.gic._enabled_view(cpu)
            iar = b.cr(C_IAR, cpu=cpu)
            if iar < 1020:
                assert signalled and iar & 0x3FF == hppir & 0x3FF
                assert enabled >> (iar & 0x3FF) & 1
                assert b.gic._active_view(cpu) >> (iar & 0x3FF) & 1
                acked[cpu].append(iar)
            elif iar == 1023:
                assert not signalled
        for cpu in (0, 1):
            assert b.gic.apr[cpu] == 0 or b.cr(C_RPR, cpu=cpu) < 0xFF
    for cpu in (0, 1):                       # ending every acknowledged interrupt idles
        for iar in reversed(acked[cpu]):
            b.cw(C_EOIR, iar, cpu=cpu)
        assert b.cr(C_RPR, cpu=cpu) == 0xFF
