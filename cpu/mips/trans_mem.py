"""Generators for MIPS32 loads and stores: every width, the unaligned-word pairs
(LWL/LWR/SWL/SWR), LL/SC.  The address is ``rs + imm`` (imm sign-extended).

LWL/LWR/SWL/SWR merge an aligned word with the register.  With ``k`` the low two
address bits, the shift that lines the bytes up is ``8*k`` or ``8*(3-k)`` depending
on the byte order, which is a property of the block (``ctx.be``), decided here once.
"""
from __future__ import annotations

M32 = "0xffffffff"


def _addr(ctx, a) -> str:
    t = ctx.tmp("a")
    base = ctx.r(a.rs)
    if a.imm:
        ctx.emit(f"{t} = ({base} + {hex(a.imm)}) & {M32}")
    else:
        ctx.emit(f"{t} = {base}")
    return t


def load(ctx, a) -> None:
    addr = _addr(ctx, a)
    if a.rt == 0:
        ctx.load(a.size, addr, "_", a.signed)
        return
    v = ctx.tmp("v")
    ctx.load(a.size, addr, v, a.signed)
    ctx.w(a.rt, f"{v} & {M32}" if a.signed else v)


def store(ctx, a) -> None:
    addr = _addr(ctx, a)
    ctx.store(a.size, addr, ctx.r(a.rt))


def _shift(ctx, addr: str, left: bool) -> str:
    """The byte shift of LWL/SWL (``left``) or LWR/SWR for this block's byte order."""
    n = ctx.tmp("k")
    straight = ctx.be == left  # LWL on big-endian, LWR on little-endian: 8 * k
    ctx.emit(f"{n} = ({addr} & 3) << 3" if straight else f"{n} = (3 - ({addr} & 3)) << 3")
    return n


def load_partial(ctx, a) -> None:
    """LWL (``left``) / LWR."""
    addr = _addr(ctx, a)
    w = ctx.tmp("w")
    ctx.load(4, f"{addr} & 0xfffffffc", w)
    s = _shift(ctx, addr, a.left)
    rt = ctx.r(a.rt)
    if a.left:
        ctx.w(a.rt, f"(({w} << {s}) & {M32}) | ({rt} & ((1 << {s}) - 1))")
    else:
        ctx.w(a.rt, f"({w} >> {s}) | ({rt} & ~({M32} >> {s}) & {M32})")


def store_partial(ctx, a) -> None:
    """SWL (``left``) / SWR: a read-modify-write of the aligned word that faults as a
    store (the CPU's ``store_partial``)."""
    addr = _addr(ctx, a)
    fn = ctx.helper("swl" if a.left else "swr", ctx.cpu.swl if a.left else ctx.cpu.swr)
    ctx.emit(f"{fn}({addr}, {ctx.r(a.rt)}, {ctx.idx})")


def ll(ctx, a) -> None:
    """LL: a word load that opens the link (address and value: SC compares both, as
    QEMU's does), the engine's exclusive monitor ``cpu.excl_addr``/``excl_val``."""
    addr = _addr(ctx, a)
    v = ctx.tmp("v")
    ctx.load(4, addr, v)
    ctx.emit(f"cpu.excl_addr = {addr}; cpu.excl_val = {v}")
    ctx.w(a.rt, v)


def sc(ctx, a) -> None:
    """SC: stores and sets rt = 1 when the link holds this address and memory still holds
    the value LL read; else rt = 0.  The link closes either way.  In place when the write
    TLB maps the page (the engine's exclusive fast path), else ``cpu.store_conditional``."""
    addr = _addr(ctx, a)
    failed = ctx.tmp("x")
    slow = ctx.helper("sc", ctx.cpu.store_conditional)
    ctx.exclusive_fast_path(4, addr, ctx.r(a.rt), failed, slow)
    ctx.w(a.rt, f"1 - {failed}")


def nop(ctx, a) -> None:
    """SYNC, PREF (and CACHE in kernel mode): nothing to do in this model."""
