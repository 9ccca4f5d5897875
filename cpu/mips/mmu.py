"""MIPS32 virtual to physical translation: the fixed segments and the JTLB.

=========== ====================== ===================================
segment     addresses              mapping, who may access
=========== ====================== ===================================
kuseg       0x00000000-0x7fffffff  JTLB; all modes (unmapped when ERL)
kseg0       0x80000000-0x9fffffff  va - 0x80000000 (cached); kernel
kseg1       0xa0000000-0xbfffffff  va - 0xa0000000 (uncached); kernel
ksseg/kseg2 0xc0000000-0xdfffffff  JTLB; supervisor and kernel
kseg3       0xe0000000-0xffffffff  JTLB; kernel
=========== ====================== ===================================

Kernel mode is KSU = 0 or EXL or ERL; supervisor KSU = 1; user KSU = 2.  An access
a mode may not make is an address error (AdEL for loads and fetches, AdES for
stores); a mapped address with no matching entry is a TLB refill, an entry whose
half is not valid a TLB invalid, a store to a clean page (D = 0) a TLB modified.

``translate(cpu, va, access, mode)`` returns ``(pa, writable, page_size, tag)``:
``writable`` says a later store may go straight to the page (D set, or unmapped),
``tag`` is the JTLB index the mapping came from (-1: unmapped segment), which the
soft TLB notes so that replacing that entry drops exactly its pages.  Faults are
raised as the typed exceptions of exceptions.py with idx -1 (the caller sets it).
"""
from __future__ import annotations

from typing import Tuple

from .exceptions import AddressError, TLBInvalid, TLBModified, TLBRefill

M32 = 0xFFFFFFFF
LOAD, STORE, FETCH = 0, 1, 2
KERNEL, SUPERVISOR, USER = 0, 1, 2


def translate(cpu, va: int, access: int, mode: int) -> Tuple[int, bool, int, int]:
    store = access == STORE
    seg = va >> 29
    if seg < 4:  # kuseg
        if cpu.cp0.status & 4 and mode == KERNEL:  # ERL: unmapped, uncached
            return va, True, 0x1000, -1
    elif seg < 6:  # kseg0, kseg1
        if mode != KERNEL:
            raise AddressError(-1, va, store)
        return va & 0x1FFFFFFF, True, 0x1000, -1
    elif seg == 6:  # ksseg
        if mode == USER:
            raise AddressError(-1, va, store)
    elif mode != KERNEL:  # kseg3
        raise AddressError(-1, va, store)
    hit = cpu.jtlb.lookup(va, cpu.cp0.entryhi & 0xFF)
    if hit is None:
        raise TLBRefill(-1, va, store)
    idx, lo, size = hit
    if not lo & 2:
        raise TLBInvalid(-1, va, store)
    dirty = bool(lo & 4)
    if store and not dirty:
        raise TLBModified(-1, va, True)
    pa = (((lo >> 6) << 12) + (va & (size - 1))) & M32
    return pa, dirty, size, idx
