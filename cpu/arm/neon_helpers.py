"""Runtime helpers for the Advanced SIMD (NEON) instructions: Python over the register
file ``cpu.vfp_d`` (d0-d31 as u64; q<n> is d<2n> (low) and d<2n+1>).

Translated blocks (trans_neon.py) call these with constant register numbers:
``h_xxx(cpu, VD, d, n, m, q, esize, ...)``.  A vector is read as a list of its lanes
(unsigned, lane 0 = the least significant bits of the lowest D register), computed on
Python ints, and written back only after every source was read, so a destination
may overlap its sources.  None of them raises a guest exception (the T32 translator
relies on the ``h_`` prefix for that).

* Saturation sets FPSCR.QC (bit 27).
* Floating point uses the "standard FPSCR value" (flush-to-zero, default NaN, round
  to nearest; AHP from the FPSCR for half-precision conversions), as the architecture
  requires of Advanced SIMD; the exception flags still accumulate in FPSCR.
"""
from __future__ import annotations

from typing import Callable, List

from .. import softfloat as sf

QC = 1 << 27
M64 = (1 << 64) - 1
MASK = {8: 0xFF, 16: 0xFFFF, 32: 0xFFFFFFFF, 64: M64}

_STD = sf.FPStatus.arm_standard()


# --- lanes ---------------------------------------------------------------------------------

def split(x: int, e: int) -> List[int]:
    """The lanes of a doubleword (unsigned)."""
    if e == 64:
        return [x]
    m = MASK[e]
    return [(x >> s) & m for s in range(0, 64, e)]


def join(vals: List[int], e: int) -> int:
    """A doubleword from its lanes (each truncated to ``e`` bits)."""
    m = MASK[e]
    r = 0
    s = 0
    for v in vals:
        r |= (v & m) << s
        s += e
    return r


def sx(v: int, e: int) -> int:
    b = 1 << (e - 1)
    return (v ^ b) - b


def vget(VD, n: int, regs: int, e: int) -> List[int]:
    out: List[int] = []
    for i in range(regs):
        out += split(VD[n + i], e)
    return out


def vput(VD, d: int, regs: int, e: int, vals: List[int]) -> None:
    per = 64 // e
    for i in range(regs):
        VD[d + i] = join(vals[i * per:(i + 1) * per], e)


def _sat(cpu, v: int, e: int, signed: bool) -> int:
    """``v`` saturated to an e-bit (un)signed range; sets QC when it did not fit."""
    if signed:
        lo, hi = -(1 << (e - 1)), (1 << (e - 1)) - 1
    else:
        lo, hi = 0, (1 << e) - 1
    if v < lo:
        cpu.fpscr |= QC
        return lo
    if v > hi:
        cpu.fpscr |= QC
        return hi
    return v


def _fp(cpu, fn: Callable, *args) -> int:
    """A softfloat operation in the standard FPSCR; its flags go to FPSCR."""
    st = _STD
    st.flags = 0
    r = fn(*args, st)
    if st.flags:
        cpu.fpscr |= st.flags
    return r


# --- three registers of the same length: integer lane operations ---------------------------
# each takes (cpu, a, b, e, u) with a, b unsigned lanes and returns the result lane

def _val(x, e, u):
    return x if u else sx(x, e)


def _hadd(cpu, a, b, e, u, d=0):
    return (_val(a, e, u) + _val(b, e, u)) >> 1


def _rhadd(cpu, a, b, e, u, d=0):
    return (_val(a, e, u) + _val(b, e, u) + 1) >> 1


def _hsub(cpu, a, b, e, u, d=0):
    return (_val(a, e, u) - _val(b, e, u)) >> 1


def _qadd(cpu, a, b, e, u, d=0):
    return _sat(cpu, _val(a, e, u) + _val(b, e, u), e, not u)


def _qsub(cpu, a, b, e, u, d=0):
    return _sat(cpu, _val(a, e, u) - _val(b, e, u), e, not u)


def _cgt(cpu, a, b, e, u, d=0):
    return -1 if _val(a, e, u) > _val(b, e, u) else 0


def _cge(cpu, a, b, e, u, d=0):
    return -1 if _val(a, e, u) >= _val(b, e, u) else 0


def _shift_count(b):
    return sx(b & 0xFF, 8)


