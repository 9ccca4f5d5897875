"""The T32 (Thumb and Thumb-2) decode tables and ``translate_t32``.

``FORMS16`` holds the 16-bit encodings, ``FORMS32`` the 32-bit ones (value
``hw1 << 16 | hw2``); both feed the shared generators of ``trans_*.py`` with the
argument names the A32 table uses (see each trans module's docstring), plus the
T32-only generators of ``trans_thumb.py``.  Field names with a trailing ``_``
are raw T32 fields that a derived argument replaces.

Coprocessor space (``hw1 = 111x 11xx`` except Advanced SIMD) is bit-identical to
A32 (``1110 ...`` with cond AL, ``1111 ...`` the unconditional space): those
instructions are decoded by the A32 decoder, so VFP and CP15 forms exist once.
Advanced SIMD is too, after moving bits (``neon_to_a32``: data processing
``111U 1111`` is A32's ``1111 001U``, element/structure loads and stores
``1111 1001`` are ``1111 0100``).

IT blocks: the IT state is part of the block key (``itstate << 40``).  While a
block is translated, ``ctx.itstate_next`` follows the IT state from instruction
to instruction; ``ctx.key_hi`` is set to the state *after* the current
instruction, so every exit the generators emit carries the right IT state.  An
instruction that can raise a guest exception must run with the IT state of its
block key (``ARMCPU`` restores the IT state from it): if its IT state differs,
the block ends before it and it starts the next block.  Instructions that call
state helpers get ``cpu.itstate`` set first (they build keys from it).

16-bit forms that set the flags only outside an IT block carry ``s=-1``; the
decoder turns that into 1 or 0.
"""
from __future__ import annotations

import re
from typing import Callable, List, Optional

from . import a32
from . import trans_branch as br
from . import trans_dp as dp
from . import trans_media as md
from . import trans_mem as mem
from . import trans_sys as sy
from . import trans_thumb as th
from ..engine.decode import Decoder, Form, ror32, sext
from .emit import emit_insn
from .exceptions import FSR_EXT, FSR_SYNC_EXTERNAL, PrefetchAbort
from .translator import Ctx

IT_SHIFT = 40
IT_MASK = 0xFF << IT_SHIFT


def it_advance(it: int) -> int:
    """ITAdvance(): the IT state of the next instruction."""
    if it & 7 == 0:
        return 0
    return (it & 0xE0) | ((it << 1) & 0x1F)


def thumb_expand_imm(imm12: int):
    """ThumbExpandImm_C: (value, carry: -1 = unchanged, else 0/1)."""
    if imm12 >> 10 == 0:
        imm8 = imm12 & 0xFF
        kind = (imm12 >> 8) & 3
        if kind == 0:
            v = imm8
        elif kind == 1:
            v = imm8 << 16 | imm8
        elif kind == 2:
            v = imm8 << 24 | imm8 << 8
        else:
            v = imm8 * 0x01010101
        return v, -1
    v = ror32(0x80 | (imm12 & 0x7F), imm12 >> 7)
    return v, v >> 31


# --- field helpers -------------------------------------------------------------------

def _imm12(f):
    return f["i"] << 11 | f["imm3"] << 8 | f["imm8"]


# T32 data-processing opcode -> A32 opcode (ORN = -1); None = UNDEFINED
_DP_OPS = {0: dp.AND, 1: dp.BIC, 2: dp.ORR, 3: th.ORN, 4: dp.EOR, 8: dp.ADD, 10: dp.ADC,
           11: dp.SBC, 13: dp.SUB, 14: dp.RSB}
_DP_CMP = {0: dp.TST, 4: dp.TEQ, 8: dp.CMN, 13: dp.CMP}


def _dp_op(f):
    t = f["top"]
    if f["rd_"] == 15 and f["s"] and t in _DP_CMP:
        return _DP_CMP[t]
    if f["rn_"] == 15 and t == 2:
        return dp.MOV
    if f["rn_"] == 15 and t == 3:
        return dp.MVN
    return _DP_OPS[t]


def _dp_valid(f):
    return f["top"] in _DP_OPS


def _dp_rd(f):
    return 0 if (f["rd_"] == 15 and f["s"] and f["top"] in _DP_CMP) else f["rd_"]


def _dp_rn(f):
    return 0 if (f["rn_"] == 15 and f["top"] in (2, 3)) else f["rn_"]


