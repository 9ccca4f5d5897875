"""Address spaces: what a CPU or a DMA engine sees of a region tree.

``AddressSpace(name, root, big_endian=False)``:

* ``read(addr, size) -> int`` / ``write(addr, value, size)``: guest accesses of
  1, 2, 4 or 8 bytes, values in the target's byte order.  Unassigned addresses
  and accesses a device does not accept raise ``BusError(addr, is_write, size)``.
  Guest writes to ROM are dropped (``-d guest_errors`` logs them).
* ``read_bytes(addr, n)`` / ``write_bytes(addr, data)``: for loaders and DMA;
  RAM, ROM and ROM devices' backing are all writable here; I/O regions are
  accessed in the biggest pieces they accept.  ``BusError`` if any part is
  unassigned (checked before anything is written).
* ``lookup(addr) -> FlatRange | None`` and ``ram_block(addr, for_write=False)
  -> (buffer, offset, length) | None``: the direct backing of RAM/ROM at
  ``addr`` (``length`` bytes are contiguous from ``offset``), for soft-TLB fills
  and DMA.  With ``for_write=True`` only RAM answers: writes to ROM and ROM
  devices must come back through ``write``.
* ``add_topology_listener(cb)``: ``cb()`` runs when the flat view goes stale
  (a region was added, removed, moved, enabled or disabled); the next access
  rebuilds it.  The CPU flushes its TLB here.
* ``add_write_listener(cb)``: ``cb(addr, length)`` runs after every write into
  RAM or ROM made through ``write``/``write_bytes`` (translated code goes stale).
"""
from __future__ import annotations

import weakref
from bisect import bisect_right
from typing import Any, Callable, Iterator, List, Optional, Set, Tuple

from pysystem import log

from .flatview import FlatRange, flatten
from .region import IORegion, MemoryRegion, RAMRegion, _change_hooks

__all__ = ["AddressSpace", "BusError", "address_spaces"]


class BusError(Exception):
    """An access that nothing answers (or that the device rejects)."""

    def __init__(self, addr: int, is_write: bool, size: int):
        super().__init__(f"bus error: {'write' if is_write else 'read'} of {size} byte"
                         f"{'s' if size != 1 else ''} at 0x{addr:x}")
        self.addr = addr
        self.is_write = is_write
        self.size = size


_SPACES: "weakref.WeakSet[AddressSpace]" = weakref.WeakSet()
_ORDER: List["weakref.ref[AddressSpace]"] = []   # creation order, for `info mtree`


def _on_change(region: MemoryRegion) -> None:
    for space in list(_SPACES):
        space._region_changed(region)


_change_hooks.append(_on_change)


def address_spaces() -> List["AddressSpace"]:
    """Live address spaces in the order they were created."""
    out = []
    for ref in list(_ORDER):
        space = ref()
        if space is None:
            _ORDER.remove(ref)
        else:
            out.append(space)
    return out


