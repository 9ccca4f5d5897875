"""Differential tests of pysystem.cpu.softfloat against real FPU instructions.

The oracle is Unicorn (QEMU's TCG): an ARM loop walks a table of records
{FPSCR, a, b, c}, loads a -> d0, b -> d1, c -> d2, sets FPSCR, runs one VFP
instruction, and stores d2 and the resulting FPSCR.  The same records go
through softfloat and must give identical result bits and identical FPSCR
(flags, NZCV for compares).  Operands are random but biased to the corners:
zeros, infinities, quiet/signalling NaNs with payloads, denormals, extreme
normals, exponents chosen so results land near underflow/overflow, short
mantissas that make exact and halfway cases; all four rounding modes with
FZ, DN (and AHP for half conversions) on and off.

Cortex-A9 (VFPv3 + half conversions) runs everything except VFMA, which needs
VFPv4 (Cortex-A15), and the direct f64<->f16 conversions, which need ARMv8
(Unicorn's "max" CPU).

A second, smaller campaign runs the MIPS 24Kf FPU (legacy NaNs: SNaN bit is
one, tininess after rounding, unfused MADD, FS flushing results only) the
same way, checking the knobs the MIPS CPU will use.
"""
from __future__ import annotations

import random
import struct

import pytest

from tools import module

unicorn = module("unicorn")
keystone = module("keystone")

from unicorn import Uc, UC_ARCH_ARM, UC_ARCH_MIPS, UC_MODE_ARM  # noqa: E402
from unicorn import UC_MODE_MIPS32, UC_MODE_LITTLE_ENDIAN  # noqa: E402
from unicorn import arm_const, mips_const  # noqa: E402

from pysystem.cpu import softfloat as sf  # noqa: E402

CODE = 0x10000
PREAMBLE = 0x18000      # apart from CODE: no stale translated block is reused
INBUF = 0x100000
OUTBUF = 0x1000000
MAX_RECORDS = 1 << 16
IN_SIZE = 32
OUT_SIZE = 16

FMT = {16: sf.F16, 32: sf.F32, 64: sf.F64}

_ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
_ks_mips = keystone.Ks(keystone.KS_ARCH_MIPS,
                       keystone.KS_MODE_MIPS32 + keystone.KS_MODE_LITTLE_ENDIAN)


def asm(text: str) -> bytes:
    enc, _ = _ks.asm(text, CODE)
    return bytes(enc)


def asm_mips(text: str) -> bytes:
    enc, _ = _ks_mips.asm(text, CODE)
    return bytes(enc)


class VFPOracle:
    """One Unicorn ARM CPU with VFP on, running one VFP op over a table."""

    def __init__(self, model: int):
        uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        uc.ctl_set_cpu_model(model)
        uc.mem_map(CODE, 0x10000)
        uc.mem_map(INBUF, IN_SIZE * MAX_RECORDS)
        uc.mem_map(OUTBUF, OUT_SIZE * MAX_RECORDS)
        self.uc = uc
        # Enable cp10/cp11 in CPACR and set FPEXC.EN, as a kernel would.
        pre = asm("mov r3, #0xf00000; mcr p15, 0, r3, c1, c0, 2; isb;"
                  "mov r3, #0x40000000; vmsr fpexc, r3; nop")
        uc.mem_write(PREAMBLE, pre)
        uc.emu_start(PREAMBLE, PREAMBLE + len(pre) - 4)
        self.code = None

    def load_op(self, op_word: int) -> None:
        loop = ("loop: ldr r3, [r0]; vmsr fpscr, r3; vldr d0, [r0, #8];"
                "vldr d1, [r0, #16]; vldr d2, [r0, #24]; .word 0x%08x;"
                "vmrs r3, fpscr; vstr d2, [r1]; str r3, [r1, #8];"
                "add r0, r0, #32; add r1, r1, #16; subs r2, r2, #1; bne loop; nop"
                % op_word)
        code = asm(loop)
        if code != self.code:
            self.uc.mem_write(CODE, code)
            # Unicorn does not always notice rewritten code: drop its blocks
            self.uc.ctl_remove_cache(CODE, CODE + 0x1000)
            self.code = code

    def run(self, records):
        """records: list of (fpscr, a, b, c) -> list of (d2, fpscr)."""
        out = []
        for i in range(0, len(records), MAX_RECORDS):
            chunk = records[i:i + MAX_RECORDS]
            data = b"".join(struct.pack("<IIQQQ", f, 0, a, b, c) for f, a, b, c in chunk)
            self.uc.mem_write(INBUF, data)
            self.uc.reg_write(arm_const.UC_ARM_REG_R0, INBUF)
            self.uc.reg_write(arm_const.UC_ARM_REG_R1, OUTBUF)
            self.uc.reg_write(arm_const.UC_ARM_REG_R2, len(chunk))
            self.uc.emu_start(CODE, CODE + len(self.code) - 4)
            raw = bytes(self.uc.mem_read(OUTBUF, OUT_SIZE * len(chunk)))
            out.extend((r, f) for r, f, _ in struct.iter_unpack("<QIi", raw))
        return out


