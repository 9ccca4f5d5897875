"""ARM's side of the engine's soft MMU (pysystem/cpu/engine/softmmu.py): the MMU hook and
the faults it raises, alignment checking, the TLB maintenance operations of CP15, the
exclusive monitor.

* ``mmu_translate`` walks the short-descriptor tables (mmu.py) and tags each mapping with
  its descriptor's domain, so that a DACR write drops only the pages of the domains whose
  access it changed (Linux switches the user domain on and off around every access to
  user memory): ``dacr_written`` asks the engine to flush those tags.
* Faults become ``DataAbort`` (DFSR with WnR) or ``PrefetchAbort``, bus errors external
  aborts.
* TLBIMVA/TLBIMVAA (``tlb_flush_page``) forget one address for every ASID: the soft TLB
  keeps only the current ASID's entries and global ones (CONTEXTIDR writes flush it all).
"""
from __future__ import annotations

from pysystem import log

from . import mmu
from .exceptions import (FSR_ALIGNMENT, FSR_EXT, FSR_SYNC_EXTERNAL, FSR_WNR, DataAbort, MMUFault,
                         PrefetchAbort)

M32 = 0xFFFFFFFF


class ARMMemory:
    """Mixed into ARMCPU; see the module docstring."""

    def init_arm_memory(self) -> None:
        self._tlb_dacr = 0  # the DACR the TLB's tagged pages were filled under

    # --- the engine's seams ---------------------------------------------------------------
    def mmu_translate(self, va: int, access: int, level: int, idx: int) -> tuple:
        try:
            pa, writable, size, tag = mmu.translate(self, va, access, level)
        except MMUFault as f:
            raise self._fault(f, va, access, idx) from None
        if tag < 0:
            return pa, writable, size, None
        # every fill notes the DACR (a snapshot load changes DACR without a write)
        self._tlb_dacr = self.cp15.dacr
        return pa, writable, size, tag

    def debug_translate(self, va: int) -> int:
        try:
            return mmu.translate(self, va, mmu.READ, False)[0]
        except MMUFault:
            raise PrefetchAbort(-1, 0, va) from None

    def _fault(self, f: MMUFault, va: int, access: int, idx: int):
        if access == mmu.EXEC:
            return PrefetchAbort(-1, f.fsr(), va)
        fsr = f.fsr() | (FSR_WNR if access == mmu.WRITE else 0)
        if log.enabled("mmu"):
            log.log("mmu", f"data abort at 0x{va:08x}: DFSR 0x{fsr:x} "
                    f"({'write' if access == mmu.WRITE else 'read'})")
        return DataAbort(idx, fsr, va)

    def bus_fault(self, va: int, access: int, idx: int, error) -> Exception:
        if access == mmu.EXEC:
            return PrefetchAbort(-1, FSR_SYNC_EXTERNAL | FSR_EXT, va)
        write = access == mmu.WRITE
        fsr = FSR_SYNC_EXTERNAL | FSR_EXT | (FSR_WNR if write else 0)
        if log.enabled("guest_errors"):
            log.log("guest_errors", f"{'write' if write else 'read'} at 0x{va:08x}: {error} -> data abort")
        return DataAbort(idx, fsr, va)

    def unaligned_access(self, va: int, size: int, aligned: bool, write: bool, idx: int) -> None:
        if aligned or self.cp15.sctlr & 2:
            raise DataAbort(idx, FSR_ALIGNMENT | (FSR_WNR if write else 0), va)

    def current_level(self) -> int:
        return 1 if self.mode == 0x10 else 0

    def data_big_endian(self) -> bool:
        return self.cpsr_e

    # --- CP15 TLB maintenance -------------------------------------------------------------
    def tlb_flush_page(self, key=None, value: int = 0) -> None:
        """TLBIMVA/TLBIMVAA (and their IS forms): forget the mapping of one address, for
        every ASID (entries are not tagged by ASID) and whatever the size of its descriptor."""
        self.tlb_flush_va(value)

    def dacr_written(self, key=None, value: int = 0) -> None:
        """DACR changed: drop the TLB pages (and their jump-cache entries) of the domains
        whose access field changed; the other domains' entries still hold."""
        changed = (self._tlb_dacr ^ value) & M32
        self._tlb_dacr = value & M32
        self.tlb_flush_tags([d + ng for d in range(16) if (changed >> (2 * d)) & 3
                             for ng in (0, 16)])

    def tlb_flush_nonglobal(self, key=None, value: int = 0) -> None:
        """The address space changed (CONTEXTIDR or TTBR0 written) or a by-ASID
        invalidation: drop the non-global pages (tags 16-31) and their jump-cache
        entries.  Global ones stay, as in a TLB tagged by ASID: the kernel's mappings
        (and its translated code in the jump cache) survive a context switch."""
        self.tlb_flush_tags(range(16, 32))

    # --- exclusives ---------------------------------------------------------------------------
    def ldrex(self, va: int, size: int, idx: int) -> int:
        if size == 8:
            if va & 7:
                raise DataAbort(idx, FSR_ALIGNMENT, va)
            lo = self.load_checked(va, 4, idx, aligned=True)
            hi = self.load_checked((va + 4) & M32, 4, idx, aligned=True)
            value = lo | (hi << 32)
        else:
            value = self.load_checked(va, size, idx, aligned=True)
        self.excl_addr = va
        self.excl_val = value
        return value

    def strex(self, va: int, value: int, size: int, idx: int) -> int:
        if va & (min(size, 8) - 1):
            raise DataAbort(idx, FSR_ALIGNMENT | FSR_WNR, va)
        if self.excl_addr != va:
            self.excl_addr = 0xFFFFFFFFFFFFFFFF
            return 1
        if size == 8:
            cur = self.load_checked(va, 4, idx, aligned=True) | \
                (self.load_checked((va + 4) & M32, 4, idx, aligned=True) << 32)
        else:
            cur = self.load_checked(va, size, idx, aligned=True)
        self.excl_addr = 0xFFFFFFFFFFFFFFFF
        if cur != self.excl_val:
            return 1
        if size == 8:
            self.store_checked(va, value & M32, 4, idx, aligned=True)
            self.store_checked((va + 4) & M32, value >> 32, 4, idx, aligned=True)
        else:
            self.store_checked(va, value, size, idx, aligned=True)
        return 0
