"""Random T32 (Thumb/Thumb-2) instructions per form, for the differential tests.

``GENERATORS`` maps a form name of ``pysystem.cpu.arm.t32`` (plus ``COPROC`` for
the coprocessor space decoded through the A32 table) to ``gen(g) -> (prologue,
body)``: lists of halfwords.  ``g`` is a ``Ctx`` with the random generator, the
byte offset where the output will start (branch forms lay out their targets
from it) and the registers the body must not write (inside IT blocks).

Memory forms address through r7 (``BASE``) and index through r6 (``INDEX``),
both set by their prologue, so accesses stay in the harness's data region.
Inside an IT block the prologues of every slot run before the IT instruction,
and no slot writes r6, r7 or SP.

UNPREDICTABLE encodings are not generated (see ``UNPREDICTABLE``); forms tested
by directed tests instead are listed in ``NOT_RANDOM`` with the reason.

Where Unicorn (QEMU 5) and the architecture differ, the generators steer clear and
test_t32_system.py checks ARMCPU's behaviour instead:

* YIELD, WFE and WFI stop Unicorn's run: hints are NOP, SEV and unallocated ones.
* An ISB inside an IT block makes Unicorn drop the IT state for the instructions
  after it: no ISB in IT blocks.
* Unicorn ignores CPS changes to CPSR.A and CPSR.F: CPS changes only I.
* Unicorn does not take the alignment fault of an unaligned LDM/STM/LDRD: bases of
  those stay word-aligned (write-back offsets in IT blocks are multiples of 4).
* MSR SPSR with the s field: QEMU drops the reserved bits 23:20, ARMCPU keeps them.
"""
from __future__ import annotations

import random
from typing import Callable, Dict, List, Sequence, Tuple

from pysystem.cpu.arm import t32

from harness import CODE_BASE, DATA_BASE

BASE = 7
INDEX = 6
BASE_ADDR = DATA_BASE + 0x8000
LOW = tuple(range(8))
ANY = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14)   # no SP, no PC

NOT_RANDOM = {
    "SVC16": "exception (directed test)", "BKPT16": "exception", "UDF16": "exception",
    "UDF_t": "exception", "SMC_t": "exception", "SRS_t": "mode/stack (directed test)",
    "RFE_t": "exception return", "SUBS_pc_lr": "exception return (directed test)",
    "SETEND16": "big-endian data", "BLX32": "to ARM state (directed test)",
}

UNPREDICTABLE = """\
Not generated (UNPREDICTABLE in ARMv7-A, or behaviour differs between implementations):
SP or PC as a general operand where T32 forbids them; MOV/ADD (high) with PC as both
operands; CMP (high) with two low registers; LDM/STM with fewer than two registers, SP
in the list, PC in a store list, or write-back to a base in the list; loads/stores with
write-back and Rt == Rn; LDRD/LDREXD with Rt == Rt2; ThumbExpandImm replicated forms
with imm8 == 0; IT with firstcond 1111, AL with more than one instruction, IT inside
an IT block, branches other than as the last instruction of an IT block, CBZ/CBNZ
in an IT block; hints with PC write-back; SSAT/USAT with sat_imm > 31."""


class Ctx:
    def __init__(self, rng: random.Random, pos: int = 0, avoid: Sequence[int] = ()):
        self.rng = rng
        self.pos = pos
        self.avoid = set(avoid)

    def r(self, pool=ANY, exclude=()) -> int:
        """A source register."""
        while True:
            v = self.rng.choice(pool)
            if v not in exclude:
                return v

    def d(self, pool=ANY, exclude=()) -> int:
        """A destination register (not one the caller protects)."""
        return self.r(pool, tuple(exclude) + tuple(self.avoid))

    def bit(self) -> int:
        return self.rng.randrange(2)

    def n(self, bits: int) -> int:
        return self.rng.randrange(1 << bits)


_FORMS = {}


def _form(name: str):
    if not _FORMS:
        d16, d32 = t32.decoders()
        for f in d16.forms + d32.forms:
            _FORMS[f.name] = f
    return _FORMS[name]