def _b_imm(f):
    s = f["s_"]
    i1 = 1 - (f["j1"] ^ s)
    i2 = 1 - (f["j2"] ^ s)
    return sext(s << 24 | i1 << 23 | i2 << 22 | f["imm10"] << 12 | f["imm11"] << 1, 25)


def _blx_imm(f):
    s = f["s_"]
    i1 = 1 - (f["j1"] ^ s)
    i2 = 1 - (f["j2"] ^ s)
    return sext(s << 24 | i1 << 23 | i2 << 22 | f["imm10"] << 12 | f["imm10l"] << 2, 25)


def _bcond_imm(f):
    return sext(f["s_"] << 20 | f["j2"] << 19 | f["j1"] << 18 | f["imm6"] << 12 | f["imm11"] << 1, 21)


_SIZES = {0: 1, 1: 2, 2: 4, 3: 8}

# T32 extend op (SXTAH UXTAH SXTAB16 UXTAB16 SXTAB UXTAB) -> A32 op
_EXT_OPS = {0: 3, 1: 7, 2: 0, 3: 4, 4: 2, 5: 6}
# T32 parallel op1 (hw1 6:4) -> A32 op2; T32 op2 (hw2 5:4) + 1 = A32 op1
_PAR_OPS = {1: 0, 2: 1, 6: 2, 5: 3, 0: 4, 4: 7}
# T32 QADD/QDADD/QSUB/QDSUB -> A32 QADD/QSUB/QDADD/QDSUB numbering
_Q_OPS = {0: 0, 1: 2, 2: 1, 3: 3}


def _ldst(mode: str, **extra) -> dict:
    base = dict(load=lambda f: f["l"], size=lambda f: _SIZES[f["sz"]], sign=lambda f: f["sg"], mode=mode)
    base.update(extra)
    return base


S16 = -1  # "sets flags outside IT blocks"

