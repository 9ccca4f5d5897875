"""The FPU's operations (24Kf/34Kf, FR=0), on ``cpu.fpr`` (f0-f31 as 32-bit words;
a double lives in an even/odd pair, the even register holding the low word) and
``cpu.fcsr`` (FCR31).

Arithmetic comes from cpu/softfloat with the legacy MIPS NaN rules (a set top
fraction bit marks a signalling NaN; default NaNs 0x7fbfffff / 0x7ff7ffffffffffff).
After each operation Cause takes the operation's flags; when one of them is enabled
the operation raises the Floating Point exception and writes nothing, else the
flags accumulate (QEMU's update_fcr31).  madd/msub/nmadd/nmsub round twice (a
multiply, then an add), as these release-2 cores do.  Float-to-integer conversions
that are invalid (NaN, out of range) give 0x7fffffff (0x7fffffffffffffff).

``FPU(cpu)`` binds one CPU; generated code calls its methods with register numbers
and the instruction's index (for a precise exception).
"""
from __future__ import annotations

from pysystem.cpu import softfloat as sf

from .exceptions import FloatingPoint

M32 = 0xFFFFFFFF
# softfloat flag -> MIPS bit (I U O Z V = bits 0..4 of the Flags/Enables/Cause fields)
_FLAG_MAP = ((sf.IXC, 1), (sf.UFC, 2), (sf.OFC, 4), (sf.DZC, 8), (sf.IOC, 16))
_RM = {0: sf.RN, 1: sf.RZ, 2: sf.RP, 3: sf.RM}
FCSR_FS = 1 << 24

_OPS = {
    "s": dict(add=sf.f32_add, sub=sf.f32_sub, mul=sf.f32_mul, div=sf.f32_div, sqrt=sf.f32_sqrt,
              cmp=sf.f32_compare, to_int=sf.f32_to_int, from_int=sf.int_to_f32,
              neg=lambda a: a ^ 0x80000000, one=0x3F800000),
    "d": dict(add=sf.f64_add, sub=sf.f64_sub, mul=sf.f64_mul, div=sf.f64_div, sqrt=sf.f64_sqrt,
              cmp=sf.f64_compare, to_int=sf.f64_to_int, from_int=sf.int_to_f64,
              neg=lambda a: a ^ 0x8000000000000000, one=0x3FF0000000000000),
}


def _mips_flags(flags: int) -> int:
    out = 0
    for f, m in _FLAG_MAP:
        if flags & f:
            out |= m
    return out


def fcc_bit(cc: int) -> int:
    return 1 << (23 if cc == 0 else 24 + cc)


