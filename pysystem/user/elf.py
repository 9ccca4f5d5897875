"""Loading a 32-bit ELF executable (and its interpreter) into guest memory, and the
initial stack the kernel builds (argc, argv, envp, auxv; Linux's create_elf_tables).

``load_elf(mem, path, machine, big_endian)`` maps the PT_LOAD segments with their
permissions (ET_EXEC at their addresses, ET_DYN at a free place), zeroes the bss and
returns an ``Image``; ``ElfError`` (one line) for what is not a loadable executable of
this machine.  ``build_stack(...)`` writes the strings, the random bytes and the
vectors below ``top`` and returns the initial stack pointer.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .memory import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, GuestMemory, page_up

EM_ARM, EM_MIPS = 40, 8
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4

# auxv tags (linux/auxvec.h)
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_BASE_PLATFORM, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 24, 25, 26, 31

#: where an ET_DYN main program goes (an interpreter goes where mmap puts it)
ET_DYN_BASE = 0x00400000


class ElfError(Exception):
    """Not an executable this front end can load; one line."""


@dataclass
class Image:
    entry: int
    load_bias: int
    phdr: int          # the program headers' address in guest memory
    phnum: int
    phent: int
    end_data: int      # the end of the file-backed data (start of bss)
    brk: int           # the page-aligned end of everything loaded
    interp: Optional[str]
    flags: int         # e_flags


def _header(data: bytes, path: str, machine: int, big_endian: bool) -> Tuple[str, tuple]:
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise ElfError(f"{path}: Invalid ELF image for this architecture")
    if data[4] != 1:
        raise ElfError(f"{path}: Invalid ELF image for this architecture (not 32-bit)")
    order = ">" if data[5] == 2 else "<"
    if (order == ">") != big_endian:
        raise ElfError(f"{path}: Invalid ELF image for this architecture (byte order)")
    hdr = struct.unpack_from(order + "HHIIIIIHHHHHH", data, 16)
    if hdr[1] != machine:
        raise ElfError(f"{path}: Invalid ELF image for this architecture")
    if hdr[0] not in (ET_EXEC, ET_DYN):
        raise ElfError(f"{path}: not an executable")
    return order, hdr


def _prot(flags: int) -> int:
    return ((PROT_READ if flags & PF_R else 0) | (PROT_WRITE if flags & PF_W else 0)
            | (PROT_EXEC if flags & PF_X else 0))


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ElfError(f"Error while loading {path}: {e.strerror}") from None


def load_elf(mem: GuestMemory, path: str, machine: int, big_endian: bool,
             is_interp: bool = False) -> Image:
    data = _read(path)
    order, hdr = _header(data, path, machine, big_endian)
    e_type, _, _, e_entry, e_phoff, _, e_flags, _, e_phentsize, e_phnum = hdr[:10]
    phdrs = [struct.unpack_from(order + "IIIIIIII", data, e_phoff + i * e_phentsize)
             for i in range(e_phnum)]
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    if not loads:
        raise ElfError(f"{path}: no loadable segments")
    lo = min(p[2] for p in loads) & ~(PAGE - 1)
    hi = page_up(max(p[2] + p[5] for p in loads))
    bias = 0
    if e_type == ET_DYN:
        want = 0 if is_interp else ET_DYN_BASE
        base = mem.find_free(hi - lo, want) if want else mem.find_free(hi - lo)
        if base is None:
            raise ElfError(f"{path}: no room to load it")
        bias = base - lo
    interp = None
    end_data = 0
    brk = 0
    phdr_addr = 0
    for p in phdrs:
        p_type, off, vaddr, _, filesz, memsz, flags, _ = p
        if p_type == PT_INTERP:
            interp = data[off:off + filesz].split(b"\0")[0].decode("latin-1")
        elif p_type == PT_PHDR:
            phdr_addr = vaddr + bias
    for p in loads:
        _, off, vaddr, _, filesz, memsz, flags, _ = p
        start = (vaddr + bias) & ~(PAGE - 1)
        end = page_up(vaddr + bias + memsz)
        mem.map(start, end - start, _prot(flags))
        mem.poke(vaddr + bias, data[off:off + filesz])
        if not phdr_addr and off <= e_phoff < off + filesz:
            phdr_addr = vaddr + bias + (e_phoff - off)
        end_data = max(end_data, vaddr + bias + filesz)
        brk = max(brk, end)
    return Image(e_entry + bias, bias, phdr_addr, e_phnum, e_phentsize, end_data, brk,
                 interp, e_flags)


#: the heap QEMU 7.2 wants room for above a fixed-address program under -R
BRK_ROOM = 0x1000000


def check_reserved(path: str, name: str, machine: int, big_endian: bool, limit: int) -> None:
    """-R's test, before anything is mapped: a program at fixed addresses (ET_EXEC) must
    end, with BRK_ROOM of heap, within the reserved ``limit`` (QEMU 7.2's message)."""
    data = _read(path)
    order, hdr = _header(data, path, machine, big_endian)
    if hdr[0] != ET_EXEC:
        return
    e_phoff, e_phentsize, e_phnum = hdr[4], hdr[8], hdr[9]
    ends = [p[2] + p[5] for p in (struct.unpack_from(order + "IIIIIIII", data,
                                                     e_phoff + i * e_phentsize)
                                  for i in range(e_phnum)) if p[0] == PT_LOAD]
    need = max(ends, default=0) + BRK_ROOM
    if need > limit:
        raise ElfError(f"{name}: requires more than reserved virtual address space "
                       f"(0x{need:x} > 0x{limit:x})")


#: QEMU's setup_arg_pages leaves the host's pointer size free at the stack's top
#: (a 64-bit host: 8 bytes); the strings start below it
TOP_RESERVE = 8
#: the order of the auxv entries that QEMU 7.2's create_elf_tables writes (the ones
#: marked optional appear only when their value is not None)
AUXV_ORDER = (AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID,
              AT_EUID, AT_GID, AT_EGID, AT_HWCAP, AT_CLKTCK, AT_RANDOM, AT_SECURE,
              AT_EXECFN, AT_HWCAP2, AT_BASE_PLATFORM, AT_PLATFORM)


def build_stack(mem: GuestMemory, stack_end: int, order: str, argv: Sequence[bytes],
                envp: Sequence[bytes], aux: Dict[int, Optional[int]], execfn: bytes,
                platform: Optional[bytes], base_platform: Optional[bytes] = None) -> int:
    """Lay out the initial stack below ``stack_end`` as QEMU's linux-user does; returns
    the stack pointer (where argc is).  From the top down: the reserve, the program's
    path (AT_EXECFN), the environment strings, the argument strings (each group packed,
    unaligned), the base platform and platform strings (each in a multiple of 4 bytes),
    16-byte alignment, 16 random bytes (AT_RANDOM), then argc, argv[], envp[] and auxv
    with the start aligned down to 16.  ``aux`` holds the entries' values by tag (None:
    left out); AT_RANDOM, AT_EXECFN and the platforms are filled in here."""
    p = stack_end - TOP_RESERVE

    def strings(items: Sequence[bytes]) -> List[int]:
        nonlocal p
        addrs = []
        for s in reversed(items):
            p -= len(s) + 1
            mem.poke(p, s + b"\0")
            addrs.append(p)
        return addrs[::-1]

    execfn_addr = strings([execfn])[0]
    env_ptrs = strings(envp)
    arg_ptrs = strings(argv)
    sp = p

    def word_padded(s: Optional[bytes]) -> Optional[int]:
        nonlocal sp
        if s is None:
            return None
        sp -= (len(s) + 1 + 3) & ~3
        mem.poke(sp, s + b"\0")
        return sp

    values = dict(aux)
    values[AT_BASE_PLATFORM] = word_padded(base_platform)
    values[AT_PLATFORM] = word_padded(platform)
    sp &= ~15
    sp -= 16
    mem.poke(sp, os.urandom(16))
    values[AT_RANDOM] = sp
    values[AT_EXECFN] = execfn_addr
    words: List[int] = [len(argv)] + arg_ptrs + [0] + env_ptrs + [0]
    for tag in AUXV_ORDER:
        if values.get(tag) is not None:
            words += [tag, values[tag]]
    words += [AT_NULL, 0]
    sp = (sp - 4 * len(words)) & ~15
    mem.poke(sp, struct.pack(order + "%dI" % len(words), *words))
    return sp
