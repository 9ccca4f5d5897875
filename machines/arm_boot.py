"""Direct kernel boot for ARM boards, with QEMU 7.2's protocol (hw/arm/boot.c).

The generic loader (pysystem/loader.py) reads ELF, raw and U-Boot files; this module
decides where an ARM board puts them and how its first CPU enters.  The board calls
``load_kernel(...)`` after building its memory map, keeps the ``BootInfo`` and calls
``boot.reset_cpu(cpu, space, first)`` for every CPU at every reset (after the ROMs have
been copied in again).

Kernel formats, tried in QEMU's order:

* ELF (EM_ARM): segments at their physical addresses.  Not Linux: the
  CPU starts at the ELF entry (Thumb if its bit 0 is set), registers as after reset
  (a big-endian BE8 image: with CPSR.E and SCTLR.EE set, as QEMU does; a BE32 one,
  for pre-ARMv7 cores, is refused),
  and ``-initrd``/``-append`` are ignored.  With ``-dtb`` the DTB goes at the base of
  RAM when the image leaves room there (the image starts above the base, which then
  limits the DTB's size, or ends below it), else at address 0, as QEMU does; nothing
  tells the program where it is.
* U-Boot uImage: at its load address (a kernel_noload image at RAM base + 32 MiB + its
  64-byte header);
  Linux if its OS field says so, else entered directly.
* anything else (a zImage, an Image, a raw binary): Linux, at RAM base + 0x10000.

Linux images are entered through a boot stub at the RAM base: ``mov r0, #0; ldr r1,
=board_id; ldr r2, =args; ldr pc, =entry``.  ``args`` is the DTB when there is one
(``-dtb``): placed after the initrd (or where it would go), 4 KiB aligned, with
``/memory`` replaced, ``/chosen`` bootargs and initrd range set and the board's own
nodes (``patch_dtb``).  Without a DTB, ``args`` is an ATAG list at RAM base + 0x100,
written again at every reset: ATAG_CORE (flags 1, page size 4096, root device 0),
ATAG_MEM (RAM size and base), ATAG_INITRD2 (with ``-initrd``), ATAG_CMDLINE (with a
non-empty ``-append``), ATAG_NONE.

Several CPUs (``nb_cpus`` > 1): an ELF or other non-Linux image is entered by every CPU
at its entry.  For Linux the other CPUs start in QEMU's secondary stub ("smpboot", a ROM
at ``smp_loader_start``): enable their GIC CPU interface (CTLR 1, PMR 0xff), DSB, then
WFI until the word at ``smp_bootreg_addr`` is non-zero and branch there (BX); a reset
writes 0 to that word, as QEMU does.

The initrd goes at RAM base + min(RAM size / 2, 128 MiB), or above the kernel image
if that ends higher, page aligned.  Every blob is registered as a ROM (``info roms``)
and copied in again at system reset; the ATAG list is not a ROM, as in QEMU.
"""
from __future__ import annotations

import os
import struct
from typing import Callable, List, Optional, Tuple

from pysystem import loader
from pysystem.loader import LoaderError

KERNEL_OFFSET = 0x10000          # QEMU's KERNEL_LOAD_ADDR
KERNEL_NOLOAD_OFFSET = 0x2000000  # where a kernel_noload uImage goes
ATAGS_OFFSET = 0x100             # QEMU's KERNEL_ARGS_ADDR
EF_ARM_BE8 = 0x00800000          # e_flags: a BE8 image (little-endian code, big-endian data)
SCTLR_EE = 1 << 25

ATAG_NONE = 0
ATAG_CORE = 0x54410001
ATAG_MEM = 0x54410002
ATAG_CMDLINE = 0x54410009
ATAG_INITRD2 = 0x54420005

# mov r0, #0 / ldr r1, [pc, #4] / ldr r2, [pc, #4] / ldr pc, [pc, #4]
_STUB = (0xE3A00000, 0xE59F1004, 0xE59F2004, 0xE59FF004)

# the secondary CPUs' stub; two literal words follow: the GIC CPU interface, the boot register
_SMP_STUB = (
    0xE59F2028,     # ldr r2, [pc, #0x28]     the GIC CPU interface
    0xE59F0028,     # ldr r0, [pc, #0x28]     the boot register's address
    0xE3A01001,     # mov r1, #1
    0xE5821000,     # str r1, [r2]            GICC_CTLR: enable
    0xE3A010FF,     # mov r1, #0xff
    0xE5821004,     # str r1, [r2, #4]        GICC_PMR: let every priority through
    0xF57FF04F,     # dsb sy
    0xE320F003,     # wfi
    0xE5901000,     # ldr r1, [r0]
    0xE1110001,     # tst r1, r1
    0x0AFFFFFB,     # beq <wfi>
    0xE12FFF11,     # bx r1
)

Writes = List[Tuple[int, bytes]]


