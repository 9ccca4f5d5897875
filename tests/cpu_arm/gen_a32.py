"""Random A32 instructions per form, for the differential tests.

``GENERATORS`` maps a form name of ``pysystem.cpu.arm.a32`` to a function
``gen(rng) -> [insn, ...]``: a short prologue (setting the base/index registers
of memory forms with MOVW/MOVT so every access stays in the data region) and the
instruction itself, with random operands.  Encodings the architecture calls
UNPREDICTABLE are not generated; each generator says which ones it avoids.

Forms deliberately absent (branches, exceptions, mode changes, coprocessors,
SETEND) have directed tests instead: see ``NOT_RANDOM``.
"""
from __future__ import annotations

import random
from typing import Callable, Dict, List

from pysystem.cpu.arm import a32

from harness import DATA_BASE

BASE = 11            # memory forms address through r11 (set by their prologue)
BASE_ADDR = DATA_BASE + 0x8000
AL = 0xE

NOT_RANDOM = {
    "B": "branch (directed tests)", "BX": "branch", "BXJ": "branch", "BLX_reg": "branch",
    "BLX_imm": "branch", "SVC": "exception", "BKPT": "exception", "UDF": "exception",
    "SMC": "exception", "MCR": "system register (directed tests)", "MRC": "system register",
    "MCRR": "UNDEF on A9 for cp15", "CPS": "mode change", "SETEND": "big-endian data",
    "SRS": "mode/stack (directed tests)", "RFE": "exception return", "HINT": "WFI/WFE halt",
}

REG_FIELDS = ("rd", "rn", "rm", "rs", "ra", "rt", "rt2", "rdhi", "rdlo")


def encode(name: str, **fields) -> int:
    form = a32.decoders()[0].form(name) if name in _COND_NAMES else a32.decoders()[1].form(name)
    insn = form.match
    for fname, shift, width in form.fields:
        if fname == "cond":
            v = fields.get("cond", AL)
        else:
            v = fields[fname]
        assert 0 <= v < (1 << width), (name, fname, v)
        insn |= v << shift
    return insn


_COND_NAMES = {f.name for f in a32.FORMS}


def movw(rd: int, imm: int) -> int:
    return encode("MOVW", rd=rd, imm4=(imm >> 12) & 0xF, imm12=imm & 0xFFF)


def movt(rd: int, imm: int) -> int:
    return encode("MOVT", rd=rd, imm4=(imm >> 12) & 0xF, imm12=imm & 0xFFF)


def set_reg(rd: int, value: int) -> List[int]:
    return [movw(rd, value & 0xFFFF), movt(rd, value >> 16)]


def reg(rng, exclude=()) -> int:
    while True:
        r = rng.randrange(15)
        if r not in exclude:
            return r


def cond(rng) -> int:
    return AL if rng.random() < 0.6 else rng.randrange(15)


def _dp(kind):
    def gen(rng):
        op = rng.randrange(16)
        s = 1 if 8 <= op <= 11 else rng.randrange(2)
        f = dict(cond=cond(rng), op=op, s=s, rd=0 if 8 <= op <= 11 else reg(rng),
                 rn=0 if op in (13, 15) else reg(rng))
        if kind == "imm":
            f.update(rot=rng.randrange(16), imm8=rng.randrange(256))
        elif kind == "reg":
            f.update(rm=reg(rng), shimm=rng.randrange(32), shtype=rng.randrange(4))
        else:
            f.update(rm=reg(rng), rs=reg(rng), shtype=rng.randrange(4))
        return [encode("DP_" + kind, **f)]
    return gen


def _simple(name, **extra):
    """Forms whose fields are all registers (never r15) or small immediates."""
    form = a32.decoders()[0].form(name)

    def gen(rng):
        f = {"cond": cond(rng)}
        for fname, shift, width in form.fields:
            if fname == "cond":
                continue
            if fname in REG_FIELDS:
                f[fname] = reg(rng)
            else:
                f[fname] = rng.randrange(1 << width)
        for k, v in extra.items():
            f[k] = v(rng, f) if callable(v) else v
        return [encode(name, **f)]
    return gen


def _distinct(a, b):
    def fix(rng, f):
        return reg(rng, exclude=(f[a],))
    return fix


