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
                               for signed results): mask it to the register.
    int_to_XX(v, signed, width, fbits, st)
                               the low ``width`` bits of v as a signed/unsigned
                               integer, divided by 2**fbits, rounded with
                               st.rounding
    XX_is_nan(a)  XX_is_snan(a, st)  and the constants XX_DEFAULT_NAN.

NEON (binary32 only; pass FPStatus.arm_standard())
    f32_recip_estimate(a, st)  f32_rsqrt_estimate(a, st)    VRECPE/VRSQRTE.F32
    u32_recip_estimate(a)  u32_rsqrt_estimate(a)            VRECPE/VRSQRTE.U32
    f32_recip_step(a, b, st)  f32_rsqrt_step(a, b, st)      VRECPS/VRSQRTS

Nothing here allocates beyond ints; functions are plain closures specialised
per format at import time.
"""
from __future__ import annotations

from math import isqrt
from typing import Optional

RN, RP, RM, RZ = 0, 1, 2, 3

IOC = 1 << 0
DZC = 1 << 1
OFC = 1 << 2
UFC = 1 << 3
IXC = 1 << 4
IDC = 1 << 7
FLAG_MASK = IOC | DZC | OFC | UFC | IXC | IDC

NZCV_LT = 0b1000
NZCV_EQ = 0b0110
NZCV_GT = 0b0010
NZCV_UN = 0b0011

FPSCR_AHP = 1 << 26
FPSCR_DN = 1 << 25
FPSCR_FZ = 1 << 24


class FPStatus:
    """Rounding mode, flush/NaN modes and the accumulated exception flags."""

    __slots__ = ("rounding", "flush_to_zero", "flush_inputs_to_zero", "default_nan",
                 "ahp", "flags", "tininess_before_rounding", "snan_bit_is_one",
                 "nan_rules")

    def __init__(self, rounding: int = RN, flush_to_zero: bool = False,
                 default_nan: bool = False, ahp: bool = False, flags: int = 0,
                 tininess_before_rounding: bool = True,
                 snan_bit_is_one: bool = False, nan_rules: str = "arm",
                 flush_inputs_to_zero: Optional[bool] = None):
        if rounding not in (RN, RP, RM, RZ):
            raise ValueError("rounding mode must be 0..3, not %r" % (rounding,))
        if nan_rules not in ("arm", "mips"):
            raise ValueError("nan_rules must be 'arm' or 'mips', not %r" % (nan_rules,))
        self.rounding = rounding
        self.flush_to_zero = flush_to_zero
        self.flush_inputs_to_zero = (flush_to_zero if flush_inputs_to_zero is None
                                     else flush_inputs_to_zero)
        self.default_nan = default_nan
        self.ahp = ahp
        self.flags = flags
        self.tininess_before_rounding = tininess_before_rounding
        self.snan_bit_is_one = snan_bit_is_one
        self.nan_rules = nan_rules

    @classmethod
    def from_fpscr(cls, fpscr: int) -> "FPStatus":
        st = cls()
        st.set_fpscr(fpscr)
        return st

    def set_fpscr(self, fpscr: int) -> None:
        """Take RMode, FZ, DN, AHP and the cumulative flags from an FPSCR value."""
        self.rounding = (fpscr >> 22) & 3
        self.flush_to_zero = self.flush_inputs_to_zero = bool(fpscr & FPSCR_FZ)
        self.default_nan = bool(fpscr & FPSCR_DN)
        self.ahp = bool(fpscr & FPSCR_AHP)
        self.flags = fpscr & FLAG_MASK

    def fpscr_bits(self) -> int:
        """The FPSCR bits this status holds (RMode, FZ, DN, AHP, flags)."""
        return ((self.rounding << 22) | (FPSCR_FZ if self.flush_to_zero else 0)
                | (FPSCR_DN if self.default_nan else 0)
                | (FPSCR_AHP if self.ahp else 0) | self.flags)

    @classmethod
    def arm_standard(cls) -> "FPStatus":
        """ARM's "standard FPSCR" for NEON: FZ and DN on, round to nearest.
        Its flags still belong in FPSCR's cumulative bits."""
        return cls(flush_to_zero=True, default_nan=True)

    def __repr__(self) -> str:
        return ("FPStatus(rounding=%d, flush_to_zero=%r, default_nan=%r, ahp=%r, "
                "flags=%#x)" % (self.rounding, self.flush_to_zero, self.default_nan,
                                self.ahp, self.flags))


