"""System calls on the guest address space (brk, mmap2, munmap, mprotect, mremap),
mixed into ``Process``.  A file mapping is a copy of the file's bytes in the guest's
space.  A MAP_SHARED one also keeps a descriptor of the file (above the guest's
numbers), and its bytes go back to the file as the kernel's page cache would make them
visible to read(): at msync (of any range: all of them), at munmap (or a mapping laid over it), and when the process
image goes (exit, exec, a fatal signal).  Only bytes that differ from the file's are
written, never past its end.  Between those points another process does not see the
writes.  Shared anonymous memory is shared with the processes a fork makes
(memory.py's ``map_shared``)."""
from __future__ import annotations

import fcntl
import os
from typing import List, Tuple

from .memory import PAGE, SPACE_TOP, page_up
from .outcome import BEFORE_EXIT, OWN_FDS_FROM

MAP_SHARED, MAP_PRIVATE, MAP_FIXED = 1, 2, 0x10
F_DUPFD_CLOEXEC = getattr(fcntl, "F_DUPFD_CLOEXEC", 1030)   # PyPy 3.9's fcntl lacks it


def _own_dup(fd: int) -> int:
    """A close-on-exec copy of ``fd`` out of the guest's descriptor numbers."""
    return fcntl.fcntl(fd, F_DUPFD_CLOEXEC, OWN_FDS_FROM)
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
        self._shared_unmapped(start, size)
        if anon and flags & 3 == MAP_SHARED:
            mem.map_shared(start, size, prot & 7)
        else:
            mem.map(start, size, prot & 7)
        if data:
            mem.poke(start, data)
        if not anon and flags & 3 == MAP_SHARED:
            self._shared_add(start, size, fd, offset)
        return start

    # --- MAP_SHARED file mappings (see the module docstring) -----------------------------
    def _shared(self) -> List[Tuple[int, int, int, int]]:
        """[(guest start, size, host descriptor, file offset)]."""
        maps = getattr(self, "shared_maps", None)
        if maps is None:
            maps = self.shared_maps = []
            BEFORE_EXIT.append(self.sync_shared)
        return maps

    def _shared_add(self, start: int, size: int, fd: int, offset: int) -> None:
        self._shared().append((start, size, _own_dup(fd), offset))

    def sync_shared(self, addr: int = 0, length: int = SPACE_TOP) -> None:
        """Write the guest's changes in ``[addr, addr+length)`` to the mapped files."""
        end = addr + length
        for start, size, fd, offset in getattr(self, "shared_maps", None) or ():
            lo, hi = max(start, addr), min(start + size, end)
            if lo >= hi:
                continue
            try:
                file_end = os.fstat(fd).st_size
                pos = offset + lo - start
                hi = min(hi, start + file_end - offset)
                if hi <= lo:
                    continue
                new = self.mem.peek(lo, hi - lo)
                if os.pread(fd, hi - lo, pos) != new:
                    os.pwrite(fd, new, pos)
            except OSError:
                continue

    def _shared_unmapped(self, addr: int, length: int) -> None:
        """``[addr, addr+length)`` stops being mapped: its changes go to the files, and
        the mappings there shrink or go."""
        maps = getattr(self, "shared_maps", None)
        if not maps:
            return
        self.sync_shared(addr, length)
        end, kept = addr + length, []
        for start, size, fd, offset in maps:
            if start >= end or start + size <= addr:
                kept.append((start, size, fd, offset))
                continue
            pieces = 0
            if start < addr:
                kept.append((start, addr - start, fd, offset))
                pieces += 1
            if start + size > end:
                kept.append((end, start + size - end, _own_dup(fd) if pieces else fd,
                             offset + end - start))
                pieces += 1
            if not pieces:
                os.close(fd)
        maps[:] = kept

    def sys_msync(self, addr, length, flags, *_):
        if addr & (PAGE - 1):
            return -self.errno("EINVAL")
        if not self.mem.is_mapped(addr, length):
            return -self.errno("ENOMEM")
        self.sync_shared()    # all of them: under a kernel, read() saw the writes already
        return 0

    def sys_munmap(self, addr, length, *_):
        if addr & (PAGE - 1) or not length:
            return -self.errno("EINVAL")
        self._shared_unmapped(addr, page_up(length))
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
