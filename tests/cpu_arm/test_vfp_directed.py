"""Directed VFP tests: the enable/access rules Linux depends on (lazy VFP switching takes
the UNDEF trap when FPEXC.EN=0), the system registers, short vectors, alignment, and
arithmetic corner cases (NaN payloads, denormals with FZ, every rounding mode, default
NaN, half precision) compared with Unicorn.

Where Unicorn cannot serve as the oracle, the expected values come from the ARM ARM
and the Cortex-A9 TRMs (each test says so): Unicorn stops with UC_ERR_INSN_INVALID
instead of taking the Undefined exception, its CPACR is not consulted after
``reg_write``, it does not fault unaligned VLDR/VSTR (QEMU 5; QEMU 7 and the
architecture do), and its A9 model executes short vectors.
"""
from __future__ import annotations

import random
import struct

import pytest
from unicorn import UcError
from unicorn import arm_const as A

from gen_vfp import VFPPair, code_bytes, encode, split
from harness import CODE_BASE, DATA_BASE, random_state

from pysystem.cpu.arm import vfp

B_SELF = 0xEAFFFFFE
NOP = 0xE1A00000
USR, SVC, UND, ABT = 0x10, 0x13, 0x1B, 0x17


def vmrs(reg, rt, cond=0xE):
    return encode("VMRS", cond=cond, reg=reg, rt=rt)


def vmsr(reg, rt, cond=0xE):
    return encode("VMSR", cond=cond, reg=reg, rt=rt)


def dp3(opc, o, sz, d, n, m, cond=0xE):
    f = dict(cond=cond, opc=opc, o=o, sz=sz)
    for name, bit, r in (("vdr", "d", d), ("vnr", "n", n), ("vmr", "m", m)):
        v, b = split(r, bool(sz))
        f[name], f[bit] = v, b
    return encode("VFP_3op", **f)


def vadd(sz, d, n, m, cond=0xE):
    return dp3(3, 0, sz, d, n, m, cond)


def two(name, sz, d, m, **kw):
    vd, bd = split(d, bool(sz if name != "VCVT_ds" else 1 - sz))
    vm, bm = split(m, bool(sz))
    return encode(name, sz=sz, vdr=vd, d=bd, vmr=vm, m=bm, **kw)


def vldr(sz, d, rn, imm8, l=1, u=1):
    v, b = split(d, bool(sz))
    return encode("VLDR", u=u, d=b, l=l, rn=rn, vdr=v, sz=sz, imm8=imm8)


def movw(rd, imm):
    return 0xE3000000 | ((imm >> 12) & 0xF) << 16 | rd << 12 | (imm & 0xFFF)


def movt(rd, imm):
    return 0xE3400000 | ((imm >> 12) & 0xF) << 16 | rd << 12 | (imm & 0xFFF)


def set_reg(rd, v):
    return [movw(rd, v & 0xFFFF), movt(rd, v >> 16)]


@pytest.fixture
def pair():
    return VFPPair()


def run_ours(pair, insns, cpsr=0x1D3, fpexc=0x40000000, cpacr=0x00F00000, regs=None,
             budget=None, vectors=None):
    """Run ``insns`` (then ``b .``) on our CPU with every vector a ``b .``; returns the CPU."""
    cpu = pair.cpu
    space = pair.space
    for off in range(0, 0x20, 4):
        space.write_bytes(off, struct.pack("<I", B_SELF))
    for addr, code in (vectors or {}).items():
        space.write_bytes(addr, code_bytes(code))
    space.write_bytes(CODE_BASE, code_bytes(list(insns) + [B_SELF]))
    cpu.cp15.cpacr = cpacr
    cpu.fpexc = fpexc
    cpu.cpsr = cpsr
    for i, v in enumerate(regs or []):
        cpu.regs[i] = v
    cpu.regs[15] = CODE_BASE
    cpu.run(budget or len(insns) + 2)
    return cpu


