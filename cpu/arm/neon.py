"""The Advanced SIMD (NEON) decode tables of the Cortex-A9 (A32 encoding; T32 maps its
``111U 1111`` and ``1111 1001`` spaces onto ``1111 001U`` and ``1111 0100``, see t32.py).

Registered into the A32 decoder when this module is imported (isa.py does): the data
processing and element/structure load/store forms as unconditional forms, the 8/16-bit
core<->scalar moves and VDUP (core register) as conditional ones (the 32-bit VMOV
scalar forms are VFP's, in vfp_decode.py).

Derived arguments: ``vd vn vm`` are D-register numbers (D:Vd, N:Vn, M:Vm), ``esize``
the element size in bits, ``op`` the operation's name for the helpers of
neon_helpers.py.  Every encoding that is UNDEFINED on the Cortex-A9 — reserved sizes,
odd register numbers for Q operations, register lists past d31, ARMv8/VFPv4/crypto
and half-precision-arithmetic encodings — fails its form's ``when`` and so UNDEFs (as
QEMU does for the UNPREDICTABLE cases: register lists past d31, PC as base).

Each form group carries its table of operations as data: the decoder tries the more
specific forms first, as a32.py does.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from . import a32
from . import neon_helpers as nh
from . import trans_neon as tn
from ..engine.decode import Form

U = "1111 001 u:1 "


def _dreg(field: str, bit: str):
    return lambda f: f[bit] << 4 | f[field]


VD, VN, VM = _dreg("vd_", "d"), _dreg("vn_", "n"), _dreg("vm_", "m")


def _even(f, *names) -> bool:
    return all(not f[n] & 1 for n in names)


def _q_ok(f, *fields) -> bool:
    """Q operations need even register numbers (bit 0 of Vd/Vn/Vm)."""
    return not f["q"] or _even(f, *fields)


FORMS: List[Form] = []   # unconditional (1111 ...)
COND_FORMS: List[Form] = []


def _add(form: Form, cond: bool = False) -> None:
    (COND_FORMS if cond else FORMS).append(form)


# --- three registers of the same length ------------------------------------------------------
# name, opc, o (bit 4), u (None: both; the helper gets it), sizes, q allowed, shift operand order

_3SAME: List[Tuple[str, int, int, Optional[int], Tuple[int, ...], bool, bool]] = [
    ("VHADD", 0b0000, 0, None, (0, 1, 2), True, False),
    ("VQADD", 0b0000, 1, None, (0, 1, 2, 3), True, False),
    ("VRHADD", 0b0001, 0, None, (0, 1, 2), True, False),
    ("VHSUB", 0b0010, 0, None, (0, 1, 2), True, False),
    ("VQSUB", 0b0010, 1, None, (0, 1, 2, 3), True, False),
    ("VCGT", 0b0011, 0, None, (0, 1, 2), True, False),
    ("VCGE", 0b0011, 1, None, (0, 1, 2), True, False),
    ("VSHL", 0b0100, 0, None, (0, 1, 2, 3), True, True),
    ("VQSHL", 0b0100, 1, None, (0, 1, 2, 3), True, True),
    ("VRSHL", 0b0101, 0, None, (0, 1, 2, 3), True, True),
    ("VQRSHL", 0b0101, 1, None, (0, 1, 2, 3), True, True),
    ("VMAX", 0b0110, 0, None, (0, 1, 2), True, False),
    ("VMIN", 0b0110, 1, None, (0, 1, 2), True, False),
    ("VABD", 0b0111, 0, None, (0, 1, 2), True, False),
    ("VABA", 0b0111, 1, None, (0, 1, 2), True, False),
    ("VADD", 0b1000, 0, 0, (0, 1, 2, 3), True, False),
    ("VSUB", 0b1000, 0, 1, (0, 1, 2, 3), True, False),
    ("VTST", 0b1000, 1, 0, (0, 1, 2), True, False),
    ("VCEQ", 0b1000, 1, 1, (0, 1, 2), True, False),
    ("VMLA", 0b1001, 0, 0, (0, 1, 2), True, False),
    ("VMLS", 0b1001, 0, 1, (0, 1, 2), True, False),
    ("VMUL", 0b1001, 1, 0, (0, 1, 2), True, False),
    ("VMULP", 0b1001, 1, 1, (0,), True, False),
    ("VPMAX", 0b1010, 0, None, (0, 1, 2), False, False),
    ("VPMIN", 0b1010, 1, None, (0, 1, 2), False, False),
    ("VQDMULH", 0b1011, 0, 0, (1, 2), True, False),
    ("VQRDMULH", 0b1011, 0, 1, (1, 2), True, False),
    ("VPADD", 0b1011, 1, 0, (0, 1, 2), False, False),
]

# single-precision forms: name, opc, o, u, bit 21; bit 20 (sz) must be 0 (1 is half precision)
_3SAME_F: List[Tuple[str, int, int, int, int, bool]] = [
    ("VADDF", 0b1101, 0, 0, 0, True), ("VSUBF", 0b1101, 0, 0, 1, True),
    ("VPADDF", 0b1101, 0, 1, 0, False), ("VABDF", 0b1101, 0, 1, 1, True),
    ("VMLAF", 0b1101, 1, 0, 0, True), ("VMLSF", 0b1101, 1, 0, 1, True),
    ("VMULF", 0b1101, 1, 1, 0, True),
    ("VCEQF", 0b1110, 0, 0, 0, True), ("VCGEF", 0b1110, 0, 1, 0, True),
    ("VCGTF", 0b1110, 0, 1, 1, True), ("VACGEF", 0b1110, 1, 1, 0, True),
    ("VACGTF", 0b1110, 1, 1, 1, True),
    ("VMAXF", 0b1111, 0, 0, 0, True), ("VMINF", 0b1111, 0, 0, 1, True),
    ("VPMAXF", 0b1111, 0, 1, 0, False), ("VPMINF", 0b1111, 0, 1, 1, False),
    ("VRECPSF", 0b1111, 1, 0, 0, True), ("VRSQRTSF", 0b1111, 1, 0, 1, True),
]

_PAIRWISE = {"VPMAX", "VPMIN", "VPADD", "VPADDF", "VPMAXF", "VPMINF"}


def _3same_when(sizes, q_allowed):
    def when(f):
        if f["size"] not in sizes:
            return False
        if not q_allowed:
            return not f["q"]
        return _q_ok(f, "vd_", "vn_", "vm_")
    return when


for _name, _opc, _o, _u, _sizes, _qa, _sh in _3SAME:
    _ubits = "u:1 " if _u is None else f"{_u} "
    _pat = f"1111 001 {_ubits}0 d:1 size:2 vn_:4 vd_:4 {_opc:04b} n:1 q:1 m:1 {_o} vm_:4"
    _kw = dict(op=_name, vd=VD, vn=VN, vm=VM, esize=lambda f: 8 << f["size"], shift=_sh)
    if _u is not None:
        _kw["u"] = _u
    _add(Form(_name, _pat, tn.trans_pairwise if _name in _PAIRWISE else tn.trans_3same,
              when=_3same_when(_sizes, _qa), **_kw))

for _name, _opc, _o, _u, _b21, _qa in _3SAME_F:
    _pat = f"1111 001 {_u} 0 d:1 {_b21} 0 vn_:4 vd_:4 {_opc:04b} n:1 q:1 m:1 {_o} vm_:4"
    _add(Form(_name, _pat, tn.trans_pairwise if _name in _PAIRWISE else tn.trans_3same,
              when=(lambda f: _q_ok(f, "vd_", "vn_", "vm_")) if _qa else (lambda f: not f["q"]),
              op=_name, vd=VD, vn=VN, vm=VM, esize=32, u=0, shift=False, size=2))

for _u, _ops in ((0, ("VAND", "VBIC", "VORR", "VORN")), (1, ("VEOR", "VBSL", "VBIT", "VBIF"))):
    for _sz, _name in enumerate(_ops):
        _add(Form(_name, f"1111 001 {_u} 0 d:1 {_sz:02b} vn_:4 vd_:4 0001 n:1 q:1 m:1 1 vm_:4",
                  tn.trans_logic, when=lambda f: _q_ok(f, "vd_", "vn_", "vm_"),
                  op=_name, vd=VD, vn=VN, vm=VM))


# --- one register and a modified immediate ---------------------------------------------------

def expand_imm(op: int, cmode: int, imm8: int) -> int:
    """AdvSIMDExpandImm: the 64-bit constant of VMOV/VMVN/VORR/VBIC (immediate)."""
    if cmode < 8:
        return nh.dup(imm8 << (8 * (cmode >> 1)), 32)
    if cmode < 12:
        return nh.dup(imm8 << (8 * ((cmode >> 1) & 1)), 16)
    if cmode == 12:
        return nh.dup(imm8 << 8 | 0xFF, 32)
    if cmode == 13:
        return nh.dup(imm8 << 16 | 0xFFFF, 32)
    if cmode == 14:
        if not op:
            return nh.dup(imm8, 8)
        return sum(0xFF << (8 * i) for i in range(8) if imm8 >> i & 1)
    # cmode 15, op 0: a single-precision constant
    b6 = (imm8 >> 6) & 1
    exp = ((b6 ^ 1) << 7) | ((0x1F if b6 else 0) << 2) | ((imm8 >> 4) & 3)
    return nh.dup((imm8 >> 7) << 31 | exp << 23 | (imm8 & 0xF) << 19, 32)


def _imm_op(f) -> str:
    cmode, op = f["cmode"], f["op_"]
    if cmode & 1 and cmode < 12:
        return "VBIC" if op else "VORR"
    return "VMOV"


def _imm_value(f) -> int:
    imm8 = f["i"] << 7 | f["imm3"] << 4 | f["imm4"]
    v = expand_imm(f["op_"], f["cmode"], imm8)
    if f["op_"] and (f["cmode"] & 1 == 0 or f["cmode"] >= 12) and f["cmode"] != 14:
        v ^= nh.M64  # VMVN
    return v


_add(Form("VIMM", "1111 001 i:1 1 d:1 000 imm3:3 vd_:4 cmode:4 0 q:1 op_:1 1 imm4:4", tn.trans_imm,
          when=lambda f: _q_ok(f, "vd_") and not (f["cmode"] == 15 and f["op_"]),
          vd=VD, op=_imm_op, imm=_imm_value))


# --- two registers and a shift amount ------------------------------------------------------------

def _sh_esize(f) -> int:
    """The element size of a shift from L:imm6 (narrowing forms: of the result)."""
    if f.get("l"):
        return 64
    i = f["imm6"]
    return 32 if i & 32 else 16 if i & 16 else 8


def _right(f) -> int:
    return 64 - f["imm6"] if f.get("l") else 2 * _sh_esize(f) - f["imm6"]


def _left(f) -> int:
    return f["imm6"] if f.get("l") else f["imm6"] - _sh_esize(f)


def _shift_when(f) -> bool:
    return (f["l"] or f["imm6"] >= 8) and _q_ok(f, "vd_", "vm_")


# name, opc, u (None: both), right shift?
_SHIFTS = [("VSHR", 0b0000, None, True), ("VSRA", 0b0001, None, True),
           ("VRSHR", 0b0010, None, True), ("VRSRA", 0b0011, None, True),
           ("VSRI", 0b0100, 1, True), ("VSHL", 0b0101, 0, False), ("VSLI", 0b0101, 1, False),
           ("VQSHLU", 0b0110, 1, False), ("VQSHL", 0b0111, None, False)]

for _name, _opc, _u, _r in _SHIFTS:
    _ubits = "u:1 " if _u is None else f"{_u} "
    _kw = dict(op=_name, vd=VD, vm=VM, esize=_sh_esize, sh=_right if _r else _left)
    if _u is not None:
        _kw["u"] = _u
    _add(Form(_name + "_imm", f"1111 001 {_ubits}1 d:1 imm6:6 vd_:4 {_opc:04b} l:1 q:1 m:1 1 vm_:4",
              tn.trans_shift, when=_shift_when, **_kw))


def _narrow_when(f) -> bool:
    return f["imm6"] >= 8 and _even(f, "vm_")


# narrowing right shifts (Qm -> Dd); bit 6 (r) selects rounding
_add(Form("VSHRN", "1111 001 0 1 d:1 imm6:6 vd_:4 1000 0 r:1 m:1 1 vm_:4", tn.trans_shift_narrow,
          when=_narrow_when, op="VSHRN", vd=VD, vm=VM, esize=_sh_esize, u=1,
          sh=lambda f: 2 * _sh_esize(f) - f["imm6"], rnd=lambda f: f["r"]))
_add(Form("VQSHRUN", "1111 001 1 1 d:1 imm6:6 vd_:4 1000 0 r:1 m:1 1 vm_:4", tn.trans_shift_narrow,
          when=_narrow_when, op="VQSHRUN", vd=VD, vm=VM, esize=_sh_esize, u=0,
          sh=lambda f: 2 * _sh_esize(f) - f["imm6"], rnd=lambda f: f["r"]))
_add(Form("VQSHRN", "1111 001 u:1 1 d:1 imm6:6 vd_:4 1001 0 r:1 m:1 1 vm_:4", tn.trans_shift_narrow,
          when=_narrow_when, op="VQSHRN", vd=VD, vm=VM, esize=_sh_esize,
          sh=lambda f: 2 * _sh_esize(f) - f["imm6"], rnd=lambda f: f["r"]))
_add(Form("VSHLL", "1111 001 u:1 1 d:1 imm6:6 vd_:4 1010 0 0 m:1 1 vm_:4", tn.trans_shll,
          when=lambda f: f["imm6"] >= 8 and _even(f, "vd_"), vd=VD, vm=VM, esize=_sh_esize,
          sh=lambda f: f["imm6"] - _sh_esize(f)))
_add(Form("VCVT_fixed", "1111 001 u:1 1 d:1 imm6:6 vd_:4 111 tofix:1 0 q:1 m:1 1 vm_:4",
          tn.trans_cvt_fixed, when=lambda f: f["imm6"] >= 32 and _q_ok(f, "vd_", "vm_"),
          vd=VD, vm=VM, fbits=lambda f: 64 - f["imm6"]))


# --- three registers of different lengths (size != 3) -----------------------------------------------
# name, opc, u (None: both), op for the helper, kind

_3DIFF = [("VADDL", 0b0000, None, "ADD", "long"), ("VADDW", 0b0001, None, "ADD", "wide"),
          ("VSUBL", 0b0010, None, "SUB", "long"), ("VSUBW", 0b0011, None, "SUB", "wide"),
          ("VADDHN", 0b0100, 0, "ADD", "narrow"), ("VRADDHN", 0b0100, 1, "ADD", "narrow"),
          ("VABAL", 0b0101, None, "ABA", "long"),
          ("VSUBHN", 0b0110, 0, "SUB", "narrow"), ("VRSUBHN", 0b0110, 1, "SUB", "narrow"),
          ("VABDL", 0b0111, None, "ABD", "long"), ("VMLAL", 0b1000, None, "MLA", "long"),
          ("VQDMLAL", 0b1001, 0, "QDMLA", "q"), ("VMLSL", 0b1010, None, "MLS", "long"),
          ("VQDMLSL", 0b1011, 0, "QDMLS", "q"), ("VMULL", 0b1100, None, "MUL", "long"),
          ("VQDMULL", 0b1101, 0, "QDMUL", "q"), ("VMULLP", 0b1110, 0, "VMULLP", "p")]


def _3diff_when(kind):
    def when(f):
        s = f["size"]
        if s == 3:
            return False
        if kind == "narrow":
            return _even(f, "vn_", "vm_")
        if kind == "wide":
            return _even(f, "vd_", "vn_")
        if kind == "q" and s == 0:
            return False
        if kind == "p" and s != 0:
            return False
        return _even(f, "vd_")
    return when


for _name, _opc, _u, _op, _kind in _3DIFF:
    _ubits = "u:1 " if _u is None else f"{_u} "
    _kw = dict(op=_op, vd=VD, vn=VN, vm=VM, esize=lambda f: 8 << f["size"])
    if _kind == "narrow":
        _kw["rnd"] = _u
        _h = tn.trans_narrow_high
    else:
        _kw["wide"] = _kind == "wide"
        if _u is not None:
            _kw["u"] = _u
        _h = tn.trans_long
    _add(Form(_name, f"1111 001 {_ubits}1 d:1 size:2 vn_:4 vd_:4 {_opc:04b} n:1 0 m:1 0 vm_:4",
              _h, when=_3diff_when(_kind), **_kw))


# --- two registers and a scalar (size 1 or 2) ------------------------------------------------------

def _scalar_m(f) -> int:
    return f["vm_"] & 7 if f["size"] == 1 else f["vm_"]


def _scalar_idx(f) -> int:
    return (f["m"] << 1 | f["vm_"] >> 3) if f["size"] == 1 else f["m"]


# name, opc, op, kind ("q": bit 24 is Q; "l": long, bit 24 is U; "f": float, size 2 only)
_SCALAR = [("VMLA_scalar", 0b0000, "VMLA", "q"), ("VMLAF_scalar", 0b0001, "VMLAF", "f"),
           ("VMLAL_scalar", 0b0010, "MLA", "l"), ("VQDMLAL_scalar", 0b0011, "QDMLA", "lq"),
           ("VMLS_scalar", 0b0100, "VMLS", "q"), ("VMLSF_scalar", 0b0101, "VMLSF", "f"),
           ("VMLSL_scalar", 0b0110, "MLS", "l"), ("VQDMLSL_scalar", 0b0111, "QDMLS", "lq"),
           ("VMUL_scalar", 0b1000, "VMUL", "q"), ("VMULF_scalar", 0b1001, "VMULF", "f"),
           ("VMULL_scalar", 0b1010, "MUL", "l"), ("VQDMULL_scalar", 0b1011, "QDMUL", "lq"),
           ("VQDMULH_scalar", 0b1100, "VQDMULH", "q"), ("VQRDMULH_scalar", 0b1101, "VQRDMULH", "q")]


def _scalar_when(kind):
    def when(f):
        s = f["size"]
        if s in (0, 3) or (kind == "f" and s != 2):
            return False
        if kind.startswith("l"):
            return _even(f, "vd_") and not (kind == "lq" and f["u"])
        return not f["q"] or _even(f, "vd_", "vn_")
    return when


for _name, _opc, _op, _kind in _SCALAR:
    _kw = dict(op=_op, vd=VD, vn=VN, vm=_scalar_m, idx=_scalar_idx, esize=lambda f: 8 << f["size"])
    if _kind.startswith("l"):
        _pat = f"1111 001 u:1 1 d:1 size:2 vn_:4 vd_:4 {_opc:04b} n:1 1 m:1 0 vm_:4"
        _h = tn.trans_long_scalar
    else:
        _pat = f"1111 001 q:1 1 d:1 size:2 vn_:4 vd_:4 {_opc:04b} n:1 1 m:1 0 vm_:4"
        _h = tn.trans_scalar
    _add(Form(_name, _pat, _h, when=_scalar_when(_kind), **_kw))


# --- VEXT, VTBL/VTBX, VDUP (scalar) ------------------------------------------------------------

_add(Form("VEXT", "1111 001 0 1 d:1 11 vn_:4 vd_:4 imm4:4 n:1 q:1 m:1 0 vm_:4", tn.trans_ext,
          when=lambda f: _q_ok(f, "vd_", "vn_", "vm_") and (f["q"] or f["imm4"] < 8),
          vd=VD, vn=VN, vm=VM))
_add(Form("VTBL", "1111 001 1 1 d:1 11 vn_:4 vd_:4 10 len:2 n:1 tbx:1 m:1 0 vm_:4", tn.trans_tbl,
          when=lambda f: (f["n"] << 4 | f["vn_"]) + f["len"] < 32,
          vd=VD, vn=VN, vm=VM, length=lambda f: f["len"] + 1))


def _dup_esize(f) -> int:
    i = f["imm4"]
    return 8 if i & 1 else 16 if i & 2 else 32


_add(Form("VDUP_scalar", "1111 001 1 1 d:1 11 imm4:4 vd_:4 11000 q:1 m:1 0 vm_:4", tn.trans_dup_scalar,
          when=lambda f: f["imm4"] & 7 and _q_ok(f, "vd_"), vd=VD, vm=VM, esize=_dup_esize,
          idx=lambda f: f["imm4"] >> {8: 1, 16: 2, 32: 3}[_dup_esize(f)]))


# --- two registers, miscellaneous: 1111 001 11 D 11 size op1 Vd 0 op2 Q M 0 Vm ---------------------

def _misc(name: str, op1: int, op2: int, handler, sizes, when=None, qbit: Optional[int] = None, **kw):
    q = "q:1" if qbit is None else str(qbit)
    pat = f"1111 001 1 1 d:1 11 size:2 {op1:02b} vd_:4 0 {op2:04b} {q} m:1 0 vm_:4"

    def ok(f):
        if f["size"] not in sizes:
            return False
        if when is not None:
            return when(f)
        return _q_ok(f, "vd_", "vm_")
    kw.setdefault("esize", lambda f: 8 << f["size"])
    _add(Form(name, pat, handler, when=ok, vd=VD, vm=VM, **({} if qbit is None else {"q": qbit}), **kw))


_misc("VREV64", 0, 0b0000, tn.trans_rev, (0, 1, 2), group=64)
_misc("VREV32", 0, 0b0001, tn.trans_rev, (0, 1), group=32)
_misc("VREV16", 0, 0b0010, tn.trans_rev, (0,), group=16)
_misc("VPADDL", 0, 0b0100 | 0, tn.trans_paddl, (0, 1, 2), u=0, acc=0)
_misc("VPADDL_U", 0, 0b0101, tn.trans_paddl, (0, 1, 2), u=1, acc=0)
_misc("VPADAL", 0, 0b1100, tn.trans_paddl, (0, 1, 2), u=0, acc=1)
_misc("VPADAL_U", 0, 0b1101, tn.trans_paddl, (0, 1, 2), u=1, acc=1)
for _name, _op1, _op2, _sizes in [
        ("VCLS", 0, 0b1000, (0, 1, 2)), ("VCLZ", 0, 0b1001, (0, 1, 2)), ("VCNT", 0, 0b1010, (0,)),
        ("VMVN", 0, 0b1011, (0,)), ("VQABS", 0, 0b1110, (0, 1, 2)), ("VQNEG", 0, 0b1111, (0, 1, 2)),
        ("VCGT0", 1, 0b0000, (0, 1, 2)), ("VCGE0", 1, 0b0001, (0, 1, 2)),
        ("VCEQ0", 1, 0b0010, (0, 1, 2)), ("VCLE0", 1, 0b0011, (0, 1, 2)),
        ("VCLT0", 1, 0b0100, (0, 1, 2)), ("VABS", 1, 0b0110, (0, 1, 2)), ("VNEG", 1, 0b0111, (0, 1, 2)),
        ("VCGT0F", 1, 0b1000, (2,)), ("VCGE0F", 1, 0b1001, (2,)), ("VCEQ0F", 1, 0b1010, (2,)),
        ("VCLE0F", 1, 0b1011, (2,)), ("VCLT0F", 1, 0b1100, (2,)), ("VABSF", 1, 0b1110, (2,)),
        ("VNEGF", 1, 0b1111, (2,)),
        ("VRECPE", 3, 0b1000, (2,)), ("VRSQRTE", 3, 0b1001, (2,)), ("VRECPEF", 3, 0b1010, (2,)),
        ("VRSQRTEF", 3, 0b1011, (2,)), ("VCVTFS", 3, 0b1100, (2,)), ("VCVTFU", 3, 0b1101, (2,)),
        ("VCVTSF", 3, 0b1110, (2,)), ("VCVTUF", 3, 0b1111, (2,))]:
    _misc(_name, _op1, _op2, tn.trans_misc, _sizes, op=_name)
_misc("VSWP", 2, 0b0000, tn.trans_swp, (0,))
_misc("VTRN", 2, 0b0001, tn.trans_trn, (0, 1, 2))
_misc("VUZP", 2, 0b0010, tn.trans_zip, (0, 1, 2), unzip=1,
      when=lambda f: _q_ok(f, "vd_", "vm_") and (f["q"] or f["size"] != 2))
_misc("VZIP", 2, 0b0011, tn.trans_zip, (0, 1, 2), unzip=0,
      when=lambda f: _q_ok(f, "vd_", "vm_") and (f["q"] or f["size"] != 2))
_misc("VMOVN", 2, 0b0100, tn.trans_movn, (0, 1, 2), qbit=0, op="VMOVN",
      when=lambda f: _even(f, "vm_"), esize=lambda f: 8 << f["size"])
_misc("VQMOVUN", 2, 0b0100, tn.trans_movn, (0, 1, 2), qbit=1, op="VQMOVUN",
      when=lambda f: _even(f, "vm_"))
_misc("VQMOVN", 2, 0b0101, tn.trans_movn, (0, 1, 2), qbit=0, op="VQMOVNS",
      when=lambda f: _even(f, "vm_"))
_misc("VQMOVN_U", 2, 0b0101, tn.trans_movn, (0, 1, 2), qbit=1, op="VQMOVNU",
      when=lambda f: _even(f, "vm_"))
_misc("VSHLL_max", 2, 0b0110, tn.trans_shll_max, (0, 1, 2), qbit=0, when=lambda f: _even(f, "vd_"))
_misc("VCVT_f16_f32", 2, 0b1100, tn.trans_cvt_half, (1,), qbit=0, to_half=1,
      when=lambda f: _even(f, "vm_"))
_misc("VCVT_f32_f16", 2, 0b1110, tn.trans_cvt_half, (1,), qbit=0, to_half=0,
      when=lambda f: _even(f, "vd_"))


# --- element and structure loads and stores -------------------------------------------------------

# VLDn/VSTn (multiple structures) by type: (nregs, nelem, spacing)
_MULTI: Dict[int, Tuple[int, int, int]] = {
    0b0111: (1, 1, 1), 0b1010: (2, 1, 1), 0b0110: (3, 1, 1), 0b0010: (4, 1, 1),
    0b1000: (1, 2, 1), 0b1001: (1, 2, 2), 0b0011: (2, 2, 2),
    0b0100: (1, 3, 1), 0b0101: (1, 3, 2), 0b0000: (1, 4, 1), 0b0001: (1, 4, 2)}


def _multi_when(f) -> bool:
    t = _MULTI.get(f["itype"])
    if t is None or f["rn"] == 15:
        return False
    nregs, nelem, spacing = t
    align, size = f["align"], f["size"]
    if nelem == 1:
        if (nregs in (1, 3) and align & 2) or (nregs == 2 and align == 3):
            return False
    elif size == 3:
        return False
    elif nelem == 2 and nregs == 1 and align == 3:
        return False
    elif nelem == 3 and align & 2:
        return False
    return VD(f) + (nelem - 1) * spacing + nregs - 1 < 32


_add(Form("VLDST_multiple", "1111 0100 0 d:1 l:1 0 rn:4 vd_:4 itype:4 size:2 align:2 rm:4",
          tn.trans_ldst_multiple, when=_multi_when, vd=VD, esize=lambda f: 8 << f["size"],
          nregs=lambda f: _MULTI[f["itype"]][0], nelem=lambda f: _MULTI[f["itype"]][1],
          spacing=lambda f: _MULTI[f["itype"]][2],
          align=lambda f: 4 << f["align"] if f["align"] else 1))


def _all_when(f) -> bool:
    n, size, a, t = f["n"], f["size"], f["a"], f["t"]
    if f["rn"] == 15:
        return False
    if n == 0 and (size == 3 or (size == 0 and a)):
        return False
    if n == 1 and size == 3:
        return False
    if n == 2 and (size == 3 or a):
        return False
    if n == 3 and size == 3 and not a:
        return False
    regs = (1 + t) if n == 0 else 1
    inc = 1 if n == 0 else 1 + t
    return VD(f) + (n * inc if n else regs - 1) < 32


def _all_align(f) -> int:
    n, size, a = f["n"], f["size"], f["a"]
    if not a:
        return 1
    eb = 4 if size == 3 else 1 << size
    if n == 0:
        return eb
    if n == 1:
        return 2 * eb
    if n == 3:
        return 16 if size == 3 else (8 if size == 2 else 4 * eb)
    return 1


_add(Form("VLD_all", "1111 0100 1 d:1 1 0 rn:4 vd_:4 11 n:2 size:2 t:1 a:1 rm:4", tn.trans_ld_all,
          when=_all_when, vd=VD, esize=lambda f: 32 if f["size"] == 3 else 8 << f["size"],
          nelem=lambda f: f["n"] + 1, nregs=lambda f: 1 + f["t"] if f["n"] == 0 else 1,
          inc=lambda f: 1 + f["t"], align=_all_align))


def _single_fields(f):
    """(index, inc, align) of a single-lane VLDn/VSTn, or None when UNDEFINED."""
    size, n, ia = f["size"], f["n"], f["ia"]
    if size == 0:
        idx, inc = ia >> 1, 1
        if n in (0, 2):
            return None if ia & 1 else (idx, inc, 1)
        return idx, inc, (2 if n == 1 else 4) if ia & 1 else 1
    if size == 1:
        idx, inc = ia >> 2, 2 if ia & 2 else 1
        if n == 0:
            return None if ia & 2 else (idx, 1, 2 if ia & 1 else 1)
        if n == 2:
            return None if ia & 1 else (idx, inc, 1)
        return idx, inc, (4 if n == 1 else 8) if ia & 1 else 1
    idx, inc = ia >> 3, 2 if ia & 4 else 1
    lo = ia & 3
    if n == 0:
        if ia & 4 or lo in (1, 2):
            return None
        return idx, 1, 4 if lo == 3 else 1
    if n == 1:
        return None if ia & 2 else (idx, inc, 8 if ia & 1 else 1)
    if n == 2:
        return None if lo else (idx, inc, 1)
    return None if lo == 3 else (idx, inc, 4 << lo if lo else 1)


def _single_when(f) -> bool:
    if f["size"] == 3 or f["rn"] == 15:
        return False
    s = _single_fields(f)
    return s is not None and VD(f) + f["n"] * s[1] < 32


_add(Form("VLDST_single", "1111 0100 1 d:1 l:1 0 rn:4 vd_:4 size:2 n:2 ia:4 rm:4", tn.trans_ldst_single,
          when=_single_when, vd=VD, esize=lambda f: 8 << f["size"], nelem=lambda f: f["n"] + 1,
          idx=lambda f: _single_fields(f)[0], inc=lambda f: _single_fields(f)[1],
          align=lambda f: _single_fields(f)[2]))


# --- core register <-> scalar (8/16-bit) and VDUP (core register): conditional ---------------------

def _to_scalar(f):
    """(esize, index) of VMOV core->scalar from opc1:opc2, None for the 32-bit (VFP) form."""
    o1, o2 = f["opc1"], f["opc2"]
    if o1 & 2:
        return 8, (o1 & 1) << 2 | o2
    if o2 & 1:
        return 16, (o1 & 1) << 1 | o2 >> 1
    return None


_add(Form("VMOV_to_scalar8_16", "cond:4 1110 0 opc1:2 0 vd_:4 rt:4 1011 d:1 opc2:2 1 0000",
          tn.trans_vmov_to_scalar, when=lambda f: _to_scalar(f) is not None and f["rt"] != 15,
          vd=VD, esize=lambda f: _to_scalar(f)[0], idx=lambda f: _to_scalar(f)[1]), cond=True)
_add(Form("VMOV_from_scalar8_16", "cond:4 1110 u:1 opc1:2 1 vn_:4 rt:4 1011 n:1 opc2:2 1 0000",
          tn.trans_vmov_from_scalar, when=lambda f: _to_scalar(f) is not None and f["rt"] != 15,
          vn=VN, esize=lambda f: _to_scalar(f)[0], idx=lambda f: _to_scalar(f)[1]), cond=True)
_add(Form("VDUP_core", "cond:4 1110 1 b:1 q:1 0 vd_:4 rt:4 1011 d:1 0 e:1 1 0000", tn.trans_dup_core,
          when=lambda f: not (f["b"] and f["e"]) and f["rt"] != 15 and _q_ok(f, "vd_"),
          vd=VD, esize=lambda f: 8 if f["b"] else 16 if f["e"] else 32), cond=True)

a32.register_forms(COND_FORMS, FORMS)
