"""ARM PrimeXsys SP810 system controller, minimal: registers hold what is written.

QEMU's vexpress does not model this part (its 0x10001000 page reads as zero).
Linux's clk-sp810 driver reads and writes SCCTRL to pick the 1 MHz reference
for the SP804 timers (TIMERENnSEL, bits 15, 17, 19, 21); that is the use this
model serves: the bits are stored and read back, they select nothing here (the
SP804's ``freq0``/``freq1`` properties fix the timer clocks).

Interface:
  * MMIO region 0: the registers, 0x1000 bytes.
  * No IRQ outputs, no properties.

Registers (ARM DDI 0254): SCCTRL (read/write, reset 0), SCSYSSTAT (reset 0;
any write clears it), SCIMCTRL, SCIMSTAT, SCXTALCTRL, SCPLLCTRL, SCPLLFCTRL,
SCPERCTRL0/1 (stored), SCPEREN/SCPERDIS (write-only: set/clear bits of
SCPERCLKEN, which resets to all enabled), SCPERSTAT (reads SCPERCLKEN), SCSysID0-3
(zero), the peripheral and PrimeCell IDs (part 0x810).

Not modelled: the mode state machine (ModeStatus follows nothing), the crystal
and PLL control, the watchdog and timer clock selection, the integration test
and counter test registers (unimplemented, logged under ``-d unimp``).
"""
from __future__ import annotations

from pysystem.qdev import SysBusDevice
from pysystem.qom import register
from pysystem.regbank import Reg, RegisterBank


@register
class SP810(SysBusDevice):
    TYPE = "sp810"
    DESC = "ARM SP810 system controller (registers only)"
    ID = (0x10, 0x18, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    REGS = RegisterBank(
        "sp810",
        Reg("SCCTRL", 0x000, doc="system control: mode, remap, timer clock selects"),
        Reg("SCSYSSTAT", 0x004, write="_write_sysstat", doc="system status; writes clear it"),
        Reg("SCIMCTRL", 0x008, doc="interrupt mode control"),
        Reg("SCIMSTAT", 0x00C, doc="interrupt mode status"),
        Reg("SCXTALCTRL", 0x010, doc="crystal control"),
        Reg("SCPLLCTRL", 0x014, doc="PLL control"),
        Reg("SCPLLFCTRL", 0x018, doc="PLL frequency control"),
        Reg("SCPERCTRL0", 0x01C, doc="peripheral control 0"),
        Reg("SCPERCTRL1", 0x020, doc="peripheral control 1"),
        Reg("SCPEREN", 0x024, access="wo", write="_write_peren", stored=False,
            doc="peripheral clock enable (sets SCPERCLKEN bits)"),
        Reg("SCPERDIS", 0x028, access="wo", write="_write_perdis", stored=False,
            doc="peripheral clock disable (clears SCPERCLKEN bits)"),
        Reg("SCPERCLKEN", 0x02C, reset=0xFFFFFFFF, access="ro", doc="peripheral clocks enabled"),
        Reg("SCPERSTAT", 0x030, access="ro", read="_read_perstat", stored=False,
            doc="peripheral clock status"),
        Reg("SCSYSID", 0xEE0, count=4, access="ro", read="_read_zero", stored=False,
            doc="system identification (zero)"),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="SCPeriphID0-3, SCPCellID0-3"),
    )
    STATE = REGS.fields()

    def realize(self) -> None:
        self.init_mmio(self.REGS.region(self, self.TYPE, 0x1000, impl_min=4))
        super().realize()

    def _update_irq(self) -> None:
        """No outputs."""

    def post_load(self) -> None:
        self._update_irq()

    def _write_sysstat(self, value: int) -> None:
        self.scsysstat = 0

    def _write_peren(self, value: int) -> None:
        self.scperclken |= value

    def _write_perdis(self, value: int) -> None:
        self.scperclken &= ~value

    def _read_perstat(self) -> int:
        return self.scperclken

    def _read_zero(self, index: int) -> int:
        return 0

    def _read_id(self, index: int) -> int:
        return self.ID[index]
