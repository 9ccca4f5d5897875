"""ARM SP804 dual timer: two 32/16-bit down-counters with a combined interrupt.

Interface:
  * MMIO region 0: the registers, 0x1000 bytes; timer 0 at 0x00-0x1f, timer 1 at
    0x20-0x3f, each with Load, Value, Control, IntClr, RIS, MIS, BGLoad; the
    peripheral and PrimeCell IDs at 0xfe0-0xffc.
  * IRQ output 0: TIMINTC, the OR of both timers' masked interrupts (QEMU's sp804
    has only this line; the board connects it).
  * Properties ``freq0``/``freq1`` (uint32, Hz, default 1 MHz as on vexpress).
  * Attribute ``clock``: the board's ``VirtualClock``, set before ``realize()``.

Counting: Control bit 7 enables, bit 6 selects periodic (reload from Load) over
free-running (wrap through the counter's maximum), bit 0 one-shot (stop at zero),
bit 1 selects a 32-bit counter over a 16-bit one, bits 3:2 prescale by 1/16/256,
bit 5 enables the interrupt.  The counter is not ticked: its value is computed
from the virtual clock (``Value = start_count - elapsed ticks``, then reloads),
and one ``Timer`` per counter is armed for the next time it reaches zero.

Timing follows QEMU 7.2 (hw/timer/arm_timer.c on a legacy ptimer): a reload
period is Load ticks (the counter reads Load..1, and reloads as it reaches zero);
writing Load reloads the counter at once, BGLoad only sets the next reload value;
writing Control with the enable bit set (re)starts the counter from Load (or from
the maximum in free-running mode); a Load of zero interrupts at once and stops.
Unlike QEMU, 16-bit mode also truncates Load to 16 bits, as the hardware does.

Not modelled: the integration test registers (0xf00, 0xf04: unimplemented, logged
under ``-d unimp``), the separate per-timer interrupt outputs TIMINT1/TIMINT2.
"""
from __future__ import annotations

from typing import Optional

from pysystem.clock import NS_PER_SEC, Timer, VirtualClock
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

CTRL_ONESHOT = 1 << 0
CTRL_32BIT = 1 << 1
CTRL_IE = 1 << 5
CTRL_PERIODIC = 1 << 6
CTRL_ENABLE = 1 << 7


def _per_timer(name: str, offset: int, **kw) -> Reg:
    return Reg(name, offset, count=2, stride=0x20, **kw)


