"""Generators for loads and stores (shared by A32 and T32).

Argument conventions:

* ``trans_ldst_imm``: ``load size sign rt rn p u w imm user`` (``size`` 1/2/4,
  ``sign`` sign-extending load, ``p`` pre-index, ``u`` add offset, ``w`` writeback,
  ``user`` LDRT/STRT-style unprivileged access, ``imm`` unsigned offset).
* ``trans_ldst_reg``: as above with ``rm shtype shimm`` instead of ``imm``.
* ``trans_ldrd_imm``/``trans_ldrd_reg``: ``load rt rt2 rn p u w`` and ``imm`` or ``rm``.
* ``trans_ldm``: ``load rn reglist b (increment before/after: b=1 before) u w
  user`` (``user`` is the A32 S bit: user-bank transfer or exception return).
* exclusives: ``trans_ldrex``: ``size rt rt2 rn imm``; ``trans_strex``: ``size rd rt rt2 rn imm``.
* ``trans_swp``: ``size rt rt2 rn`` (rt2 is the register stored).

Base register r15 reads as ``Align(PC, 4)`` (the A32 PC+8 is already aligned).
"""
from __future__ import annotations

from .trans_dp import shift_imm
from .translator import Ctx

M = "0xffffffff"


def _base(ctx: Ctx, rn: int) -> str:
    if rn == 15:
        return hex(ctx.pc_read & ~3)
    return ctx.r(rn)


def _ldst(ctx: Ctx, a, off: str, off_is_const: bool) -> bool:
    rt, rn = a.rt, a.rn
    wback = (not a.p) or a.w
    if wback and (rn == 15 or (rn == rt and a.load)):
        if rn == 15:
            return False
    base = _base(ctx, rn)
    if off_is_const:
        k = int(off, 16) if off.startswith("0x") else int(off)
        if k == 0:
            new = base
        else:
            if base.startswith("0x"):
                new = hex((int(base, 16) + (k if a.u else -k)) & 0xFFFFFFFF)
            else:
                new = f"({base} + {hex(k)}) & {M}" if a.u else f"({base} + {hex((-k) & 0xFFFFFFFF)}) & {M}"
    else:
        new = f"({base} + {off}) & {M}" if a.u else f"({base} - {off}) & {M}"
    if a.p:
        if new.startswith("0x") or new == base or not wback:
            addr = new  # used once: load() and store() take an expression
        else:
            addr = ctx.tmp("a")
            ctx.emit(f"{addr} = {new}")
    else:
        addr = base
    if addr == base and wback:
        # post-index: keep the old base in a temporary (the base is rewritten)
        t = ctx.tmp("a")
        ctx.emit(f"{t} = {addr}")
        addr = t
    user = getattr(a, "user", 0)
    if a.load:
        if rt != 15 and not wback:  # straight into the register (a fault leaves it as it was)
            ctx.load(a.size, addr, ctx.dest(rt), signed=a.sign, user=bool(user))
            return True
        v = ctx.tmp("v")
        ctx.load(a.size, addr, v, signed=a.sign, user=bool(user))
        if wback:
            ctx.w(rn, addr if (a.p and addr != base) else new)
        if rt == 15:
            if a.size != 4:
                return False
            ctx.write_pc(v, "bx")
        else:
            ctx.w(rt, v)
    else:
        val = ctx.r(rt)
        if wback and rt == rn:
            t = ctx.tmp("v")
            ctx.emit(f"{t} = {val}")
            val = t
        ctx.store(a.size, addr, val, user=bool(user))
        if wback:
            ctx.w(rn, addr if (a.p and addr != base) else new)
    return True


def trans_ldst_imm(ctx: Ctx, a) -> bool:
    return _ldst(ctx, a, hex(a.imm), True)


def trans_ldst_reg(ctx: Ctx, a) -> bool:
    if a.rm == 15:
        return False
    v, _ = shift_imm(ctx, a.rm, a.shtype, a.shimm, False)
    if not v.isidentifier():
        t = ctx.tmp("o")
        ctx.emit(f"{t} = {v}")
        v = t
    return _ldst(ctx, a, v, False)


def _ldrd(ctx: Ctx, a, off: str) -> bool:
    rt, rt2, rn = a.rt, a.rt2, a.rn
    wback = (not a.p) or a.w
    if rt == 15 or rt2 == 15 or (wback and (rn == 15 or rn == rt or rn == rt2)):
        return False
    if a.load and rt == rt2:
        return False
    base = _base(ctx, rn)
    new = ctx.tmp("n")
    ctx.emit(f"{new} = ({base} + {off}) & {M}" if a.u else f"{new} = ({base} - {off}) & {M}")
    addr = new if a.p else base
    if not addr.isidentifier():
        addr = ctx.tmp("a")
        ctx.emit(f"{addr} = {base}")
    if a.load:
        v1, v2 = ctx.tmp("v"), ctx.tmp("v")
        ctx.load_words(addr, [v1, v2])
        if wback:
            ctx.w(rn, new)
        ctx.w(rt, v1)
        ctx.w(rt2, v2)
    else:
        ctx.store_words(addr, [ctx.r(rt), ctx.r(rt2)])
        if wback:
            ctx.w(rn, new)
    return True


