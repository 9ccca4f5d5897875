"""Every VCVT form of the A9's VFPv3 against Unicorn, in every FPSCR mode.

Forms: float -> integer with and without R (S32/U32 from F32/F64), integer -> float,
F32 <-> F64, VCVTB/VCVTT between F16 and F32, and fixed point <-> float for every
encoding (S16/U16/S32/U32, single and double, to and from, every fraction width the
size allows).  Modes: RMode RN/RP/RM/RZ x FZ off/on x DN off/on (and AHP off/on for the
half-precision forms).  Each (encoding, mode) runs one sequence of the instruction on
several registers holding corner-case operands (floats: zeros, denormals, infinities,
NaNs, halfway and saturation boundaries; integers: 0, +-1, INT_MIN/MAX, 2**24 +- 1 and
random), in A32 and, for a quarter of them, T32.  The fixed -> float forms round to
nearest whatever RMode says: see gen_vfp.py for how Unicorn is asked for that.
"""
from __future__ import annotations

import random
from typing import Dict, List, Tuple

import pytest

from gen_vfp import (F32_SPECIAL, F64_SPECIAL, VFPPair, code_bytes, encode, rand_f32, rand_f64,
                     split, t32_bytes)
from harness import random_state

MODES = [rm << 22 | fz << 24 | dn << 25 for rm in range(4) for fz in (0, 1) for dn in (0, 1)]
AHP = 1 << 26
INT_CORNERS = [0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x80000001, 0x00FFFFFF, 0x01000001,
               0x7FFFFF81, 0x0000FFFF, 0x00008000, 0x00007FFF, 0xFFFF8000, 0x00010001,
               0x7FFFFFFE, 0xFFFFFF7F, 0x00000101, 0x0000C001]
F16_CORNERS = [0x0000, 0x8000, 0x3C00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00,
               0x7E00, 0x7C01, 0xFD23, 0x3555, 0xC001]


def _forms() -> List[Tuple[str, str, Dict[str, int], str]]:
    """(id, form name, fixed fields, operand kind) for every VCVT encoding variant."""
    out = []
    for sz in (0, 1):
        for s in (0, 1):
            for rz in (0, 1):
                out.append((f"to{'s' if s else 'u'}32.f{32 << sz}{'' if rz else 'R'}",
                            "VCVT_toint", dict(sz=sz, s=s, rz=rz), "float"))
            out.append((f"f{32 << sz}.{'s' if s else 'u'}32", "VCVT_fromint", dict(sz=sz, s=s), "int"))
        out.append((f"f{64 >> sz}.f{32 << sz}", "VCVT_ds", dict(sz=sz), "float"))
        for op in (0, 1):
            for u in (0, 1):
                for sx in (0, 1):
                    size = 32 if sx else 16
                    for imm in range(0, min(size, 31) + 1 if sx else size + 1):
                        fbits = size - imm
                        t = f"{'u' if u else 's'}{size}"
                        name = f"f{32 << sz}.{t}#{fbits}" if op == 0 else f"{t}.f{32 << sz}#{fbits}"
                        out.append((name, "VCVT_fix", dict(sz=sz, op=op, u=u, sx=sx, i=imm & 1,
                                                             imm4=imm >> 1),
                                    "int" if op == 0 else "float"))
    for op in (0, 1):
        for t in (0, 1):
            out.append((f"{'f32.f16' if op == 0 else 'f16.f32'}{'T' if t else 'B'}", "VCVT_half",
                        dict(op=op, t=t), "half" if op == 0 else "float"))
    return out


FORMS = _forms()


def _operand(rng: random.Random, kind: str, double: bool) -> int:
    if kind == "int":
        v = rng.choice(INT_CORNERS) if rng.random() < 0.6 else rng.getrandbits(32)
        return v | (rng.getrandbits(32) << 32 if double else 0)
    if kind == "half":
        lo, hi = rng.choice(F16_CORNERS), rng.choice(F16_CORNERS)
        return hi << 16 | lo
    if double:
        return rng.choice(F64_SPECIAL) if rng.random() < 0.5 else rand_f64(rng)
    return rng.choice(F32_SPECIAL) if rng.random() < 0.5 else rand_f32(rng)


