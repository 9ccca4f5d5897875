"""Generators for MIPS32 system instructions: CP0 moves, TLB operations, ERET/DERET,
WAIT, DI/EI, RDHWR, SYSCALL/BREAK/SDBBP, CACHE/SYNCI, coprocessor-unusable cases.

Privilege is a property of the block (its key holds the mode and Status.CU0/CU1),
so the checks happen at translation time: a user-mode CP0 instruction without CU0
compiles to the Coprocessor Unusable exception, never to a run-time test.
"""
from __future__ import annotations

from pysystem import log

from . import cp0 as cp0regs


def _cp0_ok(ctx) -> bool:
    """CP0 is usable: kernel mode or Status.CU0.  If not, emit CpU(0) and say so."""
    if ctx.kernel or ctx.cu0:
        return True
    ctx.raise_exc("CoprocessorUnusable", "0")
    return False


def _lookup(ctx, a):
    reg = cp0regs.lookup(a.rd, a.sel)
    if reg is None or not reg.exists_on(ctx.model):
        if log.enabled("unimp"):
            log.log("unimp", f"CP0 register {a.rd} select {a.sel} not implemented "
                             f"(pc 0x{ctx.pc:08x})")
        return None
    return reg


def mfc0(ctx, a) -> None:
    if not _cp0_ok(ctx):
        return
    reg = _lookup(ctx, a)
    if reg is None:
        ctx.w(a.rt, "0")
    elif reg.kind == "const":
        ctx.w(a.rt, hex(reg.reset_for(ctx.model)))
    elif reg.kind == "op":
        fn = ctx.helper("cp0r_" + reg.attr, getattr(ctx.cpu, reg.read))
        ctx.w(a.rt, f"{fn}({ctx.idx})")
    else:
        c = ctx.helper("cp0", ctx.cpu.cp0)
        ctx.w(a.rt, f"{c}.{reg.attr}")


def mtc0(ctx, a) -> None:
    if not _cp0_ok(ctx):
        return
    reg = _lookup(ctx, a)
    if reg is None or reg.kind == "const":
        return
    v = ctx.r(a.rt)
    if reg.kind == "state" and reg.write is None:
        mask = reg.mask_for(ctx.model)
        c = ctx.helper("cp0", ctx.cpu.cp0)
        if mask == 0xFFFFFFFF:
            ctx.emit(f"{c}.{reg.attr} = {v}")
        elif mask:
            ctx.emit(f"{c}.{reg.attr} = ({c}.{reg.attr} & {hex(~mask & 0xFFFFFFFF)}) | ({v} & {hex(mask)})")
        return
    fn = ctx.helper("mtc0", ctx.cpu.mtc0)
    ctx.emit(f"{fn}({a.rd}, {a.sel}, {v}, {ctx.idx})")
    ctx.end_after(state_changed=True)


def tlbop(ctx, a) -> None:
    if not _cp0_ok(ctx):
        return
    fn = ctx.helper("tlb_" + a.op, getattr(ctx.cpu, "tlb_" + a.op))
    ctx.emit(f"{fn}()")
    ctx.end_after(state_changed=a.op == "tlbr")


def eret(ctx, a) -> None:
    if ctx.in_slot:
        ctx.reserved()
        return
    if not _cp0_ok(ctx):
        return
    fn = ctx.helper("eret", ctx.cpu.eret)
    ctx.exit(f"{fn}({hex(ctx.pc)})")


def deret(ctx, a) -> None:
    if ctx.in_slot:
        ctx.reserved()
        return
    if not _cp0_ok(ctx):
        return
    fn = ctx.helper("deret", ctx.cpu.deret)
    ctx.exit(f"{fn}({ctx.idx})")


def wait(ctx, a) -> None:
    if not _cp0_ok(ctx):
        return
    fn = ctx.helper("wait", ctx.cpu.wait)
    ctx.emit(f"{fn}()")
    ctx.end_after()


def di_ei(ctx, a):
    if ctx.model.release < 2:
        return False
    if not _cp0_ok(ctx):
        return
    c = ctx.helper("cp0", ctx.cpu.cp0)
    ctx.w(a.rt, f"{c}.status")
    fn = ctx.helper("set_ie", ctx.cpu.set_ie)
    ctx.emit(f"{fn}({a.ie})")
    ctx.end_after()


def rdpgpr(ctx, a):
    """RDPGPR/WRPGPR: one register set here (SRSCtl.PSS = CSS = 0): a move."""
    if ctx.model.release < 2:
        return False
    if not _cp0_ok(ctx):
        return
    ctx.w(a.rd, ctx.r(a.rt))


_HWR_BITS = {0: 0, 1: 1, 2: 2, 3: 3, 29: 29}


def rdhwr(ctx, a):
    """RDHWR: CPUNum, SYNCI_Step, CC, CCRes (and UserLocal where the model has it).  In
    user mode without CU0 the register must be enabled in HWREna, else RI; on models
    without UserLocal, ``rdhwr $29`` is RI at translation time, so the Linux emulation
    path costs one exception and nothing else."""
    m = ctx.model
    if m.release < 2 or a.rd not in _HWR_BITS or (a.rd == 29 and not m.userlocal):
        return False
    if not (ctx.kernel or ctx.cu0):
        c = ctx.helper("cp0", ctx.cpu.cp0)
        ctx.emit(f"if not {c}.hwrena & {hex(1 << a.rd)}: raise {ctx.exc('ReservedInstruction')}")
    if a.rd == 0:
        c = ctx.helper("cp0", ctx.cpu.cp0)
        ctx.w(a.rt, f"{c}.ebase & 0x3ff")
    elif a.rd == 1:
        ctx.w(a.rt, str(m.synci_step))
    elif a.rd == 2:
        fn = ctx.helper("cp0r_count", ctx.cpu.cp0_read_count)
        ctx.w(a.rt, f"{fn}({ctx.idx})")
    elif a.rd == 3:
        ctx.w(a.rt, str(m.ccres))
    else:
        c = ctx.helper("cp0", ctx.cpu.cp0)
        ctx.w(a.rt, f"{c}.userlocal")


def syscall(ctx, a) -> None:
    ctx.raise_exc(a.exc)


def cache(ctx, a) -> None:
    """CACHE: privileged (CpU in user mode without CU0); nothing else to do here."""
    _cp0_ok(ctx)


def synci(ctx, a):
    """SYNCI: translated code follows memory writes by itself; end the block, as QEMU."""
    if ctx.model.release < 2:
        return False
    ctx.end_after()


def unusable(ctx, a) -> None:
    """An instruction of a coprocessor this core lacks or has disabled: CpU(ce)."""
    ctx.raise_exc("CoprocessorUnusable", str(a.cop))