def enc(name: str, **fields) -> List[int]:
    """Encode a form from its raw fields; returns its halfwords."""
    form = _form(name)
    insn = form.match
    for fname, shift, width in form.fields:
        v = fields[fname]
        assert 0 <= v < (1 << width), (name, fname, v)
        insn |= v << shift
    if form.width == 16:
        return [insn]
    return [insn >> 16, insn & 0xFFFF]


def movw(rd: int, imm: int) -> List[int]:
    return enc("MOVW_t", i=(imm >> 11) & 1, imm4=imm >> 12, imm3=(imm >> 8) & 7, rd=rd, imm8=imm & 0xFF)


def movt(rd: int, imm: int) -> List[int]:
    return enc("MOVT_t", i=(imm >> 11) & 1, imm4=imm >> 12, imm3=(imm >> 8) & 7, rd=rd, imm8=imm & 0xFF)


def set_reg(rd: int, value: int) -> List[int]:
    return movw(rd, value & 0xFFFF) + movt(rd, value >> 16)


def base(g: Ctx, spread: int = 64, align: int = 4) -> List[int]:
    return set_reg(BASE, BASE_ADDR + align * g.rng.randrange(-spread, spread))


def set_sp(g: Ctx) -> List[int]:
    """SP := somewhere in the data region (through r7)."""
    return base(g, 16, 4) + enc("MOV_hi", d=1, rm=BASE, rd_=5)


Gen = Callable[[Ctx], Tuple[List[int], List[int]]]


def _plain(name: str, regs: Dict[str, tuple] = None, fixed: Dict = None, dst=("rd",), **special) -> Gen:
    """Every field random: register fields from ``regs`` (default ANY or LOW by width),
    others uniform; ``fixed`` values; ``special`` callables f(g, fields) -> value."""
    form = _form(name)
    regs = regs or {}
    fixed = fixed or {}
    pool = LOW if form.width == 16 else ANY

    def gen(g: Ctx):
        f = {}
        for fname, shift, width in form.fields:
            if fname in fixed:
                f[fname] = fixed[fname]
            elif fname in regs or fname in ("rd", "rn", "rm", "ra", "rt", "rdn", "rdm", "rdlo", "rdhi"):
                p = regs.get(fname, pool)
                f[fname] = g.d(p) if fname in dst else g.r(p)
            else:
                f[fname] = g.n(width)
        for k, v in special.items():
            f[k] = v(g, f)
        return [], enc(name, **f)
    return gen


def _choice(*values):
    return lambda g, f: g.rng.choice(values)


# --- data processing --------------------------------------------------------------------

def _dp_sreg(g: Ctx):
    top = g.rng.choice([0, 1, 2, 3, 4, 8, 10, 11, 13, 14])
    s = g.bit()
    rd, rn = g.d(), g.r()
    if top in (0, 4, 8, 13) and g.rng.random() < 0.25:
        rd, s = 15, 1
    if top in (2, 3) and g.rng.random() < 0.4:
        rn = 15
    return [], enc("DP_sreg", top=top, s=s, rn_=rn, imm3=g.n(3), rd_=rd, imm2=g.n(2), shtype=g.n(2), rm=g.r())


def _mimm(g: Ctx):
    while True:
        i, imm3, imm8 = g.bit(), g.n(3), g.n(8)
        if (i << 3 | imm3) in (1, 2, 3) and imm8 == 0:
            continue
        return i, imm3, imm8


def _dp_mimm(g: Ctx):
    top = g.rng.choice([0, 1, 2, 3, 4, 8, 10, 11, 13, 14])
    s = g.bit()
    rd, rn = g.d(), g.r()
    if top in (0, 4, 8, 13) and g.rng.random() < 0.25:
        rd, s = 15, 1
    if top in (2, 3) and g.rng.random() < 0.4:
        rn = 15
    i, imm3, imm8 = _mimm(g)
    return [], enc("DP_mimm", i=i, top=top, s=s, rn_=rn, imm3=imm3, rd_=rd, imm8=imm8)


