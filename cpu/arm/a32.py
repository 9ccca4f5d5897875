"""The A32 (ARM state) decode table: one ``Form`` per instruction form.

Conditional forms start with ``cond:4`` (the translator wraps their code in the
condition test; cond 0b1111 is routed to the unconditional forms, which start
with ``1111``).  Forms are tried in order: specific encodings come before the
general ones they carve out of (e.g. MOVW before data-processing immediate).

To add an instruction: write (or reuse) a generator ``trans_xxx(ctx, a)`` in one
of the ``trans_*.py`` modules and add a ``Form`` line here; see README.md.
Extensions (VFP) add their forms with ``register_forms()`` before the first
decode; their forms are tried before the generic coprocessor entries.
"""
from __future__ import annotations

from typing import List

from . import trans_branch as br
from . import trans_dp as dp
from . import trans_media as md
from . import trans_mem as mem
from . import trans_sys as sy
from ..engine.decode import Decoder, Form, ror32

C = "cond:4 "


def _imm12(f):
    return ror32(f["imm8"], 2 * f["rot"])


def _imm12_c(f):
    return -1 if f["rot"] == 0 else (ror32(f["imm8"], 2 * f["rot"]) >> 31)


def _not_test_nos(f):
    """Data processing, not the misc space (TST..CMN without S); Rd of TST..CMN and
    Rn of MOV/MVN must be zero (QEMU UNDEFs otherwise)."""
    op = f["op"]
    if 8 <= op <= 11:
        return f["s"] == 1 and f["rd"] == 0
    if op in (13, 15):
        return f["rn"] == 0
    return True


