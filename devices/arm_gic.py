"""ARM Generic Interrupt Controller v1 as in the Cortex-A9 MPCore (QEMU ``arm_gic``, revision 1).

MMIO regions:
  mmio[0]  distributor, 0x1000 bytes (ICD*: GICD_CTLR at 0x000 ... peripheral IDs at 0xFD0)
  mmio[1]  CPU interface of the accessing CPU, 0x100 bytes (ICC*: CTLR, PMR, BPR, IAR, EOIR,
           RPR, HPPIR, ABPR, IIDR at 0xFC)
  mmio[2+i] CPU interface of CPU i, 0x100 bytes each
The distributor and mmio[1] bank per CPU through ``current_cpu()``: a callable returning the
index of the CPU doing the access, which the board replaces (default: always CPU 0).

IRQ outputs: ``irqs[0..n-1]`` the nIRQ line of CPU 0..n-1, then ``irqs[n..2n-1]`` their nFIQ
lines (n = num-cpu).  The board connects them to each CPU's IRQ and FIQ inputs.

Inputs: ``set_irq(n, level)`` drives SPI n, i.e. GIC interrupt 32+n (QEMU's convention for a
board's ``pic[n]``); ``set_ppi(cpu, irq, level)`` drives private interrupt ``irq`` (16..31) of
``cpu``; ``set_internal(cpu * 32 + irq, level)`` is the same in the one-number form that
``IRQ.connect`` passes.

Properties: num-cpu (1..4), num-irq (32 + a multiple of 32, up to 1020; 96 on vexpress-a9),
has-security-extensions (bool, QEMU's name; the A9's GIC has them, and QEMU's vexpress-a9
turns them on with the CPU's TrustZone).

Behaviour (GICv1 architecture, A9 TRM):
* SGIs 0-15 are always enabled and edge triggered; SGI/PPI enable, pending, active and
  priority are banked per CPU.  SGIs remember their source CPUs (IAR bits [12:10]).
* Edge interrupts latch pending on a rising edge; level interrupts are pending while their
  line is high (or when set pending by software) and are not signalled again while active.
* Priorities have 5 implemented bits (bits [7:3]; the A9 has 32 levels), so PMR likewise;
  the binary point is at least 2.  Preemption: an interrupt is signalled only if its
  priority is below PMR and its group priority below the running priority; the running
  priority is tracked as the A9 does with one active-priority bit per group priority.
* The A9's PPI and SPI status registers (0xD00, 0xD04-0xD7C) show the input levels; the
  input levels are wires driven by other devices, so a reset of the GIC keeps them.
* Identification: ICDIIDR 0x0102043B, ICCIIDR 0x3901243B, peripheral ID 0x90 0xB3 0x1B.
* ITARGETSR are read-as-zero/write-ignored on a one-CPU GIC (as QEMU, GICv2 spec), where
  every SPI goes to CPU 0; SPIs use the 1-N model (one pending/active state, first CPU wins).

Security Extensions (has-security-extensions=on): GICD_TYPER.SecurityExtn reads 1, every
interrupt has a group (GICD_IGROUPR, banked below 32; reset: all group 0); GICD_CTLR has
EnableGrp0/EnableGrp1, ICCICR EnableGrp0, EnableGrp1, AckCtl, FIQEn and CBPR; group 0
interrupts go to nFIQ when FIQEn is set, group 1 ones always to nIRQ; ICCABPR is group 1's
binary point (at least 3) unless CBPR; reading IAR or HPPIR when the highest pending
interrupt is group 1 and AckCtl is clear gives 1022.  Every access is taken as a Secure
one (the memory API carries no security attribute; Linux runs Secure on vexpress-a9).
Without them IGROUPR and ABPR read as zero, only bit 0 of the control registers exists and
FIQ is never signalled.

Not modelled: Non-secure accesses (the banked Non-secure views), the legacy nFIQ/nIRQ
PPIs 28 and 31, and wakeup/power signals.
"""
from __future__ import annotations

from typing import Callable, List