def _undef_at(cpu, index, from_mode=SVC):
    assert cpu.mode == UND, hex(cpu.cpsr)
    assert cpu.regs[15] == 0x4
    assert cpu.regs[14] == CODE_BASE + 4 * index + 4
    assert cpu.spsr_bank[6] & 0x1F == from_mode


def _uc_run(pair, insns, fpexc):
    uc = pair.uc
    uc.reg_write(A.UC_ARM_REG_FPEXC, fpexc)
    uc.reg_write(A.UC_ARM_REG_CPSR, 0x1D3)
    blob = code_bytes(list(insns) + [B_SELF])
    uc.mem_write(CODE_BASE, blob)
    uc.ctl_remove_cache(CODE_BASE, CODE_BASE + len(blob))
    uc.emu_start(CODE_BASE, CODE_BASE + 4 * len(insns))


# --- FPEXC.EN, CPACR, NSACR ----------------------------------------------------------------

DISABLED_UNDEF = {
    "VADD": vadd(0, 0, 1, 2),
    "VLDR": vldr(1, 0, 13, 0),
    "VMOV core": encode("VMOV_single", op=1, vn=0, n=0, rt=0),
    "VMRS FPSCR": vmrs(1, 0),
    "VMSR FPSCR": vmsr(1, 0),
    "VCMP": two("VCMP", 0, 0, 1, z=0, e=0),
    "VCVT": two("VCVT_ds", 0, 0, 1),
}


@pytest.mark.parametrize("name", sorted(DISABLED_UNDEF))
def test_undef_when_fpexc_en_clear(pair, name):
    insn = DISABLED_UNDEF[name]
    code = [NOP, insn, NOP]
    cpu = run_ours(pair, code, fpexc=0, regs=[0] * 13 + [DATA_BASE])
    _undef_at(cpu, 1)
    # Unicorn (QEMU) UNDEFs it too: it stops with "invalid instruction" at that insn
    with pytest.raises(UcError):
        _uc_run(pair, code, 0)
    assert pair.uc.reg_read(A.UC_ARM_REG_PC) == CODE_BASE + 4


def test_same_code_runs_when_enabled(pair):
    """The block translated while disabled must not stick: EN is checked at run time."""
    code = [NOP, vadd(0, 0, 1, 2), NOP]
    cpu = run_ours(pair, code, fpexc=0)
    _undef_at(cpu, 1)
    cpu.vfp_d[0] = 0x3F80000000000000  # s1 = 1.0
    cpu.vfp_d[1] = 0x40000000          # s2 = 2.0
    cpu = run_ours(pair, code, fpexc=0x40000000)
    assert cpu.regs[15] == CODE_BASE + 12 and cpu.mode == SVC
    assert cpu.vfp_d[0] & 0xFFFFFFFF == 0x40400000


def test_failed_condition_does_not_undef(pair):
    # Z is clear (cpsr 0x1d3): an EQ VFP instruction is not executed, so no trap
    code = [vadd(0, 0, 1, 2, cond=0x0), NOP]
    cpu = run_ours(pair, code, fpexc=0)
    assert cpu.regs[15] == CODE_BASE + 8 and cpu.mode == SVC
    code = [vadd(0, 0, 1, 2, cond=0x1), NOP]
    cpu = run_ours(pair, code, fpexc=0)
    _undef_at(cpu, 0)


def test_linux_lazy_enable(pair):
    """User code uses the VFP with FPEXC.EN=0; the Undefined handler (as Linux's
    vfp_support_entry) sets EN and returns to the instruction, which then completes."""
    handler = [
        vmrs(8, 0),                 # vmrs r0, fpexc
        0xE3800101,                 # orr r0, r0, #0x40000000
        vmsr(8, 0),                 # vmsr fpexc, r0
        0xE25EF004,                 # subs pc, lr, #4
    ]
    vectors = {0x4: [0xEA00003D], 0x100: handler}   # b 0x100
    cpu = pair.cpu
    cpu.vfp_d[0] = 0x3F80000000000000
    cpu.vfp_d[1] = 0x40000000
    code = [NOP, vadd(0, 0, 1, 2), vadd(0, 0, 0, 0), NOP]
    cpu = run_ours(pair, code, cpsr=USR, fpexc=0, vectors=vectors, budget=20)
    assert cpu.regs[15] == CODE_BASE + 16, hex(cpu.regs[15])
    assert cpu.mode == USR
    assert cpu.fpexc == 0x40000000
    assert cpu.vfp_d[0] & 0xFFFFFFFF == 0x40C00000  # (1 + 2) * 2
    assert cpu.clock.icount >= 4 + 5