class AddressSpace:
    def __init__(self, name: str, root: MemoryRegion, big_endian: bool = False):
        self.name = name
        self.root = root
        self.big_endian = bool(big_endian)
        self._order = "big" if big_endian else "little"
        self._ranges: List[FlatRange] = []
        self._starts: List[int] = []
        self._seen: Set[MemoryRegion] = set()
        self._dirty = True
        self._topology_listeners: List[Callable[[], None]] = []
        self._write_listeners: List[Callable[[int, int], None]] = []
        self.roms: List[Any] = []    # the blobs pysystem.loader wrote here, by address
        self.cpus: List[Any] = []    # the CPUs translating code read from here (-smp: all)
        _SPACES.add(self)
        _ORDER.append(weakref.ref(self))

    def __repr__(self) -> str:
        return f"<AddressSpace {self.name!r} root={self.root.name!r}>"

    # --- the flat view ----------------------------------------------------------
    def _region_changed(self, region: MemoryRegion) -> None:
        if self._dirty or region not in self._seen:
            return
        self._dirty = True
        for cb in list(self._topology_listeners):
            cb()

    def _rebuild(self) -> None:
        self._ranges, self._seen = flatten(self.root)
        self._starts = [r.start for r in self._ranges]
        self._dirty = False

    def flat_ranges(self) -> List[FlatRange]:
        """The current flat view, sorted by address."""
        if self._dirty:
            self._rebuild()
        return list(self._ranges)

    def lookup(self, addr: int) -> Optional[FlatRange]:
        if self._dirty:
            self._rebuild()
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            r = self._ranges[i]
            if addr < r.end:
                return r
        return None

    def ram_block(self, addr: int, for_write: bool = False) -> Optional[Tuple[Any, int, int]]:
        r = self.lookup(addr)
        if r is None or r.data is None or (for_write and not r.writable):
            return None
        return r.data, addr - r.start + r.offset_in_region, r.end - addr

    def ram_regions(self) -> Iterator[RAMRegion]:
        """Each RAM/ROM region visible in this space, once (for snapshots and `info`)."""
        seen = set()
        for r in self.flat_ranges():
            if r.backing is not None and id(r.region) not in seen:
                seen.add(id(r.region))
                yield r.region

    def add_topology_listener(self, cb: Callable[[], None]) -> None:
        self._topology_listeners.append(cb)

    def add_write_listener(self, cb: Callable[[int, int], None]) -> None:
        self._write_listeners.append(cb)

    def remove_write_listener(self, cb: Callable[[int, int], None]) -> None:
        self._write_listeners.remove(cb)

    def remove_topology_listener(self, cb: Callable[[], None]) -> None:
        self._topology_listeners.remove(cb)

    # --- guest accesses -----------------------------------------------------------
    def read(self, addr: int, size: int) -> int:
        r = self.lookup(addr)
        if r is None or addr + size > r.end:
            return self._read_split(addr, size)
        off = addr - r.start + r.offset_in_region
        data = r.data
        if data is not None:
            return int.from_bytes(data[off:off + size], self._order)
        region = r.region
        if isinstance(region, IORegion):
            value = region.dispatch_read(off, size, self.big_endian)
            if value is not None:
                return value
        raise BusError(addr, False, size)

    def write(self, addr: int, value: int, size: int) -> None:
        r = self.lookup(addr)
        if r is None or addr + size > r.end:
            self._write_split(addr, value, size)
            return
        off = addr - r.start + r.offset_in_region
        if r.writable:
            r.data[off:off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(size, self._order)
            for cb in self._write_listeners:
                cb(addr, size)
            return
        if r.readonly:
            if "guest_errors" in log.mask:
                log.log("guest_errors", f"write of {size} bytes to ROM '{r.region.name}' "
                                        f"at 0x{addr:x} ignored")
            return
        region = r.region
        if not (isinstance(region, IORegion) and region.dispatch_write(off, value, size,
                                                                      self.big_endian)):
            raise BusError(addr, True, size)

    def _read_split(self, addr: int, size: int) -> int:
        """An access that crosses ranges (or hits none): byte by byte, as the TLB's slow path."""
        if self.lookup(addr) is None:
            raise BusError(addr, False, size)
        out = bytearray()
        for i in range(size):
            try:
                out.append(self.read(addr + i, 1))
            except BusError:
                raise BusError(addr, False, size) from None
        return int.from_bytes(out, self._order)

    def _write_split(self, addr: int, value: int, size: int) -> None:
        if self.lookup(addr) is None:
            raise BusError(addr, True, size)
        raw = (value & ((1 << (size * 8)) - 1)).to_bytes(size, self._order)
        for i in range(size):
            try:
                self.write(addr + i, raw[i], 1)
            except BusError:
                raise BusError(addr, True, size) from None

    # --- loaders and DMA ----------------------------------------------------------
    def _pieces(self, addr: int, n: int, is_write: bool):
        """Yield (range, addr, length) covering ``[addr, addr+n)``; BusError on a hole."""
        end = addr + n
        while addr < end:
            r = self.lookup(addr)
            if r is None:
                raise BusError(addr, is_write, end - addr)
            length = min(end, r.end) - addr
            if (r.backing if is_write else r.data) is None:
                region = r.region
                if not isinstance(region, IORegion):
                    raise BusError(addr, is_write, length)
                off = addr - r.start + r.offset_in_region
                length = min(length, region.max_access)
                if not region.unaligned and off:
                    length = min(length, off & -off)
                length = 1 << (length.bit_length() - 1)   # a power of two
            yield r, addr, length
            addr += length

    def read_bytes(self, addr: int, n: int) -> bytes:
        out = bytearray()
        for r, a, length in self._pieces(addr, n, False):
            off = a - r.start + r.offset_in_region
            if r.data is not None:
                out += r.data[off:off + length]
            else:
                out += self.read(a, length).to_bytes(length, self._order)
        return bytes(out)

    def write_bytes(self, addr: int, data: bytes) -> None:
        data = bytes(data)
        pos = 0
        for r, a, length in list(self._pieces(addr, len(data), True)):
            off = a - r.start + r.offset_in_region
            chunk = data[pos:pos + length]
            if r.backing is not None:
                r.backing[off:off + length] = chunk
                for cb in self._write_listeners:
                    cb(a, length)
            else:
                self.write(a, int.from_bytes(chunk, self._order), length)
            pos += length
