"""Conversions: between formats (binary16 with ARM's AHP), float to
integer/fixed point with saturation, and integer/fixed point to float."""
from __future__ import annotations

from .formats import F16, Format, make_round_pack
from .status import IDC, IOC, IXC, RM, RN, RP


def make_int_convert(F: Format):
    """to_int(a, signed, width, fbits, rounding, st) and
    from_int(v, signed, width, fbits, st) for format F."""
    fbits = F.fbits
    SIGN = F.sign
    EM = F.emax_field
    FM = F.frac_mask
    HID = F.hidden
    EOFF = F.bias + fbits
    round_pack = make_round_pack(F, True, False)

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

    return to_int, from_int


def make_convert(S: Format, D: Format):
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
    rp = make_round_pack(D, not d_half, False)
    rp_ahp = make_round_pack(D, False, True) if d_half else rp

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