class _Format:
    """Constants of one binary interchange format."""

    def __init__(self, ebits: int, fbits: int):
        self.ebits = ebits
        self.fbits = fbits
        self.width = 1 + ebits + fbits
        self.sign = 1 << (self.width - 1)
        self.mag = self.sign - 1
        self.emax_field = (1 << ebits) - 1
        self.inf = self.emax_field << fbits
        self.frac_mask = (1 << fbits) - 1
        self.hidden = 1 << fbits
        self.quiet = 1 << (fbits - 1)
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias
        self.default_nan = self.inf | self.quiet
        self.default_nan_legacy = self.inf | (self.quiet - 1)


F16 = _Format(5, 10)
F32 = _Format(8, 23)
F64 = _Format(11, 52)


def _make_round_pack(F: _Format, can_flush: bool, ahp: bool):
    """round_pack(sign, m, e, st): round sign * m * 2**e (m > 0) into format F.

    ``m`` may carry a sticky bit in bit 0 as long as at least two bits below
    the rounding point exist (callers provide >= precision + 2 bits).
    """
    fbits = F.fbits
    bias = F.bias
    emin = F.emin
    qmin = emin - fbits
    ebase = fbits + bias - 1
    inf = F.inf
    maxn = inf - 1
    limit = F.sign if ahp else inf
    precision = fbits + 1

    def overflow(sign, st):
        if ahp:
            st.flags |= IOC
            return sign | 0x7fff
        st.flags |= OFC | IXC
        mode = st.rounding
        if mode == RN or (mode == RP and not sign) or (mode == RM and sign):
            return sign | inf
        return sign | maxn

    def tiny_after(sign, m, e, st):
        # Tininess after rounding: the value rounded to the format's precision
        # with an unbounded exponent is still below 2**emin.
        n = m.bit_length()
        s = n - precision
        if s <= 0:
            return True
        r = m >> s
        rem = m & ((1 << s) - 1)
        mode = st.rounding
        if rem:
            if mode == RN:
                h = 1 << (s - 1)
                if rem > h or (rem == h and r & 1):
                    r += 1
            elif mode == RP:
                if not sign:
                    r += 1
            elif mode == RM:
                if sign:
                    r += 1
        return e + s + r.bit_length() - 1 < emin

    def round_pack(sign, m, e, st):
        n = m.bit_length()
        big_e = e + n - 1
        if big_e < emin:
            if can_flush and st.flush_to_zero:
                st.flags |= UFC
                return sign
            q = qmin
            tiny = True
        else:
            q = big_e - fbits
            tiny = False
        s = q - e
        if s <= 0:
            bits = ((q + ebase) << fbits) + (m << -s)
            if bits >= limit:
                return overflow(sign, st)
            return sign | bits
        r = m >> s
        rem = m & ((1 << s) - 1)
        if not rem:
            bits = ((q + ebase) << fbits) + r
            if bits >= limit:
                return overflow(sign, st)
            return sign | bits
        mode = st.rounding
        if mode == RN:
            h = 1 << (s - 1)
            if rem > h or (rem == h and r & 1):
                r += 1
        elif mode == RP:
            if not sign:
                r += 1
        elif mode == RM:
            if sign:
                r += 1
        bits = ((q + ebase) << fbits) + r
        if bits >= limit:
            return overflow(sign, st)
        if tiny and (st.tininess_before_rounding or tiny_after(sign, m, e, st)):
            st.flags |= IXC | UFC
        else:
            st.flags |= IXC
        return sign | bits

    return round_pack


