"""Directed Advanced SIMD (NEON) tests: access rules (FPEXC.EN, CPACR) and UNDEFINED
encodings compared with Unicorn, alignment faults of the element and structure
loads/stores, the ID registers, and the T32 encodings' mapping.

Alignment: Unicorn's QEMU 5 does not check the alignment a VLDn/VSTn specifies (QEMU
6 and later do), so those expectations come from the ARM ARM (A8.8.320 ff., "the
alignment is checked, an unaligned address generates an Alignment fault") and are
checked against qemu-user (``qemu-arm``, QEMU 7) by test_neon_qemu_user.py.
"""
from __future__ import annotations

import pytest
from unicorn import UcError
from unicorn import arm_const as A

from gen_neon import FORMS, encode, to_t32
from harness import CODE_BASE, DATA_BASE
from test_vfp_directed import (ABT, NOP, SVC, _uc_run, _undef_at, pair, run_ours,  # noqa: F401
                               set_reg)

from pysystem.cpu.arm import a32, t32, vfp

VADD_Q = 0xF2200840          # vadd.i32 q0, q0, q0
VLD1_64 = 0xF421078F         # vld1.8 {d0}, [r1]   (then patched with an alignment)


def vld1(l: int, rn: int, align: int, size: int = 2, itype: int = 0b0111, rm: int = 15, d: int = 0) -> int:
    return encode(FORMS["VLDST_multiple"], dict(d=d >> 4, l=l, rn=rn, vd_=d & 15, itype=itype, size=size,
                                                align=align, rm=rm))


# --- access -------------------------------------------------------------------------------------

DISABLED_UNDEF = {"VADD.I32 q0": VADD_Q, "VLD1.32": vld1(1, 1, 0), "VST1.32": vld1(0, 1, 0),
                  "VDUP.32": 0xEE800B10, "VMOV.8 to scalar": 0xEE400B10,
                  "VMOV.S16 from scalar": 0xEE100B30}


@pytest.mark.parametrize("name", sorted(DISABLED_UNDEF))
def test_undef_when_fpexc_en_clear(pair, name):
    code = [NOP, DISABLED_UNDEF[name], NOP]
    cpu = run_ours(pair, code, fpexc=0, regs=[0, DATA_BASE])
    _undef_at(cpu, 1)
    with pytest.raises(UcError):
        _uc_run(pair, [NOP] + set_reg(1, DATA_BASE) + code[1:], 0)


@pytest.mark.parametrize("cpacr", [0, 0x00A00000])
def test_undef_without_cp10_cp11_access(pair, cpacr):
    cpu = run_ours(pair, [NOP, VADD_Q], cpacr=cpacr)
    _undef_at(cpu, 1)


def test_enabled_runs(pair):
    pair.cpu.vfp_d[0] = 0x0000000100000002
    pair.cpu.vfp_d[1] = 0xFFFFFFFF00000003
    cpu = run_ours(pair, [NOP, VADD_Q, NOP])
    assert cpu.mode == SVC and cpu.regs[15] == CODE_BASE + 12
    assert cpu.vfp_d[0:2] == [0x0000000200000004, 0xFFFFFFFE00000006]


# --- encodings the Cortex-A9 does not have: UNDEF in both ------------------------------------------

OTHER_UNDEF = {
    "VFMA.F32 (VFPv4)": 0xF2000C50, "VMAXNM (v8)": 0xF3000F50, "AESE (crypto)": 0xF3B00300,
    "VADD.F16 (v8.2)": 0xF2100D40, "VRINTN (v8)": 0xF3BA0440, "VCVTA (v8)": 0xF3BB0000,
    "VQRDMLAH (v8.1)": 0xF3000B50, "VMULL.P64 (crypto)": 0xF2A00E00,
    "VADD.I32 q, Vd odd": 0xF2221840, "VMUL.I64": 0xF2300950, "VPADD q": 0xF2000B50,
    "VLD2 size 3": vld1(1, 1, 0, size=3, itype=0b1000),
    "VMOV.F32 imm op=1": 0xF2800F30, "VCVT.F16.F32 Vm odd": 0xF3B60601,
    "VSHRN.I64 odd": 0xF2880811, "VEXT d imm>7": 0xF2B00800,
}


@pytest.mark.parametrize("name", sorted(OTHER_UNDEF))
def test_other_encodings_undef(pair, name):
    insn = OTHER_UNDEF[name]
    assert a32.decode(insn)[0] is None, name
    cpu = run_ours(pair, [NOP, insn], regs=[DATA_BASE] * 14)
    _undef_at(cpu, 1)
    with pytest.raises(UcError):
        _uc_run(pair, [NOP] + set_reg(1, DATA_BASE) + [insn], 0x40000000)