_oracles = {}


def oracle(model: str) -> VFPOracle:
    if model not in _oracles:
        _oracles[model] = VFPOracle({"a9": arm_const.UC_CPU_ARM_CORTEX_A9,
                                     "a15": arm_const.UC_CPU_ARM_CORTEX_A15,
                                     "max": arm_const.UC_CPU_ARM_MAX}[model])
    return _oracles[model]


# ---------------------------------------------------------------- operands

def special_values(F):
    s = F.sign
    one = F.bias << F.fbits
    vals = [0, F.inf, F.inf | F.quiet, F.inf | 1, F.inf | F.quiet | 5,
            F.inf | (F.quiet >> 1) | 3, F.inf | F.frac_mask, 1, F.frac_mask,
            F.hidden, F.inf - 1, one, one | 1, one - 1, one | F.quiet,
            (F.bias + 1) << F.fbits]
    return vals + [v | s for v in vals]


def rand_frac(F, rng):
    k = rng.random()
    if k < 0.3:
        return rng.getrandbits(F.fbits)
    if k < 0.6:   # few significant bits: exact and halfway results
        return (rng.getrandbits(4) << (F.fbits - 4)) | (rng.getrandbits(2) << rng.randrange(F.fbits - 1))
    if k < 0.8:   # runs of ones and zeros near the rounding point
        n = rng.randrange(F.fbits)
        return ((1 << n) - 1) << rng.randrange(F.fbits - n + 1) & F.frac_mask
    return rng.choice((0, 1, F.frac_mask, F.quiet, F.frac_mask - 1))


def rand_with_exp(F, rng, e):
    """A value with biased exponent e (clamped to the finite range)."""
    e = max(0, min(F.emax_field - 1, e))
    return (rng.getrandbits(1) * F.sign) | (e << F.fbits) | rand_frac(F, rng)


def rand_value(F, rng):
    k = rng.random()
    if k < 0.12:
        return rng.choice(special_values(F))
    if k < 0.17:   # NaNs with random payloads
        f = rng.getrandbits(F.fbits) or 1
        return (rng.getrandbits(1) * F.sign) | F.inf | f
    if k < 0.3:
        return rand_with_exp(F, rng, 0)
    if k < 0.4:
        return rand_with_exp(F, rng, rng.choice((1, 2, F.emax_field - 1, F.emax_field - 2)))
    if k < 0.7:
        return rand_with_exp(F, rng, F.bias + rng.randrange(-F.fbits - 3, F.fbits + 3))
    return rand_with_exp(F, rng, rng.randrange(F.emax_field))


def rand_pair(F, rng, op):
    a = rand_value(F, rng)
    if rng.random() < 0.4:
        return a, rand_value(F, rng)
    ea = (a >> F.fbits) & F.emax_field
    if op in ("add", "sub") and rng.random() < 0.25:
        # both near the denormal range, often cancelling: FZ flushes results
        a = rand_with_exp(F, rng, rng.randrange(4))
        b = rand_with_exp(F, rng, rng.randrange(4))
        return a, b ^ (F.sign if rng.random() < 0.7 and (a ^ b) & F.sign == 0 else 0)
    if op in ("add", "sub", "cmp", "cmpe"):
        eb = ea + rng.randrange(-F.fbits - 4, F.fbits + 4)
    elif op == "mul":   # aim the product at the edges and the middle
        target = rng.choice((0, 1, -F.fbits, F.emax_field, F.emax_field - 1, F.bias))
        eb = target - ea + F.bias + rng.randrange(-2, 3)
    else:               # div
        target = rng.choice((0, 1, -F.fbits, F.emax_field, F.emax_field - 1, F.bias))
        eb = ea - target + F.bias + rng.randrange(-2, 3)
    return a, rand_with_exp(F, rng, eb)


