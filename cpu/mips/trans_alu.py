"""Generators for the MIPS32 integer ALU: arithmetic, logic, shifts, HI/LO, bit fields,
conditional moves and traps.

Registers are unsigned 32-bit ints in the block's locals; a signed view of ``x`` is
``x - ((x & 0x80000000) << 1)``.  Arguments come from the decode table (isa.py):
``rs rt rd sa`` fields, ``imm`` (already sign- or zero-extended to 32 bits, unsigned),
``op`` naming the operation.
"""
from __future__ import annotations

from pysystem.cpu.engine import codegen

from .decode_util import signed

M32 = "0xffffffff"

_LOGIC = {"and": "&", "or": "|", "xor": "^"}


def arith(ctx, a) -> None:
    """ADD/ADDU/SUB/SUBU and ADDI/ADDIU (``imm`` given: immediate form); ADD/SUB/ADDI
    trap on signed overflow (Ov) and leave rd unchanged."""
    src = ctx.r(a.rs)
    other = hex(a.imm) if hasattr(a, "imm") else ctx.r(a.rt)
    dest = a.rt if hasattr(a, "imm") else a.rd
    op = "+" if a.op == "add" else "-"
    if not a.trap:
        ctx.w(dest, f"({src} {op} {other}) & {M32}")
        return
    t = ctx.tmp()
    ctx.emit(f"{t} = ({src} {op} {other}) & {M32}")
    if op == "+":
        check = f"({src} ^ {t}) & ({other} ^ {t}) & 0x80000000"
    else:
        check = f"({src} ^ {other}) & ({src} ^ {t}) & 0x80000000"
    ctx.emit(f"if {check}: raise {ctx.exc('Overflow')}")
    ctx.w(dest, t)


def logic(ctx, a) -> None:
    """AND/OR/XOR/NOR and ANDI/ORI/XORI (zero-extended immediates)."""
    src = ctx.r(a.rs)
    if hasattr(a, "imm"):
        ctx.w(a.rt, f"{src} {_LOGIC[a.op]} {hex(a.imm)}")
    elif a.op == "nor":
        ctx.w(a.rd, f"({src} | {ctx.r(a.rt)}) ^ {M32}")
    else:
        ctx.w(a.rd, f"{src} {_LOGIC[a.op]} {ctx.r(a.rt)}")


def lui(ctx, a) -> None:
    ctx.w(a.rt, hex(a.imm << 16))


def slt(ctx, a) -> None:
    """SLT/SLTU/SLTI/SLTIU: signed compares flip the sign bits and compare unsigned."""
    x = ctx.r(a.rs)
    y = hex(a.imm) if hasattr(a, "imm") else ctx.r(a.rt)
    dest = a.rt if hasattr(a, "imm") else a.rd
    if a.signed:
        if hasattr(a, "imm"):
            ctx.w(dest, f"1 if ({x} ^ 0x80000000) < {hex(a.imm ^ 0x80000000)} else 0")
        else:
            ctx.w(dest, f"1 if ({x} ^ 0x80000000) < ({y} ^ 0x80000000) else 0")
    else:
        ctx.w(dest, f"1 if {x} < {y} else 0")


def shift_imm(ctx, a) -> None:
    """SLL/SRL/SRA/ROTR by ``sa``."""
    x, s = ctx.r(a.rt), a.sa
    if a.op == "sll":
        ctx.w(a.rd, f"({x} << {s}) & {M32}" if s else x)
    elif a.op == "srl":
        ctx.w(a.rd, f"{x} >> {s}" if s else x)
    elif a.op == "sra":
        ctx.w(a.rd, f"({signed(x)} >> {s}) & {M32}" if s else x)
    elif s:
        ctx.w(a.rd, f"(({x} >> {s}) | ({x} << {32 - s})) & {M32}")
    else:
        ctx.w(a.rd, x)


def shift_var(ctx, a) -> None:
    """SLLV/SRLV/SRAV/ROTRV by rs[4:0]."""
    x = ctx.r(a.rt)
    s = ctx.tmp("n")
    ctx.emit(f"{s} = {ctx.r(a.rs)} & 31")
    if a.op == "sll":
        ctx.w(a.rd, f"({x} << {s}) & {M32}")
    elif a.op == "srl":
        ctx.w(a.rd, f"{x} >> {s}")
    elif a.op == "sra":
        ctx.w(a.rd, f"({signed(x)} >> {s}) & {M32}")
    else:
        ctx.w(a.rd, f"(({x} >> {s}) | ({x} << (32 - {s}))) & {M32}")


def mfhilo(ctx, a) -> None:
    ctx.w(a.rd, ctx.hilo(a.op))


def mthilo(ctx, a) -> None:
    v = ctx.r(a.rs)
    ctx.emit(f"{ctx.hilo(a.op, True)} = {v}")


def mult(ctx, a) -> None:
    """MULT/MULTU (HI:LO = product), MADD/MADDU/MSUB/MSUBU (HI:LO +/-= product).

    On PyPy, whose ints are machine words, nothing may pass 2**63 (a big integer is ~20x
    slower in JIT code): signed products and a signed accumulator fit; an unsigned
    product is built from 32x16-bit halves and added to HI:LO with an explicit carry."""
    x, y = ctx.r(a.rs), ctx.r(a.rt)
    if not a.signed and codegen.PYPY:
        _mult_unsigned_split(ctx, a, x, y)
        return
    p = ctx.tmp("p")
    if a.signed:
        ctx.emit(f"{p} = {signed(x)} * {signed(y)}")
    else:
        ctx.emit(f"{p} = {x} * {y}")
    if a.acc:
        hi, lo = ctx.hilo("hi"), ctx.hilo("lo")
        acc = f"(({signed(hi)} << 32) | {lo})" if a.signed else f"(({hi} << 32) | {lo})"
        ctx.emit(f"{p} = {acc} {'+' if a.acc > 0 else '-'} {p}")
    hi, lo = ctx.hilo("hi", True), ctx.hilo("lo", True)
    ctx.emit(f"{hi} = ({p} >> 32) & {M32}; {lo} = {p} & {M32}")