FORMS16: List[Form] = [
    # shift (immediate), add, subtract, move, compare
    Form("ADDSUB_reg16", "000 11 0 sub:1 rm:3 rn:3 rd:3", dp.trans_dp_reg, width=16,
         op=lambda f: dp.SUB if f["sub"] else dp.ADD, s=S16, shtype=0, shimm=0),
    Form("ADDSUB_imm3", "000 11 1 sub:1 imm3:3 rn:3 rd:3", dp.trans_dp_imm, width=16,
         op=lambda f: dp.SUB if f["sub"] else dp.ADD, s=S16, imm=lambda f: f["imm3"], imm_c=-1),
    Form("SHIFT_imm16", "000 shtype:2 shimm:5 rm:3 rd:3", dp.trans_dp_reg, width=16,
         op=dp.MOV, rn=0, s=S16),
    Form("MOV_imm8", "001 00 rd:3 imm8:8", dp.trans_dp_imm, width=16,
         op=dp.MOV, rn=0, s=S16, imm=lambda f: f["imm8"], imm_c=-1),
    Form("CMP_imm8", "001 01 rn:3 imm8:8", dp.trans_dp_imm, width=16,
         op=dp.CMP, rd=0, s=1, imm=lambda f: f["imm8"], imm_c=-1),
    Form("ADDSUB_imm8", "001 1 sub:1 rd:3 imm8:8", dp.trans_dp_imm, width=16,
         op=lambda f: dp.SUB if f["sub"] else dp.ADD, rn=lambda f: f["rd"], s=S16,
         imm=lambda f: f["imm8"], imm_c=-1),
    # data processing (register)
    Form("DP_shift16", "010000 op_:4 rm_:3 rdn:3", dp.trans_dp_rsr, width=16,
         when=lambda f: f["op_"] in (2, 3, 4, 7),
         op=dp.MOV, s=S16, rd=lambda f: f["rdn"], rn=0, rm=lambda f: f["rdn"], rs=lambda f: f["rm_"],
         shtype=lambda f: {2: 0, 3: 1, 4: 2, 7: 3}[f["op_"]]),
    Form("RSB16", "010000 1001 rn:3 rd:3", dp.trans_dp_imm, width=16,
         op=dp.RSB, s=S16, imm=0, imm_c=-1),
    Form("MUL16", "010000 1101 rn:3 rdm:3", dp.trans_mul, width=16,
         rd=lambda f: f["rdm"], rm=lambda f: f["rdm"], acc=0, ra=0, s=S16),
    Form("DP_reg16", "010000 op_:4 rm:3 rdn:3", dp.trans_dp_reg, width=16,
         op=lambda f: {0: dp.AND, 1: dp.EOR, 5: dp.ADC, 6: dp.SBC, 8: dp.TST, 10: dp.CMP, 11: dp.CMN,
                       12: dp.ORR, 14: dp.BIC, 15: dp.MVN}[f["op_"]],
         when=lambda f: f["op_"] in (0, 1, 5, 6, 8, 10, 11, 12, 14, 15),
         s=lambda f: 1 if f["op_"] in (8, 10, 11) else S16,
         rd=lambda f: 0 if f["op_"] in (8, 10, 11) else f["rdn"],
         rn=lambda f: 0 if f["op_"] == 15 else f["rdn"], shtype=0, shimm=0),
    # special data processing, branch and exchange
    Form("ADD_hi", "01000100 dn:1 rm:4 rdn:3", dp.trans_dp_reg, width=16,
         when=lambda f: not (f["dn"] and f["rdn"] == 7 and f["rm"] == 15),
         op=dp.ADD, s=0, rd=lambda f: f["dn"] << 3 | f["rdn"], rn=lambda f: f["dn"] << 3 | f["rdn"],
         shtype=0, shimm=0),
    Form("CMP_hi", "01000101 n:1 rm:4 rn_:3", dp.trans_dp_reg, width=16,
         op=dp.CMP, s=1, rd=0, rn=lambda f: f["n"] << 3 | f["rn_"], shtype=0, shimm=0),
    Form("MOV_hi", "01000110 d:1 rm:4 rd_:3", dp.trans_dp_reg, width=16,
         op=dp.MOV, s=0, rn=0, rd=lambda f: f["d"] << 3 | f["rd_"], shtype=0, shimm=0),
    Form("BX16", "01000111 0 rm:4 000", br.trans_bx, width=16, link=0),
    Form("BLX16", "01000111 1 rm:4 000", br.trans_bx, width=16, link=1),
    # loads and stores
    Form("LDR_lit16", "01001 rt:3 imm8:8", mem.trans_ldst_imm, width=16,
         load=1, size=4, sign=0, rn=15, p=1, u=1, w=0, user=0, imm=lambda f: f["imm8"] << 2),
    Form("LDST_reg16", "0101 opb:3 rm:3 rn:3 rt:3", mem.trans_ldst_reg, width=16,
         load=lambda f: int(f["opb"] >= 3), size=lambda f: (4, 2, 1, 1, 4, 2, 1, 2)[f["opb"]],
         sign=lambda f: int(f["opb"] in (3, 7)), p=1, u=1, w=0, user=0, shtype=0, shimm=0),
    Form("LDST_imm16", "011 b:1 l:1 imm5:5 rn:3 rt:3", mem.trans_ldst_imm, width=16,
         load=lambda f: f["l"], size=lambda f: 1 if f["b"] else 4, sign=0, p=1, u=1, w=0, user=0,
         imm=lambda f: f["imm5"] if f["b"] else f["imm5"] << 2),
    Form("LDSTH_imm16", "1000 l:1 imm5:5 rn:3 rt:3", mem.trans_ldst_imm, width=16,
         load=lambda f: f["l"], size=2, sign=0, p=1, u=1, w=0, user=0, imm=lambda f: f["imm5"] << 1),
    Form("LDST_sp16", "1001 l:1 rt:3 imm8:8", mem.trans_ldst_imm, width=16,
         load=lambda f: f["l"], size=4, sign=0, rn=13, p=1, u=1, w=0, user=0, imm=lambda f: f["imm8"] << 2),
    # PC/SP-relative addresses, SP adjustment
    Form("ADR16", "10100 rd:3 imm8:8", th.trans_adr, width=16, add=1, imm=lambda f: f["imm8"] << 2),
    Form("ADD_sp16", "10101 rd:3 imm8:8", dp.trans_dp_imm, width=16,
         op=dp.ADD, s=0, rn=13, imm=lambda f: f["imm8"] << 2, imm_c=-1),
    Form("ADDSUB_sp7", "1011 0000 sub:1 imm7:7", dp.trans_dp_imm, width=16,
         op=lambda f: dp.SUB if f["sub"] else dp.ADD, s=0, rd=13, rn=13, imm=lambda f: f["imm7"] << 2, imm_c=-1),
    # miscellaneous 16-bit instructions
    Form("CBZ", "1011 nz:1 0 i_:1 1 imm5:5 rn:3", th.trans_cbz, width=16,
         imm=lambda f: f["i_"] << 6 | f["imm5"] << 1),
    Form("EXT16", "1011 0010 op_:2 rm:3 rd:3", md.trans_extend, width=16,
         op=lambda f: (3, 2, 7, 6)[f["op_"]], rn=15, rot=0),
    Form("PUSH16", "1011 010 m:1 list_:8", mem.trans_ldm, width=16,
         load=0, rn=13, b=1, u=0, w=1, user=0, reglist=lambda f: f["list_"] | f["m"] << 14),
    Form("SETEND16", "1011 0110 0101 e:1 000", sy.trans_setend, width=16),
    Form("CPS16", "1011 0110 011 im:1 0 a:1 i:1 f:1", sy.trans_cps, width=16,
         imod=lambda f: 3 if f["im"] else 2, m=0, mode=0),
    Form("REV16_", "1011 1010 op:2 rm:3 rd:3", md.trans_rev, width=16, when=lambda f: f["op"] != 2),
    Form("POP16", "1011 110 p_:1 list_:8", mem.trans_ldm, width=16,
         load=1, rn=13, b=0, u=1, w=1, user=0, reglist=lambda f: f["list_"] | f["p_"] << 15),
    Form("BKPT16", "1011 1110 imm8:8", sy.trans_bkpt, width=16),
    Form("HINT16", "1011 1111 op:4 0000", sy.trans_hint, width=16),
    Form("IT", "1011 1111 firstcond:4 mask:4", th.trans_it, width=16),
    # load/store multiple, conditional branch, SVC, UDF, branch
    Form("LDM16", "1100 load:1 rn:3 reglist:8", th.trans_ldm16, width=16, b=0, u=1, user=0),
    Form("UDF16", "1101 1110 imm8:8", sy.trans_udf, width=16),
    Form("SVC16", "1101 1111 imm8:8", th.trans_svc_t, width=16),
    Form("B_cond16", "1101 cond:4 imm8:8", th.trans_bcond, width=16,
         link=0, exchange=0, imm=lambda f: sext(f["imm8"], 8) << 1),
    Form("B16", "11100 imm11:11", br.trans_b, width=16,
         link=0, exchange=0, imm=lambda f: sext(f["imm11"], 11) << 1),
]


