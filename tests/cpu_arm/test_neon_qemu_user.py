"""Advanced SIMD instructions compared with QEMU 7 through qemu-user: neon_prog/neon_user.c
(built here with arm-linux-gnueabihf-gcc, run under ``qemu-arm``) executes each
instruction on a register file and an 8 KiB buffer read from stdin and prints the
result, or the address of the alignment fault (SIGBUS); pysystem's CPU runs the same
instruction on the same state.

This is the oracle for what Unicorn (QEMU 5) cannot judge: the alignment faults that
VLDn/VSTn with an alignment specifier take (QEMU 6+), and a second opinion on every
data-processing and load/store form with random operands.
"""
from __future__ import annotations

import os
import random
import subprocess

import pytest

import tools
from gen_neon import FORMS, LDST, gen, random_neon_state
from gen_vfp import VFPPair
from harness import DATA_BASE
from test_neon_directed import ALIGNED
from test_vfp_directed import ABT, run_ours

from pysystem.cpu.arm import a32

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "neon_prog")
BUF_SIZE = 8192
PATTERN = bytes((i * 7 + 3) & 0xFF for i in range(BUF_SIZE))


def _fnv(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


@pytest.fixture(scope="module")
def qemu_user(tmp_path_factory):
    gcc = tools.program("arm-linux-gnueabihf-gcc")
    qemu = tools.program("qemu-arm")
    exe = str(tmp_path_factory.mktemp("neon_user") / "neon_user")
    subprocess.run([gcc, "-O1", "-static", "-marm", "-march=armv7-a", "-mfpu=neon", "-mfloat-abi=hard",
                    "-Wl,--no-warn-rwx-segments", os.path.join(HERE, "neon_user.c"), "-o", exe],
                   check=True)

    def run(cases):
        text = "".join(f"{i:x} {o:x} {x:x} {f:x} " + " ".join(f"{v:x}" for v in d) + "\n"
                       for i, o, x, f, d in cases)
        out = subprocess.run([qemu, "-cpu", "cortex-a9", exe], input=text, capture_output=True,
                             text=True, check=True, timeout=300).stdout.split("\n")
        assert len(out) == len(cases) + 1, out[-3:]
        return out[:-1]
    return run


def _ours(pair, insn, off, index, fpscr, d) -> str:
    cpu = pair.cpu
    pair.space.write_bytes(DATA_BASE, PATTERN)
    cpu.vfp_d = list(d)
    cpu.fpscr = fpscr
    cpu = run_ours(pair, [insn], regs=[0] * 11 + [DATA_BASE + off, index])
    if cpu.mode == ABT:
        return f"F {cpu.cp15.dfar - DATA_BASE:x}"
    h = _fnv(pair.space.read_bytes(DATA_BASE, BUF_SIZE))
    return f"R {(cpu.regs[11] - DATA_BASE) & 0xFFFFFFFF:x} {cpu.fpscr:x} {h:x} " + \
        " ".join(f"{v:x}" for v in cpu.vfp_d)


def _compare(qemu_user, cases):
    pair = VFPPair()
    expected = qemu_user(cases)
    bad = []
    for case, exp in zip(cases, expected):
        got = _ours(pair, *case)
        if got != exp:
            bad.append(f"{case[0]:08x} ({a32.decode(case[0])[0].name}) base+{case[1]:x}:\n"
                       f"  qemu {exp}\n  ours {got}")
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n" + "\n".join(bad[:10])


def test_alignment_faults(qemu_user):
    """Every offset in the alignment, and the aligned address, of each ALIGNED case.

    QEMU checks a 256-bit alignment (``:256``) as 128-bit (its pow2_align() caps it at
    16 bytes, a FIXME about its TLB flags); the architecture faults on any address not
    a multiple of 32, and so do we (test_neon_directed.py checks +16): the offsets 16
    bytes off are not compared."""
    rng = random.Random(1)
    cases = []
    for _, insn, align, _ in ALIGNED:
        insn = (insn & ~(15 << 16)) | 11 << 16  # base r11
        for off in range(align + 1):
            if align == 32 and off % 16 == 0 and off % 32:
                continue
            cases.append((insn, 0x1000 + off, 0, 0, random_neon_state(rng)[0]))
    _compare(qemu_user, cases)


def _random_cases(rng, per_form):
    cases = []
    for name in sorted(f.name for f in FORMS.values() if f.match >> 28 == 0xF):
        for _ in range(per_form):
            insn = gen(rng, name)[-1]
            d, fpscr = random_neon_state(rng)
            off, index = 0x1000, 0
            if name in LDST:
                args = a32.decode(insn)[1]
                off = 0x1000 + rng.randrange(-256, 256)
                if args.align > 1 and rng.random() < 0.8:
                    off &= ~(args.align - 1)
                elif args.align == 32 and off % 16 == 0 and off % 32:
                    off += 1  # not 16 bytes off a 32-byte boundary: see test_alignment_faults
                index = rng.randrange(-64, 64) & 0xFFFFFFFF
            cases.append((insn, off, index, fpscr, d))
    return cases


def test_every_form(qemu_user):
    _compare(qemu_user, _random_cases(random.Random(2), 12))


@pytest.mark.slow
def test_every_form_long(qemu_user):
    _compare(qemu_user, _random_cases(random.Random(3), 200))