def _hi_pair(name):
    def gen(g: Ctx):
        if name == "CMP_hi":
            while True:
                rn, rm = g.r(), g.r()
                if rn >= 8 or rm >= 8:
                    break
            return [], enc(name, n=rn >> 3, rm=rm, rn_=rn & 7)
        rd = g.d()
        rm = 15 if g.rng.random() < 0.15 else g.r()   # reads as this instruction + 4
        if name == "ADD_hi":
            return [], enc(name, dn=rd >> 3, rm=rm, rdn=rd & 7)
        return [], enc(name, d=rd >> 3, rm=rm, rd_=rd & 7)
    return gen


def _sat(g: Ctx):
    sh = g.bit()
    imm = g.n(5)
    if sh and imm == 0:
        imm = 1 + g.n(4)
    return [], enc("SAT_t", u=g.bit(), sh=sh, rn=g.r(), imm3=imm >> 2, rd=g.d(), imm2=imm & 3, satimm=g.n(5))


def _bfx(g: Ctx):
    lsb = g.n(5)
    return [], enc("BFX_t", u=g.bit(), rn=g.r(), imm3=lsb >> 2, rd=g.d(), imm2=lsb & 3,
                   widthm1=g.rng.randrange(32 - lsb))


def _bfi(g: Ctx):
    lsb = g.n(5)
    rn = 15 if g.rng.random() < 0.3 else g.r()
    return [], enc("BFI_t", rn=rn, imm3=lsb >> 2, rd=g.d(), imm2=lsb & 3, msb=g.rng.randrange(lsb, 32))


def _adr_t(g: Ctx):
    sub = g.bit()
    return [], enc("ADR_t", i=g.bit(), sub=sub, sub2=sub, imm3=g.n(3), rd=g.d(), imm8=g.n(8))


def _mull(name):
    def gen(g: Ctx):
        lo = g.d()
        return [], enc(name, su=g.bit(), rn=g.r(), rdlo=lo, rdhi=g.d(exclude=(lo,)), rm=g.r())
    return gen


def _lohi(name, **fixed):
    form = _form(name)

    def gen(g: Ctx):
        f = dict(fixed)
        lo = g.d()
        f.update(rdlo=lo, rdhi=g.d(exclude=(lo,)), rn=g.r(), rm=g.r())
        for fname, shift, width in form.fields:
            if fname not in f:
                f[fname] = g.n(width)
        return [], enc(name, **f)
    return gen


def _ra15(name, p=0.3, **fixed):
    form = _form(name)

    def gen(g: Ctx):
        f = dict(fixed)
        f.update(rd=g.d(), rn=g.r(), rm=g.r(), ra=15 if g.rng.random() < p else g.r())
        for fname, shift, width in form.fields:
            if fname not in f:
                f[fname] = g.n(width)
        return [], enc(name, **f)
    return gen


def _msr(g: Ctx):
    if g.rng.random() < 0.3:  # SPSR_svc: not the s field (bits 23:20 are reserved:
        # QEMU drops them, ARMCPU.write_spsr keeps them)
        return [], enc("MSR_t", r=1, rn=g.r(), mask=g.rng.choice([1, 2, 3, 8, 9, 10, 11]))
    return [], enc("MSR_t", r=0, rn=g.r(), mask=g.rng.choice([8, 4, 12]))


def _cps(name):
    def gen(g: Ctx):
        # only I: Unicorn's A9 ignores CPS changes to A and F (its CPU is not in the
        # Secure state with SCR.AW/FW clear as ours is after reset)
        aif = 2
        if name == "CPS16":
            return [], enc(name, im=g.bit(), a=aif >> 2 & 1, i=aif >> 1 & 1, f=aif & 1)
        return [], enc(name, imod=g.rng.choice([2, 3]), m=0, a=aif >> 2 & 1, i=aif >> 1 & 1, f=aif & 1, mode=0)
    return gen


# --- loads and stores -------------------------------------------------------------------------

