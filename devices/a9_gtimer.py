"""Cortex-A9 MPCore global timer: one shared 64-bit up-counter, a comparator per CPU
(QEMU ``a9gtimer``).

MMIO regions (0x20 bytes each, 32-bit accesses only):
  mmio[0]    as seen by the accessing CPU (``current_cpu()``, a callable the board sets;
             default: CPU 0)
  mmio[1+i]  as seen by CPU i
  Registers: 0x00/0x04 Counter low/high, 0x08 Control, 0x0C Interrupt status,
  0x10/0x14 Comparator low/high, 0x18 Auto-increment.
IRQ outputs: irqs[i] CPU i's comparator interrupt (PPI 27).
Properties: num-cpu (1..4).  Attribute ``clock``: the board's VirtualClock, set before
realize().

Control: bit 0 timer enable and bits [15:8] prescaler are shared by all CPUs; bits 1
(comparator enable), 2 (IRQ enable) and 3 (auto-increment) are banked per CPU.
Frequency (as QEMU): the counter counts at 100 MHz / (prescaler + 1), i.e. it advances by
one every ``(prescaler + 1) * 10`` ns of virtual time, consistently with the virtual clock
(Linux takes the rate from the device tree's clock).  The counter is computed from the
virtual clock, not ticked; it can be written only while the timer is disabled.
Comparator (r2p0 and later): when the counter is >= the comparator and the comparator is
enabled, the CPU's event flag (Interrupt status bit 0, write 1 to clear) is set; with
auto-increment the comparator then advances by the increment until it is above the
counter.  The interrupt is the event flag gated by IRQ enable.
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem import log
from pysystem.clock import Timer, VirtualClock
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

MAX_CPU = 4
CTRL_TIMER_ENABLE = 1 << 0
CTRL_COMP_ENABLE = 1 << 1
CTRL_IRQ_ENABLE = 1 << 2
CTRL_AUTO_INC = 1 << 3
CTRL_BANKED = CTRL_COMP_ENABLE | CTRL_IRQ_ENABLE | CTRL_AUTO_INC
CTRL_SHARED = CTRL_TIMER_ENABLE | 0xFF00
_W32 = 0xFFFFFFFF
_W64 = 0xFFFFFFFFFFFFFFFF

REGS = RegisterBank(
    "a9gtimer",
    Reg("COUNTER", 0x00, count=2, stored=False, read="_read_counter", write="_write_counter"),
    Reg("CONTROL", 0x08, stored=False, read="_read_control", write="_write_control"),
    Reg("ISR", 0x0C, stored=False, read="_read_isr", write="_write_isr"),
    Reg("COMPARATOR", 0x10, count=2, stored=False, read="_read_comparator",
        write="_write_comparator"),
    Reg("AUTOINC", 0x18, stored=False, read="_read_autoinc", write="_write_autoinc"),
)


def _cpu0() -> int:
    return 0


@register
class A9GlobalTimer(SysBusDevice):
    TYPE = "a9gtimer"
    DESC = "Cortex-A9 MPCore global timer"

    PROPERTIES = (
        Property("num-cpu", "uint32", 1, "number of CPUs (one comparator each, 1..4)"),
    )
    STATE = (
        Field("counter", "u64", 0, "counter value at ref_ns (while enabled) or held value"),
        Field("ref_ns", "u64", 0, "virtual time at which the counter had the value 'counter'"),
        Field("control", "u32", 0, "shared Control bits (enable, prescaler)"),
        Field("cpu_control", "u32[4]", 0, "banked Control bits per CPU"),
        Field("compare", "u64[4]", 0, "comparator per CPU"),
        Field("status", "u32[4]", 0, "event flag per CPU"),
        Field("inc", "u32[4]", 0, "auto-increment per CPU"),
        Field("timer", "timer", None, "next comparator match"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.current_cpu: Callable[[], int] = _cpu0
        self._cur = 0
        self.timer = None

    @classmethod
    def example(cls):
        dev = cls(num_cpu=2)
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        if not 1 <= self.num_cpu <= MAX_CPU:
            raise QOMError(f"a9gtimer: num-cpu must be between 1 and {MAX_CPU}")
        if self.clock is None:
            raise QOMError("a9gtimer: no clock (the board sets dev.clock before realize)")
        self.timer = Timer(self.clock, self._update, f"{self.TYPE}.timer")
        self.init_mmio(REGS.banked_region(self, "a9gtimer shared", 0x20))
        for i in range(self.num_cpu):
            self.init_mmio(REGS.banked_region(self, f"a9gtimer per cpu[{i}]", 0x20, i))
        self.irq_out = self.init_irq(self.num_cpu, "irq")
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    # --- counting -------------------------------------------------------------------
    def _conv(self) -> int:
        return (((self.control >> 8) & 0xFF) + 1) * 10

    def now_counter(self) -> int:
        """The counter's value at the current virtual time."""
        if not self.control & CTRL_TIMER_ENABLE:
            return self.counter
        return (self.counter + (self.clock.now() - self.ref_ns) // self._conv()) & _W64

    def _sync(self) -> None:
        """Re-base the counter at the current time (before the rate or enable changes)."""
        self.counter = self.now_counter()
        self.ref_ns = self.clock.now()

    def _update(self) -> None:
        """Take comparator events up to now and arm the timer for the next one."""
        if self.timer is None:
            return
        enabled = self.control & CTRL_TIMER_ENABLE
        cnt = self.now_counter()
        nxt = None
        for i in range(self.num_cpu):
            ctrl = self.cpu_control[i]
            if not (enabled and ctrl & CTRL_COMP_ENABLE):
                continue
            if cnt >= self.compare[i]:
                self.status[i] = 1
                inc = self.inc[i]
                if ctrl & CTRL_AUTO_INC and inc:
                    steps = (cnt - self.compare[i]) // inc + 1
                    self.compare[i] = (self.compare[i] + steps * inc) & _W64
            if self.compare[i] > cnt and (nxt is None or self.compare[i] < nxt):
                nxt = self.compare[i]
        if nxt is None:
            self.timer.cancel()
        else:
            now = self.clock.now()
            self.timer.mod(max(now, self.ref_ns + (nxt - self.counter) * self._conv()))
        self._update_irq()

    def _update_irq(self) -> None:
        for i in range(self.num_cpu):
            self.irq_out[i].set(self.status[i] & 1 and self.cpu_control[i] & CTRL_IRQ_ENABLE)

    # --- registers (self._cur is the CPU) ----------------------------------------------
    def _read_counter(self, half: int) -> int:
        return (self.now_counter() >> (32 * half)) & _W32

    def _write_counter(self, half: int, value: int) -> None:
        if self.control & CTRL_TIMER_ENABLE:
            log.log("guest_errors", "a9gtimer: write to the counter while it runs ignored")
            return
        shift = 32 * half
        self.counter = (self.counter & ~(_W32 << shift) | (value << shift)) & _W64
        self._update()

    def _read_control(self) -> int:
        return self.control | self.cpu_control[self._cur]

    def _write_control(self, value: int) -> None:
        self._sync()
        self.control = value & CTRL_SHARED
        self.cpu_control[self._cur] = value & CTRL_BANKED
        self._update()

    def _read_isr(self) -> int:
        return self.status[self._cur] & 1

    def _write_isr(self, value: int) -> None:
        self._update()
        self.status[self._cur] &= ~value & _W32
        self._update_irq()

    def _read_comparator(self, half: int) -> int:
        return (self.compare[self._cur] >> (32 * half)) & _W32

    def _write_comparator(self, half: int, value: int) -> None:
        i, shift = self._cur, 32 * half
        self.compare[i] = (self.compare[i] & ~(_W32 << shift) | (value << shift)) & _W64
        self._update()

    def _read_autoinc(self) -> int:
        return self.inc[self._cur]

    def _write_autoinc(self, value: int) -> None:
        self.inc[self._cur] = value
