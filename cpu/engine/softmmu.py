"""The soft MMU every translated CPU shares: soft TLB, slow-path loads and stores, code fetch.

The soft TLB is two dicts per privilege level (``tlb_read[level]``, ``tlb_write[level]``;
the levels are the CPU's ``PRIVS``) mapping a page's virtual base address to
``host_offset - page_va`` in the *primary RAM* (the largest RAM region; its memoryviews
are what generated code indexes).  Other memory (ROM, small RAMs, devices) always takes
the slow path.  Entries are added by the slow path after the CPU's MMU hook
(``mmu_translate``) succeeds, and dropped wholesale by ``tlb_flush_all``, one mapping at a
time by ``tlb_flush_va``, or one *tag* at a time by ``tlb_flush_tags``: the hook returns a
tag with each mapping (ARM: the descriptor's domain; MIPS: the ASID of a non-global
entry; None: untagged), ``tlb_tags`` lists the pages filled under each tag, so that a
DACR write or an ASID change drops only what it must.  Entries are 4 KiB even when the
mapping is larger; ``books.big`` remembers which pages a larger mapping filled so that
invalidating any address it covers drops them all.

Byte order: the address space reads and writes values in its own order
(``address_space.big_endian``, little-endian when it has none); the slow paths swap a
value when the CPU's data order (``data_big_endian()``, live: ARM's CPSR.E) differs, and
the code fetch when the CPU's code order (``big_endian``; ARM's instructions are always
little-endian) does.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Any, Dict, List, Optional

from .exceptions import GuestException

M32 = 0xFFFFFFFF
PAGE_MASK = 0xFFFFF000

READ, WRITE, EXEC = 0, 1, 2   # the access kinds the MMU hook is asked about


def _is_bus_error(e: Exception) -> bool:
    return type(e).__name__ == "BusError"


def _swap(value: int, size: int) -> int:
    return int.from_bytes(value.to_bytes(size, "little"), "big")


def _page_source(ranges: list, starts: List[int], page: int) -> tuple:
    """Where the bytes of physical page ``page`` come from in a flat view: for each range
    over it, the part it covers, its region, its direct buffer (None: I/O, or a ROM device
    out of ROMD mode) and the offset that maps an address to the region's bytes."""
    lo = page << 12
    hi = lo + 0x1000
    i = max(bisect_right(starts, lo) - 1, 0)
    out = []
    while i < len(ranges) and ranges[i].start < hi:
        r = ranges[i]
        if r.end > lo:
            out.append((max(r.start, lo), min(r.end, hi), id(r.region), id(r.data),
                        r.offset_in_region - r.start))
        i += 1
    return tuple(out)


class MMUBooks:
    """The soft MMU's book-keeping that no block reads, in one attribute of the CPU:
    PyPy keeps an instance's attributes in a map (fast ``cpu.X`` in blocks) only while it
    has fewer than 80 of them."""
    __slots__ = ("big", "big_sizes", "slow_fns", "code_view")

    def __init__(self) -> None:
        # (base, size) of a mapping larger than 4 KiB -> the virtual page numbers filled
        self.big: Dict[tuple, set] = {}
        self.big_sizes: set = set()
        self.slow_fns: Dict[tuple, object] = {}   # the slow paths blocks bind, by kind
        self.code_view: list = []   # the flat view the translated blocks were read from