def _make_ops(F: _Format):
    """The arithmetic of one format, as a dict of plain functions."""
    fbits = F.fbits
    SIGN = F.sign
    MAG = F.mag
    EM = F.emax_field
    INF = F.inf
    FM = F.frac_mask
    HID = F.hidden
    QBIT = F.quiet
    BIAS = F.bias
    EOFF = BIAS + fbits          # value = m * 2**(field - EOFF)
    DNAN = F.default_nan
    DNAN_LEGACY = F.default_nan_legacy
    P = fbits + 1
    SHIFT_CAP = P + 4            # beyond this an operand is only a sticky bit
    round_pack = _make_round_pack(F, True, False)

    def default_nan(st):
        return DNAN_LEGACY if st.snan_bit_is_one else DNAN

    def invalid(st):
        st.flags |= IOC
        return DNAN_LEGACY if st.snan_bit_is_one else DNAN

    def is_nan(a):
        return (a & MAG) > INF

    def is_snan(a, st):
        return (a & MAG) > INF and bool(a & QBIT) == st.snan_bit_is_one

    def silence(a, st):
        if st.snan_bit_is_one:
            return DNAN_LEGACY
        return a | QBIT

    def nan1(a, st):
        """The result of a one-operand operation on the NaN ``a``."""
        snan = bool(a & QBIT) == st.snan_bit_is_one
        if snan:
            st.flags |= IOC
        if st.default_nan:
            return default_nan(st)
        return silence(a, st) if snan else a

    def nan2(a, b, st):
        """FPProcessNaNs: SNaNs first in operand order, then QNaNs."""
        sbo = st.snan_bit_is_one
        a_nan = (a & MAG) > INF
        b_nan = (b & MAG) > INF
        a_snan = a_nan and bool(a & QBIT) == sbo
        b_snan = b_nan and bool(b & QBIT) == sbo
        if a_snan or b_snan:
            st.flags |= IOC
            if st.default_nan:
                return default_nan(st)
            return silence(a if a_snan else b, st)
        if st.default_nan:
            return default_nan(st)
        return a if a_nan else b

    def nan3(a, b, c, infzero, st):
        """FPProcessNaNs3 for a*b + c (ARM looks at the addend c first)."""
        sbo = st.snan_bit_is_one
        a_nan = (a & MAG) > INF
        b_nan = (b & MAG) > INF
        c_nan = (c & MAG) > INF
        a_snan = a_nan and bool(a & QBIT) == sbo
        b_snan = b_nan and bool(b & QBIT) == sbo
        c_snan = c_nan and bool(c & QBIT) == sbo
        if a_snan or b_snan or c_snan:
            st.flags |= IOC
        if st.nan_rules == "arm":
            if infzero and c_nan and not c_snan:
                st.flags |= IOC
                return default_nan(st)
            order = (c, a, b)
            snans = (c_snan, a_snan, b_snan)
            nans = (c_nan, a_nan, b_nan)
        else:
            if infzero:
                st.flags |= IOC
                if sbo:
                    return default_nan(st)
                if st.default_nan:
                    return default_nan(st)
                return silence(c, st) if c_snan else c
            if sbo:
                order = (a, b, c)
                snans = (a_snan, b_snan, c_snan)
                nans = (a_nan, b_nan, c_nan)
            else:
                order = (c, a, b)
                snans = (c_snan, a_snan, b_snan)
                nans = (c_nan, a_nan, b_nan)
        if st.default_nan:
            return default_nan(st)
        for i in range(3):
            if snans[i]:
                return silence(order[i], st)
        for i in range(3):
            if nans[i]:
                return order[i]
        raise AssertionError("nan3 without a NaN operand")

    def passed(a, st):
        """An operand returned as the result: a denormal is still subject to
        flush-to-zero of results (reachable only with input flushing off)."""
        if not a & INF and a & FM and st.flush_to_zero:
            st.flags |= UFC
            return a & SIGN
        return a

    def add(a, b, st):
        ea = (a >> fbits) & EM
        eb = (b >> fbits) & EM
        if ea == EM or eb == EM or not ea or not eb:
            if st.flush_inputs_to_zero:
                if not ea and a & FM:
                    a &= SIGN
                    st.flags |= IDC
                if not eb and b & FM:
                    b &= SIGN
                    st.flags |= IDC
            if ea == EM or eb == EM:
                if (a & MAG) > INF or (b & MAG) > INF:
                    return nan2(a, b, st)
                if ea == eb and (a ^ b) & SIGN:
                    return invalid(st)
                return a if ea == EM else b
            if not a & MAG:
                if not b & MAG:
                    if (a ^ b) & SIGN:
                        return SIGN if st.rounding == RM else 0
                    return a
                return passed(b, st)
            if not b & MAG:
                return passed(a, st)
            if ea:
                ma = (a & FM) | HID
            else:
                ma = a & FM
                ea = 1
            if eb:
                mb = (b & FM) | HID
            else:
                mb = b & FM
                eb = 1
        else:
            ma = (a & FM) | HID
            mb = (b & FM) | HID
        d = ea - eb
        if d > 3 or d < -3:
            # Far apart: three guard bits and a sticky bit keep the ints
            # small (a jammed subtrahend gives the jammed exact difference
            # because the minuend, shifted by three, is even).
            if d > 0:
                e = ea - 3
                ma <<= 3
                if d < SHIFT_CAP:
                    t = mb << 3
                    mb = (t >> d) | (1 if t & ((1 << d) - 1) else 0)
                else:
                    mb = 1
            else:
                e = eb - 3
                mb <<= 3
                if -d < SHIFT_CAP:
                    t = ma << 3
                    ma = (t >> -d) | (1 if t & ((1 << -d) - 1) else 0)
                else:
                    ma = 1
        elif d >= 0:
            ma <<= d
            e = eb
        else:
            mb <<= -d
            e = ea
        if (a ^ b) & SIGN:
            m = ma - mb
            if m > 0:
                return round_pack(a & SIGN, m, e - EOFF, st)
            if m < 0:
                return round_pack(b & SIGN, -m, e - EOFF, st)
            return SIGN if st.rounding == RM else 0
        return round_pack(a & SIGN, ma + mb, e - EOFF, st)

    def sub(a, b, st):
        if (b & MAG) <= INF:
            b ^= SIGN
        return add(a, b, st)

    def mul(a, b, st):
        ea = (a >> fbits) & EM
        eb = (b >> fbits) & EM
        sign = (a ^ b) & SIGN
        if ea == EM or eb == EM or not ea or not eb:
            if st.flush_inputs_to_zero:
                if not ea and a & FM:
                    a &= SIGN
                    st.flags |= IDC
                if not eb and b & FM:
                    b &= SIGN
                    st.flags |= IDC
            if ea == EM or eb == EM:
                if (a & MAG) > INF or (b & MAG) > INF:
                    return nan2(a, b, st)
                if not a & MAG or not b & MAG:
                    return invalid(st)
                return sign | INF
            if not a & MAG or not b & MAG:
                return sign
            if ea:
                ma = (a & FM) | HID
            else:
                ma = a & FM
                ea = 1
            if eb:
                mb = (b & FM) | HID
            else:
                mb = b & FM
                eb = 1
        else:
            ma = (a & FM) | HID
            mb = (b & FM) | HID
        return round_pack(sign, ma * mb, ea + eb - 2 * EOFF, st)

    def div(a, b, st):
        ea = (a >> fbits) & EM
        eb = (b >> fbits) & EM
        sign = (a ^ b) & SIGN
        if ea == EM or eb == EM or not ea or not eb:
            if st.flush_inputs_to_zero:
                if not ea and a & FM:
                    a &= SIGN
                    st.flags |= IDC
                if not eb and b & FM:
                    b &= SIGN
                    st.flags |= IDC
            if ea == EM or eb == EM:
                if (a & MAG) > INF or (b & MAG) > INF:
                    return nan2(a, b, st)
                if ea == eb:
                    return invalid(st)
                return sign | INF if ea == EM else sign
            if not b & MAG:
                if not a & MAG:
                    return invalid(st)
                st.flags |= DZC
                return sign | INF
            if not a & MAG:
                return sign
            if ea:
                ma = (a & FM) | HID
            else:
                ma = a & FM
                ea = 1
            if eb:
                mb = (b & FM) | HID
            else:
                mb = b & FM
                eb = 1
        else:
            ma = (a & FM) | HID
            mb = (b & FM) | HID
        k = P + 2 + mb.bit_length() - ma.bit_length()
        if k < 0:
            k = 0
        q, r = divmod(ma << k, mb)
        return round_pack(sign, (q << 1) | (r != 0), ea - eb - k - 1, st)

    def sqrt(a, st):
        ea = (a >> fbits) & EM
        if ea == EM or not ea or a & SIGN:
            if (a & MAG) > INF:
                return nan1(a, st)
            if st.flush_inputs_to_zero and not ea and a & FM:
                a &= SIGN
                st.flags |= IDC
            if not a & MAG:
                return a
            if a & SIGN:
                return invalid(st)
            if ea == EM:
                return a
            m = a & FM
            ea = 1
        else:
            m = (a & FM) | HID
        e = ea - EOFF
        if e & 1:
            m <<= 1
            e -= 1
        k = (2 * (P + 3) - m.bit_length() + 1) >> 1
        if k < 0:
            k = 0
        m <<= 2 * k
        s = isqrt(m)
        return round_pack(0, (s << 1) | (s * s != m), ((e - 2 * k) >> 1) - 1, st)

    def muladd(a, b, c, st):
        ea = (a >> fbits) & EM
        eb = (b >> fbits) & EM
        ec = (c >> fbits) & EM
        if st.flush_inputs_to_zero:
            if not ea and a & FM:
                a &= SIGN
                st.flags |= IDC
            if not eb and b & FM:
                b &= SIGN
                st.flags |= IDC
            if not ec and c & FM:
                c &= SIGN
                st.flags |= IDC
        a_zero = not a & MAG
        b_zero = not b & MAG
        infzero = ((a & MAG) == INF and b_zero) or ((b & MAG) == INF and a_zero)
        if (a & MAG) > INF or (b & MAG) > INF or (c & MAG) > INF:
            return nan3(a, b, c, infzero, st)
        if infzero:
            return invalid(st)
        psign = (a ^ b) & SIGN
        if ea == EM or eb == EM:
            if ec == EM and (c & SIGN) != psign:
                return invalid(st)
            return psign | INF
        if ec == EM:
            return c
        if a_zero or b_zero:
            if not c & MAG:
                if c & SIGN == psign:
                    return c
                return SIGN if st.rounding == RM else 0
            return passed(c, st)
        if ea:
            ma = (a & FM) | HID
        else:
            ma = a & FM
            ea = 1
        if eb:
            mb = (b & FM) | HID
        else:
            mb = b & FM
            eb = 1
        mp = ma * mb
        ep = ea + eb - 2 * EOFF
        if not c & MAG:
            return round_pack(psign, mp, ep, st)
        if ec:
            mc = (c & FM) | HID
        else:
            mc = c & FM
            ec = 1
        ec -= EOFF
        if ep >= ec:
            mp <<= ep - ec
            e = ec
        else:
            mc <<= ec - ep
            e = ep
        if psign != c & SIGN:
            m = mp - mc
            if m > 0:
                return round_pack(psign, m, e, st)
            if m < 0:
                return round_pack(c & SIGN, -m, e, st)
            return SIGN if st.rounding == RM else 0
        return round_pack(psign, mp + mc, e, st)

    def minmax(a, b, st, is_max):
        if st.flush_inputs_to_zero:
            if not a & INF and a & FM:
                a &= SIGN
                st.flags |= IDC
            if not b & INF and b & FM:
                b &= SIGN
                st.flags |= IDC
        am = a & MAG
        bm = b & MAG
        if am > INF or bm > INF:
            return nan2(a, b, st)
        if not (am | bm):
            return a & b if is_max else a | b
        ka = -am if a & SIGN else am
        kb = -bm if b & SIGN else bm
        if is_max:
            return passed(a if ka > kb else b, st)
        return passed(a if ka < kb else b, st)

    def fmax(a, b, st):
        return minmax(a, b, st, True)

    def fmin(a, b, st):
        return minmax(a, b, st, False)

    def neg(a):
        return a ^ SIGN

    def fabs(a):
        return a & MAG

    def compare(a, b, st, signal=False):
        if st.flush_inputs_to_zero:
            if not a & INF and a & FM:
                a &= SIGN
                st.flags |= IDC
            if not b & INF and b & FM:
                b &= SIGN
                st.flags |= IDC
        am = a & MAG
        bm = b & MAG
        if am > INF or bm > INF:
            if signal or is_snan(a, st) or is_snan(b, st):
                st.flags |= IOC
            return NZCV_UN
        if a == b or not (am | bm):
            return NZCV_EQ
        ka = -am if a & SIGN else am
        kb = -bm if b & SIGN else bm
        return NZCV_LT if ka < kb else NZCV_GT

    def to_int(a, signed, width, fbits_fixed, rounding, st):
        e = (a >> fbits) & EM
        f = a & FM
        sign = a & SIGN
        if signed:
            lo = -(1 << (width - 1))
            hi = (1 << (width - 1)) - 1
        else:
            lo = 0
            hi = (1 << width) - 1
        if e == EM:
            st.flags |= IOC
            if f:
                return 0
            return lo if sign else hi
        if not e:
            if not f:
                return 0
            if st.flush_inputs_to_zero:
                st.flags |= IDC
                return 0
            m = f
            e = 1
        else:
            m = f | HID
        x = e - EOFF + fbits_fixed
        inexact = False
        if x >= 0:
            if x > width + 1:
                st.flags |= IOC
                return lo if sign else hi
            r = m << x
        else:
            s = -x
            r = m >> s
            rem = m & ((1 << s) - 1)
            if rem:
                inexact = True
                if rounding == RN:
                    h = 1 << (s - 1)
                    if rem > h or (rem == h and r & 1):
                        r += 1
                elif rounding == RP:
                    if not sign:
                        r += 1
                elif rounding == RM:
                    if sign:
                        r += 1
        if sign:
            r = -r
        if r < lo:
            st.flags |= IOC
            return lo
        if r > hi:
            st.flags |= IOC
            return hi
        if inexact:
            st.flags |= IXC
        return r

    def from_int(v, signed, width, fbits_fixed, st):
        v &= (1 << width) - 1
        if not v:
            return 0
        if signed and v >> (width - 1):
            return round_pack(SIGN, (1 << width) - v, -fbits_fixed, st)
        return round_pack(0, v, -fbits_fixed, st)

    return {
        "add": add, "sub": sub, "mul": mul, "div": div, "sqrt": sqrt,
        "muladd": muladd, "max": fmax, "min": fmin, "neg": neg, "abs": fabs, "compare": compare,
        "to_int": to_int, "from_int": from_int, "is_nan": is_nan,
        "is_snan": is_snan, "round_pack": round_pack, "nan1": nan1,
        "invalid": invalid,
    }


