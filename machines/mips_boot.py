"""The Malta boot protocol: what QEMU 7.2's ``-M malta -kernel`` leaves in memory.

Without ``-bios``, QEMU loads the kernel ELF itself and writes a small boot loader
into the flash, where the CPU finds it at the reset vector (0xbfc00000, the boot
ROM copy of the flash).  This module generates the same bytes as QEMU 7.2 (checked
against its memory with ``pmemsave``; see tests/test_malta_boot.py):

    0x000  j 0x9fc00580; nop
    0x010  (the board ID 0x420: the board writes it into the boot ROM copy only)
    0x500  YAMON's service vector table (start, print_count, flush_cache, print,
           and "return 0" for the interrupt/exception registration calls)
    0x580  boot code: move the GT-64120's registers from 0x14000000 to 0x1be00000
           (GT_ISD), PCI0 I/O window at 0x18000000 (2 MiB), memory windows
           0x10000000 (126 MiB) and 0x18200000 (188 MiB); then sp, a0-a3 as YAMON
           passes them and ``jalr`` to the kernel's entry point in kseg0
    0x800  the YAMON routines: return 0; print (a NUL-terminated string) and
           print_count (a0 ignored, a1 the text, a2 its length) on the ISA UART at
           0x3f8 through the PCI I/O window (kseg1 0xb80003f8), polling LSR.THRE

The values written to the GT-64120 are byte-swapped for it (its registers are
little-endian behind a bus QEMU always reverses), so the little-endian stub stores
0x000000df to ISD and the big-endian one 0xdf000000.  QEMU 7.2 leaves PIIX4's PIRQ
routing to the PIIX4 reset values (10, 10, 11, 11) rather than to the boot code;
so do we (devices/piix4.py).

The argument table (QEMU's "prom" blob, 0x1040 bytes at physical 0x2000): 16
pointers (kseg0 addresses) then 16 strings of 256 bytes: the kernel file name;
``rd_start=0x<kseg0, sign-extended to 64 bits> rd_size=<bytes> <cmdline>`` (or the
command line alone); then environment pairs memsize (the low RAM, at most 256 MiB),
ememsize (all RAM), modetty0 38400n8r, rngseed <64 hex digits>; a NULL pointer ends
it.  a0 = 2 (argc), a1 = argv (0x80002000), a2 = envp (0x80002008: argv[2]
onwards), a3 = the low RAM size, sp = 0x80002000 - 64.

Differences from QEMU: the rngseed is derived from the kernel and its command line
(a SHA-256), not drawn from the host at each reset, so runs stay deterministic.
"""
from __future__ import annotations

import hashlib
import os
import struct
from typing import Iterable, List, NamedTuple, Optional, Tuple

from pysystem.loader import LoaderError

KSEG0, KSEG1 = 0x80000000, 0xA0000000
RESET_ADDRESS = 0x1FC00000
ENVP_PADDR = 0x2000
ENVP_VADDR = KSEG0 + ENVP_PADDR
ENVP_NB_ENTRIES = 16
ENVP_ENTRY_SIZE = 256
PROM_SIZE = ENVP_NB_ENTRIES * (4 + ENVP_ENTRY_SIZE)
INITRD_PAGE_SIZE = 64 << 10
INITRD_BOOTMAP_RESERVE = 128 << 10     # what the kernel's bootmem takes after the initrd
LOW_RAM_MAX = 256 << 20
EM_MIPS = 8

STUB_CODE = 0x580                       # the boot code
YAMON_ROUTINES = 0x800                  # return 0, print, print_count, outch
YAMON_VECTORS = (                       # (offset in the boot ROM, routine's offset)
    (0x500, 0x580), (0x504, 0x83C), (0x520, 0x580), (0x52C, 0x800), (0x534, 0x808),
    (0x538, 0x800), (0x53C, 0x800), (0x540, 0x800), (0x544, 0x800), (0x548, 0x800),
    (0x54C, 0x800), (0x550, 0x800), (0x554, 0x800),
)

GT_RESET_BASE, GT_BASE = 0x14000000, 0x1BE00000
# (GT-64120 register offset, base, value as the GT sees it): QEMU's YAMON-like setup
GT_SETUP = (
    (0x68, GT_RESET_BASE, GT_BASE << 3),    # ISD: internal registers to 0x1be00000
    (0x48, GT_BASE, 0x18000000 << 3),       # PCI0IOLD: I/O window at 0x18000000
    (0x50, GT_BASE, 0x08000000 << 3),       # PCI0IOHD
    (0x58, GT_BASE, 0x10000000 << 3),       # PCI0M0LD: memory window 0 at 0x10000000
    (0x60, GT_BASE, 0x07E00000 << 3),       # PCI0M0HD
    (0x80, GT_BASE, 0x18200000 << 3),       # PCI0M1LD: memory window 1 at 0x18200000
    (0x88, GT_BASE, 0x0BC00000 << 3),       # PCI0M1HD
)