FORMS: List[Form] = [
    # --- data processing -------------------------------------------------------------
    Form("MOVW", C + "0011 0000 imm4:4 rd:4 imm12:12", dp.trans_movw, imm=lambda f: f["imm4"] << 12 | f["imm12"]),
    Form("MOVT", C + "0011 0100 imm4:4 rd:4 imm12:12", dp.trans_movt, imm=lambda f: f["imm4"] << 12 | f["imm12"]),
    Form("HINT", C + "0011 0010 0000 1111 0000 op:8", sy.trans_hint),
    Form("MSR_imm", C + "0011 0 r:1 10 mask:4 1111 rot:4 imm8:8", sy.trans_msr_imm, imm=_imm12),
    Form("DP_imm", C + "001 op:4 s:1 rn:4 rd:4 rot:4 imm8:8", dp.trans_dp_imm, when=_not_test_nos,
         imm=_imm12, imm_c=_imm12_c),
    # multiplies (bits 7:4 = 1001 in the 000 space)
    Form("MUL", C + "0000 00 acc:1 s:1 rd:4 ra:4 rm:4 1001 rn:4", dp.trans_mul,
         when=lambda f: f["acc"] or f["ra"] == 0),
    Form("UMAAL", C + "0000 0100 rdhi:4 rdlo:4 rm:4 1001 rn:4", dp.trans_umaal),
    Form("MLS", C + "0000 0110 rd:4 ra:4 rm:4 1001 rn:4", dp.trans_mul, acc=-1, s=0),
    Form("MULL", C + "0000 1 su:1 acc:1 s:1 rdhi:4 rdlo:4 rm:4 1001 rn:4", dp.trans_mull,
         u=lambda f: 1 - f["su"]),
    # synchronisation primitives
    Form("SWP", C + "0001 0 b:1 00 rn:4 rt:4 0000 1001 rt2:4", mem.trans_swp,
         size=lambda f: 1 if f["b"] else 4),
    Form("STREX", C + "0001 1 sz:2 0 rn:4 rd:4 1111 1001 rt:4", mem.trans_strex,
         size=lambda f: (4, 8, 1, 2)[f["sz"]], rt2=lambda f: f["rt"] + 1, imm=0),
    Form("LDREX", C + "0001 1 sz:2 1 rn:4 rt:4 1111 1001 1111", mem.trans_ldrex,
         size=lambda f: (4, 8, 1, 2)[f["sz"]], rt2=lambda f: f["rt"] + 1, imm=0),
    # extra loads/stores: halfword, signed, doubleword
    Form("LDRD_imm", C + "000 p:1 u:1 1 w:1 0 rn:4 rt:4 imh:4 1101 iml:4", mem.trans_ldrd_imm,
         when=lambda f: f["rt"] % 2 == 0 and (f["p"] or not f["w"]),
         load=1, rt2=lambda f: f["rt"] + 1, imm=lambda f: f["imh"] << 4 | f["iml"]),
    Form("STRD_imm", C + "000 p:1 u:1 1 w:1 0 rn:4 rt:4 imh:4 1111 iml:4", mem.trans_ldrd_imm,
         when=lambda f: f["rt"] % 2 == 0 and (f["p"] or not f["w"]),
         load=0, rt2=lambda f: f["rt"] + 1, imm=lambda f: f["imh"] << 4 | f["iml"]),
    Form("LDRD_reg", C + "000 p:1 u:1 0 w:1 0 rn:4 rt:4 0000 1101 rm:4", mem.trans_ldrd_reg,
         when=lambda f: f["rt"] % 2 == 0 and (f["p"] or not f["w"]), load=1, rt2=lambda f: f["rt"] + 1),
    Form("STRD_reg", C + "000 p:1 u:1 0 w:1 0 rn:4 rt:4 0000 1111 rm:4", mem.trans_ldrd_reg,
         when=lambda f: f["rt"] % 2 == 0 and (f["p"] or not f["w"]), load=0, rt2=lambda f: f["rt"] + 1),
    Form("LDRH_imm", C + "000 p:1 u:1 1 w:1 l:1 rn:4 rt:4 imh:4 1 op2:2 1 iml:4", mem.trans_ldst_imm,
         when=lambda f: f["op2"] == 1 or f["l"],
         load=lambda f: f["l"], size=lambda f: 2 if f["op2"] != 2 else 1, sign=lambda f: int(f["op2"] != 1),
         imm=lambda f: f["imh"] << 4 | f["iml"], user=lambda f: int(not f["p"] and f["w"]),
         w=lambda f: f["w"] if f["p"] else 0),
    Form("LDRH_reg", C + "000 p:1 u:1 0 w:1 l:1 rn:4 rt:4 0000 1 op2:2 1 rm:4", mem.trans_ldst_reg,
         when=lambda f: f["op2"] == 1 or f["l"],
         load=lambda f: f["l"], size=lambda f: 2 if f["op2"] != 2 else 1, sign=lambda f: int(f["op2"] != 1),
         shtype=0, shimm=0, user=lambda f: int(not f["p"] and f["w"]), w=lambda f: f["w"] if f["p"] else 0),
    # miscellaneous (cond 00010xx0 ... 0xxx)
    Form("MRS", C + "0001 0 r:1 00 1111 rd:4 0000 0000 0000", sy.trans_mrs),
    Form("MSR_reg", C + "0001 0 r:1 10 mask:4 1111 0000 0000 rn:4", sy.trans_msr_reg),
    Form("BX", C + "0001 0010 1111 1111 1111 0001 rm:4", br.trans_bx, link=0),
    Form("BXJ", C + "0001 0010 1111 1111 1111 0010 rm:4", br.trans_bx, link=0),
    Form("BLX_reg", C + "0001 0010 1111 1111 1111 0011 rm:4", br.trans_bx, link=1),
    Form("CLZ", C + "0001 0110 1111 rd:4 1111 0001 rm:4", md.trans_clz),
    Form("QADDSUB", C + "0001 0 op:2 0 rn:4 rd:4 0000 0101 rm:4", md.trans_qaddsub),
    Form("BKPT", "1110 0001 0010 imm12:12 0111 imm4:4", sy.trans_bkpt),
    Form("SMC", C + "0001 0110 0000 0000 0000 0111 imm4:4", sy.trans_smc),
    Form("SMLAxy", C + "0001 0000 rd:4 ra:4 rm:4 1 m:1 n:1 0 rn:4", md.trans_smlaxy, acc=1),
    Form("SMLAWy", C + "0001 0010 rd:4 ra:4 rm:4 1 m:1 0 0 rn:4", md.trans_smlawy, acc=1),
    Form("SMULWy", C + "0001 0010 rd:4 0000 rm:4 1 m:1 1 0 rn:4", md.trans_smlawy, acc=0, ra=0),
    Form("SMLALxy", C + "0001 0100 rdhi:4 rdlo:4 rm:4 1 m:1 n:1 0 rn:4", md.trans_smlalxy),
    Form("SMULxy", C + "0001 0110 rd:4 0000 rm:4 1 m:1 n:1 0 rn:4", md.trans_smlaxy, acc=0, ra=0),
    # data processing, register forms
    Form("DP_reg", C + "000 op:4 s:1 rn:4 rd:4 shimm:5 shtype:2 0 rm:4", dp.trans_dp_reg, when=_not_test_nos),
    Form("DP_rsr", C + "000 op:4 s:1 rn:4 rd:4 rs:4 0 shtype:2 1 rm:4", dp.trans_dp_rsr, when=_not_test_nos),
    # --- loads and stores, word and unsigned byte ------------------------------------------
    Form("LDST_imm", C + "010 p:1 u:1 b:1 w:1 l:1 rn:4 rt:4 imm:12", mem.trans_ldst_imm,
         load=lambda f: f["l"], size=lambda f: 1 if f["b"] else 4, sign=0,
         user=lambda f: int(not f["p"] and f["w"]), w=lambda f: f["w"] if f["p"] else 0),
    Form("LDST_reg", C + "011 p:1 u:1 b:1 w:1 l:1 rn:4 rt:4 shimm:5 shtype:2 0 rm:4", mem.trans_ldst_reg,
         load=lambda f: f["l"], size=lambda f: 1 if f["b"] else 4, sign=0,
         user=lambda f: int(not f["p"] and f["w"]), w=lambda f: f["w"] if f["p"] else 0),
    # --- media ------------------------------------------------------------------------------
    Form("PARALLEL", C + "0110 0 u:1 op1:2 rn:4 rd:4 1111 op2:3 1 rm:4", md.trans_parallel,
         when=lambda f: f["op1"] != 0 and f["op2"] in (0, 1, 2, 3, 4, 7)),
    Form("PKH", C + "0110 1000 rn:4 rd:4 imm5:5 tb:1 01 rm:4", md.trans_pkh),
    Form("SEL", C + "0110 1000 rn:4 rd:4 1111 1011 rm:4", md.trans_sel),
    Form("EXTEND", C + "0110 1 op:3 rn:4 rd:4 rot:2 00 0111 rm:4", md.trans_extend,
         when=lambda f: f["op"] in (0, 2, 3, 4, 6, 7)),
    Form("SAT16", C + "0110 1 u:1 10 satimm:4 rd:4 1111 0011 rn:4", md.trans_sat16),
    Form("SAT", C + "0110 1 u:1 1 satimm:5 rd:4 imm5:5 sh:1 01 rn:4", md.trans_sat),
    Form("REV", C + "0110 1011 1111 rd:4 1111 0011 rm:4", md.trans_rev, op=0),
    Form("REV16", C + "0110 1011 1111 rd:4 1111 1011 rm:4", md.trans_rev, op=1),
    Form("RBIT", C + "0110 1111 1111 rd:4 1111 0011 rm:4", md.trans_rev, op=2),
    Form("REVSH", C + "0110 1111 1111 rd:4 1111 1011 rm:4", md.trans_rev, op=3),
    Form("SMLAD", C + "0111 0000 rd:4 ra:4 rm:4 0 sub:1 x:1 1 rn:4", md.trans_smlad),
    Form("SMLALD", C + "0111 0100 rdhi:4 rdlo:4 rm:4 0 sub:1 x:1 1 rn:4", md.trans_smlald),
    Form("SMMLA", C + "0111 0101 rd:4 ra:4 rm:4 op:2 r:1 1 rn:4", md.trans_smmla,
         when=lambda f: f["op"] in (0, 3)),
    Form("USADA8", C + "0111 1000 rd:4 ra:4 rm:4 0001 rn:4", md.trans_usad8),
    Form("BFX", C + "0111 1 u:1 1 widthm1:5 rd:4 lsb:5 101 rn:4", md.trans_bfx),
    Form("BFCI", C + "0111 110 msb:5 rd:4 lsb:5 001 rn:4", md.trans_bfi),
    Form("UDF", "1110 0111 1111 imm12:12 1111 imm4:4", sy.trans_udf),
    # --- branches, block transfers --------------------------------------------------------------
    Form("B", C + "101 link:1 imm24:24", br.trans_b, exchange=0,
         imm=lambda f: ((f["imm24"] ^ 0x800000) - 0x800000) << 2),
    Form("LDM", C + "100 b:1 u:1 user:1 w:1 load:1 rn:4 reglist:16", mem.trans_ldm),
    # --- coprocessors, SVC -----------------------------------------------------------------------
    Form("MCR", C + "1110 opc1:3 0 crn:4 rt:4 cp:4 opc2:3 1 crm:4", sy.trans_mcr),
    Form("MRC", C + "1110 opc1:3 1 crn:4 rt:4 cp:4 opc2:3 1 crm:4", sy.trans_mrc),
    Form("MCRR", C + "1100 010 l:1 rt2:4 rt:4 cp:4 opc1:4 crm:4", sy.trans_mcrr),
    Form("SVC", C + "1111 imm24:24", sy.trans_svc),
]

