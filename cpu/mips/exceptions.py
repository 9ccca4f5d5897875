"""Typed MIPS exceptions, raised where they happen and taken in one place (``take``).

Generated block code and the slow paths raise these; the run loop catches them,
finds the faulting instruction from ``idx`` (its index in the block; -1: before the
block's first instruction, e.g. an instruction fetch fault) and whether it sat in a
branch delay slot, and calls ``take(cpu, e, pc, bd)``.  On MIPS the EPC of every
synchronous exception names the faulting instruction (or the branch before it, with
Cause.BD set), so no exception counts its instruction as executed.

``code`` is the Cause.ExcCode value; ``-d int`` names them as QEMU does.
"""
from __future__ import annotations

from pysystem import log
from pysystem.cpu.engine.exceptions import GuestException as EngineException

from .cp0 import (CA_BD, CA_CE_SHIFT, CA_EXC_SHIFT, CA_IV, ST_BEV, ST_ERL, ST_EXL, ST_NMI,
                  ST_SR)

M32 = 0xFFFFFFFF

EXC_INT, EXC_MOD, EXC_TLBL, EXC_TLBS, EXC_ADEL, EXC_ADES = 0, 1, 2, 3, 4, 5
EXC_IBE, EXC_DBE, EXC_SYS, EXC_BP, EXC_RI, EXC_CPU, EXC_OV, EXC_TR = 6, 7, 8, 9, 10, 11, 12, 13
EXC_FPE, EXC_WATCH, EXC_MCHECK = 15, 23, 24

# the names QEMU's -d int uses (mips_excp_names)
EXC_NAMES = {
    EXC_INT: "interrupt", EXC_MOD: "TLB modified", EXC_TLBL: "TLB load", EXC_TLBS: "TLB store",
    EXC_ADEL: "address error load", EXC_ADES: "address error store",
    EXC_IBE: "instruction bus error", EXC_DBE: "data bus error", EXC_SYS: "syscall",
    EXC_BP: "break", EXC_RI: "reserved instruction", EXC_CPU: "coprocessor unusable",
    EXC_OV: "arithmetic overflow", EXC_TR: "trap", EXC_FPE: "floating point",
    EXC_WATCH: "data watchpoint", EXC_MCHECK: "machine check",
}


class GuestException(EngineException):
    """Base of every MIPS exception raised while executing guest code."""

    code = 0
    counted = False  # the faulting instruction is never counted as executed on MIPS

    def __str__(self) -> str:
        return f"{EXC_NAMES.get(self.code, self.code)} at insn {self.idx}"


class Syscall(GuestException):
    code = EXC_SYS


class Break(GuestException):
    code = EXC_BP


class ReservedInstruction(GuestException):
    code = EXC_RI


class CoprocessorUnusable(GuestException):
    code = EXC_CPU

    def __init__(self, idx: int = -1, ce: int = 0):
        super().__init__(idx)
        self.ce = ce


class Overflow(GuestException):
    code = EXC_OV


class Trap(GuestException):
    code = EXC_TR


class FloatingPoint(GuestException):
    code = EXC_FPE


class Watch(GuestException):
    code = EXC_WATCH


class DebugBreakpoint(GuestException):
    """SDBBP: enters debug mode (DEPC, Debug.DM) at the EJTAG debug vector."""


class MemoryFault(GuestException):
    """A fault with a faulting address (BadVAddr)."""

    def __init__(self, idx: int, badvaddr: int, store: bool = False):
        super().__init__(idx)
        self.badvaddr = badvaddr & M32
        self.store = store
        if store:
            self.code = self.store_code

    store_code = 0


class AddressError(MemoryFault):
    code, store_code = EXC_ADEL, EXC_ADES


class TLBRefill(MemoryFault):
    """No JTLB entry matches: the refill vector (base + 0) unless Status.EXL."""
    code, store_code = EXC_TLBL, EXC_TLBS


class TLBInvalid(MemoryFault):
    code, store_code = EXC_TLBL, EXC_TLBS


class TLBModified(MemoryFault):
    code = store_code = EXC_MOD


class BusError(MemoryFault):
    code, store_code = EXC_DBE, EXC_DBE

    def __init__(self, idx: int, badvaddr: int, store: bool = False, fetch: bool = False):
        super().__init__(idx, badvaddr, store)
        if fetch:
            self.code = EXC_IBE


class Interrupt(GuestException):
    code = EXC_INT