def _ldst16(name):
    def gen(g: Ctx):
        pro = base(g)
        if name == "LDST_reg16":
            opb = g.n(3)
            pro += movw(INDEX, g.n(9))
            load = opb >= 3
            rt = g.d(LOW, (BASE, INDEX)) if load else g.r(LOW)
            return pro, enc(name, opb=opb, rm=INDEX, rn=BASE, rt=rt)
        l = g.bit()
        rt = g.d(LOW, (BASE, INDEX)) if l else g.r(LOW)
        if name == "LDST_imm16":
            return pro, enc(name, b=g.bit(), l=l, imm5=g.n(5), rn=BASE, rt=rt)
        return pro, enc(name, l=l, imm5=g.n(5), rn=BASE, rt=rt)
    return gen


def _ldst_sp(g: Ctx):
    l = g.bit()
    rt = g.d(LOW, (BASE,)) if l else g.r(LOW)
    return set_sp(g), enc("LDST_sp16", l=l, rt=rt, imm8=g.n(8))


def _ldr_lit16(g: Ctx):
    return [], enc("LDR_lit16", rt=g.d(LOW), imm8=g.n(8))


def _sz_sign(g: Ctx, load: int):
    while True:
        sz, sg = g.rng.choice([0, 1, 2]), g.bit()
        if not sg or (load and sz < 2):
            return sz, sg


def _ldst32(name):
    def gen(g: Ctx):
        load = g.bit() if name != "LDST_lit" else 1
        sz, sg = _sz_sign(g, load)
        hint = load and sz < 2 and g.rng.random() < 0.1
        rt = 15 if hint else (g.d(exclude=(BASE, INDEX)) if load else g.r(exclude=(BASE,)))
        pro = base(g, 64)
        if name == "LDST_lit":
            return [], enc(name, sg=sg, u=g.bit(), sz=sz, l=1, rt=rt, imm=g.n(12))
        if name == "LDST_imm12":
            return pro, enc(name, sg=sg, sz=sz, l=load, rn=BASE, rt=rt, imm=g.n(12))
        if name == "LDST_reg_t":
            pro += movw(INDEX, g.n(8))
            return pro, enc(name, sg=sg, sz=sz, l=load, rn=BASE, rt=rt, imm2=g.n(2), rm=INDEX)
        while True:
            p, u, w = g.bit(), g.bit(), g.bit()
            if not p and not w:
                continue
            if hint and (not p or u or w):
                continue
            break
        # inside an IT block the base stays word-aligned for the LDM/LDRD slots after it
        # (Unicorn does not raise the alignment fault an unaligned LDM/STM/LDRD takes)
        imm = g.n(6) << 2 if g.avoid else g.n(8)
        return pro, enc(name, sg=sg, sz=sz, l=load, rn=BASE, rt=rt, p=p, u=u, w=w, imm=imm)
    return gen


def _ldrd(g: Ctx):
    p = g.bit()
    w = g.bit() if p else 1
    load = g.bit()
    if load:
        rt = g.d(exclude=(BASE, INDEX))
        rt2 = g.d(exclude=(BASE, INDEX, rt))
    else:
        rt, rt2 = g.r(exclude=(BASE,)), g.r(exclude=(BASE,))
    if load and g.rng.random() < 0.2:   # literal: PC-relative, no write-back
        return [], enc("LDRD_t", p=1, u=g.bit(), w=0, load=1, rn=15, rt=rt, rt2=rt2, imm8=g.n(8))
    return base(g, 16, 4), enc("LDRD_t", p=p, u=g.bit(), w=w, load=load, rn=BASE, rt=rt, rt2=rt2, imm8=g.n(6))


def _reglist(g: Ctx, pool, exclude=(), minimum=1) -> int:
    while True:
        regs = [r for r in pool if r not in exclude and g.rng.random() < 0.4]
        if len(regs) >= minimum:
            return sum(1 << r for r in regs)


def _ldm16(g: Ctx):
    load = g.bit()
    if load:
        lst = _reglist(g, LOW, tuple(g.avoid) + (BASE,))
    else:
        lst = _reglist(g, LOW, (BASE,))
    return base(g, 16, 4), enc("LDM16", load=load, rn=BASE, reglist=lst)


def _push(g: Ctx):
    return set_sp(g), enc("PUSH16", m=g.bit(), list_=_reglist(g, LOW))


