"""The binary16/32/64 formats and rounding of an exact value into one of them.

``make_round_pack(F, can_flush, ahp)`` returns round_pack(sign, m, e, st), which
rounds sign * m * 2**e with st.rounding, raises the flags, handles overflow,
underflow (tininess before or after rounding) and flush-to-zero of results.
"""
from __future__ import annotations

from .status import IOC, IXC, OFC, RM, RN, RP, UFC


class Format:
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


F16 = Format(5, 10)
F32 = Format(8, 23)
F64 = Format(11, 52)


def make_round_pack(F: Format, can_flush: bool, ahp: bool):
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

