"""Guest memory access for the MIPS CPU: the soft TLB tagged by ASID, slow paths,
translated-code tracking.

Soft TLB sets: one per (ASID, mode, ERL), each holding a read dict ``tr``, a write
dict ``tw`` (page virtual base -> ``ram_offset - page_va`` in the primary RAM, the
largest RAM region) and a jump cache ``jc`` (block key -> compiled block) with its
per-page index.  ``cpu.tr/tw/jc`` are the current set's; changing the ASID (EntryHi)
or the mode switches sets instead of flushing, so a context switch keeps the kernel's
and the other processes' pages.  Every page filled from a JTLB entry is noted under
that entry's index; tlbwi/tlbwr drop exactly the pages of the entry they replace, in
every set (global pages may have been filled in several).  Unmapped segments (kseg0/1)
are never dropped but by a whole flush (memory topology changes, reset, snapshots).

Pages holding translated code get no write entries: stores to them take the slow
path through ``AddressSpace.write``, whose write listener (also fired for DMA and
loaders) drops the blocks of that page.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from pysystem import log

from . import mmu
from .exceptions import AddressError, BusError, GuestException

M32 = 0xFFFFFFFF
PAGE_MASK = 0xFFFFF000


def _is_bus_error(e: Exception) -> bool:
    return type(e).__name__ == "BusError"


class TLBSet:
    __slots__ = ("tr", "tw", "jc", "jc_pages")

    def __init__(self):
        self.tr: Dict[int, int] = {}
        self.tw: Dict[int, int] = {}
        self.jc: Dict[int, tuple] = {}
        self.jc_pages: Dict[int, List[int]] = {}


class MemoryAccessMixin:
    """Mixed into MIPSCPU; see the module docstring."""

    def init_memory_access(self) -> None:
        self._sets: Dict[int, TLBSet] = {}
        self._set_id = -1
        self._cur = TLBSet()
        self.tr, self.tw, self.jc = self._cur.tr, self._cur.tw, self._cur.jc
        self._tag_pages: Dict[int, set] = {}   # JTLB index -> {(set id, virtual page)}
        self.tbs: Dict[tuple, object] = {}
        self.code_pages: Dict[int, List[tuple]] = {}
        self._ram = None
        self._views = None
        self._slow_fns: Dict[tuple, object] = {}

    def attach_address_space(self, space) -> None:
        space.add_topology_listener(self._topology_changed)
        space.add_write_listener(self._ram_written)
        self._choose_ram()

    def _choose_ram(self) -> bool:
        best = None
        for region in self.address_space.ram_regions():
            data = getattr(region, "data", None)
            if data is None or getattr(region, "readonly", False):
                continue
            if best is None or len(data) > len(best):
                best = data
        changed = best is not self._ram
        self._ram = best
        return changed

    def ram_buffer(self):
        """The primary RAM as blocks index it (a bytearray or mmap)."""
        return self._ram if self._ram is not None else bytearray(4)

    def ram_view(self, size: int):
        """The primary RAM as CPython's little-endian blocks index it: the buffer (size 1)
        or a memoryview of host-order 16/32-bit elements (x86 and ARM hosts are
        little-endian, as is the guest then; big-endian guests use struct)."""
        views = self._views
        if views is None or views[0] is not self._ram:
            ram = self.ram_buffer()
            mv = memoryview(ram)
            views = self._views = (self._ram, ram, mv.cast("H"), mv.cast("I"))
        return views[{1: 1, 2: 2, 4: 3}[size]]

    def _topology_changed(self) -> None:
        self.exit_request = True
        self.flush_all()

    # --- sets ----------------------------------------------------------------------------
    def select_tlb_set(self) -> None:
        """Make the soft TLB and jump cache of the current ASID, mode and ERL current."""
        sid = (self.cp0.entryhi & 0xFF) | (self.mode_now() << 8) | ((self.cp0.status & 4) << 8)
        if sid == self._set_id:
            return
        s = self._sets.get(sid)
        if s is None:
            s = self._sets[sid] = TLBSet()
        self._set_id, self._cur = sid, s
        self.tr, self.tw, self.jc = s.tr, s.tw, s.jc

    def flush_all(self) -> None:
        """Forget every soft-TLB entry, jump-cache entry and translated block."""
        self._sets.clear()
        self._tag_pages.clear()
        self._set_id = -1
        self.tbs.clear()
        self.code_pages.clear()
        self._choose_ram()
        if getattr(self, "cp0", None) is not None:
            self.select_tlb_set()

    def jc_clear(self) -> None:
        for s in self._sets.values():
            s.jc.clear()
            s.jc_pages.clear()

    def drop_tlb_entry(self, index: int) -> None:
        """The JTLB entry ``index`` is being replaced: drop the pages filled from it."""
        pages = self._tag_pages.pop(index, None)
        if not pages:
            return
        sets = self._sets
        for sid, vp in pages:
            s = sets.get(sid)
            if s is None:
                continue
            base = vp << 12
            s.tr.pop(base, None)
            s.tw.pop(base, None)
            keys = s.jc_pages.pop(vp, None)
            if keys:
                for k in keys:
                    s.jc.pop(k, None)

    def _note(self, tag: int, va: int) -> None:
        if tag >= 0:
            lst = self._tag_pages.get(tag)
            if lst is None:
                lst = self._tag_pages[tag] = set()
            lst.add((self._set_id, va >> 12))

    # --- code -----------------------------------------------------------------------------
    def translate_code(self, va: int) -> int:
        """Physical address of an instruction; raises the fetch fault (AdEL, TLBL)."""
        if va & 3:
            raise AddressError(-1, va)
        pa, _, _, tag = mmu.translate(self, va, mmu.FETCH, self.mode_now())
        self._note(tag, va)
        return pa

    def register_block(self, ck: tuple, blk) -> None:
        self.tbs[ck] = blk
        for page in blk.pages:
            lst = self.code_pages.get(page)
            if lst is None:
                self.code_pages[page] = [ck]
                self._protect_page(page)
            else:
                lst.append(ck)

    def jc_add(self, key: int, ent: tuple, vpages) -> None:
        s = self._cur
        s.jc[key] = ent
        for vp in vpages:
            lst = s.jc_pages.get(vp)
            if lst is None:
                s.jc_pages[vp] = [key]
            else:
                lst.append(key)

    def _protect_page(self, page: int) -> None:
        """Drop the write entries that reach physical page ``page`` (it holds code now)."""
        rb = self.address_space.ram_block(page << 12)
        if rb is None or rb[0] is not self._ram:
            return
        host = rb[1]
        for s in self._sets.values():
            stale = [va for va, add in s.tw.items() if va + add == host]
            for va in stale:
                del s.tw[va]

    def _ram_written(self, addr: int, length: int) -> None:
        cp = self.code_pages
        if not cp:
            return
        end = addr + max(length, 1)
        for page in range(addr >> 12, ((end - 1) >> 12) + 1):
            if page in cp:
                self.invalidate_page(page)

    def invalidate_page(self, page: int) -> None:
        for ck in self.code_pages.pop(page, ()):
            blk = self.tbs.pop(ck, None)
            if blk is not None:
                for p in blk.pages:
                    lst = self.code_pages.get(p)
                    if p != page and lst is not None and ck in lst:
                        lst.remove(ck)
        self.jc_clear()

    # --- data slow paths --------------------------------------------------------------------
    def _translate_data(self, va: int, write: bool, idx: int) -> int:
        try:
            pa, writable, size, tag = mmu.translate(self, va, mmu.STORE if write else mmu.LOAD,
                                                    self.mode_now())
        except GuestException as e:
            e.idx = idx
            if log.enabled("mmu"):
                log.log("mmu", f"{type(e).__name__} at 0x{va:08x} ({'store' if write else 'load'})")
            raise
        ram = self._ram
        if ram is not None:
            page_pa = pa & PAGE_MASK
            rb = self.address_space.ram_block(page_pa)
            if rb is not None and rb[0] is ram and rb[2] >= 0x1000:
                add = rb[1] - (va & PAGE_MASK)
                self.tr[va & PAGE_MASK] = add
                self._note(tag, va)
                if writable and (page_pa >> 12) not in self.code_pages:
                    wb = self.address_space.ram_block(page_pa, True)
                    if wb is not None and wb[0] is ram:
                        self.tw[va & PAGE_MASK] = add
        return pa

    def load_checked(self, va: int, size: int, idx: int, signed: bool = False,
                     for_store: bool = False) -> int:
        if va & (size - 1):
            raise AddressError(idx, va, for_store)
        pa = self._translate_data(va, for_store, idx)
        try:
            v = self.address_space.read(pa, size)
        except Exception as e:
            if _is_bus_error(e):
                if log.enabled("guest_errors"):
                    log.log("guest_errors", f"load at 0x{va:08x}: {e} -> bus error")
                raise BusError(idx, va, for_store) from None
            raise
        if signed:
            bit = 1 << (8 * size - 1)
            v = ((v ^ bit) - bit) & M32
        return v

    def store_checked(self, va: int, value: int, size: int, idx: int) -> None:
        if va & (size - 1):
            raise AddressError(idx, va, True)
        pa = self._translate_data(va, True, idx)
        try:
            self.address_space.write(pa, value & ((1 << (8 * size)) - 1), size)
        except Exception as e:
            if _is_bus_error(e):
                if log.enabled("guest_errors"):
                    log.log("guest_errors", f"store at 0x{va:08x}: {e} -> bus error")
                raise BusError(idx, va, True) from None
            raise

    def slow_load_fn(self, size: int, signed: bool, for_store: bool):
        lc = self.load_checked

        def fn(va, idx):
            return lc(va, size, idx, signed, for_store)
        return self._slow_fns.setdefault(("ld", size, signed, for_store), fn)

    def slow_store_fn(self, size: int):
        sc = self.store_checked

        def fn(va, value, idx):
            sc(va, value, size, idx)
        return self._slow_fns.setdefault(("st", size), fn)

    def store_conditional(self, va: int, value: int, idx: int) -> int:
        """SC: 1 and the store when the link is open on ``va`` and memory still holds the
        value LL read (QEMU's rule), else 0.  Alignment and TLB faults come first."""
        if va & 3:
            raise AddressError(idx, va, True)
        ok = self.ll_addr == va
        self.ll_addr = -1
        if not ok:
            self._translate_data(va, True, idx)
            return 0
        cur = self.load_checked(va, 4, idx, for_store=True)
        if cur != self.ll_val:
            return 0
        self.store_checked(va, value, 4, idx)
        return 1

    # --- debugger access -----------------------------------------------------------------------
    def virt_to_phys(self, addr: int) -> Optional[int]:
        try:
            return mmu.translate(self, addr & M32, mmu.LOAD, mmu.KERNEL)[0]
        except GuestException:
            return None

    def read_virt(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            pa = self.virt_to_phys(addr)
            if pa is None:
                raise VirtualAccessError(f"cannot access virtual address 0x{addr:08x}")
            chunk = min(n, 0x1000 - (addr & 0xFFF))
            try:
                out += self.address_space.read_bytes(pa, chunk)
            except Exception as e:
                raise VirtualAccessError(f"cannot access memory at 0x{addr:08x}: {e}") from None
            addr = (addr + chunk) & M32
            n -= chunk
        return bytes(out)

    def write_virt(self, addr: int, data: bytes) -> None:
        data = bytes(data)
        while data:
            pa = self.virt_to_phys(addr)
            if pa is None:
                raise VirtualAccessError(f"cannot access virtual address 0x{addr:08x}")
            chunk = min(len(data), 0x1000 - (addr & 0xFFF))
            try:
                self.address_space.write_bytes(pa, data[:chunk])
            except Exception as e:
                raise VirtualAccessError(f"cannot access memory at 0x{addr:08x}: {e}") from None
            data = data[chunk:]
            addr = (addr + chunk) & M32


class VirtualAccessError(Exception):
    """A debugger access to a virtual address that does not translate."""