FORMS32: List[Form] = [
    # --- load/store multiple, SRS, RFE ------------------------------------------------------
    Form("SRS_t", "1110 100 op_:2 0 w:1 0 1101 1100 0000 000 mode:5", sy.trans_srs,
         when=lambda f: f["op_"] in (0, 3), p=lambda f: int(f["op_"] == 0), u=lambda f: int(f["op_"] == 3)),
    Form("RFE_t", "1110 100 op_:2 0 w:1 1 rn:4 1100 0000 0000 0000", sy.trans_rfe,
         when=lambda f: f["op_"] in (0, 3), p=lambda f: int(f["op_"] == 0), u=lambda f: int(f["op_"] == 3)),
    Form("LDM_t", "1110 100 op_:2 0 w:1 load:1 rn:4 reglist:16", th.trans_ldm32,
         when=lambda f: f["op_"] in (1, 2), b=lambda f: int(f["op_"] == 2), u=lambda f: int(f["op_"] == 1),
         user=0),
    # --- load/store dual, exclusive, table branch --------------------------------------------
    Form("STREX_t", "1110 1000 0100 rn:4 rt:4 rd:4 imm8:8", mem.trans_strex,
         size=4, rt2=0, imm=lambda f: f["imm8"] << 2),
    Form("LDREX_t", "1110 1000 0101 rn:4 rt:4 1111 imm8:8", mem.trans_ldrex,
         size=4, rt2=0, imm=lambda f: f["imm8"] << 2),
    Form("STREXBH_t", "1110 1000 1100 rn:4 rt:4 1111 010 h:1 rd:4", mem.trans_strex,
         size=lambda f: 2 if f["h"] else 1, rt2=0, imm=0),
    Form("STREXD_t", "1110 1000 1100 rn:4 rt:4 rt2:4 0111 rd:4", mem.trans_strex, size=8, imm=0),
    Form("TBB", "1110 1000 1101 rn:4 1111 0000 000 h:1 rm:4", th.trans_tbb),
    Form("LDREXBH_t", "1110 1000 1101 rn:4 rt:4 1111 010 h:1 1111", mem.trans_ldrex,
         size=lambda f: 2 if f["h"] else 1, rt2=0, imm=0),
    Form("LDREXD_t", "1110 1000 1101 rn:4 rt:4 rt2:4 0111 1111", mem.trans_ldrex, size=8, imm=0),
    Form("LDRD_t", "1110 100 p:1 u:1 1 w:1 load:1 rn:4 rt:4 rt2:4 imm8:8", mem.trans_ldrd_imm,
         when=lambda f: f["p"] or f["w"], imm=lambda f: f["imm8"] << 2),
    # --- data processing (shifted register) ----------------------------------------------------
    Form("PKH_t", "1110 101 0110 0 rn:4 0 imm3:3 rd:4 imm2:2 tb:1 0 rm:4", md.trans_pkh,
         imm5=lambda f: f["imm3"] << 2 | f["imm2"]),
    Form("DP_sreg", "1110 101 top:4 s:1 rn_:4 0 imm3:3 rd_:4 imm2:2 shtype:2 rm:4", th.trans_dp32_reg,
         when=_dp_valid, op=_dp_op, rd=_dp_rd, rn=_dp_rn, shimm=lambda f: f["imm3"] << 2 | f["imm2"]),
    # --- data processing (modified immediate) --------------------------------------------------
    Form("DP_mimm", "11110 i:1 0 top:4 s:1 rn_:4 0 imm3:3 rd_:4 imm8:8", th.trans_dp32_imm,
         when=_dp_valid, op=_dp_op, rd=_dp_rd, rn=_dp_rn,
         imm=lambda f: thumb_expand_imm(_imm12(f))[0], imm_c=lambda f: thumb_expand_imm(_imm12(f))[1]),
    # --- data processing (plain binary immediate) ----------------------------------------------
    Form("ADDW", "11110 i:1 1 00000 rn:4 0 imm3:3 rd:4 imm8:8", dp.trans_dp_imm,
         when=lambda f: f["rn"] != 15 and f["rd"] != 15, op=dp.ADD, s=0, imm=_imm12, imm_c=-1),
    Form("SUBW", "11110 i:1 1 01010 rn:4 0 imm3:3 rd:4 imm8:8", dp.trans_dp_imm,
         when=lambda f: f["rn"] != 15 and f["rd"] != 15, op=dp.SUB, s=0, imm=_imm12, imm_c=-1),
    Form("ADR_t", "11110 i:1 1 0 sub:1 0 sub2:1 0 1111 0 imm3:3 rd:4 imm8:8", th.trans_adr,
         when=lambda f: f["sub"] == f["sub2"], add=lambda f: 1 - f["sub"], imm=_imm12),
    Form("MOVW_t", "11110 i:1 1 00100 imm4:4 0 imm3:3 rd:4 imm8:8", dp.trans_movw,
         imm=lambda f: f["imm4"] << 12 | _imm12(f)),
    Form("MOVT_t", "11110 i:1 1 01100 imm4:4 0 imm3:3 rd:4 imm8:8", dp.trans_movt,
         imm=lambda f: f["imm4"] << 12 | _imm12(f)),
    Form("SAT16_t", "11110 0 1 1 u:1 010 rn:4 0 000 rd:4 00 00 satimm:4", md.trans_sat16),
    Form("SAT_t", "11110 0 1 1 u:1 0 sh:1 0 rn:4 0 imm3:3 rd:4 imm2:2 0 satimm:5", md.trans_sat,
         imm5=lambda f: f["imm3"] << 2 | f["imm2"]),
    Form("BFX_t", "11110 0 1 1 u:1 100 rn:4 0 imm3:3 rd:4 imm2:2 0 widthm1:5", md.trans_bfx,
         lsb=lambda f: f["imm3"] << 2 | f["imm2"]),
    Form("BFI_t", "11110 0 1 10110 rn:4 0 imm3:3 rd:4 imm2:2 0 msb:5", md.trans_bfi,
         lsb=lambda f: f["imm3"] << 2 | f["imm2"]),
    # --- branches and miscellaneous control ----------------------------------------------------
    Form("MSR_t", "11110 0111 00 r:1 rn:4 10 0 0 mask:4 0000 0000", sy.trans_msr_reg),
    Form("HINT_t", "11110 0111 010 1111 10 0 0 0 000 op:8", sy.trans_hint),
    Form("CPS_t", "11110 0111 010 1111 10 0 0 0 imod:2 m:1 a:1 i:1 f:1 mode:5", sy.trans_cps,
         when=lambda f: f["imod"] != 1 and (f["imod"] or f["m"])
         and not (f["imod"] == 0 and (f["a"] or f["i"] or f["f"]))),
    Form("CLREX_t", "11110 0111 011 1111 10 0 0 1111 0010 opt:4", mem.trans_clrex),
    Form("DSB_t", "11110 0111 011 1111 10 0 0 1111 0100 opt:4", sy.trans_barrier, op="dsb"),
    Form("DMB_t", "11110 0111 011 1111 10 0 0 1111 0101 opt:4", sy.trans_barrier, op="dmb"),
    Form("ISB_t", "11110 0111 011 1111 10 0 0 1111 0110 opt:4", sy.trans_barrier, op="isb"),
    Form("BXJ_t", "11110 0111 100 rm:4 10 0 0 1111 0000 0000", br.trans_bx, link=0),
    Form("SUBS_pc_lr", "11110 0111 101 1110 10 0 0 1111 imm8:8", dp.trans_dp_imm,
         op=dp.SUB, s=1, rd=15, rn=14, imm=lambda f: f["imm8"], imm_c=-1),
    Form("MRS_t", "11110 0111 11 r:1 1111 10 0 0 rd:4 0000 0000", sy.trans_mrs),
    Form("SMC_t", "11110 111 1111 imm4:4 1000 0000 0000 0000", sy.trans_smc),
    Form("UDF_t", "11110 111 1111 imm4:4 1010 imm12:12", sy.trans_udf),
    Form("B_cond32", "11110 s_:1 cond:4 imm6:6 10 j1:1 0 j2:1 imm11:11", th.trans_bcond,
         when=lambda f: f["cond"] < 14, link=0, exchange=0, imm=_bcond_imm),
    Form("B32", "11110 s_:1 imm10:10 10 j1:1 1 j2:1 imm11:11", br.trans_b, link=0, exchange=0, imm=_b_imm),
    Form("BL32", "11110 s_:1 imm10:10 11 j1:1 1 j2:1 imm11:11", br.trans_b, link=1, exchange=0, imm=_b_imm),
    Form("BLX32", "11110 s_:1 imm10:10 11 j1:1 0 j2:1 imm10l:10 0", br.trans_b,
         link=1, exchange=1, imm=_blx_imm),
    # --- loads and stores (single) -------------------------------------------------------------------
    Form("LDST_lit", "1111 100 sg:1 u:1 sz:2 l:1 1111 rt:4 imm:12", th.trans_ldst32, **_ldst("lit")),
    Form("LDST_imm12", "1111 100 sg:1 1 sz:2 l:1 rn:4 rt:4 imm:12", th.trans_ldst32, **_ldst("imm12")),
    Form("LDST_imm8", "1111 100 sg:1 0 sz:2 l:1 rn:4 rt:4 1 p:1 u:1 w:1 imm:8", th.trans_ldst32,
         **_ldst("imm8")),
    Form("LDST_reg_t", "1111 100 sg:1 0 sz:2 l:1 rn:4 rt:4 000000 imm2:2 rm:4", th.trans_ldst32,
         **_ldst("reg")),
    # --- data processing (register) ------------------------------------------------------------------
    Form("SHIFT_reg_t", "11111 010 0 shtype:2 s:1 rn_:4 1111 rd:4 0000 rm_:4", dp.trans_dp_rsr,
         op=dp.MOV, rn=0, rm=lambda f: f["rn_"], rs=lambda f: f["rm_"]),
    Form("EXT_t", "11111 010 0 op_:3 rn:4 1111 rd:4 10 rot:2 rm:4", md.trans_extend,
         when=lambda f: f["op_"] in _EXT_OPS, op=lambda f: _EXT_OPS[f["op_"]]),
    Form("PARALLEL_t", "11111 010 1 top1:3 rn:4 1111 rd:4 0 u:1 top2:2 rm:4", md.trans_parallel,
         when=lambda f: f["top1"] in _PAR_OPS and f["top2"] != 3,
         op1=lambda f: f["top2"] + 1, op2=lambda f: _PAR_OPS[f["top1"]]),
    Form("QADDSUB_t", "11111 010 1000 rn:4 1111 rd:4 10 op_:2 rm:4", md.trans_qaddsub,
         op=lambda f: _Q_OPS[f["op_"]]),
    Form("REV_t", "11111 010 1001 rn_:4 1111 rd:4 10 op:2 rm:4", md.trans_rev),
    Form("SEL_t", "11111 010 1010 rn:4 1111 rd:4 1000 rm:4", md.trans_sel),
    Form("CLZ_t", "11111 010 1011 rn_:4 1111 rd:4 1000 rm:4", md.trans_clz),
    # --- multiply, multiply accumulate, absolute difference ----------------------------------------
    Form("MUL_t", "11111 0110 000 rn:4 ra:4 rd:4 0000 rm:4", dp.trans_mul,
         acc=lambda f: int(f["ra"] != 15), s=0),
    Form("MLS_t", "11111 0110 000 rn:4 ra:4 rd:4 0001 rm:4", dp.trans_mul, acc=-1, s=0),
    Form("SMLAxy_t", "11111 0110 001 rn:4 ra:4 rd:4 00 n:1 m:1 rm:4", md.trans_smlaxy,
         acc=lambda f: int(f["ra"] != 15)),
    Form("SMLAD_t", "11111 0110 010 rn:4 ra:4 rd:4 000 x:1 rm:4", md.trans_smlad, sub=0),
    Form("SMLAWy_t", "11111 0110 011 rn:4 ra:4 rd:4 000 m:1 rm:4", md.trans_smlawy,
         acc=lambda f: int(f["ra"] != 15)),
    Form("SMLSD_t", "11111 0110 100 rn:4 ra:4 rd:4 000 x:1 rm:4", md.trans_smlad, sub=1),
    Form("SMMLA_t", "11111 0110 101 rn:4 ra:4 rd:4 000 r:1 rm:4", md.trans_smmla, op=0),
    Form("SMMLS_t", "11111 0110 110 rn:4 ra:4 rd:4 000 r:1 rm:4", md.trans_smmla, op=3),
    Form("USADA8_t", "11111 0110 111 rn:4 ra:4 rd:4 0000 rm:4", md.trans_usad8),
    # --- long multiply (SDIV/UDIV are not in the Cortex-A9: UNDEFINED) -------------------------------
    Form("MULL_t", "11111 0111 0 su:1 0 rn:4 rdlo:4 rdhi:4 0000 rm:4", dp.trans_mull,
         u=lambda f: f["su"], acc=0, s=0),
    Form("MLAL_t", "11111 0111 1 su:1 0 rn:4 rdlo:4 rdhi:4 0000 rm:4", dp.trans_mull,
         u=lambda f: f["su"], acc=1, s=0),
    Form("SMLALxy_t", "11111 0111 100 rn:4 rdlo:4 rdhi:4 10 n:1 m:1 rm:4", md.trans_smlalxy),
    Form("SMLALD_t", "11111 0111 10 sub:1 rn:4 rdlo:4 rdhi:4 110 x:1 rm:4", md.trans_smlald),
    Form("UMAAL_t", "11111 0111 110 rn:4 rdlo:4 rdhi:4 0110 rm:4", dp.trans_umaal),
]

