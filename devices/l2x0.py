"""ARM L2C-310 (PL310) level 2 cache controller, r3p2 (QEMU ``l2x0``).

MMIO region: mmio[0], 0x1000 bytes.  IRQ outputs: none (the interrupt line is not
wired on vexpress).  Properties: cache-type (the Cache Type register's fixed bits).

Registers: Cache ID 0x410000C8 (L2C-310 r3p2); Cache Type (its way-size and
associativity fields follow Auxiliary Control, as QEMU); Control (bit 0 enable);
Auxiliary Control (reset 0x02020000 as QEMU: 8 ways of 16 KB);
tag and data RAM latency; event counters; interrupt mask/status/clear (no event is
ever raised, so raw and masked status read 0); the cache maintenance operations
(sync, invalidate/clean by PA, index and way) which complete at once: their
"in progress" bits read 0; lockdown by way and by line, unlock all; address filtering;
debug and prefetch control; power control reads as zero (as QEMU).
Not modelled: the cache itself (there is no data to write back or drop), event
counting, and the secure-only access restrictions.
"""
from __future__ import annotations

from pysystem.qdev import SysBusDevice
from pysystem.qom import Property, register
from pysystem.regbank import Reg, RegisterBank

CACHE_ID = 0x410000C8
AUX_RESET = 0x02020000

REGS = RegisterBank(
    "l2x0",
    Reg("CACHE_ID", 0x000, access="ro", stored=False, read="_read_cache_id"),
    Reg("CACHE_TYPE", 0x004, access="ro", stored=False, read="_read_cache_type"),
    Reg("CTRL", 0x100, mask=0x1),
    Reg("AUX_CTRL", 0x104, reset=AUX_RESET),
    Reg("TAG_LATENCY", 0x108, mask=0x777),
    Reg("DATA_LATENCY", 0x10C, mask=0x777),
    Reg("EV_COUNTER_CTRL", 0x200, mask=0x7),
    Reg("EV_COUNTER1_CFG", 0x204, mask=0x3F),
    Reg("EV_COUNTER0_CFG", 0x208, mask=0x3F),
    Reg("EV_COUNTER1", 0x20C, stored=False),
    Reg("EV_COUNTER0", 0x210, stored=False),
    Reg("INT_MASK", 0x214, mask=0x1FF),
    Reg("MASKED_INT_STATUS", 0x218, access="ro", stored=False),
    Reg("RAW_INT_STATUS", 0x21C, access="ro", stored=False),
    Reg("INT_CLEAR", 0x220, access="wo", stored=False),
    Reg("CACHE_SYNC", 0x730, stored=False, doc="completes at once"),
    Reg("INV_PA", 0x770, stored=False),
    Reg("INV_WAY", 0x77C, stored=False),
    Reg("CLEAN_PA", 0x7B0, stored=False),
    Reg("CLEAN_INDEX", 0x7B8, stored=False),
    Reg("CLEAN_WAY", 0x7BC, stored=False),
    Reg("CLEAN_INV_PA", 0x7F0, stored=False),
    Reg("CLEAN_INV_INDEX", 0x7F8, stored=False),
    Reg("CLEAN_INV_WAY", 0x7FC, stored=False),
    Reg("LOCKDOWN", 0x900, count=16, stride=4, mask=0xFFFF,
        doc="D and I lockdown by way for masters 0-7, interleaved"),
    Reg("LOCK_LINE_EN", 0x950, mask=0x1),
    Reg("UNLOCK_WAY", 0x954, stored=False, doc="completes at once"),
    Reg("FILTER_START", 0xC00, mask=0xFFF00001),
    Reg("FILTER_END", 0xC04, mask=0xFFF00000),
    Reg("DEBUG_CTRL", 0xF40, mask=0x7),
    Reg("PREFETCH_CTRL", 0xF60, mask=0x79A0001F),
    Reg("POWER_CTRL", 0xF80, stored=False, write="_ignore",
        doc="reads as zero and ignores writes, as in QEMU 7.2, so Linux reports dynamic "
            "clock gating and standby mode disabled as it does there"),
)


@register
class L2x0(SysBusDevice):
    TYPE = "l2x0"
    DESC = "ARM L2C-310 level 2 cache controller"

    PROPERTIES = (Property("cache-type", "uint32", 0x1C100100, "Cache Type register fixed bits"),)
    STATE = REGS.fields()

    def realize(self) -> None:
        self.init_mmio(REGS.region(self, "l2x0_cc", 0x1000))
        super().realize()

    def _read_cache_id(self) -> int:
        return CACHE_ID

    def _read_cache_type(self) -> int:
        # way size (Aux [19:17]) and associativity (Aux [16]) show in both the data and
        # the instruction fields
        bits = ((self.aux_ctrl >> 15) & 0x1C) | ((self.aux_ctrl >> 16) & 1)
        return self.cache_type | (bits << 18) | (bits << 6)

    def _ignore(self, value: int) -> None:
        """A write the model drops (see the register's doc)."""