def rand_fpscr(rng, ahp=False):
    v = rng.randrange(4) << 22
    if rng.random() < 0.3:
        v |= sf.FPSCR_FZ
    if rng.random() < 0.3:
        v |= sf.FPSCR_DN
    if ahp and rng.random() < 0.5:
        v |= sf.FPSCR_AHP
    return v


# ---------------------------------------------------------------- checking

def vfp_word(text: str) -> int:
    return struct.unpack("<I", asm(text))[0]


def check(model, op_word, records, expect, result_mask):
    """Run records on the oracle and through ``expect(st, a, b, c) -> (result, nzcv)``."""
    orc = oracle(model)
    orc.load_op(op_word)
    got = orc.run(records)
    bad = []
    st = sf.FPStatus()
    for (fpscr, a, b, c), (r, f) in zip(records, got):
        st.set_fpscr(fpscr)
        res, nzcv = expect(st, a, b, c)
        want = (res & result_mask, fpscr | st.flags | (nzcv << 28))
        if (r & result_mask, f) != want:
            bad.append("fpscr=%08x a=%x b=%x c=%x: unicorn %x/%08x, softfloat %x/%08x"
                       % (fpscr, a, b, c, r & result_mask, f, want[0], want[1]))
    assert not bad, "%d of %d mismatch:\n%s" % (len(bad), len(records), "\n".join(bad[:20]))


# Hand encodings for what keystone does not know (ARM ARM A8.8.xx).
VFMA = {32: 0xEEA02A01, 64: 0xEEA02B01}            # vfma.fXX s4/d2, s0/d0, s2/d1
VCVTB_F32_F16 = 0xEEB22A40                          # vcvtb.f32.f16 s4, s0
VCVTB_F16_F32 = 0xEEB32A40                          # vcvtb.f16.f32 s4, s0
VCVTB_F64_F16 = 0xEEB22B40                          # vcvtb.f64.f16 d2, s0
VCVTB_F16_F64 = 0xEEB32B40                          # vcvtb.f16.f64 s4, d0

BINOPS = {"add": "vadd", "sub": "vsub", "mul": "vmul", "div": "vdiv"}


def regs(w):
    return ("s4", "s0", "s2") if w == 32 else ("d2", "d0", "d1")


def mask(w):
    return (1 << w) - 1


def run_binop(w, op, n, seed):
    F = FMT[w]
    fn = getattr(sf, "f%d_%s" % (w, op))
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        a, b = rand_pair(F, rng, op)
        if rng.random() < 0.5:
            a, b = b, a
        recs.append((rand_fpscr(rng), a, b, 0))
    d, x, y = regs(w)
    check("a9", vfp_word("%s.f%d %s, %s, %s" % (BINOPS[op], w, d, x, y)), recs,
          lambda st, a, b, c: (fn(a, b, st), 0), mask(w))


def run_sqrt(w, n, seed):
    F = FMT[w]
    fn = getattr(sf, "f%d_sqrt" % w)
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        a = rand_value(F, rng)
        if rng.random() < 0.8 and (a & F.mag) <= F.inf:
            a &= F.mag
        recs.append((rand_fpscr(rng), a, 0, 0))
    d, x, _ = regs(w)
    check("a9", vfp_word("vsqrt.f%d %s, %s" % (w, d, x)), recs,
          lambda st, a, b, c: (fn(a, st), 0), mask(w))


def run_muladd(w, n, seed):
    F = FMT[w]
    fn = getattr(sf, "f%d_muladd" % w)
    mul = getattr(sf, "f%d_mul" % w)
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        fpscr = rand_fpscr(rng)
        a, b = rand_pair(F, rng, "mul")
        k = rng.random()
        if k < 0.4:
            # an addend close to -(a*b): cancellation, exact zeros, sticky cases
            p = mul(a, b, sf.FPStatus(rounding=rng.randrange(4)))
            c = p ^ (F.sign if rng.random() < 0.7 else 0)
            if (c & F.mag) < F.inf:
                c = (c + rng.randrange(-3, 4)) & mask(w)
        elif k < 0.6:
            c = rand_with_exp(F, rng, ((a >> F.fbits) & F.emax_field) + ((b >> F.fbits) & F.emax_field)
                              - F.bias + rng.randrange(-2 * F.fbits - 4, F.fbits + 4))
        else:
            c = rand_value(F, rng)
        recs.append((fpscr, a, b, c))
    check("a15", VFMA[w], recs, lambda st, a, b, c: (fn(a, b, c, st), 0), mask(w))