# register numbers
ZERO, V0, A0, A1, A2, A3, T0, T1, T2, T3, T4, T5 = 0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
T9, K0, K1, SP, RA = 25, 26, 27, 29, 31
M32 = 0xFFFFFFFF


# --- a few MIPS32 encodings ------------------------------------------------------------------

def _i(op: int, rs: int, rt: int, imm: int) -> int:
    return op << 26 | rs << 21 | rt << 16 | (imm & 0xFFFF)


def lui(rt: int, imm: int) -> int:
    return _i(0x0F, 0, rt, imm)


def ori(rt: int, rs: int, imm: int) -> int:
    return _i(0x0D, rs, rt, imm)


def addiu(rt: int, rs: int, imm: int) -> int:
    return _i(0x09, rs, rt, imm)


def andi(rt: int, rs: int, imm: int) -> int:
    return _i(0x0C, rs, rt, imm)


def lbu(rt: int, offset: int, base: int) -> int:
    return _i(0x24, base, rt, offset)


def sb(rt: int, offset: int, base: int) -> int:
    return _i(0x28, base, rt, offset)


def sw(rt: int, offset: int, base: int) -> int:
    return _i(0x2B, base, rt, offset)


def beq(rs: int, rt: int, here: int, target: int) -> int:
    return _i(0x04, rs, rt, (target - here - 4) >> 2)


def bne(rs: int, rt: int, here: int, target: int) -> int:
    return _i(0x05, rs, rt, (target - here - 4) >> 2)


def move(rd: int, rs: int) -> int:
    return rs << 21 | rd << 11 | 0x21           # addu rd, rs, $0


def jalr(rs: int, rd: int = RA) -> int:
    return rs << 21 | rd << 11 | 0x09


def j(target: int) -> int:
    return 0x02 << 26 | (target & 0x0FFFFFFF) >> 2


def jal(target: int) -> int:
    return 0x03 << 26 | (target & 0x0FFFFFFF) >> 2


NOP = 0


def li32(reg: int, value: int) -> List[int]:
    """lui/ori: QEMU's bl_gen_load_ulong for a 32-bit CPU (always both instructions)."""
    value &= M32
    return [lui(reg, value >> 16), ori(reg, reg, value & 0xFFFF)]


def bswap32(value: int) -> int:
    return int.from_bytes((value & M32).to_bytes(4, "little"), "big")


# --- the boot loader -----------------------------------------------------------------------

def boot_code(kernel_entry: int, ram_low_size: int, big_endian: bool) -> List[int]:
    """The words at 0x580: the GT-64120 set-up, then the jump to the kernel."""
    words: List[int] = []
    for reg, base, value in GT_SETUP:
        gt_value = (value & M32) if big_endian else bswap32(value)
        words += li32(K0, gt_value) + li32(K1, KSEG1 | (base + reg)) + [sw(K0, 0, K1)]
    for reg, value in ((SP, ENVP_VADDR - 64), (A0, 2), (A1, ENVP_VADDR), (A2, ENVP_VADDR + 8),
                       (A3, ram_low_size), (T9, kernel_entry)):
        words += li32(reg, value)
    return words + [jalr(T9), NOP]


def yamon_routines(run_addr: int) -> List[int]:
    """The words at 0x800: QEMU's YAMON stand-ins (return 0, print, print_count, outch)."""
    base = run_addr + YAMON_ROUTINES
    outch = base + 0x70
    at = lambda n: base + 4 * n     # noqa: E731 - the address of word n
    return [
        jalr(RA, ZERO), addiu(V0, ZERO, 0),                     # 0x800: return 0
        # 0x808 print(a0 ignored, a1 = string)
        move(T5, RA), move(T3, A0), move(T2, A1),
        lbu(A0, 0, T2), addiu(T2, T2, 1), beq(A0, ZERO, at(7), at(13)), NOP,
        jal(outch), NOP, beq(ZERO, ZERO, at(11), at(5)), NOP,
        jalr(T5, ZERO), move(A0, T3),
        # 0x83c print_count(a0 ignored, a1 = text, a2 = length)
        move(T5, RA), move(T3, A0), move(T2, A1), move(T4, A2),
        lbu(A0, 0, T2), jal(outch), NOP, addiu(T2, T2, 1), addiu(T4, T4, -1),
        bne(T4, ZERO, at(24), at(19)), NOP,
        jalr(T5, ZERO), move(A0, T3),
        # 0x870 outch(a0): wait for THRE on the ISA UART at 0x3f8, then send
        lui(T0, 0xB800), ori(T0, T0, 0x3F8), lbu(T1, 5, T0), NOP,
        andi(T1, T1, 0x40), beq(T1, ZERO, at(33), at(30)), NOP,
        jalr(RA, ZERO), sb(A0, 0, T0),
    ]