def test_system_registers_with_en_clear(pair):
    """PL1 reads FPSID/MVFR0/MVFR1/FPEXC and writes FPEXC with EN=0 (as Linux's
    vfp_init); FPSCR needs EN."""
    code = [vmrs(0, 1), vmrs(7, 2), vmrs(6, 3), vmrs(8, 4)] + set_reg(5, 0xFFFFFFFF) + \
           [vmsr(8, 5), vmrs(8, 6), vmsr(0, 5), vmsr(7, 5), vmsr(6, 5), vmrs(0, 7), vmrs(7, 8)]
    cpu = run_ours(pair, code, fpexc=0)
    assert cpu.regs[15] == CODE_BASE + 4 * len(code)
    assert cpu.regs[1:5] == [vfp.FPSID, vfp.MVFR0, vfp.MVFR1, 0]
    assert cpu.regs[6] == 0x60000000 and cpu.fpexc == 0x60000000   # EN and DEX are writable
    assert cpu.regs[7:9] == [vfp.FPSID, vfp.MVFR0]                 # ID writes ignored
    assert (vfp.FPSID, vfp.MVFR0, vfp.MVFR1) == (0x41033090, 0x11110222, 0x01111111)
    # Unicorn agrees on access (its ID values are QEMU's, and only FPEXC.EN is writable)
    with pytest.raises(UcError):  # VMRS FPSCR with EN=0
        _uc_run(pair, [vmrs(1, 0)], 0)
    _uc_run(pair, [vmrs(0, 1), vmrs(8, 4)] + set_reg(5, 0xFFFFFFFF) + [vmsr(8, 5), vmrs(8, 6)], 0)
    assert pair.uc.reg_read(A.UC_ARM_REG_R6) == 0x40000000
    _uc_run(pair, [vmrs(7, 2), vmrs(6, 3)], 0)  # MVFR0/MVFR1: QEMU's cortex-a9 values
    assert [pair.uc.reg_read(r) for r in (A.UC_ARM_REG_R2, A.UC_ARM_REG_R3)] == [vfp.MVFR0, vfp.MVFR1]
    assert pair.uc.reg_read(A.UC_ARM_REG_R4) == 0


@pytest.mark.parametrize("reg", [0, 6, 7, 8])
@pytest.mark.parametrize("write", [0, 1])
def test_system_registers_undef_in_user_mode(pair, reg, write):
    code = [NOP, (vmsr if write else vmrs)(reg, 0)]
    cpu = run_ours(pair, code, cpsr=USR)
    _undef_at(cpu, 1, USR)


@pytest.mark.parametrize("reg", [2, 3, 4, 5, 9, 10, 11, 15])
def test_unallocated_system_registers_undef(pair, reg):
    cpu = run_ours(pair, [vmrs(reg, 0)])
    _undef_at(cpu, 0)


def test_fpscr_user_access_and_write_mask(pair):
    code = set_reg(1, 0xFFFFFFFF) + [vmsr(1, 1), vmrs(1, 2)] + set_reg(1, 0x12345678) + [vmsr(1, 1), vmrs(1, 3)]
    cpu = run_ours(pair, code, cpsr=USR)
    assert cpu.regs[15] == CODE_BASE + 4 * len(code)
    assert cpu.regs[2] == 0xFFF7009F and cpu.regs[3] == 0x12340018
    pair.uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)
    _uc_run(pair, code, 0x40000000)
    assert pair.uc.reg_read(A.UC_ARM_REG_R2) == 0xFFF7009F
    assert pair.uc.reg_read(A.UC_ARM_REG_R3) == 0x12340018


