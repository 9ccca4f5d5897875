"""Random FPU programs (24Kf, FR=0) for the differential tests: one generator per form
of cpu/mips/fpu.py.

A program loads f0-f31 from an input area of the data region (filled with interesting
values: zeros, infinities, quiet and signalling NaNs in the legacy encoding, denormals,
ordinary numbers), sets FCSR (random rounding mode, FS and flags; enables off, or
one enable in ``traps`` programs), runs the random FPU instructions, then stores f0-f31
and FCSR back into the data region, which the harness compares.
"""
from __future__ import annotations

import random
import struct
from typing import Dict, List

from gen import filler, i_type, li, r_type
from mips_harness import DATA_BASE

FP_IN = DATA_BASE + 0x8000
FP_OUT = DATA_BASE + 0x9000
BASE = 1    # r1 holds the input/output area's address in prologue and epilogue

S_SPECIAL = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FBFFFFF, 0x7F800001,
             0x7FC00000, 0xFFC00001, 0x00000001, 0x807FFFFF, 0x3F800000, 0xBF800000,
             0x4F000000, 0xCF000000, 0x4EFFFFFF, 0x3F000000, 0x7F7FFFFF, 0x00800000]
D_SPECIAL = [0x0000000000000000, 0x8000000000000000, 0x7FF0000000000000, 0x7FF7FFFFFFFFFFFF,
             0x7FF8000000000000, 0x7FF0000000000001, 0x0000000000000001, 0x3FF0000000000000,
             0xC1E0000000000000, 0x41DFFFFFFFC00000, 0x41E0000000000000, 0x3FE0000000000000,
             0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 0xBFF8000000000000]


def fp_inputs(rng: random.Random, be: bool) -> bytes:
    """32 words for f0-f31: even/odd pairs hold doubles half the time."""
    words: List[int] = []
    for _ in range(16):
        if rng.random() < 0.5:
            d = rng.choice(D_SPECIAL) if rng.random() < 0.4 else \
                struct.unpack("<Q", struct.pack("<d", rng.uniform(-1e6, 1e6)))[0]
            if rng.random() < 0.2:
                d = rng.getrandbits(64)
            words += [d & 0xFFFFFFFF, d >> 32]
        else:
            for _ in range(2):
                s = rng.choice(S_SPECIAL) if rng.random() < 0.4 else \
                    struct.unpack("<I", struct.pack("<f", rng.uniform(-1e4, 1e4)))[0]
                if rng.random() < 0.15:
                    s = rng.getrandbits(32)
                if rng.random() < 0.1:
                    s = rng.randrange(-1000, 1000) & 0xFFFFFFFF  # an integer (W format)
                words.append(s)
    return b"".join(struct.pack(">I" if be else "<I", w) for w in words)


def prologue(fcsr: int) -> List[int]:
    out = li(BASE, FP_IN)
    out += [i_type(0x31, BASE, f, 4 * f) for f in range(32)]         # lwc1 fN, 4N(r1)
    out += li(2, fcsr) + [(0x11 << 26) | (6 << 21) | (2 << 16) | (31 << 11)]  # ctc1 $2, $31
    return out


def epilogue() -> List[int]:
    out = li(BASE, FP_OUT)
    out += [i_type(0x39, BASE, f, 4 * f) for f in range(32)]         # swc1 fN, 4N(r1)
    out += [(0x11 << 26) | (2 << 21) | (2 << 16) | (31 << 11)]       # cfc1 $2, $31
    out += [i_type(0x2B, BASE, 2, 0x80)]                              # sw $2, 0x80(r1)
    return out


def _fr(rng, fmt):
    r = rng.randrange(32)
    return r & ~1 if fmt == "d" else r


FMT = {"s": 16, "d": 17, "w": 20, "l": 21}


def _cop1(fmt, ft, fs, fd, funct):
    return (0x11 << 26) | (FMT[fmt] << 21) | (ft << 16) | (fs << 11) | (fd << 6) | funct


def _arith(fmt, funct, unary=False):
    def gen(rng, at):
        ft = 0 if unary else _fr(rng, fmt)
        return [_cop1(fmt, ft, _fr(rng, fmt), _fr(rng, fmt), funct)]
    return gen


def _cvt(src, dst, funct):
    return lambda rng, at: [_cop1(src, 0, _fr(rng, src), _fr(rng, dst), funct)]


def _cmp(fmt):
    return lambda rng, at: [_cop1(fmt, _fr(rng, fmt), _fr(rng, fmt), 0, 0x30 | rng.randrange(16))
                            | (rng.randrange(8) << 8)]


def _madd(fmt, op):
    def gen(rng, at):
        return [(0x13 << 26) | (_fr(rng, fmt) << 21) | (_fr(rng, fmt) << 16) | (_fr(rng, fmt) << 11)
                | (_fr(rng, fmt) << 6) | (op << 3) | (0 if fmt == "s" else 1)]
    return gen


def _bc1(rng, at):
    k = rng.randrange(4)
    word = (0x11 << 26) | (8 << 21) | (rng.randrange(8) << 18) | (rng.randrange(4) << 16) | (k + 1)
    return [word, filler(rng)] + [filler(rng) for _ in range(k)]


def _movcf(fmt):
    return lambda rng, at: [_cop1(fmt, (rng.randrange(8) << 2) | rng.randrange(2), _fr(rng, fmt),
                                  _fr(rng, fmt), 0x11)]


def _movzn(fmt, funct):
    return lambda rng, at: [_cop1(fmt, rng.randrange(2, 32), _fr(rng, fmt), _fr(rng, fmt), funct)]


