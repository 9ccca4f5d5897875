"""ARM's typed guest exceptions, raised where they happen and taken in one place.

Generated block code and the slow-path helpers raise these; the engine's run loop
catches them (see ``pysystem.cpu.engine.exceptions.GuestException``: ``idx``,
``counted``) and hands them to ``ARMCPU.deliver``, which calls ``take_exception``.

The numbers are QEMU's EXCP_* values so ``-d int`` lines read the same.
"""
from __future__ import annotations

from ..engine.exceptions import GuestException

EXCP_UDEF = 1
EXCP_SWI = 2
EXCP_PREFETCH_ABORT = 3
EXCP_DATA_ABORT = 4
EXCP_IRQ = 5
EXCP_FIQ = 6
EXCP_BKPT = 7
EXCP_SMC = 13

EXCP_NAMES = {
    EXCP_UDEF: "Undefined Instruction",
    EXCP_SWI: "SVC",
    EXCP_PREFETCH_ABORT: "Prefetch Abort",
    EXCP_DATA_ABORT: "Data Abort",
    EXCP_IRQ: "IRQ",
    EXCP_FIQ: "FIQ",
    EXCP_BKPT: "Breakpoint",
    EXCP_SMC: "Secure Monitor Call",
}


class Undefined(GuestException):
    excp = EXCP_UDEF


class SupervisorCall(GuestException):
    excp = EXCP_SWI
    counted = True


class SecureMonitorCall(GuestException):
    excp = EXCP_SMC
    counted = True


class Breakpoint(GuestException):
    """BKPT: taken as a prefetch abort with IFSR = debug event."""
    excp = EXCP_BKPT


class Abort(GuestException):
    """A memory fault: ``fsr`` in short-descriptor format, ``far`` the faulting address."""

    def __init__(self, idx: int, fsr: int, far: int):
        super().__init__(idx)
        self.fsr, self.far = fsr, far


class PrefetchAbort(Abort):
    excp = EXCP_PREFETCH_ABORT


class DataAbort(Abort):
    excp = EXCP_DATA_ABORT


# short-descriptor fault status values (FS[4:0]; bit 4 goes to FSR bit 10)
FSR_ALIGNMENT = 0x01
FSR_DEBUG = 0x02
FSR_ACCESS_SECTION = 0x03
FSR_ACCESS_PAGE = 0x06
FSR_TRANSLATION_SECTION = 0x05
FSR_TRANSLATION_PAGE = 0x07
FSR_SYNC_EXTERNAL = 0x08
FSR_DOMAIN_SECTION = 0x09
FSR_DOMAIN_PAGE = 0x0B
FSR_EXT_WALK_L1 = 0x0C
FSR_EXT_WALK_L2 = 0x0E
FSR_PERMISSION_SECTION = 0x0D
FSR_PERMISSION_PAGE = 0x0F
FSR_WNR = 1 << 11
FSR_EXT = 1 << 12


class MMUFault(Exception):
    """Raised by the table walk; the caller turns it into a Prefetch/DataAbort."""

    def __init__(self, fs: int, domain: int = 0):
        super().__init__()
        self.fs, self.domain = fs, domain

    def fsr(self) -> int:
        fs = self.fs
        ext = FSR_EXT if fs in (FSR_SYNC_EXTERNAL, FSR_EXT_WALK_L1, FSR_EXT_WALK_L2) else 0
        return (fs & 0xF) | ((fs & 0x10) << 6) | (self.domain << 4) | ext