# The multiply-accumulate forms, composed as cpu/softfloat's docstring says.
COMPOSED = {
    "vnmul": (False, lambda o, n, m, d, st: o.neg(o.mul(n, m, st))),
    "vmla": (False, lambda o, n, m, d, st: o.add(d, o.mul(n, m, st), st)),
    "vmls": (False, lambda o, n, m, d, st: o.add(d, o.neg(o.mul(n, m, st)), st)),
    "vnmla": (False, lambda o, n, m, d, st: o.add(o.neg(d), o.neg(o.mul(n, m, st)), st)),
    "vnmls": (False, lambda o, n, m, d, st: o.add(o.neg(d), o.mul(n, m, st), st)),
    "vfms": (0x40, lambda o, n, m, d, st: o.muladd(o.neg(n), m, d, st)),
    "vfnma": (0x300040, lambda o, n, m, d, st: o.muladd(o.neg(n), m, o.neg(d), st)),
    "vfnms": (0x300000, lambda o, n, m, d, st: o.muladd(n, m, o.neg(d), st)),
}


class _Ops:
    def __init__(self, w):
        for name in ("add", "mul", "neg", "muladd"):
            setattr(self, name, getattr(sf, "f%d_%s" % (w, name)))


def run_composed(w, form, n, seed):
    F = FMT[w]
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        a, b = rand_pair(F, rng, "mul")
        c = rand_value(F, rng) if rng.random() < 0.5 else \
            rand_with_exp(F, rng, ((a >> F.fbits) & F.emax_field) + ((b >> F.fbits) & F.emax_field)
                          - F.bias + rng.randrange(-4, 4))
        recs.append((rand_fpscr(rng), a, b, c))
    fused, fn = COMPOSED[form]
    ops = _Ops(w)
    if fused is False:
        d, x, y = regs(w)
        word, model = vfp_word("%s.f%d %s, %s, %s" % (form, w, d, x, y)), "a9"
    else:
        word, model = VFMA[w] ^ fused, "a15"     # VFMS: op bit 6; VFNMA/VFNMS: bits 21:20 = 01
    check(model, word, recs, lambda st, a, b, c: (fn(ops, a, b, c, st), 0), mask(w))


def run_compare(w, signal, n, seed):
    F = FMT[w]
    fn = getattr(sf, "f%d_compare" % w)
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        a, b = rand_pair(F, rng, "cmp")
        if rng.random() < 0.2:
            b = a if rng.random() < 0.5 else a ^ F.sign
        recs.append((rand_fpscr(rng), a, b, 0))
    _, x, y = regs(w)
    check("a9", vfp_word("vcmp%s.f%d %s, %s" % ("e" if signal else "", w, x, y)), recs,
          lambda st, a, b, c: (0, fn(a, b, st, signal)), 0)


def run_convert(src, dst, n, seed):
    F = FMT[src]
    fn = getattr(sf, "f%d_to_f%d" % (src, dst))
    rng = random.Random(seed)
    recs = []
    D = FMT[dst]
    for _ in range(n):
        if src > dst and rng.random() < 0.5:
            # aim at the destination's denormal/overflow boundaries
            e = rng.choice((D.emin - D.fbits - 1, D.emin - D.fbits, D.emin - 1, D.emin, 0,
                            D.bias, D.bias + 1, D.bias - 1)) + rng.randrange(-2, 3)
            a = rand_with_exp(F, rng, e + F.bias)
        else:
            a = rand_value(F, rng)
        recs.append((rand_fpscr(rng, ahp=16 in (src, dst)), a, 0, 0))
    if (src, dst) == (32, 64):
        word, model = vfp_word("vcvt.f64.f32 d2, s0"), "a9"
    elif (src, dst) == (64, 32):
        word, model = vfp_word("vcvt.f32.f64 s4, d0"), "a9"
    elif (src, dst) == (16, 32):
        word, model = VCVTB_F32_F16, "a9"
    elif (src, dst) == (32, 16):
        word, model = VCVTB_F16_F32, "a9"
    elif (src, dst) == (16, 64):
        word, model = VCVTB_F64_F16, "max"
    else:
        word, model = VCVTB_F16_F64, "max"
    check(model, word, recs, lambda st, a, b, c: (fn(a, st), 0), mask(dst))