class SoftMMU:
    """Mixed into ``TranslatedCPU``; see the module docstring."""

    def init_memory_access(self) -> None:
        levels = len(self.PRIVS)
        self.tlb_read: List[Dict[int, int]] = [{} for _ in range(levels)]
        self.tlb_write: List[Dict[int, int]] = [{} for _ in range(levels)]
        self.tlb_exec: List[Dict[int, int]] = [{} for _ in range(levels)]  # vpage -> ppage
        self.books = MMUBooks()
        self.tlb_tags: Dict[Any, set] = {}  # tag -> virtual page numbers filled under it
        self._ram = None   # the primary RAM's buffer
        self._views = {1: bytearray(4), 2: memoryview(bytearray(4)).cast("H"),
                       4: memoryview(bytearray(4)).cast("I")}
        self._space_be = False
        self._code_swap = False

    def attach_address_space(self, space) -> None:
        if self not in space.cpus:
            space.cpus.append(self)
        # code one CPU translated is protected from every CPU in space.cpus (no attribute
        # of its own for them: past 79 attributes PyPy turns the CPU's map into a dict)
        space.add_topology_listener(self._topology_changed)
        space.add_write_listener(self._ram_written)
        self._space_be = bool(getattr(space, "big_endian", False))
        self._code_swap = bool(self.big_endian) != self._space_be
        self._choose_ram()
        self.books.code_view = space.flat_ranges()

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
        """The memory map changed: every TLB entry goes (an I/O range may have moved over
        a mapped page), translated code only where the bytes of a page with code now come
        from elsewhere (PCI BAR moves leave the kernel's code where it was)."""
        self.exit_request = True
        self._topology_dirty = True
        old = self.books.code_view
        self.tlb_flush_all()   # rebuilds the flat view; all code goes if the primary RAM changed
        new = self.books.code_view = self.address_space.flat_ranges()
        if self.code_pages:
            old_starts = [r.start for r in old]
            new_starts = [r.start for r in new]
            for page in [p for p in self.code_pages
                         if _page_source(old, old_starts, p) != _page_source(new, new_starts, p)]:
                self.invalidate_page(page)

    # --- TLB maintenance --------------------------------------------------------------
    def tlb_flush_all(self, key=None, value=None) -> None:
        """Forget every mapping (the arguments let a CPU's register table call it)."""
        for d in self.tlb_read + self.tlb_write + self.tlb_exec:
            d.clear()
        self.books.big.clear()
        self.tlb_tags.clear()
        self.jc_clear()
        if getattr(self, "_topology_dirty", False):
            self._topology_dirty = False
            if self._choose_ram():
                self.flush_code()

    def tlb_flush_va(self, va: int) -> None:
        """Forget the mapping of one virtual address, whatever the size of the mapping
        that filled it (for every tag)."""
        va &= PAGE_MASK
        vpages = [va >> 12]
        for size in self.books.big_sizes:
            pages = self.books.big.pop((va & ~(size - 1) & M32, size), None)
            if pages:
                vpages.extend(pages)
        self._drop_vpages(vpages)

    def tlb_flush_tags(self, tags) -> None:
        """Forget the pages filled under any of ``tags`` (and their jump-cache entries)."""
        for tag in tags:
            pages = self.tlb_tags.pop(tag, None)
            if pages:
                self._drop_vpages(pages)

    def _drop_vpages(self, vpages) -> None:
        """Forget the TLB entries of these virtual page numbers and the blocks entered
        in the jump caches under them."""
        rd, wr, ex, jp = self.tlb_read, self.tlb_write, self.tlb_exec, self.jc_pages
        for vp in vpages:
            base = vp << 12
            for d in rd:
                d.pop(base, None)
            for d in wr:
                d.pop(base, None)
            for d in ex:
                d.pop(vp, None)
            keys = jp.pop(vp, None)
            if keys:
                for k in keys:
                    self.jc.pop(k, None)
                    self.jc_step.pop(k, None)

    def _tlb_filled(self, va: int, size: int, tag) -> None:
        """Note that the 4 KiB page at ``va`` came from a mapping of ``size`` bytes under
        ``tag`` (None: untagged)."""
        if tag is not None:
            pages = self.tlb_tags.get(tag)
            if pages is None:
                pages = self.tlb_tags[tag] = set()
            pages.add(va >> 12)
        if size > 0x1000:
            self.books.big_sizes.add(size)
            base = (va & ~(size - 1) & M32, size)
            pages = self.books.big.get(base)
            if pages is None:
                pages = self.books.big[base] = set()
            pages.add(va >> 12)

    # --- code fetch ---------------------------------------------------------------------
    def translate_code(self, va: int, level: int) -> int:
        """Physical address of an instruction (the CPU's fetch fault if it cannot be
        fetched, with ``idx`` -1)."""
        itlb = self.tlb_exec[level]
        page = itlb.get(va >> 12)
        if page is None:
            pa, _, size, tag = self.mmu_translate(va, EXEC, level, -1)
            itlb[va >> 12] = pa >> 12
            self._tlb_filled(va, size, tag)
            return pa
        return (page << 12) | (va & 0xFFF)

    def fetch_code(self, va: int, size: int, start_va: int, start_pa: int, level: int,
                   pages: list) -> Optional[int]:
        """The instruction unit of ``size`` bytes at ``va`` in the CPU's code byte order
        (None: it cannot be fetched); adds the physical pages it came from to ``pages``."""
        if (va ^ start_va) & PAGE_MASK == 0:
            pa = start_pa + (va - start_va)
        else:
            try:
                pa = self.translate_code(va, level)
            except GuestException:
                return None
            if pa >> 12 not in pages:
                pages.append(pa >> 12)
        try:
            v = self.address_space.read(pa, size)
        except Exception as e:
            if _is_bus_error(e):
                return None
            raise
        return _swap(v, size) if self._code_swap and size > 1 else v

    # --- data access slow paths ---------------------------------------------------------------
    def _translate_data(self, va: int, write: bool, level: int, idx: int) -> int:
        """Ask the MMU hook, fill the TLB for ``va``'s page; return the physical address."""
        pa, writable, size, tag = self.mmu_translate(va, WRITE if write else READ, level, idx)
        if self.watch_pages and va >> 12 in self.watch_pages:  # no fast path: debug.py
            return pa
        ram = self._ram
        if ram is not None:
            page_pa = pa & PAGE_MASK
            rb = self.address_space.ram_block(page_pa)
            if rb is not None and rb[0] is ram and rb[2] >= 0x1000:
                add = rb[1] - (va & PAGE_MASK)
                self.tlb_read[level][va & PAGE_MASK] = add
                self._tlb_filled(va, size, tag)
                if writable and not self.code_page_anywhere(page_pa >> 12):
                    wb = self.address_space.ram_block(page_pa, True)
                    if wb is not None and wb[0] is ram:
                        self.tlb_write[level][va & PAGE_MASK] = add
        return pa

    def code_page_anywhere(self, page: int) -> bool:
        """Whether any CPU on this address space has translated code in physical
        ``page`` (then no CPU may write it through its soft TLB)."""
        for cpu in self.address_space.cpus:
            if page in cpu.code_pages:
                return True
        return False

    def _split(self, va: int, size: int, aligned: bool, write: bool, idx: int) -> bool:
        """True when an access must go byte by byte: unaligned (and allowed: the CPU's
        ``unaligned_access`` raises its fault otherwise) and across a page end."""
        if va & (size - 1):
            self.unaligned_access(va, size, aligned, write, idx)
            return (va & 0xFFF) + size > 0x1000
        return False

    def load_checked(self, va: int, size: int, idx: int, level: Optional[int] = None,
                     aligned: bool = False) -> int:
        """A ``size``-byte load at ``va`` through the MMU (the CPU's typed fault, with
        ``idx``, if it fails), in the CPU's data byte order; ``level``: the privilege
        level (None: the current one)."""
        if level is None:
            level = self.current_level()
        if self._split(va, size, aligned, False, idx):
            out = 0
            for i in range(size):
                out |= self.load_checked((va + i) & M32, 1, idx, level) << (8 * i)
            return _swap(out, size) if self.data_big_endian() else out
        pa = self._translate_data(va, False, level, idx)
        if self.watch_pages and va >> 12 in self.watch_pages:
            self.check_watch(va, size, False, idx)
        try:
            v = self.address_space.read(pa, size)
        except Exception as e:
            if _is_bus_error(e):
                raise self.bus_fault(va, READ, idx, e) from None
            raise
        if size > 1 and self.data_big_endian() != self._space_be:
            v = _swap(v, size)
        return v

    def store_checked(self, va: int, value: int, size: int, idx: int, level: Optional[int] = None,
                      aligned: bool = False) -> None:
        if level is None:
            level = self.current_level()
        value &= (1 << (8 * size)) - 1
        if self._split(va, size, aligned, True, idx):
            # check both pages before writing anything
            self._translate_data(va, True, level, idx)
            self._translate_data((va + size - 1) & M32, True, level, idx)
            data = value.to_bytes(size, "big" if self.data_big_endian() else "little")
            for i in range(size):
                self.store_checked((va + i) & M32, data[i], 1, idx, level)
            return
        if size > 1 and self.data_big_endian() != self._space_be:
            value = _swap(value, size)
        pa = self._translate_data(va, True, level, idx)
        if self.watch_pages and va >> 12 in self.watch_pages:
            self.check_watch(va, size, True, idx)
        try:
            self.address_space.write(pa, value, size)
        except Exception as e:
            if _is_bus_error(e):
                raise self.bus_fault(va, WRITE, idx, e) from None
            raise

    # The slow paths blocks bind, one function per kind (a block binds it by name, and a
    # name must always bind the same object: see codegen.namespace).
    def slow_load_fn(self, size: int, level: int, aligned: bool):
        lc = self.load_checked
        level = int(level)

        def fn(va, idx):
            return lc(va, size, idx, level, aligned)
        return self.books.slow_fns.setdefault(("ld", size, level, aligned), fn)

    def slow_store_fn(self, size: int, level: int, aligned: bool):
        sc = self.store_checked
        level = int(level)

        def fn(va, value, idx):
            sc(va, value, size, idx, level, aligned)
        return self.books.slow_fns.setdefault(("st", size, level, aligned), fn)

    def slow_load_words_fn(self, level: int):
        """LDM's slow path: ``fn(va, n, idx)`` loads ``n`` words from ``va`` upwards.
        The words run past a page end (or a page missed the TLB): each word whose page
        the TLB maps is read from RAM directly, the others through ``load_checked``
        (a stack frame across a page end made every push and pop of a function walk
        the page tables once a word)."""
        lc = self.load_checked
        level = int(level)
        tr = self.tlb_read[level]

        def fn(va, n, idx):
            order = "big" if self.data_big_endian() else "little"
            ram = self._ram
            out = []
            for i in range(n):
                a = (va + 4 * i) & M32
                add = tr.get(a & 0xFFFFF003)
                if add is None:
                    out.append(lc(a, 4, idx, level, True))
                else:
                    a += add
                    out.append(int.from_bytes(ram[a:a + 4], order))
            return tuple(out)
        return self.books.slow_fns.setdefault(("ldm", level), fn)

    def slow_store_words_fn(self, level: int):
        """STM's slow path: ``fn(va, values, idx)`` stores the words from ``va`` upwards
        (those whose page the write TLB maps straight to RAM, as the fast path does)."""
        sc = self.store_checked
        level = int(level)
        tw = self.tlb_write[level]

        def fn(va, values, idx):
            order = "big" if self.data_big_endian() else "little"
            ram = self._ram
            for i, v in enumerate(values):
                a = (va + 4 * i) & M32
                add = tw.get(a & 0xFFFFF003)
                if add is None:
                    sc(a, v, 4, idx, level, True)
                else:
                    a += add
                    ram[a:a + 4] = (v & M32).to_bytes(4, order)
        return self.books.slow_fns.setdefault(("stm", level), fn)