@register
class SP804(SysBusDevice):
    TYPE = "sp804"
    DESC = "ARM SP804 dual timer"
    ID = (0x04, 0x18, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    PROPERTIES = (
        Property("freq0", "uint32", 1_000_000, "clock of timer 0 in Hz"),
        Property("freq1", "uint32", 1_000_000, "clock of timer 1 in Hz"),
    )

    REGS = RegisterBank(
        "sp804",
        _per_timer("LOAD", 0x00, write="_write_load", doc="load value; writing reloads the counter"),
        _per_timer("VALUE", 0x04, read="_read_value", write="_write_value", stored=False,
                   doc="current count (writes ignored, as QEMU: Linux writes it)"),
        _per_timer("CONTROL", 0x08, reset=CTRL_IE, mask=0xFF, write="_write_control",
                   doc="enable, periodic, IE, prescale, 32-bit, one-shot"),
        _per_timer("INTCLR", 0x0C, access="wo", write="_write_intclr", stored=False,
                   doc="any write clears the interrupt"),
        _per_timer("RIS", 0x10, access="ro", mask=1, doc="raw interrupt status"),
        _per_timer("MIS", 0x14, access="ro", read="_read_mis", stored=False,
                   doc="masked interrupt status"),
        _per_timer("BGLOAD", 0x18, read="_read_load", write="_write_bgload", stored=False,
                   doc="load value for the next reload only"),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="TimerPeriphID0-3, TimerPCellID0-3"),
    )
    STATE = REGS.fields() + (
        Field("running", "bool[2]", False, "counter is counting"),
        Field("start_ns", "u64[2]", 0, "virtual time the counter last (re)started"),
        Field("start_count", "u32[2]", 0, "counter value at start_ns (the value while stopped)"),
        Field("timer0", "timer", None, "next zero of counter 0"),
        Field("timer1", "timer", None, "next zero of counter 1"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.timer0: Optional[Timer] = None
        self.timer1: Optional[Timer] = None

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
        self.init_mmio(self.REGS.region(self, self.TYPE, 0x1000, impl_min=4))
        self.init_irq(1)
        self.timer0 = Timer(self.clock, lambda: self._expire(0), f"{self.TYPE}.timer0")
        self.timer1 = Timer(self.clock, lambda: self._expire(1), f"{self.TYPE}.timer1")
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        c, r = self.control, self.ris
        self.irqs[0].set((r[0] and c[0] & CTRL_IE) or (r[1] and c[1] & CTRL_IE))

    # --- the counters -----------------------------------------------------------------
    def _timer(self, i: int) -> Timer:
        return self.timer0 if i == 0 else self.timer1

    def _freq(self, i: int) -> int:
        freq = self.freq0 if i == 0 else self.freq1
        prescale = (self.control[i] >> 2) & 3
        return freq >> 4 if prescale == 1 else freq >> 8 if prescale == 2 else freq

    def _width_mask(self, i: int) -> int:
        return 0xFFFFFFFF if self.control[i] & CTRL_32BIT else 0xFFFF

    def _limit(self, i: int) -> int:
        """The reload value: Load when periodic or one-shot, the counter's maximum when free-running."""
        if self.control[i] & (CTRL_PERIODIC | CTRL_ONESHOT):
            return self.load[i] & self._width_mask(i)
        return self._width_mask(i)

    def _elapsed(self, i: int) -> int:
        delta = self.clock.now() - self.start_ns[i]
        return max(0, delta) * self._freq(i) // NS_PER_SEC

    def _value(self, i: int) -> int:
        start = self.start_count[i]
        if not self.running[i]:
            return start
        e = self._elapsed(i)
        if e < start:
            return start - e
        limit = self._limit(i)
        if self.control[i] & CTRL_ONESHOT or limit == 0:
            return 0
        return limit - (e - start) % limit

    def _start(self, i: int, count: int) -> None:
        self.start_ns[i] = self.clock.now()
        self.start_count[i] = count
        self.running[i] = True
        if count == 0:  # a zero count interrupts at once (QEMU), then reloads or stops
            self.ris[i] = 1
            limit = self._limit(i)
            if self.control[i] & CTRL_ONESHOT or limit == 0:
                self._stop(i, 0)
                return
            self.start_count[i] = limit
        self._schedule(i)

    def _stop(self, i: int, count: int) -> None:
        self.running[i] = False
        self.start_count[i] = count
        self._timer(i).cancel()

    def _rebase(self, i: int) -> None:
        """Make the current value the start count (before a change of reload value)."""
        if self.running[i]:
            self.start_count[i] = self._value(i)
            self.start_ns[i] = self.clock.now()

    def _schedule(self, i: int) -> None:
        freq = self._freq(i)
        if freq == 0:
            self._timer(i).cancel()
            return
        start, e = self.start_count[i], self._elapsed(i)
        if e < start:
            k = start
        else:
            limit = self._limit(i)
            if limit == 0:
                self._timer(i).cancel()
                return
            k = start + ((e - start) // limit + 1) * limit
        self._timer(i).mod(self.start_ns[i] + -(-k * NS_PER_SEC // freq))

    def _expire(self, i: int) -> None:
        self.ris[i] = 1
        if self.control[i] & CTRL_ONESHOT:
            self._stop(i, 0)
        else:
            self._schedule(i)
        self._update_irq()

    # --- register handlers ------------------------------------------------------------
    def _write_load(self, i: int, value: int) -> None:
        self.load[i] = value
        if self.running[i]:
            self._start(i, self._limit(i))
        else:
            self.start_count[i] = self._limit(i)
        self._update_irq()

    def _write_bgload(self, i: int, value: int) -> None:
        self._rebase(i)
        self.load[i] = value
        if self.running[i]:
            self._schedule(i)

    def _read_load(self, i: int) -> int:
        return self.load[i]

    def _read_value(self, i: int) -> int:
        return self._value(i)

    def _write_value(self, i: int, value: int) -> None:
        pass

    def _write_control(self, i: int, value: int) -> None:
        if self.running[i]:
            self._stop(i, self._value(i))
        self.control[i] = value & 0xFF
        if value & CTRL_ENABLE:
            self._start(i, self._limit(i))
        self._update_irq()

    def _write_intclr(self, i: int, value: int) -> None:
        self.ris[i] = 0
        self._update_irq()

    def _read_mis(self, i: int) -> int:
        return self.ris[i] if self.control[i] & CTRL_IE else 0

    def _read_id(self, index: int) -> int:
        return self.ID[index]
