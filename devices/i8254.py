"""Intel 8254 programmable interval timer, as QEMU 7.2 models it (hw/timer/i8254.c).

Interface:
  * Region 0: four ports (ISA 0x40-0x43): the counters of channels 0-2 and the
    control word register (write-only: reads return 0).
  * Region 1: one port (ISA 0x61), PIIX4's NMI status and control register as
    far as it concerns the PIT (QEMU's pcspk port): bit 0 is channel 2's GATE,
    bit 1 the speaker data enable, bit 4 the refresh toggle (it changes at every
    read, as in QEMU), bit 5 channel 2's OUT.  QEMU 7.2's Malta has no device at
    0x61 (reads there return 0xff); the board decides whether to map it.
  * IRQ output 0: channel 0's OUT (ISA IRQ 0).
  * Attribute ``clock``: the board's ``VirtualClock``, set before ``realize()``.
  * ``set_gate(channel, level)``, ``get_out(channel)`` for other wiring.

Counting: the counters run at 1.193182 MHz of guest time; nothing ticks: a
count and OUT are computed from the time the count was loaded (QEMU's
count_load_time), and for channel 0 a ``Timer`` is armed at OUT's next
transition, which drives the IRQ line.  Modes 0-5 (6 and 7 are kept as
written and behave as QEMU's default cases), LSB/MSB/word access, the counter
latch command, and the read-back command (count and status latches).  Gate:
a rising edge restarts modes 1, 2, 3 and 5; in modes 0 and 4 the gate does
not stop counting (QEMU's simplification).  Reset: every channel in mode 3 with
a count of 0x10000, gates high except channel 2's, as QEMU.

Not modelled (as in QEMU): BCD counting (the bit is stored and read back),
the null-count status bit, stopping the count with the gate.
"""
from __future__ import annotations

from typing import Optional

from pysystem.clock import NS_PER_SEC, Timer, VirtualClock
from pysystem.qom import Field, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .isa import ISADevice, port_region

PIT_FREQ = 1_193_182
RW_LSB, RW_MSB, RW_WORD0, RW_WORD1 = 1, 2, 3, 4
CHANNELS = 3