@pytest.mark.parametrize("cpacr,mode,ok", [
    (0x00000000, SVC, False), (0x00000000, USR, False),
    (0x00500000, SVC, True), (0x00500000, USR, False),       # cp10/cp11 = 01: PL1 only
    (0x00A00000, SVC, False), (0x00A00000, USR, False),      # 10: reserved, no access
    (0x00F00000, SVC, True), (0x00F00000, USR, True),
])
def test_cpacr(pair, cpacr, mode, ok):
    """ARM ARM B4.1.40: CPACR.cp10 decides access (for every VFP instruction, also the
    FPSID/FPEXC accesses that ignore EN)."""
    for insn in (vadd(0, 0, 1, 2), vmrs(1, 0)) + ((vmrs(0, 0), vmsr(8, 1)) if mode != USR else ()):
        cpu = run_ours(pair, [NOP, insn], cpsr=mode, cpacr=cpacr)
        if ok:
            assert cpu.regs[15] == CODE_BASE + 8 and cpu.mode == mode
        else:
            _undef_at(cpu, 1, mode)


def test_fpexc_en_cleared_mid_block(pair):
    """VMSR FPEXC (EN=0) makes the next VFP instruction of the same block UNDEF."""
    code = [vadd(0, 0, 1, 2)] + set_reg(1, 0) + [vmsr(8, 1), vadd(0, 0, 1, 2)]
    cpu = run_ours(pair, code)
    _undef_at(cpu, 4)
    code = set_reg(1, 0x40000000) + [vmsr(8, 1), vadd(0, 0, 1, 2), NOP]
    cpu = run_ours(pair, code, fpexc=0)
    assert cpu.regs[15] == CODE_BASE + 4 * len(code)


def test_cpacr_written_by_mcr_takes_effect(pair):
    mcr_cpacr = 0xEE011F50  # mcr p15, 0, r1, c1, c0, 2
    code = set_reg(1, 0) + [mcr_cpacr, vmrs(1, 0)]
    cpu = run_ours(pair, code)
    _undef_at(cpu, 3)
    code = set_reg(1, 0x00F00000) + [mcr_cpacr, vmrs(1, 0)]
    cpu = run_ours(pair, code, cpacr=0)
    assert cpu.regs[15] == CODE_BASE + 16


def test_nsacr_in_non_secure_state(pair):
    """ARM ARM B4.1.111: in the Non-secure state cp10 needs NSACR.CP10 too."""
    cpu = pair.cpu
    cpu.cp15.scr = 1          # NS
    cpu.cp15.nsacr = 0
    cpu = run_ours(pair, [NOP, vadd(0, 0, 1, 2)])
    _undef_at(cpu, 1)
    cpu.cp15.nsacr = 0xC00    # CP10 | CP11
    cpu = run_ours(pair, [NOP, vadd(0, 0, 1, 2)])
    assert cpu.regs[15] == CODE_BASE + 8
    cpu.cp15.scr = 0
    cpu.cp15.nsacr = 0
    cpu = run_ours(pair, [NOP, vadd(0, 0, 1, 2)])     # Secure: NSACR does not apply
    assert cpu.regs[15] == CODE_BASE + 8


# Later VFP versions are UNDEFINED with the VFP enabled (Advanced SIMD: test_neon_directed.py)
OTHER_UNDEF = {
    "VFMA.F32 (VFPv4)": 0xEEA00A00,
    "VCVTB.F64.F16 (v8)": 0xEEB20B40, "VSEL (v8)": 0xFE000A00, "VMAXNM (v8)": 0xFE800A00,
    "VMOV_64 Sm=s31": 0xEC410A3F, "VMOV_64 to core rt=rt2": 0xEC511B10,
    "VLDM zero regs": 0xEC900B00, "VLDM 17 doubles": 0xEC900B22, "VLDM past s31": 0xECD0FA02,
    "VCVT.F32.S16 fbits<0": 0xEEBA0A68, "VCMP #0 with Vm": 0xEEB50A41, "VMSR pc": 0xEEE1FA10,
}


