"""Runtime helpers called from generated code for the rarer, fiddly operations
(saturation, parallel add/subtract, DSP multiplies).  Plain functions on ints:
each returns the result and, where the instruction has one, its side output
(Q overflow flag, GE bits).
"""
from __future__ import annotations

from typing import Tuple

M32 = 0xFFFFFFFF


def s32(x: int) -> int:
    return ((x & M32) ^ 0x80000000) - 0x80000000


def s16(x: int) -> int:
    return ((x & 0xFFFF) ^ 0x8000) - 0x8000


def s8(x: int) -> int:
    return ((x & 0xFF) ^ 0x80) - 0x80


def ssat(value: int, bits: int) -> Tuple[int, int]:
    """Signed saturation of ``value`` to ``bits`` bits: (result as a signed int, saturated?)."""
    hi = (1 << (bits - 1)) - 1
    lo = -(1 << (bits - 1))
    if value > hi:
        return hi, 1
    if value < lo:
        return lo, 1
    return value, 0


def usat(value: int, bits: int) -> Tuple[int, int]:
    hi = (1 << bits) - 1
    if value > hi:
        return hi, 1
    if value < 0:
        return 0, 1
    return value, 0


def qaddsub(op: int, rn: int, rm: int) -> Tuple[int, int]:
    """QADD (0), QSUB (1), QDADD (2), QDSUB (3): (result, Q)."""
    n, m = s32(rn), s32(rm)
    q = 0
    if op >= 2:
        n, q = ssat(2 * n, 32)
    r, q2 = ssat(m + n if op in (0, 2) else m - n, 32)
    return r & M32, q | q2


def ssat_insn(value: int, sh: int, imm5: int, satimm: int) -> Tuple[int, int]:
    v = s32(value)
    v = v >> (imm5 or 32) if sh else v << imm5
    r, q = ssat(s32(v), satimm + 1)
    return r & M32, q


def usat_insn(value: int, sh: int, imm5: int, satimm: int) -> Tuple[int, int]:
    v = s32(value)
    v = v >> (imm5 or 32) if sh else v << imm5
    r, q = usat(s32(v), satimm)
    return r & M32, q


def ssat16(value: int, satimm: int) -> Tuple[int, int]:
    lo, q1 = ssat(s16(value), satimm + 1)
    hi, q2 = ssat(s16(value >> 16), satimm + 1)
    return ((hi & 0xFFFF) << 16) | (lo & 0xFFFF), q1 | q2


def usat16(value: int, satimm: int) -> Tuple[int, int]:
    lo, q1 = usat(s16(value), satimm)
    hi, q2 = usat(s16(value >> 16), satimm)
    return (hi << 16) | lo, q1 | q2


# --- parallel add and subtract -----------------------------------------------------------

def _lanes(x: int, width: int, signed: bool):
    n = 32 // width
    mask = (1 << width) - 1
    out = []
    for i in range(n):
        v = (x >> (i * width)) & mask
        if signed:
            v = (v ^ (1 << (width - 1))) - (1 << (width - 1))
        out.append(v)
    return out


