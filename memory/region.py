"""Memory regions: the tree that boards build and address spaces flatten.

Kinds (as QEMU's MemoryRegion):

* ``MemoryRegion(owner, name, size)`` / ``ContainerRegion``: a pure container.
  It answers nothing itself; its subregions do.
* ``RAMRegion``: backed by ``self.data``, ``size`` bytes of an anonymous mapping
  (see ``anonymous_buffer``).
* ``ROMRegion``: like RAM, but guest writes are dropped (logged under
  ``-d guest_errors``); loaders and DMA write it through
  ``AddressSpace.write_bytes``.
* ``IORegion``: ``read(offset, size) -> int`` and ``write(offset, value, size)``
  callbacks, with QEMU's access rules (see the class).
* ``ROMDeviceRegion``: QEMU's ROM device (flash): ``data`` is read directly
  while in ROMD mode (``set_romd(True)``, the default); writes, and reads
  outside ROMD mode, go to the I/O callbacks.
* ``AliasRegion``: a window onto ``size`` bytes of another region from ``offset``.

Every region can hold subregions: ``add_subregion(offset, region, priority=0)``.
Overlaps are allowed; the higher priority wins, and at equal priority the one
added last wins (QEMU's order).  A subregion is clipped to its container.  A
RAM, ROM or I/O region with subregions answers where none of them does.
``set_enabled`` and ``set_address`` change the tree; address spaces notice any
change and rebuild their flat view lazily.
"""
from __future__ import annotations

import mmap
from typing import Any, Callable, List, Optional, Union

from pysystem import log

__all__ = [
    "MemoryRegion", "ContainerRegion", "RAMRegion", "ROMRegion", "IORegion",
    "ROMDeviceRegion", "AliasRegion", "MemoryTreeError",
]

# Address spaces register a callback here; it is told about every change in any tree.
_change_hooks: List[Callable[["MemoryRegion"], None]] = []


class MemoryTreeError(ValueError):
    """A region tree was built wrongly (a board bug): region already mapped, not a child, ..."""


class MemoryRegion:
    """A named range of ``size`` bytes; a pure container unless a subclass says otherwise."""

    KIND = "i/o"          # as `info mtree` prints it
    terminates = False    # answers accesses itself (not only through subregions)
    readonly = False      # guest writes are dropped
    alias: Optional["MemoryRegion"] = None
    alias_offset = 0

    def __init__(self, owner: Any, name: str, size: int):
        if size < 0:
            raise MemoryTreeError(f"memory region '{name}' has a negative size")
        self.owner = owner
        self.name = name
        self.size = int(size)
        self.addr = 0                 # offset in the container
        self.priority = 0
        self.enabled = True
        self.container: Optional[MemoryRegion] = None
        self.subregions: List[MemoryRegion] = []   # highest priority first, QEMU's order

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} size=0x{self.size:x}>"

    @property
    def kind(self) -> str:
        return self.KIND

    # --- the tree -----------------------------------------------------------------
    def add_subregion(self, offset: int, region: "MemoryRegion", priority: int = 0) -> None:
        """Map ``region`` at ``offset`` inside this region."""
        if region.container is not None:
            raise MemoryTreeError(
                f"memory region '{region.name}' is already mapped in '{region.container.name}'")
        if region is self:
            raise MemoryTreeError(f"memory region '{self.name}' cannot contain itself")
        region.addr = int(offset)
        region.priority = int(priority)
        region.container = self
        self._insert(region)
        _changed(self)

    def _insert(self, region: "MemoryRegion") -> None:
        subs = self.subregions
        for i, other in enumerate(subs):
            if region.priority >= other.priority:
                subs.insert(i, region)
                return
        subs.append(region)

    def del_subregion(self, region: "MemoryRegion") -> None:
        if region.container is not self:
            raise MemoryTreeError(f"memory region '{region.name}' is not mapped in '{self.name}'")
        self.subregions.remove(region)
        region.container = None
        _changed(self)

    def set_enabled(self, enabled: bool) -> None:
        enabled = bool(enabled)
        if enabled != self.enabled:
            self.enabled = enabled
            _changed(self)

    def set_address(self, offset: int) -> None:
        """Move this region inside its container (it stays at its priority)."""
        offset = int(offset)
        if offset == self.addr:
            return
        parent = self.container
        self.addr = offset
        if parent is not None:
            parent.subregions.remove(self)
            parent._insert(self)
        _changed(self)

    def set_alias_offset(self, offset: int) -> None:
        """Aliases only: show the target from ``offset`` on."""
        if self.alias is None:
            raise MemoryTreeError(f"memory region '{self.name}' is not an alias")
        self.alias_offset = int(offset)
        _changed(self)

    def walk(self):
        """This region and all below it (alias targets not followed), depth first."""
        yield self
        for sub in self.subregions:
            yield from sub.walk()