KEY16 = 0xFFC0
KEY32 = 0xFFF0C000
_decoders: List[Decoder] = []


def decoders():
    """(16-bit decoder, 32-bit decoder), built on first use."""
    if not _decoders:
        _decoders.append(Decoder(FORMS16, KEY16))
        _decoders.append(Decoder(FORMS32, KEY32))
    return _decoders[0], _decoders[1]


def is_coproc(insn32: int) -> bool:
    """T32 coprocessor space (hw1 = 111x 11xx, not Advanced SIMD data processing)."""
    hw1 = insn32 >> 16
    return (hw1 & 0xEC00) == 0xEC00 and (hw1 & 0x0300) != 0x0300


def neon_to_a32(insn32: int) -> Optional[int]:
    """The A32 encoding of a T32 Advanced SIMD instruction (data processing ``111U 1111``
    -> ``1111 001U``, element/structure load/store ``1111 1001 xxx0`` -> ``1111 0100``),
    or None."""
    hw1 = insn32 >> 16
    if hw1 & 0xEF00 == 0xEF00:
        return 0xF2000000 | (insn32 >> 4 & 0x01000000) | (insn32 & 0x00FFFFFF)
    if hw1 & 0xFF10 == 0xF900:
        return 0xF4000000 | (insn32 & 0x00FFFFFF)
    return None


