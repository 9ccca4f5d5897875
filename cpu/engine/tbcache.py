"""Translated blocks kept by a CPU: the block cache, the jump caches, code-page tracking.

Translated blocks are cached by (key, physical address, size limit) in ``tbs``;
``code_pages`` maps a physical page number to the cache keys of the blocks with code in
it.  Pages with code never get write-TLB entries, so every store to them comes through
``AddressSpace.write``, whose write listener (also called for DMA and loaders)
invalidates the blocks whose code the store overlaps (all of the page's after
``CODE_PAGE_MISSES`` stores that overlap none).  The jump caches ``jc`` / ``jc_step``
(virtual key -> ``(function, instructions, block)``) are cleared whenever a block goes
away or the TLB is flushed; ``jc_pages`` lists their keys by virtual page, so that one
page's mapping can go without the rest.
"""
from __future__ import annotations

from typing import Dict, List, Optional

M32 = 0xFFFFFFFF


class BlockCache:
    """Mixed into ``TranslatedCPU``; see the module docstring."""

    def init_block_cache(self) -> None:
        self.jc: Dict[int, tuple] = {}       # key -> (func, ninsns, block)
        self.jc_step: Dict[int, tuple] = {}  # the same for one-instruction blocks
        self.jc_pages: Dict[int, List[int]] = {}  # virtual page number -> jump-cache keys
        self.tbs: Dict[tuple, object] = {}
        self.tb_generation = 0   # counts evictions; blocks note it when looked up
        self.code_pages: Dict[int, List[tuple]] = {}
        self._page_misses: Dict[int, int] = {}  # code page -> stores that missed its blocks

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
        blk.span = _code_span(blk, self.key_pc(blk.key))
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
        """Drop the write-TLB entries that reach physical page ``page``, in every CPU on
        the address space: a store by another CPU must come through the write listener
        and drop this CPU's blocks there."""
        rb = self.address_space.ram_block(page << 12)
        if rb is None or rb[0] is not self._ram:
            return
        host = rb[1]
        for cpu in self.address_space.cpus:
            for d in cpu.tlb_write:
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


def _code_span(blk, start: int) -> Optional[tuple]:
    """The physical bytes [lo, hi) that a block's instructions occupy, when they all lie
    in its first page (None: treat its pages as wholly code)."""
    vpage = start >> 12
    if len(blk.pages) != 1 or not blk.pcs or any(pc >> 12 != vpage for pc in blk.pcs):
        return None
    offsets = [pc & 0xFFF for pc in blk.pcs]
    base = blk.phys & ~0xFFF
    return base + min(offsets), base + max(offsets) + 4
