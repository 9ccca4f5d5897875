"""The Cortex-A9 performance monitors (PMCR, PMCNTEN*, PMOVSR, PMINTEN*, PMCCNTR and six
event counters), kept in their own small object beside the CPU.

The cycle counter counts instructions (the virtual clock's icount); event counters hold
what was written.  The CPU declares the registers as its snapshot fields and reaches them
through properties (``pmu_field``), so the snapshot layout is the CPU's; they live here
because PyPy keeps an instance's attributes at fixed offsets only up to 80 of them, and
the CPU's hot attributes (read by every translated block) must stay under that line.
"""
from __future__ import annotations

from typing import Callable, List, Optional

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

PMU_FIELDS = ("pmcr", "pmcnten", "pmovsr", "pminten", "pmevtyper", "pmevcntr", "pmccntr_base")


class PMU:
    __slots__ = PMU_FIELDS + ("_icount",)

    def __init__(self, icount: Callable[[], int]):
        self._icount = icount   # the instruction count the cycle counter follows
        self.pmcr = 0x41093000
        self.pmcnten = self.pmovsr = self.pminten = 0
        self.pmevtyper: List[int] = [0] * 6
        self.pmevcntr: List[int] = [0] * 6
        self.pmccntr_base = 0   # cycle counter value minus the instruction count

    def _running(self) -> bool:
        return bool(self.pmcr & 1 and self.pmcnten & 0x80000000)

    def ccnt(self) -> int:
        if self._running():
            return (self._icount() + self.pmccntr_base) & M32
        return self.pmccntr_base & M32

    def set_ccnt(self, v: int, running: Optional[bool] = None) -> None:
        run = self._running() if running is None else running
        self.pmccntr_base = (v - self._icount()) & M64 if run else v

    def read(self, name: str, sel: int) -> int:
        if name == "PMCR":
            return self.pmcr
        if name in ("PMCNTENSET", "PMCNTENCLR"):
            return self.pmcnten
        if name == "PMOVSR":
            return self.pmovsr
        if name in ("PMINTENSET", "PMINTENCLR"):
            return self.pminten
        if name == "PMCCNTR":
            return self.ccnt()
        if sel < 6:
            return (self.pmevtyper if name == "PMXEVTYPER" else self.pmevcntr)[sel]
        return 0

    def write(self, name: str, sel: int, v: int) -> None:
        ccnt = self.ccnt()
        if name == "PMCR":
            if v & 4:
                ccnt = 0
            if v & 2:
                self.pmevcntr = [0] * 6
            self.pmcr = (self.pmcr & ~0x3F) | (v & 0x39)
            self.set_ccnt(ccnt)
        elif name == "PMCNTENSET":
            self.pmcnten |= v & 0x8000003F
            self.set_ccnt(ccnt)
        elif name == "PMCNTENCLR":
            self.pmcnten &= ~v
            self.set_ccnt(ccnt)
        elif name == "PMOVSR":
            self.pmovsr &= ~v
        elif name == "PMINTENSET":
            self.pminten |= v & 0x8000003F
        elif name == "PMINTENCLR":
            self.pminten &= ~v
        elif name == "PMCCNTR":
            self.set_ccnt(v)
        elif sel < 6:
            (self.pmevtyper if name == "PMXEVTYPER" else self.pmevcntr)[sel] = v


def pmu_field(name: str) -> property:
    """A CPU property reading and writing the PMU's register ``name``."""
    def get(cpu):
        return getattr(cpu.pmu, name)

    def put(cpu, value) -> None:
        setattr(cpu.pmu, name, value)

    return property(get, put, doc=f"the PMU's {name} (a CPU snapshot field)")
