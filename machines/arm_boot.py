"""Direct Linux kernel boot for ARM boards, with QEMU's protocol (hw/arm/boot.c).

The board calls ``load_linux(...)`` after building its memory map.  It places:

* the kernel: a zImage or raw Image at ``ram_base + 0x10000``; a uImage at its own
  load address (gzip payloads unpacked); an ELF at the addresses its program
  headers give, entered at its entry point;
* the initrd at ``ram_base + min(ram_size / 2, 128 MiB)`` (or after the kernel);
* the DTB after the initrd, 4 KiB aligned, with ``/memory`` replaced, ``/chosen``
  bootargs and initrd range set, and whatever nodes the board adds (``patch_dtb``);
* a boot stub at ``ram_base``: ``mov r0, #0; ldr r1, =board_id; ldr r2, =dtb;
  ldr pc, =entry`` (four instructions and three literals).

Every blob is registered as a ROM (``info roms``) and copied in again at each
system reset.  The CPU starts at the stub in SVC mode; ELF images that are not
Linux are entered directly.
"""
from __future__ import annotations

import os
import struct
from typing import Callable, Optional

from pysystem import loader
from pysystem.loader import LoaderError

KERNEL_OFFSET = 0x10000

# mov r0, #0 / ldr r1, [pc, #4] / ldr r2, [pc, #4] / ldr pc, [pc, #4]
_STUB = (0xE3A00000, 0xE59F1004, 0xE59F2004, 0xE59FF004)


class BootInfo:
    """Where things went; the board uses ``entry`` for the first CPU's PC."""

    def __init__(self, entry: int, kernel_addr: int, kernel_size: int,
                 initrd_start: int = 0, initrd_size: int = 0, dtb_start: int = 0,
                 is_linux: bool = True):
        self.entry, self.kernel_addr, self.kernel_size = entry, kernel_addr, kernel_size
        self.initrd_start, self.initrd_size, self.dtb_start = initrd_start, initrd_size, dtb_start
        self.is_linux = is_linux


def _place_kernel(path: str, space, ram_base: int, ram_size: int):
    """Load the kernel; return (entry, load address, size, is_linux)."""
    data = loader.read_image(path)
    if data[:4] == b"\x7fELF":
        info = loader.load_elf(path, space, machine=loader.EM_ARM)
        return info.entry, info.low, info.high - info.low, False
    if len(data) >= 64 and struct.unpack(">I", data[:4])[0] == 0x27051956:
        image = loader.parse_uimage(path)
        loader.add_rom(path, image.load_addr, image.data, space)
        return image.entry, image.load_addr, len(image.data), True
    addr = ram_base + KERNEL_OFFSET
    size = loader.load_raw(path, space, addr, ram_size - KERNEL_OFFSET)
    return addr, addr, size, True


def load_linux(space, ram_base: int, ram_size: int, kernel: str,
               initrd: Optional[str] = None, dtb: Optional[str] = None,
               append: str = "", board_id: int = 0xFFFFFFFF,
               patch_dtb: Optional[Callable[[object], None]] = None) -> BootInfo:
    """Load kernel, initrd and DTB into ``space`` as QEMU does; see the module docstring."""
    entry, kaddr, ksize, is_linux = _place_kernel(kernel, space, ram_base, ram_size)
    if not is_linux:   # a bare-metal ELF needs no device tree (QEMU boots it without)
        return BootInfo(entry, kaddr, ksize, is_linux=False)
    if dtb is None:
        raise LoaderError("this board needs a device tree: pass -dtb FILE")

    initrd_size = os.path.getsize(initrd) if initrd else 0
    if initrd and initrd_size == 0:
        raise LoaderError(f"could not load initrd '{initrd}': file is empty")
    kernel_end = kaddr + ksize if kaddr >= ram_base else None
    initrd_start, dtb_start = loader.arm_boot_layout(ram_base, ram_size, kernel_end, initrd_size)
    if initrd:
        initrd_size = loader.load_ramdisk(initrd, space, initrd_start, ram_base + ram_size - initrd_start)

    tree = loader.load_dtb(dtb)
    loader.set_memory(tree, ram_base, ram_size)
    loader.set_chosen(tree, append or None,
                      initrd_start if initrd else None,
                      initrd_start + initrd_size if initrd else None)
    if patch_dtb is not None:
        patch_dtb(tree)
    blob = loader.dtb_bytes(tree, total_size=(os.path.getsize(dtb) + 10000) * 2)
    loader.add_rom("dtb", dtb_start, blob, space)

    stub = struct.pack("<7I", *_STUB, board_id, dtb_start, entry)
    loader.add_rom("bootloader", ram_base, stub, space)
    return BootInfo(ram_base, kaddr, ksize, initrd_start, initrd_size, dtb_start)