def decode(insn: int, size: int):
    """(form, args) of a T32 instruction (``size`` 2 or 4), or (None, None)."""
    d16, d32 = decoders()
    if size == 2:
        return d16.decode(insn)
    simd = neon_to_a32(insn)
    if simd is not None:
        return a32.decode(simd)
    if is_coproc(insn):
        return a32.decode(insn if insn >> 28 == 0xF else (insn & 0x0FFFFFFF) | 0xE0000000)
    return d32.decode(insn)


def is_32bit(hw1: int) -> bool:
    return (hw1 >> 11) in (0x1D, 0x1E, 0x1F)


_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")


def _can_raise(ctx: Ctx, lines) -> bool:
    """Whether generated lines may raise a guest exception or call a state helper."""
    for _, text in lines:
        if text.startswith("\0"):
            if text.startswith(("\0EXIT", "\0SIDE", "\0LOOP")):
                continue
            return True
        if "raise " in text:
            return True
        for name in _CALL.findall(text):
            if name in ctx.bind and not name.startswith("h_"):
                return True
    return False


def _second_halfword_abort(ctx: Ctx) -> None:
    """The second halfword of the block's first instruction is on a page that cannot
    be fetched: a prefetch abort with that page's fault status and address (raised
    at translation, so nothing is cached for it)."""
    va = (ctx.pc + 2) & 0xFFFFFFFF
    ctx.cpu.translate_code(va, ctx.level)  # raises the abort when the page does not map
    raise PrefetchAbort(-1, FSR_SYNC_EXTERNAL | FSR_EXT, va)