def _vector_base(cpu) -> int:
    cp0 = cpu.cp0
    if cp0.status & ST_BEV:
        return 0xBFC00200
    if cpu.model.release >= 2:
        return cp0.ebase & 0xFFFFF000
    return 0x80000000


def take(cpu, e: GuestException, pc: int, bd: bool) -> None:
    """Enter the exception ``e`` raised by the instruction at ``pc`` (for an interrupt:
    the next instruction to run; ``bd``: the instruction at ``pc`` is a branch and the
    exception came from its delay slot).  Sets EPC, Cause (ExcCode, BD, CE), Status.EXL, BadVAddr/Context/
    EntryHi for address and TLB faults, and the PC to the vector."""
    cp0 = cpu.cp0
    if isinstance(e, DebugBreakpoint):
        _enter_debug(cpu, pc, bd)
        return
    code = e.code
    status = cp0.status
    logging = code != EXC_INT and log.enabled("int")  # QEMU logs all but interrupts
    if logging:
        log.log("int", f"mips_cpu_do_interrupt enter: PC {pc:08x} EPC {cp0.epc:08x} "
                       f"{EXC_NAMES.get(code, code)} exception")
    if isinstance(e, MemoryFault) and not isinstance(e, BusError):
        va = e.badvaddr
        cp0.badvaddr = va
        if not isinstance(e, AddressError):
            cp0.context = (cp0.context & 0xFF800000) | ((va >> 9) & 0x007FFFF0)
            cp0.entryhi = (cp0.entryhi & 0xFF) | (va & 0xFFFFE000)
    offset = 0x180
    if not status & ST_EXL:
        cp0.epc = pc
        cp0.cause = (cp0.cause | CA_BD) if bd else (cp0.cause & ~CA_BD)
        if isinstance(e, TLBRefill):
            offset = 0
        elif code == EXC_INT and cp0.cause & CA_IV:
            spacing = (cp0.intctl >> 5) & 0x1F
            if status & ST_BEV or spacing == 0:
                offset = 0x200
            else:
                pending = (cp0.cause & cp0.status) >> 8 & 0xFF
                vector = pending.bit_length() - 1 if pending else 0
                offset = 0x200 + vector * (spacing << 5)
    cause = (cp0.cause & ~(0x1F << CA_EXC_SHIFT)) | (code << CA_EXC_SHIFT)
    if code == EXC_CPU:
        cause = (cause & ~(3 << CA_CE_SHIFT)) | (getattr(e, "ce", 0) << CA_CE_SHIFT)
    cp0.cause = cause & M32
    cp0.status = status | ST_EXL
    new_pc = (_vector_base(cpu) + offset) & M32
    if logging:
        log.log("int", f"mips_cpu_do_interrupt: PC {new_pc:08x} EPC {cp0.epc:08x} cause {code}\n"
                       f"    S {cp0.status:08x} C {cp0.cause:08x} A {cp0.badvaddr:08x} "
                       f"D {cp0.depc:08x}")
    cpu.set_pc_after_exception(new_pc)


def _enter_debug(cpu, pc: int, bd: bool) -> None:
    cp0 = cpu.cp0
    cp0.depc = pc
    dbd = 1 << 31
    cp0.debug = (cp0.debug & ~dbd) | (dbd if bd else 0) | (1 << 30) | (1 << 1)  # DBD, DM, DBp
    if log.enabled("int"):
        log.log("int", f"mips_cpu_do_interrupt enter: PC {pc:08x} EPC {cp0.epc:08x} "
                       f"debug breakpoint exception")
    cpu.set_pc_after_exception(0xBFC00480)


def reset(cpu, pc: int, bd: bool, kind: str = "reset") -> None:
    """Reset, soft reset or NMI: ERL set, ErrorEPC = the interrupted instruction (the branch
    when it came in a delay slot), BEV set, and the PC at the reset vector."""
    cp0 = cpu.cp0
    cp0.errorepc = pc
    st = cp0.status & ~(ST_SR | ST_NMI)
    if kind == "soft":
        st |= ST_SR
    elif kind == "nmi":
        st |= ST_NMI
    cp0.status = st | ST_BEV | ST_ERL
    if log.enabled("int"):
        name = {"reset": "reset", "soft": "soft reset", "nmi": "non-maskable interrupt"}[kind]
        log.log("int", f"mips_cpu_do_interrupt enter: PC {pc:08x} EPC {cp0.epc:08x} "
                       f"{name} exception")
    cpu.set_pc_after_exception(0xBFC00000)