def bootloader(kernel_entry: int, ram_low_size: int, big_endian: bool,
               run_addr: int = KSEG0 | RESET_ADDRESS) -> List[Tuple[int, int]]:
    """(offset, word) pairs to write at the start of the flash / boot ROM."""
    out = [(0, j(run_addr + STUB_CODE)), (4, NOP)]
    out += [(off, run_addr + target) for off, target in YAMON_VECTORS]
    out += [(STUB_CODE + 4 * n, w) for n, w in enumerate(boot_code(kernel_entry, ram_low_size,
                                                                     big_endian))]
    out += [(YAMON_ROUTINES + 4 * n, w) for n, w in enumerate(yamon_routines(run_addr))]
    return out


def write_words(buf, words: Iterable[Tuple[int, int]], big_endian: bool) -> None:
    fmt = ">I" if big_endian else "<I"
    for off, w in words:
        struct.pack_into(fmt, buf, off, w & M32)


# --- the kernel, the initrd and the argument table -------------------------------------------

class ElfKernel(NamedTuple):
    entry: int          # virtual (kseg0) entry point
    high: int           # physical end of the loaded image


def check_elf(path: str, big_endian: bool) -> None:
    """Refuse what QEMU's Malta refuses, with QEMU's words (LoaderError, one line)."""
    def fail(why: str):
        raise LoaderError(f"could not load kernel '{path}': {why}")
    try:
        with open(path, "rb") as f:
            head = f.read(52)
    except OSError:
        fail("Failed to load ELF")
    if len(head) < 4 or head[:4] != b"\x7fELF":
        fail("Failed to load ELF" if len(head) < 4 or head[:4] == b"\x7fELF"[:len(head)]
             else "The image is not ELF")
    if len(head) < 52 or head[4] not in (1, 2) or head[5] not in (1, 2):
        fail("Failed to load ELF")
    if (head[5] == 2) != big_endian:
        fail("The image has incorrect endianness")
    machine = struct.unpack_from(">H" if head[5] == 2 else "<H", head, 18)[0]
    if machine != EM_MIPS:
        fail("The image is from incompatible architecture")


def load_kernel(path: str, space, big_endian: bool) -> ElfKernel:
    """The ELF's segments at their physical addresses (kseg0/kseg1 -> physical)."""
    from pysystem.loader import load_elf
    check_elf(path, big_endian)
    try:
        info = load_elf(path, space, translate=lambda a: a & 0x7FFFFFFF,
                        big_endian=big_endian, machine=EM_MIPS)
    except LoaderError as e:
        text = str(e)
        if "no memory" in text or "too big" in text:
            raise
        raise LoaderError(f"could not load kernel '{path}': Failed to load ELF") from None
    return ElfKernel(info.entry & M32, info.high)


def initrd_offset(ram_low_size: int, initrd_size: int) -> int:
    """Where QEMU puts the initrd: below the top of low RAM, leaving 128 KiB, 64 KiB aligned."""
    start = ram_low_size - (initrd_size + INITRD_BOOTMAP_RESERVE)
    return -(-start // INITRD_PAGE_SIZE) * INITRD_PAGE_SIZE


def kseg0_64(paddr: int) -> int:
    """A physical address as a sign-extended kseg0 address (QEMU prints it with 64 bits)."""
    return (0xFFFFFFFF00000000 | KSEG0 | paddr) & 0xFFFFFFFFFFFFFFFF


def rng_seed(kernel: str, cmdline: str) -> str:
    return hashlib.sha256(f"{os.path.basename(kernel)}\0{cmdline}".encode()).hexdigest()


def prom_table(kernel: str, cmdline: str, initrd: Optional[Tuple[int, int]],
               ram_low_size: int, ram_size: int, big_endian: bool) -> bytes:
    """QEMU's "prom" blob: argv/envp pointers, then 256-byte strings (``initrd``: (paddr, size))."""
    if initrd is not None:
        args = f"rd_start=0x{kseg0_64(initrd[0]):x} rd_size={initrd[1]} {cmdline}"
    else:
        args = cmdline
    strings = [kernel, args, "memsize", str(ram_low_size), "ememsize", str(ram_size),
               "modetty0", "38400n8r", "rngseed", rng_seed(kernel, cmdline)]
    buf = bytearray(PROM_SIZE)
    fmt = ">I" if big_endian else "<I"
    for i, text in enumerate(strings):
        table = 4 * ENVP_NB_ENTRIES + i * ENVP_ENTRY_SIZE
        struct.pack_into(fmt, buf, 4 * i, ENVP_VADDR + table)
        raw = text.encode("utf-8", "replace")[:ENVP_ENTRY_SIZE - 1]
        buf[table:table + len(raw)] = raw
    return bytes(buf)


def swap_words(data: bytes, limit: int) -> bytes:
    """Byte-swap each 32-bit word of the first ``limit`` bytes (QEMU's little-endian bios trick)."""
    out = bytearray(data)
    n = min(len(out), limit) & ~3
    for off in range(0, n, 4):
        out[off:off + 4] = out[off:off + 4][::-1]
    return bytes(out)
