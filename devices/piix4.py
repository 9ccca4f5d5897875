"""Intel PIIX4 function 0: the PCI-to-ISA bridge (8086:7110; QEMU type "piix4-isa").

Interface:
  * PCI function (Malta: device 10, function 0; multifunction).  Config space as QEMU
    7.2 resets it, Malta's PIRQ routing included: PIRQRC[A-D] (0x60-0x63) = 10, 10,
    11, 11.  A PIRQRC byte with bit 7 set (or a value of 16 and up) routes nowhere.
  * ``isa_irqs``: 16 IRQ outputs, ISA IRQ n driven by the PCI interrupt lines routed
    to n (the OR of every PIRQ routed there).  The board connects those it uses to
    the i8259 inputs.  ``pirq_router()`` gives the bus (``bus.set_irq_router``) the
    Malta slot-to-PIRQ map of QEMU's piix4.c: slot 10 (the PIIX4's USB) -> PIRQD,
    11 (pcnet) -> PIRQB, 12 -> PIRQC, slots 18-21 rotate (slot - 18 + pin) & 3, any
    other slot its pin.  Unlike QEMU 7.2, a routing write re-evaluates the lines, so
    an interrupt moved to another IRQ does not stay asserted on the old one.
  * "reset-control": port 0xcf9 in the PCI I/O space (at priority 1, as QEMU's), mapped when the
    function is plugged into a bus.  Writing bit 2 (RST_CPU) calls ``reset_request``
    (a callable the board sets; QEMU's guest reset); bit 1 (SYS_RST) is kept and read back.
  * ``isa_io``: the ISA I/O space (the PCI bus's I/O space): the board's ISA bus maps
    its devices' ports there, beside the PCI functions' fixed ports (priority 0) and
    BARs (MAPPING_PRIORITY), or single ports go there with ``attach_isa(port, region)``.
    ELCR lives with the i8259 model; the i8259 pair, PIT, RTC, i8042, DMA and UARTs are
    the board's to attach.

Not modelled: the other config registers' effects (ISA clocks, DMA config, top of
memory, APIC, serial IRQ), deterministic-reset of the ISA devices (the board resets them).
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem import log
from pysystem.irq import IRQ
from pysystem.memory import IORegion
from pysystem.pci import CfgReg, PCIDevice
from pysystem.qom import Field, register

PIRQRC = 0x60
NUM_PIRQS = 4
ISA_NUM_IRQS = 16
RCR_SYS_RST, RCR_RST_CPU = 0x02, 0x04
RESET_CONTROL_PORT = 0xCF9


def malta_pirq(slot: int, pin: int) -> int:
    """Which PIRQ (0-3) a device's INTx pin (0-3) drives on the Malta board."""
    if slot == 10:
        return 3
    if slot == 11:
        return 1
    if slot == 12:
        return 2
    if 18 <= slot <= 21:
        return ((slot - 18) + pin) & 3
    return pin


@register
class PIIX4(PCIDevice):
    TYPE = "piix4-isa"
    DESC = "PIIX4 PCI-to-ISA bridge"
    VENDOR_ID, DEVICE_ID, REVISION = 0x8086, 0x7110, 0x00
    CLASS_CODE = 0x060100
    HEADER_TYPE = 0x80
    STATUS = 0x0200          # DEVSEL medium
    CONFIG = (
        CfgReg("IORT", 0x4C, 1, 0x4D, doc="ISA I/O recovery timer"),
        CfgReg("XBCS", 0x4E, 2, 0x0003, doc="X-bus chip select"),
        CfgReg("PIRQRC", PIRQRC, 4, 0x0B0B0A0A, on_write="_route_changed",
               doc="PIRQ A-D route control: ISA IRQ per PCI interrupt line"),
        CfgReg("TOM", 0x69, 1, 0x02, doc="top of memory"),
        CfgReg("MSTAT", 0x6A, 2, 0x0000, doc="miscellaneous status"),
        CfgReg("MBIRQ0", 0x70, 1, 0x80, doc="motherboard IRQ route 0"),
        CfgReg("MBDMA", 0x76, 2, 0x0C0C, doc="motherboard DMA channels"),
        CfgReg("PCSC", 0x78, 2, 0x0002, doc="programmable chip select"),
        CfgReg("SMICNTL", 0xA0, 1, 0x08, doc="SMI control"),
        CfgReg("SMIREQ", 0xA8, 1, 0x0F, doc="SMI request"),
    )
    STATE = (
        Field("rcr", "u8", 0, "reset control register (0xcf9): the kept SYS_RST bit"),
        Field("isa_level", "u16", 0, "ISA IRQ lines driven from PCI interrupts"),
    )

    def __init__(self, **props):
        super().__init__(multifunction=True, **props)
        self.isa_irqs = [IRQ(f"piix4-isa.irq[{i}]") for i in range(ISA_NUM_IRQS)]
        self.reset_request: Optional[Callable[[], None]] = None
        self._rcr_region = None

    def realize(self) -> None:
        self._rcr_region = IORegion(self, "reset-control", 1, read=self._rcr_read,
                                    write=self._rcr_write, min_access=1, max_access=1)
        super().realize()

    def plugged(self) -> None:
        self.map_fixed(RESET_CONTROL_PORT, self._rcr_region, priority=1)

    @property
    def isa_io(self):
        return self.bus.io

    def attach_isa(self, port: int, region, priority: int = 0) -> None:
        self.bus.io.add_subregion(port, region, priority)

    def device_reset(self) -> None:
        self.rcr = 0
        self._route_changed()

    def post_load(self) -> None:
        super().post_load()
        self._drive()

    # --- PCI interrupt routing -----------------------------------------------------------
    def pirq_router(self):
        """(map_irq, set_irq, nirq) for ``PCIBus.set_irq_router`` on the Malta board."""
        return (lambda dev, pin: malta_pirq(dev.devfn >> 3, pin), self._pirq_changed, NUM_PIRQS)

    def _pirq_changed(self, pirq: int, level: int) -> None:
        self._route_changed()

    def _route_changed(self) -> None:
        level = 0
        if self.bus is not None and self.bus.irq_count:
            for pirq in range(NUM_PIRQS):
                route = self.config[PIRQRC + pirq]
                if route < ISA_NUM_IRQS and self.bus.irq_level(pirq):
                    level |= 1 << route
        self.isa_level = level
        self._drive()

    def _drive(self) -> None:
        for n, line in enumerate(self.isa_irqs):
            line.set(self.isa_level >> n & 1)

    # --- reset control ---------------------------------------------------------------------
    def _rcr_read(self, offset: int, size: int) -> int:
        return self.rcr

    def _rcr_write(self, offset: int, value: int, size: int) -> None:
        if value & RCR_RST_CPU:
            if self.reset_request is None:
                log.log("unimp", "piix4: reset requested through 0xcf9 with no board handler")
            else:
                self.reset_request()
            return
        self.rcr = value & RCR_SYS_RST