def _pop(g: Ctx):
    return set_sp(g), enc("POP16", p_=0, list_=_reglist(g, LOW, (BASE,)))


def _ldm32(g: Ctx):
    load = g.bit()
    excl = tuple(g.avoid) + (BASE,) if load else (BASE,)
    lst = _reglist(g, ANY, excl, 2)
    return base(g, 16, 4), enc("LDM_t", op_=g.rng.choice([1, 2]), w=g.bit(), load=load, rn=BASE, reglist=lst)


def _excl(g: Ctx):
    kind = g.rng.choice(["w", "b", "h", "d"])
    size = {"w": 4, "b": 1, "h": 2, "d": 8}[kind]
    pro = set_reg(BASE, BASE_ADDR + size * g.rng.randrange(-8, 8))
    rt = g.r(exclude=(BASE,))
    rt2 = g.r(exclude=(BASE, rt))
    body = []
    if kind == "w":
        imm8 = g.n(4)
        body += enc("LDREX_t", rn=BASE, rt=rt, imm8=imm8)
    elif kind == "d":
        body += enc("LDREXD_t", rn=BASE, rt=rt, rt2=rt2)
    else:
        body += enc("LDREXBH_t", rn=BASE, rt=rt, h=int(kind == "h"))
    if g.rng.random() < 0.3:
        body += enc("CLREX_t", opt=15)
    st, st2 = g.r(exclude=(BASE,)), g.r(exclude=(BASE,))
    rd = g.r(exclude=(BASE, st, st2))
    if kind == "w":
        body += enc("STREX_t", rn=BASE, rt=st, rd=rd, imm8=imm8 if g.rng.random() < 0.8 else g.n(4))
    elif kind == "d":
        body += enc("STREXD_t", rn=BASE, rt=st, rt2=st2, rd=rd)
    else:
        body += enc("STREXBH_t", rn=BASE, rt=st, h=int(kind == "h"), rd=rd)
    return pro, body


def _coproc(g: Ctx):
    """MCR/MRC of TPIDRURW/TPIDRURO (through the A32 decoder)."""
    opc2 = g.rng.choice([2, 3])
    rt, rt2 = g.r(), g.d()
    mcr = 0xEE000010 | (13 << 16) | (rt << 12) | (15 << 8) | (opc2 << 5)
    mrc = 0xEE100010 | (13 << 16) | (rt2 << 12) | (15 << 8) | (opc2 << 5)
    return [], [mcr >> 16, mcr & 0xFFFF, mrc >> 16, mrc & 0xFFFF]


# --- branches ----------------------------------------------------------------------------------

def _filler(g: Ctx, k: int) -> List[int]:
    """k 16-bit instructions that mark whether they ran (ADDS r0..r3, #imm)."""
    return [enc("ADDSUB_imm8", sub=0, rd=g.r((0, 1, 2, 3)), imm8=1 + g.n(7))[0] for _ in range(k)]


def _b16(name):
    def gen(g: Ctx):
        k = 1 + g.n(3)
        if name == "B16":
            br = enc(name, imm11=2 * k - 2 >> 1)
        else:
            br = enc(name, cond=g.rng.randrange(14), imm8=(2 * k - 2) >> 1)
        return [], br + _filler(g, k)
    return gen


def _b32(name):
    def gen(g: Ctx):
        k = 1 + g.n(3)
        imm = 2 * k  # target = insn + 4 + imm
        f = dict(s_=0, j1=0, j2=0, imm11=(imm >> 1) & 0x7FF)
        if name == "B_cond32":
            f.update(cond=g.rng.randrange(14), imm6=0)
        else:
            f.update(imm10=0, j1=1, j2=1)
        return [], enc(name, **f) + _filler(g, k)
    return gen


def _cbz(g: Ctx):
    k = 1 + g.n(3)
    imm = 2 * k - 2
    return [], enc("CBZ", nz=g.bit(), i_=imm >> 6, imm5=(imm >> 1) & 31, rn=g.r((0, 1, 2, 3, 4, 5))) + _filler(g, k)


