"""NEON estimates and Newton-Raphson steps (binary32 only).

ARM's RecipEstimate/RecipSqrtEstimate (8-bit estimates) as QEMU computes them,
for VRECPE/VRSQRTE (.F32 and .U32) and the VRECPS/VRSQRTS steps.  NEON passes
the "standard FPSCR" status (FPStatus.arm_standard()).
"""
from __future__ import annotations

from math import isqrt

from .arith import make_ops
from .formats import F32
from .status import DZC, IDC, IXC, OFC, RM, RN, RP, UFC, FPStatus

_f32 = make_ops(F32)
_nan1 = _f32["nan1"]
_invalid = _f32["invalid"]
_mul = _f32["mul"]
_sub = _f32["sub"]
_div = _f32["div"]


def _recip_estimate(a: int) -> int:
    """256 <= a < 512 (0.5 <= x < 1 in 9-bit fixed point) -> 256..511."""
    b = (1 << 19) // (a * 2 + 1)
    return (b + 1) >> 1


def _rsqrt_estimate(a: int) -> int:
    """128 <= a < 512 (0.25 <= x < 1) -> 256..511."""
    if a < 256:
        a = a * 2 + 1
    else:
        a = ((a >> 1) << 1) + 1
        a *= 2
    # the smallest b >= 512 with a * (b + 1)**2 >= 2**28
    k = isqrt(((1 << 28) - 1) // a)
    while a * k * k < (1 << 28):
        k += 1
    b = max(512, k - 1)
    return (b + 1) >> 1


_RECIP = [0] * 256 + [_recip_estimate(a) for a in range(256, 512)]
_RSQRT = [0] * 128 + [_rsqrt_estimate(a) for a in range(128, 512)]


def f32_recip_estimate(a: int, st: FPStatus) -> int:
    """VRECPE.F32."""
    if st.flush_inputs_to_zero and not a & 0x7f800000 and a & 0x7fffff:
        a &= 0x80000000
        st.flags |= IDC
    sign = a & 0x80000000
    mag = a & 0x7fffffff
    if mag > 0x7f800000:
        return _nan1(a, st)
    if mag == 0x7f800000:
        return sign
    if not mag:
        st.flags |= DZC
        return sign | 0x7f800000
    if mag < 1 << 21:                       # |a| < 2**-128: the result overflows
        st.flags |= OFC | IXC
        mode = st.rounding
        if mode == RN or (mode == RP and not sign) or (mode == RM and sign):
            return sign | 0x7f800000
        return sign | 0x7f7fffff
    exp = mag >> 23
    if exp >= 253 and st.flush_to_zero:
        st.flags |= UFC
        return sign
    frac = (mag & 0x7fffff) << 29           # binary point at bit 52
    if not exp:
        if not frac >> 51 & 1:
            exp = -1
            frac <<= 2
        else:
            frac <<= 1
    est = _RECIP[256 | (frac >> 44 & 0xff)]
    rexp = 253 - exp
    rfrac = (est & 0xff) << 44
    if rexp == 0:
        rfrac = (rfrac >> 1) | 1 << 51
    elif rexp == -1:
        rfrac = (rfrac >> 2) | 1 << 50
        rexp = 0
    return sign | (rexp & 0xff) << 23 | (rfrac >> 29 & 0x7fffff)


def f32_rsqrt_estimate(a: int, st: FPStatus) -> int:
    """VRSQRTE.F32."""
    if st.flush_inputs_to_zero and not a & 0x7f800000 and a & 0x7fffff:
        a &= 0x80000000
        st.flags |= IDC
    sign = a & 0x80000000
    mag = a & 0x7fffffff
    if mag > 0x7f800000:
        return _nan1(a, st)
    if not mag:
        st.flags |= DZC
        return sign | 0x7f800000
    if sign:
        return _invalid(st)
    if mag == 0x7f800000:
        return 0
    exp = mag >> 23
    frac = (mag & 0x7fffff) << 29
    if not exp:
        while not frac >> 51 & 1:
            frac <<= 1
            exp -= 1
        frac = (frac & ((1 << 51) - 1)) << 1
    if exp & 1:
        est = _RSQRT[128 | (frac >> 45 & 0x7f)]
    else:
        est = _RSQRT[256 | (frac >> 44 & 0xff)]
    return ((380 - exp) // 2 & 0xff) << 23 | (est & 0xff) << 15


def u32_recip_estimate(a: int) -> int:
    """VRECPE.U32 (no flags)."""
    if not a & 0x80000000:
        return 0xffffffff
    return (_RECIP[a >> 23 & 0x1ff] & 0x1ff) << 23


def u32_rsqrt_estimate(a: int) -> int:
    """VRSQRTE.U32 (no flags)."""
    if not a & 0xc0000000:
        return 0xffffffff
    return (_RSQRT[a >> 23 & 0x1ff] & 0x1ff) << 23


def _inf_times_zero(a: int, b: int) -> bool:
    return ((a & 0x7fffffff == 0x7f800000 and not b & 0x7f800000)
            or (b & 0x7fffffff == 0x7f800000 and not a & 0x7f800000))


def f32_recip_step(a: int, b: int, st: FPStatus) -> int:
    """VRECPS.F32: 2 - a*b, where inf * 0 (or a denormal) gives 2.0."""
    if _inf_times_zero(a, b):
        if a & 0x7fffffff and b & 0x7fffffff:
            st.flags |= IDC
        return 0x40000000
    return _sub(0x40000000, _mul(a, b, st), st)


def f32_rsqrt_step(a: int, b: int, st: FPStatus) -> int:
    """VRSQRTS.F32: (3 - a*b) / 2, where inf * 0 (or a denormal) gives 1.5."""
    if _inf_times_zero(a, b):
        if a & 0x7fffffff and b & 0x7fffffff:
            st.flags |= IDC
        return 0x3fc00000
    return _div(_sub(0x40400000, _mul(a, b, st), st), 0x40000000, st)

