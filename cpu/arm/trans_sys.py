"""Generators for system instructions (shared by A32 and T32).

* ``trans_mrs``: ``rd r`` (r=1: SPSR).  ``trans_msr_imm``/``trans_msr_reg``:
  ``r mask`` (the 4-bit field mask fsxc) and ``imm`` or ``rn``.
* ``trans_cps``: ``imod`` (2 enable, 3 disable, 0 none), ``m`` (change mode), ``a i f``, ``mode``.
* ``trans_svc``/``trans_bkpt``/``trans_udf``/``trans_smc``: no arguments needed.
* ``trans_hint``: ``op`` (0 NOP, 1 YIELD, 2 WFE, 3 WFI, 4 SEV).  ``trans_barrier``: ``op``
  ("dmb", "dsb", "isb").  ``trans_nop``: PLD/PLI and friends.
* ``trans_mcr``/``trans_mrc``: ``cp opc1 crn crm opc2 rt``.
* ``trans_srs``: ``mode p u w``.  ``trans_rfe``: ``rn p u w``.  ``trans_setend``: ``e``.
"""
from __future__ import annotations

from pysystem import log

from . import cp15
from .translator import Ctx


def _end_with(ctx: Ctx, call: str) -> None:
    """Sync state, call a helper that returns the next key, leave the block."""
    ctx.sync()
    ctx.exit_raw(call)


def trans_mrs(ctx: Ctx, a) -> bool:
    if a.rd == 15:
        return False
    if a.r:
        if ctx.user:
            return False
        h = ctx.helper("read_spsr", ctx.cpu.read_spsr)
        ctx.w(a.rd, f"{h}()")
        return True
    ctx.sync()
    h = ctx.helper("read_cpsr_mrs", ctx.cpu.read_cpsr_mrs)
    ctx.w(a.rd, f"{h}()")
    return True


def _msr(ctx: Ctx, a, value: str) -> bool:
    if a.mask == 0:
        return False
    nxt = ctx.next_key()
    if a.r:
        if ctx.user:
            return False
        h = ctx.helper("write_spsr", ctx.cpu.write_spsr)
        ctx.emit(f"{h}({value}, {a.mask})")
        return True
    h = ctx.helper("msr_cpsr", ctx.cpu.msr_cpsr)
    _end_with(ctx, f"{h}({value}, {a.mask}, {nxt})")
    return True


def trans_msr_imm(ctx: Ctx, a) -> bool:
    return _msr(ctx, a, hex(a.imm))


def trans_msr_reg(ctx: Ctx, a) -> bool:
    if a.rn == 15:
        return False
    v = ctx.r(a.rn)
    return _msr(ctx, a, v)


def trans_cps(ctx: Ctx, a) -> bool:
    if ctx.user:
        return True  # CPS is a NOP in User mode
    h = ctx.helper("cps", ctx.cpu.cps)
    _end_with(ctx, f"{h}({a.imod}, {a.a}, {a.i}, {a.f}, {a.mode if a.m else -1}, {ctx.next_key()})")
    return True


def trans_svc(ctx: Ctx, a) -> bool:
    ctx.raise_exc("SupervisorCall")
    return True


def trans_smc(ctx: Ctx, a) -> bool:
    if ctx.user:
        return False
    ctx.raise_exc("SecureMonitorCall")
    return True


def trans_bkpt(ctx: Ctx, a) -> bool:
    ctx.raise_exc("Breakpoint")
    return True


def trans_udf(ctx: Ctx, a) -> bool:
    """UDF: architecturally undefined (Linux's BUG()); not logged as unimplemented."""
    ctx.undef()
    return True


def trans_nop(ctx: Ctx, a) -> bool:
    return True


def trans_hint(ctx: Ctx, a) -> bool:
    if a.op == 3:  # WFI
        h = ctx.helper("wfi", ctx.cpu.wfi)
        _end_with(ctx, f"{h}({ctx.next_key()})")
    elif a.op == 2:  # WFE: a yield (we never sleep on events)
        h = ctx.helper("wfe", ctx.cpu.wfe)
        _end_with(ctx, f"{h}({ctx.next_key()})")
    return True


