"""Random MIPS32 instructions, one generator per form of cpu/mips/isa.py.

A generator returns a *unit*: a list of instruction words placed at a known address
(``at``), usually a short prologue that sets up what the instruction needs (a base
register pointing into the data region, a jump target) followed by the instruction
and, for branches, its delay slot and the instructions it may skip.  Units are
position-dependent only through ``at``.  ``random_program`` strings units together.

``NOT_RANDOM`` names the forms left out of random campaigns and why (they need
state that a random program cannot set up against Unicorn, or Unicorn cannot run
them); directed tests cover them.
"""
from __future__ import annotations

import random
from typing import Callable, Dict, List

from mips_harness import DATA_BASE, DATA_SIZE

# registers the generators may write: not r0; r1-r31 all take part
REGS = list(range(1, 32))


def r_type(rs, rt, rd, sa, funct, op=0):
    return (op << 26) | (rs << 21) | (rt << 16) | (rd << 11) | (sa << 6) | funct


def i_type(op, rs, rt, imm):
    return (op << 26) | (rs << 21) | (rt << 16) | (imm & 0xFFFF)


def reg(rng):
    return rng.choice(REGS)


def src(rng):
    return rng.randrange(32)


def li(rd: int, value: int) -> List[int]:
    """lui/ori: rd = value."""
    return [i_type(0x0F, 0, rd, value >> 16), i_type(0x0D, rd, rd, value & 0xFFFF)]


def filler(rng) -> int:
    """A harmless ALU instruction (for delay slots and skipped code)."""
    name = rng.choice(["ADDU", "SUBU", "AND", "OR", "XOR", "NOR", "SLT", "SLTU", "ADDIU",
                       "ORI", "SLL", "SRA", "MUL", "MOVN", "CLZ"])
    return GENERATORS[name](rng, 0)[-1]


def _r3(funct, sa=0, op=0):
    return lambda rng, at: [r_type(src(rng), src(rng), reg(rng), sa, funct, op)]


def _shift(funct, rs=0):
    return lambda rng, at: [r_type(rs, src(rng), reg(rng), rng.randrange(32), funct)]


def _shiftv(funct, sa=0):
    return lambda rng, at: [r_type(src(rng), src(rng), reg(rng), sa, funct)]


def _imm(op):
    return lambda rng, at: [i_type(op, src(rng), reg(rng), rng.getrandbits(16))]


def _hilo_in(funct, op=0):
    return lambda rng, at: [r_type(src(rng), src(rng), 0, 0, funct, op)]


def _trap_r(funct):
    return lambda rng, at: [r_type(src(rng), src(rng), 0, rng.randrange(1024) & 0x1F, funct)]


def _trap_i(rt):
    return lambda rng, at: [i_type(1, src(rng), rt, rng.choice([0, 1, 0xFFFF, 0x8000, 0x7FFF,
                                                               rng.getrandbits(16)]))]


def _mem(op, size, store=False):
    def gen(rng, at):
        base = reg(rng)
        imm = rng.randrange(-0x100, 0x100) & ~(size - 1)
        addr = DATA_BASE + rng.randrange(0x200, DATA_SIZE - 0x200, size)
        unit = li(base, (addr - imm) & 0xFFFFFFFF)
        rt = src(rng) if store else reg(rng)
        return unit + [i_type(op, base, rt, imm)]
    return gen


def _mem_unaligned(op):
    def gen(rng, at):
        base = reg(rng)
        imm = rng.randrange(-0x100, 0x100)
        addr = DATA_BASE + rng.randrange(0x200, DATA_SIZE - 0x200)
        return li(base, (addr - imm) & 0xFFFFFFFF) + [i_type(op, base, reg(rng), imm)]
    return gen


def _branch(make: Callable[[random.Random, int], int], link=False):
    """A branch at the end of the prologue, its slot, and k skipped instructions."""
    def gen(rng, at):
        k = rng.randrange(0, 4)
        word = make(rng, k)
        slot = filler(rng)
        return [word, slot] + [filler(rng) for _ in range(k)]
    return gen


def _b_rr(op):
    return _branch(lambda rng, k: i_type(op, src(rng), src(rng), k + 1))


def _b_r(op, rt=0):
    return _branch(lambda rng, k: i_type(op, src(rng), rt, k + 1))