def run_to_int(w, signed, rounding_from_fpscr, n, seed):
    F = FMT[w]
    fn = getattr(sf, "f%d_to_int" % w)
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        if rng.random() < 0.6:
            a = rand_with_exp(F, rng, F.bias + rng.randrange(-3, 34))
        else:
            a = rand_value(F, rng)
        recs.append((rand_fpscr(rng), a, 0, 0))
    _, x, _ = regs(w)
    text = "vcvt%s.%s32.f%d s4, %s" % ("r" if rounding_from_fpscr else "", "s" if signed else "u", w, x)
    check("a9", vfp_word(text), recs,
          lambda st, a, b, c: (fn(a, signed, 32, 0, st.rounding if rounding_from_fpscr else sf.RZ, st), 0),
          mask(32))


def run_from_int(w, signed, n, seed):
    fn = getattr(sf, "int_to_f%d" % w)
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        v = rng.getrandbits(32) >> rng.randrange(32)
        if rng.random() < 0.5:
            v = (-v) & 0xffffffff
        recs.append((rand_fpscr(rng), v, 0, 0))
    d = "s4" if w == 32 else "d2"
    text = "vcvt.f%d.%s32 %s, s0" % (w, "s" if signed else "u", d)
    check("a9", vfp_word(text), recs, lambda st, a, b, c: (fn(a, signed, 32, 0, st), 0), mask(w))


def run_fixed(w, signed, size, fbits, to_fixed, n, seed):
    """VCVT between floating point and fixed point (in place in s4 / d2)."""
    F = FMT[w]
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        if to_fixed:
            if rng.random() < 0.6:
                c = rand_with_exp(F, rng, F.bias + rng.randrange(-fbits - 3, size - fbits + 3))
            else:
                c = rand_value(F, rng)
        else:
            c = rng.getrandbits(size) >> rng.randrange(size)
            if rng.random() < 0.5:
                c = -c
            c &= mask(64)
            if rng.random() < 0.5:   # junk above the operand's width must be ignored
                c ^= rng.getrandbits(64) & ~mask(size)
        recs.append((rand_fpscr(rng), 0, 0, c))
    d = "s4" if w == 32 else "d2"
    kind = "%s%d" % ("s" if signed else "u", size)
    if to_fixed:
        fn = getattr(sf, "f%d_to_int" % w)
        text = "vcvt.%s.f%d %s, %s, #%d" % (kind, w, d, d, fbits)

        def expect(st, a, b, c):
            return fn(c & mask(w), signed, size, fbits, sf.RZ, st), 0
    else:
        fn = getattr(sf, "int_to_f%d" % w)
        text = "vcvt.f%d.%s %s, %s, #%d" % (w, kind, d, d, fbits)

        def expect(st, a, b, c):
            return fn(c, signed, size, fbits, st), 0
    check("a9", vfp_word(text), recs, expect, mask(w))


NEON_UNARY = {"to_int": "vcvt.s32.f32", "recpe": "vrecpe.f32", "rsqrte": "vrsqrte.f32",
              "recpe_u32": "vrecpe.u32", "rsqrte_u32": "vrsqrte.u32"}
NEON_BINARY = {"add": "vadd.f32", "mul": "vmul.f32", "max": "vmax.f32", "min": "vmin.f32",
               "recps": "vrecps.f32", "rsqrts": "vrsqrts.f32"}