def _make_convert(S: _Format, D: _Format):
    """Conversion from format S to format D (half formats honour st.ahp)."""
    s_fbits = S.fbits
    s_em = S.emax_field
    s_fm = S.frac_mask
    s_hid = S.hidden
    s_quiet = S.quiet
    s_eoff = S.bias + S.fbits
    s_shift = S.width - 1
    s_half = S is F16
    d_half = D is F16
    d_shift = D.width - 1
    d_inf = D.inf
    d_quiet = D.quiet
    d_dnan = D.default_nan
    d_dnan_legacy = D.default_nan_legacy
    widen = D.fbits - S.fbits
    rp = _make_round_pack(D, not d_half, False)
    rp_ahp = _make_round_pack(D, False, True) if d_half else rp

    def convert(a, st):
        sign = (a >> s_shift) << d_shift
        e = (a >> s_fbits) & s_em
        f = a & s_fm
        ahp = st.ahp
        if e == s_em and not (s_half and ahp):
            if not f:
                if d_half and ahp:
                    st.flags |= IOC
                    return sign | 0x7fff
                return sign | d_inf
            snan = bool(f & s_quiet) == st.snan_bit_is_one
            if d_half and ahp:
                st.flags |= IOC
                return sign
            if snan:
                st.flags |= IOC
            if st.default_nan or (snan and st.snan_bit_is_one):
                return d_dnan_legacy if st.snan_bit_is_one else d_dnan
            f = f << widen if widen >= 0 else f >> -widen
            if not st.snan_bit_is_one:
                f |= d_quiet
            # (legacy MIPS: a quiet NaN whose payload is all below the kept
            # bits narrows to an infinity, as QEMU does)
            return sign | d_inf | f
        if not e:
            if not f:
                return sign
            if not s_half and st.flush_inputs_to_zero:
                st.flags |= IDC
                return sign
            m = f
            e = 1
        else:
            m = f | s_hid
        return (rp_ahp if ahp else rp)(sign, m, e - s_eoff, st)

    return convert