def _ldst(name):
    """LDR/STR/LDRB/STRB (+T forms) through r11, avoiding rt == rn with writeback."""
    def gen(rng):
        p, w = rng.randrange(2), rng.randrange(2)
        f = dict(cond=cond(rng), p=p, u=rng.randrange(2), b=rng.randrange(2), w=w,
                 l=rng.randrange(2), rn=BASE, rt=reg(rng, exclude=(BASE,)))
        pro = set_reg(BASE, BASE_ADDR + rng.randrange(-64, 64))
        if name == "LDST_imm":
            f["imm"] = rng.randrange(4096)
        else:
            rm = reg(rng, exclude=(BASE, f["rt"]))
            f.update(rm=rm, shimm=rng.randrange(4), shtype=0)
            pro += [movw(rm, rng.randrange(0x400))]
        return pro + [encode(name, **f)]
    return gen


def _ldrh(name):
    def gen(rng):
        while True:
            op2, l = rng.randrange(1, 4), rng.randrange(2)
            if op2 == 1 or l:
                break
        p, w = rng.randrange(2), rng.randrange(2)
        f = dict(cond=cond(rng), p=p, u=rng.randrange(2), w=w, l=l, op2=op2, rn=BASE,
                 rt=reg(rng, exclude=(BASE,)))
        pro = set_reg(BASE, BASE_ADDR + rng.randrange(-64, 64))
        if name == "LDRH_imm":
            f.update(imh=rng.randrange(16), iml=rng.randrange(16))
        else:
            rm = reg(rng, exclude=(BASE, f["rt"]))
            f["rm"] = rm
            pro += [movw(rm, rng.randrange(0x400))]
        return pro + [encode(name, **f)]
    return gen


def _ldrd(name):
    def gen(rng):
        p = rng.randrange(2)
        w = rng.randrange(2) if p else 0
        rt = rng.choice([0, 2, 4, 6, 8, 12])
        f = dict(cond=cond(rng), p=p, u=rng.randrange(2), w=w, rn=BASE, rt=rt)
        pro = set_reg(BASE, BASE_ADDR + 4 * rng.randrange(-16, 16))
        if name.endswith("imm"):
            imm = 4 * rng.randrange(64)
            f.update(imh=imm >> 4, iml=imm & 0xF)
        else:
            rm = reg(rng, exclude=(BASE, rt, rt + 1))
            f["rm"] = rm
            pro += [movw(rm, 4 * rng.randrange(0x100))]
        return pro + [encode(name, **f)]
    return gen


def _ldm(rng):
    regs = [r for r in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14) if rng.random() < 0.4] or [0]
    f = dict(cond=cond(rng), b=rng.randrange(2), u=rng.randrange(2), user=0, w=rng.randrange(2),
             load=rng.randrange(2), rn=BASE, reglist=sum(1 << r for r in regs))
    return set_reg(BASE, BASE_ADDR + 4 * rng.randrange(-16, 16)) + [encode("LDM", **f)]


def _excl(rng):
    sz = rng.randrange(4)
    size = (4, 8, 1, 2)[sz]
    rt = rng.choice([0, 2, 4, 6, 8]) if size == 8 else reg(rng, exclude=(BASE,))
    addr = BASE_ADDR + size * rng.randrange(-8, 8)
    out = set_reg(BASE, addr)
    out.append(encode("LDREX", cond=AL, sz=sz, rn=BASE, rt=rt))
    rd = reg(rng, exclude=(BASE, rt, rt + 1))
    rt2 = rng.choice([0, 2, 4, 6, 8]) if size == 8 else reg(rng, exclude=(BASE, rd))
    if size == 8 and rd in (rt2, rt2 + 1):
        rd = 10 if rt2 != 10 else 12
    if rng.random() < 0.3:
        out.append(encode("CLREX"))
    out.append(encode("STREX", cond=AL, sz=sz, rn=BASE, rd=rd, rt=rt2))
    return out


def _swp(rng):
    b = rng.randrange(2)
    rt = reg(rng, exclude=(BASE,))
    rt2 = reg(rng, exclude=(BASE,))
    return set_reg(BASE, BASE_ADDR + 4 * rng.randrange(-16, 16)) + \
        [encode("SWP", cond=cond(rng), b=b, rn=BASE, rt=rt, rt2=rt2)]


