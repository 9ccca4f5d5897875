"""Random VFP instructions per form, random VFP state, and a Unicorn pair that
compares it.

``GENERATORS`` maps a form name of ``pysystem.cpu.arm.vfp_decode`` to ``gen(rng) ->
[insn, ...]`` (a prologue setting base registers with MOVW/MOVT, then the
instruction).  ``VFPPair.run(code, regs, flags, data, vstate)`` loads the same VFP
state (``vstate = (d[32], fpscr)``) into both CPUs with VFP enabled (CPACR cp10/cp11
full access, FPEXC.EN), runs, and adds to the core comparison of ``Pair.run`` the
D registers and the FPSCR.

Not generated, with reasons (``UNPREDICTABLE`` lists the encodings the architecture
leaves UNPREDICTABLE; we UNDEF on them, QEMU does something else for some):

* VMOV_64 with rt/rt2 = PC, to-core with rt == rt2, or Sm = s31; VMOV single/scalar
  with rt = PC (UNPREDICTABLE).
* VLDM/VSTM with zero or too many registers, PC base with writeback; VSTR/VSTM with a
  PC base (would modify the code under test).
* VMSR values with LEN/STRIDE non-zero: the A9 UNDEFs VFP data processing then (see
  cpu/arm/vfp.py), QEMU executes short vectors.  Covered by directed tests.
* VMRS of FPSID/MVFR0/MVFR1: constants, checked against Unicorn by a directed test.
* VCVT fixed-point with more fraction bits than the size (UNPREDICTABLE).

One deliberate adjustment of the oracle: Unicorn 2 is built on QEMU 5, which rounds
VCVT from fixed point to floating point with FPSCR.RMode; the architecture (FixedToFP
with round_to_nearest) and QEMU 7.2 round to nearest whatever RMode says.  So the pair
runs each such instruction on Unicorn with RMode set to nearest for that instruction
alone (a code hook; the RMode bits are put back before the next one), and compares
with pysystem run in the real mode.  QEMU 7.2 itself checks these forms in
tests/test_baremetal_arm.py.
"""
from __future__ import annotations

import random
import struct
from typing import Callable, Dict, List, Sequence, Tuple

from unicorn import UC_HOOK_CODE
from unicorn import arm_const as A

from pysystem.cpu.arm import vfp_decode

from gen_a32 import set_reg
from harness import DATA_BASE, Pair

AL = 0xE
BASE = 11
BASE_ADDR = DATA_BASE + 0x8000

_FORMS = {f.name: f for f in vfp_decode.FORMS}

UC_D = [getattr(A, f"UC_ARM_REG_D{i}") for i in range(32)]


def encode(name: str, **fields) -> int:
    form = _FORMS[name]
    insn = form.match
    for fname, shift, width in form.fields:
        v = fields.get(fname, AL) if fname == "cond" else fields[fname]
        assert 0 <= v < (1 << width), (name, fname, v)
        insn |= v << shift
    return insn


def split(n: int, double: bool) -> Tuple[int, int]:
    """Register number -> (Vx field, extra bit)."""
    return (n & 15, n >> 4) if double else (n >> 1, n & 1)


# --- random floating-point values ---------------------------------------------------------

def _f32_specials() -> List[int]:
    v = [0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000,
         0x7FC00000, 0xFFC00000, 0x7FC12345, 0xFFA00001, 0x7F800001, 0x7FBFFFFF,  # NaNs
         0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00400000, 0x00800000,
         0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F000000, 0xBF000000, 0x3FC00000,
         0x40200000, 0xC0200000, 0x4F000000, 0xCF000000, 0x4F800000, 0x4EFFFFFF,
         0x4F7FFFFF, 0x477FE000, 0x477FF000, 0x33800000, 0x38800000, 0x387FC000,
         0x34000000, 0x00800001, 0x3F800001, 0x3F7FFFFF, 0x4B000001, 0x4AFFFFFF]
    return v


