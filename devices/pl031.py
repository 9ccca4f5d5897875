"""ARM PrimeCell PL031 real-time clock.

Interface:
  * MMIO region 0: the registers, 0x1000 bytes.
  * IRQ output 0: RTCINTR (the match interrupt, masked by IMSC).
  * Attribute ``clock``: the board's ``VirtualClock``, set before ``realize()``.  The
    count is the guest's wall clock, ``clock.wall_ns()`` in whole seconds (so
    ``-rtc base=`` fixes it), plus the offset the guest set through the load
    register.

Registers (QEMU 7.2's hw/rtc/pl031.c): DR reads the count; LR sets it (and reads
back the last value written); MR sets the match value, and when the count reaches
it RIS is set (a ``Timer`` is armed for the exact virtual time the count becomes
MR; writing MR or LR equal to the current count matches at once); CR always
reads 1 (the counter cannot be stopped) and ignores writes; IMSC masks, ICR
clears; the peripheral and PrimeCell IDs are at 0xfe0-0xffc.

The guest's offset survives a machine reset (the real clock is battery-backed),
the match, mask and status do not.

Not modelled: the counter's enable (CR), the integration test registers, and
QEMU's RTC_CHANGE event.
"""
from __future__ import annotations

from typing import Optional

from pysystem.clock import NS_PER_SEC, Timer, VirtualClock
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, QOMError, register
from pysystem.regbank import Reg, RegisterBank


@register
class PL031(SysBusDevice):
    TYPE = "pl031"
    DESC = "ARM PrimeCell PL031 RTC"
    ID = (0x31, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    REGS = RegisterBank(
        "pl031",
        Reg("DR", 0x00, access="ro", read="_read_dr", stored=False, doc="current count (seconds)"),
        Reg("MR", 0x04, write="_write_mr", doc="match value"),
        Reg("LR", 0x08, write="_write_lr", doc="load: sets the count"),
        Reg("CR", 0x0C, read="_read_cr", write="_write_cr", stored=False,
            doc="control: the counter is always enabled"),
        Reg("IMSC", 0x10, mask=1, on_write="_update_irq", doc="interrupt mask"),
        Reg("RIS", 0x14, access="ro", doc="raw interrupt status"),
        Reg("MIS", 0x18, access="ro", read="_read_mis", stored=False, doc="masked interrupt status"),
        Reg("ICR", 0x1C, access="wo", write="_write_icr", stored=False, doc="interrupt clear"),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="PeriphID0-3, PCellID0-3"),
    )
    STATE = REGS.fields() + (
        Field("tick_offset", "i64", 0, "guest count minus wall-clock seconds"),
        Field("alarm", "timer", None, "the time the count reaches MR"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.alarm: Optional[Timer] = None
        self.tick_offset = 0

    @classmethod
    def example(cls):
        dev = cls()
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        if self.clock is None:
            raise QOMError(f"{self.TYPE}: no clock (the board sets dev.clock before realize)")
        self.init_mmio(self.REGS.region(self, self.TYPE, 0x1000))
        self.init_irq(1)
        self.alarm = Timer(self.clock, self._match, f"{self.TYPE}.alarm")
        super().realize()

    def reset(self) -> None:
        offset = self.tick_offset
        super().reset()
        self.tick_offset = offset
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        self.irqs[0].set(self.ris & self.imsc & 1)

    # --- the count --------------------------------------------------------------------
    def _wall_seconds(self) -> int:
        return self.clock.wall_ns() // NS_PER_SEC

    def _count(self) -> int:
        return (self.tick_offset + self._wall_seconds()) & 0xFFFFFFFF

    def _match(self) -> None:
        self.ris = 1
        self._update_irq()

    def _set_alarm(self) -> None:
        ticks = (self.mr - self._count()) & 0xFFFFFFFF
        if ticks == 0:
            self.alarm.cancel()
            self._match()
            return
        target_wall_ns = (self._wall_seconds() + ticks) * NS_PER_SEC
        self.alarm.mod(target_wall_ns - self.clock.rtc_base_ns)

    # --- register handlers ------------------------------------------------------------
    def _read_dr(self) -> int:
        return self._count()

    def _write_mr(self, value: int) -> None:
        self.mr = value
        self._set_alarm()

    def _write_lr(self, value: int) -> None:
        self.lr = value
        self.tick_offset = value - self._wall_seconds()
        self._set_alarm()

    def _read_cr(self) -> int:
        return 1

    def _write_cr(self, value: int) -> None:
        pass

    def _read_mis(self) -> int:
        return self.ris & self.imsc

    def _write_icr(self, value: int) -> None:
        self.ris &= ~value
        self._update_irq()

    def _read_id(self, index: int) -> int:
        return self.ID[index]