def _mull(rng):
    rdlo = reg(rng)
    return [encode("MULL", cond=cond(rng), su=rng.randrange(2), acc=rng.randrange(2), s=rng.randrange(2),
                   rdhi=reg(rng, exclude=(rdlo,)), rdlo=rdlo, rm=reg(rng), rn=reg(rng))]


def _mul(rng):
    acc = rng.randrange(2)
    return [encode("MUL", cond=cond(rng), acc=acc, s=rng.randrange(2), rd=reg(rng),
                   ra=reg(rng) if acc else 0, rm=reg(rng), rn=reg(rng))]


def _rdhilo(name):
    form = a32.decoders()[0].form(name)

    def gen(rng):
        f = {"cond": cond(rng)}
        for fname, shift, width in form.fields:
            if fname != "cond":
                f[fname] = reg(rng) if fname in REG_FIELDS else rng.randrange(1 << width)
        f["rdhi"] = reg(rng, exclude=(f["rdlo"],))
        return [encode(name, **f)]
    return gen


def _maybe15(name, field, **extra):
    base = _simple(name, **extra)

    def gen(rng):
        insn = base(rng)[0]
        if rng.random() < 0.3:
            form = a32.decoders()[0].form(name)
            for fname, shift, width in form.fields:
                if fname == field:
                    insn |= 15 << shift
        return [insn]
    return gen


def _parallel(rng):
    return [encode("PARALLEL", cond=cond(rng), u=rng.randrange(2), op1=rng.randrange(1, 4),
                   op2=rng.choice([0, 1, 2, 3, 4, 7]), rn=reg(rng), rd=reg(rng), rm=reg(rng))]


def _extend(rng):
    rn = 15 if rng.random() < 0.4 else reg(rng)
    return [encode("EXTEND", cond=cond(rng), op=rng.choice([0, 2, 3, 4, 6, 7]), rn=rn, rd=reg(rng),
                   rot=rng.randrange(4), rm=reg(rng))]


def _bfx(rng):
    lsb = rng.randrange(32)
    return [encode("BFX", cond=cond(rng), u=rng.randrange(2), widthm1=rng.randrange(32 - lsb),
                   rd=reg(rng), lsb=lsb, rn=reg(rng))]


def _bfci(rng):
    lsb = rng.randrange(32)
    rn = 15 if rng.random() < 0.3 else reg(rng)
    return [encode("BFCI", cond=cond(rng), msb=rng.randrange(lsb, 32), rd=reg(rng), lsb=lsb, rn=rn)]


def _smmla(rng):
    op = rng.choice([0, 3])
    ra = reg(rng) if op == 3 or rng.random() < 0.6 else 15
    return [encode("SMMLA", cond=cond(rng), rd=reg(rng), ra=ra, rm=reg(rng), op=op, r=rng.randrange(2),
                   rn=reg(rng))]


def _msr(name):
    def gen(rng):
        mask = rng.choice([8, 4, 12])
        if name == "MSR_imm":
            return [encode(name, cond=cond(rng), r=0, mask=mask, rot=rng.randrange(16), imm8=rng.randrange(256))]
        return [encode(name, cond=cond(rng), r=0, mask=mask, rn=reg(rng))]
    return gen


def _fixed(name, **fields):
    def gen(rng):
        return [encode(name, **fields)]
    return gen