def _ldst(op, size):
    def gen(rng, at):
        base = rng.randrange(3, 32)
        imm = rng.randrange(-0x100, 0x100) & ~(size - 1)
        addr = DATA_BASE + rng.randrange(0x200, 0x7000, size)
        ft = rng.randrange(32)
        return li(base, (addr - imm) & 0xFFFFFFFF) + [i_type(op, base, ft, imm)]
    return gen


def _ldstx(funct, size, store):
    def gen(rng, at):
        base, index = rng.sample(range(3, 32), 2)
        addr = DATA_BASE + rng.randrange(0x200, 0x7000, size)
        off = rng.randrange(-0x100, 0x100) & ~(size - 1)
        f = rng.randrange(32)
        word = (0x13 << 26) | (base << 21) | (index << 16) | ((f << 11) if store else (f << 6)) | funct
        return li(base, (addr - off) & 0xFFFFFFFF) + li(index, off & 0xFFFFFFFF) + [word]
    return gen


GENERATORS: Dict[str, object] = {
    "MFC1": lambda rng, at: [(0x11 << 26) | (0 << 21) | (rng.randrange(2, 32) << 16) | (rng.randrange(32) << 11)],
    "MTC1": lambda rng, at: [(0x11 << 26) | (4 << 21) | (rng.randrange(32) << 16) | (rng.randrange(32) << 11)],
    "MFHC1": lambda rng, at: [(0x11 << 26) | (3 << 21) | (rng.randrange(2, 32) << 16) | (rng.randrange(16) * 2 << 11)],
    "MTHC1": lambda rng, at: [(0x11 << 26) | (7 << 21) | (rng.randrange(32) << 16) | (rng.randrange(16) * 2 << 11)],
    "CFC1": lambda rng, at: [(0x11 << 26) | (2 << 21) | (rng.randrange(2, 32) << 16) | (rng.choice([0, 25, 26, 28, 31]) << 11)],
    "CTC1": lambda rng, at: li(2, rng.getrandbits(32) & 0xFFFFF07F) + [(0x11 << 26) | (6 << 21) | (2 << 16) | (rng.choice([25, 26, 28]) << 11)],
    "BC1": _bc1,
    "MOVCI": lambda rng, at: [r_type(rng.randrange(32), (rng.randrange(8) << 2) | rng.randrange(2), rng.randrange(2, 32), 0, 1)],
    "LWC1": _ldst(0x31, 4), "LDC1": _ldst(0x35, 8), "SWC1": _ldst(0x39, 4), "SDC1": _ldst(0x3D, 8),
    "LWXC1": _ldstx(0, 4, False), "LDXC1": _ldstx(1, 8, False), "SWXC1": _ldstx(8, 4, True),
    "SDXC1": _ldstx(9, 8, True),
    "PREFX": lambda rng, at: [(0x13 << 26) | (rng.randrange(32) << 21) | (rng.randrange(32) << 16) | (rng.randrange(32) << 11) | 0xF],
}
for _f in ("s", "d"):
    _u = _f.upper()
    GENERATORS.update({
        f"ADD_{_u}": _arith(_f, 0), f"SUB_{_u}": _arith(_f, 1), f"MUL_{_u}": _arith(_f, 2),
        f"DIV_{_u}": _arith(_f, 3), f"SQRT_{_u}": _arith(_f, 4, True), f"ABS_{_u}": _arith(_f, 5, True),
        f"MOV_{_u}": _arith(_f, 6, True), f"NEG_{_u}": _arith(_f, 7, True),
        f"ROUND_W_{_u}": _cvt(_f, "w", 12), f"TRUNC_W_{_u}": _cvt(_f, "w", 13),
        f"CEIL_W_{_u}": _cvt(_f, "w", 14), f"FLOOR_W_{_u}": _cvt(_f, "w", 15),
        f"CVT_W_{_u}": _cvt(_f, "w", 36), f"C_{_u}": _cmp(_f),
        f"MOVCF_{_u}": _movcf(_f), f"MOVZ_{_u}": _movzn(_f, 0x12), f"MOVN_{_u}": _movzn(_f, 0x13),
        f"MADD_{_u}": _madd(_f, 4), f"MSUB_{_u}": _madd(_f, 5), f"NMADD_{_u}": _madd(_f, 6),
        f"NMSUB_{_u}": _madd(_f, 7),
    })
GENERATORS.update({
    "RECIP_S": _arith("s", 0x15, True), "RSQRT_S": _arith("s", 0x16, True),
    "CVT_D_S": _cvt("s", "d", 33), "CVT_S_D": _cvt("d", "s", 32),
    "CVT_S_W": _cvt("w", "s", 32), "CVT_D_W": _cvt("w", "d", 33),
})

NOT_RANDOM = {name: "needs FR=1 (RI with FR=0, as in QEMU): directed test" for name in (
    "ROUND_L_S", "TRUNC_L_S", "CEIL_L_S", "FLOOR_L_S", "ROUND_L_D", "TRUNC_L_D", "CEIL_L_D",
    "FLOOR_L_D", "CVT_L_S", "CVT_L_D", "CVT_S_L", "CVT_D_L", "CVT_L_W", "CVT_W_L",
    "RECIP_D", "RSQRT_D")}
NOT_RANDOM.update({"CVT_S_S": "not an instruction", "CVT_D_D": "not an instruction"})


def random_fpu_program(rng: random.Random, length: int, base: int, names=None,
                       traps: bool = False) -> List[int]:
    fcsr = rng.choice([0, 1, 2, 3]) | (rng.getrandbits(5) << 2) | (0x01000000 if rng.random() < 0.2 else 0)
    if traps:
        fcsr |= 1 << rng.randrange(7, 12)
    words = prologue(fcsr)
    names = names or sorted(GENERATORS)
    while len(words) < length:
        words += GENERATORS[rng.choice(names)](rng, base + 4 * len(words))
    return words + epilogue()
