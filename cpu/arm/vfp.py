"""VFPv3-D32 state of the Cortex-A9: system registers, access checks, register file
access and the runtime helpers that translated code calls for the arithmetic.

State (declared in ``ARMCPU.STATE``): ``vfp_d`` (d0-d31 as u64; s<2k> is the low and
s<2k+1> the high half of d<k>), ``fpscr``, ``fpexc``.  ``fpscr`` always holds the
cumulative exception flags too: every helper folds the flags it raised back into it.

Identification registers (constants; writes from PL1 are ignored, as QEMU does):

* ``FPSID`` 0x41033090: QEMU's cortex-a9 value (r0p0, matching MIDR 0x410fc090 and the
  reference boot log's "VFP support v0.3: implementor 41 architecture 3 part 30
  variant 9 rev 0"); the A9 FPU TRM's later revisions read 0x41033094.
* ``MVFR0`` 0x11110222 and ``MVFR1`` 0x01111111: QEMU's cortex-a9 values (VFPv3-D32
  with Advanced SIMD: integer, single precision, half-precision conversions, loads and
  stores; FPHP, D_NaN, FtZ).  Linux sets HWCAP_NEON from MVFR1.  MVFR0 advertises
  short vectors as QEMU's does; the A9 (and we) UNDEF them with FPEXC.DEX set, and
  Linux's VFP support code emulates them (see below).

Behaviour as a Cortex-A9 without NEON (checked against Unicorn where it agrees):

* FPSCR: writable bits 0xfff7009f (NZCV, QC, AHP, DN, FZ, RMode, STRIDE, LEN and the
  cumulative flags; the trap enables are RAZ/WI since the A9 does not trap).
* FPEXC: EN (bit 30) and DEX (bit 29) are writable, the rest reads as zero (the A9
  does not trap; QEMU keeps only EN).
* VCVT between fixed point and floating point: to fixed point rounds towards zero and
  from fixed point to nearest, whatever FPSCR.RMode says (the pseudocode's FPToFixed
  and FixedToFP as these forms call them; QEMU 7.2 agrees, Unicorn 2's older QEMU
  rounds fixed -> float with RMode).  VCVT from a plain integer and VCVTR use RMode.
* Short vectors: not supported (A9 FPU TRM).  A VFP data-processing instruction of the
  kind that would iterate (VMOV/VABS/VNEG/VSQRT/arithmetic) sets FPEXC.DEX and UNDEFs
  when FPSCR.LEN or STRIDE is non-zero; Linux's VFP support code sees DEX and
  emulates the instruction.  (QEMU, hence Unicorn, executes them as vectors.)
* Access (``access_ok``): CPACR.cp10 (bits 21:20) 00/10 -> no access, 01 -> PL1 only,
  11 -> full; in the Non-secure state NSACR.CP10 must be set too; then FPEXC.EN must
  be set, except for VMRS/VMSR of FPSID, FPEXC, MVFR0/1 at PL1 (which is how Linux
  reads the IDs and enables the unit).  PL0 may only access FPSCR.
  CPACR.D32DIS/ASEDIS are not enforced (as QEMU).

Runtime helpers: ``unit(cpu)`` returns the per-CPU ``VFPUnit``; its ``fp1/fp2/...``
attributes are closures translated code binds with ``ctx.helper``.
"""
from __future__ import annotations

import platform
import struct
from typing import Callable, Optional

from .. import softfloat as sf

FPSID = 0x41033090
MVFR0 = 0x11110222
MVFR1 = 0x01111111

FPSCR_WMASK = 0xFFF7009F
FPSCR_VEC = 0x00370000      # STRIDE and LEN
FPEXC_EN = 1 << 30
FPEXC_DEX = 1 << 29
FPEXC_WMASK = FPEXC_EN | FPEXC_DEX

# VMRS/VMSR register numbers (the "reg" field)
REG_FPSID, REG_FPSCR, REG_MVFR1, REG_MVFR0, REG_FPEXC = 0, 1, 6, 7, 8
SYSREG_NAMES = {REG_FPSID: "fpsid", REG_FPSCR: "fpscr", REG_MVFR1: "mvfr1",
                REG_MVFR0: "mvfr0", REG_FPEXC: "fpexc"}
CONST_REGS = {REG_FPSID: FPSID, REG_MVFR1: MVFR1, REG_MVFR0: MVFR0}

