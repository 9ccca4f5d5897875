"""The system control coprocessor (CP15) and the minimal CP14 of a Cortex-A9, as data.

Each register is declared once in ``REGS``: its encoding (coproc, CRn, opc1, CRm,
opc2), kind and reset value.  Kinds:

* ``const``: reads return ``reset`` (ID registers); writes UNDEF.
* ``state``: stored in ``cpu.cp15.<name>`` (lower case), a field of the ``CP15``
  object below (a QOM child of the CPU, so it is reset and snapshotted); ``mask`` limits the
  writable bits; ``write`` names an ``ARMCPU`` method called after a write (e.g.
  flushing the TLB), ``read`` one that computes the value.
* ``op``: an operation (TLB/cache maintenance, V2P): ``write`` names the method
  called with the written value; nothing is stored.  ``read=None`` -> write-only.

``access`` is "rw", "r" or "w" for PL1; ``user`` is the PL0 access ("", "r",
"rw").  Encodings not in the table UNDEF and are logged under ``-d unimp``.  The
translator looks registers up at translation time, so a plain register access
compiles to an attribute load/store.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from pysystem.qom import Field, Object, register

Key = Tuple[int, int, int, int, int]  # (cp, crn, opc1, crm, opc2)


class Reg:
    __slots__ = ("name", "key", "kind", "reset", "access", "user", "mask", "read", "write",
                 "end_block")

    def __init__(self, name: str, cp: int, crn: int, opc1: int, crm: int, opc2: int,
                 kind: str = "state", reset: int = 0, access: str = "rw", user: str = "",
                 mask: int = 0xFFFFFFFF, read: Optional[str] = None, write: Optional[str] = None,
                 end_block: bool = False):
        self.name, self.key, self.kind, self.reset = name, (cp, crn, opc1, crm, opc2), kind, reset
        self.access, self.user, self.mask, self.read, self.write = access, user, mask, read, write
        self.end_block = end_block or write is not None

    @property
    def attr(self) -> str:
        return self.name.lower()


def _c(name, crn, opc1, crm, opc2, value, user=""):
    return Reg(name, 15, crn, opc1, crm, opc2, kind="const", reset=value, access="r", user=user)


def _op(name, crn, opc1, crm, opc2, write="cp_nop", user=""):
    return Reg(name, 15, crn, opc1, crm, opc2, kind="op", access="w", write=write, user=user)


# Cortex-A9 r0p0 identification values (as QEMU's cortex-a9 model reports them).
REGS = [
    _c("MIDR", 0, 0, 0, 0, 0x410FC090),
    _c("CTR", 0, 0, 0, 1, 0x80038003),
    _c("TCMTR", 0, 0, 0, 2, 0),
    _c("TLBTR", 0, 0, 0, 3, 0),
    Reg("MPIDR", 15, 0, 0, 0, 5, kind="op", access="r", read="read_mpidr"),
    _c("REVIDR", 0, 0, 0, 6, 0),
    _c("ID_PFR0", 0, 0, 1, 0, 0x1031),
    _c("ID_PFR1", 0, 0, 1, 1, 0x11),
    _c("ID_DFR0", 0, 0, 1, 2, 0x0),
    _c("ID_AFR0", 0, 0, 1, 3, 0),
    _c("ID_MMFR0", 0, 0, 1, 4, 0x00100103),
    _c("ID_MMFR1", 0, 0, 1, 5, 0x20000000),
    _c("ID_MMFR2", 0, 0, 1, 6, 0x01230000),
    _c("ID_MMFR3", 0, 0, 1, 7, 0x00002111),
    _c("ID_ISAR0", 0, 0, 2, 0, 0x00101111),
    _c("ID_ISAR1", 0, 0, 2, 1, 0x13112111),
    _c("ID_ISAR2", 0, 0, 2, 2, 0x21232041),
    _c("ID_ISAR3", 0, 0, 2, 3, 0x11112131),
    _c("ID_ISAR4", 0, 0, 2, 4, 0x00111142),
    _c("ID_ISAR5", 0, 0, 2, 5, 0),
    Reg("CCSIDR", 15, 0, 1, 0, 0, kind="op", access="r", read="read_ccsidr"),
    _c("CLIDR", 0, 1, 0, 1, 0x09000003),
    _c("AIDR", 0, 1, 0, 7, 0),
    Reg("CSSELR", 15, 0, 2, 0, 0, mask=0xF),
    # c1: system control
    Reg("SCTLR", 15, 1, 0, 0, 0, reset=0x00C50078, write="sctlr_written"),
    Reg("ACTLR", 15, 1, 0, 0, 1),
    Reg("CPACR", 15, 1, 0, 0, 2, mask=0xC0F00000, write="cpacr_written"),
    Reg("SCR", 15, 1, 0, 1, 0, mask=0x3FF),
    Reg("SDER", 15, 1, 0, 1, 1, mask=0x3),
    Reg("NSACR", 15, 1, 0, 1, 2, mask=0x00073FFF),
    # c2, c3: translation tables, domains
    Reg("TTBR0", 15, 2, 0, 0, 0, write="tlb_flush_nonglobal"),
    Reg("TTBR1", 15, 2, 0, 0, 1, write="tlb_flush_all"),
    Reg("TTBCR", 15, 2, 0, 0, 2, mask=0x37, write="tlb_flush_all"),
    Reg("DACR", 15, 3, 0, 0, 0, write="dacr_written"),
    # c5, c6: faults
    Reg("DFSR", 15, 5, 0, 0, 0, mask=0x1C0F),
    Reg("IFSR", 15, 5, 0, 0, 1, mask=0x140F),
    Reg("ADFSR", 15, 5, 0, 1, 0),
    Reg("AIFSR", 15, 5, 0, 1, 1),
    Reg("DFAR", 15, 6, 0, 0, 0),
    Reg("IFAR", 15, 6, 0, 0, 2),
    # c7: cache maintenance (no-ops but for the I-cache), barriers, address translation
    _op("ICIALLUIS", 7, 0, 1, 0, "icache_invalidate"),
    _op("BPIALLIS", 7, 0, 1, 6),
    Reg("PAR", 15, 7, 0, 4, 0),
    _op("ICIALLU", 7, 0, 5, 0, "icache_invalidate"),
    _op("ICIMVAU", 7, 0, 5, 1, "icache_invalidate"),
    _op("CP15ISB", 7, 0, 5, 4, user="w"),
    _op("BPIALL", 7, 0, 5, 6),
    _op("BPIMVA", 7, 0, 5, 7),
    _op("DCIMVAC", 7, 0, 6, 1),
    _op("DCISW", 7, 0, 6, 2),
    _op("ATS1CPR", 7, 0, 8, 0, "ats_cpr"),
    _op("ATS1CPW", 7, 0, 8, 1, "ats_cpw"),
    _op("ATS1CUR", 7, 0, 8, 2, "ats_cur"),
    _op("ATS1CUW", 7, 0, 8, 3, "ats_cuw"),
    _op("DCCMVAC", 7, 0, 10, 1),
    _op("DCCSW", 7, 0, 10, 2),
    _op("CP15DSB", 7, 0, 10, 4, user="w"),
    _op("CP15DMB", 7, 0, 10, 5, user="w"),
    _op("DCCMVAU", 7, 0, 11, 1),
    _op("DCCIMVAC", 7, 0, 14, 1),
    _op("DCCISW", 7, 0, 14, 2),
    # c8: TLB maintenance (by-ASID operations drop every non-global page: the soft TLB
    # holds the current ASID's only)
    _op("TLBIALLIS", 8, 0, 3, 0, "tlb_flush_all"),
    _op("TLBIMVAIS", 8, 0, 3, 1, "tlb_flush_page"),
    _op("TLBIASIDIS", 8, 0, 3, 2, "tlb_flush_nonglobal"),
    _op("TLBIMVAAIS", 8, 0, 3, 3, "tlb_flush_page"),
    _op("ITLBIALL", 8, 0, 5, 0, "tlb_flush_all"),
    _op("ITLBIMVA", 8, 0, 5, 1, "tlb_flush_page"),
    _op("ITLBIASID", 8, 0, 5, 2, "tlb_flush_nonglobal"),
    _op("DTLBIALL", 8, 0, 6, 0, "tlb_flush_all"),
    _op("DTLBIMVA", 8, 0, 6, 1, "tlb_flush_page"),
    _op("DTLBIASID", 8, 0, 6, 2, "tlb_flush_nonglobal"),
    _op("TLBIALL", 8, 0, 7, 0, "tlb_flush_all"),
    _op("TLBIMVA", 8, 0, 7, 1, "tlb_flush_page"),
    _op("TLBIASID", 8, 0, 7, 2, "tlb_flush_nonglobal"),
    _op("TLBIMVAA", 8, 0, 7, 3, "tlb_flush_page"),
    # c9: performance monitors (6 event counters + the cycle counter, as an A9)
    Reg("PMCR", 15, 9, 0, 12, 0, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMCNTENSET", 15, 9, 0, 12, 1, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMCNTENCLR", 15, 9, 0, 12, 2, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMOVSR", 15, 9, 0, 12, 3, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMSWINC", 15, 9, 0, 12, 4, kind="op", access="w", write="cp_nop"),
    Reg("PMSELR", 15, 9, 0, 12, 5, mask=0x1F),
    _c("PMCEID0", 9, 0, 12, 6, 0),
    _c("PMCEID1", 9, 0, 12, 7, 0),
    Reg("PMCCNTR", 15, 9, 0, 13, 0, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMXEVTYPER", 15, 9, 0, 13, 1, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMXEVCNTR", 15, 9, 0, 13, 2, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMUSERENR", 15, 9, 0, 14, 0, mask=1, user="r"),
    Reg("PMINTENSET", 15, 9, 0, 14, 1, kind="op", read="pmu_read", write="pmu_write"),
    Reg("PMINTENCLR", 15, 9, 0, 14, 2, kind="op", read="pmu_read", write="pmu_write"),
    # c10: memory attributes, TLB lockdown
    Reg("TLBLOCKDOWN", 15, 10, 0, 0, 0),
    Reg("PRRR", 15, 10, 0, 2, 0, reset=0x00098AA4, write="tlb_flush_all"),
    Reg("NMRR", 15, 10, 0, 2, 1, reset=0x44E048E0, write="tlb_flush_all"),
    # c12: vectors, interrupt status
    Reg("VBAR", 15, 12, 0, 0, 0, mask=0xFFFFFFE0),
    Reg("MVBAR", 15, 12, 0, 0, 1, mask=0xFFFFFFE0),
    Reg("ISR", 15, 12, 0, 1, 0, kind="op", access="r", read="read_isr"),
    # c13: process and thread ids
    Reg("FCSEIDR", 15, 13, 0, 0, 0, mask=0),
    Reg("CONTEXTIDR", 15, 13, 0, 0, 1, write="tlb_flush_nonglobal"),
    Reg("TPIDRURW", 15, 13, 0, 0, 2, user="rw"),
    Reg("TPIDRURO", 15, 13, 0, 0, 3, user="r"),
    Reg("TPIDRPRW", 15, 13, 0, 0, 4),
    # c15: Cortex-A9 implementation defined
    Reg("PWRCTL", 15, 15, 0, 0, 0),
    Reg("DIAG", 15, 15, 0, 0, 1),
    Reg("PWRDIAG", 15, 15, 0, 0, 2),
    _c("NEONBUSY", 15, 0, 1, 0, 0),
    Reg("CBAR", 15, 15, 4, 0, 0, kind="op", access="r", read="read_cbar"),
    _op("TLB_LOCKR", 15, 5, 4, 2),
    _op("TLB_LOCKW", 15, 5, 4, 4),
    # CP14 debug: enough for Linux's hw_breakpoint probe ("debug architecture 0x4")
    Reg("DBGDIDR", 14, 0, 0, 0, 0, kind="const", reset=0x35141000, access="r", user="r"),
    Reg("DBGDRAR", 14, 1, 0, 0, 0, kind="const", reset=0, access="r", user="r"),
    Reg("DBGDSAR", 14, 2, 0, 0, 0, kind="const", reset=0, access="r", user="r"),
    Reg("DBGDSCRINT", 14, 0, 0, 1, 0, kind="const", reset=0, access="r", user="r"),
    Reg("DBGDSCREXT", 14, 0, 0, 2, 2),
    # CP14 ThumbEE (ID_PFR0 advertises it; Linux saves TEEHBR at every context switch).
    # TEECR.XED (user access to TEEHBR disabled) is stored but not enforced.
    Reg("TEECR", 14, 0, 6, 0, 0, mask=0x1),
    Reg("TEEHBR", 14, 1, 6, 0, 0, mask=0xFFFFFFFC, user="rw"),
]

BY_KEY: Dict[Key, Reg] = {r.key: r for r in REGS}
STATE_REGS = [r for r in REGS if r.kind == "state"]


@register
class CP15(Object):
    """The registers of REGS that hold state, one field each (``cpu.cp15.sctlr``...).

    They are an object of their own, not attributes of the CPU, because PyPy stores an
    instance's attributes as a dict once it has more than 80 (mapdict's limit), and
    every ``cpu.X`` in translated code then becomes a dict lookup."""
    TYPE = "arm-cp15"
    STATE = tuple(Field(r.attr, "u32", r.reset, f"CP15 {r.name}") for r in STATE_REGS)


def lookup(cp: int, crn: int, opc1: int, crm: int, opc2: int) -> Optional[Reg]:
    return BY_KEY.get((cp, crn, opc1, crm, opc2))