class FPU:
    def __init__(self, cpu):
        self.cpu = cpu

    # --- registers ---------------------------------------------------------------------
    def get(self, fmt: str, r: int) -> int:
        fpr = self.cpu.fpr
        if fmt in ("s", "w"):
            return fpr[r]
        return fpr[r & ~1] | (fpr[r | 1] << 32)

    def put(self, fmt: str, r: int, v: int) -> None:
        fpr = self.cpu.fpr
        if fmt in ("s", "w"):
            fpr[r] = v & M32
        else:
            fpr[r & ~1] = v & M32
            fpr[r | 1] = (v >> 32) & M32

    # --- status ---------------------------------------------------------------------------
    def status(self) -> sf.FPStatus:
        fcsr = self.cpu.fcsr
        return sf.FPStatus(rounding=_RM[fcsr & 3], flush_to_zero=bool(fcsr & FCSR_FS),
                           flush_inputs_to_zero=False, tininess_before_rounding=False,
                           snan_bit_is_one=True, nan_rules="mips")

    def finish(self, st: sf.FPStatus, idx: int) -> None:
        """Cause <- this operation's flags; FPE if one is enabled, else accumulate them."""
        raw = st.flags & ~sf.IDC
        if st.flush_to_zero:  # FS: an underflow was flushed, which QEMU's MIPS does not report
            raw &= ~sf.UFC
        flags = _mips_flags(raw)
        fcsr = self.cpu.fcsr & ~(0x3F << 12)
        fcsr |= flags << 12
        if flags & (fcsr >> 7) & 0x1F:
            self.cpu.fcsr = fcsr
            raise FloatingPoint(idx)
        self.cpu.fcsr = fcsr | (flags << 2)

    # --- arithmetic -------------------------------------------------------------------------
    def arith(self, op: str, fmt: str, fd: int, fs: int, ft: int, idx: int) -> None:
        st = self.status()
        fn = _OPS[fmt][op]
        if op == "sqrt":
            r = fn(self.get(fmt, fs), st)
        else:
            r = fn(self.get(fmt, fs), self.get(fmt, ft), st)
        self.finish(st, idx)
        self.put(fmt, fd, r)

    def recip(self, op: str, fmt: str, fd: int, fs: int, idx: int) -> None:
        """RECIP (1/x) and RSQRT (1/sqrt(x)) with the precision of div and sqrt."""
        st = self.status()
        ops = _OPS[fmt]
        x = self.get(fmt, fs)
        if op == "rsqrt":
            x = ops["sqrt"](x, st)
        r = ops["div"](ops["one"], x, st)
        self.finish(st, idx)
        self.put(fmt, fd, r)

    def madd(self, op: str, fmt: str, fd: int, fr: int, fs: int, ft: int, idx: int) -> None:
        st = self.status()
        ops = _OPS[fmt]
        p = ops["mul"](self.get(fmt, fs), self.get(fmt, ft), st)
        if op in ("madd", "nmadd"):
            r = ops["add"](p, self.get(fmt, fr), st)
        else:
            r = ops["sub"](p, self.get(fmt, fr), st)
        if op[0] == "n":
            r = ops["neg"](r)
        self.finish(st, idx)
        self.put(fmt, fd, r)

    def cvt(self, dfmt: str, sfmt: str, fd: int, fs: int, rounding, idx: int) -> None:
        """CVT.d.s and the integer conversions (``rounding``: None = FCSR.RM, else a
        softfloat mode for ROUND/TRUNC/CEIL/FLOOR)."""
        st = self.status()
        a = self.get(sfmt, fs)
        if sfmt in ("s", "d") and dfmt in ("w", "l"):
            width = 32 if dfmt == "w" else 64
            mode = st.rounding if rounding is None else rounding
            v = _OPS[sfmt]["to_int"](a, True, width, 0, mode, st)
            if st.flags & sf.IOC:
                v = (1 << (width - 1)) - 1
            r = v & ((1 << width) - 1)
        elif sfmt in ("w", "l"):
            r = _OPS[dfmt]["from_int"](a, True, 32 if sfmt == "w" else 64, 0, st)
        elif sfmt == "s":
            r = sf.f32_to_f64(a, st)
        else:
            r = sf.f64_to_f32(a, st)
        self.finish(st, idx)
        self.put(dfmt, fd, r)

    def compare(self, fmt: str, cond: int, cc: int, fs: int, ft: int, idx: int) -> None:
        """C.cond.fmt: FCC[cc] <- (unordered & c0) | (equal & c1) | (less & c2); the
        signalling conditions (c3) raise Invalid on any NaN, the others on SNaNs."""
        st = self.status()
        r = _OPS[fmt]["cmp"](self.get(fmt, fs), self.get(fmt, ft), st, bool(cond & 8))
        true = ((cond & 1 and r == sf.NZCV_UN) or (cond & 2 and r == sf.NZCV_EQ)
                or (cond & 4 and r == sf.NZCV_LT))
        self.finish(st, idx)
        bit = fcc_bit(cc)
        self.cpu.fcsr = (self.cpu.fcsr | bit) if true else (self.cpu.fcsr & ~bit)

    def fcc(self, cc: int) -> int:
        return 1 if self.cpu.fcsr & fcc_bit(cc) else 0

    # --- control registers -------------------------------------------------------------------
    def cfc1(self, fs: int) -> int:
        fcsr = self.cpu.fcsr
        if fs == 0:
            return self.cpu.model.fcr0
        if fs == 25:
            return ((fcsr >> 24) & 0xFE) | ((fcsr >> 23) & 1)
        if fs == 26:
            return fcsr & 0x0003F07C
        if fs == 28:
            return (fcsr & 0xF83) | ((fcsr >> 22) & 4)
        return fcsr

    def ctc1(self, fs: int, v: int, idx: int) -> None:
        """CTC1 to FCCR/FEXR/FENR/FCSR (QEMU's rules: a write to FCCR with bits above 7
        set, or to FEXR/FENR with any of bits 22:18, is ignored); FPE when a Cause bit is enabled (or E is set)."""
        cpu = self.cpu
        fcsr = cpu.fcsr
        if fs == 25:
            if v & 0xFFFFFF00:
                return
            fcsr = (fcsr & 0x017FFFFF) | ((v & 0xFE) << 24) | ((v & 1) << 23)
        elif fs == 26:
            if v & 0x007C0000:
                return
            fcsr = (fcsr & 0xFFFC0F83) | (v & 0x0003F07C)
        elif fs == 28:
            if v & 0x007C0000:
                return
            fcsr = (fcsr & 0xFEFFF07C) | (v & 0xF83) | ((v & 4) << 22)
        elif fs == 31:
            mask = cpu.model.fcr31_mask
            fcsr = (v & mask) | (fcsr & ~mask & M32)
        else:
            return
        cpu.fcsr = fcsr
        if (((fcsr >> 7) & 0x1F) | 0x20) & ((fcsr >> 12) & 0x3F):
            raise FloatingPoint(idx)
