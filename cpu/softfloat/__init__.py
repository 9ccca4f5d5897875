"""Bit-exact IEEE 754 binary16/32/64 arithmetic on raw bit patterns.

Written for the ARM VFPv3 unit (and usable by the MIPS FPU).  Every operand and
every floating-point result is a Python int holding the bit pattern (u16, u32 or
u64); rounding is done with exact integer arithmetic, so all four rounding modes
and all exception flags are exact.  The behaviour follows ARM's pseudocode
(FPUnpack/FPRound/FPProcessNaNs) as QEMU implements it; it is checked against
Unicorn (QEMU's TCG running real VFP instructions) in tests/test_softfloat*.py.

Status
    ``FPStatus`` carries the mode and accumulates the cumulative flags:
      rounding        RN=0 nearest-even, RP=1 toward +inf, RM=2 toward -inf, RZ=3
                      toward zero (the FPSCR.RMode encoding)
      flush_to_zero   FZ: results tiny before rounding become signed zero (UFC,
                      no IXC)
      flush_inputs_to_zero  denormal inputs become signed zero (IDC); follows
                      flush_to_zero unless given (ARM FZ sets both; QEMU's
                      MIPS FS flushes results only)
      default_nan     DN: every NaN result is the default NaN
      ahp             FPSCR.AHP: binary16 conversions use ARM's alternative half
                      format (no Inf/NaN, exponent 31 is a normal number)
      flags           IOC|DZC|OFC|UFC|IXC|IDC, at FPSCR's cumulative bit positions
      tininess_before_rounding   True on ARM
      snan_bit_is_one False on ARM; True for legacy (pre-NaN2008) MIPS, where the
                      default NaN is 0x7fbfffff and quietening an SNaN gives it
      nan_rules       "arm" or "mips": only the fused multiply-add NaN choice
                      differs (ARM looks at the addend first)
    ``FPStatus.set_fpscr(value)`` / ``fpscr_bits()`` convert from/to an FPSCR.

Operations (XX is f32 or f64; ``st`` is an FPStatus)
    XX_add(a, b, st)  XX_sub(a, b, st)  XX_mul(a, b, st)  XX_div(a, b, st)
    XX_sqrt(a, st)
    XX_muladd(a, b, c, st)     fused a*b + c, one rounding (ARM VFMA; negate
                               operands with XX_neg for VFMS/VFNMA/VFNMS)
    XX_max(a, b, st)  XX_min(a, b, st)
                               ARM FPMax/FPMin (NEON VMAX/VMIN): NaNs handled
                               as in add, max(+0, -0) = +0, min(+0, -0) = -0
    XX_neg(a)  XX_abs(a)       sign-bit operations, no flags, NaNs untouched
    XX_compare(a, b, st, signal=False)
                               returns NZCV as a 4-bit int: NZCV_LT 0b1000,
                               NZCV_EQ 0b0110, NZCV_GT 0b0010, NZCV_UN 0b0011;
                               IOC for an SNaN operand, or any NaN if signal
                               (VCMPE).  NEON VCEQ is compare(..) == EQ,
                               VCGE/VCGT use signal=True.
    f32_to_f64(a, st)  f64_to_f32(a, st)
    f16_to_f32(a, st)  f32_to_f16(a, st)  f16_to_f64(a, st)  f64_to_f16(a, st)
                               binary16 side uses st.ahp; half inputs are never
                               flushed and half results never flushed (as QEMU)
    XX_to_int(a, signed, width, fbits, rounding, st)
                               float -> integer/fixed point with ``fbits``
                               fraction bits, rounded with ``rounding`` (RZ for
                               VCVT, st.rounding for VCVTR), saturated to
                               ``width`` bits (16, 32 or 64); NaN gives 0; IOC
                               on NaN or saturation (then no IXC), IXC when
                               inexact.  Returns the integer VALUE (negative
                               for signed results): mask it to the register
                               (VCVT to 16-bit fixed point writes the value
                               sign-/zero-extended to the whole S or D reg).
    int_to_XX(v, signed, width, fbits, st)
                               the low ``width`` bits of v as a signed/unsigned
                               integer, divided by 2**fbits, rounded with
                               st.rounding
    XX_is_nan(a)  XX_is_snan(a, st)  and the constants XX_DEFAULT_NAN.

NEON (binary32 only; pass FPStatus.arm_standard())
    f32_recip_estimate(a, st)  f32_rsqrt_estimate(a, st)    VRECPE/VRSQRTE.F32
    u32_recip_estimate(a)  u32_rsqrt_estimate(a)            VRECPE/VRSQRTE.U32
    f32_recip_step(a, b, st)  f32_rsqrt_step(a, b, st)      VRECPS/VRSQRTS

Notes for callers
    Compose the ARM forms as the ARM ARM does (XX_neg also flips a NaN's
    sign, XX_sub does not): VNMUL = neg(mul(n, m)); VMLA = add(d, mul(n, m));
    VMLS = add(d, neg(mul(n, m))); VNMLA = add(neg(d), neg(mul(n, m)));
    VNMLS = add(neg(d), mul(n, m)); VFMA = muladd(n, m, d); VFMS =
    muladd(neg(n), m, d); VFNMA = muladd(neg(n), m, neg(d)); VFNMS =
    muladd(n, m, neg(d)).  Flags accumulate in st.flags: copy them into FPSCR's
    cumulative bits.  For MIPS: FPStatus(snan_bit_is_one=True,
    nan_rules="mips", tininess_before_rounding=False, flush_inputs_to_zero=
    False), map RN/RZ/RP/RM from FCSR.RM (0 RN, 1 RZ, 2 RP, 3 RM), replace a
    float->int result by 0x7fffffff when IOC is raised, and drop UFC when FS
    flushed a result (QEMU's MIPS reports nothing for it).

Speed: about 0.3-1.3 us per operation on CPython 3.11; nothing allocates
beyond ints; functions are plain closures specialised per format at import.

Modules: status (FPStatus, constants), formats (formats, rounding),
arith (arithmetic, NaN rules), convert (conversions), neon (estimates).
"""

