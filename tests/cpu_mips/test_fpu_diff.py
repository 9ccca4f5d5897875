"""FPU differential tests against Unicorn (QEMU's 24Kf FPU), both byte orders: every
FPU form with random operands (special values included) and mixed FPU programs.
f0-f31 and FCSR travel through memory (see gen_fpu.py)."""
from __future__ import annotations

import random

import pytest

from gen_fpu import FP_IN, GENERATORS, NOT_RANDOM, fp_inputs, random_fpu_program
from mips_harness import CODE_BASE, DATA_BASE, Pair, random_state

from pysystem.cpu.mips import fpu


@pytest.fixture(scope="module", params=[False, True], ids=["el", "eb"])
def pair(request):
    return Pair(big_endian=request.param)


def test_every_fpu_form_is_covered():
    names = {f.name for f in fpu.FORMS}
    missing = names - set(GENERATORS) - set(NOT_RANDOM)
    assert not missing, f"FPU forms without a generator or a reason: {sorted(missing)}"


def _run(pair, rng, names, length, traps=False):
    words = random_fpu_program(rng, length, CODE_BASE, names, traps)
    regs, hi, lo, data = random_state(rng)
    off = FP_IN - DATA_BASE
    data = data[:off] + fp_inputs(rng, pair.be) + data[off + 128:]
    return words, pair.run(words, regs, hi, lo, data)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_fpu_form(pair, name):
    rng = random.Random(name)
    for trial in range(25):
        words, diff = _run(pair, rng, [name], 120)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{w:08x}" for w in words)


@pytest.mark.parametrize("traps", [False, True], ids=["flags", "traps"])
def test_fpu_programs(pair, traps):
    rng = random.Random(f"fpu{traps}")
    for s in range(40):
        words, diff = _run(pair, rng, None, 200, traps)
        assert not diff, f"program {s}: {diff}\n" + " ".join(f"{w:08x}" for w in words)
