"""A named hole in the address map: reads as zero, ignores writes, logs every access.

QEMU's ``unimplemented-device``: a board declares the parts of the real machine it
does not model (CLCD, KMI, Ethernet, CompactFlash, ...) so that a guest touching
them reads zero instead of faulting, and ``-d unimp`` names what it touched.

Interface:
  * MMIO region 0: ``size`` bytes named ``name``, accesses of 1 to 8 bytes.
    Boards map it at low priority (QEMU uses -1000) so real devices win overlaps.
  * No IRQ outputs, no state.
  * Properties ``name`` (str, required) and ``size`` (size, non-zero).

Log lines (under ``-d unimp``) as QEMU prints them:
  ``NAME: unimplemented device read (size 4, offset 0x0024)``
  ``NAME: unimplemented device write (size 4, offset 0x0024, value 0x00000001)``
"""
from __future__ import annotations

from pysystem import log
from pysystem.qdev import SysBusDevice
from pysystem.qom import Property, QOMError, register


class _NameProperty(Property):
    """The ``name`` property, kept in ``region_name``: ``Object.name`` is the node's tree name."""

    __slots__ = ()

    @property
    def attr(self) -> str:
        return "region_name"


def _hex_digits(size: int) -> int:
    """Digits for an offset within ``size`` bytes (QEMU pads to the region's width)."""
    return max(1, ((size - 1).bit_length() + 3) // 4)


@register
class UnimplementedDevice(SysBusDevice):
    TYPE = "unimplemented-device"
    DESC = "a region that reads as zero and logs accesses under -d unimp"

    PROPERTIES = (
        _NameProperty("name", "str", None, "name shown in the memory tree and the log"),
        Property("size", "size", 0, "size of the region in bytes"),
    )

    @classmethod
    def example(cls):
        dev = cls(name="example-unimp", size=0x1000)
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        from pysystem.memory import IORegion
        name = self.region_name
        if not name:
            raise QOMError("unimplemented-device: property 'name' must be set")
        if self.size == 0:
            raise QOMError(f"unimplemented-device '{name}': property 'size' must be set")
        self._digits = _hex_digits(self.size)
        self.init_mmio(IORegion(self, name, self.size, read=self._read, write=self._write,
                                min_access=1, max_access=8))
        super().realize()

    def _read(self, offset: int, size: int) -> int:
        if "unimp" in log.mask:
            log.log("unimp", f"{self.region_name}: unimplemented device read "
                             f"(size {size}, offset 0x{offset:0{self._digits}x})")
        return 0

    def _write(self, offset: int, value: int, size: int) -> None:
        if "unimp" in log.mask:
            log.log("unimp", f"{self.region_name}: unimplemented device write "
                             f"(size {size}, offset 0x{offset:0{self._digits}x}, "
                             f"value 0x{value:0{size * 2}x})")