def trans_ldrd_imm(ctx: Ctx, a) -> bool:
    return _ldrd(ctx, a, hex(a.imm))


def trans_ldrd_reg(ctx: Ctx, a) -> bool:
    if a.rm == 15:
        return False
    return _ldrd(ctx, a, ctx.r(a.rm))


def trans_ldm(ctx: Ctx, a) -> bool:
    regs = [i for i in range(16) if a.reglist >> i & 1]
    n = len(regs)
    rn = a.rn
    if n == 0 or rn == 15:
        return False
    user = getattr(a, "user", 0)
    if user and ctx.user:
        return False  # UNPREDICTABLE in User mode
    base = ctx.r(rn)
    if a.u:
        start = f"({base} + 4) & {M}" if a.b else base
        new = f"({base} + {hex(4 * n)}) & {M}"
    else:
        start = f"({base} - {hex(4 * n)}) & {M}" if a.b else f"({base} - {hex(4 * n - 4)}) & {M}"
        new = f"({base} - {hex(4 * n)}) & {M}"
    a0 = ctx.tmp("a")
    ctx.emit(f"{a0} = {start}")
    if new == start:  # decrement before: the first address is the new base
        new = a0
    exc_return = user and a.load and 15 in regs
    user_bank = user and not exc_return
    if a.load:
        vals = [ctx.tmp("v") for _ in regs]
        ctx.load_words(a0, vals)
        if a.w:
            ctx.w(rn, new)
        if user_bank:
            ctx.sync()
            h = ctx.helper("set_user_reg", ctx.cpu.set_user_reg)
            for r, v in zip(regs, vals):
                if r < 15:
                    ctx.emit(f"{h}({r}, {v})")
            # the block's locals for banked registers may now be stale: end the block
            ctx.exit_raw(ctx.next_key())
            return True
        for r, v in zip(regs, vals):
            if r != 15:
                ctx.w(r, v)
        if 15 in regs:
            if exc_return:
                ctx.sync()
                er = ctx.helper("exception_return", ctx.cpu.exception_return)
                ctx.exit_raw(f"{er}({vals[-1]})")
            else:
                ctx.write_pc(vals[-1], "bx")
    else:
        if user_bank:
            ctx.sync()
            g = ctx.helper("get_user_reg", ctx.cpu.get_user_reg)
        vals = []
        for r in regs:
            if user_bank and r != 15:
                val = ctx.tmp("v")
                ctx.emit(f"{val} = {g}({r})")
            else:
                val = ctx.r(r)
            vals.append(val)
        ctx.store_words(a0, vals)
        if a.w:
            ctx.w(rn, new)
    return True


# --- exclusives and swap ------------------------------------------------------------------

def trans_ldrex(ctx: Ctx, a) -> bool:
    if a.rt == 15 or a.rn == 15 or (a.size == 8 and (a.rt2 == 15 or a.rt == a.rt2)):
        return False
    addr = ctx.tmp("a")
    ctx.emit(f"{addr} = ({ctx.r(a.rn)} + {hex(a.imm)}) & {M}")
    v = ctx.tmp("v")
    if a.size == 8:
        h = ctx.helper("ldrex", ctx.cpu.ldrex)
        ctx.emit(f"{v} = {h}({addr}, {a.size}, {ctx.idx})")
        ctx.w(a.rt, f"{v} & {M}")
        ctx.w(a.rt2, f"{v} >> 32")
        return True
    # an ordinary aligned load (through the TLB), then open the monitor as cpu.ldrex does
    ctx.load(a.size, addr, v, aligned=True)
    ctx.emit(f"cpu.excl_addr = {addr}; cpu.excl_val = {v}")
    ctx.w(a.rt, v)
    return True


def trans_strex(ctx: Ctx, a) -> bool:
    if 15 in (a.rd, a.rt, a.rn) or a.rd in (a.rn, a.rt) or (a.size == 8 and (a.rt2 == 15 or a.rd == a.rt2)):
        return False
    h = ctx.helper("strex", ctx.cpu.strex)
    addr = ctx.tmp("a")
    ctx.emit(f"{addr} = ({ctx.r(a.rn)} + {hex(a.imm)}) & {M}")
    if a.size == 8:
        val = f"({ctx.r(a.rt2)} << 32) | {ctx.r(a.rt)}"
    else:
        val = ctx.r(a.rt)
    if a.size == 8 or not ctx.exclusive_fast_path(a.size, addr, val, ctx.dest(a.rd), h):
        ctx.w(a.rd, f"{h}({addr}, {val}, {a.size}, {ctx.idx})")
    return True


def trans_clrex(ctx: Ctx, a) -> bool:
    ctx.emit("cpu.excl_addr = 0xffffffffffffffff")
    return True


def trans_swp(ctx: Ctx, a) -> bool:
    if 15 in (a.rt, a.rt2, a.rn) or a.rn in (a.rt, a.rt2):
        return False
    addr = ctx.tmp("a")
    ctx.emit(f"{addr} = {ctx.r(a.rn)}")
    v = ctx.tmp("v")
    size = a.size
    ctx.load(size, addr, v, aligned=(size == 4))
    ctx.store(size, addr, ctx.r(a.rt2), aligned=(size == 4))
    ctx.w(a.rt, v)
    return True
