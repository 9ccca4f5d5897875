"""Cortex-A9 MPCore private timer (TWD) and watchdog: one 32-bit down-counter per CPU
(QEMU ``arm_mptimer``).

MMIO regions (0x20 bytes each, 32-bit accesses only):
  mmio[0]    the block of the accessing CPU (``current_cpu()``, a callable the board sets;
             default: CPU 0)
  mmio[1+i]  the block of CPU i
  Registers: 0x00 Load, 0x04 Counter, 0x08 Control, 0x0C Interrupt status; with
  ``watchdog=on`` also 0x10 Reset status and 0x14 Disable (the watchdog's 0x20..0x34).
IRQ outputs: irqs[i] the interrupt of CPU i's timer (PPI 29 for the TWD, 30 for the
watchdog); with ``watchdog=on``, irqs[num-cpu] pulses when a counter in watchdog mode
reaches zero (the board may reset the machine on it).
Properties: num-cpu (1..4), watchdog (bool: the watchdog block rather than the timer).
Attribute ``clock``: the board's VirtualClock, set before realize().

Timing (as QEMU): the counter runs at 100 MHz / (prescaler + 1), i.e. one tick every
``(prescaler + 1) * 10`` ns of virtual time.  It is not ticked: while running, the
deadline of its Timer is the time it reaches zero, and Counter is computed from it.
Writing Load also loads Counter; reaching zero sets the event flag (Interrupt status
bit 0, write 1 to clear), then reloads from Load in auto-reload mode (period Load + 1
ticks) or stops at zero.  The interrupt is the event flag gated by IT enable (Control bit 2).

Watchdog mode (Control bit 3, watchdog only): set by writing Control, cleared only by
writing 0x12345678 then 0x87654321 to the Disable register; reaching zero sets the Reset
status flag and pulses the reset output instead of interrupting.
Not modelled: the watchdog's Reset status is not preserved across the machine reset it
requests (the real flag survives a watchdog reset).
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem.clock import Timer, VirtualClock
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

MAX_CPU = 4
CTRL_ENABLE = 1 << 0
CTRL_AUTO_RELOAD = 1 << 1
CTRL_IT_ENABLE = 1 << 2
CTRL_WD_MODE = 1 << 3
_W32 = 0xFFFFFFFF

REGS = RegisterBank(
    "arm_mptimer",
    Reg("LOAD", 0x00, stored=False, read="_read_load", write="_write_load"),
    Reg("COUNTER", 0x04, stored=False, read="_read_counter", write="_write_counter"),
    Reg("CONTROL", 0x08, stored=False, read="_read_control", write="_write_control"),
    Reg("ISR", 0x0C, stored=False, read="_read_isr", write="_write_isr"),
    Reg("WDRSR", 0x10, stored=False, read="_read_wdrsr", write="_write_wdrsr"),
    Reg("WDDR", 0x14, access="wo", stored=False, write="_write_wddr"),
)


def _cpu0() -> int:
    return 0


@register
class ArmMPTimer(SysBusDevice):
    TYPE = "arm_mptimer"
    DESC = "Cortex-A9 MPCore private timer / watchdog"

    PROPERTIES = (
        Property("num-cpu", "uint32", 1, "number of CPUs (one timer block each, 1..4)"),
        Property("watchdog", "bool", False, "watchdog block (adds watchdog mode and its registers)"),
    )
    STATE = (
        Field("load", "u32[4]", 0, "Load register per CPU"),
        Field("control", "u32[4]", 0, "Control register per CPU"),
        Field("status", "u32[4]", 0, "event flag per CPU"),
        Field("count", "u32[4]", 0, "Counter while not running"),
        Field("wd_reset", "u32[4]", 0, "watchdog Reset status per CPU"),
        Field("wd_unlock", "u8[4]", 0, "1 after the first word of the disable sequence"),
        Field("timer0", "timer", None, "time CPU 0's counter reaches zero"),
        Field("timer1", "timer", None, "time CPU 1's counter reaches zero"),
        Field("timer2", "timer", None, "time CPU 2's counter reaches zero"),
        Field("timer3", "timer", None, "time CPU 3's counter reaches zero"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.current_cpu: Callable[[], int] = _cpu0
        self._cur = 0
        self.timer0 = self.timer1 = self.timer2 = self.timer3 = None
        self._timers = []
        self._due = [None] * MAX_CPU  # deadline last armed (the Timer forgets it when it fires)

    @classmethod
    def example(cls):
        dev = cls(num_cpu=2, watchdog=True)
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        if not 1 <= self.num_cpu <= MAX_CPU:
            raise QOMError(f"arm_mptimer: num-cpu must be between 1 and {MAX_CPU}")
        if self.clock is None:
            raise QOMError("arm_mptimer: no clock (the board sets dev.clock before realize)")
        self._timers = []
        for i in range(self.num_cpu):
            t = Timer(self.clock, lambda i=i: self._expire(i), f"{self.TYPE}.timer{i}")
            setattr(self, f"timer{i}", t)
            self._timers.append(t)
        self.init_mmio(REGS.banked_region(self, "arm_mptimer_timer", 0x20))
        for i in range(self.num_cpu):
            self.init_mmio(REGS.banked_region(self, f"arm_mptimer_timerblock[{i}]", 0x20, i))
        self.irq_out = self.init_irq(self.num_cpu, "irq")
        self.reset_out = self.init_irq(1, "wdt_reset")[0] if self.watchdog else None
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._due = [None] * MAX_CPU
        self._update_irq()

    def post_load(self) -> None:
        self._due = [t.deadline for t in self._timers] + [None] * (MAX_CPU - len(self._timers))
        self._update_irq()

    # --- counting -------------------------------------------------------------------
    def _tick_ns(self, i: int) -> int:
        return (((self.control[i] >> 8) & 0xFF) + 1) * 10

    def _counter(self, i: int) -> int:
        timer = self._timers[i]
        if timer.deadline is None:
            return self.count[i]
        left = (timer.deadline - self.clock.now()) // self._tick_ns(i)
        # after a reload the counter holds at most the value it was reloaded with
        return min(max(0, left), self.count[i])

    def _start(self, i: int, value: int) -> None:
        """Let CPU i's counter run down from ``value`` now (or hold it if disabled)."""
        self.count[i] = value & _W32
        timer = self._timers[i]
        if self.control[i] & CTRL_ENABLE and value:
            self._arm(i, self.clock.now() + value * self._tick_ns(i))
        else:
            timer.cancel()
            self._due[i] = None

    def _arm(self, i: int, deadline: int) -> None:
        self._due[i] = deadline
        self._timers[i].mod(deadline)

    def _expire(self, i: int) -> None:
        ctrl = self.control[i]
        if ctrl & CTRL_WD_MODE and self.watchdog:
            self.wd_reset[i] = 1
            self.count[i] = 0
            self.reset_out.pulse()
            return
        self.status[i] = 1
        load = self.load[i]
        if ctrl & CTRL_AUTO_RELOAD and load:
            period = (load + 1) * self._tick_ns(i)
            now = self.clock.now()
            # reload from the deadline that fired (the callback may run late): no drift
            nxt = (self._due[i] if self._due[i] is not None else now) + period
            if nxt <= now:
                nxt += ((now - nxt) // period + 1) * period
            self.count[i] = load
            self._arm(i, nxt)
        else:
            self.count[i] = 0
        self._update_irq()

    def _update_irq(self) -> None:
        for i in range(self.num_cpu):
            ctrl = self.control[i]
            wd = self.watchdog and ctrl & CTRL_WD_MODE
            self.irq_out[i].set(self.status[i] & 1 and ctrl & CTRL_IT_ENABLE and not wd)

    # --- registers (self._cur is the CPU) ----------------------------------------------
    def _read_load(self) -> int:
        return self.load[self._cur]

    def _write_load(self, value: int) -> None:
        i = self._cur
        self.load[i] = value
        self._start(i, value)

    def _read_counter(self) -> int:
        return self._counter(self._cur)

    def _write_counter(self, value: int) -> None:
        self._start(self._cur, value)

    def _read_control(self) -> int:
        return self.control[self._cur]

    def _write_control(self, value: int) -> None:
        i = self._cur
        old = self.control[i]
        current = self._counter(i)
        mask = 0xFF0F if self.watchdog else 0xFF07
        value = (value & mask) | (old & CTRL_WD_MODE)
        self.control[i] = value
        if not old & CTRL_ENABLE and value & CTRL_ENABLE and current == 0 \
                and value & CTRL_AUTO_RELOAD:
            current = self.load[i]
        self._start(i, current)
        self._update_irq()

    def _read_isr(self) -> int:
        return self.status[self._cur] & 1

    def _write_isr(self, value: int) -> None:
        self.status[self._cur] &= ~value & _W32
        self._update_irq()

    def _read_wdrsr(self) -> int:
        return self.wd_reset[self._cur] & 1 if self.watchdog else 0

    def _write_wdrsr(self, value: int) -> None:
        if self.watchdog:
            self.wd_reset[self._cur] &= ~value & _W32

    def _write_wddr(self, value: int) -> None:
        if not self.watchdog:
            return
        i = self._cur
        if value == 0x12345678:
            self.wd_unlock[i] = 1
        elif value == 0x87654321 and self.wd_unlock[i]:
            self.wd_unlock[i] = 0
            self.control[i] &= ~CTRL_WD_MODE
            self._update_irq()
        else:
            self.wd_unlock[i] = 0