def run_neon(op, n, seed):
    """NEON with the same operand in both lanes: the "standard FPSCR" - FZ,
    DN, RN - whatever FPSCR holds; the cumulative flags still land in FPSCR."""
    F = sf.F32
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        a, b = rand_pair(F, rng, "mul" if op in ("mul", "recps", "rsqrts") else "add")
        if op.endswith("u32"):
            a = rng.getrandbits(32) >> rng.choice((0, 0, 1, 2, 3))
        elif op in ("recpe", "rsqrte") and rng.random() < 0.3:
            a = rand_with_exp(F, rng, rng.choice((0, 1, 2, 252, 253, 254)))
        elif op in ("recps", "rsqrts") and rng.random() < 0.2:
            a = rng.choice((F.inf, F.inf | F.sign))
            b = rng.choice((0, F.sign, 1, F.sign | 5, F.hidden, sf.F32.bias << 23))
        recs.append((rand_fpscr(rng), a | a << 32, b | b << 32, 0))
    calls = {
        "to_int": lambda a, b, s: sf.f32_to_int(a, True, 32, 0, sf.RZ, s),
        "recpe": lambda a, b, s: sf.f32_recip_estimate(a, s),
        "rsqrte": lambda a, b, s: sf.f32_rsqrt_estimate(a, s),
        "recpe_u32": lambda a, b, s: sf.u32_recip_estimate(a),
        "rsqrte_u32": lambda a, b, s: sf.u32_rsqrt_estimate(a),
        "recps": sf.f32_recip_step,
        "rsqrts": sf.f32_rsqrt_step,
    }
    call = calls.get(op) or getattr(sf, "f32_" + op)

    def expect(st, a, b, c):
        s = sf.FPStatus.arm_standard()
        r = call(a & 0xffffffff, b & 0xffffffff, s)
        st.flags |= s.flags
        return r, 0
    if op in NEON_UNARY:
        text = NEON_UNARY[op] + " d2, d0"
    else:
        text = NEON_BINARY[op] + " d2, d0, d1"
    check("a9", vfp_word(text), recs, expect, mask(32))


NEON_OPS = sorted(NEON_UNARY) + sorted(NEON_BINARY)


# ---------------------------------------------------------------- the tests

N = 10000       # per case in the fast suite
N_SLOW = 1000000


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binop(w, op):
    run_binop(w, op, N, seed=w * 10 + list(BINOPS).index(op))


@pytest.mark.parametrize("w", [32, 64])
def test_sqrt(w):
    run_sqrt(w, N, seed=w)


