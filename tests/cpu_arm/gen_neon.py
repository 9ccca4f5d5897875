"""Random Advanced SIMD (NEON) instructions per form of ``pysystem.cpu.arm.neon``, random
register-file state, and their A32 and T32 encodings.

The generator is generic over the decode table: ``gen(rng, form)`` draws random field
values (register numbers biased to the low, high and Q-aligned ones) until the form's
own ``when`` accepts them, so it never produces an encoding we UNDEF on.  What needs
more than random fields:

* loads and stores: the base is r11, set by a MOVW/MOVT prologue to the middle of the
  data region (aligned to the alignment the instruction specifies, otherwise to a
  random byte or an element boundary, SCTLR.A being clear); the post-index register
  is PC (no writeback), SP (writeback by the transfer size) or r12 (set to a small
  signed value by the prologue).  Alignment faults are in the directed tests.
* core register fields: never PC (the forms reject it: UNPREDICTABLE).

Conditional forms (the 8/16-bit VMOV scalar forms, VDUP from a core register) get a
random condition; in T32 they are preceded by ``IT <cond>`` as gen_vfp does.  The
unconditional data-processing forms are never put in IT blocks.

Not generated: VTRN/VUZP/VZIP with Vd == Vm, whose results the architecture leaves
UNKNOWN (``SAME_REG_UNKNOWN``).
"""
from __future__ import annotations

import random
import struct
from typing import Dict, List, Sequence, Tuple

from pysystem.cpu.arm import a32, isa, neon  # noqa: F401  (isa registers the forms)

from gen_a32 import set_reg
from gen_vfp import AL, rand_f32, t32_bytes as vfp_t32_bytes
from harness import DATA_BASE

FORMS = {f.name: f for f in neon.FORMS + neon.COND_FORMS}
LDST = {"VLDST_multiple", "VLDST_single", "VLD_all"}
BASE, INDEX = 11, 12
BASE_ADDR = DATA_BASE + 0x8000

SAME_REG_UNKNOWN = {"VTRN", "VUZP", "VZIP"}


def _field(rng: random.Random, name: str, width: int) -> int:
    if name in ("vd_", "vn_", "vm_"):
        return rng.choice((0, 1, 2, 3, 14, 15)) if rng.random() < 0.3 else rng.getrandbits(4)
    if name == "rt":
        return rng.randrange(13)
    if name == "cond":
        return AL if rng.random() < 0.7 else rng.randrange(14)
    return rng.getrandbits(width)


def encode(form, fields: Dict[str, int]) -> int:
    insn = form.match
    for name, shift, width in form.fields:
        insn |= (fields[name] & ((1 << width) - 1)) << shift
    return insn


def gen(rng: random.Random, name: str) -> List[int]:
    """A prologue and one instruction of form ``name``."""
    form = FORMS[name]
    for _ in range(10000):
        f = {n: _field(rng, n, w) for n, _, w in form.fields}
        if name in LDST:
            f["rn"] = BASE
            f["rm"] = rng.choice((15, 15, 13, INDEX))
        insn = encode(form, f)
        found, args = a32.decode(insn)
        if found is form and not (name in SAME_REG_UNKNOWN and args.vd == args.vm):
            break
    else:
        raise AssertionError(f"no valid encoding found for {name}")
    if name not in LDST:
        return [insn]
    align = args.align
    if align > 1:
        addr = BASE_ADDR + rng.randrange(-8, 8) * 32
    elif rng.random() < 0.5:
        addr = BASE_ADDR + rng.randrange(-256, 256)
    else:
        addr = BASE_ADDR + rng.randrange(-32, 32) * (args.esize // 8)
    pro = set_reg(BASE, addr)
    if f["rm"] == INDEX:
        pro += set_reg(INDEX, rng.randrange(-64, 64) & 0xFFFFFFFF)
    return pro + [insn]


def random_sequence(rng: random.Random, n: int, forms: Sequence[str] = None) -> List[int]:
    names = list(forms or FORMS)
    out: List[int] = []
    while len(out) < n:
        out += gen(rng, rng.choice(names))
    return out


# --- random register file ------------------------------------------------------------------------

_LANES = {8: [0, 1, 0x7F, 0x80, 0xFF, 0xFE], 16: [0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x8001],
          32: [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x80000001],
          64: [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, (1 << 63) + 1]}


def rand_d(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.35:
        return rand_f32(rng) | rand_f32(rng) << 32
    if r < 0.65:
        e = rng.choice((8, 16, 32, 64))
        v = 0
        for i in range(64 // e):
            x = rng.choice(_LANES[e]) if rng.random() < 0.6 else rng.getrandbits(e) >> rng.randrange(e)
            v |= x << (i * e)
        return v
    if r < 0.75:  # small shift counts and table indices
        return sum(rng.choice((0, 1, 2, 3, 7, 8, 15, 0xF8, 0xFF, 0x80, 0x7F, 0x20)) << (8 * i) for i in range(8))
    return rng.getrandbits(64)


def random_neon_state(rng: random.Random) -> Tuple[List[int], int]:
    d = [rand_d(rng) for _ in range(32)]
    fpscr = (rng.getrandbits(4) << 28) | (rng.randrange(4) << 22)
    if rng.random() < 0.3:
        fpscr |= 1 << 27  # QC
    for bit in (24, 25, 26):  # FZ, DN, AHP: NEON ignores the first two
        if rng.random() < 0.3:
            fpscr |= 1 << bit
    if rng.random() < 0.3:
        fpscr |= rng.getrandbits(5) | (rng.getrandbits(1) << 7)
    return d, fpscr


# --- encodings ---------------------------------------------------------------------------------------

def code_bytes(insns: Sequence[int]) -> bytes:
    return b"".join(struct.pack("<I", i) for i in insns)


def to_t32(insn: int) -> int:
    """The T32 encoding of an A32 Advanced SIMD data-processing or load/store instruction."""
    if insn >> 25 == 0x79:  # 1111 001U -> 111U 1111
        return 0xEF000000 | (insn & 0x01000000) << 4 | (insn & 0x00FFFFFF)
    assert insn >> 24 == 0xF4
    return 0xF9000000 | (insn & 0x00FFFFFF)


def t32_bytes(insns: Sequence[int]) -> bytes:
    out = b""
    for i in insns:
        if i >> 28 == 0xF:
            t = to_t32(i)
            out += struct.pack("<HH", t >> 16, t & 0xFFFF)
        else:  # MOVW/MOVT prologues and the conditional forms
            out += vfp_t32_bytes([i])
    return out
