"""Arithmetic of one format: add, sub, mul, div, sqrt, fused multiply-add,
max/min, neg/abs and compare, with ARM's (or MIPS's) NaN rules.

``make_ops(F)`` returns the functions for format F as a dict; the package
publishes them as f32_add, f64_mul and so on.
"""
from __future__ import annotations

from math import isqrt

from .formats import Format, make_round_pack
from .status import (DZC, IDC, IOC, NZCV_EQ, NZCV_GT, NZCV_LT, NZCV_UN, RM,
                     UFC)


def make_ops(F: Format) -> dict:
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
    round_pack = make_round_pack(F, True, False)

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


    return {
        "add": add, "sub": sub, "mul": mul, "div": div, "sqrt": sqrt,
        "muladd": muladd, "max": fmax, "min": fmin, "neg": neg, "abs": fabs,
        "compare": compare, "is_nan": is_nan, "is_snan": is_snan,
        "round_pack": round_pack, "nan1": nan1, "invalid": invalid,
    }
