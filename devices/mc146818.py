"""Motorola MC146818 real-time clock with 128 bytes of CMOS RAM, as QEMU 7.2 models it.

Interface:
  * Region 0: two ports (ISA 0x70/0x71): the index (bits 6-0; bit 7, the PC's
    NMI mask, is dropped; reads return 0xff) and the data of the indexed byte.
  * IRQ output 0: IRQ8 (the line follows register C's IRQF bit).
  * Property ``base-year`` (uint16, default 0: QEMU's PIIX4 RTC keeps the full
    century in byte 0x32).
  * Attribute ``clock``: the board's ``VirtualClock``, set before ``realize()``.
    The time is the guest's wall clock, ``clock.wall_ns()`` (so ``-rtc base=``
    fixes it, as for the PL031), plus the offset the guest set.

Registers (hw/rtc/mc146818rtc.c): 0x00-0x09 seconds, alarm seconds, minutes,
alarm minutes, hours, alarm hours, day of week, day, month, year; 0x32 the
century; BCD or binary (B.DM), 12 or 24 hours (B.24H, bit 7 of the hours is PM);
an alarm byte with bits 7-6 set is "don't care".  Register A: UIP (read-only),
the divider (0x20 runs; 0x60/0x70 hold the chain in reset and freeze the time;
leaving reset starts the next second half a second later) and the periodic
rate; B: SET (freezes the registers for the guest to write; leaving it sets
the time and keeps the sub-second phase), PIE, AIE, UIE, DM, 24H; C: IRQF, PF,
AF, UF, cleared by reading it (which lowers IRQ8); D: VRT (0x80).

Timing on the virtual clock: UIP reads 1 during the last 244 us before each
second (QEMU's UIP_HOLD_LENGTH); the update-ended flag is raised at each second
and the alarm flag when the new second matches the alarm, by a ``Timer`` armed
only while a flag can still change (as QEMU's check_update_timer); the periodic
flag (only while PIE, as QEMU) at multiples of the 32.768 kHz period.

A guest that polls UIP (Linux on Malta calibrates its CPU counter between two
falling edges of UIP) would burn a guest second of busy-waiting per edge: when
register A is read three times in a row with the same UIP value (no other RTC
register accessed between), the device arms a timer at UIP's next edge and
lets the clock warp to the next timer deadline, as an idle CPU does.  Guest
time still passes as on the hardware (the edges come at the same virtual
times); only the instructions of the busy loop are skipped.  The result is
deterministic: it depends on guest accesses and virtual time only.

CMOS RAM and the time survive a system reset (the chip is battery-backed);
reset clears PIE, AIE, SQWE and the flags of register C, as QEMU's rtc_reset.

Not modelled: the square-wave output, daylight saving (B.DSE), the coalesced
periodic interrupts QEMU keeps for Windows (lost ticks are dropped), QEMU's
RTC_CHANGE event.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from pysystem.clock import NS_PER_SEC, Timer, VirtualClock
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .isa import ISADevice, port_region

CMOS_SIZE = 128
SECONDS, SECONDS_ALARM, MINUTES, MINUTES_ALARM, HOURS, HOURS_ALARM = 0, 1, 2, 3, 4, 5
DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR = 6, 7, 8, 9
REG_A, REG_B, REG_C, REG_D = 10, 11, 12, 13
CENTURY = 0x32
TIME_REGS = (SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR)

A_UIP = 0x80
B_SET, B_PIE, B_AIE, B_UIE, B_SQWE, B_DM, B_24H = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02
C_IRQF, C_PF, C_AF, C_UF = 0x80, 0x40, 0x20, 0x10
C_MASK = C_PF | C_AF | C_UF

RTC_CLOCK_RATE = 32768
UIP_HOLD_NS = 8 * NS_PER_SEC // RTC_CLOCK_RATE       # 244140 ns
POLL_WARP_READS = 3
SEC_PER_DAY = 86400


def _power_on_cmos() -> bytes:
    cmos = bytearray(CMOS_SIZE)
    cmos[REG_A], cmos[REG_B], cmos[REG_D] = 0x26, B_24H, 0x80
    return bytes(cmos)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date; any integers (months wrap)."""
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> Tuple[int, int, int]:
    """(year, month 1-12, day 1-31) of a day number since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


@register
class MC146818(ISADevice):
    TYPE = "mc146818rtc"
    DESC = "Motorola MC146818 real-time clock and CMOS RAM"
    ISA_PORTS = (0x70,)
    ISA_IRQS = (8,)

    PROPERTIES = (
        Property("base-year", "uint16", 0, "year that a year/century of zero means"),
    )

    REGS = RegisterBank(
        "mc146818rtc",
        Reg("INDEX", 0, width=1, read="_read_index", write="_write_index", stored=False,
            doc="CMOS index (bit 7 dropped); reads 0xff"),
        Reg("DATA", 1, width=1, read="_read_data", write="_write_data", stored=False,
            doc="the indexed CMOS byte or clock register"),
    )
    STATE = (
        Field("cmos", f"u8[{CMOS_SIZE}]", list(_power_on_cmos()), "the 128 bytes: clock registers and RAM"),
        Field("cmos_index", "u8", 0, "the byte the data port reaches"),
        Field("offset_ns", "i64", 0, "guest RTC time minus the wall clock (ns)"),
        Field("phase_ns", "i64", 0, "sub-second phase given to a time the guest sets"),
        Field("period", "u32", 0, "periodic interrupt period in 32 kHz ticks (0: off)"),
        Field("next_periodic_ns", "i64", 0, "virtual ns of the next periodic interrupt"),
        Field("a_polls", "u8", 0, "consecutive register A reads with the same UIP"),
        Field("a_last_uip", "bool", False, "UIP as the last register A read saw it"),
        Field("periodic_timer", "timer", None, "next periodic interrupt"),
        Field("update_timer", "timer", None, "next second (or alarm) that changes a flag"),
        Field("edge_timer", "timer", None, "UIP's next edge, armed while the guest polls"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.periodic_timer: Optional[Timer] = None
        self.update_timer: Optional[Timer] = None
        self.edge_timer: Optional[Timer] = None

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
        ports = port_region(self.REGS, self, "rtc", 2)
        # QEMU maps the index port again as "rtc-index" (its coalesced-I/O window): same
        # register, so `info mtree` shows what QEMU's shows
        ports.add_subregion(0, port_region(self.REGS, self, "rtc-index", 1))
        self.init_mmio(ports)
        self.init_irq(1)
        self.periodic_timer = Timer(self.clock, self._periodic_expired, f"{self.TYPE}.periodic")
        self.update_timer = Timer(self.clock, self._update_expired, f"{self.TYPE}.update")
        self.edge_timer = Timer(self.clock, self._edge_reached, f"{self.TYPE}.uip-edge")
        super().realize()

    def reset(self) -> None:
        powered = getattr(self, "cmos", None)
        kept = (list(powered), self.offset_ns, self.phase_ns) if powered is not None else None
        super().reset()
        if kept is not None:                         # battery-backed: a system reset keeps these
            self.cmos, self.offset_ns, self.phase_ns = kept
        self.cmos[REG_B] &= ~(B_PIE | B_AIE | B_SQWE) & 0xFF
        self.cmos[REG_C] &= ~(C_UF | C_IRQF | C_PF | C_AF) & 0xFF
        self._set_cmos_time()
        self._periodic_update(self.clock.now(), 0, False)
        self._check_update_timer()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        self.irqs[0].set(self.cmos[REG_C] & C_IRQF)

    # --- BCD, hours and the time ---------------------------------------------------
    def _to_bcd(self, value: int) -> int:
        if self.cmos[REG_B] & B_DM:
            return value & 0xFF
        return ((value // 10) << 4 | value % 10) & 0xFF

    def _from_bcd(self, value: int) -> int:
        """The number in a time byte; -1 for "don't care" (bits 7-6 set)."""
        if value & 0xC0 == 0xC0:
            return -1
        if self.cmos[REG_B] & B_DM:
            return value
        return (value >> 4) * 10 + (value & 0x0F)

    def _hour_from(self, value: int) -> int:
        hour = self._from_bcd(value & 0x7F)
        if hour >= 0 and not self.cmos[REG_B] & B_24H:
            hour = hour % 12 + (12 if value & 0x80 else 0)
        return hour

    def running(self) -> bool:
        return not self.cmos[REG_B] & B_SET and (self.cmos[REG_A] & 0x70) <= 0x20

    def guest_ns(self) -> int:
        """The guest's RTC time in ns since the epoch."""
        return self.clock.wall_ns() + self.offset_ns

    def _set_cmos_time(self) -> None:
        """Write the time registers from the clock (QEMU's rtc_set_cmos)."""
        seconds = self.guest_ns() // NS_PER_SEC
        days, tod = divmod(seconds, SEC_PER_DAY)
        year, month, day = civil_from_days(days)
        hour, rest = divmod(tod, 3600)
        cmos = self.cmos
        cmos[SECONDS] = self._to_bcd(rest % 60)
        cmos[MINUTES] = self._to_bcd(rest // 60)
        if cmos[REG_B] & B_24H:
            cmos[HOURS] = self._to_bcd(hour)
        else:
            cmos[HOURS] = self._to_bcd(hour % 12 or 12) | (0x80 if hour >= 12 else 0)
        cmos[DAY_OF_WEEK] = self._to_bcd((days + 4) % 7 + 1)      # 1970-01-01 was a Thursday
        cmos[DAY_OF_MONTH] = self._to_bcd(day)
        cmos[MONTH] = self._to_bcd(month)
        year -= self.base_year
        cmos[YEAR] = self._to_bcd(year % 100)
        cmos[CENTURY] = self._to_bcd(year // 100 % 100)

    def _update_time(self) -> None:
        if self.running():
            self._set_cmos_time()

    def _registers_seconds(self) -> int:
        cmos, get = self.cmos, self._from_bcd
        year = get(cmos[YEAR]) + self.base_year + get(cmos[CENTURY]) * 100
        days = days_from_civil(year, get(cmos[MONTH]), get(cmos[DAY_OF_MONTH]))
        return (days * SEC_PER_DAY + self._hour_from(cmos[HOURS]) * 3600
                + get(cmos[MINUTES]) * 60 + get(cmos[SECONDS]))

    def _set_time(self) -> None:
        """Take the time the guest wrote into the registers (QEMU's rtc_set_time)."""
        self.offset_ns = (self._registers_seconds() * NS_PER_SEC + self.phase_ns
                          - self.clock.wall_ns())

    def update_in_progress(self) -> bool:
        return self.running() and self.guest_ns() % NS_PER_SEC >= NS_PER_SEC - UIP_HOLD_NS

    def time_text(self) -> str:
        """The time the registers hold, for the monitor."""
        year, month, day = civil_from_days(self.guest_ns() // NS_PER_SEC // SEC_PER_DAY)
        tod = self.guest_ns() // NS_PER_SEC % SEC_PER_DAY
        return f"{year:04d}-{month:02d}-{day:02d}T{tod // 3600:02d}:{tod // 60 % 60:02d}:{tod % 60:02d}"

    # --- the update cycle and the alarm ---------------------------------------------
    def _to_next_second_ns(self) -> int:
        return NS_PER_SEC - self.guest_ns() % NS_PER_SEC

    def _alarm_fields(self) -> Tuple[int, int, int]:
        """Alarm hour, minute, second as numbers; -1 where "don't care"."""
        cmos = self.cmos
        hour = cmos[HOURS_ALARM]
        hour = -1 if hour & 0xC0 == 0xC0 else self._hour_from(hour)
        return hour, self._from_bcd(cmos[MINUTES_ALARM]), self._from_bcd(cmos[SECONDS_ALARM])

    def _alarm_matches(self) -> bool:
        tod = self.guest_ns() // NS_PER_SEC % SEC_PER_DAY
        now = (tod // 3600, tod // 60 % 60, tod % 60)
        return all(want in (-1, have) for want, have in zip(self._alarm_fields(), now))

    def _first_match_from(self, x: int, alarm: Tuple[int, int, int]) -> int:
        """The first second of the day at or after ``x`` that matches ``alarm``, or -1."""
        ah, am, asec = alarm
        for h in range(x // 3600, 24):
            if ah != -1 and h != ah:
                continue
            same_hour = h == x // 3600
            for m in range(x // 60 % 60 if same_hour else 0, 60):
                if am != -1 and m != am:
                    continue
                s0 = x % 60 if same_hour and m == x // 60 % 60 else 0
                if asec == -1:
                    return h * 3600 + m * 60 + s0
                if asec >= s0:
                    return h * 3600 + m * 60 + asec
        return -1

    def _seconds_to_alarm(self) -> int:
        """Seconds from now to the next second whose time matches the alarm (1-86400;
        two days when it never can)."""
        alarm = self._alarm_fields()
        ah, am, asec = alarm
        if not (-1 <= ah < 24 and -1 <= am < 60 and -1 <= asec < 60):
            return 2 * SEC_PER_DAY
        cur = self.guest_ns() // NS_PER_SEC % SEC_PER_DAY
        if cur + 1 < SEC_PER_DAY:
            t = self._first_match_from(cur + 1, alarm)
            if t >= 0:
                return t - cur
        t = self._first_match_from(0, alarm)
        return SEC_PER_DAY - cur + t if t >= 0 else 2 * SEC_PER_DAY

    def _check_update_timer(self) -> None:
        """Arm the update timer for the next second that can change a flag (QEMU's logic)."""
        if self.cmos[REG_A] & 0x60 == 0x60:          # divider in reset: no updates
            self.update_timer.cancel()
            return
        next_second = self.clock.now() + self._to_next_second_ns()
        when = next_second
        if self.cmos[REG_C] & C_UF:
            if self.cmos[REG_B] & B_SET or self.cmos[REG_C] & C_AF:
                self.update_timer.cancel()
                return
            when = next_second + (self._seconds_to_alarm() - 1) * NS_PER_SEC
        if self.update_timer.deadline != when:
            self.update_timer.mod(when)

    def _update_expired(self) -> None:
        self._update_time()
        irqs = C_UF
        if self.running() and self._alarm_matches():
            irqs |= C_AF
        new = irqs & ~self.cmos[REG_C]
        self.cmos[REG_C] |= irqs
        if new & self.cmos[REG_B]:
            self.cmos[REG_C] |= C_IRQF
        self._check_update_timer()
        self._update_irq()

    # --- periodic interrupt ---------------------------------------------------------
    def _period_ticks(self) -> int:
        code = self.cmos[REG_A] & 0x0F
        if code == 0 or not self.cmos[REG_B] & B_PIE:
            return 0
        if code <= 2:
            code += 7
        return 1 << (code - 1)

    def _periodic_update(self, now: int, old_period: int, changed: bool) -> None:
        period = self._period_ticks()
        self.period = period
        if not period:
            self.periodic_timer.cancel()
            return
        cur = now * RTC_CLOCK_RATE // NS_PER_SEC
        lost = 0
        if old_period and changed:
            last = self.next_periodic_ns * RTC_CLOCK_RATE // NS_PER_SEC - old_period
            lost = min(max(0, cur - last), period)
        self.next_periodic_ns = (cur + period - lost) * NS_PER_SEC // RTC_CLOCK_RATE + 1
        self.periodic_timer.mod(self.next_periodic_ns)

    def _periodic_expired(self) -> None:
        self._periodic_update(self.next_periodic_ns, self.period, False)
        self.cmos[REG_C] |= C_PF
        if self.cmos[REG_B] & B_PIE:
            self.cmos[REG_C] |= C_IRQF
        self._update_irq()

    # --- polling UIP ----------------------------------------------------------------
    def _note_poll(self, uip: bool) -> None:
        if self.a_polls and uip == self.a_last_uip:
            self.a_polls = min(self.a_polls + 1, POLL_WARP_READS)
        else:
            self.a_polls, self.a_last_uip = 1, uip
        if self.a_polls < POLL_WARP_READS or not self.running():
            return
        into = self.guest_ns() % NS_PER_SEC
        to_edge = NS_PER_SEC - into if uip else NS_PER_SEC - UIP_HOLD_NS - into
        self.edge_timer.mod(self.clock.now() + to_edge)
        self.clock.warp_to_next_deadline()

    def _edge_reached(self) -> None:
        """Nothing to do: the timer only lets the polling guest's clock warp to the edge."""

    # --- ports ----------------------------------------------------------------------
    def _read_index(self) -> int:
        return 0xFF

    def _write_index(self, value: int) -> None:
        self.cmos_index = value & 0x7F

    def _read_data(self) -> int:
        index = self.cmos_index
        if index == REG_A:
            uip = self.update_in_progress()
            value = self.cmos[REG_A] | (A_UIP if uip else 0)
            self._note_poll(uip)
            return value
        self.a_polls = 0
        if index in TIME_REGS:
            self._update_time()
            return self.cmos[index]
        if index == REG_C:
            value = self.cmos[REG_C]
            self.cmos[REG_C] = 0
            self._update_irq()
            if value & (C_UF | C_AF):
                self._check_update_timer()
            return value
        return self.cmos[index]

    def _write_data(self, value: int) -> None:
        index = self.cmos_index
        self.a_polls = 0
        cmos = self.cmos
        if index in (SECONDS_ALARM, MINUTES_ALARM, HOURS_ALARM):
            cmos[index] = value
            self._check_update_timer()
        elif index in TIME_REGS:
            cmos[index] = value
            if self.running():                       # in SET mode the time waits for SET to clear
                self._set_time()
                self._check_update_timer()
        elif index == REG_A:
            self._write_a(value)
        elif index == REG_B:
            self._write_b(value)
        elif index in (REG_C, REG_D):
            pass                                     # read-only
        else:
            cmos[index] = value

    def _write_a(self, value: int) -> None:
        cmos = self.cmos
        old_period = self.period
        if value & 0x60 == 0x60:                     # divider chain held in reset
            self._update_time()
        elif cmos[REG_A] & 0x60 == 0x60 and value & 0x70 <= 0x20:
            if not cmos[REG_B] & B_SET:              # the first update comes 500 ms later
                self.phase_ns = NS_PER_SEC // 2
                self._set_time()
        cmos[REG_A] = value & ~A_UIP & 0xFF
        self._periodic_update(self.clock.now(), old_period, True)
        self._check_update_timer()

    def _write_b(self, value: int) -> None:
        cmos = self.cmos
        if value & B_SET:
            self._update_time()                      # the registers stop at this time
            value &= ~B_UIE & 0xFF
        elif cmos[REG_B] & B_SET and cmos[REG_A] & 0x70 <= 0x20:
            self.phase_ns = self.guest_ns() % NS_PER_SEC
            self._set_time()
        if value & cmos[REG_C] & C_MASK:             # an enabled flag already set interrupts
            cmos[REG_C] |= C_IRQF
        else:
            cmos[REG_C] &= ~C_IRQF & 0xFF
        old_period = self.period
        cmos[REG_B] = value
        self._update_irq()
        self._periodic_update(self.clock.now(), old_period, True)
        self._check_update_timer()

    def cmos_bytes(self) -> List[int]:
        """The 128 bytes as the guest would read them now (for the monitor and tests)."""
        self._update_time()
        return list(self.cmos)
