"""The MIPS32 CPU (4Kc, 4KEc, 24Kc, 24Kf, 34Kf), both byte orders; see README.md."""
from .cpu import CPU_TYPES, MIPSCPU  # noqa: F401