def translate_t32(ctx: Ctx, fetch: Callable[[int, int], Optional[int]]) -> int:
    """Translate one T32 instruction at ``ctx.pc`` (the ``isa.translate_a32`` contract)."""
    hw1 = fetch(0, 2)
    if hw1 is None:
        return 0
    if is_32bit(hw1):
        hw2 = fetch(2, 2)
        if hw2 is None:
            if ctx.idx == 0:
                _second_halfword_abort(ctx)
            return 0
        insn, size = hw1 << 16 | hw2, 4
    else:
        insn, size = hw1, 2
    block_it = (ctx.key >> IT_SHIFT) & 0xFF
    it = ctx.itstate_next if ctx.itstate_next is not None else block_it
    in_it = bool(it & 0xF)
    form, args = decode(insn, size)
    if form is not None and form.handler is th.trans_it and not in_it:
        next_it = args.firstcond << 4 | args.mask
    else:
        next_it = it_advance(it)
    base_hi = ctx.key_hi & ~IT_MASK
    ctx.key_hi = base_hi | (next_it << IT_SHIFT)
    # loops back to the block start and side exits assume the block key's IT state
    if ctx.idx == 0:
        ctx.t32_loop_ok = ctx.loop_ok
    ctx.loop_ok = ctx.t32_loop_ok and next_it == block_it
    ctx.t32_it, ctx.t32_next_it = it, next_it
    ctx.insn, ctx.size = insn, size
    if args is not None and getattr(args, "s", None) == S16:
        args.s = 0 if in_it else 1
    if form is not None and form.handler is th.trans_bcond:
        cond = args.cond
    elif form is not None and form.handler is sy.trans_bkpt:
        cond = None  # BKPT is unconditional, even inside an IT block
    else:
        cond = (it >> 4) if in_it else None
    mark, indent = len(ctx.lines), ctx.indent
    emit_insn(ctx, form, args, cond)
    new = ctx.lines[mark:]
    if it != block_it and ctx.idx > 0 and _can_raise(ctx, new):
        # start a block keyed with this instruction's IT state instead
        del ctx.lines[mark:]
        ctx.indent = indent
        ctx.ended = False
        ctx.key_hi = base_hi | (it << IT_SHIFT)
        return 0
    if any(t == "\0SYNC" for _, t in new):
        ctx.lines.insert(mark, (indent, f"cpu.itstate = {next_it}"))
    ctx.itstate_next = next_it
    return size