from .arith import make_ops
from .convert import make_convert, make_int_convert
from .formats import F16, F32, F64, Format, make_round_pack  # noqa: F401
from .neon import (f32_recip_estimate, f32_recip_step, f32_rsqrt_estimate,  # noqa: F401
                   f32_rsqrt_step, u32_recip_estimate, u32_rsqrt_estimate)
from .status import (DZC, FLAG_MASK, FPSCR_AHP, FPSCR_DN, FPSCR_FZ, IDC,  # noqa: F401
                     IOC, IXC, NZCV_EQ, NZCV_GT, NZCV_LT, NZCV_UN, OFC, RM, RN,
                     RP, RZ, UFC, FPStatus)

_f16 = make_ops(F16)
_f32 = make_ops(F32)
_f64 = make_ops(F64)

f32_add = _f32["add"]
f32_sub = _f32["sub"]
f32_mul = _f32["mul"]
f32_div = _f32["div"]
f32_sqrt = _f32["sqrt"]
f32_muladd = _f32["muladd"]
f32_max = _f32["max"]
f32_min = _f32["min"]
f32_neg = _f32["neg"]
f32_abs = _f32["abs"]
f32_compare = _f32["compare"]
f32_to_int, int_to_f32 = make_int_convert(F32)
f32_is_nan = _f32["is_nan"]
f32_is_snan = _f32["is_snan"]

f64_add = _f64["add"]
f64_sub = _f64["sub"]
f64_mul = _f64["mul"]
f64_div = _f64["div"]
f64_sqrt = _f64["sqrt"]
f64_muladd = _f64["muladd"]
f64_max = _f64["max"]
f64_min = _f64["min"]
f64_neg = _f64["neg"]
f64_abs = _f64["abs"]
f64_compare = _f64["compare"]
f64_to_int, int_to_f64 = make_int_convert(F64)
f64_is_nan = _f64["is_nan"]
f64_is_snan = _f64["is_snan"]

f16_is_nan = _f16["is_nan"]
f16_is_snan = _f16["is_snan"]

f32_to_f64 = make_convert(F32, F64)
f64_to_f32 = make_convert(F64, F32)
f16_to_f32 = make_convert(F16, F32)
f32_to_f16 = make_convert(F32, F16)
f16_to_f64 = make_convert(F16, F64)
f64_to_f16 = make_convert(F64, F16)

F16_DEFAULT_NAN = F16.default_nan
F32_DEFAULT_NAN = F32.default_nan
F64_DEFAULT_NAN = F64.default_nan