def _tbb(g: Ctx):
    h = g.bit()
    n = 1 + g.n(3)
    fill = 2 + g.n(3)
    table_hw = n if h else (n + 1) // 2
    entries = [table_hw + g.rng.randrange(fill) for _ in range(n)]
    if h:
        table = entries
    else:
        b = entries + [0] * (table_hw * 2 - n)
        table = [b[i] | b[i + 1] << 8 for i in range(0, len(b), 2)]
    idx = g.rng.randrange(n)
    return movw(INDEX, idx), enc("TBB", rn=15, h=h, rm=INDEX) + table + _filler(g, fill)


def _bx(name):
    def gen(g: Ctx):
        rm = g.r((0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12))
        k = 1 + g.n(3)
        # prologue movw/movt (8 bytes), then the BX (2 or 4 bytes), then k fillers
        size = 4 if name == "BXJ_t" else 2
        target = CODE_BASE + g.pos + 8 + size + 2 * k
        pro = set_reg(rm, target | 1)
        if name == "BXJ_t":
            br = enc(name, rm=rm)
        else:
            br = enc(name, rm=rm)
        return pro, br + _filler(g, k)
    return gen


def _bl_bx(g: Ctx):
    """BL to a BX LR that returns past a B over it."""
    k = g.n(3)
    # BL (4) ; B16 over [k fillers + BX LR] ; fillers ; BX LR
    bl_imm = 2  # target = BL + 4 + 2 -> skips the B16
    out = enc("BL32", s_=0, imm10=0, j1=1, j2=1, imm11=bl_imm >> 1)
    out += enc("B16", imm11=(2 * (k + 1) - 2) >> 1)
    out += _filler(g, k) + enc("BX16", rm=14)
    return [], out


def _load_pc(name):
    """POP {..., pc} / LDR pc, [sp], #4 / LDMIA sp!, {..., pc} / MOV pc, rm: a branch
    forward over fillers to an address the prologue pushed (or holds in rm)."""
    def gen(g: Ctx):
        k = 1 + g.n(3)
        rm = g.r((0, 1, 2, 3, 4, 5))
        others = (0, 1, 2, 3, 4, 5)
        if name == "MOV_pc":
            body = enc("MOV_hi", d=1, rm=rm, rd_=7)
            below = 0
        elif name == "POP_pc":
            lst = _reglist(g, others, (rm,), 0)
            body = enc("POP16", p_=1, list_=lst)
            below = bin(lst).count("1")
        elif name == "LDR_pc":
            body = enc("LDST_imm8", sg=0, sz=2, l=1, rn=13, rt=15, p=0, u=1, w=1, imm=4)
            below = 0
        else:
            lst = _reglist(g, others, (rm,), 1)
            body = enc("LDM_t", op_=1, w=1, load=1, rn=13, reglist=(1 << 15) | lst)
            below = bin(lst).count("1")
        pro: List[int] = []
        if name != "MOV_pc":
            pro += set_sp(g)
        tail = [] if name == "MOV_pc" else enc("PUSH16", m=0, list_=1 << rm)
        if below:   # the other registers are loaded first, from below the target
            tail += enc("ADDSUB_sp7", sub=1, imm7=below)
        target = CODE_BASE + g.pos + 2 * (len(pro) + 4 + len(tail) + len(body) + k)
        return pro + set_reg(rm, target | 1) + tail, body + _filler(g, k)
    return gen


def _hint(name):
    def gen(g: Ctx):
        return [], enc(name, op=g.rng.choice([0, 4, 5, 15]))  # YIELD/WFE/WFI stop Unicorn
    return gen


L16 = {"rm": LOW, "rn": LOW, "rd": LOW}