@pytest.mark.parametrize("w", [32, 64])
def test_muladd(w):
    run_muladd(w, N, seed=w + 1)


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("form", sorted(COMPOSED))
def test_composed_multiply_accumulate(w, form):
    run_composed(w, form, N // 4, seed=w + sorted(COMPOSED).index(form))


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("signal", [False, True])
def test_compare(w, signal):
    run_compare(w, signal, N, seed=w + signal)


@pytest.mark.parametrize("src,dst", [(32, 64), (64, 32), (16, 32), (32, 16), (16, 64), (64, 16)])
def test_convert(src, dst):
    run_convert(src, dst, N, seed=src * 100 + dst)


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("vcvtr", [False, True])
def test_to_int(w, signed, vcvtr):
    run_to_int(w, signed, vcvtr, N // 2, seed=w + 2 * signed + 4 * vcvtr)


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("signed", [False, True])
def test_from_int(w, signed):
    run_from_int(w, signed, N // 2, seed=w + signed)


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("size,fbits", [(16, 1), (16, 8), (16, 16), (32, 1), (32, 16), (32, 32)])
@pytest.mark.parametrize("to_fixed", [False, True])
def test_fixed(w, signed, size, fbits, to_fixed):
    run_fixed(w, signed, size, fbits, to_fixed, N // 8, seed=w + signed + size + fbits + to_fixed)


@pytest.mark.parametrize("op", NEON_OPS)
def test_neon_standard_fpscr(op):
    run_neon(op, N // 2, seed=NEON_OPS.index(op))


@pytest.mark.slow
@pytest.mark.parametrize("w", [32, 64])
def test_slow_campaign(w):
    for i, op in enumerate(("add", "sub", "mul", "div")):
        run_binop(w, op, N_SLOW, seed=1000 + i)
    run_sqrt(w, N_SLOW, seed=2000)
    run_muladd(w, N_SLOW, seed=3000)
    for i, form in enumerate(sorted(COMPOSED)):
        run_composed(w, form, N_SLOW // 10, seed=3100 + i)
    run_compare(w, False, N_SLOW // 4, seed=4000)
    run_compare(w, True, N_SLOW // 4, seed=4001)
    for signed in (False, True):
        for vcvtr in (False, True):
            run_to_int(w, signed, vcvtr, N_SLOW // 4, seed=5000 + 2 * signed + vcvtr)
        run_from_int(w, signed, N_SLOW // 4, seed=6000 + signed)
        for size in (16, 32):
            for fbits in range(1, size + 1):
                run_fixed(w, signed, size, fbits, True, N_SLOW // 50, seed=7000 + fbits)
                run_fixed(w, signed, size, fbits, False, N_SLOW // 50, seed=8000 + fbits)


@pytest.mark.slow
def test_slow_convert():
    for src, dst in [(32, 64), (64, 32), (16, 32), (32, 16), (16, 64), (64, 16)]:
        run_convert(src, dst, N_SLOW, seed=9000 + src + dst)
    for i, op in enumerate(NEON_OPS):
        run_neon(op, N_SLOW // 4, seed=9100 + i)


# ---------------------------------------------------------------- MIPS 24Kf

class MIPSOracle(VFPOracle):
    """The same table walk on a MIPS32 24Kf (FR=0: doubles in even/odd pairs)."""

    def __init__(self):
        uc = Uc(UC_ARCH_MIPS, UC_MODE_MIPS32 + UC_MODE_LITTLE_ENDIAN)
        uc.ctl_set_cpu_model(mips_const.UC_CPU_MIPS32_24KF)
        uc.mem_map(CODE, 0x10000)
        uc.mem_map(INBUF, IN_SIZE * MAX_RECORDS)
        uc.mem_map(OUTBUF, OUT_SIZE * MAX_RECORDS)
        self.uc = uc
        pre = asm_mips("mfc0 $t0, $12; lui $t1, 0x2000; or $t0, $t0, $t1;"
                       "mtc0 $t0, $12; ehb; nop")          # Status.CU1
        uc.mem_write(PREAMBLE, pre)
        uc.emu_start(PREAMBLE, PREAMBLE + len(pre) - 4)
        self.code = None
        self.regs = (mips_const.UC_MIPS_REG_A0, mips_const.UC_MIPS_REG_A1,
                     mips_const.UC_MIPS_REG_A2)

    def load_mips(self, insn: str) -> None:
        code = asm_mips("loop: lw $t0, 0($a0); ctc1 $t0, $31; ldc1 $f0, 8($a0);"
                        "ldc1 $f2, 16($a0); ldc1 $f4, 24($a0); %s; cfc1 $t0, $31;"
                        "sdc1 $f4, 0($a1); sw $t0, 8($a1); addiu $a0, $a0, 32;"
                        "addiu $a1, $a1, 16; addiu $a2, $a2, -1; bnez $a2, loop; nop; nop"
                        % insn)
        if code != self.code:
            self.uc.mem_write(CODE, code)
            # Unicorn does not always notice rewritten code: drop its blocks
            self.uc.ctl_remove_cache(CODE, CODE + 0x1000)
            self.code = code

    def run(self, records):
        out = []
        a0, a1, a2 = self.regs
        for i in range(0, len(records), MAX_RECORDS):
            chunk = records[i:i + MAX_RECORDS]
            data = b"".join(struct.pack("<IIQQQ", f, 0, a, b, c) for f, a, b, c in chunk)
            self.uc.mem_write(INBUF, data)
            self.uc.reg_write(a0, INBUF)
            self.uc.reg_write(a1, OUTBUF)
            self.uc.reg_write(a2, len(chunk))
            self.uc.emu_start(CODE, CODE + len(self.code) - 4)
            raw = bytes(self.uc.mem_read(OUTBUF, OUT_SIZE * len(chunk)))
            out.extend((r, f) for r, f, _ in struct.iter_unpack("<QIi", raw))
        return out


MIPS_RM = (sf.RN, sf.RZ, sf.RP, sf.RM)      # FCSR.RM -> softfloat rounding
MIPS_FLAG_BITS = ((sf.IXC, 1 << 2), (sf.UFC, 1 << 3), (sf.OFC, 1 << 4),
                  (sf.DZC, 1 << 5), (sf.IOC, 1 << 6))
MIPS_FS = 1 << 24
MIPS_FCC0 = 1 << 23


def mips_status(fcsr):
    fs = bool(fcsr & MIPS_FS)
    return sf.FPStatus(rounding=MIPS_RM[fcsr & 3], flush_to_zero=fs,
                       flush_inputs_to_zero=False, tininess_before_rounding=False,
                       snan_bit_is_one=True, nan_rules="mips")


_mips = []


def check_mips(insn, records, expect, result_mask):
    """expect(st, a, b, c) -> (result, fcc); flags mapped to FCSR flags + cause."""
    if not _mips:
        _mips.append(MIPSOracle())
    orc = _mips[0]
    orc.load_mips(insn)
    got = orc.run(records)
    bad = []
    for (fcsr, a, b, c), (r, f) in zip(records, got):
        st = mips_status(fcsr)
        res, fcc = expect(st, a, b, c)
        flags = st.flags
        if st.flush_to_zero:
            flags &= ~sf.UFC        # QEMU's MIPS reports nothing for a flushed result
        m = 0
        for ours, theirs in MIPS_FLAG_BITS:
            if flags & ours:
                m |= theirs
        want = (res & result_mask, fcsr | m | (m << 10) | (MIPS_FCC0 if fcc else 0))
        if (r & result_mask, f) != want:
            bad.append("fcsr=%08x a=%x b=%x c=%x: unicorn %x/%08x, softfloat %x/%08x"
                       % (fcsr, a, b, c, r & result_mask, f, want[0], want[1]))
    assert not bad, "%d of %d mismatch:\n%s" % (len(bad), len(records), "\n".join(bad[:20]))


def rand_fcsr(rng):
    return rng.randrange(4) | (MIPS_FS if rng.random() < 0.3 else 0)


def run_mips(w, op, n, seed):
    F = FMT[w]
    fmt = "s" if w == 32 else "d"
    rng = random.Random(seed)
    recs = []
    for _ in range(n):
        a, b = rand_pair(F, rng, {"madd": "mul", "sqrt": "mul"}.get(op, op if op in BINOPS else "add"))
        c = rand_value(F, rng)
        if op == "sqrt" and rng.random() < 0.8 and (a & F.mag) <= F.inf:
            a &= F.mag
        recs.append((rand_fcsr(rng), a, b, c))
    call = None
    if op in BINOPS:
        fn = getattr(sf, "f%d_%s" % (w, op))
        insn = "%s.%s $f4, $f0, $f2" % (op, fmt)
        call = lambda st, a, b, c: (fn(a, b, st), 0)   # noqa: E731
    elif op == "sqrt":
        fn = getattr(sf, "f%d_sqrt" % w)
        insn = "sqrt.%s $f4, $f0" % fmt
        call = lambda st, a, b, c: (fn(a, st), 0)      # noqa: E731
    elif op == "madd":      # unfused on the 24Kf: fd = fs * ft + fr
        mul = getattr(sf, "f%d_mul" % w)
        add = getattr(sf, "f%d_add" % w)
        insn = ".word 0x4c82012%d" % (w == 64)   # madd.fmt $f4, $f4, $f0, $f2
        call = lambda st, a, b, c: (add(mul(a, b, st), c, st), 0)  # noqa: E731
    elif op in ("cvt.w", "trunc.w"):
        fn = getattr(sf, "f%d_to_int" % w)
        insn = "%s.%s $f4, $f0" % (op, fmt)

        def call(st, a, b, c):
            r = fn(a, True, 32, 0, sf.RZ if op == "trunc.w" else st.rounding, st)
            return (0x7fffffff if st.flags & sf.IOC else r), 0
    elif op == "cvt":
        fn = sf.f32_to_f64 if w == 32 else sf.f64_to_f32
        insn = "cvt.%s.%s $f4, $f0" % ("d" if w == 32 else "s", fmt)
        call = lambda st, a, b, c: (fn(a, st), 0)      # noqa: E731
    else:                   # c.cond
        cmp = getattr(sf, "f%d_compare" % w)
        signal = op in ("c.lt",)
        true_for = {"c.eq": (sf.NZCV_EQ,), "c.olt": (sf.NZCV_LT,), "c.lt": (sf.NZCV_LT,),
                    "c.ule": (sf.NZCV_UN, sf.NZCV_LT, sf.NZCV_EQ)}[op]
        insn = "%s.%s $f0, $f2" % (op, fmt)
        call = lambda st, a, b, c: (c, cmp(a, b, st, signal) in true_for)  # noqa: E731
    out_mask = mask(64 if w == 32 and op == "cvt" else 32 if op == "cvt" or op.endswith(".w") else w)
    check_mips(insn, recs, call, out_mask)


MIPS_OPS = ["add", "sub", "mul", "div", "sqrt", "madd", "cvt", "cvt.w", "trunc.w",
            "c.eq", "c.olt", "c.lt", "c.ule"]


@pytest.mark.parametrize("w", [32, 64])
@pytest.mark.parametrize("op", MIPS_OPS)
def test_mips(w, op):
    run_mips(w, op, N // 4, seed=w + MIPS_OPS.index(op))


@pytest.mark.slow
def test_slow_mips():
    for w in (32, 64):
        for i, op in enumerate(MIPS_OPS):
            run_mips(w, op, N_SLOW // 10, seed=10000 + w + i)