@register
class I8254(ISADevice):
    TYPE = "isa-pit"
    DESC = "Intel 8254 programmable interval timer"
    ISA_PORTS = (0x40, 0x61)
    ISA_IRQS = (0,)

    REGS = RegisterBank(
        "i8254",
        Reg("COUNTER", 0, count=CHANNELS, width=1, read="_read_counter",
            write="_write_counter", stored=False, doc="counter of channel 0-2"),
        Reg("CONTROL", 3, width=1, read="_read_control", write="_write_control",
            stored=False, doc="control word, latch and read-back commands"),
    )
    PORT61_REGS = RegisterBank(
        "i8254-port61",
        Reg("NMISC", 0, width=1, read="_read_port61", write="_write_port61", stored=False,
            doc="channel 2 gate, speaker enable, refresh toggle, channel 2 out"),
    )
    STATE = (
        Field("count", f"u32[{CHANNELS}]", 0x10000, "initial count (1-0x10000)"),
        Field("count_load_time", f"i64[{CHANNELS}]", 0, "virtual ns the count was loaded"),
        Field("latched_count", f"u16[{CHANNELS}]", 0, "count latched by a latch command"),
        Field("count_latched", f"u8[{CHANNELS}]", 0, "latch pending: its access mode (0: none)"),
        Field("status_latched", f"bool[{CHANNELS}]", False, "read-back status pending"),
        Field("status", f"u8[{CHANNELS}]", 0, "latched status byte"),
        Field("read_state", f"u8[{CHANNELS}]", 0, "next byte a read returns"),
        Field("write_state", f"u8[{CHANNELS}]", 0, "next byte a write sets"),
        Field("write_latch", f"u8[{CHANNELS}]", 0, "LSB written, waiting for the MSB"),
        Field("rw_mode", f"u8[{CHANNELS}]", 0, "access mode (1 LSB, 2 MSB, 3 word; 0 at power-on, as LSB)"),
        Field("mode", f"u8[{CHANNELS}]", 3, "counter mode 0-7"),
        Field("bcd", f"bool[{CHANNELS}]", False, "BCD bit (stored only)"),
        Field("gate", f"bool[{CHANNELS}]", [True, True, False], "GATE input level"),
        Field("next_transition_time", "i64", -1, "channel 0: virtual ns of OUT's next change"),
        Field("irq_timer", "timer", None, "channel 0's next OUT transition"),
        Field("speaker_data_on", "bool", False, "port 0x61 bit 1"),
        Field("refresh_toggle", "u8", 0, "port 0x61 bit 4"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.irq_timer: Optional[Timer] = None

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
        self.init_mmio(port_region(self.REGS, self, "pit", 4))
        self.init_mmio(port_region(self.PORT61_REGS, self, "pit-port61", 1))
        self.init_irq(1)
        self.irq_timer = Timer(self.clock, self._irq_timer_expired, f"{self.TYPE}.irq_timer")
        super().realize()

    def reset(self) -> None:
        super().reset()
        now = self.clock.now()
        self.count_load_time = [now] * CHANNELS
        self._irq_timer_update(now)

    def post_load(self) -> None:
        """The timer's deadline is restored with the state; the line follows OUT."""
        self.irqs[0].set(self.get_out(0, self.clock.now()))

    # --- counting (QEMU's pit_get_count / pit_get_out / next transition) ----------
    def _ticks(self, ch: int, now: int) -> int:
        return (now - self.count_load_time[ch]) * PIT_FREQ // NS_PER_SEC

    def get_count(self, ch: int) -> int:
        d = self._ticks(ch, self.clock.now())
        count, mode = self.count[ch], self.mode[ch]
        if mode in (0, 1, 4, 5):
            return (count - d) & 0xFFFF
        if mode == 3:
            return count - (2 * d) % count
        return count - d % count

    def get_out(self, ch: int, now: Optional[int] = None) -> int:
        d = self._ticks(ch, self.clock.now() if now is None else now)
        count, mode = self.count[ch], self.mode[ch]
        if mode == 1:
            return int(d < count)
        if mode == 2:
            return int(d % count == 0 and d != 0)
        if mode == 3:
            return int(d % count < (count + 1) >> 1)
        if mode in (4, 5):
            return int(d == count)
        return int(d >= count)                      # mode 0 (and 6, 7)

    def _next_transition(self, ch: int, now: int) -> int:
        """Virtual ns of OUT's next change after ``now``, or -1."""
        d = self._ticks(ch, now)
        count, mode = self.count[ch], self.mode[ch]
        if mode == 2:
            base = d // count * count
            nxt = base + count if d - base == 0 and d != 0 else base + count + 1
        elif mode == 3:
            base = d // count * count
            half = (count + 1) >> 1
            nxt = base + half if d - base < half else base + count
        elif mode in (4, 5):
            if d < count:
                nxt = count
            elif d == count:
                nxt = count + 1
            else:
                return -1
        else:                                       # modes 0, 1 (and 6, 7)
            if d >= count:
                return -1
            nxt = count
        when = self.count_load_time[ch] + nxt * NS_PER_SEC // PIT_FREQ
        return when if when > now else now + 1

    def _irq_timer_update(self, now: int) -> None:
        expire = self._next_transition(0, now)
        self.irqs[0].set(self.get_out(0, now))
        self.next_transition_time = expire
        if expire != -1:
            self.irq_timer.mod(expire)
        else:
            self.irq_timer.cancel()

    def _irq_timer_expired(self) -> None:
        self._irq_timer_update(self.next_transition_time)

    def _load_count(self, ch: int, value: int) -> None:
        now = self.clock.now()
        self.count_load_time[ch] = now
        self.count[ch] = value or 0x10000
        if ch == 0:
            self._irq_timer_update(now)

    def _latch_count(self, ch: int) -> None:
        if not self.count_latched[ch]:
            self.latched_count[ch] = self.get_count(ch) & 0xFFFF
            self.count_latched[ch] = self.rw_mode[ch]

    def set_gate(self, ch: int, level: int) -> None:
        level = bool(level)
        if self.mode[ch] in (1, 2, 3, 5) and not self.gate[ch] and level:
            now = self.clock.now()                  # a rising edge restarts the count
            self.count_load_time[ch] = now
            if ch == 0:
                self._irq_timer_update(now)
        self.gate[ch] = level

    # --- ports --------------------------------------------------------------------
    def _write_control(self, value: int) -> None:
        ch = value >> 6
        if ch == 3:                                 # read-back
            for c in range(CHANNELS):
                if not value & (2 << c):
                    continue
                if not value & 0x20:
                    self._latch_count(c)
                if not value & 0x10 and not self.status_latched[c]:
                    self.status[c] = ((self.get_out(c) << 7) | (self.rw_mode[c] << 4)
                                      | (self.mode[c] << 1) | int(self.bcd[c]))
                    self.status_latched[c] = True
            return
        access = (value >> 4) & 3
        if access == 0:
            self._latch_count(ch)
            return
        self.rw_mode[ch] = self.read_state[ch] = self.write_state[ch] = access
        self.mode[ch] = (value >> 1) & 7
        self.bcd[ch] = bool(value & 1)

    def _read_control(self) -> int:
        return 0                                    # write-only

    def _write_counter(self, ch: int, value: int) -> None:
        state = self.write_state[ch]
        if state == RW_MSB:
            self._load_count(ch, value << 8)
        elif state == RW_WORD0:
            self.write_latch[ch] = value
            self.write_state[ch] = RW_WORD1
        elif state == RW_WORD1:
            self._load_count(ch, self.write_latch[ch] | (value << 8))
            self.write_state[ch] = RW_WORD0
        else:
            self._load_count(ch, value)

    def _read_counter(self, ch: int) -> int:
        if self.status_latched[ch]:
            self.status_latched[ch] = False
            return self.status[ch]
        latched = self.count_latched[ch]
        if latched:
            if latched == RW_MSB:
                self.count_latched[ch] = 0
                return self.latched_count[ch] >> 8
            if latched == RW_WORD0:
                self.count_latched[ch] = RW_MSB
            else:
                self.count_latched[ch] = 0
            return self.latched_count[ch] & 0xFF
        state = self.read_state[ch]
        count = self.get_count(ch)
        if state == RW_WORD0:
            self.read_state[ch] = RW_WORD1
            return count & 0xFF
        if state == RW_WORD1:
            self.read_state[ch] = RW_WORD0
            return (count >> 8) & 0xFF
        if state == RW_MSB:
            return (count >> 8) & 0xFF
        return count & 0xFF

    def _read_port61(self) -> int:
        self.refresh_toggle ^= 0x10
        return (int(self.gate[2]) | (int(self.speaker_data_on) << 1) | self.refresh_toggle
                | (self.get_out(2) << 5))

    def _write_port61(self, value: int) -> None:
        self.speaker_data_on = bool(value & 2)
        self.set_gate(2, value & 1)
