"""The guest's address space in user mode: 4 GiB of flat RAM with per-page permissions.

``GuestMemory(big_endian)`` holds one 4 GiB private anonymous mapping (pages the guest
never touches cost no host memory) as the only region of an ``AddressSpace``, so the
engine's soft TLB maps guest virtual addresses one to one onto it and its fast paths
index it directly.  Permissions live beside it, one byte per 4 KiB page (``PROT_READ``,
``PROT_WRITE``, ``PROT_EXEC``, plus ``MAPPED`` for a page that exists with no access):
the CPU's MMU hook (``check``) refuses what a page does not allow, and the CPU turns
that into its fault, which the process delivers as SIGSEGV.

The kernel side (loader, system calls) reads and writes through ``read``/``write``
(``GuestFault`` where the guest's pointer is bad: the call returns -EFAULT) or, ignoring
permissions, ``poke``.  ``map``/``unmap``/``protect`` keep the permissions and drop the
CPU's TLB entries and stale translated code; ``find_free`` picks a place for mmap
bottom-up from ``MMAP_BASE`` (QEMU's choice for 32-bit guests, so addresses match).

``map_shared`` backs pages with a shared anonymous host mapping laid (MAP_FIXED) over
that part of the space, at the same host addresses: the guest's MAP_SHARED|MAP_ANONYMOUS
memory, which a fork of the emulator then shares with the child as the kernel would.
Such pages carry ``SHARED`` beside their permissions; mapping or unmapping over them lays
a private anonymous mapping back.
"""
from __future__ import annotations

import mmap as _mmap
import re
from typing import Optional

from pysystem import log

from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

PAGE = 0x1000
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAPPED = 8
SHARED = 16    # backed by a shared anonymous host mapping (map_shared)
SPACE_TOP = 1 << 32
MAP_FIXED_HOST = 0x10    # the host's MAP_FIXED (x86-64, arm64 Linux)
MMAP_BASE = 0x40000000


class GuestFault(Exception):
    """A kernel-side access to guest memory that the guest may not make (EFAULT)."""

    def __init__(self, addr: int):
        super().__init__(f"bad guest address 0x{addr:08x}")
        self.addr = addr


def _any_shared(prot: bytearray) -> bool:
    return any(v & SHARED for v in set(prot))


