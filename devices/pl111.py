"""ARM PrimeCell PL110/PL111 colour LCD controller: registers only, no display.

Interface:
  * MMIO region 0: the registers, 0x1000 bytes.
  * IRQ output 0: CLCDINTR (never raised, as in QEMU 7.2, which has no interrupt
    sources: RIS only changes when written through ICR, so it stays zero).
  * No properties.  Types: ``pl110`` (ARM PL110), ``pl110_versatile`` (the same
    IDs; the Versatile's variant) and ``pl111`` (the PL111 that vexpress has).

Registers (QEMU 7.2's hw/display/pl110.c): LCDTiming0-3, LCDUPBASE, LCDLPBASE hold
the 32-bit values written; the PL110 has LCDIMSC at 0x018 and LCDControl at
0x01c, the PL111 the other way round; LCDRIS, LCDMIS (RIS & IMSC), LCDICR
(write-only, clears RIS bits); LCDUPCURR/LCDLPCURR read the base addresses; the
256-entry palette (128 words at 0x200) reads back what was written; the
peripheral and PrimeCell IDs at 0xfe0 (PL111: 0x00241111, designer 0x41,
revision 2, which Linux's clcd-pl11x driver prints).  Cursor registers
(0xc00-0xc2c) are not modelled: they read as zero, as in QEMU.

Not modelled: the display itself (no framebuffer is scanned or shown), the
vertical-compare and bus-error interrupts, the PL110 mux input.
"""
from __future__ import annotations

from pysystem.qdev import SysBusDevice
from pysystem.qom import register
from pysystem.regbank import Reg, RegisterBank

PALETTE_WORDS = 128


def _bank(name: str, control_at: int, imsc_at: int) -> RegisterBank:
    return RegisterBank(
        name,
        Reg("TIMING", 0x000, count=4, doc="LCDTiming0-3"),
        Reg("UPBASE", 0x010, doc="upper panel frame base address"),
        Reg("LPBASE", 0x014, doc="lower panel frame base address"),
        Reg("CONTROL", control_at, doc="LCDControl"),
        Reg("IMSC", imsc_at, on_write="_update_irq", doc="interrupt mask set/clear"),
        Reg("RIS", 0x020, access="ro", doc="raw interrupt status"),
        Reg("MIS", 0x024, access="ro", read="_read_mis", stored=False,
            doc="masked interrupt status"),
        Reg("ICR", 0x028, access="wo", write="_write_icr", stored=False, doc="interrupt clear"),
        Reg("UPCURR", 0x02C, access="ro", read="_read_upcurr", stored=False,
            doc="upper panel current address (the base: no scan-out)"),
        Reg("LPCURR", 0x030, access="ro", read="_read_lpcurr", stored=False,
            doc="lower panel current address (the base: no scan-out)"),
        Reg("PALETTE", 0x200, count=PALETTE_WORDS, doc="colour palette, two entries a word"),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="CLCDPeriphID0-3, CLCDPCellID0-3"),
    )


@register
class PL110(SysBusDevice):
    TYPE = "pl110"
    DESC = "ARM PrimeCell PL110 colour LCD controller (registers only)"
    ID = (0x10, 0x11, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    REGS = _bank("pl110", control_at=0x01C, imsc_at=0x018)
    STATE = REGS.fields()

    def realize(self) -> None:
        self.init_mmio(self.REGS.region(self, "pl110", 0x1000, impl_min=4))
        self.init_irq(1)
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        self.irqs[0].set(self.ris & self.imsc)

    def _read_mis(self) -> int:
        return self.ris & self.imsc

    def _write_icr(self, value: int) -> None:
        self.ris &= ~value
        self._update_irq()

    def _read_upcurr(self) -> int:
        return self.upbase

    def _read_lpcurr(self) -> int:
        return self.lpbase

    def _read_id(self, index: int) -> int:
        return self.ID[index]


@register
class PL110Versatile(PL110):
    """The Versatile boards' PL110: the hardware reports a stock PL110's IDs."""

    TYPE = "pl110_versatile"


@register
class PL111(PL110):
    TYPE = "pl111"
    DESC = "ARM PrimeCell PL111 colour LCD controller (registers only)"
    ID = (0x11, 0x11, 0x24, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    REGS = _bank("pl111", control_at=0x018, imsc_at=0x01C)
    STATE = REGS.fields()