class BootInfo:
    """Where things went and how the first CPU starts.

    ``entry``: the kernel's entry (bit 0 = Thumb for an ELF); ``start``: the first
    CPU's PC (the stub at the RAM base for Linux, else ``entry``); ``atags``: the
    memory writes of the ATAG list (empty unless Linux boots without a DTB);
    ``dtb_start`` is None when no DTB was loaded; ``smp_start``/``smp_bootreg``: where
    the other CPUs of a Linux boot start and the word they poll (None: one CPU).
    """

    def __init__(self, entry: int, kernel_addr: int, kernel_size: int, is_linux: bool,
                 start: Optional[int] = None, initrd_start: int = 0, initrd_size: int = 0,
                 dtb_start: Optional[int] = None, atags: Optional[Writes] = None,
                 smp_start: Optional[int] = None, smp_bootreg: Optional[int] = None,
                 big_endian: bool = False):
        self.entry, self.kernel_addr, self.kernel_size = entry, kernel_addr, kernel_size
        self.is_linux = is_linux
        self.start = entry if start is None else start
        self.initrd_start, self.initrd_size, self.dtb_start = initrd_start, initrd_size, dtb_start
        self.atags: Writes = atags or []
        self.smp_start, self.smp_bootreg = smp_start, smp_bootreg
        self.big_endian = big_endian

    def reset_cpu(self, cpu, space, first: bool = True) -> None:
        """Put an (already reset) CPU at its start: the first one at ``start`` (and the
        ATAGs written again), the others at ``entry`` (not Linux) or in the secondary
        stub with the boot register cleared (Linux)."""
        if first or not self.is_linux:
            start = self.start if first else self.entry
            cpu.thumb = start & 1
            cpu.pc = start & ~1
            if self.big_endian:         # a BE8 ELF: big-endian data from the start
                cpu.cpsr_e = 1
                cpu.cp15.sctlr |= SCTLR_EE
            if first:
                for addr, data in self.atags:
                    space.write_bytes(addr, data)
            return
        if self.smp_start is None:
            return
        space.write(self.smp_bootreg, 0, 4)
        cpu.thumb = 0
        cpu.pc = self.smp_start


# --- placement rules ---------------------------------------------------------------------------

