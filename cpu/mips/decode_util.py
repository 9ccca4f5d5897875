"""Small expression builders shared by the MIPS generators."""
from __future__ import annotations


def signed(x: str) -> str:
    """The signed value of the 32-bit expression ``x``."""
    return f"(({x} ^ 0x80000000) - 0x80000000)"


def sext16(v: int) -> int:
    """A 16-bit immediate sign-extended to an unsigned 32-bit value."""
    return (v - ((v & 0x8000) << 1)) & 0xFFFFFFFF
