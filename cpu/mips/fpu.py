"""The FPU's decode table (coprocessor 1 and COP1X) for the 24Kf/34Kf; see trans_fpu.py.

Tried after the integer table when the block may use the FPU (the model has one and
Status.CU1 is set, a key bit); otherwise the coprocessor-1 space is Coprocessor
Unusable (isa.NO_FPU_FORMS).  The paired-single format and the 64-bit integer format
(which needs FR=1) decode to RI, as they do in QEMU for these cores with FR=0.
"""
from __future__ import annotations

from typing import List

from pysystem.cpu import softfloat as sf
from pysystem.cpu.engine.decode import Form

from . import trans_fpu as t
from .decode_util import sext16

FMTS = {"s": "10000", "d": "10001"}
ALL_FMTS = {"s": "10000", "d": "10001", "w": "10100", "l": "10101"}
ROUNDINGS = {"round": sf.RN, "trunc": sf.RZ, "ceil": sf.RP, "floor": sf.RM}


def _boff(f):
    v = f["imm"]
    return (v - ((v & 0x8000) << 1)) << 2


def _simm(f):
    return sext16(f["imm"])


FORMS: List[Form] = [
    Form("MFC1", "010001 00000 rt:5 fs:5 00000000000", t.mfc1),
    Form("CFC1", "010001 00010 rt:5 fs:5 00000000000", t.cfc1),
    Form("MFHC1", "010001 00011 rt:5 fs:5 00000000000", t.mfhc1, rel=2),
    Form("MTC1", "010001 00100 rt:5 fs:5 00000000000", t.mtc1),
    Form("CTC1", "010001 00110 rt:5 fs:5 00000000000", t.ctc1),
    Form("MTHC1", "010001 00111 rt:5 fs:5 00000000000", t.mthc1, rel=2),
    Form("BC1", "010001 01000 cc:3 nd:1 tf:1 imm:16", t.bc1, off=_boff),
    Form("MOVCI", "000000 rs:5 cc:3 0 tf:1 rd:5 00000 000001", t.movci),
    Form("LWC1", "110001 base:5 ft:5 imm:16", t.ldst, imm=_simm, size=4, store=False),
    Form("LDC1", "110101 base:5 ft:5 imm:16", t.ldst, imm=_simm, size=8, store=False),
    Form("SWC1", "111001 base:5 ft:5 imm:16", t.ldst, imm=_simm, size=4, store=True),
    Form("SDC1", "111101 base:5 ft:5 imm:16", t.ldst, imm=_simm, size=8, store=True),
    Form("LWXC1", "010011 base:5 index:5 00000 ft:5 000000", t.ldst, size=4, store=False, rel=2),
    Form("LDXC1", "010011 base:5 index:5 00000 ft:5 000001", t.ldst, size=8, store=False, rel=2),
    Form("SWXC1", "010011 base:5 index:5 ft:5 00000 001000", t.ldst, size=4, store=True, rel=2),
    Form("SDXC1", "010011 base:5 index:5 ft:5 00000 001001", t.ldst, size=8, store=True, rel=2),
    Form("PREFX", "010011 base:5 index:5 hint:5 00000 001111", t.prefx, rel=2),
]

for _name, _fmt in FMTS.items():
    _u = _name.upper()
    FORMS += [
        Form(f"ADD_{_u}", f"010001 {_fmt} ft:5 fs:5 fd:5 000000", t.arith, op="add", fmt=_name),
        Form(f"SUB_{_u}", f"010001 {_fmt} ft:5 fs:5 fd:5 000001", t.arith, op="sub", fmt=_name),
        Form(f"MUL_{_u}", f"010001 {_fmt} ft:5 fs:5 fd:5 000010", t.arith, op="mul", fmt=_name),
        Form(f"DIV_{_u}", f"010001 {_fmt} ft:5 fs:5 fd:5 000011", t.arith, op="div", fmt=_name),
        Form(f"SQRT_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 000100", t.arith, op="sqrt", fmt=_name,
             ft=0),
        Form(f"ABS_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 000101", t.fmove, op="abs", fmt=_name),
        Form(f"MOV_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 000110", t.fmove, op="mov", fmt=_name),
        Form(f"NEG_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 000111", t.fmove, op="neg", fmt=_name),
        Form(f"MOVCF_{_u}", f"010001 {_fmt} cc:3 0 tf:1 fs:5 fd:5 010001", t.fmovc, op="cf",
             fmt=_name),
        Form(f"MOVZ_{_u}", f"010001 {_fmt} rt:5 fs:5 fd:5 010010", t.fmovc, op="z", fmt=_name),
        Form(f"MOVN_{_u}", f"010001 {_fmt} rt:5 fs:5 fd:5 010011", t.fmovc, op="n", fmt=_name),
        Form(f"RECIP_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 010101", t.recip, op="recip",
             fmt=_name, rel=2),
        Form(f"RSQRT_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 010110", t.recip, op="rsqrt",
             fmt=_name, rel=2),
        Form(f"C_{_u}", f"010001 {_fmt} ft:5 fs:5 cc:3 00 11 cond:4", t.compare, fmt=_name),
        Form(f"MADD_{_u}", f"010011 fr:5 ft:5 fs:5 fd:5 100 {'000' if _name == 's' else '001'}",
             t.madd, op="madd", fmt=_name, rel=2),
        Form(f"MSUB_{_u}", f"010011 fr:5 ft:5 fs:5 fd:5 101 {'000' if _name == 's' else '001'}",
             t.madd, op="msub", fmt=_name, rel=2),
        Form(f"NMADD_{_u}", f"010011 fr:5 ft:5 fs:5 fd:5 110 {'000' if _name == 's' else '001'}",
             t.madd, op="nmadd", fmt=_name, rel=2),
        Form(f"NMSUB_{_u}", f"010011 fr:5 ft:5 fs:5 fd:5 111 {'000' if _name == 's' else '001'}",
             t.madd, op="nmsub", fmt=_name, rel=2),
    ]
    for _i, (_rname, _mode) in enumerate(ROUNDINGS.items()):
        FORMS += [
            Form(f"{_rname.upper()}_L_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 0010{_i:02b}", t.cvt,
                 fmt=_name, to="l", rounding=_mode),
            Form(f"{_rname.upper()}_W_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 0011{_i:02b}", t.cvt,
                 fmt=_name, to="w", rounding=_mode),
        ]

for _name, _fmt in ALL_FMTS.items():
    _u = _name.upper()
    for _to, _funct in (("s", "100000"), ("d", "100001"), ("w", "100100"), ("l", "100101")):
        if _to != _name:
            FORMS.append(Form(f"CVT_{_to.upper()}_{_u}", f"010001 {_fmt} 00000 fs:5 fd:5 {_funct}",
                              t.cvt, fmt=_name, to=_to, rounding=None))
