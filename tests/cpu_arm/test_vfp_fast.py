"""The host-float fast paths of cpu/arm/vfp.py against softfloat (bit-exact results and
flags; NZCV for the compares), on operands chosen to hit their edges: results at the normal/subnormal and
overflow boundaries, exact and inexact sums/products/quotients, cancellations."""
from __future__ import annotations

import random
import struct

import pytest

from gen_vfp import rand_f32, rand_f64

from pysystem.cpu import softfloat as sf
from pysystem.cpu.arm.vfp import VFPUnit, _fast_ops

SLOW = {(1, "add"): sf.f64_add, (1, "sub"): sf.f64_sub, (1, "mul"): sf.f64_mul,
        (1, "div"): sf.f64_div, (0, "add"): sf.f32_add, (0, "sub"): sf.f32_sub,
        (0, "mul"): sf.f32_mul, (0, "div"): sf.f32_div, (1, "cmp"): sf.f64_compare,
        (0, "cmp"): sf.f32_compare}


class _CPU:
    fpscr = 0


def _operand(rng, sz):
    r = rng.random()
    if sz:
        if r < 0.3:
            return rand_f64(rng)
        if r < 0.5:  # short significands: exact results
            return (rng.getrandbits(1) << 63) | (rng.randrange(1, 2046) << 52) | (rng.getrandbits(8) << 44)
        if r < 0.6:  # near the bottom or top of the normal range
            return (rng.getrandbits(1) << 63) | (rng.choice((1, 2, 3, 1021, 1022, 1023, 2044, 2045, 2046)) << 52) | rng.getrandbits(52)
        return (rng.getrandbits(1) << 63) | (rng.randrange(1, 2047) << 52) | rng.getrandbits(52)
    if r < 0.3:
        return rand_f32(rng)
    if r < 0.5:
        return (rng.getrandbits(1) << 31) | (rng.randrange(1, 254) << 23) | (rng.getrandbits(6) << 17)
    if r < 0.6:
        return (rng.getrandbits(1) << 31) | (rng.choice((1, 2, 3, 63, 64, 126, 127, 128, 252, 253, 254)) << 23) | rng.getrandbits(23)
    return (rng.getrandbits(1) << 31) | (rng.randrange(1, 255) << 23) | rng.getrandbits(23)


@pytest.mark.parametrize("use_struct", [False, True], ids=["memoryview", "struct"])
@pytest.mark.parametrize("key", sorted(SLOW))
def test_fast_path_matches_softfloat(key, use_struct):
    """Both float<->bits converters (CPython's memoryviews, PyPy's struct) are checked."""
    sz, name = key
    rng = random.Random(f"fast-{sz}-{name}")
    cpu = _CPU()
    unit = VFPUnit(cpu)
    fast = _fast_ops(cpu, unit.fp1, unit.fp2, unit.fpcmp, unit.toint, unit.fromint, use_struct)[key]
    slow = SLOW[key]
    for i in range(10000):
        a, b = _operand(rng, sz), _operand(rng, sz)
        if rng.random() < 0.1:  # cancellation / equal magnitudes
            b = a ^ (rng.getrandbits(1) << (63 if sz else 31))
        fpscr = rng.choice((0, 0x10, 0x1 << 24, 0x3 << 24, 0x9F, rng.getrandbits(2) << 22))
        cpu.fpscr = fpscr
        st = sf.FPStatus.from_fpscr(fpscr)
        if name == "cmp":
            signal = rng.random() < 0.5
            fast(a, b, signal)
            got, want = cpu.fpscr >> 28, slow(a, b, st, signal)
            fpscr = fpscr & 0x0FFFFFFF | want << 28
        else:
            got = fast(a, b)
            want = slow(a, b, st)
        assert (got, cpu.fpscr) == (want, fpscr & ~sf.FLAG_MASK | st.flags), \
            (name, sz, hex(a), hex(b), hex(fpscr), hex(got), hex(want), hex(cpu.fpscr), hex(st.flags))


def _near_int(rng, sz):
    """Values around integers, halves and the saturation limits."""
    base = rng.choice((0, 1, 2, 3, 1 << 15, 1 << 16, 1 << 31, 1 << 32, 12345, 1 << 24, 1 << 53))
    v = (base + rng.choice((-1, -0.5, -0.25, 0, 0.25, 0.5, 1, 1.5))) * rng.choice((1, -1))
    v *= rng.choice((1, 1, 2.0 ** -rng.randrange(0, 33)))
    return struct.unpack("<Q", struct.pack("<d", v))[0] if sz else \
        struct.unpack("<I", struct.pack("<f", v))[0]


@pytest.mark.parametrize("use_struct", [False, True], ids=["memoryview", "struct"])
@pytest.mark.parametrize("sz", [0, 1])
def test_fast_conversions_match_softfloat(sz, use_struct):
    rng = random.Random(f"fastcvt-{sz}")
    cpu = _CPU()
    unit = VFPUnit(cpu)
    fast = _fast_ops(cpu, unit.fp1, unit.fp2, unit.fpcmp, unit.toint, unit.fromint, use_struct)
    to_slow, from_slow = (sf.f64_to_int, sf.int_to_f64) if sz else (sf.f32_to_int, sf.int_to_f32)
    cvt_slow = sf.f64_to_f32 if sz else sf.f32_to_f64
    for i in range(6000):
        fpscr = rng.choice((0, 0x10, 1 << 24, 3 << 24, 0x9F, rng.getrandbits(2) << 22))
        a = _near_int(rng, sz) if rng.random() < 0.5 else _operand(rng, sz)
        signed, width = rng.randrange(2), rng.choice((16, 32, 32))
        fbits = 0 if rng.random() < 0.5 else rng.randrange(0, width + 1)
        rz = rng.randrange(2)
        v = rng.choice((rng.getrandbits(32), rng.randrange(-70000, 70000) & 0xFFFFFFFF,
                        rng.getrandbits(rng.randrange(1, 33))))
        cases = [
            ("toint", lambda: fast[sz, "toint"](a, signed, width, fbits, rz),
             lambda st: to_slow(a, signed, width, fbits, sf.RZ if rz else st.rounding, st)),
            ("fromint", lambda: fast[sz, "fromint"](v, signed, width, fbits),
             lambda st: from_slow(v, signed, width, fbits, st)),
            ("cvt", lambda: fast[sz, "cvt"](a), lambda st: cvt_slow(a, st)),
        ]
        for what, f_fast, f_slow in cases:
            cpu.fpscr = fpscr
            got = f_fast()
            st = sf.FPStatus.from_fpscr(fpscr)
            want = f_slow(st)
            assert (got, cpu.fpscr) == (want, fpscr & ~sf.FLAG_MASK | st.flags), \
                (what, sz, hex(a), hex(v), signed, width, fbits, rz, hex(fpscr), got, want,
                 hex(cpu.fpscr), hex(st.flags))