def _shl(cpu, a, b, e, u, d=0):
    """VSHL (register): a is the value, b the signed shift count."""
    sh = _shift_count(b)
    v = _val(a, e, u)
    return v << sh if sh >= 0 else v >> -sh


def _rshl(cpu, a, b, e, u, d=0):
    sh = _shift_count(b)
    v = _val(a, e, u)
    return v << sh if sh >= 0 else (v + (1 << (-sh - 1))) >> -sh


def _qshl(cpu, a, b, e, u, d=0):
    sh = _shift_count(b)
    v = _val(a, e, u)
    if sh < 0:
        return v >> -sh
    return _sat(cpu, v << sh, e, not u)


def _qrshl(cpu, a, b, e, u, d=0):
    sh = _shift_count(b)
    v = _val(a, e, u)
    if sh < 0:
        return (v + (1 << (-sh - 1))) >> -sh
    return _sat(cpu, v << sh, e, not u)


def _max(cpu, a, b, e, u, d=0):
    return max(_val(a, e, u), _val(b, e, u))


def _min(cpu, a, b, e, u, d=0):
    return min(_val(a, e, u), _val(b, e, u))


def _abd(cpu, a, b, e, u, d=0):
    return abs(_val(a, e, u) - _val(b, e, u))


def _aba(cpu, a, b, e, u, d=0):
    return d + abs(_val(a, e, u) - _val(b, e, u))


def _add(cpu, a, b, e, u, d=0):
    return a + b


def _sub(cpu, a, b, e, u, d=0):
    return a - b


def _tst(cpu, a, b, e, u, d=0):
    return -1 if a & b else 0


def _ceq(cpu, a, b, e, u, d=0):
    return -1 if a == b else 0


def _mla(cpu, a, b, e, u, d=0):
    return d + a * b


def _mls(cpu, a, b, e, u, d=0):
    return d - a * b


def _mul(cpu, a, b, e, u, d=0):
    return a * b


