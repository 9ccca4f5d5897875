"""The joint TLB (JTLB) of the MIPS32 4K/24K/34K: dual entries, variable page sizes.

Each entry maps an even/odd pair of pages: EntryHi's VPN2 (VA bits 31:13 above the
PageMask) and ASID, a global bit, and two EntryLo halves (PFN, cache attribute C,
dirty D, valid V).  PageMask selects page sizes from 4 KiB to 256 MiB (in steps of 4:
4K, 16K, 64K, 256K, 1M, 4M, 16M, 64M, 256M); an entry matches when its VPN2 equals
the address's above the mask and it is global or its ASID is the current one.

``JTLB.probe/read/write`` are tlbp, tlbr and tlbwi/tlbwr.  ``write`` returns the old
entry so that the CPU can drop the soft-TLB pages filled from it.  State is a flat
list per field so that snapshots see plain arrays.
"""
from __future__ import annotations

from typing import Optional, Tuple

from pysystem.qom import Field, Object, register

M32 = 0xFFFFFFFF
VALID_MASKS = frozenset((0x0000, 0x0003, 0x000F, 0x003F, 0x00FF, 0x03FF, 0x0FFF, 0x3FFF, 0xFFFF))


def legal_pagemask(value: int) -> int:
    """PageMask as the hardware keeps it: an unsupported mask reads back as 0 (4 KiB)."""
    m = (value >> 13) & 0xFFFF
    return (m << 13) if m in VALID_MASKS else 0


@register
class JTLB(Object):
    TYPE = "mips-jtlb"
    STATE = (
        Field("hi", "u32[64]", 0, "EntryHi of each entry (VPN2, ASID)"),
        Field("mask", "u32[64]", 0, "PageMask of each entry"),
        Field("lo0", "u32[64]", 0, "EntryLo0 of each entry (G as written)"),
        Field("lo1", "u32[64]", 0, "EntryLo1 of each entry"),
        Field("glob", "bool[64]", False, "the global bit (EntryLo0.G and EntryLo1.G)"),
    )

    def __init__(self, entries: int = 16, **props):
        super().__init__(**props)
        self.entries = entries
        self.reset()

    def reset(self) -> None:
        super().reset()
        # distinct, unmatchable VPN2s in kseg0 (never looked up there) so that no two
        # entries match the same address after reset
        self.hi = [(0x80000000 + (i << 13)) & M32 for i in range(64)]

    def match(self, i: int, va: int, asid: int) -> bool:
        lomask = self.mask[i] | 0x1FFF
        return ((va ^ self.hi[i]) & ~lomask & M32) == 0 and (self.glob[i] or (self.hi[i] & 0xFF) == asid)

    def lookup(self, va: int, asid: int) -> Optional[Tuple[int, int, int]]:
        """The entry mapping ``va`` for ``asid``: (index, EntryLo of the half, page size)."""
        for i in range(self.entries):
            lomask = self.mask[i] | 0x1FFF
            if ((va ^ self.hi[i]) & ~lomask & M32) == 0 and (self.glob[i] or (self.hi[i] & 0xFF) == asid):
                size = (lomask + 1) >> 1
                return i, (self.lo1[i] if va & size else self.lo0[i]), size
        return None

    def probe(self, entryhi: int) -> int:
        """tlbp: the matching index, or -1."""
        asid = entryhi & 0xFF
        for i in range(self.entries):
            if self.match(i, entryhi & 0xFFFFE000, asid):
                return i
        return -1

    def read(self, i: int) -> Tuple[int, int, int, int]:
        """tlbr: (EntryHi, PageMask, EntryLo0, EntryLo1)."""
        g = 1 if self.glob[i] else 0
        return self.hi[i], self.mask[i], (self.lo0[i] & ~1) | g, (self.lo1[i] & ~1) | g

    def write(self, i: int, entryhi: int, pagemask: int, lo0: int, lo1: int) -> Tuple[int, int]:
        """tlbwi/tlbwr at index ``i``; returns the old entry's (EntryHi, PageMask)."""
        old = (self.hi[i], self.mask[i])
        mask = pagemask & 0x1FFFE000
        self.hi[i] = entryhi & ~(mask | 0x1F00) & M32
        self.mask[i] = mask
        self.lo0[i] = lo0
        self.lo1[i] = lo1
        self.glob[i] = bool(lo0 & lo1 & 1)
        return old

    def span(self, i: int) -> Tuple[int, int]:
        """The virtual range (start, size) that entry ``i`` maps (both halves)."""
        size = (self.mask[i] | 0x1FFF) + 1
        return self.hi[i] & ~(size - 1) & M32, size