@pytest.mark.parametrize("name", sorted(OTHER_UNDEF))
def test_other_encodings_undef(pair, name):
    cpu = run_ours(pair, [NOP, OTHER_UNDEF[name]], regs=[DATA_BASE] * 14)
    _undef_at(cpu, 1)


# --- short vectors ---------------------------------------------------------------------------

SHORT_VECTOR_UNDEF = [vadd(0, 0, 1, 2), dp3(0, 0, 1, 0, 1, 2), two("VMOV_reg", 0, 0, 1),
                      two("VABS", 1, 0, 1), two("VNEG", 0, 0, 1), two("VSQRT", 0, 0, 1),
                      encode("VMOV_imm", sz=0, d=0, vdr=0, imm4h=7, imm4l=0),
                      encode("VDIV", sz=1, d=0, vdr=0, n=0, vnr=1, m=0, vmr=2)]
SHORT_VECTOR_OK = [two("VCMP", 0, 0, 1, z=0, e=0), two("VCVT_ds", 0, 0, 1),
                   encode("VCVT_toint", sz=0, s=1, rz=1, vdr=0, d=0, vmr=0, m=1),
                   vldr(1, 0, 13, 0), vmrs(1, 3), encode("VMOV_single", op=1, vn=0, n=0, rt=4)]


@pytest.mark.parametrize("fpscr", [0x00010000, 0x00300000, 0x00070000])
def test_short_vectors_undef(pair, fpscr):
    """The A9 has no short vectors (MVFR0.ShortVectors = 0): data processing that would
    iterate UNDEFs with LEN/STRIDE non-zero (Linux then emulates it); compares, conversions,
    transfers run as usual.  (A9 FPU TRM; Unicorn's A9 executes them as vectors.)"""
    for insn in SHORT_VECTOR_UNDEF:
        code = set_reg(1, fpscr) + [vmsr(1, 1), insn]
        cpu = run_ours(pair, code, regs=[0] * 13 + [DATA_BASE])
        _undef_at(cpu, 3)
        assert cpu.fpexc == 0x60000000  # DEX tells Linux to emulate the instruction
    for insn in SHORT_VECTOR_OK:
        code = set_reg(1, fpscr) + [vmsr(1, 1), insn]
        cpu = run_ours(pair, code, regs=[0] * 13 + [DATA_BASE])
        assert cpu.regs[15] == CODE_BASE + 4 * len(code), hex(insn)
    assert cpu.fpscr == fpscr  # LEN/STRIDE are kept


# --- alignment -----------------------------------------------------------------------------------

@pytest.mark.parametrize("sz,l", [(0, 1), (1, 1), (0, 0), (1, 0)])
def test_unaligned_vldr_vstr_faults(pair, sz, l):
    """VLDR/VSTR are MemA accesses: unaligned -> alignment fault whatever SCTLR.A says
    (ARM ARM A8.8.333; QEMU 7 does this too, Unicorn's QEMU 5 does not)."""
    addr = DATA_BASE + 0x102
    code = set_reg(1, addr) + [vldr(sz, 0, 1, 0, l=l)]
    cpu = run_ours(pair, code)
    assert cpu.mode == ABT and cpu.regs[15] == 0x10
    assert cpu.cp15.dfar == addr
    assert cpu.cp15.dfsr & 0x40F == 0x1 and bool(cpu.cp15.dfsr & 0x800) == (not l)


# --- results compared with Unicorn ---------------------------------------------------------------

def _diff(pair, insns, d, fpscr, regs=None, flags=0):
    rs, _, data = random_state(random.Random(0))
    diff = pair.run(code_bytes(insns), regs or rs, flags, data, (d, fpscr))
    assert not diff, diff