def _jump(op):
    def gen(rng, at):
        k = rng.randrange(0, 4)
        target = at + 8 + 4 * k
        return [(op << 26) | ((target >> 2) & 0x3FFFFFF), filler(rng)] + [filler(rng) for _ in range(k)]
    return gen


def _jr(link):
    def gen(rng, at):
        k = rng.randrange(0, 4)
        rs = reg(rng)
        target = at + 8 + 8 + 4 * k
        rd = rng.choice([31, reg(rng)]) if link else 0
        if rd == rs:
            rd = 31 if rs != 31 else 1
        word = r_type(rs, 0, rd, 0, 9 if link else 8)
        slot = filler(rng)
        while (slot >> 11) & 31 == rs and slot >> 26 == 0 or ((slot >> 16) & 31 == rs and slot >> 26 != 0):
            slot = filler(rng)
        return li(rs, target) + [word, slot] + [filler(rng) for _ in range(k)]
    return gen


def _ext(rng, at):
    lsb = rng.randrange(32)
    size = rng.randrange(1, 33 - lsb)
    return [r_type(src(rng), reg(rng), size - 1, lsb, 0, 0x1F)]


def _ins(rng, at):
    lsb = rng.randrange(32)
    msb = rng.randrange(lsb, 32)
    return [r_type(src(rng), reg(rng), msb, lsb, 4, 0x1F)]


def _bshfl(sa):
    return lambda rng, at: [r_type(0, src(rng), reg(rng), sa, 0x20, 0x1F)]


def _llsc(rng, at):
    base = reg(rng)
    imm = rng.randrange(-0x100, 0x100) & ~3
    addr = DATA_BASE + rng.randrange(0x200, DATA_SIZE - 0x200, 4)
    rt = reg(rng)
    while rt == base:
        rt = reg(rng)
    rt2 = reg(rng)
    while rt2 == base:
        rt2 = reg(rng)
    unit = li(base, (addr - imm) & 0xFFFFFFFF) + [i_type(0x30, base, rt, imm)]
    if rng.random() < 0.3:  # a store between LL and SC to the same word changes memory
        unit.append(i_type(0x2B, base, reg(rng) if rng.random() < 0.5 else 0, imm))
    unit.append(i_type(0x38, base, rt2, imm))
    return unit


def _sync(rng, at):
    return [r_type(0, 0, 0, rng.choice([0, 0x10]), 0x0F)]


def _pref(rng, at):
    return [i_type(0x33, src(rng), rng.randrange(32), rng.getrandbits(16))]


