"""The VFPv3 decode table (coprocessor 10/11 space, A32 encoding; T32 maps its
coprocessor encodings onto these bit for bit).

Registered into the A32 decoder with ``a32.register_forms`` when this module is
imported (isa.py does), so they are tried before the generic MCR/MRC/LDC forms, which
UNDEF cp10/cp11.  What is not here UNDEFs: the Advanced SIMD (NEON) forms of the
scalar moves (8/16-bit VMOV to/from a scalar, VDUP), VFPv4 (VFMA...), ARMv8
additions (f64<->f16, VSEL, ...), and the reserved encodings.

Register fields are combined into register numbers here (see trans_vfp.py): for an
operand of size ``sz`` the single register is Vx:X and the double register X:Vx.
"""
from __future__ import annotations

from typing import List

from . import a32
from . import trans_vfp as tv
from ..engine.decode import Form
from .vfp import expand_imm

C = "cond:4 "


def _reg(field: str, bit: str, sz_key: str = "sz", invert: bool = False):
    """The register number of operand ``field`` (Vx) with its extra bit ``bit``."""
    def f(v):
        double = bool(v[sz_key]) != invert
        return (v[bit] << 4 | v[field]) if double else (v[field] << 1 | v[bit])
    return f


def _sreg(field: str, bit: str):
    return lambda v: v[field] << 1 | v[bit]


def _dreg(field: str, bit: str):
    return lambda v: v[bit] << 4 | v[field]


_DPOPS = {(0, 0): "MLA", (0, 1): "MLS", (1, 0): "NMLS", (1, 1): "NMLA",
          (2, 0): "MUL", (2, 1): "NMUL", (3, 0): "ADD", (3, 1): "SUB"}

FORMS: List[Form] = [
    # --- extension register loads and stores ----------------------------------------------
    Form("VMOV_64", C + "1100 010 op:1 rt2:4 rt:4 101 sz:1 00 m:1 1 vmr:4", tv.trans_vmov_64,
         vm=_reg("vmr", "m")),
    Form("VLDR", C + "1101 u:1 d:1 0 l:1 rn:4 vdr:4 101 sz:1 imm8:8", tv.trans_vldr,
         vd=_reg("vdr", "d"), imm=lambda f: f["imm8"] * 4),
    Form("VLDM", C + "110 p:1 u:1 d:1 w:1 l:1 rn:4 vdr:4 101 sz:1 imm8:8", tv.trans_vldm,
         when=lambda f: (f["p"], f["u"], f["w"]) in ((0, 1, 0), (0, 1, 1), (1, 0, 1)),
         vd=_reg("vdr", "d")),
    # --- 8, 16 and 32-bit transfers ------------------------------------------------------------
    Form("VMOV_single", C + "1110 000 op:1 vn:4 rt:4 1010 n:1 001 0000", tv.trans_vmov_single,
         sn=_sreg("vn", "n")),
    Form("VMOV_to_scalar", C + "1110 00 h:1 0 vn:4 rt:4 1011 n:1 001 0000", tv.trans_vmov_scalar,
         op=0, dn=_dreg("vn", "n")),
    Form("VMOV_from_scalar", C + "1110 00 h:1 1 vn:4 rt:4 1011 n:1 001 0000", tv.trans_vmov_scalar,
         op=1, dn=_dreg("vn", "n")),
    Form("VMSR", C + "1110 1110 reg:4 rt:4 1010 0001 0000", tv.trans_vmsr),
    Form("VMRS", C + "1110 1111 reg:4 rt:4 1010 0001 0000", tv.trans_vmrs),
    # --- data processing ---------------------------------------------------------------------------
    Form("VFP_3op", C + "1110 0 d:1 opc:2 vnr:4 vdr:4 101 sz:1 n:1 o:1 m:1 0 vmr:4", tv.trans_vfp_3op,
         op=lambda f: _DPOPS[f["opc"], f["o"]], vd=_reg("vdr", "d"), vn=_reg("vnr", "n"),
         vm=_reg("vmr", "m")),
    Form("VDIV", C + "1110 1 d:1 00 vnr:4 vdr:4 101 sz:1 n:1 0 m:1 0 vmr:4", tv.trans_vfp_3op,
         op="DIV", vd=_reg("vdr", "d"), vn=_reg("vnr", "n"), vm=_reg("vmr", "m")),
    Form("VMOV_imm", C + "1110 1 d:1 11 imm4h:4 vdr:4 101 sz:1 0000 imm4l:4", tv.trans_vmov_imm,
         vd=_reg("vdr", "d"), imm=lambda f: expand_imm(f["imm4h"] << 4 | f["imm4l"], bool(f["sz"]))),
    Form("VMOV_reg", C + "1110 1 d:1 11 0000 vdr:4 101 sz:1 0 1 m:1 0 vmr:4", tv.trans_vfp_2op,
         op="MOV", vd=_reg("vdr", "d"), vm=_reg("vmr", "m")),
    Form("VABS", C + "1110 1 d:1 11 0000 vdr:4 101 sz:1 1 1 m:1 0 vmr:4", tv.trans_vfp_2op,
         op="ABS", vd=_reg("vdr", "d"), vm=_reg("vmr", "m")),
    Form("VNEG", C + "1110 1 d:1 11 0001 vdr:4 101 sz:1 0 1 m:1 0 vmr:4", tv.trans_vfp_2op,
         op="NEG", vd=_reg("vdr", "d"), vm=_reg("vmr", "m")),
    Form("VSQRT", C + "1110 1 d:1 11 0001 vdr:4 101 sz:1 1 1 m:1 0 vmr:4", tv.trans_vfp_2op,
         op="SQRT", vd=_reg("vdr", "d"), vm=_reg("vmr", "m")),
    Form("VCVT_half", C + "1110 1 d:1 11 001 op:1 vdr:4 101 0 t:1 1 m:1 0 vmr:4", tv.trans_vcvt_half,
         sd=_sreg("vdr", "d"), sm=_sreg("vmr", "m")),
    Form("VCMP", C + "1110 1 d:1 11 010 z:1 vdr:4 101 sz:1 e:1 1 m:1 0 vmr:4", tv.trans_vcmp,
         vd=_reg("vdr", "d"), vm=_reg("vmr", "m")),
    Form("VCVT_ds", C + "1110 1 d:1 11 0111 vdr:4 101 sz:1 1 1 m:1 0 vmr:4", tv.trans_vcvt_ds,
         vd=_reg("vdr", "d", invert=True), vm=_reg("vmr", "m")),
    Form("VCVT_fromint", C + "1110 1 d:1 11 1000 vdr:4 101 sz:1 s:1 1 m:1 0 vmr:4", tv.trans_vcvt_fromint,
         vd=_reg("vdr", "d"), sm=_sreg("vmr", "m")),
    Form("VCVT_fix", C + "1110 1 d:1 11 1 op:1 1 u:1 vdr:4 101 sz:1 sx:1 1 i:1 0 imm4:4", tv.trans_vcvt_fix,
         vd=_reg("vdr", "d"), size=lambda f: 32 if f["sx"] else 16,
         fbits=lambda f: (32 if f["sx"] else 16) - (f["imm4"] << 1 | f["i"])),
    Form("VCVT_toint", C + "1110 1 d:1 11 110 s:1 vdr:4 101 sz:1 rz:1 1 m:1 0 vmr:4", tv.trans_vcvt_toint,
         sd=_sreg("vdr", "d"), vm=_reg("vmr", "m")),
]

a32.register_forms(FORMS)
