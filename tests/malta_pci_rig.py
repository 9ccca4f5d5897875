"""A Malta PCI side built from the device models alone, as the board will build it.

``Rig(big_endian=False, functions=(...))``: the system memory container and its
AddressSpace, the GT-64120 (ISD at 0x14000000 after reset), and the PCI functions
named in ``functions`` at QEMU's Malta addresses: "piix4" 10.0, "ide" 10.1,
"usb" 10.2, "pm" 10.3, "pcnet" 11.0, "cirrus" 18.0.  ``cfg_read``/``cfg_write``
go through the GT-64120's configuration registers as a CPU of that byte order
does (the GT's registers are little-endian, so a big-endian CPU swaps the address).
"""
from __future__ import annotations

import importlib

from pysystem.memory import AddressSpace, ContainerRegion
from pysystem.devices.gt64120 import GT64120

GT_BASE = 0x14000000
PLACES = {
    "piix4": ("pysystem.devices.piix4", "PIIX4", (10 << 3) | 0),
    "ide": ("pysystem.devices.piix4_ide", "PIIX4IDE", (10 << 3) | 1),
    "usb": ("pysystem.devices.piix4_usb", "PIIX4USB", (10 << 3) | 2),
    "pm": ("pysystem.devices.piix4_pm", "PIIX4PM", (10 << 3) | 3),
    "pcnet": ("pysystem.devices.pcnet", "PCNet", 11 << 3),
    "cirrus": ("pysystem.devices.cirrus_vga", "CirrusVGA", 18 << 3),
}


def bswap32(v: int) -> int:
    return int.from_bytes((v & 0xFFFFFFFF).to_bytes(4, "little"), "big")


class Rig:
    def __init__(self, big_endian: bool = False, functions=("piix4", "pm"), props=None):
        self.be = big_endian
        self.sysmem = ContainerRegion(None, "system", 1 << 64)
        self.mem = AddressSpace("memory", self.sysmem, big_endian=big_endian)
        self.gt = GT64120(**{"system-memory": self.sysmem, "cpu-little-endian": not big_endian,
                             "dma": self.mem})
        self.gt.realize()
        self.bus = self.gt.bus
        self.dev = {}
        for name in functions:
            module, cls, devfn = PLACES[name]
            dev = getattr(importlib.import_module(module), cls)(**(props or {}).get(name, {}))
            dev.realize()
            self.bus.plug(dev, devfn)
            self.dev[name] = dev
        if "piix4" in self.dev:
            self.bus.set_irq_router(*self.dev["piix4"].pirq_router())
        self.gt.reset()
        for dev in self.dev.values():
            dev.reset()

    # GT registers as the CPU sees them (values converted to the GT's little-endian view)
    def gt_read(self, off: int) -> int:
        v = self.mem.read(self.gt.isd.addr + off, 4)
        return bswap32(v) if self.be else v

    def gt_write(self, off: int, value: int) -> None:
        self.mem.write(self.gt.isd.addr + off, bswap32(value) if self.be else value, 4)

    def cfg_addr(self, devfn: int, reg: int) -> int:
        return 0x80000000 | devfn << 8 | reg

    def cfg_read(self, devfn: int, reg: int) -> int:
        """A config dword as Linux's gt64xxx ops see it (native value)."""
        self.gt_write(0xCF8, self.cfg_addr(devfn, reg))
        return self.mem.read(self.gt.isd.addr + 0xCFC, 4) if devfn else self.gt_read(0xCFC)

    def cfg_write(self, devfn: int, reg: int, value: int) -> None:
        self.gt_write(0xCF8, self.cfg_addr(devfn, reg))
        if devfn:
            self.mem.write(self.gt.isd.addr + 0xCFC, value, 4)
        else:
            self.gt_write(0xCFC, value)

    # the PCI I/O space through the GT's reset window at 0x10000000
    def io_read(self, port: int, size: int) -> int:
        return self.mem.read(0x10000000 + port, size)

    def io_write(self, port: int, value: int, size: int) -> None:
        self.mem.write(0x10000000 + port, value, size)