GENERATORS: Dict[str, Callable[[random.Random, int], List[int]]] = {
    "SLL": _shift(0), "SRL": _shift(2), "ROTR": _shift(2, 1), "SRA": _shift(3),
    "SLLV": _shiftv(4), "SRLV": _shiftv(6), "ROTRV": _shiftv(6, 1), "SRAV": _shiftv(7),
    "JR": _jr(False), "JALR": _jr(True),
    "MOVZ": _r3(0x0A), "MOVN": _r3(0x0B),
    "SYNC": _sync,
    "MFHI": lambda rng, at: [r_type(0, 0, reg(rng), 0, 0x10)],
    "MTHI": lambda rng, at: [r_type(src(rng), 0, 0, 0, 0x11)],
    "MFLO": lambda rng, at: [r_type(0, 0, reg(rng), 0, 0x12)],
    "MTLO": lambda rng, at: [r_type(src(rng), 0, 0, 0, 0x13)],
    "MULT": _hilo_in(0x18), "MULTU": _hilo_in(0x19), "DIV": _hilo_in(0x1A), "DIVU": _hilo_in(0x1B),
    "ADD": _r3(0x20), "ADDU": _r3(0x21), "SUB": _r3(0x22), "SUBU": _r3(0x23),
    "AND": _r3(0x24), "OR": _r3(0x25), "XOR": _r3(0x26), "NOR": _r3(0x27),
    "SLT": _r3(0x2A), "SLTU": _r3(0x2B),
    "TGE": _trap_r(0x30), "TGEU": _trap_r(0x31), "TLT": _trap_r(0x32), "TLTU": _trap_r(0x33),
    "TEQ": _trap_r(0x34), "TNE": _trap_r(0x36),
    "BLTZ": _b_r(1, 0), "BGEZ": _b_r(1, 1), "BLTZL": _b_r(1, 2), "BGEZL": _b_r(1, 3),
    "TGEI": _trap_i(8), "TGEIU": _trap_i(9), "TLTI": _trap_i(10), "TLTIU": _trap_i(11),
    "TEQI": _trap_i(12), "TNEI": _trap_i(14),
    "BLTZAL": _b_r(1, 16), "BGEZAL": _b_r(1, 17), "BLTZALL": _b_r(1, 18), "BGEZALL": _b_r(1, 19),
    "J": _jump(2), "JAL": _jump(3),
    "BEQ": _b_rr(4), "BNE": _b_rr(5), "BLEZ": _b_r(6), "BGTZ": _b_r(7),
    "BEQL": _b_rr(0x14), "BNEL": _b_rr(0x15), "BLEZL": _b_r(0x16), "BGTZL": _b_r(0x17),
    "ADDI": _imm(8), "ADDIU": _imm(9), "SLTI": _imm(10), "SLTIU": _imm(11),
    "ANDI": _imm(12), "ORI": _imm(13), "XORI": _imm(14),
    "LUI": lambda rng, at: [i_type(0x0F, 0, reg(rng), rng.getrandbits(16))],
    "MADD": _hilo_in(0, 0x1C), "MADDU": _hilo_in(1, 0x1C), "MSUB": _hilo_in(4, 0x1C),
    "MSUBU": _hilo_in(5, 0x1C),
    "MUL": _r3(2, 0, 0x1C),
    "CLZ": lambda rng, at: [r_type(src(rng), 0, reg(rng), 0, 0x20, 0x1C)],
    "CLO": lambda rng, at: [r_type(src(rng), 0, reg(rng), 0, 0x21, 0x1C)],
    "EXT": _ext, "INS": _ins, "WSBH": _bshfl(2), "SEB": _bshfl(0x10), "SEH": _bshfl(0x18),
    "LB": _mem(0x20, 1), "LH": _mem(0x21, 2), "LW": _mem(0x23, 4), "LBU": _mem(0x24, 1),
    "LHU": _mem(0x25, 2), "LWL": _mem_unaligned(0x22), "LWR": _mem_unaligned(0x26),
    "SB": _mem(0x28, 1, True), "SH": _mem(0x29, 2, True), "SW": _mem(0x2B, 4, True),
    "SWL": _mem_unaligned(0x2A), "SWR": _mem_unaligned(0x2E),
    "LL": _llsc, "SC": _llsc, "PREF": _pref,
    "CACHE": lambda rng, at: [i_type(0x2F, 0, rng.choice([0, 1, 8, 9]), 0)],
}

NOT_RANDOM = {
    "SYSCALL": "an exception: directed tests (test_system.py)",
    "BREAK": "an exception: directed tests",
    "SDBBP": "debug mode: directed tests",
    "SYNCI": "Unicorn runs it; it ends the block only: directed tests",
    "MFC0": "CP0 state differs from Unicorn's by design (Count, Random): directed tests",
    "MTC0": "CP0 state: directed tests",
    "RDPGPR": "directed tests", "WRPGPR": "directed tests",
    "DI": "changes Status: directed tests", "EI": "changes Status: directed tests",
    "TLBR": "TLB state: directed tests", "TLBWI": "directed tests", "TLBWR": "directed tests",
    "TLBP": "directed tests", "ERET": "changes the mode: directed tests",
    "DERET": "debug mode: directed tests", "WAIT": "halts: directed tests",
    "RDHWR": "CC differs from Unicorn's by design; RI path: directed tests",
    "COP2": "CpU: directed tests", "LWC2": "CpU", "LDC2": "CpU", "SWC2": "CpU", "SDC2": "CpU",
}


# forms that often end a program with an exception: rare in mixed programs
RARE = {"TGE", "TGEU", "TLT", "TLTU", "TEQ", "TNE", "TGEI", "TGEIU", "TLTI", "TLTIU", "TEQI",
        "TNEI", "ADD", "SUB", "ADDI"}
MIXABLE = sorted(set(GENERATORS) - RARE)


def random_unit(rng: random.Random, at: int, names=None) -> List[int]:
    if names is None:
        names = sorted(RARE) if rng.random() < 0.004 else MIXABLE
    return GENERATORS[rng.choice(names)](rng, at)


def random_program(rng: random.Random, length: int, base: int, names=None) -> List[int]:
    """Units of random forms until ``length`` words; the result never ends in a branch."""
    words: List[int] = []
    while len(words) < length:
        words += random_unit(rng, base + 4 * len(words), names)
    return words