# UNPREDICTABLE: we UNDEF, as QEMU 6+ does (Unicorn's QEMU 5 transfers registers past d31)
UNPREDICTABLE_UNDEF = {"VLD1 past d31": vld1(1, 1, 0, itype=0b0010, d=30),
                       "VLD1 base PC": vld1(1, 15, 0), "VMOV.8 to scalar from PC": 0xEE40FB10}


@pytest.mark.parametrize("name", sorted(UNPREDICTABLE_UNDEF))
def test_unpredictable_undef(pair, name):
    cpu = run_ours(pair, [NOP, UNPREDICTABLE_UNDEF[name]], regs=[DATA_BASE] * 14)
    _undef_at(cpu, 1)


# --- alignment ------------------------------------------------------------------------------------

# (name, instruction with base r1, its alignment in bytes, store?)
ALIGNED = [
    ("VLD1.32 {d0} [r1:64]", vld1(1, 1, 1), 8, False),
    ("VST1.32 {d0} [r1:64]", vld1(0, 1, 1), 8, True),
    ("VLD1.8 {d0-d3} [r1:256]", vld1(1, 1, 3, size=0, itype=0b0010), 32, False),
    ("VST2.16 {d0,d1} [r1:128]", vld1(0, 1, 2, size=1, itype=0b1000), 16, True),
    ("VLD4.8 {d0-d3} [r1:64]", vld1(1, 1, 1, size=0, itype=0b0000), 8, False),
    ("VLD1.32 {d0[1]} [r1:32]", 0xF4A1088F | 0x30, 4, False),
    ("VST2.16 {d0[0],d1[0]} [r1:32]", 0xF481051F, 4, True),
    ("VLD1.16 {d0[]} [r1:16]", 0xF4A10C5F, 2, False),
    ("VLD4.32 {d0[],d1[],d2[],d3[]} [r1:128]", 0xF4A10FDF, 16, False),
]


@pytest.mark.parametrize("name,insn,align,store", ALIGNED, ids=[a[0] for a in ALIGNED])
def test_alignment_fault(pair, name, insn, align, store):
    form, args = a32.decode(insn)
    assert form is not None and args.align == align, (name, form, args)
    for offset in sorted({1, align // 2, align - 1} - {0}):
        addr = DATA_BASE + 0x100 + offset
        pair.cpu.vfp_d[0:4] = [1, 2, 3, 4]
        cpu = run_ours(pair, set_reg(1, addr) + [insn], regs=[0] * 14)
        assert cpu.mode == ABT and cpu.regs[15] == 0x10, (name, offset)
        assert cpu.regs[14] == CODE_BASE + 8 + 8
        assert cpu.cp15.dfar == addr
        assert cpu.cp15.dfsr == (0x801 if store else 0x001)
        assert cpu.vfp_d[0:4] == [1, 2, 3, 4]
    cpu = run_ours(pair, set_reg(1, DATA_BASE + 0x100) + [insn], regs=[0] * 14)
    assert cpu.mode == SVC and cpu.regs[15] == CODE_BASE + 12


def test_sctlr_a_checks_element_alignment(pair):
    """Without an alignment specifier the elements need their own alignment only when
    SCTLR.A is set (ARM ARM A3.2.1)."""
    insn = vld1(1, 1, 0, size=1)  # vld1.16 {d0}, [r1]
    pair.cpu.cp15.sctlr |= 2
    try:
        cpu = run_ours(pair, set_reg(1, DATA_BASE + 0x101) + [insn], regs=[0] * 14)
        assert cpu.mode == ABT and cpu.cp15.dfsr == 0x001 and cpu.cp15.dfar == DATA_BASE + 0x101
        cpu = run_ours(pair, set_reg(1, DATA_BASE + 0x102) + [insn], regs=[0] * 14)
        assert cpu.mode == SVC
    finally:
        pair.cpu.cp15.sctlr &= ~2
    cpu = run_ours(pair, set_reg(1, DATA_BASE + 0x101) + [insn], regs=[0] * 14)
    assert cpu.mode == SVC


# --- identification and encodings -----------------------------------------------------------------

def test_mvfr_advertise_advanced_simd():
    """Linux sets HWCAP_NEON when MVFR1[19:8] == 0x111 (arch/arm/vfp/vfpmodule.c)."""
    assert (vfp.MVFR0, vfp.MVFR1) == (0x11110222, 0x01111111)
    assert vfp.MVFR1 & 0x000FFF00 == 0x00011100


def test_t32_maps_onto_a32():
    for insn in (VADD_Q, 0xF3000110, vld1(1, 1, 0), 0xF4A10C5F, 0xF3B60200):
        form, args = a32.decode(insn)
        tform, targs = t32.decode(to_t32(insn), 4)
        assert tform is form and vars(targs) == vars(args)