UNCOND_FORMS: List[Form] = [
    Form("CPS", "1111 0001 0000 imod:2 m:1 0 0000 000 a:1 i:1 f:1 0 mode:5", sy.trans_cps,
         when=lambda f: (f["imod"] != 1) and (f["imod"] or f["m"]) and not (f["imod"] == 0 and (f["a"] or f["i"] or f["f"]))),
    Form("SETEND", "1111 0001 0000 0001 0000 00 e:1 0 0000 0000", sy.trans_setend),
    Form("PLI_imm", "1111 0100 -101 ---- 1111 ---- ---- ----", sy.trans_nop),
    Form("PLD_imm", "1111 0101 --01 ---- 1111 ---- ---- ----", sy.trans_nop),
    Form("PLI_reg", "1111 0110 -101 ---- 1111 ---- ---0 ----", sy.trans_nop),
    Form("PLD_reg", "1111 0111 --01 ---- 1111 ---- ---0 ----", sy.trans_nop),
    Form("CLREX", "1111 0101 0111 1111 1111 0000 0001 1111", mem.trans_clrex),
    Form("DSB", "1111 0101 0111 1111 1111 0000 0100 opt:4", sy.trans_barrier, op="dsb"),
    Form("DMB", "1111 0101 0111 1111 1111 0000 0101 opt:4", sy.trans_barrier, op="dmb"),
    Form("ISB", "1111 0101 0111 1111 1111 0000 0110 opt:4", sy.trans_barrier, op="isb"),
    Form("SRS", "1111 100 p:1 u:1 1 w:1 0 1101 0000 0101 000 mode:5", sy.trans_srs),
    Form("RFE", "1111 100 p:1 u:1 0 w:1 1 rn:4 0000 1010 0000 0000", sy.trans_rfe),
    Form("BLX_imm", "1111 101 h:1 imm24:24", br.trans_b, link=1, exchange=1,
         imm=lambda f: (((f["imm24"] ^ 0x800000) - 0x800000) << 2) | (f["h"] << 1)),
]

_EXTRA: List[Form] = []
_EXTRA_UNCOND: List[Form] = []
_decoders: List[Decoder] = []

# bits 27:20 and 7:4 select the candidate forms
KEY_MASK = 0x0FF000F0


def register_forms(forms: List[Form], unconditional: List[Form] = ()) -> None:
    """Add an extension's forms (tried before the generic coprocessor forms)."""
    if _decoders:
        raise RuntimeError("A32 forms must be registered before the first decode")
    _EXTRA.extend(forms)
    _EXTRA_UNCOND.extend(unconditional)


def decoders():
    """(conditional decoder, unconditional decoder), built on first use."""
    if not _decoders:
        _decoders.append(Decoder(_EXTRA + FORMS, KEY_MASK))
        _decoders.append(Decoder(_EXTRA_UNCOND + UNCOND_FORMS, KEY_MASK))
    return _decoders[0], _decoders[1]


def decode(insn: int):
    """(form, args) for an A32 instruction, or (None, None) if it is UNDEFINED."""
    cond_dec, uncond_dec = decoders()
    if insn >> 28 == 0xF:
        return uncond_dec.decode(insn)
    return cond_dec.decode(insn)