def parallel(u: int, op1: int, op2: int, rn: int, rm: int) -> Tuple[int, int]:
    """The S/Q/SH (u=0) and U/UQ/UH (u=1) ADD16/ASX/SAX/SUB16/ADD8/SUB8 family.

    ``op1``: 1 plain (sets GE), 2 saturating, 3 halving.  ``op2``: 0 ADD16, 1 ASX,
    2 SAX, 3 SUB16, 4 ADD8, 7 SUB8.  Returns (result, GE bits or -1 if unchanged).
    """
    signed = not u
    width = 8 if op2 in (4, 7) else 16
    a = _lanes(rn, width, signed)
    b = _lanes(rm, width, signed)
    if op2 == 0 or op2 == 4:
        sums = [x + y for x, y in zip(a, b)]
    elif op2 == 3 or op2 == 7:
        sums = [x - y for x, y in zip(a, b)]
    elif op2 == 1:  # ASX: lo = a.lo - b.hi, hi = a.hi + b.lo
        sums = [a[0] - b[1], a[1] + b[0]]
    else:  # SAX: lo = a.lo + b.hi, hi = a.hi - b.lo
        sums = [a[0] + b[1], a[1] - b[0]]
    ge = -1
    mask = (1 << width) - 1
    if op1 == 1:
        ge = 0
        per = 4 // len(sums)
        for i, s in enumerate(sums):
            if signed:
                bit = s >= 0
            else:
                if op2 in (0, 4):
                    bit = s >= (1 << width)
                elif op2 in (3, 7):
                    bit = s >= 0
                elif op2 == 1:
                    bit = (s >= 0) if i == 0 else (s >= (1 << width))
                else:
                    bit = (s >= (1 << width)) if i == 0 else (s >= 0)
            if bit:
                ge |= ((1 << per) - 1) << (i * per)
        res = sums
    elif op1 == 2:
        if signed:
            res = [ssat(s, width)[0] for s in sums]
        else:
            res = [usat(s, width)[0] for s in sums]
    else:
        res = [s >> 1 for s in sums]
    out = 0
    for i, r in enumerate(res):
        out |= (r & mask) << (i * width)
    return out, ge


def sel(ge: int, rn: int, rm: int) -> int:
    out = 0
    for i in range(4):
        src = rn if ge >> i & 1 else rm
        out |= src & (0xFF << (8 * i))
    return out


def usad8(rn: int, rm: int) -> int:
    return sum(abs(((rn >> s) & 0xFF) - ((rm >> s) & 0xFF)) for s in (0, 8, 16, 24))


def rbit(x: int) -> int:
    return int(f"{x & M32:032b}"[::-1], 2)


# --- DSP multiplies --------------------------------------------------------------------

def smlad(rn: int, rm: int, ra: int, sub: int, x: int, acc: int) -> Tuple[int, int]:
    """SMLAD/SMLSD/SMUAD/SMUSD: (result, Q)."""
    if x:
        rm = ((rm >> 16) | (rm << 16)) & M32
    p1 = s16(rn) * s16(rm)
    p2 = s16(rn >> 16) * s16(rm >> 16)
    total = p1 - p2 if sub else p1 + p2
    if acc:
        total += s32(ra)
    r = s32(total)
    return r & M32, int(r != total)


def smlald(rn: int, rm: int, lo: int, hi: int, sub: int, x: int) -> int:
    if x:
        rm = ((rm >> 16) | (rm << 16)) & M32
    p1 = s16(rn) * s16(rm)
    p2 = s16(rn >> 16) * s16(rm >> 16)
    total = (p1 - p2 if sub else p1 + p2) + ((hi << 32) | lo)
    return total & 0xFFFFFFFFFFFFFFFF


def smmla(rn: int, rm: int, ra: int, op: int, r: int, acc: int) -> int:
    prod = s32(rn) * s32(rm)
    if acc:
        base = s32(ra) << 32
        total = base - prod if op == 3 else base + prod
    else:
        total = prod
    if r:
        total += 0x80000000
    return (total >> 32) & M32


def smlaxy(rn: int, rm: int, ra: int, n: int, m: int, acc: int) -> Tuple[int, int]:
    a = s16(rn >> 16 if n else rn)
    b = s16(rm >> 16 if m else rm)
    total = a * b
    if acc:
        total += s32(ra)
    r = s32(total)
    return r & M32, int(r != total)


def smlawy(rn: int, rm: int, ra: int, m: int, acc: int) -> Tuple[int, int]:
    b = s16(rm >> 16 if m else rm)
    total = (s32(rn) * b) >> 16
    if acc:
        total += s32(ra)
    r = s32(total)
    return r & M32, int(r != total)


def smlalxy(rn: int, rm: int, lo: int, hi: int, n: int, m: int) -> int:
    a = s16(rn >> 16 if n else rn)
    b = s16(rm >> 16 if m else rm)
    return (a * b + ((hi << 32) | lo)) & 0xFFFFFFFFFFFFFFFF