def anonymous_buffer(size: int) -> Union[mmap.mmap, bytearray]:
    """Zeroed backing for RAM, ROM and flash: a private anonymous mapping, so that pages
    the guest never touches cost no host memory (as QEMU's RAM).  A bytearray would be
    written through up front, and PyPy's ``bytearray(n)`` even holds twice ``n``
    resident.  Transparent huge pages are asked for, as QEMU does for RAM.  Slice
    assignment into it takes ``bytes`` (PyPy's mmap refuses other buffers)."""
    if not size:
        return bytearray()
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:   # fewer host TLB misses: about 4% faster on CPython than 4 KiB pages
            buf.madvise(mmap.MADV_HUGEPAGE)
        except (OSError, SystemError):   # PyPy 3.9 turns a refusal into SystemError
            pass
    return buf


class ContainerRegion(MemoryRegion):
    """A pure container (same as a plain MemoryRegion; named for readability)."""


class RAMRegion(MemoryRegion):
    """Guest RAM: ``self.data`` (``anonymous_buffer``) is what the CPU and DMA use directly."""

    KIND = "ram"
    terminates = True

    def __init__(self, owner: Any, name: str, size: int):
        super().__init__(owner, name, size)
        self.data = anonymous_buffer(self.size)


class ROMRegion(RAMRegion):
    """Read-only memory: reads like RAM, guest writes are ignored."""

    KIND = "rom"
    readonly = True


_ENDIANNESS = ("little", "big", "native")