_MON = 0x16


def access_ok(cpu, user: bool, need_en: bool = True) -> bool:
    """May the current mode use cp10/cp11 now (CPACR, NSACR, and FPEXC.EN if ``need_en``)?"""
    cp10 = (cpu.cp15.cpacr >> 20) & 3
    if cp10 == 0 or cp10 == 2 or (cp10 == 1 and user):
        return False
    if cpu.cp15.scr & 1 and cpu.mode != _MON and not (cpu.cp15.nsacr >> 10) & 1:
        return False
    return not need_en or bool(cpu.fpexc & FPEXC_EN)


# --- register file (for the debugger, the monitor and tests) ------------------------------

def get_s(cpu, n: int) -> int:
    d = cpu.vfp_d[n >> 1]
    return (d >> 32) if n & 1 else d & 0xFFFFFFFF


def set_s(cpu, n: int, value: int) -> None:
    k = n >> 1
    d = cpu.vfp_d[k]
    value &= 0xFFFFFFFF
    cpu.vfp_d[k] = (d & 0xFFFFFFFF) | (value << 32) if n & 1 else (d & ~0xFFFFFFFF) | value


def get_d(cpu, n: int) -> int:
    return cpu.vfp_d[n]


def set_d(cpu, n: int, value: int) -> None:
    cpu.vfp_d[n] = value & 0xFFFFFFFFFFFFFFFF


def read_sysreg(cpu, reg: int) -> int:
    """VMRS value of a VFP system register (no access checks)."""
    if reg == REG_FPSCR:
        return cpu.fpscr
    if reg == REG_FPEXC:
        return cpu.fpexc
    return CONST_REGS[reg]


def write_sysreg(cpu, reg: int, value: int) -> None:
    """VMSR to a VFP system register (no access checks; ID registers ignore writes)."""
    if reg == REG_FPSCR:
        cpu.fpscr = value & FPSCR_WMASK
    elif reg == REG_FPEXC:
        cpu.fpexc = value & FPEXC_WMASK


def expand_imm(imm8: int, double: bool) -> int:
    """VFPExpandImm: the VMOV.F32/F64 #imm constant from its 8-bit encoding."""
    sign = imm8 >> 7
    b6 = (imm8 >> 6) & 1
    if double:
        exp = ((b6 ^ 1) << 10) | ((0xFF if b6 else 0) << 2) | ((imm8 >> 4) & 3)
        return (sign << 63) | (exp << 52) | ((imm8 & 0xF) << 48)
    exp = ((b6 ^ 1) << 7) | ((0x1F if b6 else 0) << 2) | ((imm8 >> 4) & 3)
    return (sign << 31) | (exp << 23) | ((imm8 & 0xF) << 19)


# --- runtime helpers ----------------------------------------------------------------------

class VFPUnit:
    """Per-CPU floating-point status and the helper closures bound into blocks.

    The ``FPStatus`` is rebuilt whenever ``cpu.fpscr`` differs from the value it was
    built from (VMSR, snapshot load, debugger write): every helper checks that first.
    """

    def __init__(self, cpu):
        self.cpu = cpu
        st = self.st = sf.FPStatus()
        src = [-1]

        def status() -> sf.FPStatus:
            f = cpu.fpscr
            if f != src[0]:
                st.set_fpscr(f)
                src[0] = f
            return st

        def fold() -> None:
            f = cpu.fpscr | st.flags
            cpu.fpscr = f
            src[0] = f

        def fp1(fn: Callable, a: int) -> int:
            r = fn(a, status())
            fold()
            return r

        def fp2(fn: Callable, a: int, b: int) -> int:
            r = fn(a, b, status())
            fold()
            return r

        def fpcmp(fn: Callable, a: int, b: int, signal: bool) -> None:
            nzcv = fn(a, b, status(), signal)
            f = (cpu.fpscr | st.flags) & 0x0FFFFFFF | (nzcv << 28)
            cpu.fpscr = f
            src[0] = f

        def toint(fn: Callable, a: int, signed: int, width: int, fbits: int, rz: int) -> int:
            s = status()
            r = fn(a, signed, width, fbits, sf.RZ if rz else s.rounding, s)
            fold()
            return r

        def fromint(fn: Callable, v: int, signed: int, width: int, fbits: int,
                    rn: int = 0) -> int:
            """Integer/fixed point -> float; ``rn``: round to nearest whatever FPSCR.RMode
            says (FixedToFP of the fixed-point VCVT forms)."""
            s = status()
            mode = s.rounding
            if rn and mode != sf.RN:
                s.rounding = sf.RN
                r = fn(v, signed, width, fbits, s)
                s.rounding = mode
            else:
                r = fn(v, signed, width, fbits, s)
            fold()
            return r

        def ok(user: bool, need_en: bool, dp: bool) -> bool:
            if not access_ok(cpu, user, need_en):
                return False
            if dp and cpu.fpscr & FPSCR_VEC:
                cpu.fpexc |= FPEXC_DEX
                return False
            return True

        self.status, self.fp1, self.fp2, self.fpcmp = status, fp1, fp2, fpcmp
        self.toint, self.fromint, self.ok = toint, fromint, ok
        self.fast = _fast_ops(cpu, fp1, fp2, fpcmp, toint, fromint)


