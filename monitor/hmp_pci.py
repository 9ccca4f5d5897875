"""``info pci`` in QEMU 7.2's HMP format (importing this module registers the command).

Each function on each PCI bus of the machine, in devfn order: its class
description (QEMU's table, or ``Class XXXX``), vendor:device, the subsystem ids
for header type 0, ``IRQ n, pin X`` when it has an interrupt pin (n is the
Interrupt Line register), every BAR with its current address and last byte
(QEMU 7.2 prints an unmapped BAR at 0xffffffffffffffff, and the end wraps), and
the ``-device`` id.  Buses are found as ``machine.pci_buses`` or, failing that,
the ``bus`` attribute of objects in the machine's tree (a host bridge's).
"""
from __future__ import annotations

from typing import Iterable, List

from pysystem.pci import (PCI_HEADER_TYPE, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN,
                          PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCIBus)

from .hmp_table import info_command

# QEMU 7.2 hw/pci/pci.c pci_class_descriptions (class and sub-class -> description)
CLASS_DESC = {
    0x0001: "VGA controller", 0x0100: "SCSI controller", 0x0101: "IDE controller",
    0x0102: "Floppy controller", 0x0103: "IPI controller", 0x0104: "RAID controller",
    0x0106: "SATA controller", 0x0107: "SAS controller", 0x0180: "Storage controller",
    0x0200: "Ethernet controller", 0x0201: "Token Ring controller",
    0x0202: "FDDI controller", 0x0203: "ATM controller", 0x0280: "Network controller",
    0x0300: "VGA controller", 0x0301: "XGA controller", 0x0302: "3D controller",
    0x0380: "Display controller", 0x0400: "Video controller", 0x0401: "Audio controller",
    0x0402: "Phone", 0x0403: "Audio controller", 0x0480: "Multimedia controller",
    0x0500: "RAM controller", 0x0501: "Flash controller", 0x0580: "Memory controller",
    0x0600: "Host bridge", 0x0601: "ISA bridge", 0x0602: "EISA bridge", 0x0603: "MC bridge",
    0x0604: "PCI bridge", 0x0605: "PCMCIA bridge", 0x0606: "NUBUS bridge",
    0x0607: "CARDBUS bridge", 0x0608: "RACEWAY bridge", 0x0680: "Bridge",
    0x0700: "Serial port", 0x0701: "Parallel port", 0x0800: "Interrupt controller",
    0x0801: "DMA controller", 0x0802: "Timer", 0x0803: "RTC", 0x0900: "Keyboard",
    0x0901: "Pen", 0x0902: "Mouse", 0x0A00: "Dock station", 0x0B00: "i386 cpu",
    0x0C00: "Fireware contorller", 0x0C01: "Access bus controller", 0x0C02: "SSA controller",
    0x0C03: "USB controller", 0x0C04: "Fibre channel controller", 0x0C05: "SMBus",
}

_MASK64 = (1 << 64) - 1


def info_pci_text(buses: Iterable[PCIBus]) -> str:
    out: List[str] = []
    for bus_num, bus in enumerate(buses):
        for dev in bus.functions():
            devfn = dev.devfn
            out.append(f"  Bus {bus_num:2d}, device {devfn >> 3:3d}, function {devfn & 7}:")
            cls = dev.cfg(0x0A, 2)
            desc = CLASS_DESC.get(cls, f"Class {cls:04x}")
            out.append(f"    {desc}: PCI device {dev.cfg(0, 2):04x}:{dev.cfg(2, 2):04x}")
            if dev.cfg(PCI_HEADER_TYPE) & 0x7F == 0:
                out.append(f"      PCI subsystem {dev.cfg(PCI_SUBSYSTEM_VENDOR_ID, 2):04x}:"
                           f"{dev.cfg(PCI_SUBSYSTEM_ID, 2):04x}")
            pin = dev.cfg(PCI_INTERRUPT_PIN)
            if pin:
                letter = chr(ord("A") + pin - 1)
                out.append(f"      IRQ {dev.cfg(PCI_INTERRUPT_LINE)}, pin {letter}")
            for bar in sorted(dev.BARS, key=lambda b: b.index):
                addr = dev.bar_addr[bar.index]
                last = (addr + bar.size - 1) & _MASK64
                if bar.kind == "io":
                    out.append(f"      BAR{bar.index}: I/O at 0x{addr:04x} [0x{last:04x}].")
                else:
                    pref = " prefetchable" if bar.prefetch else ""
                    bits = 64 if bar.mem64 else 32
                    out.append(f"      BAR{bar.index}: {bits} bit{pref} memory at 0x{addr:08x} "
                               f"[0x{last:08x}].")
            out.append(f"      id \"{dev.id or ''}\"")
    return "\n".join(out)


def machine_buses(machine) -> List[PCIBus]:
    buses = getattr(machine, "pci_buses", None)
    if buses is not None:
        return list(buses)
    found: List[PCIBus] = []
    for obj in machine.walk():
        bus = getattr(obj, "bus", None)
        if isinstance(bus, PCIBus) and bus not in found:
            found.append(bus)
    return found


@info_command("pci", "", "show PCI info")
def _info_pci(mon, args: List[str]) -> str:
    return info_pci_text(machine_buses(mon.machine))