def trans_barrier(ctx: Ctx, a) -> bool:
    if a.op == "isb":
        ctx.exit(ctx.next_key())
    return True


def trans_setend(ctx: Ctx, a) -> bool:
    h = ctx.helper("setend", ctx.cpu.setend)
    _end_with(ctx, f"{h}({a.e}, {ctx.next_key()})")
    return True


def trans_srs(ctx: Ctx, a) -> bool:
    if ctx.user:
        return False
    h = ctx.helper("srs", ctx.cpu.srs)
    _end_with(ctx, f"{h}({a.mode}, {a.p}, {a.u}, {a.w}, {ctx.idx}, {ctx.next_key()})")
    return True


def trans_rfe(ctx: Ctx, a) -> bool:
    if ctx.user or a.rn == 15:
        return False
    h = ctx.helper("rfe", ctx.cpu.rfe)
    _end_with(ctx, f"{h}({a.rn}, {a.p}, {a.u}, {a.w}, {ctx.idx})")
    return True


# --- coprocessors -----------------------------------------------------------------------

def _cpreg(ctx: Ctx, a, reading: bool):
    reg = cp15.lookup(a.cp, a.crn, a.opc1, a.crm, a.opc2)
    what = "read" if reading else "write"
    if reg is None:
        log.log("unimp", f"unimplemented cp{a.cp} {what} (opc1 {a.opc1} c{a.crn} c{a.crm} opc2 {a.opc2}) at 0x{ctx.pc:08x}")
        return None
    allowed = reg.user if ctx.user else reg.access
    if ("r" if reading else "w") not in allowed:
        log.log("guest_errors", f"cp{a.cp} register {reg.name}: {what} not allowed here (pc 0x{ctx.pc:08x})")
        return None
    return reg


def trans_mrc(ctx: Ctx, a) -> bool:
    if a.cp in (10, 11):
        return False
    reg = _cpreg(ctx, a, True)
    if reg is None:
        return False
    if reg.kind == "const":
        expr = hex(reg.reset)
    elif reg.read:
        h = ctx.helper("cp_" + reg.read, getattr(ctx.cpu, reg.read))
        expr = f"{h}({reg.key!r})"
    else:
        expr = f"cpu.cp15.{reg.attr}"
    if a.rt == 15:
        # APSR_nzcv form: the top four bits go to the flags
        t = ctx.tmp("v")
        ctx.emit(f"{t} = {expr}")
        ctx.set_flags("nzcv")
        ctx.emit(f"nf = {t} & 0x80000000; zf = 0 if {t} & 0x40000000 else 1; "
                 f"cf = ({t} >> 29) & 1; vf = ({t} << 3) & 0x80000000")
        return True
    ctx.w(a.rt, expr)
    return True


def trans_mcr(ctx: Ctx, a) -> bool:
    if a.cp in (10, 11):
        return False
    reg = _cpreg(ctx, a, False)
    if reg is None or reg.kind == "const":
        return False
    if a.rt == 15:
        return False
    v = ctx.r(a.rt)
    if reg.kind == "state":
        if reg.mask != 0xFFFFFFFF:
            ctx.emit(f"cpu.cp15.{reg.attr} = {v} & {hex(reg.mask)}")
        else:
            ctx.emit(f"cpu.cp15.{reg.attr} = {v}")
    if reg.write:
        h = ctx.helper("cp_" + reg.write, getattr(ctx.cpu, reg.write))
        ctx.sync()
        ctx.emit(f"{h}({reg.key!r}, {v})")
    if reg.end_block:
        ctx.exit(ctx.next_key())
    return True


def trans_mcrr(ctx: Ctx, a) -> bool:
    log.log("unimp", f"unimplemented mcrr/mrrc p{a.cp} at 0x{ctx.pc:08x}")
    return False