def _instructions(name: str, fields: Dict[str, int], n: int) -> List[Tuple[int, int]]:
    """n encodings of the form on distinct registers: [(insn, source register)]."""
    out = []
    sz = fields.get("sz", 0)
    for k in range(n):
        f = dict(fields)
        if name == "VCVT_fix":       # in place: Vd is source and destination
            reg = 2 * k + 1 if sz else 4 * k + 1
            f.update(zip(("vdr", "d"), split(reg, bool(sz))))
            src = (reg, bool(sz))
        elif name == "VCVT_toint":   # Sd <- Vm
            src = (2 * k + 8 if sz else 4 * k + 2, bool(sz))
            f.update(zip(("vdr", "d"), split(4 * k + 3, False)))
            f.update(zip(("vmr", "m"), split(*src)))
        elif name == "VCVT_fromint":  # Vd <- Sm
            src = (4 * k + 2, False)
            f.update(zip(("vdr", "d"), split(2 * k + 17 if sz else 4 * k + 3, bool(sz))))
            f.update(zip(("vmr", "m"), split(*src)))
        elif name == "VCVT_ds":      # Vd (other size) <- Vm
            src = (2 * k + 8 if sz else 4 * k + 2, bool(sz))
            f.update(zip(("vdr", "d"), split(4 * k + 3 if sz else 2 * k + 17, not sz)))
            f.update(zip(("vmr", "m"), split(*src)))
        else:                        # VCVT_half: Sd <- Sm
            src = (4 * k + 2, False)
            f.update(zip(("vdr", "d"), split(4 * k + 3, False)))
            f.update(zip(("vmr", "m"), split(*src)))
        out.append((encode(name, **f), src))
    return out


def _state(rng, kind: str, sources) -> List[int]:
    d = [rand_f64(rng) if rng.random() < 0.5 else rand_f32(rng) | rand_f32(rng) << 32
         for _ in range(32)]
    for reg, double in sources:
        if double:
            d[reg] = _operand(rng, kind, True)
        else:
            v = _operand(rng, kind, False)
            k, hi = reg >> 1, reg & 1
            d[k] = (d[k] & 0xFFFFFFFF) | (v << 32) if hi else (d[k] & ~0xFFFFFFFF) | v
    return d


@pytest.fixture(scope="module")
def pair():
    return VFPPair()


@pytest.mark.parametrize("ident,name,fields,kind", FORMS, ids=[f[0] for f in FORMS])
def test_vcvt_form_in_every_mode(pair, ident, name, fields, kind):
    rng = random.Random("vcvt-" + ident)
    modes = MODES + [m | AHP for m in MODES] if name == "VCVT_half" else MODES
    for mode in modes:
        for rep in range(2):
            insns = _instructions(name, fields, 6)
            d = _state(rng, kind, [s for _, s in insns])
            fpscr = mode | rng.getrandbits(4) << 28 | (rng.getrandbits(5) if rng.random() < 0.2 else 0)
            regs, flags, data = random_state(rng)
            thumb = rng.random() < 0.25
            code = [i for i, _ in insns]
            blob = t32_bytes(code) if thumb else code_bytes(code)
            diff = pair.run(blob, regs, flags, data, (d, fpscr), thumb=thumb)
            assert not diff, (f"{ident} fpscr={fpscr:08x} {'T32' if thumb else 'A32'}: {diff}\n"
                              + " ".join(f"{i:08x}" for i in code))


def test_every_vcvt_encoding_is_listed():
    """Fixed point: 2 sizes x 2 directions x signed/unsigned x 2 precisions, with 32 or
    17 fraction widths; the other forms as named above."""
    assert sum(1 for f in FORMS if f[1] == "VCVT_fix") == 2 * 2 * 2 * (32 + 17)
    assert len(FORMS) == 392 + 8 + 4 + 2 + 4


@pytest.mark.parametrize("rmode", range(4))
def test_fixed_to_float_rounds_to_nearest_in_every_mode(rmode):
    """Issue 17's case: vcvt.f32.s32 s0, s0, #8 of 0x7fffffff is 0x4b000000 (nearest:
    8388607.996 -> 2**23) on QEMU 7.2 in RN, RP, RM and RZ alike (not 0x4affffff);
    vcvt.f64.s32 is exact; to fixed point truncates whatever the mode."""
    pair = VFPPair()
    cpu = pair.cpu
    vcvt_f32 = encode("VCVT_fix", sz=0, op=0, u=0, sx=1, i=0, imm4=12, vdr=0, d=0)   # #8
    vcvt_f64 = encode("VCVT_fix", sz=1, op=0, u=0, sx=1, i=0, imm4=12, vdr=1, d=0)
    vcvt_s32 = encode("VCVT_fix", sz=0, op=1, u=0, sx=1, i=0, imm4=12, vdr=2, d=0)
    cpu.vfp_d = [0x7FFFFFFF, 0x7FFFFFFF, 0x3F7FFFFF] + [0] * 29
    cpu.fpscr = rmode << 22
    space = pair.space
    space.write_bytes(0x1000, code_bytes([vcvt_f32, vcvt_f64, vcvt_s32, 0xEAFFFFFE]))
    cpu.regs[15] = 0x1000
    cpu.run(3)
    assert cpu.vfp_d[0] & 0xFFFFFFFF == 0x4B000000
    assert cpu.vfp_d[1] == 0x415FFFFFFFC00000          # 8388607.99609375 exactly
    assert cpu.vfp_d[2] & 0xFFFFFFFF == 0xFF            # 0.99999994 * 256 -> 255
    assert cpu.fpscr & 0x10                             # inexact
