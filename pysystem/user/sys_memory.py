"""System calls on the guest address space (brk, mmap2, munmap, mprotect, mremap),
mixed into ``Process``.  File mappings are private copies of the file's bytes (MAP_SHARED
writes do not reach the file)."""
from __future__ import annotations

import os

from .memory import PAGE, SPACE_TOP, page_up

MAP_SHARED, MAP_PRIVATE, MAP_FIXED = 1, 2, 0x10
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2


class MemoryCalls:
    """Mixed into Process (``mem``, ``arch``, ``brk_start``, ``brk_cur``)."""

    def sys_brk(self, addr, *_):
        mem = self.mem
        if addr < self.brk_start:
            return self.brk_cur
        old_top, new_top = page_up(self.brk_cur), page_up(addr)
        if new_top > old_top:
            if not mem.find_free(new_top - old_top, old_top) == old_top:
                return self.brk_cur
            mem.map(old_top, new_top - old_top, 3)
        elif new_top < old_top:
            mem.unmap(new_top, old_top - new_top)
        if addr > self.brk_cur:   # the tail of the last page reads as zero
            mem.poke(self.brk_cur, bytes(min(addr, old_top) - self.brk_cur))
        self.brk_cur = addr
        return addr

    def sys_mmap2(self, addr, length, prot, flags, fd, pgoff, *_):
        return self._mmap(addr, length, prot, flags, fd, pgoff * PAGE)

    def _mmap(self, addr, length, prot, flags, fd, offset):
        mem = self.mem
        if not length or addr & (PAGE - 1) or length > SPACE_TOP:
            return -self.errno("EINVAL")
        size = page_up(length)
        anon = flags & self.arch.map_anonymous
        if flags & MAP_FIXED:
            if addr + size > SPACE_TOP:
                return -self.errno("ENOMEM")
            start = addr
        else:
            start = mem.find_free(size, addr)
            if start is None:
                return -self.errno("ENOMEM")
        data = b""
        if not anon:
            fd = fd - (1 << 32) if fd & 0x80000000 else fd
            data = os.pread(fd, length, offset)
        mem.map(start, size, prot & 7)
        if data:
            mem.poke(start, data)
        return start

    def sys_munmap(self, addr, length, *_):
        if addr & (PAGE - 1) or not length:
            return -self.errno("EINVAL")
        self.mem.unmap(addr, page_up(length))
        return 0

    def sys_mprotect(self, addr, length, prot, *_):
        if addr & (PAGE - 1):
            return -self.errno("EINVAL")
        if not self.mem.protect(addr, page_up(length), prot & 7):
            return -self.errno("ENOMEM")
        return 0

    def sys_mremap(self, old, old_len, new_len, flags, new_addr, *_):
        mem = self.mem
        old_len, new_len = page_up(old_len), page_up(new_len)
        if old & (PAGE - 1) or not new_len:
            return -self.errno("EINVAL")
        prot = mem.prot[old >> 12] & 7
        if new_len <= old_len:
            if new_len < old_len:
                mem.unmap(old + new_len, old_len - new_len)
            return old
        if mem.find_free(new_len - old_len, old + old_len) == old + old_len:
            mem.map(old + old_len, new_len - old_len, prot)
            return old
        if not flags & MREMAP_MAYMOVE:
            return -self.errno("ENOMEM")
        start = mem.find_free(new_len)
        if start is None:
            return -self.errno("ENOMEM")
        data = mem.peek(old, old_len)
        mem.map(start, new_len, prot)
        mem.poke(start, data)
        mem.unmap(old, old_len)
        return start

    def sys_madvise(self, *_):
        return 0

    def sys_mlock(self, *_):
        return 0

    sys_munlock = sys_mlock