from pysystem import log
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

MAX_CPU = 4
MAX_IRQ = 1020
SPURIOUS = 1023
GROUP1_SPURIOUS = 1022
PRIO_MASK = 0xF8       # 5 implemented priority bits
MIN_BPR = 2            # 7 - implemented bits
_W32 = 0xFFFFFFFF
CPU_ACKCTL, CPU_FIQEN, CPU_CBPR = 1 << 2, 1 << 3, 1 << 4
_SGI_BITS = 0xFFFF

# Peripheral/component ID bytes at 0xFD0..0xFFC (PIDR4-7, PIDR0-3, CIDR0-3)
_ID_BYTES = (0x04, 0x00, 0x00, 0x00, 0x90, 0xB3, 0x1B, 0x00, 0x0D, 0xF0, 0x05, 0xB1)
_DIST_IIDR = 0x0102043B
_CPU_IIDR = 0x3901243B


def _cpu0() -> int:
    return 0


DIST_REGS = RegisterBank(
    "arm_gic",
    Reg("CTLR", 0x000, write="_write_ctlr", doc="distributor enable (per group)"),
    Reg("TYPER", 0x004, access="ro", stored=False, read="_read_typer"),
    Reg("IIDR", 0x008, access="ro", stored=False, read="_read_iidr"),
    Reg("IGROUPR", 0x080, count=128, width=1, stored=False,
        read="_read_group", write="_write_group"),
    Reg("ISENABLER", 0x100, count=128, width=1, stored=False,
        read="_read_enable", write="_write_set_enable"),
    Reg("ICENABLER", 0x180, count=128, width=1, stored=False,
        read="_read_enable", write="_write_clear_enable"),
    Reg("ISPENDR", 0x200, count=128, width=1, stored=False,
        read="_read_pending", write="_write_set_pending"),
    Reg("ICPENDR", 0x280, count=128, width=1, stored=False,
        read="_read_pending", write="_write_clear_pending"),
    Reg("ACTIVER", 0x300, count=128, width=1, access="ro", stored=False, read="_read_active"),
    Reg("IPRIORITYR", 0x400, count=MAX_IRQ, width=1, stored=False,
        read="_read_priority", write="_write_priority"),
    Reg("ITARGETSR", 0x800, count=MAX_IRQ, width=1, stored=False,
        read="_read_target", write="_write_target"),
    Reg("ICFGR", 0xC00, count=256, width=1, stored=False,
        read="_read_config", write="_write_config"),
    Reg("PPISR", 0xD00, access="ro", stored=False, read="_read_ppi_status"),
    Reg("SPISR", 0xD04, count=31, access="ro", stored=False, read="_read_spi_status"),
    Reg("SGIR", 0xF00, access="wo", stored=False, write="_write_sgir"),
    Reg("ID", 0xFD0, count=12, access="ro", stored=False, read="_read_id"),
)

CPU_REGS = RegisterBank(
    "arm_gic_cpu",
    Reg("CTLR", 0x00, stored=False, read="_read_cpu_ctlr", write="_write_cpu_ctlr"),
    Reg("PMR", 0x04, stored=False, read="_read_pmr", write="_write_pmr"),
    Reg("BPR", 0x08, stored=False, read="_read_bpr", write="_write_bpr"),
    Reg("IAR", 0x0C, access="ro", stored=False, read="_read_iar"),
    Reg("EOIR", 0x10, access="wo", stored=False, write="_write_eoir"),
    Reg("RPR", 0x14, access="ro", stored=False, read="_read_rpr"),
    Reg("HPPIR", 0x18, access="ro", stored=False, read="_read_hppir"),
    Reg("ABPR", 0x1C, stored=False, read="_read_abpr", write="_write_abpr"),
    Reg("IIDR", 0xFC, access="ro", stored=False, read="_read_cpu_iidr"),
)


def _lowest_bit(x: int) -> int:
    return (x & -x).bit_length() - 1