_DBL_MIN = 2.2250738585072014e-308
_DBL_MAX = 1.7976931348623157e308
_FLT_MIN = 1.1754943508222875e-38
_FLT_MAX = 3.4028234663852886e38
_M52 = (1 << 52) - 1
_M23 = (1 << 23) - 1


def _converters(use_struct: Optional[bool] = None):
    """(d64, b64, d32, s32): bits -> double, double -> bits, single bits -> double, and
    double -> (single bits, its value) rounded to nearest-even (OverflowError if out of
    range).  memoryviews are the fastest on CPython, struct on PyPy (its JIT)."""
    if use_struct is None:
        use_struct = platform.python_implementation() == "PyPy"
    if use_struct:
        SQ, SD, SI, SF = (struct.Struct(f) for f in ("<Q", "<d", "<I", "<f"))
        pq, ud, pd, uq = SQ.pack, SD.unpack, SD.pack, SQ.unpack
        pi, uf, pf, ui = SI.pack, SF.unpack, SF.pack, SI.unpack

        def d64(a):
            return ud(pq(a))[0]

        def b64(x):
            return uq(pd(x))[0]

        def d32(a):
            return uf(pi(a))[0]

        def s32(x):
            p = pf(x)
            return ui(p)[0], uf(p)[0]
        return d64, b64, d32, s32
    buf = bytearray(8)
    mq, md = memoryview(buf).cast("Q"), memoryview(buf).cast("d")
    ml, mf = memoryview(buf).cast("I"), memoryview(buf).cast("f")

    def d64(a):
        mq[0] = a
        return md[0]

    def b64(x):
        md[0] = x
        return mq[0]

    def d32(a):
        ml[0] = a
        return mf[0]

    def s32(x):
        mf[0] = x
        v = mf[0]
        if v in (_INF, -_INF) and x not in (_INF, -_INF):
            raise OverflowError
        return ml[0], v
    return d64, b64, d32, s32


_INF = float("inf")


