"""Cortex-A9 MPCore private memory region (QEMU ``a9mpcore_priv``): the container that
holds the SCU, the GIC, the global timer, the private timers and the watchdogs.

MMIO region: mmio[0], one 0x2000-byte container:
  0x0000 SCU (0x100)                    0x0600 private timer (TWD) of this CPU (0x20)
  0x0100 GIC CPU interface of this CPU  0x0620 watchdog of this CPU (0x20)
  0x0200 global timer of this CPU (0x20) 0x1000 GIC distributor (0x1000)
"This CPU" is the CPU given by ``current_cpu()``, a callable the board may replace
(default: CPU 0); the container passes it to every part.
IRQ outputs: the GIC's: irqs[0..n-1] IRQ of CPU 0..n-1, irqs[n..2n-1] FIQ of CPU 0..n-1
(connect to each CPU's IRQ and FIQ inputs).  ``wdt_reset`` (an IRQ line) pulses when a
watchdog in watchdog mode expires.
Inputs: ``set_irq(n, level)`` drives SPI n (GIC interrupt 32 + n), as QEMU's gpio inputs.
Internal wiring, per CPU i: global timer -> PPI 27, TWD -> PPI 29, watchdog -> PPI 30.
Properties: num-cpu (1..4), num-irq (GIC lines including the 32 internal ones; 96 on
vexpress-a9), has-security-extensions (the GIC's; default on, as QEMU gives vexpress-a9).  Attribute ``clock``: the board's VirtualClock, set before realize().
The parts are children named scu, gic, gtimer, mptimer and wdt; their state is theirs.
Not modelled: see the parts' modules.
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem.clock import VirtualClock
from pysystem.qdev import SysBusDevice
from pysystem.qom import Property, QOMError, register

from .a9_gtimer import A9GlobalTimer
from .a9scu import A9SCU
from .arm_gic import ArmGIC
from .arm_mptimer import ArmMPTimer

PPI_GTIMER, PPI_TWD, PPI_WDT = 27, 29, 30


def _cpu0() -> int:
    return 0


@register
class A9MPCorePriv(SysBusDevice):
    TYPE = "a9mpcore_priv"
    DESC = "Cortex-A9 MPCore private peripherals"

    PROPERTIES = (
        Property("num-cpu", "uint32", 1, "number of CPUs (1..4)"),
        Property("num-irq", "uint32", 96, "GIC interrupt lines, 32 internal included"),
        Property("has-security-extensions", "bool", True,
                 "GIC with TrustZone groups (as QEMU's vexpress-a9, whose A9 has EL3)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.current_cpu: Callable[[], int] = _cpu0
        self.wdt_reset = None

    @classmethod
    def example(cls):
        dev = cls(num_cpu=2)
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        from pysystem.memory import ContainerRegion
        if not 1 <= self.num_cpu <= 4:
            raise QOMError("a9mpcore_priv: num-cpu must be between 1 and 4")
        if self.clock is None:
            raise QOMError("a9mpcore_priv: no clock (the board sets dev.clock before realize)")
        n = self.num_cpu
        this_cpu = lambda: self.current_cpu()  # noqa: E731 (the board may replace ours later)
        self.scu = self.add_child("scu", A9SCU(num_cpu=n))
        self.gic = self.add_child("gic", ArmGIC(
            num_cpu=n, num_irq=self.num_irq,
            has_security_extensions=self.has_security_extensions))
        self.gtimer = self.add_child("gtimer", A9GlobalTimer(num_cpu=n))
        self.mptimer = self.add_child("mptimer", ArmMPTimer(num_cpu=n))
        self.wdt = self.add_child("wdt", ArmMPTimer(num_cpu=n, watchdog=True))
        for part in (self.scu, self.gic, self.gtimer, self.mptimer, self.wdt):
            part.clock = self.clock
            part.current_cpu = this_cpu
            part.realize()
        for i in range(n):
            self.gtimer.irqs[i].connect(self.gic.set_internal, i * 32 + PPI_GTIMER)
            self.mptimer.irqs[i].connect(self.gic.set_internal, i * 32 + PPI_TWD)
            self.wdt.irqs[i].connect(self.gic.set_internal, i * 32 + PPI_WDT)
        self.wdt_reset = self.wdt.reset_out
        region = ContainerRegion(self, "a9mp-priv-container", 0x2000)
        region.add_subregion(0x0000, self.scu.mmio[0])
        region.add_subregion(0x0100, self.gic.mmio[1])
        region.add_subregion(0x0200, self.gtimer.mmio[0])
        region.add_subregion(0x0600, self.mptimer.mmio[0])
        region.add_subregion(0x0620, self.wdt.mmio[0])
        region.add_subregion(0x1000, self.gic.mmio[0])
        self.init_mmio(region)
        self.irqs.extend(self.gic.irqs)
        super().realize()

    def reset(self) -> None:
        super().reset()
        for part in (self.scu, self.gtimer, self.mptimer, self.wdt, self.gic):
            part.reset()

    def set_irq(self, n: int, level: int) -> None:
        """Drive SPI ``n`` (GIC interrupt 32 + n)."""
        self.gic.set_irq(n, level)