@register
class ArmGIC(SysBusDevice):
    TYPE = "arm_gic"
    DESC = "ARM GICv1 interrupt controller (Cortex-A9 MPCore)"

    PROPERTIES = (
        Property("num-cpu", "uint32", 1, "number of CPU interfaces (1..4)"),
        Property("num-irq", "uint32", 96, "interrupt lines: 32 internal + SPIs (multiple of 32)"),
        Property("has-security-extensions", "bool", False,
                 "interrupt groups, FIQ for group 0 (TrustZone)"),
    )
    STATE = DIST_REGS.fields() + (
        Field("cpu_ctlr", "u32[4]", 0, "ICCICR per CPU"),
        Field("pmr", "u8[4]", 0, "priority mask per CPU"),
        Field("bpr", "u8[4]", MIN_BPR, "binary point per CPU"),
        Field("abpr", "u8[4]", MIN_BPR + 1, "group 1 binary point per CPU"),
        Field("apr", "u32[4]", 0, "active priorities per CPU: bit n = group priority n*8 active"),
        Field("ppi_enabled", "u32[4]", 0, "enable bits of IRQs 16-31 per CPU"),
        Field("ppi_pending", "u32[4]", 0, "pending latches of IRQs 16-31 per CPU"),
        Field("ppi_active", "u32[4]", 0, "active bits of IRQs 0-31 per CPU"),
        Field("ppi_level", "u32[4]", 0, "input levels of IRQs 16-31 per CPU"),
        Field("spi_enabled", "int", 0, "enable bits of SPIs (bit n = IRQ n)"),
        Field("spi_pending", "int", 0, "pending latches of SPIs"),
        Field("spi_active", "int", 0, "active bits of SPIs"),
        Field("spi_level", "int", 0, "input levels of SPIs"),
        Field("edge", "int", 0, "edge-triggered configuration (bit n = IRQ n, PPIs and SPIs)"),
        Field("ppi_group", "u32[4]", 0, "group bits of IRQs 0-31 per CPU"),
        Field("spi_group", "int", 0, "group bits of SPIs"),
        Field("priority_banked", "u8[128]", 0, "priorities of IRQs 0-31, CPU-major"),
        Field("priority", "u8[1020]", 0, "priorities of SPIs (indexed by IRQ)"),
        Field("targets", "u8[1020]", 0, "CPU targets of SPIs (indexed by IRQ)"),
        Field("sgi_sources", "u8[64]", 0, "pending SGI source CPUs, [cpu*16 + sgi]"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.current_cpu: Callable[[], int] = _cpu0
        self._cur = 0
        self._spi_valid = 0
        self._route: List[int] = [0] * MAX_CPU

    # --- lifecycle ------------------------------------------------------------------
    def realize(self) -> None:
        if not 1 <= self.num_cpu <= MAX_CPU:
            raise QOMError(f"arm_gic: num-cpu must be between 1 and {MAX_CPU}")
        if self.num_irq < 32 or self.num_irq > MAX_IRQ or self.num_irq % 32:
            raise QOMError("arm_gic: num-irq must be 32 plus a multiple of 32, at most 1020")
        self._spi_valid = ((1 << self.num_irq) - 1) & ~_W32
        self.init_mmio(DIST_REGS.banked_region(self, "gic_dist", 0x1000, None, 1, 4, 1, 4))
        self.init_mmio(CPU_REGS.banked_region(self, "gic_cpu", 0x100, None, 1, 4, 1, 4))
        for i in range(self.num_cpu):
            self.init_mmio(CPU_REGS.banked_region(self, f"gic_cpu[{i}]", 0x100, i, 1, 4, 1, 4))
        self.irq_out = self.init_irq(self.num_cpu, "irq")
        self.fiq_out = self.init_irq(self.num_cpu, "fiq")
        super().realize()

    def reset(self) -> None:
        spi_level, ppi_level = getattr(self, "spi_level", 0), list(getattr(self, "ppi_level", [0] * 4))
        super().reset()
        # input lines are wires driven by other devices: a reset of the GIC does not move them
        self.spi_level, self.ppi_level = spi_level, ppi_level
        self._recompute_routes()
        self._update_irq()

    def post_load(self) -> None:
        self._recompute_routes()
        self._update_irq()

    # --- distributor access: the accessing CPU -------------------------------------
    def dist_read(self, offset: int, size: int, cpu: int = 0) -> int:
        """Distributor read as CPU ``cpu`` (tests and per-CPU views)."""
        self._cur = cpu
        return DIST_REGS.read(self, offset, size)

    def dist_write(self, offset: int, value: int, size: int, cpu: int = 0) -> None:
        self._cur = cpu
        DIST_REGS.write(self, offset, value, size)

    def cpu_read(self, offset: int, size: int, cpu: int = 0) -> int:
        self._cur = cpu
        return CPU_REGS.read(self, offset, size)

    def cpu_write(self, offset: int, value: int, size: int, cpu: int = 0) -> None:
        self._cur = cpu
        CPU_REGS.write(self, offset, value, size)

    # --- inputs ---------------------------------------------------------------------
    def set_irq(self, n: int, level: int) -> None:
        """Drive SPI ``n`` (GIC interrupt 32 + n)."""
        irq = 32 + n
        if not 32 <= irq < self.num_irq:
            log.log("guest_errors", f"arm_gic: set_irq for nonexistent SPI {n}")
            return
        bit = 1 << irq
        if level:
            if self.spi_level & bit:
                return
            self.spi_level |= bit
            if self.edge & bit:
                self.spi_pending |= bit
        else:
            if not self.spi_level & bit:
                return
            self.spi_level &= ~bit
        self._update_irq()

    def set_ppi(self, cpu: int, irq: int, level: int) -> None:
        """Drive private interrupt ``irq`` (16..31) of CPU ``cpu``."""
        if not (0 <= cpu < self.num_cpu and 16 <= irq < 32):
            return
        bit = 1 << irq
        lv = self.ppi_level[cpu]
        if level:
            if lv & bit:
                return
            self.ppi_level[cpu] = lv | bit
            if self.edge & bit:
                self.ppi_pending[cpu] |= bit
        else:
            if not lv & bit:
                return
            self.ppi_level[cpu] = lv & ~bit
        self._update_irq()

    def set_internal(self, n: int, level: int) -> None:
        """``set_ppi(n // 32, n % 32, level)``, for ``IRQ.connect(gic.set_internal, n)``."""
        self.set_ppi(n >> 5, n & 31, level)

    # --- derived views --------------------------------------------------------------
    def _recompute_routes(self) -> None:
        if self.num_cpu == 1:
            self._route = [self._spi_valid] + [0] * (MAX_CPU - 1)
            return
        routes = [0] * MAX_CPU
        targets = self.targets
        for irq in range(32, self.num_irq):
            t = targets[irq]
            for c in range(self.num_cpu):
                if t & (1 << c):
                    routes[c] |= 1 << irq
        self._route = routes

    def _sgi_pending(self, cpu: int) -> int:
        bits = 0
        src = self.sgi_sources
        base = cpu * 16
        if not any(src[base:base + 16]):
            return 0
        for i in range(16):
            if src[base + i]:
                bits |= 1 << i
        return bits

    def _enabled_view(self, cpu: int) -> int:
        return ((self.ppi_enabled[cpu] | _SGI_BITS) & _W32) | (self.spi_enabled & self._spi_valid)

    def _pending_view(self, cpu: int) -> int:
        banked = ((self.ppi_pending[cpu] | (self.ppi_level[cpu] & ~self.edge)) & 0xFFFF0000) \
            | self._sgi_pending(cpu)
        spi = (self.spi_pending | (self.spi_level & ~self.edge)) & self._spi_valid
        return banked | spi

    def _active_view(self, cpu: int) -> int:
        return (self.ppi_active[cpu] & _W32) | (self.spi_active & self._spi_valid)

    def _group_view(self, cpu: int) -> int:
        if not self.has_security_extensions:
            return 0
        return (self.ppi_group[cpu] & _W32) | (self.spi_group & self._spi_valid)

    def _group(self, irq: int, cpu: int) -> int:
        return self._group_view(cpu) >> irq & 1

    def _prio(self, irq: int, cpu: int) -> int:
        if irq < 32:
            return self.priority_banked[cpu * 32 + irq] & PRIO_MASK
        return self.priority[irq] & PRIO_MASK

    def _group_prio(self, prio: int, cpu: int, group: int = 0) -> int:
        if group and not self.cpu_ctlr[cpu] & CPU_CBPR:
            bpr = max(MIN_BPR + 1, min(self.abpr[cpu], 7)) - 1
        else:
            bpr = max(MIN_BPR, min(self.bpr[cpu], 7))
        return prio & (0xFF << (bpr + 1)) & 0xFF

    def _running(self, cpu: int) -> int:
        apr = self.apr[cpu]
        return 0xFF if apr == 0 else _lowest_bit(apr) << 3

    def _best(self, cpu: int):
        """(irq, priority) of the highest-priority pending, enabled, inactive interrupt
        that passes the priority mask, or (1023, 0xFF)."""
        ctlr, cctlr = self.ctlr, self.cpu_ctlr[cpu]
        groups = 0
        if ctlr & 1 and cctlr & 1:
            groups = ~self._group_view(cpu)
        if self.has_security_extensions and ctlr & 2 and cctlr & 2:
            groups |= self._group_view(cpu)
        if not groups:
            return SPURIOUS, 0xFF
        cand = self._enabled_view(cpu) & self._pending_view(cpu) & ~self._active_view(cpu) \
            & (_W32 | self._route[cpu]) & groups
        best, best_prio = SPURIOUS, 0x100
        while cand:
            low = cand & -cand
            irq = low.bit_length() - 1
            cand ^= low
            p = self._prio(irq, cpu)
            if p < best_prio:
                best, best_prio = irq, p
        if best_prio >= (self.pmr[cpu] & PRIO_MASK) or best == SPURIOUS:
            return SPURIOUS, 0xFF
        return best, best_prio

    def _update_irq(self) -> None:
        """Recompute every CPU's IRQ (and FIQ) output from the raw state."""
        for cpu in range(self.num_cpu):
            irq, prio = self._best(cpu)
            irq_level = fiq_level = False
            if irq != SPURIOUS:
                group = self._group(irq, cpu)
                if self._group_prio(prio, cpu, group) < self._running(cpu):
                    if group == 0 and self.cpu_ctlr[cpu] & CPU_FIQEN and \
                            self.has_security_extensions:
                        fiq_level = True
                    else:
                        irq_level = True
            self.irq_out[cpu].set(irq_level)
            self.fiq_out[cpu].set(fiq_level)

    # --- distributor registers ------------------------------------------------------
    def _read_typer(self) -> int:
        return ((self.num_irq // 32) - 1) | ((self.num_cpu - 1) << 5) | \
            (int(self.has_security_extensions) << 10)

    def _write_ctlr(self, value: int) -> None:
        self.ctlr = value & (3 if self.has_security_extensions else 1)
        self._update_irq()

    def _read_group(self, i: int) -> int:
        return self._byte_of(self._group_view(self._cur), i)

    def _write_group(self, i: int, value: int) -> None:
        if self.has_security_extensions:
            self._change_bits("ppi_group", "spi_group", i, value, True, 0)
            self._change_bits("ppi_group", "spi_group", i, ~value & 0xFF, False, 0)

    def _read_iidr(self) -> int:
        return _DIST_IIDR

    def _read_id(self, i: int) -> int:
        return _ID_BYTES[i]

    def _byte_of(self, view: int, i: int) -> int:
        return (view >> (8 * i)) & 0xFF

    def _read_enable(self, i: int) -> int:
        return self._byte_of(self._enabled_view(self._cur), i)

    def _read_pending(self, i: int) -> int:
        return self._byte_of(self._pending_view(self._cur), i)

    def _read_active(self, i: int) -> int:
        return self._byte_of(self._active_view(self._cur), i)

    def _change_bits(self, name_banked: str, name_spi: str, i: int, value: int, setting: bool,
                     first: int) -> None:
        """Set or clear bits of byte ``i`` (IRQs 8i..8i+7), banked below 32, from IRQ ``first``."""
        bits = (value & 0xFF) << (8 * i)
        bits &= ~((1 << first) - 1)
        if i < 4:
            cpu = self._cur
            store = getattr(self, name_banked)
            store[cpu] = (store[cpu] | bits) if setting else (store[cpu] & ~bits)
        else:
            bits &= self._spi_valid
            cur = getattr(self, name_spi)
            setattr(self, name_spi, (cur | bits) if setting else (cur & ~bits))
        self._update_irq()

    def _write_set_enable(self, i: int, value: int) -> None:
        self._change_bits("ppi_enabled", "spi_enabled", i, value, True, 16)

    def _write_clear_enable(self, i: int, value: int) -> None:
        self._change_bits("ppi_enabled", "spi_enabled", i, value, False, 16)

    def _write_set_pending(self, i: int, value: int) -> None:
        self._change_bits("ppi_pending", "spi_pending", i, value, True, 16)

    def _write_clear_pending(self, i: int, value: int) -> None:
        self._change_bits("ppi_pending", "spi_pending", i, value, False, 16)

    def _read_priority(self, irq: int) -> int:
        if irq >= self.num_irq:
            return 0
        return self._prio(irq, self._cur)

    def _write_priority(self, irq: int, value: int) -> None:
        if irq >= self.num_irq:
            return
        if irq < 32:
            self.priority_banked[self._cur * 32 + irq] = value & PRIO_MASK
        else:
            self.priority[irq] = value & PRIO_MASK
        self._update_irq()

    def _read_target(self, irq: int) -> int:
        if self.num_cpu == 1 or irq >= self.num_irq:
            return 0
        if irq < 32:
            return 1 << self._cur
        return self.targets[irq] & ((1 << self.num_cpu) - 1)

    def _write_target(self, irq: int, value: int) -> None:
        if self.num_cpu == 1 or irq < 32 or irq >= self.num_irq:
            return
        self.targets[irq] = value & ((1 << self.num_cpu) - 1)
        self._recompute_routes()
        self._update_irq()

    def _read_config(self, i: int) -> int:
        if i < 4:
            return 0xAA  # SGIs: edge triggered
        value = 0
        for j in range(4):
            irq = 4 * i + j
            if irq < self.num_irq and self.edge >> irq & 1:
                value |= 2 << (2 * j)
        return value

    def _write_config(self, i: int, value: int) -> None:
        if i < 4:
            return
        for j in range(4):
            irq = 4 * i + j
            if irq >= self.num_irq:
                break
            if value & (2 << (2 * j)):
                self.edge |= 1 << irq
            else:
                self.edge &= ~(1 << irq)
        self._update_irq()

    def _read_ppi_status(self) -> int:
        return self.ppi_level[self._cur] >> 16 & 0xFFFF

    def _read_spi_status(self, i: int) -> int:
        return (self.spi_level & self._spi_valid) >> (32 * (i + 1)) & _W32

    def _write_sgir(self, value: int) -> None:
        sgi = value & 0xF
        src = self._cur
        mode = (value >> 24) & 3
        allcpus = (1 << self.num_cpu) - 1
        if mode == 0:
            targets = (value >> 16) & allcpus
        elif mode == 1:
            targets = allcpus & ~(1 << src)
        elif mode == 2:
            targets = 1 << src
        else:
            log.log("guest_errors", "arm_gic: GICD_SGIR with reserved target filter 3")
            return
        for cpu in range(self.num_cpu):
            if targets & (1 << cpu):
                self.sgi_sources[cpu * 16 + sgi] |= 1 << src
        self._update_irq()

    # --- CPU interface registers (self._cur is the CPU) --------------------------------
    def _cpu_ctlr_mask(self) -> int:
        return 0x1F if self.has_security_extensions else 0x1

    def _read_cpu_ctlr(self) -> int:
        return self.cpu_ctlr[self._cur] & self._cpu_ctlr_mask()

    def _write_cpu_ctlr(self, value: int) -> None:
        self.cpu_ctlr[self._cur] = value & self._cpu_ctlr_mask()
        self._update_irq()

    def _read_abpr(self) -> int:
        if not self.has_security_extensions:
            return 0
        return max(MIN_BPR + 1, min(self.abpr[self._cur], 7))

    def _write_abpr(self, value: int) -> None:
        if self.has_security_extensions:
            self.abpr[self._cur] = max(MIN_BPR + 1, value & 7)
            self._update_irq()

    def _read_pmr(self) -> int:
        return self.pmr[self._cur] & PRIO_MASK

    def _write_pmr(self, value: int) -> None:
        self.pmr[self._cur] = value & PRIO_MASK
        self._update_irq()

    def _read_bpr(self) -> int:
        return max(MIN_BPR, min(self.bpr[self._cur], 7))

    def _write_bpr(self, value: int) -> None:
        self.bpr[self._cur] = max(MIN_BPR, value & 7)
        self._update_irq()

    def _read_rpr(self) -> int:
        return self._running(self._cur)

    def _group1_hidden(self, irq: int, cpu: int) -> bool:
        """A Secure read of IAR/HPPIR must not see group 1 unless AckCtl is set."""
        return irq != SPURIOUS and self._group(irq, cpu) == 1 and \
            not self.cpu_ctlr[cpu] & CPU_ACKCTL

    def _hppir_value(self, cpu: int) -> int:
        irq, _ = self._best(cpu)
        if self._group1_hidden(irq, cpu):
            return GROUP1_SPURIOUS
        if irq < 16:
            src = self.sgi_sources[cpu * 16 + irq] & ((1 << self.num_cpu) - 1)
            return irq | (_lowest_bit(src) << 10 if src else 0)
        return irq

    def _read_hppir(self) -> int:
        return self._hppir_value(self._cur)

    def _read_iar(self) -> int:
        cpu = self._cur
        irq, prio = self._best(cpu)
        if irq == SPURIOUS:
            return SPURIOUS
        group = self._group(irq, cpu)
        gprio = self._group_prio(prio, cpu, group)
        if gprio >= self._running(cpu):
            return SPURIOUS
        if self._group1_hidden(irq, cpu):
            return GROUP1_SPURIOUS
        value = irq
        bit = 1 << irq
        if irq < 16:
            slot = cpu * 16 + irq
            sources = self.sgi_sources[slot] & ((1 << self.num_cpu) - 1)
            src = _lowest_bit(sources) if sources else 0
            self.sgi_sources[slot] = (self.sgi_sources[slot] & ~(1 << src)) & 0xFF
            value |= src << 10
            self.ppi_active[cpu] |= bit
        elif irq < 32:
            self.ppi_pending[cpu] &= ~bit
            self.ppi_active[cpu] |= bit
        else:
            self.spi_pending &= ~bit
            self.spi_active |= bit
        self.apr[cpu] |= 1 << (gprio >> 3)
        self._update_irq()
        return value

    def _write_eoir(self, value: int) -> None:
        cpu = self._cur
        irq = value & 0x3FF
        if irq >= self.num_irq or self.apr[cpu] == 0:  # 1022, 1023 included
            log.log("guest_errors", f"arm_gic: EOI of interrupt {irq} with nothing active")
            return
        apr = self.apr[cpu]
        self.apr[cpu] = apr & (apr - 1)  # drop the running priority
        bit = 1 << irq
        if irq < 32:
            self.ppi_active[cpu] &= ~bit
        else:
            self.spi_active &= ~bit
        self._update_irq()

    def _read_cpu_iidr(self) -> int:
        return _CPU_IIDR

    # --- tests and the monitor -------------------------------------------------------
    @classmethod
    def example(cls):
        obj = cls(num_cpu=2)
        obj.realize()
        obj.reset()
        return obj
