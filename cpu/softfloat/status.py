"""FPStatus, the rounding-mode constants and the flag bits (ARM FPSCR positions)."""
from __future__ import annotations

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