GENERATORS: Dict[str, Callable[[random.Random], List[int]]] = {
    "MOVW": lambda rng: [encode("MOVW", cond=cond(rng), rd=reg(rng), imm4=rng.randrange(16), imm12=rng.randrange(4096))],
    "MOVT": lambda rng: [encode("MOVT", cond=cond(rng), rd=reg(rng), imm4=rng.randrange(16), imm12=rng.randrange(4096))],
    "MSR_imm": _msr("MSR_imm"),
    "MSR_reg": _msr("MSR_reg"),
    "MRS": lambda rng: [encode("MRS", cond=cond(rng), r=0, rd=reg(rng))],
    "DP_imm": _dp("imm"),
    "DP_reg": _dp("reg"),
    "DP_rsr": _dp("rsr"),
    "MUL": _mul,
    "UMAAL": _rdhilo("UMAAL"),
    "MLS": _simple("MLS"),
    "MULL": _mull,
    "SWP": _swp,
    "STREX": _excl,
    "LDREX": _excl,
    "LDRD_imm": _ldrd("LDRD_imm"),
    "STRD_imm": _ldrd("STRD_imm"),
    "LDRD_reg": _ldrd("LDRD_reg"),
    "STRD_reg": _ldrd("STRD_reg"),
    "LDRH_imm": _ldrh("LDRH_imm"),
    "LDRH_reg": _ldrh("LDRH_reg"),
    "CLZ": _simple("CLZ"),
    "QADDSUB": _simple("QADDSUB"),
    "SMLAxy": _simple("SMLAxy"),
    "SMLAWy": _simple("SMLAWy"),
    "SMULWy": _simple("SMULWy"),
    "SMLALxy": _rdhilo("SMLALxy"),
    "SMULxy": _simple("SMULxy"),
    "LDST_imm": _ldst("LDST_imm"),
    "LDST_reg": _ldst("LDST_reg"),
    "PARALLEL": _parallel,
    "PKH": _simple("PKH"),
    "SEL": _simple("SEL"),
    "EXTEND": _extend,
    "SAT16": _simple("SAT16"),
    "SAT": _simple("SAT"),
    "REV": _simple("REV"),
    "REV16": _simple("REV16"),
    "RBIT": _simple("RBIT"),
    "REVSH": _simple("REVSH"),
    "SMLAD": _maybe15("SMLAD", "ra"),
    "SMLALD": _rdhilo("SMLALD"),
    "SMMLA": _smmla,
    "USADA8": _maybe15("USADA8", "ra"),
    "BFX": _bfx,
    "BFCI": _bfci,
    "LDM": _ldm,
    "CLREX": _fixed("CLREX"),
    "DSB": _fixed("DSB", opt=15),
    "DMB": _fixed("DMB", opt=15),
    "ISB": _fixed("ISB", opt=15),
    "PLD_imm": lambda rng: [encode("PLD_imm") | (rng.randrange(2) << 23) | (rng.randrange(15) << 16) | rng.randrange(4096)],
}


def random_sequence(rng: random.Random, n: int, forms=None) -> List[int]:
    """About ``n`` instructions drawn from ``forms`` (default: every generator)."""
    names = list(forms or GENERATORS)
    out: List[int] = []
    while len(out) < n:
        out += GENERATORS[rng.choice(names)](rng)
    return out


def random_program(rng: random.Random, n: int, base: int, forms=None, branch_rate: float = 0.08) -> List[int]:
    """Like ``random_sequence`` but with forward branches between instruction groups:
    conditional B/BL, and BX through r12, to the start of a later group (or the end).
    ``base`` is the address the code will run at."""
    names = list(forms or GENERATORS)
    groups: List[list] = []
    count = 0
    while count < n:
        if rng.random() < branch_rate:
            kind = rng.choice(["B", "BL", "BX"])
            groups.append([kind, cond(rng), rng.randrange(0, 8)])  # spans up to ~30 insns: predication
            count += 3 if kind == "BX" else 1
        else:
            g = GENERATORS[rng.choice(names)](rng)
            groups.append(g)
            count += len(g)
    sizes = [3 if g[0] == "BX" else 1 if g[0] in ("B", "BL") else len(g) for g in groups]
    starts = []
    pos = base
    for sz in sizes:
        starts.append(pos)
        pos += 4 * sz
    end = pos
    out: List[int] = []
    for i, g in enumerate(groups):
        if g[0] in ("B", "BL", "BX"):
            kind, c, skip = g
            j = i + 1 + skip
            target = starts[j] if j < len(groups) else end
            here = starts[i]
            if kind == "BX":
                out += set_reg(12, target)
                out.append(encode("BX", cond=c, rm=12))
            else:
                off = (target - (here + 8)) >> 2
                out.append(encode("B", cond=c, link=int(kind == "BL"), imm24=off & 0xFFFFFF))
        else:
            out += g
    return out