def _fast_ops(cpu, fp1, fp2, fpcmp, toint, fromint, use_struct: Optional[bool] = None):
    """Host-float fast paths for ADD/SUB/MUL/DIV and the conversions in round-to-nearest
    (conversions to integers also in round-towards-zero, VCVT's mode), and for VCMP(E)
    of numbers that are neither NaNs nor denormals (in any mode).

    They apply when both operands and the result are normal numbers (so FZ, DN,
    underflow and overflow cannot matter) and otherwise call softfloat.  The host's
    double arithmetic is correctly rounded to nearest-even; single precision is
    computed in double and rounded once more, which is exact for + - * / because
    53 >= 2 * 24 + 2.  Inexactness (IXC) is found exactly: by the TwoSum error term
    for addition, by comparing the single result with the exact double product, and
    by integer tests on the significands for the double product and the quotients.
    A result of magnitude exactly DBL_MIN/FLT_MIN takes the slow path (tininess is
    detected before rounding on ARM).  Returns {(sz, name): function}.
    """
    d64, b64, d32, s32 = _converters(use_struct)
    add64, sub64, mul64, div64 = sf.f64_add, sf.f64_sub, sf.f64_mul, sf.f64_div
    add32, sub32, mul32, div32 = sf.f32_add, sf.f32_sub, sf.f32_mul, sf.f32_div
    IXC = sf.IXC

    def inexact():
        f = cpu.fpscr
        if not f & IXC:
            cpu.fpscr = f | IXC

    def fadd64(a, b, neg=False):
        if cpu.fpscr & 0xC00000:
            return fp2(sub64 if neg else add64, a, b)
        x = d64(a)
        y = -d64(b) if neg else d64(b)
        s = x + y
        if _DBL_MIN < abs(s) <= _DBL_MAX and _DBL_MIN <= abs(x) <= _DBL_MAX and _DBL_MIN <= abs(y) <= _DBL_MAX:
            bb = s - x
            if (x - (s - bb)) + (y - bb) != 0.0:
                inexact()
            return b64(s)
        return fp2(sub64 if neg else add64, a, b)

    def fsub64(a, b):
        return fadd64(a, b, True)

    def fmul64(a, b):
        if cpu.fpscr & 0xC00000:
            return fp2(mul64, a, b)
        x = d64(a)
        y = d64(b)
        p = x * y
        if _DBL_MIN < abs(p) <= _DBL_MAX and _DBL_MIN <= abs(x) <= _DBL_MAX and _DBL_MIN <= abs(y) <= _DBL_MAX:
            prod = ((a & _M52) | (1 << 52)) * ((b & _M52) | (1 << 52))
            if prod & ((1 << (prod.bit_length() - 53)) - 1):
                inexact()
            return b64(p)
        return fp2(mul64, a, b)

    def fdiv64(a, b):
        if cpu.fpscr & 0xC00000:
            return fp2(div64, a, b)
        x = d64(a)
        y = d64(b)
        if _DBL_MIN <= abs(x) <= _DBL_MAX and _DBL_MIN <= abs(y) <= _DBL_MAX:
            q = x / y
            if _DBL_MIN < abs(q) <= _DBL_MAX:
                mb = (b & _M52) | (1 << 52)
                if ((a & _M52) | (1 << 52)) % (mb >> ((mb & -mb).bit_length() - 1)):
                    inexact()
                return b64(q)
        return fp2(div64, a, b)

    def single(r, a, b, slow, exact=None):
        """Round the double r to single (slow path unless the result is normal)."""
        try:
            bits, v = s32(r)
        except OverflowError:
            return fp2(slow, a, b)
        if _FLT_MIN < abs(v) <= _FLT_MAX:
            if v != r if exact is None else not exact:
                inexact()
            return bits
        return fp2(slow, a, b)

    def fadd32(a, b, neg=False):
        slow = sub32 if neg else add32
        if cpu.fpscr & 0xC00000:
            return fp2(slow, a, b)
        x = d32(a)
        y = -d32(b) if neg else d32(b)
        if _FLT_MIN <= abs(x) <= _FLT_MAX and _FLT_MIN <= abs(y) <= _FLT_MAX:
            s = x + y
            bb = s - x
            if (x - (s - bb)) + (y - bb) != 0.0:
                return single(s, a, b, slow, False)
            return single(s, a, b, slow)
        return fp2(slow, a, b)

    def fsub32(a, b):
        return fadd32(a, b, True)

    def fmul32(a, b):
        if cpu.fpscr & 0xC00000:
            return fp2(mul32, a, b)
        x = d32(a)
        y = d32(b)
        if _FLT_MIN <= abs(x) <= _FLT_MAX and _FLT_MIN <= abs(y) <= _FLT_MAX:
            return single(x * y, a, b, mul32)
        return fp2(mul32, a, b)

    def fdiv32(a, b):
        if cpu.fpscr & 0xC00000:
            return fp2(div32, a, b)
        x = d32(a)
        y = d32(b)
        if _FLT_MIN <= abs(x) <= _FLT_MAX and _FLT_MIN <= abs(y) <= _FLT_MAX:
            mb = (b & _M23) | (1 << 23)
            exact = not ((a & _M23) | (1 << 23)) % (mb >> ((mb & -mb).bit_length() - 1))
            return single(x / y, a, b, div32, exact)
        return fp2(div32, a, b)

    def make_cmp(sz):
        slow = sf.f64_compare if sz else sf.f32_compare
        absmask = 0x7FFFFFFFFFFFFFFF if sz else 0x7FFFFFFF
        inf = 0x7FF0000000000000 if sz else 0x7F800000
        low = 0x0010000000000000 if sz else 0x00800000
        conv = d64 if sz else d32

        def fcmp(a, b, signal):
            """VCMP(E) without NaNs or denormals (no flags, FZ irrelevant) on the host."""
            aa = a & absmask
            ab = b & absmask
            if (low <= aa <= inf or not aa) and (low <= ab <= inf or not ab):
                x = conv(a)
                y = conv(b)
                nzcv = 0x6 if x == y else (0x8 if x < y else 0x2)
                cpu.fpscr = (cpu.fpscr & 0x0FFFFFFF) | nzcv << 28
            else:
                fpcmp(slow, a, b, signal)
        return fcmp

    def make_toint(sz):
        slow = sf.f64_to_int if sz else sf.f32_to_int
        absmask = 0x7FFFFFFFFFFFFFFF if sz else 0x7FFFFFFF
        inf = 0x7FF0000000000000 if sz else 0x7F800000
        low = 0x0010000000000000 if sz else 0x00800000
        conv = d64 if sz else d32

        def ftoint(a, signed, width, fbits, rz):
            """VCVT float -> (fixed-point) integer of a normal number that fits."""
            aa = a & absmask
            if not aa:
                return 0
            if low <= aa < inf and (rz or not cpu.fpscr & 0xC00000):
                x = conv(a) * (1 << fbits)
                if signed:
                    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
                else:
                    lo, hi = 0, (1 << width) - 1
                if lo - 1 < x < hi + 1:
                    r = int(x) if rz else round(x)
                    if lo <= r <= hi:
                        if r != x:
                            inexact()
                        return r
            return toint(slow, a, signed, width, fbits, rz)
        return ftoint

    def make_fromint(sz):
        slow = sf.int_to_f64 if sz else sf.int_to_f32

        def ffromint(v, signed, width, fbits, rn=0):
            """VCVT (fixed-point) integer -> float: exact for doubles, one rounding for
            singles (in round-to-nearest, or always with ``rn`` as the fixed-point forms
            round; other modes take softfloat).  Results are never tiny (>= 2**-32)."""
            raw = v
            v &= (1 << width) - 1
            if signed and v >> (width - 1):
                v -= 1 << width
            if not v:
                return 0
            x = v / (1 << fbits)
            if sz:
                return b64(x)
            if not rn and cpu.fpscr & 0xC00000:
                return fromint(slow, raw, signed, width, fbits)
            bits, r = s32(x)
            if r != x:
                inexact()
            return bits
        return ffromint

    def fcvt_sd(a):
        """f32 -> f64: exact for zeros, normals and infinities."""
        aa = a & 0x7FFFFFFF
        if 0x00800000 <= aa <= 0x7F800000 or not aa:
            return b64(d32(a))
        return fp1(sf.f32_to_f64, a)

    def fcvt_ds(a):
        """f64 -> f32 of a normal double to a normal single, round to nearest."""
        aa = a & 0x7FFFFFFFFFFFFFFF
        if not aa:
            return (a >> 32) & 0x80000000
        if 0x0010000000000000 <= aa < 0x7FF0000000000000 and not cpu.fpscr & 0xC00000:
            x = d64(a)
            try:
                bits, v = s32(x)
            except OverflowError:
                return fp1(sf.f64_to_f32, a)
            if _FLT_MIN < abs(v) <= _FLT_MAX:
                if v != x:
                    inexact()
                return bits
        return fp1(sf.f64_to_f32, a)

    return {(1, "add"): fadd64, (1, "sub"): fsub64, (1, "mul"): fmul64, (1, "div"): fdiv64,
            (0, "add"): fadd32, (0, "sub"): fsub32, (0, "mul"): fmul32, (0, "div"): fdiv32,
            (1, "cmp"): make_cmp(1), (0, "cmp"): make_cmp(0),
            (1, "toint"): make_toint(1), (0, "toint"): make_toint(0),
            (1, "fromint"): make_fromint(1), (0, "fromint"): make_fromint(0),
            (0, "cvt"): fcvt_sd, (1, "cvt"): fcvt_ds}


def unit(cpu) -> VFPUnit:
    """The CPU's ``VFPUnit`` (created on first use)."""
    u = cpu.__dict__.get("_vfp_unit")
    if u is None:
        u = cpu.__dict__["_vfp_unit"] = VFPUnit(cpu)
    return u