F32 = {"one": 0x3F800000, "three": 0x40400000, "qnan": 0x7FC12345, "snan": 0x7F812345,
       "nqnan": 0xFFC54321, "nsnan": 0xFF854321, "dmin": 0x00000001, "dmax": 0x007FFFFF,
       "nmin": 0x00800000, "inf": 0x7F800000, "ninf": 0xFF800000, "zero": 0, "nzero": 0x80000000,
       "max": 0x7F7FFFFF, "half": 0x3F000000, "onehalf": 0x3FC00000, "twohalf": 0x40200000,
       "ntwohalf": 0xC0200000}
PAIRS = [("qnan", "snan"), ("snan", "qnan"), ("nqnan", "qnan"), ("nsnan", "snan"),
         ("one", "snan"), ("qnan", "one"), ("dmin", "dmax"), ("dmax", "nmin"), ("nmin", "dmin"),
         ("inf", "ninf"), ("zero", "nzero"), ("max", "max"), ("one", "three"), ("one", "zero"),
         ("zero", "zero"), ("inf", "zero"), ("dmin", "half"), ("nzero", "nzero")]


@pytest.mark.parametrize("rmode", [0, 1, 2, 3])
@pytest.mark.parametrize("fz_dn", [0, 1, 2, 3])
def test_arithmetic_corner_cases(pair, rmode, fz_dn):
    """Every 3-operand op and VSQRT/VCMP(E)/VCVT on NaN payloads, denormals, infinities,
    zeros and rounding cases, in each rounding mode with FZ and DN on and off."""
    fpscr = rmode << 22 | (fz_dn & 1) << 24 | (fz_dn >> 1) << 25
    ops = [dp3(opc, o, 0, 0, 2, 3) for opc in range(4) for o in range(2)]
    ops.append(encode("VDIV", sz=0, d=0, vdr=0, n=0, vnr=1, m=1, vmr=1))
    ops += [two("VSQRT", 0, 0, 2), two("VCMP", 0, 2, 3, z=0, e=1), two("VCMP", 0, 2, 3, z=0, e=0),
            two("VCVT_ds", 0, 4, 2), encode("VCVT_toint", sz=0, s=1, rz=0, vdr=0, d=0, vmr=1, m=0),
            encode("VCVT_toint", sz=0, s=0, rz=1, vdr=0, d=1, vmr=1, m=1)]
    for a, b in PAIRS:
        for op in ops:
            d = [0] * 32
            d[0] = F32["three"] | F32["onehalf"] << 32   # s0 (accumulator), s1
            d[1] = F32[a] | F32[b] << 32                   # s2, s3
            _diff(pair, [op, vmrs(1, 5), vmrs(1, 15)], d, fpscr)


@pytest.mark.parametrize("rmode", [0, 1, 2, 3])
def test_conversions_rounding(pair, rmode):
    """f64 -> f32 halfway cases, f32/f64 -> int ties, VCVTR vs VCVT, fixed point."""
    values64 = [0x3FF0000010000000, 0x3FF0000030000000, 0xBFF0000010000000, 0x4004000000000000,
                0xC004000000000000, 0x3FE0000000000000, 0x41DFFFFFFFE00000, 0x41DFFFFFFFF00000,
                0xC1E0000000100000, 0x380FFFFFF0000000, 0x3690000000000000, 0x7FF4000000000001]
    fpscr = rmode << 22
    for v in values64:
        d = [v] * 32
        for op in (two("VCVT_ds", 1, 0, 1),
                   encode("VCVT_toint", sz=1, s=1, rz=0, vdr=0, d=0, vmr=1, m=0),
                   encode("VCVT_toint", sz=1, s=0, rz=0, vdr=0, d=0, vmr=1, m=0),
                   encode("VCVT_toint", sz=1, s=1, rz=1, vdr=0, d=0, vmr=1, m=0),
                   encode("VCVT_fix", sz=1, op=1, u=0, sx=1, i=0, imm4=8, vdr=1, d=0),
                   encode("VCVT_fix", sz=1, op=0, u=1, sx=0, i=1, imm4=3, vdr=1, d=0)):
            _diff(pair, [op, vmrs(1, 5)], d, fpscr)


