"""The ARMv7 short-descriptor MMU (no LPAE): table walks and permission checks.

``translate(cpu, va, access, user)`` returns ``(pa, writable, size, tag)`` for an
access (``access``: 0 read, 1 write, 2 execute; ``user``: unprivileged) or raises
``MMUFault`` with the short-descriptor fault status and domain.  ``writable``
says whether the same privilege level may also write the page, so the soft TLB
can fill its read and write entries from one walk; ``size`` is the size of the
mapping (4 KiB, 64 KiB, 1 MiB or 16 MiB), so that invalidating one address by
TLBIMVA can drop every soft-TLB page the same descriptor filled; ``tag`` is the
descriptor's domain, plus 16 when the mapping is not global (nG set), and -1 with the
MMU off: a DACR write drops only the pages whose domain it changed, and a change of
address space (CONTEXTIDR, TTBR0, a by-ASID invalidation) only the non-global pages.

Implemented: sections, supersections (32-bit physical addresses only), large
and small pages, TTBCR.N with TTBR0/TTBR1 and PD0/PD1, domains (DACR), AP/APX
with and without SCTLR.AFE (access flag faults, no hardware flag management),
XN, external aborts on the walk.  Memory attributes (TEX, C, B, TEX remap with
PRRR/NMRR) do not change behaviour here; ``PAR`` reports them as zero.
The soft TLB keeps only the current ASID's and global entries (its non-global pages
are dropped on CONTEXTIDR and TTBR0 writes), so nG needs no check on a hit.
"""
from __future__ import annotations

from typing import Tuple

from .exceptions import (FSR_ACCESS_PAGE, FSR_ACCESS_SECTION, FSR_DOMAIN_PAGE, FSR_DOMAIN_SECTION,
                         FSR_EXT_WALK_L1, FSR_EXT_WALK_L2, FSR_PERMISSION_PAGE,
                         FSR_PERMISSION_SECTION, FSR_TRANSLATION_PAGE, FSR_TRANSLATION_SECTION,
                         MMUFault)

READ, WRITE, EXEC = 0, 1, 2

# (priv read, priv write, user read, user write) per AP[2:0] with AFE=0
_AP = {
    0: (0, 0, 0, 0), 1: (1, 1, 0, 0), 2: (1, 1, 1, 0), 3: (1, 1, 1, 1),
    4: (0, 0, 0, 0), 5: (1, 0, 0, 0), 6: (1, 0, 1, 0), 7: (1, 0, 1, 0),
}
# AFE=1: AP[2:1]
_AP_AFE = {0: (1, 1, 0, 0), 1: (1, 1, 1, 1), 2: (1, 0, 0, 0), 3: (1, 0, 1, 0)}


def _read_desc(cpu, addr: int, fs: int, domain: int = 0) -> int:
    try:
        return cpu.address_space.read(addr, 4)
    except Exception as e:  # BusError
        if type(e).__name__ != "BusError":
            raise
        raise MMUFault(fs, domain) from None


def walk(cpu, va: int) -> Tuple[int, int, int, int, int, int]:
    """The descriptor for ``va``: (pa, ap, domain, xn, size, ng); MMUFault if none."""
    ttbcr = cpu.cp15.ttbcr
    n = ttbcr & 7
    if n and (va >> (32 - n)):
        if ttbcr & 0x20:
            raise MMUFault(FSR_TRANSLATION_SECTION)
        l1 = (cpu.cp15.ttbr1 & 0xFFFFC000) | ((va >> 18) & 0x3FFC)
    else:
        if ttbcr & 0x10:
            raise MMUFault(FSR_TRANSLATION_SECTION)
        base_mask = ~((1 << (14 - n)) - 1) & 0xFFFFFFFF
        l1 = (cpu.cp15.ttbr0 & base_mask) | ((va >> 18) & (0x3FFC >> n))
    desc = _read_desc(cpu, l1, FSR_EXT_WALK_L1)
    kind = desc & 3
    domain = (desc >> 5) & 0xF
    if kind == 0 or kind == 3:
        raise MMUFault(FSR_TRANSLATION_SECTION, domain)
    if kind == 2:
        ap = ((desc >> 10) & 3) | ((desc >> 13) & 4)
        xn = (desc >> 4) & 1
        ng = (desc >> 17) & 1
        if desc & (1 << 18):  # supersection
            return (desc & 0xFF000000) | (va & 0x00FFFFFF), ap, 0, xn, 0x1000000, ng
        return (desc & 0xFFF00000) | (va & 0x000FFFFF), ap, domain, xn, 0x100000, ng
    l2 = (desc & 0xFFFFFC00) | ((va >> 10) & 0x3FC)
    desc2 = _read_desc(cpu, l2, FSR_EXT_WALK_L2, domain)
    k2 = desc2 & 3
    if k2 == 0:
        raise MMUFault(FSR_TRANSLATION_PAGE, domain)
    ap = ((desc2 >> 4) & 3) | ((desc2 >> 7) & 4)
    ng = (desc2 >> 11) & 1
    if k2 == 1:
        return (desc2 & 0xFFFF0000) | (va & 0xFFFF), ap, domain, (desc2 >> 15) & 1, 0x10000, ng
    return (desc2 & 0xFFFFF000) | (va & 0xFFF), ap, domain, desc2 & 1, 0x1000, ng


def translate(cpu, va: int, access: int, user: bool) -> Tuple[int, bool, int, int]:
    """Physical address for ``va``, whether the page is writable at this privilege, the
    mapping's size and its TLB tag (domain, + 16 when not global)."""
    if not cpu.cp15.sctlr & 1:
        return va, True, 0x1000, -1
    pa, ap, domain, xn, size, ng = walk(cpu, va)
    is_page = size <= 0x10000
    dom = (cpu.cp15.dacr >> (2 * domain)) & 3
    if dom == 3:
        return pa, True, size, domain + 16 * ng
    if dom != 1:
        raise MMUFault(FSR_DOMAIN_PAGE if is_page else FSR_DOMAIN_SECTION, domain)
    if cpu.cp15.sctlr & (1 << 29):  # AFE: AP[0] is the access flag
        if not ap & 1:
            raise MMUFault(FSR_ACCESS_PAGE if is_page else FSR_ACCESS_SECTION, domain)
        pr, pw, ur, uw = _AP_AFE[ap >> 1]
    else:
        pr, pw, ur, uw = _AP[ap]
    r, w = (ur, uw) if user else (pr, pw)
    ok = (r and not xn) if access == EXEC else (w if access == WRITE else r)
    if not ok:
        raise MMUFault(FSR_PERMISSION_PAGE if is_page else FSR_PERMISSION_SECTION, domain)
    return pa, bool(w), size, domain + 16 * ng