_f16 = _make_ops(F16)
_f32 = _make_ops(F32)
_f64 = _make_ops(F64)

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
f32_to_int = _f32["to_int"]
int_to_f32 = _f32["from_int"]
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
f64_to_int = _f64["to_int"]
int_to_f64 = _f64["from_int"]
f64_is_nan = _f64["is_nan"]
f64_is_snan = _f64["is_snan"]

f16_is_nan = _f16["is_nan"]
f16_is_snan = _f16["is_snan"]

f32_to_f64 = _make_convert(F32, F64)
f64_to_f32 = _make_convert(F64, F32)
f16_to_f32 = _make_convert(F16, F32)
f32_to_f16 = _make_convert(F32, F16)
f16_to_f64 = _make_convert(F16, F64)
f64_to_f16 = _make_convert(F64, F16)

F16_DEFAULT_NAN = F16.default_nan
F32_DEFAULT_NAN = F32.default_nan
F64_DEFAULT_NAN = F64.default_nan


# ------------------------------------------------ NEON estimates and steps
# ARM's RecipEstimate/RecipSqrtEstimate (8-bit estimates) as QEMU computes
# them, for VRECPE/VRSQRTE (.F32 and .U32) and the VRECPS/VRSQRTS steps.
# NEON passes the "standard FPSCR" status (FPStatus.arm_standard()).

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
        return _f32["nan1"](a, st)
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
        return _f32["nan1"](a, st)
    if not mag:
        st.flags |= DZC
        return sign | 0x7f800000
    if sign:
        return _f32["invalid"](st)
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
    return f32_sub(0x40000000, f32_mul(a, b, st), st)


def f32_rsqrt_step(a: int, b: int, st: FPStatus) -> int:
    """VRSQRTS.F32: (3 - a*b) / 2, where inf * 0 (or a denormal) gives 1.5."""
    if _inf_times_zero(a, b):
        if a & 0x7fffffff and b & 0x7fffffff:
            st.flags |= IDC
        return 0x3fc00000
    return f32_div(f32_sub(0x40400000, f32_mul(a, b, st), st), 0x40000000, st)