def pmul(a: int, b: int) -> int:
    """Carry-less (polynomial) product."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def _pmul(cpu, a, b, e, u, d=0):
    return pmul(a, b)


def _qdmulh(cpu, a, b, e, u, d=0):
    return _sat(cpu, (2 * sx(a, e) * sx(b, e)) >> e, e, True)


def _qrdmulh(cpu, a, b, e, u, d=0):
    return _sat(cpu, (2 * sx(a, e) * sx(b, e) + (1 << (e - 1))) >> e, e, True)


# --- floating-point lane operations (single precision, standard FPSCR) -----------------------

def _fadd(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_add, a, b)


def _fsub(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_sub, a, b)


def _fmul(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_mul, a, b)


def _fabd(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_sub, a, b) & 0x7FFFFFFF


def _fmla(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_add, d, _fp(cpu, sf.f32_mul, a, b))


def _fmls(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_sub, d, _fp(cpu, sf.f32_mul, a, b))


def _fmax(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_max, a, b)


def _fmin(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_min, a, b)


def _cmp_std(cpu, a, b, signal):
    st = _STD
    st.flags = 0
    r = sf.f32_compare(a, b, st, signal)
    if st.flags:
        cpu.fpscr |= st.flags
    return r


def _fceq(cpu, a, b, e, u, d=0):
    return -1 if _cmp_std(cpu, a, b, False) == sf.NZCV_EQ else 0


def _fcge(cpu, a, b, e, u, d=0):
    return -1 if _cmp_std(cpu, a, b, True) in (sf.NZCV_EQ, sf.NZCV_GT) else 0


def _fcgt(cpu, a, b, e, u, d=0):
    return -1 if _cmp_std(cpu, a, b, True) == sf.NZCV_GT else 0


def _facge(cpu, a, b, e, u, d=0):
    return _fcge(cpu, a & 0x7FFFFFFF, b & 0x7FFFFFFF, e, u)


def _facgt(cpu, a, b, e, u, d=0):
    return _fcgt(cpu, a & 0x7FFFFFFF, b & 0x7FFFFFFF, e, u)


def _frecps(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_recip_step, a, b)


def _frsqrts(cpu, a, b, e, u, d=0):
    return _fp(cpu, sf.f32_rsqrt_step, a, b)


LANE_OPS = {
    "VHADD": _hadd, "VRHADD": _rhadd, "VHSUB": _hsub, "VQADD": _qadd, "VQSUB": _qsub,
    "VCGT": _cgt, "VCGE": _cge, "VSHL": _shl, "VRSHL": _rshl, "VQSHL": _qshl,
    "VQRSHL": _qrshl, "VMAX": _max, "VMIN": _min, "VABD": _abd, "VABA": _aba,
    "VADD": _add, "VSUB": _sub, "VTST": _tst, "VCEQ": _ceq, "VMLA": _mla, "VMLS": _mls,
    "VMUL": _mul, "VMULP": _pmul, "VQDMULH": _qdmulh, "VQRDMULH": _qrdmulh,
    "VPMAX": _max, "VPMIN": _min, "VPADD": _add,
    "VADDF": _fadd, "VSUBF": _fsub, "VMULF": _fmul, "VABDF": _fabd, "VMLAF": _fmla,
    "VMLSF": _fmls, "VMAXF": _fmax, "VMINF": _fmin, "VCEQF": _fceq, "VCGEF": _fcge,
    "VCGTF": _fcgt, "VACGEF": _facge, "VACGTF": _facgt, "VRECPSF": _frecps,
    "VRSQRTSF": _frsqrts, "VPADDF": _fadd, "VPMAXF": _fmax, "VPMINF": _fmin,
}
ACCUMULATE = {"VABA", "VMLA", "VMLS", "VMLAF", "VMLSF"}


def h_3same(cpu, VD, op, d, n, m, q, e, u, shift=False):
    """Three registers of the same length, lane by lane.  ``shift``: the Vn operand is
    the shift count (VSHL and friends read Vm as the value)."""
    fn = LANE_OPS[op]
    regs = 2 if q else 1
    a = vget(VD, n, regs, e)
    b = vget(VD, m, regs, e)
    if shift:
        a, b = b, a
    if op in ACCUMULATE:
        c = vget(VD, d, regs, e)
        r = [fn(cpu, x, y, e, u, z) for x, y, z in zip(a, b, c)]
    else:
        r = [fn(cpu, x, y, e, u) for x, y in zip(a, b)]
    vput(VD, d, regs, e, r)


def h_pairwise(cpu, VD, op, d, n, m, e, u):
    """VPADD/VPMAX/VPMIN (D registers only): pairs of Vn, then pairs of Vm."""
    fn = LANE_OPS[op]
    a = split(VD[n], e) + split(VD[m], e)
    VD[d] = join([fn(cpu, a[i], a[i + 1], e, u) for i in range(0, len(a), 2)], e)


def h_vmul_scalar(cpu, VD, op, d, n, m, idx, q, e):
    """VMLA/VMLS/VMUL/VQDMULH/VQRDMULH (integer or float) by a scalar d<m>[idx]."""
    fn = LANE_OPS[op]
    regs = 2 if q else 1
    a = vget(VD, n, regs, e)
    s = split(VD[m], e)[idx]
    if op in ACCUMULATE:
        c = vget(VD, d, regs, e)
        r = [fn(cpu, x, s, e, 0, z) for x, z in zip(a, c)]
    else:
        r = [fn(cpu, x, s, e, 0) for x in a]
    vput(VD, d, regs, e, r)


# --- three registers of different lengths ----------------------------------------------------

def _long_op(cpu, op, a, b, e, u, acc):
    """One lane of a widening operation: a, b are e-bit lanes, acc a 2e-bit lane."""
    if op == "VMULLP":
        return pmul(a, b)
    x, y = _val(a, e, u), _val(b, e, u)
    if op == "ADD":
        return x + y
    if op == "SUB":
        return x - y
    if op == "ABD":
        return abs(x - y)
    if op == "ABA":
        return acc + abs(x - y)
    if op == "MUL":
        return x * y
    if op == "MLA":
        return acc + x * y
    if op == "MLS":
        return acc - x * y
    e2 = 2 * e
    p = _sat(cpu, 2 * x * y, e2, True)
    if op == "QDMUL":
        return p
    acc = sx(acc, e2)
    if op == "QDMLA":
        return _sat(cpu, acc + p, e2, True)
    return _sat(cpu, acc - p, e2, True)  # QDMLS


def h_long(cpu, VD, op, d, n, m, e, u, wide=False):
    """VADDL/VSUBL/VABDL/VABAL/VMULL/VMLAL/VMLSL/VQDMULL/VQDMLAL/VQDMLSL/VMULL.P8 and
    the wide forms VADDW/VSUBW (``wide``: Vn is already a Q register)."""
    e2 = 2 * e
    b = split(VD[m], e)
    acc = vget(VD, d, 2, e2)
    if wide:
        a = vget(VD, n, 2, e2)
        r = [(_val(x, e2, u) + _val(y, e, u)) if op == "ADD" else (_val(x, e2, u) - _val(y, e, u))
             for x, y in zip(a, b)]
    else:
        a = split(VD[n], e)
        r = [_long_op(cpu, op, x, y, e, u, z) for x, y, z in zip(a, b, acc)]
    vput(VD, d, 2, e2, r)


def h_long_scalar(cpu, VD, op, d, n, m, idx, e, u):
    """VMULL/VMLAL/VMLSL/VQDMULL/VQDMLAL/VQDMLSL by a scalar."""
    s = split(VD[m], e)[idx]
    a = split(VD[n], e)
    acc = vget(VD, d, 2, 2 * e)
    vput(VD, d, 2, 2 * e, [_long_op(cpu, op, x, s, e, u, z) for x, z in zip(a, acc)])


def h_narrow_high(cpu, VD, op, d, n, m, e, rnd):
    """VADDHN/VRADDHN/VSUBHN/VRSUBHN: the high halves of 2e-bit sums/differences."""
    e2 = 2 * e
    a = vget(VD, n, 2, e2)
    b = vget(VD, m, 2, e2)
    r = 1 << (e - 1) if rnd else 0
    if op == "ADD":
        VD[d] = join([(x + y + r) >> e for x, y in zip(a, b)], e)
    else:
        VD[d] = join([(x - y + r) >> e for x, y in zip(a, b)], e)


# --- two registers and a shift amount --------------------------------------------------------

def h_shift(cpu, VD, op, d, m, q, e, u, sh):
    """VSHR/VSRA/VRSHR/VRSRA/VSRI/VSHL/VSLI/VQSHL/VQSHLU by an immediate."""
    regs = 2 if q else 1
    a = vget(VD, m, regs, e)
    mask = MASK[e]
    if op in ("VSRA", "VRSRA", "VSRI", "VSLI"):
        c = vget(VD, d, regs, e)
    if op in ("VSHR", "VSRA", "VRSHR", "VRSRA"):
        rnd = op in ("VRSHR", "VRSRA")
        r = []
        for x in a:
            v = _val(x, e, u)
            v = (v + (1 << (sh - 1))) >> sh if rnd else v >> sh
            r.append(v)
        if op in ("VSRA", "VRSRA"):
            r = [x + y for x, y in zip(c, r)]
    elif op == "VSRI":
        keep = mask & ~(mask >> sh)
        r = [(y & keep) | (x >> sh) for x, y in zip(a, c)]
    elif op == "VSHL":
        r = [x << sh for x in a]
    elif op == "VSLI":
        keep = (1 << sh) - 1
        r = [(y & keep) | (x << sh) for x, y in zip(a, c)]
    elif op == "VQSHL":
        r = [_sat(cpu, _val(x, e, u) << sh, e, not u) for x in a]
    else:  # VQSHLU: signed input, unsigned result
        r = [_sat(cpu, sx(x, e) << sh, e, False) for x in a]
    vput(VD, d, regs, e, r)


def h_shift_narrow(cpu, VD, op, d, m, e, sh, rnd, u):
    """VSHRN/VRSHRN/VQSHRN/VQRSHRN/VQSHRUN/VQRSHRUN: Qm (2e-bit lanes) -> Dd (e-bit).
    ``u``: the source is unsigned (VQSHRN.U)."""
    e2 = 2 * e
    a = vget(VD, m, 2, e2)
    r = []
    for x in a:
        v = x if (u or op == "VSHRN") else sx(x, e2)
        v = (v + (1 << (sh - 1))) >> sh if rnd else v >> sh
        if op == "VQSHRN":
            v = _sat(cpu, v, e, not u)
        elif op == "VQSHRUN":
            v = _sat(cpu, v, e, False)
        r.append(v)
    VD[d] = join(r, e)


def h_shll(cpu, VD, d, m, e, u, sh):
    """VSHLL/VMOVL: Dm (e-bit lanes) -> Qd (2e-bit lanes)."""
    vput(VD, d, 2, 2 * e, [_val(x, e, u) << sh for x in split(VD[m], e)])


def h_cvt_fixed(cpu, VD, d, m, q, tofix, u, fbits):
    """VCVT between single precision and 32-bit fixed point (``fbits`` fraction bits):
    to fixed rounds towards zero, to float to nearest."""
    regs = 2 if q else 1
    a = vget(VD, m, regs, 32)
    if tofix:
        r = [_fp(cpu, sf.f32_to_int, x, not u, 32, fbits, sf.RZ) for x in a]
    else:
        r = [_fp(cpu, sf.int_to_f32, x, not u, 32, fbits) for x in a]
    vput(VD, d, regs, 32, r)


# --- two registers, miscellaneous ----------------------------------------------------------------

def _cls(v, e):
    v = sx(v, e)
    if v < 0:
        v = ~v
    return e - 1 - v.bit_length()


def _misc_lane(cpu, op, x, e):
    if op == "VCLS":
        return _cls(x, e)
    if op == "VCLZ":
        return e - x.bit_length()
    if op == "VCNT":
        return bin(x).count("1")
    if op == "VMVN":
        return ~x
    if op == "VQABS":
        return _sat(cpu, abs(sx(x, e)), e, True)
    if op == "VQNEG":
        return _sat(cpu, -sx(x, e), e, True)
    if op == "VCGT0":
        return -1 if sx(x, e) > 0 else 0
    if op == "VCGE0":
        return -1 if sx(x, e) >= 0 else 0
    if op == "VCEQ0":
        return -1 if x == 0 else 0
    if op == "VCLE0":
        return -1 if sx(x, e) <= 0 else 0
    if op == "VCLT0":
        return -1 if sx(x, e) < 0 else 0
    if op == "VABS":
        return abs(sx(x, e))
    if op == "VNEG":
        return -x
    if op == "VCGT0F":
        return _fcgt(cpu, x, 0, e, 0)
    if op == "VCGE0F":
        return _fcge(cpu, x, 0, e, 0)
    if op == "VCEQ0F":
        return _fceq(cpu, x, 0, e, 0)
    if op == "VCLE0F":
        return _fcge(cpu, 0, x, e, 0)
    if op == "VCLT0F":
        return _fcgt(cpu, 0, x, e, 0)
    if op == "VABSF":
        return x & 0x7FFFFFFF
    if op == "VNEGF":
        return x ^ 0x80000000
    if op == "VRECPE":
        return sf.u32_recip_estimate(x)
    if op == "VRSQRTE":
        return sf.u32_rsqrt_estimate(x)
    if op == "VRECPEF":
        return _fp(cpu, sf.f32_recip_estimate, x)
    if op == "VRSQRTEF":
        return _fp(cpu, sf.f32_rsqrt_estimate, x)
    if op == "VCVTFS":
        return _fp(cpu, sf.int_to_f32, x, True, 32, 0)
    if op == "VCVTFU":
        return _fp(cpu, sf.int_to_f32, x, False, 32, 0)
    if op == "VCVTSF":
        return _fp(cpu, sf.f32_to_int, x, True, 32, 0, sf.RZ)
    if op == "VCVTUF":
        return _fp(cpu, sf.f32_to_int, x, False, 32, 0, sf.RZ)
    raise ValueError(op)


def h_misc(cpu, VD, op, d, m, q, e):
    """The lane-by-lane two-register operations (VCLS ... VCVT)."""
    regs = 2 if q else 1
    vput(VD, d, regs, e, [_misc_lane(cpu, op, x, e) for x in vget(VD, m, regs, e)])


def h_rev(cpu, VD, d, m, q, e, group):
    """VREV16/32/64: reverse the e-bit lanes inside each ``group``-bit group."""
    regs = 2 if q else 1
    a = vget(VD, m, regs, e)
    k = group // e
    r = []
    for i in range(0, len(a), k):
        r += a[i:i + k][::-1]
    vput(VD, d, regs, e, r)


def h_paddl(cpu, VD, d, m, q, e, u, acc):
    """VPADDL/VPADAL: pairwise add of e-bit lanes into 2e-bit lanes."""
    regs = 2 if q else 1
    a = vget(VD, m, regs, e)
    r = [_val(a[i], e, u) + _val(a[i + 1], e, u) for i in range(0, len(a), 2)]
    if acc:
        r = [x + y for x, y in zip(vget(VD, d, regs, 2 * e), r)]
    vput(VD, d, regs, 2 * e, r)


def h_swp(cpu, VD, d, m, q):
    for i in range(2 if q else 1):
        VD[d + i], VD[m + i] = VD[m + i], VD[d + i]


def h_trn(cpu, VD, d, m, q, e):
    regs = 2 if q else 1
    a = vget(VD, d, regs, e)
    b = vget(VD, m, regs, e)
    for i in range(0, len(a), 2):
        a[i + 1], b[i] = b[i], a[i + 1]
    vput(VD, d, regs, e, a)
    vput(VD, m, regs, e, b)


def h_zip(cpu, VD, d, m, q, e, unzip):
    """VZIP (interleave Vd and Vm) and VUZP (de-interleave) of Vd:Vm in place."""
    regs = 2 if q else 1
    a = vget(VD, d, regs, e)
    b = vget(VD, m, regs, e)
    k = len(a)
    if unzip:
        both = a + b
        r = both[0::2] + both[1::2]
    else:
        r = []
        for x, y in zip(a, b):
            r += [x, y]
    vput(VD, d, regs, e, r[:k])
    vput(VD, m, regs, e, r[k:])


def h_movn(cpu, VD, op, d, m, e):
    """VMOVN/VQMOVN.S/VQMOVN.U/VQMOVUN: Qm (2e-bit lanes) -> Dd."""
    e2 = 2 * e
    a = vget(VD, m, 2, e2)
    if op == "VMOVN":
        r = a
    elif op == "VQMOVNS":
        r = [_sat(cpu, sx(x, e2), e, True) for x in a]
    elif op == "VQMOVNU":
        r = [_sat(cpu, x, e, False) for x in a]
    else:  # VQMOVUN
        r = [_sat(cpu, sx(x, e2), e, False) for x in a]
    VD[d] = join(r, e)


def h_cvt_half(cpu, VD, d, m, to_half):
    """VCVT.F16.F32 (Qm -> Dd) and VCVT.F32.F16 (Dm -> Qd), standard FPSCR with AHP."""
    st = _STD
    st.ahp = bool(cpu.fpscr & sf.FPSCR_AHP)
    try:
        if to_half:
            VD[d] = join([_fp(cpu, sf.f32_to_f16, x) for x in vget(VD, m, 2, 32)], 16)
        else:
            vput(VD, d, 2, 32, [_fp(cpu, sf.f16_to_f32, x) for x in split(VD[m], 16)])
    finally:
        st.ahp = False


# --- the rest --------------------------------------------------------------------------------------

def h_ext(cpu, VD, d, n, m, q, imm):
    """VEXT: bytes imm.. of Vm:Vn."""
    regs = 2 if q else 1
    bits = 64 * regs
    v = 0
    for i in range(regs):
        v |= VD[n + i] << (64 * i)
    for i in range(regs):
        v |= VD[m + i] << (64 * (regs + i))
    v = (v >> (8 * imm)) & ((1 << bits) - 1)
    for i in range(regs):
        VD[d + i] = (v >> (64 * i)) & M64


def h_tbl(cpu, VD, d, n, length, m, tbx):
    """VTBL/VTBX: table d<n>..d<n+length-1>, indices from Dm."""
    table = vget(VD, n, length, 8)
    idx = split(VD[m], 8)
    old = split(VD[d], 8)
    VD[d] = join([table[j] if j < len(table) else (old[i] if tbx else 0) for i, j in enumerate(idx)], 8)


def h_dup_scalar(cpu, VD, d, m, q, e, idx):
    v = split(VD[m], e)[idx]
    r = join([v] * (64 // e), e)
    for i in range(2 if q else 1):
        VD[d + i] = r


def dup(v: int, e: int) -> int:
    """An e-bit value replicated over a doubleword."""
    return join([v] * (64 // e), e)