class IORegion(MemoryRegion):
    """A device's registers, reached through ``read(offset, size)``/``write(offset, value, size)``.

    Access rules (QEMU's ``MemoryRegionOps``):

    * ``min_access``/``max_access`` (QEMU ``valid``): sizes outside that range, and
      unaligned accesses unless ``unaligned=True``, are invalid: the guest gets a
      bus error as for an unassigned address, and ``-d guest_errors`` logs it.
    * ``impl_min``/``impl_max`` (QEMU ``impl``): the sizes the callbacks handle
      (default: the valid range).  A bigger access is split into several calls,
      a smaller one widened to one call of ``impl_min`` bytes at the same offset
      whose result is masked, as QEMU's access_with_adjusted_size does.
    * ``endianness``: the byte order of the device's values; "native" is the
      target's.  Values are swapped when it differs from the address space's.
    """

    KIND = "i/o"
    terminates = True

    def __init__(self, owner: Any, name: str, size: int,
                 read: Callable[[int, int], int], write: Callable[[int, int, int], None],
                 min_access: int = 1, max_access: int = 4,
                 impl_min: Optional[int] = None, impl_max: Optional[int] = None,
                 endianness: str = "little", unaligned: bool = False):
        super().__init__(owner, name, size)
        if endianness not in _ENDIANNESS:
            raise MemoryTreeError(f"memory region '{name}': endianness must be one of "
                                  f"{', '.join(_ENDIANNESS)}")
        for v in (min_access, max_access, impl_min, impl_max):
            if v is not None and v not in (1, 2, 4, 8):
                raise MemoryTreeError(f"memory region '{name}': access sizes are 1, 2, 4 or 8")
        if min_access > max_access:
            raise MemoryTreeError(f"memory region '{name}': min_access > max_access")
        self.read = read
        self.write = write
        self.min_access = min_access
        self.max_access = max_access
        self.impl_min = min_access if impl_min is None else impl_min
        self.impl_max = max(max_access, self.impl_min) if impl_max is None else impl_max
        if self.impl_min > self.impl_max:
            raise MemoryTreeError(f"memory region '{name}': impl_min > impl_max")
        self.endianness = endianness
        self.unaligned = unaligned

    def _valid(self, offset: int, size: int, is_write: bool) -> bool:
        if not self.unaligned and offset & (size - 1):
            if "guest_errors" in log.mask:
                log.log("guest_errors", f"Invalid access at addr 0x{offset:X}, size {size}, "
                                        f"region '{self.name}', reason: unaligned")
            return False
        if size > self.max_access or size < self.min_access:
            if "guest_errors" in log.mask:
                log.log("guest_errors", f"Invalid access at addr 0x{offset:X}, size {size}, "
                                        f"region '{self.name}', reason: invalid size "
                                        f"(min:{self.min_access} max:{self.max_access})")
            return False
        return True

    def _swaps(self, big_endian: bool) -> bool:
        e = self.endianness
        return e != "native" and (e == "big") != big_endian

    def dispatch_read(self, offset: int, size: int, big_endian: bool) -> Optional[int]:
        """The value of a ``size``-byte read at ``offset`` in target byte order, or None if invalid."""
        if not self._valid(offset, size, False):
            return None
        impl_min, impl_max = self.impl_min, self.impl_max
        if impl_min <= size <= impl_max:
            value = self.read(offset, size) & ((1 << (size * 8)) - 1)
        else:
            step = max(min(size, impl_max), impl_min)
            mask = (1 << (step * 8)) - 1
            dev_big = self.endianness == "big" or (self.endianness == "native" and big_endian)
            value = 0
            for i in range(0, size, step):
                shift = (size - step - i) * 8 if dev_big else i * 8
                part = self.read(offset + i, step) & mask
                value |= part << shift if shift >= 0 else part >> -shift
            value &= (1 << (size * 8)) - 1
        if size > 1 and self._swaps(big_endian):
            value = int.from_bytes(value.to_bytes(size, "little"), "big")
        return value

    def dispatch_write(self, offset: int, value: int, size: int, big_endian: bool) -> bool:
        """Perform a guest write (``value`` in target byte order); False if invalid."""
        if not self._valid(offset, size, True):
            return False
        value &= (1 << (size * 8)) - 1
        if size > 1 and self._swaps(big_endian):
            value = int.from_bytes(value.to_bytes(size, "little"), "big")
        impl_min, impl_max = self.impl_min, self.impl_max
        if impl_min <= size <= impl_max:
            self.write(offset, value, size)
            return True
        step = max(min(size, impl_max), impl_min)
        mask = (1 << (step * 8)) - 1
        dev_big = self.endianness == "big" or (self.endianness == "native" and big_endian)
        for i in range(0, size, step):
            shift = (size - step - i) * 8 if dev_big else i * 8
            part = value >> shift if shift >= 0 else value << -shift
            self.write(offset + i, part & mask, step)
        return True


class ROMDeviceRegion(IORegion):
    """A ROM device (QEMU memory_region_init_rom_device): direct reads in ROMD mode, I/O otherwise.

    Writes always reach ``write``.  Loaders fill ``data`` through
    ``AddressSpace.write_bytes`` in either mode.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data = anonymous_buffer(self.size)
        self.romd_mode = True

    @property
    def kind(self) -> str:
        return "romd" if self.romd_mode else "i/o"

    def set_romd(self, romd: bool) -> None:
        romd = bool(romd)
        if romd != self.romd_mode:
            self.romd_mode = romd
            _changed(self)


class AliasRegion(MemoryRegion):
    """``size`` bytes of ``target`` from ``offset``, seen at wherever the alias is mapped."""

    def __init__(self, owner: Any, name: str, target: MemoryRegion, offset: int, size: int):
        super().__init__(owner, name, size)
        self.alias = target
        self.alias_offset = int(offset)

    @property
    def kind(self) -> str:
        return self.alias.kind


def _changed(region: MemoryRegion) -> None:
    for hook in _change_hooks:
        hook(region)
