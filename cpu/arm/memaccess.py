"""Guest memory access for the ARM CPU: soft TLB, slow paths, translated-code tracking.

The soft TLB is two dicts per privilege (``tlb_read[user]``, ``tlb_write[user]``)
mapping a page's virtual base address to ``host_offset - page_va`` in the
*primary RAM* (the largest RAM region; its memoryviews ``m8/m16/m32`` are what
generated code indexes).  Other memory (ROM, small RAMs, devices) always takes
the slow path.  Entries are added by the slow path after a successful walk and
dropped wholesale by ``tlb_flush_all`` (TLBIALL/TLBIASID, TTBR/TTBCR/SCTLR/
CONTEXTIDR writes, memory topology changes), one mapping at a time by
``tlb_flush_page`` (TLBIMVA/TLBIMVAA), or one domain at a time by ``dacr_written``:
``tlb_domains`` lists the pages filled from each domain's descriptors, so that a DACR
write drops only the pages of the domains whose access it changed (Linux switches the
user domain on and off around every access to user memory).  Entries are 4 KiB even
when the descriptor maps more; ``tlb_big`` remembers which pages a larger descriptor
filled so that invalidating any address it covers drops them all.

Translated blocks are cached by (key, physical address, size limit) in ``tbs``;
``code_pages`` maps a physical page number to the cache keys of the blocks with
code in it.  Pages with code never get write-TLB entries, so every store to
them comes through ``AddressSpace.write``, whose write listener (also called for
DMA and loaders) invalidates the blocks whose code the store overlaps (all of the
page's after ``CODE_PAGE_MISSES`` stores that overlap none).  The jump cache ``jc`` (virtual
key -> block) is cleared whenever a block goes away or the TLB is flushed; ``jc_pages``
lists its keys by virtual page, so that one page's mapping can go without the rest.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from pysystem import log

from . import mmu
from .exceptions import FSR_ALIGNMENT, FSR_EXT, FSR_SYNC_EXTERNAL, FSR_WNR, DataAbort, MMUFault

M32 = 0xFFFFFFFF
PAGE_MASK = 0xFFFFF000


def _is_bus_error(e: Exception) -> bool:
    return type(e).__name__ == "BusError"


class MemoryAccessMixin:
    """Mixed into ARMCPU; see the module docstring."""

    def init_memory_access(self) -> None:
        self.tlb_read: List[Dict[int, int]] = [{}, {}]
        self.tlb_write: List[Dict[int, int]] = [{}, {}]
        self.tlb_exec: List[Dict[int, int]] = [{}, {}]  # virtual page -> physical page
        # base of a mapping larger than 4 KiB -> (its size, the set of virtual page numbers filled)
        self.tlb_big: Dict[int, tuple] = {}
        # domain -> virtual page numbers filled from its descriptors, and the DACR they were
        # filled under (every fill notes it: a snapshot load changes DACR without a write)
        self.tlb_domains: List[set] = [set() for _ in range(16)]
        self._tlb_dacr = 0
        self.jc_pages: Dict[int, List[int]] = {}  # virtual page number -> jump-cache keys
        self.tbs: Dict[tuple, object] = {}
        self.tb_generation = 0   # counts evictions; blocks note it when looked up
        self.code_pages: Dict[int, List[tuple]] = {}
        self._page_misses: Dict[int, int] = {}  # code page -> stores that missed its blocks
        self._ram = None   # the primary RAM's buffer
        self._views = {1: bytearray(4), 2: memoryview(bytearray(4)).cast("H"),
                       4: memoryview(bytearray(4)).cast("I")}
        self._slow_fns: Dict[tuple, object] = {}

    def attach_address_space(self, space) -> None:
        space.add_topology_listener(self._topology_changed)
        space.add_write_listener(self._ram_written)
        self._choose_ram()

    def _choose_ram(self) -> bool:
        """Pick the largest RAM region as the primary RAM; True if it changed."""
        best = None
        for region in self.address_space.ram_regions():
            data = getattr(region, "data", None)
            if data is None or getattr(region, "readonly", False) or len(data) % 4:
                continue
            if best is None or len(data) > len(best):
                best = data
        if best is self._ram:
            return False
        self._ram = best
        if best is not None:
            mv = memoryview(best)
            self._views = {1: best, 2: mv.cast("H"), 4: mv.cast("I")}
        return True

    def ram_view(self, size: int):
        """The primary RAM as generated code indexes it: the bytearray (size 1) or
        memoryviews of 16/32-bit words."""
        return self._views[size]

    def _topology_changed(self) -> None:
        self.exit_request = True
        self._topology_dirty = True
        self.tlb_flush_all()
        self.flush_code()

    # --- caches -----------------------------------------------------------------------
    def tlb_flush_all(self, key=None, value=None) -> None:
        for d in self.tlb_read + self.tlb_write + self.tlb_exec:
            d.clear()
        self.tlb_big.clear()
        for pages in self.tlb_domains:
            pages.clear()
        self.jc_clear()
        if getattr(self, "_topology_dirty", False):
            self._topology_dirty = False
            if self._choose_ram():
                self.flush_code()

    def tlb_flush_page(self, key=None, value: int = 0) -> None:
        """TLBIMVA/TLBIMVAA (and their IS forms): forget the mapping of one address, for
        every ASID (entries are not tagged) and whatever the size of its descriptor."""
        va = value & PAGE_MASK
        vpages = [va >> 12]
        for mask in (0xFFFF0000, 0xFFF00000, 0xFF000000):
            big = self.tlb_big.get(va & mask)
            if big is not None and big[0] == (~mask & M32) + 1:
                del self.tlb_big[va & mask]
                vpages.extend(big[1])
        self._drop_vpages(vpages)

    def dacr_written(self, key=None, value: int = 0) -> None:
        """DACR changed: drop the TLB pages (and their jump-cache entries) of the domains
        whose access field changed; the other domains' entries still hold."""
        changed = (self._tlb_dacr ^ value) & M32
        self._tlb_dacr = value & M32
        for d in range(16):
            if (changed >> (2 * d)) & 3 and self.tlb_domains[d]:
                pages = self.tlb_domains[d]
                self.tlb_domains[d] = set()
                self._drop_vpages(pages)

    def _drop_vpages(self, vpages) -> None:
        """Forget the TLB entries of these virtual page numbers and the blocks entered
        in the jump caches under them."""
        rd, wr, ex, jp = self.tlb_read, self.tlb_write, self.tlb_exec, self.jc_pages
        for vp in vpages:
            base = vp << 12
            rd[0].pop(base, None)
            rd[1].pop(base, None)
            wr[0].pop(base, None)
            wr[1].pop(base, None)
            ex[0].pop(vp, None)
            ex[1].pop(vp, None)
            keys = jp.pop(vp, None)
            if keys:
                for k in keys:
                    self.jc.pop(k, None)
                    self.jc_step.pop(k, None)

    def _tlb_filled(self, va: int, size: int, domain: int) -> None:
        """Note that the 4 KiB page at ``va`` came from a descriptor of ``size`` bytes in
        ``domain`` (-1: the MMU is off), under the current DACR."""
        if domain >= 0:
            self.tlb_domains[domain].add(va >> 12)
            self._tlb_dacr = self.cp15.dacr
        if size > 0x1000:
            base = va & ~(size - 1) & M32
            big = self.tlb_big.get(base)
            if big is None or big[0] != size:
                big = self.tlb_big[base] = (size, set())
            big[1].add(va >> 12)

    def jc_add(self, jc: Dict[int, tuple], key: int, ent: tuple, vpages) -> None:
        """Enter a block in a jump cache, under every virtual page it was fetched from."""
        jc[key] = ent
        jp = self.jc_pages
        for vp in vpages:
            lst = jp.get(vp)
            if lst is None:
                jp[vp] = [key]
            else:
                lst.append(key)

    def jc_clear(self) -> None:
        self.jc.clear()
        self.jc_step.clear()
        self.jc_pages.clear()

    def flush_code(self) -> None:
        self.tbs.clear()
        self._tb_globals = None  # the names blocks bind may stand for new objects now
        self.code_pages.clear()
        self._page_misses.clear()
        self.jc_clear()

    def flush_all(self) -> None:
        self._topology_dirty = True
        self.tlb_flush_all()
        self.flush_code()

    #: translated blocks kept at most (a boot translates some 36,000, most of them kernel
    #: init code that runs once; each costs a few KB, more on PyPy)
    TB_LIMIT = 16384

    def register_block(self, ck: tuple, blk) -> None:
        if len(self.tbs) >= self.TB_LIMIT:
            self._evict_blocks()
        blk.used = self.tb_generation
        blk.span = _code_span(blk)
        self.tbs[ck] = blk
        for page in blk.pages:
            lst = self.code_pages.get(page)
            if lst is None:
                self.code_pages[page] = [ck]
                self._protect_page(page)
            else:
                lst.append(ck)

    def _evict_blocks(self) -> None:
        """Drop a quarter of the blocks, oldest first, never one in a jump cache now, and
        first those not used since the last eviction (not translated or looked up since:
        jump cache misses look blocks up, and the jump caches are cleared often).  PyPy
        has compiled the hot blocks; one dropped would be compiled again."""
        live = {id(ent[2]) for jc in (self.jc, self.jc_step) for ent in jc.values()}
        gen = self.tb_generation
        self.tb_generation = gen + 1
        quarter = self.TB_LIMIT // 4
        drop: Dict[tuple, None] = {}
        for stale_only in (True, False):
            for ck, blk in self.tbs.items():  # oldest first
                if len(drop) >= quarter:
                    break
                if id(blk) not in live and (blk.used < gen or not stale_only):
                    drop[ck] = None
        if not drop:
            self.flush_code()
            return
        for ck in drop:
            self._drop_block(ck)

    def _drop_block(self, ck: tuple, skip: int = -1) -> None:
        """Forget a translated block: the cache entry and its pages' lists (but ``skip``)."""
        blk = self.tbs.pop(ck, None)
        if blk is not None:
            self._unlist_block(ck, blk, skip)

    def _unlist_block(self, ck: tuple, blk, skip: int = -1) -> None:
        """Take a block out of the code-page lists of its pages (but ``skip``)."""
        cp = self.code_pages
        for page in blk.pages:
            lst = cp.get(page)
            if page != skip and lst is not None and ck in lst:
                lst.remove(ck)
                if not lst:
                    del cp[page]
                    self._page_misses.pop(page, None)

    def _protect_page(self, page: int) -> None:
        """Drop write-TLB entries that reach physical page ``page``."""
        rb = self.address_space.ram_block(page << 12)
        if rb is None or rb[0] is not self._ram:
            return
        host = rb[1]
        for d in self.tlb_write:
            stale = [va for va, add in d.items() if va + add == host]
            for va in stale:
                del d[va]

    #: stores to a page with code that miss its blocks before the page is dropped whole
    #: (then its stores take the fast path again, until code there is translated anew)
    CODE_PAGE_MISSES = 64

    def _ram_written(self, addr: int, length: int) -> None:
        cp = self.code_pages
        if not cp:
            return
        end = addr + max(length, 1)
        for page in range(addr >> 12, ((end - 1) >> 12) + 1):
            keys = cp.get(page)
            if keys is not None:
                self._invalidate_range(page, keys, addr, end)

    def _invalidate_range(self, page: int, keys: List[tuple], start: int, end: int) -> None:
        """Drop the blocks of ``page`` whose code overlaps physical [start, end).  Stores
        that miss every block (data next to code, code patched before it first ran) leave
        the rest translated: Linux's init patches its text this way, and dropping the whole
        page on each such store cost a retranslation of every block there."""
        tbs = self.tbs
        hit = []
        for ck in keys:
            blk = tbs.get(ck)
            span = None if blk is None else blk.span
            if span is None or (span[0] < end and start < span[1]):
                hit.append(ck)
        if not hit:
            misses = self._page_misses.get(page, 0) + 1
            if misses < self.CODE_PAGE_MISSES:
                self._page_misses[page] = misses
                return
            hit = keys
        if len(hit) == len(keys):
            self.invalidate_page(page)
            return
        for ck in hit:
            self._drop_block(ck)
        self.jc_clear()

    def invalidate_page(self, page: int) -> None:
        self._page_misses.pop(page, None)
        for ck in self.code_pages.pop(page, ()):
            self._drop_block(ck, page)
        self.jc_clear()

    # --- code fetch ---------------------------------------------------------------------
    def translate_code(self, va: int, user: bool) -> int:
        """Physical address of an instruction (MMUFault if it cannot be fetched)."""
        itlb = self.tlb_exec[user]
        page = itlb.get(va >> 12)
        if page is None:
            pa, _, size, domain = mmu.translate(self, va, mmu.EXEC, user)
            itlb[va >> 12] = pa >> 12
            self._tlb_filled(va, size, domain)
            return pa
        return (page << 12) | (va & 0xFFF)

    def fetch_code(self, va: int, size: int, start_va: int, start_pa: int, user: bool,
                   pages: list) -> Optional[int]:
        if (va ^ start_va) & PAGE_MASK == 0:
            pa = start_pa + (va - start_va)
        else:
            try:
                pa = self.translate_code(va, user)
            except MMUFault:
                return None
            if pa >> 12 not in pages:
                pages.append(pa >> 12)
        try:
            return self.address_space.read(pa, size)
        except Exception as e:
            if _is_bus_error(e):
                return None
            raise

    # --- data access slow paths ---------------------------------------------------------------
    def _fault(self, f: MMUFault, va: int, write: bool, idx: int):
        fsr = f.fsr() | (FSR_WNR if write else 0)
        if log.enabled("mmu"):
            log.log("mmu", f"data abort at 0x{va:08x}: DFSR 0x{fsr:x} ({'write' if write else 'read'})")
        return DataAbort(idx, fsr, va)

    def _translate_data(self, va: int, write: bool, user: bool, idx: int) -> int:
        """Walk, check, fill the TLB for ``va``'s page; return the physical address."""
        try:
            pa, writable, size, domain = mmu.translate(self, va, mmu.WRITE if write else mmu.READ, user)
        except MMUFault as f:
            raise self._fault(f, va, write, idx) from None
        ram = self._ram
        if ram is not None:
            page_pa = pa & PAGE_MASK
            rb = self.address_space.ram_block(page_pa)
            if rb is not None and rb[0] is ram and rb[2] >= 0x1000:
                add = rb[1] - (va & PAGE_MASK)
                self.tlb_read[user][va & PAGE_MASK] = add
                self._tlb_filled(va, size, domain)
                if writable and (page_pa >> 12) not in self.code_pages:
                    wb = self.address_space.ram_block(page_pa, True)
                    if wb is not None and wb[0] is ram:
                        self.tlb_write[user][va & PAGE_MASK] = add
        return pa

    def _bus_abort(self, e: Exception, va: int, write: bool, idx: int):
        fsr = FSR_SYNC_EXTERNAL | FSR_EXT | (FSR_WNR if write else 0)
        if log.enabled("guest_errors"):
            log.log("guest_errors", f"{'write' if write else 'read'} at 0x{va:08x}: {e} -> data abort")
        return DataAbort(idx, fsr, va)

    def _check_align(self, va: int, size: int, aligned: bool, write: bool, idx: int) -> bool:
        """Raise an alignment fault if needed; True if the access is unaligned but allowed."""
        if va & (size - 1):
            if aligned or self.cp15.sctlr & 2:
                raise DataAbort(idx, FSR_ALIGNMENT | (FSR_WNR if write else 0), va)
            return True
        return False

    def load_checked(self, va: int, size: int, idx: int, user: Optional[bool] = None,
                     aligned: bool = False) -> int:
        if user is None:
            user = self.mode == 0x10
        if self._check_align(va, size, aligned, False, idx) and (va & 0xFFF) + size > 0x1000:
            out = 0
            for i in range(size):
                out |= self.load_checked((va + i) & M32, 1, idx, user) << (8 * i)
            return out
        pa = self._translate_data(va, False, user, idx)
        try:
            v = self.address_space.read(pa, size)
        except Exception as e:
            if _is_bus_error(e):
                raise self._bus_abort(e, va, False, idx) from None
            raise
        if self.cpsr_e and size > 1:
            v = int.from_bytes(v.to_bytes(size, "little"), "big")
        return v

    def store_checked(self, va: int, value: int, size: int, idx: int, user: Optional[bool] = None,
                      aligned: bool = False) -> None:
        if user is None:
            user = self.mode == 0x10
        value &= (1 << (8 * size)) - 1
        if self.cpsr_e and size > 1:
            value = int.from_bytes(value.to_bytes(size, "little"), "big")
        if self._check_align(va, size, aligned, True, idx) and (va & 0xFFF) + size > 0x1000:
            # check both pages before writing anything
            self._translate_data(va, True, user, idx)
            self._translate_data((va + size - 1) & M32, True, user, idx)
            for i in range(size):
                self.store_checked((va + i) & M32, value >> (8 * i), 1, idx, user)
            return
        pa = self._translate_data(va, True, user, idx)
        try:
            self.address_space.write(pa, value, size)
        except Exception as e:
            if _is_bus_error(e):
                raise self._bus_abort(e, va, True, idx) from None
            raise

    # The slow paths blocks bind, one function per kind (a block binds it by name, and a
    # name must always bind the same object: see translator.namespace).
    def slow_load_fn(self, size: int, user: bool, aligned: bool):
        lc = self.load_checked

        def fn(va, idx):
            return lc(va, size, idx, user, aligned)
        return self._slow_fns.setdefault(("ld", size, user, aligned), fn)

    def slow_store_fn(self, size: int, user: bool, aligned: bool):
        sc = self.store_checked

        def fn(va, value, idx):
            sc(va, value, size, idx, user, aligned)
        return self._slow_fns.setdefault(("st", size, user, aligned), fn)

    def slow_load_words_fn(self, user: bool):
        """LDM's slow path: ``fn(va, n, idx)`` loads ``n`` words from ``va`` upwards."""
        lc = self.load_checked

        def fn(va, n, idx):
            return tuple([lc((va + 4 * i) & M32, 4, idx, user, True) for i in range(n)])
        return self._slow_fns.setdefault(("ldm", user), fn)

    def slow_store_words_fn(self, user: bool):
        """STM's slow path: ``fn(va, values, idx)`` stores the words from ``va`` upwards."""
        sc = self.store_checked

        def fn(va, values, idx):
            for i, v in enumerate(values):
                sc((va + 4 * i) & M32, v, 4, idx, user, True)
        return self._slow_fns.setdefault(("stm", user), fn)

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


def _code_span(blk) -> Optional[tuple]:
    """The physical bytes [lo, hi) that a block's instructions occupy, when they all lie
    in its first page (None: treat its pages as wholly code)."""
    vpage = (blk.key & M32) >> 12
    if len(blk.pages) != 1 or not blk.pcs or any(pc >> 12 != vpage for pc in blk.pcs):
        return None
    offsets = [pc & 0xFFF for pc in blk.pcs]
    base = blk.phys & ~0xFFF
    return base + min(offsets), base + max(offsets) + 4