GENERATORS: Dict[str, Gen] = {
    # 16-bit
    "ADDSUB_reg16": _plain("ADDSUB_reg16"),
    "ADDSUB_imm3": _plain("ADDSUB_imm3"),
    "SHIFT_imm16": _plain("SHIFT_imm16", shtype=_choice(0, 1, 2)),
    "MOV_imm8": _plain("MOV_imm8"),
    "CMP_imm8": _plain("CMP_imm8"),
    "ADDSUB_imm8": _plain("ADDSUB_imm8"),
    "DP_shift16": _plain("DP_shift16", regs={"rm_": LOW}, dst=("rdn",), op_=_choice(2, 3, 4, 7)),
    "RSB16": _plain("RSB16"),
    "MUL16": _plain("MUL16", dst=("rdm",)),
    "DP_reg16": _plain("DP_reg16", dst=("rdn",), op_=_choice(0, 1, 5, 6, 8, 10, 11, 12, 14, 15)),
    "ADD_hi": _hi_pair("ADD_hi"),
    "CMP_hi": _hi_pair("CMP_hi"),
    "MOV_hi": _hi_pair("MOV_hi"),
    "LDR_lit16": _ldr_lit16,
    "LDST_reg16": _ldst16("LDST_reg16"),
    "LDST_imm16": _ldst16("LDST_imm16"),
    "LDSTH_imm16": _ldst16("LDSTH_imm16"),
    "LDST_sp16": _ldst_sp,
    "ADR16": _plain("ADR16"),
    "ADD_sp16": _plain("ADD_sp16"),
    "ADDSUB_sp7": _plain("ADDSUB_sp7"),
    "EXT16": _plain("EXT16"),
    "PUSH16": _push,
    "POP16": _pop,
    "CPS16": _cps("CPS16"),
    "REV16_": _plain("REV16_", op=_choice(0, 1, 3)),
    "HINT16": _hint("HINT16"),
    "LDM16": _ldm16,
    "B_cond16": _b16("B_cond16"),
    "B16": _b16("B16"),
    "CBZ": _cbz,
    "BX16": _bx("BX16"),
    "BLX16": _bx("BLX16"),
    # 32-bit
    "LDM_t": _ldm32,
    "STREX_t": _excl, "LDREX_t": _excl, "STREXBH_t": _excl, "STREXD_t": _excl,
    "LDREXBH_t": _excl, "LDREXD_t": _excl,
    "TBB": _tbb,
    "LDRD_t": _ldrd,
    "PKH_t": _plain("PKH_t"),
    "DP_sreg": _dp_sreg,
    "DP_mimm": _dp_mimm,
    "ADDW": _plain("ADDW"),
    "SUBW": _plain("SUBW"),
    "ADR_t": _adr_t,
    "MOVW_t": _plain("MOVW_t"),
    "MOVT_t": _plain("MOVT_t"),
    "SAT16_t": _plain("SAT16_t"),
    "SAT_t": _sat,
    "BFX_t": _bfx,
    "BFI_t": _bfi,
    "MSR_t": _msr,
    "HINT_t": _hint("HINT_t"),
    "CPS_t": _cps("CPS_t"),
    "CLREX_t": lambda g: ([], enc("CLREX_t", opt=15)),
    "DSB_t": lambda g: ([], enc("DSB_t", opt=g.rng.choice([15, 11, 7, 3]))),
    "DMB_t": lambda g: ([], enc("DMB_t", opt=g.rng.choice([15, 11, 7, 3]))),
    "ISB_t": lambda g: ([], enc("ISB_t", opt=15)),
    "BXJ_t": _bx("BXJ_t"),
    "MRS_t": lambda g: ([], enc("MRS_t", r=g.bit(), rd=g.d())),
    "B_cond32": _b32("B_cond32"),
    "B32": _b32("B32"),
    "BL32": _bl_bx,
    "LDST_lit": _ldst32("LDST_lit"),
    "LDST_imm12": _ldst32("LDST_imm12"),
    "LDST_imm8": _ldst32("LDST_imm8"),
    "LDST_reg_t": _ldst32("LDST_reg_t"),
    "SHIFT_reg_t": _plain("SHIFT_reg_t", regs={"rn_": ANY, "rm_": ANY}),
    "EXT_t": _plain("EXT_t", op_=_choice(0, 1, 2, 3, 4, 5),
                    rn=lambda g, f: 15 if g.rng.random() < 0.4 else f["rn"]),
    "PARALLEL_t": _plain("PARALLEL_t", top1=_choice(0, 1, 2, 4, 5, 6), top2=_choice(0, 1, 2)),
    "QADDSUB_t": _plain("QADDSUB_t"),
    "REV_t": _plain("REV_t", rn_=lambda g, f: f["rm"]),
    "SEL_t": _plain("SEL_t"),
    "CLZ_t": _plain("CLZ_t", rn_=lambda g, f: f["rm"]),
    "MUL_t": _ra15("MUL_t"),
    "MLS_t": _ra15("MLS_t", p=0),
    "SMLAxy_t": _ra15("SMLAxy_t"),
    "SMLAD_t": _ra15("SMLAD_t"),
    "SMLAWy_t": _ra15("SMLAWy_t"),
    "SMLSD_t": _ra15("SMLSD_t"),
    "SMMLA_t": _ra15("SMMLA_t"),
    "SMMLS_t": _ra15("SMMLS_t", p=0),
    "USADA8_t": _ra15("USADA8_t"),
    "MULL_t": _mull("MULL_t"),
    "MLAL_t": _mull("MLAL_t"),
    "SMLALxy_t": _lohi("SMLALxy_t"),
    "SMLALD_t": _lohi("SMLALD_t"),
    "UMAAL_t": _lohi("UMAAL_t"),
    "COPROC": _coproc,
    "MOV_pc": _load_pc("MOV_pc"),
    "POP_pc": _load_pc("POP_pc"),
    "LDR_pc": _load_pc("LDR_pc"),
    "LDM_pc": _load_pc("LDM_pc"),
}

