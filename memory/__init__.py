"""The memory API: regions, address spaces and their flat views (QEMU's memory.c).

    from pysystem.memory import (MemoryRegion, RAMRegion, ROMRegion, IORegion, AliasRegion,
                                 ContainerRegion, AddressSpace, BusError, mtree_text)

See region.py for the region kinds and the tree, address_space.py for guest
accesses, the RAM fast path and listeners, mtree.py for ``info mtree``.
"""
from .region import (MemoryRegion, ContainerRegion, RAMRegion, ROMRegion, IORegion,
                     ROMDeviceRegion, AliasRegion, MemoryTreeError)
from .flatview import FlatRange
from .address_space import AddressSpace, BusError, address_spaces
from .mtree import mtree_text

__all__ = [
    "MemoryRegion", "ContainerRegion", "RAMRegion", "ROMRegion", "IORegion", "ROMDeviceRegion",
    "AliasRegion",
    "MemoryTreeError", "FlatRange", "AddressSpace", "BusError", "address_spaces", "mtree_text",
]