def boot_layout(ram_base: int, ram_size: int, kernel_end: Optional[int] = None,
                initrd_size: int = 0, page_size: int = 4096) -> Tuple[int, int]:
    """(initrd_start, dtb_start) as QEMU places them for a Linux image.

    The initrd goes at ``ram_base + min(ram_size / 2, 128 MiB)``, or at the end of
    the kernel image (``kernel_end``: load address + file size) if that is higher,
    page aligned; the DTB follows the initrd (or takes its place when there is
    none), 4 KiB aligned.
    """
    ram_end = ram_base + ram_size
    initrd_start = ram_base + min(ram_size // 2, 128 << 20)
    if kernel_end:
        initrd_start = max(initrd_start, kernel_end)
    initrd_start = (initrd_start + page_size - 1) & -page_size
    if initrd_size:
        if initrd_start >= ram_end:
            raise LoaderError("not enough space after kernel to load initrd")
        if initrd_start + initrd_size > ram_end:
            raise LoaderError("could not load initrd: too big to fit into RAM after the kernel")
    dtb_start = (initrd_start + initrd_size + 4095) & -4096
    if dtb_start >= ram_end:
        raise LoaderError("Not enough space for DTB after kernel/initrd")
    return initrd_start, dtb_start


def atag_list(ram_base: int, ram_size: int, initrd_start: int = 0, initrd_size: int = 0,
              cmdline: str = "") -> Writes:
    """The ATAG list at ``ram_base + 0x100`` as the memory writes QEMU makes: the tags'
    words, and the command line's bytes up to its NUL (the padding is not written)."""
    addr = ram_base + ATAGS_OFFSET
    writes: Writes = []

    def words(*values: int) -> None:
        nonlocal addr
        writes.append((addr, struct.pack(f"<{len(values)}I", *values)))
        addr += 4 * len(values)

    words(5, ATAG_CORE, 1, 4096, 0)
    words(4, ATAG_MEM, ram_size, ram_base)
    if initrd_size:
        words(4, ATAG_INITRD2, initrd_start, initrd_size)
    if cmdline:
        text = cmdline.encode("utf-8", "surrogateescape")
        n = len(text) // 4 + 1                      # words holding the text and its NUL
        writes.append((addr + 8, text + b"\0"))
        words(n + 2, ATAG_CMDLINE)
        addr += 4 * n
    words(0, ATAG_NONE)
    return writes


def _dtb_blob(dtb: str, ram_base: int, ram_size: int, append: str, initrd_start: int,
              initrd_size: int, patch_dtb: Optional[Callable[[object], None]]) -> bytes:
    """The DTB as QEMU loads it: patched, and padded to (file size + 10000) * 2 bytes."""
    tree = loader.load_dtb(dtb)
    loader.set_memory(tree, ram_base, ram_size)
    loader.set_chosen(tree, append or None,
                      initrd_start if initrd_size else None,
                      initrd_start + initrd_size if initrd_size else None)
    if patch_dtb is not None:
        patch_dtb(tree)
    return loader.dtb_bytes(tree, total_size=(os.path.getsize(dtb) + 10000) * 2)


# --- the kernel ---------------------------------------------------------------------------------

def _place_kernel(path: str, space, ram_base: int, ram_size: int):
    """Load the kernel; return (entry, image low address, image size, is_linux, elf_be):
    ``elf_be`` is None for anything but an ELF, else whether the ELF is big-endian."""
    data = loader.read_image(path, "kernel")
    if data[:4] == b"\x7fELF":
        if data[5:6] == b"\x02" and len(data) >= 40 and \
                not struct.unpack(">I", data[36:40])[0] & EF_ARM_BE8:
            raise LoaderError(f"could not load '{path}': a big-endian BE32 ELF file "
                              f"(ARMv7 runs big-endian code as BE8: link with --be8)")
        info = loader.load_elf(path, space, machine=loader.EM_ARM)
        return info.entry, info.low, info.high - info.low, False, info.big_endian
    if len(data) >= 64 and struct.unpack(">I", data[:4])[0] == loader.IH_MAGIC:
        image, addr, entry = loader.load_uimage(path, space,
                                                noload_addr=ram_base + KERNEL_NOLOAD_OFFSET)
        return entry, addr, len(image.data), image.os == loader.IH_OS_LINUX, None
    addr = ram_base + KERNEL_OFFSET
    size = loader.load_raw(path, space, addr, ram_size - KERNEL_OFFSET)
    return addr, addr, size, True, None


def load_kernel(space, ram_base: int, ram_size: int, kernel: str,
                initrd: Optional[str] = None, dtb: Optional[str] = None,
                append: str = "", board_id: int = 0xFFFFFFFF,
                patch_dtb: Optional[Callable[[object], None]] = None, nb_cpus: int = 1,
                smp_loader_start: int = 0, smp_bootreg_addr: int = 0,
                gic_cpu_if_addr: int = 0) -> BootInfo:
    """Load kernel, initrd and DTB into ``space`` as QEMU does; see the module docstring."""
    entry, kaddr, ksize, is_linux, elf_be = _place_kernel(kernel, space, ram_base, ram_size)
    is_elf = elf_be is not None
    if ksize > ram_size:
        raise LoaderError(f"kernel '{kernel}' is too large to fit in RAM "
                          f"(kernel size {ksize}, RAM size {ram_size})")
    if not is_linux:
        dtb_start = None
        if dtb and is_elf:
            blob = _dtb_blob(dtb, ram_base, ram_size, append, 0, 0, patch_dtb)
            if kaddr > ram_base:        # room below the image, which limits the size
                dtb_start = ram_base if len(blob) <= kaddr - ram_base else None
            elif kaddr + ksize < ram_base:
                dtb_start = ram_base
            else:                       # the image covers the base: QEMU's unset dtb_start
                dtb_start = 0
            if dtb_start is not None:   # (a DTB too big for the room is quietly not loaded)
                loader.add_rom("dtb", dtb_start, blob, space)
        return BootInfo(entry, kaddr, ksize, False, dtb_start=dtb_start, big_endian=bool(elf_be))

    initrd_size = os.path.getsize(initrd) if initrd else 0
    if initrd and initrd_size == 0:
        raise LoaderError(f"could not load initrd '{initrd}': file is empty")
    kernel_end = kaddr + ksize if kaddr >= ram_base else None
    initrd_start, dtb_start = boot_layout(ram_base, ram_size, kernel_end, initrd_size)
    if initrd:
        initrd_size = loader.load_ramdisk(initrd, space, initrd_start,
                                          ram_base + ram_size - initrd_start)
    if dtb:
        blob = _dtb_blob(dtb, ram_base, ram_size, append, initrd_start, initrd_size, patch_dtb)
        loader.add_rom("dtb", dtb_start, blob, space)
        args, atags = dtb_start, None
    else:
        args = ram_base + ATAGS_OFFSET
        atags = atag_list(ram_base, ram_size, initrd_start, initrd_size, append)
        dtb_start = None
    stub = struct.pack("<7I", *_STUB, board_id, args, entry)
    loader.add_rom("bootloader", ram_base, stub, space)
    smp_start = smp_bootreg = None
    if nb_cpus > 1:
        smp_start, smp_bootreg = smp_loader_start, smp_bootreg_addr
        code = struct.pack(f"<{len(_SMP_STUB) + 2}I", *_SMP_STUB, gic_cpu_if_addr,
                           smp_bootreg_addr)
        loader.add_rom("smpboot", smp_loader_start, code, space)
    return BootInfo(entry, kaddr, ksize, True, ram_base, initrd_start, initrd_size,
                    dtb_start, atags, smp_start, smp_bootreg)