@pytest.mark.parametrize("ahp", [0, 1])
def test_half_precision(pair, ahp):
    halves = [0x0000, 0x8000, 0x3C00, 0x7BFF, 0x7C00, 0xFC00, 0x7E01, 0x7C01, 0x0001, 0x03FF]
    singles = [0x477FE000, 0x477FF000, 0x47800000, 0x33800000, 0x33000000, 0x387FC000,
               0x7F812345, 0xFFC00001, 0x7F800000, 0x38800000]
    for h, s in zip(halves, singles):
        d = [(h | (h ^ 0x8000) << 16) | s << 32] * 32
        for op, t in ((0, 0), (0, 1), (1, 0), (1, 1)):
            insn = encode("VCVT_half", op=op, t=t, vdr=1, d=0, vmr=0, m=1 if op else 0)
            for fz_dn in (0, 1 << 24 | 1 << 25):
                _diff(pair, [insn, vmrs(1, 5)], d, ahp << 26 | fz_dn)


@pytest.mark.parametrize("a,b,nzcv", [(0x3F800000, 0x40000000, 0x8), (0x40000000, 0x40000000, 0x6),
                                      (0x40000000, 0x3F800000, 0x2), (0x7FC00000, 0x3F800000, 0x3),
                                      (0x00000000, 0x80000000, 0x6)])
def test_vmrs_apsr_nzcv(pair, a, b, nzcv):
    d = [0] * 32
    d[0] = a | b << 32
    insns = [two("VCMP", 0, 0, 1, z=0, e=0), vmrs(1, 15)]
    _diff(pair, insns, d, 0)
    assert pair.cpu.cpsr >> 28 == nzcv and pair.cpu.fpscr >> 28 == nzcv


def test_big_endian_doubles(pair):
    """SETEND BE: the lower-addressed word of a double is its high half."""
    setend_be, setend_le = 0xF1010200, 0xF1010000
    d = [0x0123456789ABCDEF + i for i in range(32)]
    insns = set_reg(1, DATA_BASE + 0x100) + [setend_be, vldr(1, 2, 1, 0), vldr(1, 3, 1, 4, l=0),
                                             vldr(0, 9, 1, 8, l=0), vldr(0, 10, 1, 1),
                                             encode("VLDM", p=0, u=1, d=0, w=1, l=1, rn=1, vdr=8,
                                                    sz=1, imm8=4), setend_le]
    _diff(pair, insns, d, 0)


def test_fpscr_written_from_outside_takes_effect(pair):
    """The cached FPStatus follows cpu.fpscr when it changes behind the translated code's
    back (snapshot load, debugger): same block, different rounding mode and flags."""
    cpu = pair.cpu
    code = [vadd(0, 0, 1, 2), dp3(2, 0, 0, 3, 1, 2), NOP]   # s0 = s1 + s2; s3 = s1 * s2
    one_third = 0x3EAAAAAB
    results = {}
    for rmode in (0, 3, 0, 1, 2):
        state = cpu.save_state()
        state["fpscr"] = rmode << 22
        state["vfp_d"] = [one_third << 32, 0x3F800001] + [0] * 30
        cpu.load_state(state)
        cpu = run_ours(pair, code)
        assert cpu.regs[15] == CODE_BASE + 12
        results.setdefault(rmode, (cpu.vfp_d[0], cpu.vfp_d[1], cpu.fpscr))
        assert results[rmode] == (cpu.vfp_d[0], cpu.vfp_d[1], cpu.fpscr)
        assert cpu.fpscr == rmode << 22 | 0x10  # inexact
    assert len({r[0] & 0xFFFFFFFF for r in results.values()}) == 2   # RN=RP, RZ=RM here
    pair.uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)
    for rmode, (d0, d1, fpscr) in results.items():
        d = [one_third << 32, 0x3F800001] + [0] * 30
        _diff(pair, code[:2], d, rmode << 22)
        assert (pair.cpu.vfp_d[0], pair.cpu.vfp_d[1], pair.cpu.fpscr) == (d0, d1, fpscr)