# forms that may sit inside an IT block (one instruction, no SP/branch use)
# (ISB: Unicorn (QEMU 5) loses the IT state after an ISB inside an IT block)
NOT_IN_IT = {"B_cond16", "B16", "CBZ", "BX16", "BLX16", "BXJ_t", "B_cond32", "B32", "BL32", "TBB",
             "CPS16", "CPS_t", "PUSH16", "POP16", "LDST_sp16", "ADDSUB_sp7", "COPROC",
             "STREX_t", "LDREX_t", "STREXBH_t", "STREXD_t", "LDREXBH_t", "LDREXD_t",
             "ISB_t", "MOV_pc", "POP_pc", "LDR_pc", "LDM_pc"}
IT_FORMS = [n for n in GENERATORS if n not in NOT_IN_IT]
IT_AVOID = (BASE, INDEX, 13)


def it_block(g: Ctx) -> List[int]:
    """An IT instruction with 1-4 random instructions (their prologues first)."""
    rng = g.rng
    k = 1 + rng.randrange(4)
    firstcond = rng.randrange(15)
    if firstcond == 14:
        k = 1
    pro: List[int] = []
    bodies: List[List[int]] = []
    inner = Ctx(rng, 0, IT_AVOID)
    for _ in range(k):
        p, b = GENERATORS[rng.choice(IT_FORMS)](inner)
        pro += p
        bodies.append(b)
    mask = 0
    for j in range(1, k):
        mask |= rng.randrange(2) << (4 - j)
    mask |= 1 << (4 - k)
    out = pro + enc("IT", firstcond=firstcond, mask=mask)
    for b in bodies:
        out += b
    return out


def random_sequence(rng: random.Random, n: int, forms=None, it_rate: float = 0.15) -> List[int]:
    """About ``n`` instructions (halfword list) drawn from ``forms`` (default: all),
    with IT blocks mixed in at ``it_rate``."""
    names = list(forms or GENERATORS)
    out: List[int] = []
    count = 0
    while count < n:
        g = Ctx(rng, 2 * len(out))
        if it_rate and rng.random() < it_rate:
            chunk = it_block(g)
        else:
            p, b = GENERATORS[rng.choice(names)](g)
            chunk = p + b
        out += chunk
        count += count_insns(chunk)
    return out


def count_insns(hws: Sequence[int]) -> int:
    """Instructions in a halfword list (data halfwords of TBB tables count as 16-bit)."""
    i = n = 0
    while i < len(hws):
        i += 2 if t32.is_32bit(hws[i]) else 1
        n += 1
    return n


def to_bytes(hws: Sequence[int]) -> bytes:
    return b"".join(h.to_bytes(2, "little") for h in hws)