def _f64_specials() -> List[int]:
    return [0, 1 << 63, 0x3FF0000000000000, 0xBFF0000000000000, 0x7FF0000000000000,
            0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000001,
            0x7FF0000000000001, 0x7FF4000012345678, 0x7FFFFFFFFFFFFFFF,
            1, 0x8000000000000001, 0x000FFFFFFFFFFFFF, 0x0010000000000000,
            0x7FEFFFFFFFFFFFFF, 0x3FE0000000000000, 0xBFE0000000000000,
            0x3FF8000000000000, 0x4004000000000000, 0x41E0000000000000,
            0xC1E0000000000000, 0x41DFFFFFFFE00000, 0x41DFFFFFFFF00000,
            0x41EFFFFFFFE00000, 0x41F0000000000000, 0xC1E0000000100000,
            0x3FF0000010000000,  # halfway between two singles
            0x3FF0000030000000, 0x3FF0000010000001, 0x36A0000000000000,
            0x3810000000000000, 0x380FFFFFF0000000, 0x47EFFFFFF0000000,
            0x47EFFFFFE0000000, 0x3E70000000000000, 0x40EFFC0000000000]


F32_SPECIAL = _f32_specials()
F64_SPECIAL = _f64_specials()


def rand_f32(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.4:
        return rng.choice(F32_SPECIAL)
    if r < 0.55:  # near another special value
        return (rng.choice(F32_SPECIAL) + rng.randrange(-2, 3)) & 0xFFFFFFFF
    if r < 0.75:  # moderate exponents, so arithmetic interacts
        return (rng.getrandbits(1) << 31) | (rng.randrange(110, 145) << 23) | rng.getrandbits(23)
    if r < 0.8:  # small integers as floats' bit patterns
        return rng.randrange(0, 100)
    return rng.getrandbits(32)


def rand_f64(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.4:
        return rng.choice(F64_SPECIAL)
    if r < 0.55:
        return (rng.choice(F64_SPECIAL) + rng.randrange(-2, 3)) & 0xFFFFFFFFFFFFFFFF
    if r < 0.75:
        return (rng.getrandbits(1) << 63) | (rng.randrange(1000, 1050) << 52) | rng.getrandbits(52)
    if r < 0.8:  # a single's exact value, or one ulp of double around it
        return (rng.randrange(0x380, 0x47F) << 52) | (rng.getrandbits(23) << 29) | rng.choice((0, 1, 1 << 28))
    return rng.getrandbits(64)


def random_vfp_state(rng: random.Random) -> Tuple[List[int], int]:
    d = []
    for _ in range(32):
        if rng.random() < 0.5:
            d.append(rand_f64(rng))
        else:
            d.append(rand_f32(rng) | rand_f32(rng) << 32)
    fpscr = (rng.getrandbits(4) << 28) | (rng.randrange(4) << 22)
    if rng.random() < 0.3:
        fpscr |= 1 << 24  # FZ
    if rng.random() < 0.3:
        fpscr |= 1 << 25  # DN
    if rng.random() < 0.3:
        fpscr |= 1 << 26  # AHP
    if rng.random() < 0.3:
        fpscr |= rng.getrandbits(5) | (rng.getrandbits(1) << 7)  # cumulative flags
    return d, fpscr


# --- the pair ---------------------------------------------------------------------------------

_RMODE = 3 << 22


def _fixed_to_float():
    """(mask, match) of VCVT from fixed point to floating point (VCVT_fix with op 0),
    condition bits excluded: T32 has 1110 there, A32 the condition."""
    form = _FORMS["VCVT_fix"]
    op = next(shift for name, shift, width in form.fields if name == "op")
    return (form.mask | 1 << op) & 0x0FFFFFFF, form.match & ~(1 << op) & 0x0FFFFFFF


class VFPPair(Pair):
    """``Pair`` with the VFP enabled and its state loaded and compared."""

    def __init__(self):
        super().__init__()
        self.cpu.cp15.cpacr = 0x00F00000
        self.cpu.fpexc = 0x40000000
        # CPACR (p15, 0, c1, c0, 2) through the generic coprocessor register: unicorn 2.1.1
        # (the release PyPy installs, see pyproject.toml) refuses UC_ARM_REG_C1_C0_2
        # with UC_ERR_ARG, and every release takes this form
        self.uc.reg_write(A.UC_ARM_REG_CP_REG, (15, 0, 0, 1, 0, 0, 2, 0x00F00000))
        self.uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)
        self._fix_mask, self._fix_match = _fixed_to_float()
        self._rmode_back = None
        self.uc.hook_add(UC_HOOK_CODE, self._nearest_for_fixed)

    def _put_rmode_back(self, uc) -> None:
        if self._rmode_back is not None:
            f = uc.reg_read(A.UC_ARM_REG_FPSCR)
            uc.reg_write(A.UC_ARM_REG_FPSCR, (f & ~_RMODE) | self._rmode_back)
            self._rmode_back = None

    def _nearest_for_fixed(self, uc, address, size, _user) -> None:
        """Unicorn code hook: round-to-nearest for one fixed -> float VCVT (see above)."""
        self._put_rmode_back(uc)
        if size != 4:
            return
        raw = bytes(uc.mem_read(address, 4))
        if uc.reg_read(A.UC_ARM_REG_CPSR) & 0x20:
            hw1, hw2 = struct.unpack("<HH", raw)
            insn = hw1 << 16 | hw2
        else:
            insn = struct.unpack("<I", raw)[0]
        if insn & self._fix_mask == self._fix_match:
            f = uc.reg_read(A.UC_ARM_REG_FPSCR)
            if f & _RMODE:
                self._rmode_back = f & _RMODE
                uc.reg_write(A.UC_ARM_REG_FPSCR, f & ~_RMODE)

    def run(self, code: bytes, regs: Sequence[int], flags: int, data: bytes,
            vstate: Tuple[List[int], int] = None, thumb: bool = False) -> List[str]:
        d, fpscr = vstate
        for i in range(32):
            self.uc.reg_write(UC_D[i], d[i])
        self.uc.reg_write(A.UC_ARM_REG_FPSCR, fpscr)
        self.cpu.vfp_d = list(d)
        self.cpu.fpscr = fpscr
        out = super().run(code, regs, flags, data, thumb=thumb)
        self._put_rmode_back(self.uc)
        for i in range(32):
            u = self.uc.reg_read(UC_D[i])
            p = self.cpu.vfp_d[i]
            if u != p:
                out.append(f"d{i}: unicorn 0x{u:016x} pysystem 0x{p:016x}")
        u = self.uc.reg_read(A.UC_ARM_REG_FPSCR)
        if u != self.cpu.fpscr:
            out.append(f"fpscr: unicorn 0x{u:08x} pysystem 0x{self.cpu.fpscr:08x}")
        return out


# --- generators -----------------------------------------------------------------------------------

def cond(rng) -> int:
    return AL if rng.random() < 0.7 else rng.randrange(15)


def sreg(rng) -> int:
    return rng.randrange(32) if rng.random() < 0.4 else rng.choice((0, 1, 2, 3, 4, 5, 30, 31))


def dreg(rng) -> int:
    return rng.randrange(32) if rng.random() < 0.4 else rng.choice((0, 1, 2, 3, 16, 17, 31))


def vreg(rng, sz: int) -> int:
    return dreg(rng) if sz else sreg(rng)


def core(rng, exclude=(15,)) -> int:
    while True:
        r = rng.randrange(15)
        if r not in exclude:
            return r


def _fields(prefix: str, n: int, sz: int, bit: str) -> Dict[str, int]:
    v, b = split(n, bool(sz))
    return {prefix: v, bit: b}


def gen_vldr(rng):
    l = rng.randrange(2)
    sz = rng.randrange(2)
    rn = 15 if l and rng.random() < 0.15 else BASE
    f = dict(cond=cond(rng), u=rng.randrange(2), l=l, rn=rn, sz=sz, imm8=rng.randrange(256))
    f.update(_fields("vdr", vreg(rng, sz), sz, "d"))
    return set_reg(BASE, BASE_ADDR + rng.randrange(-64, 64) * 4) + [encode("VLDR", **f)]


def gen_vldm(rng):
    l = rng.randrange(2)
    sz = rng.randrange(2)
    p, u, w = rng.choice(((0, 1, 0), (0, 1, 1), (1, 0, 1)))
    if sz:
        vd = rng.randrange(32)
        n = rng.randrange(1, min(16, 32 - vd) + 1)
        imm8 = 2 * n + (1 if rng.random() < 0.2 else 0)  # odd: FLDMX/FSTMX
    else:
        vd = rng.randrange(32)
        n = rng.randrange(1, 32 - vd + 1)
        imm8 = n
    rn = BASE if rng.random() < 0.7 else 13
    if l and not w and rng.random() < 0.2:
        rn = 15  # literal pool (reads the code region)
    f = dict(cond=cond(rng), p=p, u=u, w=w, l=l, rn=rn, sz=sz, imm8=imm8)
    f.update(_fields("vdr", vd, sz, "d"))
    pro = [] if rn == 15 else set_reg(rn, BASE_ADDR + rng.randrange(-16, 16) * 4)
    return pro + [encode("VLDM", **f)]


def gen_vmov_64(rng):
    op = rng.randrange(2)
    sz = rng.randrange(2)
    rt = core(rng)
    rt2 = core(rng, (15, rt) if op else (15,))
    vm = dreg(rng) if sz else rng.randrange(31)
    f = dict(cond=cond(rng), op=op, rt=rt, rt2=rt2, sz=sz)
    f.update(_fields("vmr", vm, sz, "m"))
    return [encode("VMOV_64", **f)]


def gen_vmov_single(rng):
    f = dict(cond=cond(rng), op=rng.randrange(2), rt=core(rng))
    f.update(_fields("vn", sreg(rng), False, "n"))
    return [encode("VMOV_single", **f)]


def _gen_scalar(name):
    def gen(rng):
        f = dict(cond=cond(rng), h=rng.randrange(2), rt=core(rng))
        f.update(_fields("vn", dreg(rng), True, "n"))
        return [encode(name, **f)]
    return gen


def gen_vmrs(rng):
    rt = 15 if rng.random() < 0.4 else core(rng)
    reg = 1 if rng.random() < 0.8 or rt == 15 else 8
    return [encode("VMRS", cond=cond(rng), reg=reg, rt=rt)]


def gen_vmsr(rng):
    rt = core(rng)
    value = rng.getrandbits(32) & ~0x00370000
    return set_reg(rt, value) + [encode("VMSR", cond=cond(rng), reg=1, rt=rt)]


def _gen_dp3(name, opcs):
    def gen(rng):
        sz = rng.randrange(2)
        opc, o = rng.choice(opcs)
        f = dict(cond=cond(rng), sz=sz)
        if opc is not None:
            f.update(opc=opc, o=o)
        f.update(_fields("vdr", vreg(rng, sz), sz, "d"))
        f.update(_fields("vnr", vreg(rng, sz), sz, "n"))
        f.update(_fields("vmr", vreg(rng, sz), sz, "m"))
        return [encode(name, **f)]
    return gen


def gen_vmov_imm(rng):
    sz = rng.randrange(2)
    imm8 = rng.getrandbits(8)
    f = dict(cond=cond(rng), sz=sz, imm4h=imm8 >> 4, imm4l=imm8 & 15)
    f.update(_fields("vdr", vreg(rng, sz), sz, "d"))
    return [encode("VMOV_imm", **f)]


def _gen_dp2(name, dsz=None, msz=None):
    """dsz/msz: operand sizes as functions of sz (None: sz)."""
    def gen(rng):
        sz = rng.randrange(2)
        f = dict(cond=cond(rng), sz=sz)
        ds = sz if dsz is None else dsz(sz)
        ms = sz if msz is None else msz(sz)
        f.update(_fields("vdr", vreg(rng, ds), ds, "d"))
        f.update(_fields("vmr", vreg(rng, ms), ms, "m"))
        return [encode(name, **f)]
    return gen


def gen_vcmp(rng):
    sz = rng.randrange(2)
    z = rng.randrange(2)
    f = dict(cond=cond(rng), sz=sz, z=z, e=rng.randrange(2))
    f.update(_fields("vdr", vreg(rng, sz), sz, "d"))
    f.update(_fields("vmr", 0 if z else vreg(rng, sz), sz, "m"))
    return [encode("VCMP", **f)]


def gen_vcvt_half(rng):
    f = dict(cond=cond(rng), op=rng.randrange(2), t=rng.randrange(2))
    f.update(_fields("vdr", sreg(rng), False, "d"))
    f.update(_fields("vmr", sreg(rng), False, "m"))
    return [encode("VCVT_half", **f)]


def gen_vcvt_fromint(rng):
    sz = rng.randrange(2)
    f = dict(cond=cond(rng), sz=sz, s=rng.randrange(2))
    f.update(_fields("vdr", vreg(rng, sz), sz, "d"))
    f.update(_fields("vmr", sreg(rng), False, "m"))
    return [encode("VCVT_fromint", **f)]


def gen_vcvt_toint(rng):
    sz = rng.randrange(2)
    f = dict(cond=cond(rng), sz=sz, s=rng.randrange(2), rz=rng.randrange(2))
    f.update(_fields("vdr", sreg(rng), False, "d"))
    f.update(_fields("vmr", vreg(rng, sz), sz, "m"))
    return [encode("VCVT_toint", **f)]


def gen_vcvt_fix(rng):
    sz = rng.randrange(2)
    sx = rng.randrange(2)
    size = 32 if sx else 16
    imm = rng.randrange(0, size + 1) if rng.random() < 0.8 else rng.choice((0, 1, size, size - 1))
    imm = min(imm, 31)
    f = dict(cond=cond(rng), sz=sz, sx=sx, op=rng.randrange(2), u=rng.randrange(2),
             i=imm & 1, imm4=imm >> 1)
    f.update(_fields("vdr", vreg(rng, sz), sz, "d"))
    return [encode("VCVT_fix", **f)]


GENERATORS: Dict[str, Callable[[random.Random], List[int]]] = {
    "VLDR": gen_vldr,
    "VLDM": gen_vldm,
    "VMOV_64": gen_vmov_64,
    "VMOV_single": gen_vmov_single,
    "VMOV_to_scalar": _gen_scalar("VMOV_to_scalar"),
    "VMOV_from_scalar": _gen_scalar("VMOV_from_scalar"),
    "VMRS": gen_vmrs,
    "VMSR": gen_vmsr,
    "VFP_3op": _gen_dp3("VFP_3op", [(opc, o) for opc in range(4) for o in range(2)]),
    "VDIV": _gen_dp3("VDIV", [(None, None)]),
    "VMOV_imm": gen_vmov_imm,
    "VMOV_reg": _gen_dp2("VMOV_reg"),
    "VABS": _gen_dp2("VABS"),
    "VNEG": _gen_dp2("VNEG"),
    "VSQRT": _gen_dp2("VSQRT"),
    "VCVT_half": gen_vcvt_half,
    "VCMP": gen_vcmp,
    "VCVT_ds": _gen_dp2("VCVT_ds", dsz=lambda sz: 1 - sz),
    "VCVT_fromint": gen_vcvt_fromint,
    "VCVT_fix": gen_vcvt_fix,
    "VCVT_toint": gen_vcvt_toint,
}


def random_sequence(rng: random.Random, n: int, forms=None) -> List[int]:
    names = list(forms or GENERATORS)
    out: List[int] = []
    while len(out) < n:
        out += GENERATORS[rng.choice(names)](rng)
    return out


def code_bytes(insns: Sequence[int]) -> bytes:
    return b"".join(struct.pack("<I", i) for i in insns)


def t32_bytes(insns: Sequence[int]) -> bytes:
    """The same instructions in Thumb state: a VFP instruction is its A32 encoding with
    the condition replaced by 1110 (preceded by ``IT <cond>`` if it was conditional);
    the prologues' MOVW/MOVT become their T32 encodings."""
    out = b""
    for i in insns:
        c = i >> 28
        if (i & 0x0FB00000) == 0x03000000:  # MOVW/MOVT
            imm = ((i >> 4) & 0xF000) | (i & 0xFFF)
            hw1 = 0xF240 | ((i >> 15) & 0x80) | ((imm >> 1) & 0x400) | (imm >> 12)
            hw2 = ((imm << 4) & 0x7000) | (i & 0xF000) >> 4 | (imm & 0xFF)
            out += struct.pack("<HH", hw1, hw2)
            continue
        if c != AL:
            out += struct.pack("<H", 0xBF08 | c << 4)  # IT <cond>
        i = (i & 0x0FFFFFFF) | 0xE0000000
        out += struct.pack("<HH", i >> 16, i & 0xFFFF)
    return out