def _mult_unsigned_split(ctx, a, x: str, y: str) -> None:
    ph, pl, t = ctx.tmp("q"), ctx.tmp("q"), ctx.tmp("q")
    ctx.emit(f"{ph} = {x} * ({y} >> 16); {t} = {x} * ({y} & 0xffff) + (({ph} & 0xffff) << 16)")
    ctx.emit(f"{pl} = {t} & {M32}; {ph} = (({ph} >> 16) + ({t} >> 32)) & {M32}")
    hi, lo = ctx.hilo("hi"), ctx.hilo("lo")
    if a.acc > 0:
        ctx.emit(f"{t} = {lo} + {pl}; {ph} = {hi} + {ph} + ({t} >> 32); {pl} = {t} & {M32}")
    elif a.acc < 0:
        ctx.emit(f"{t} = {lo} - {pl}; {ph} = {hi} - {ph} - ({t} < 0); {pl} = {t} & {M32}")
    hi, lo = ctx.hilo("hi", True), ctx.hilo("lo", True)
    ctx.emit(f"{hi} = {ph} & {M32}; {lo} = {pl}")


def mul(ctx, a) -> None:
    """MUL (SPECIAL2): rd = low word of the signed product; HI and LO are untouched.  The
    product of the signed values fits a machine word (PyPy: no big integers), and its
    low word is the unsigned product's."""
    ctx.w(a.rd, f"({signed(ctx.r(a.rs))} * {signed(ctx.r(a.rt))}) & {M32}")


def _div(x: int, y: int):
    """DIV's (LO, HI) as QEMU computes it: a divisor of 0, or -2**31 / -1, divides by 1."""
    sx = x - ((x & 0x80000000) << 1)
    sy = y - ((y & 0x80000000) << 1)
    if sy == 0 or (sx == -0x80000000 and sy == -1):
        sy = 1
    q = abs(sx) // abs(sy)
    if (sx < 0) != (sy < 0):
        q = -q
    r = sx - q * sy
    return q & 0xFFFFFFFF, r & 0xFFFFFFFF


def _divu(x: int, y: int):
    if y == 0:
        y = 1
    return x // y, x % y


def div(ctx, a) -> None:
    fn = ctx.helper("h_div" if a.signed else "h_divu", _div if a.signed else _divu)
    lo, hi = ctx.hilo("lo", True), ctx.hilo("hi", True)
    ctx.emit(f"{lo}, {hi} = {fn}({ctx.r(a.rs)}, {ctx.r(a.rt)})")


def clz(ctx, a) -> None:
    x = ctx.r(a.rs)
    if a.op == "clo":
        x = f"({x} ^ {M32})"
    ctx.w(a.rd, f"32 - ({x}).bit_length()")


def ext(ctx, a):
    """EXT rt, rs, pos, size: lsb + msbd > 31 is reserved (RI, as QEMU)."""
    if a.lsb + a.msbd > 31:
        return False
    ctx.w(a.rt, f"({ctx.r(a.rs)} >> {a.lsb}) & {hex((1 << (a.msbd + 1)) - 1)}")


def ins(ctx, a):
    """INS rt, rs, pos, size: msb < lsb is reserved (RI, as QEMU)."""
    if a.msb < a.lsb:
        return False
    width = a.msb - a.lsb + 1
    field = ((1 << width) - 1) << a.lsb
    ctx.w(a.rt, f"({ctx.r(a.rt)} & {hex(~field & 0xFFFFFFFF)}) | "
                f"(({ctx.r(a.rs)} << {a.lsb}) & {hex(field)})")


def bshfl(ctx, a) -> None:
    x = ctx.r(a.rt)
    if a.op == "wsbh":
        ctx.w(a.rd, f"(({x} & 0x00ff00ff) << 8) | (({x} >> 8) & 0x00ff00ff)")
    elif a.op == "seb":
        ctx.w(a.rd, f"(({x} & 0xff) ^ 0x80) - 0x80 & {M32}")
    else:
        ctx.w(a.rd, f"(({x} & 0xffff) ^ 0x8000) - 0x8000 & {M32}")


def movc(ctx, a) -> None:
    """MOVZ/MOVN: rd = rs if rt ==/!= 0."""
    cond = "==" if a.op == "movz" else "!="
    if a.rd == 0:
        return
    ctx.w(a.rd, f"{ctx.r(a.rs)} if {ctx.r(a.rt)} {cond} 0 else {ctx.r(a.rd)}")


_TRAP = {
    "tge": "{x} >= {y}", "tlt": "{x} < {y}", "teq": "{x} == {y}", "tne": "{x} != {y}",
}


def trap(ctx, a) -> None:
    """TGE/TGEU/TLT/TLTU/TEQ/TNE and their immediate forms: Trap if the condition holds."""
    x = ctx.r(a.rs)
    y = hex(a.imm) if hasattr(a, "imm") else ctx.r(a.rt)
    if a.signed and a.op in ("tge", "tlt"):
        x, y = f"({x} ^ 0x80000000)", f"({y} ^ 0x80000000)"
    ctx.emit(f"if {_TRAP[a.op].format(x=x, y=y)}: raise {ctx.exc('Trap')}")