def page_up(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


class GuestMemory:
    """See the module docstring."""

    def __init__(self, big_endian: bool):
        root = ContainerRegion(None, "user", SPACE_TOP)
        self.ram = RAMRegion(None, "guest", SPACE_TOP)
        root.add_subregion(0, self.ram)
        self.space = AddressSpace("user", root, big_endian)
        self.data = self.ram.data
        self.prot = bytearray(SPACE_TOP // PAGE)
        self.cpu = None   # set by the process: its TLB and code cache follow changes
        self.mmap_next = MMAP_BASE
        self.stack_top = 0   # for /proc/self/maps
        self.limit = SPACE_TOP   # -R size: mmap places nothing at or above it
        self._host_base = 0      # the host address of guest address 0 (map_shared)

    # --- permissions (the CPU's MMU hook asks) ------------------------------------------
    def check(self, va: int, access: int) -> bool:
        """May the guest read (0), write (1) or execute (2) the byte at ``va``?"""
        return bool(self.prot[va >> 12] & (1 << access))

    def is_mapped(self, addr: int, length: int) -> bool:
        prot = self.prot
        return all(prot[p] for p in range(addr >> 12, page_up(addr + length) >> 12))

    # --- mappings ---------------------------------------------------------------------
    def map(self, addr: int, length: int, prot: int, zero: bool = True) -> None:
        """Make ``[addr, addr+length)`` (page-aligned) exist with ``prot``; zeroed."""
        first, last = addr >> 12, page_up(addr + length) >> 12
        self._unshare(first, last)
        if zero:
            self._zero(first, last)
        self.prot[first:last] = bytes([prot | MAPPED]) * (last - first)
        self._changed(first, last)

    def map_shared(self, addr: int, length: int, prot: int) -> None:
        """Like ``map``, with pages that a fork of the emulator shares (see the module
        docstring); private ones where the host refuses (logged under -d unimp)."""
        first, last = addr >> 12, page_up(addr + length) >> 12
        if not self._host_map(first, last, _mmap.MAP_SHARED):
            log.log("unimp", "MAP_SHARED|MAP_ANONYMOUS: private here (the host refused)")
            self.map(addr, length, prot)
            return
        self.prot[first:last] = bytes([prot | MAPPED | SHARED]) * (last - first)
        self._changed(first, last)

    def unmap(self, addr: int, length: int) -> None:
        first, last = addr >> 12, page_up(addr + length) >> 12
        self._unshare(first, last)
        self.prot[first:last] = bytes(last - first)
        self._zero(first, last)
        self._changed(first, last)

    def protect(self, addr: int, length: int, prot: int) -> bool:
        """Change the permissions of mapped pages; False if any page is unmapped."""
        first, last = addr >> 12, page_up(addr + length) >> 12
        old = self.prot[first:last]
        if not all(old):
            return False
        if _any_shared(old):
            self.prot[first:last] = bytes(v & SHARED | prot | MAPPED for v in old)
        else:
            self.prot[first:last] = bytes([prot | MAPPED]) * (last - first)
        self._changed(first, last)
        return True

    def _unshare(self, first: int, last: int) -> None:
        """Pages of ``[first, last)`` backed by shared memory get private memory back."""
        prot = self.prot
        if not _any_shared(prot[first:last]):
            return
        p = first
        while p < last:
            if not prot[p] & SHARED:
                p += 1
                continue
            q = p
            while q < last and prot[q] & SHARED:
                q += 1
            self._host_map(p, q, _mmap.MAP_PRIVATE)
            for i in range(p, q):
                prot[i] &= ~SHARED
            p = q

    def _host_map(self, first: int, last: int, kind: int) -> bool:
        """Lay a fresh (zeroed) anonymous host mapping of ``kind`` over guest pages
        ``[first, last)``, at the addresses the space already has there.  (ctypes is
        imported here, when a program first asks: a chroot through binfmt_misc may hold
        the Python but not libffi.)"""
        try:
            import ctypes
            if not self._host_base:
                self._host_base = ctypes.addressof(ctypes.c_char.from_buffer(self.data))
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_int, ctypes.c_long]
            want = self._host_base + (first << 12)
            got = libc.mmap(want, (last - first) << 12, _mmap.PROT_READ | _mmap.PROT_WRITE,
                            kind | _mmap.MAP_ANONYMOUS | MAP_FIXED_HOST, -1, 0)
        except (ImportError, TypeError, ValueError, AttributeError, OSError):
            return False
        return got == want

    def find_free(self, length: int, hint: int = 0) -> Optional[int]:
        """A free page-aligned range of ``length`` bytes: at ``hint`` if free, else the
        first fit from ``mmap_next`` upwards (wrapping to ``MMAP_BASE``)."""
        n = page_up(length) >> 12
        if hint and hint + length <= self.limit and not any(self.prot[hint >> 12:(hint >> 12) + n]):
            return hint
        for start in (self.mmap_next >> 12, MMAP_BASE >> 12, 0x10):
            p = self._first_fit(start, n)
            if p is not None:
                self.mmap_next = (p + n) << 12
                return p << 12
        return None

    def _first_fit(self, start: int, n: int) -> Optional[int]:
        # keep the top pages (ARM's vector page) out of reach
        end = min(len(self.prot) - 16, self.limit >> 12)
        if end - start < n:
            return None
        m = re.compile(b"\\x00{%d}" % n).search(self.prot, start, end)
        return m.start() if m else None

    def _zero(self, first: int, last: int) -> None:
        data = self.data
        if last - first >= 16 and hasattr(data, "madvise"):
            data.madvise(_mmap.MADV_DONTNEED, first << 12, (last - first) << 12)
        else:
            data[first << 12:last << 12] = bytes((last - first) << 12)

    def _changed(self, first: int, last: int) -> None:
        cpu = self.cpu
        if cpu is None:
            return
        if last - first > 64:
            cpu.tlb_flush_all()
        else:
            for p in range(first, last):
                cpu.tlb_flush_va(p << 12)
        for p in [p for p in cpu.code_pages if first <= p < last]:
            cpu.invalidate_page(p)

    def maps_text(self, brk_start: int, brk_end: int) -> str:
        """The mappings in /proc/self/maps format (runs of pages with equal permissions)."""
        lines = []
        prot = self.prot
        p, n = 0, len(prot)
        used = re.compile(b"[^\\x00]")
        while p < n:
            m = used.search(prot, p)
            if m is None:
                break
            p = q = m.start()
            while q < n and prot[q] == prot[p]:
                q += 1
            v = prot[p]
            perms = (("r" if v & PROT_READ else "-") + ("w" if v & PROT_WRITE else "-")
                     + ("x" if v & PROT_EXEC else "-") + ("s" if v & SHARED else "p"))
            name = ""
            if p << 12 <= brk_start < q << 12 or brk_start <= p << 12 < page_up(brk_end):
                name = "[heap]"
            elif self.stack_top and p << 12 < self.stack_top <= q << 12:
                name = "[stack]"
            lines.append(f"{p << 12:08x}-{(q << 12) & 0xFFFFFFFF or 0x100000000:08x} {perms} "
                         f"00000000 00:00 0 {name}".rstrip())
            p = q
        return "\n".join(lines) + "\n"

    # --- the kernel's accesses ----------------------------------------------------------
    def _check_range(self, addr: int, n: int, bit: int) -> None:
        if n <= 0:
            return
        if addr < 0 or addr + n > SPACE_TOP:
            raise GuestFault(addr)
        prot = self.prot
        for p in range(addr >> 12, ((addr + n - 1) >> 12) + 1):
            if not prot[p] & bit:
                raise GuestFault(max(addr, p << 12))

    def read(self, addr: int, n: int) -> bytes:
        self._check_range(addr, n, PROT_READ)
        return bytes(self.data[addr:addr + n])

    def write(self, addr: int, data: bytes) -> None:
        self._check_range(addr, len(data), PROT_WRITE)
        self.poke(addr, data)

    def poke(self, addr: int, data: bytes) -> None:
        """Write whatever the page permissions (the loader, the signal trampoline)."""
        if data:
            self.space.write_bytes(addr, bytes(data))

    def peek(self, addr: int, n: int) -> bytes:
        return bytes(self.data[addr:addr + n])

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string (without the NUL)."""
        out = bytearray()
        while len(out) < limit:
            self._check_range(addr, 1, PROT_READ)
            chunk_end = min((addr | 0xFFF) + 1, addr + limit - len(out))
            chunk = self.data[addr:chunk_end]
            i = chunk.find(b"\0")
            if i >= 0:
                out += chunk[:i]
                return bytes(out)
            out += chunk
            addr = chunk_end
        return bytes(out)
