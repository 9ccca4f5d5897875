"""Advanced SIMD (NEON) differential tests against Unicorn (QEMU's Cortex-A9): every form
of cpu/arm/neon.py with random operands in A32 and T32, and random sequences mixing the
forms (see gen_neon.py for what is generated and how)."""
from __future__ import annotations

import random

import pytest

from gen_neon import FORMS, code_bytes, gen, random_neon_state, random_sequence, t32_bytes
from gen_vfp import VFPPair
from harness import random_state


@pytest.fixture(scope="module")
def pair():
    return VFPPair()


def _check(pair, insns, rng, thumb):
    regs, flags, data = random_state(rng)
    code = t32_bytes(insns) if thumb else code_bytes(insns)
    return pair.run(code, regs, flags, data, random_neon_state(rng), thumb=thumb)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_form(pair, name):
    rng = random.Random("neon-" + name)
    for trial in range(30):
        insns = random_sequence(rng, 6, [name])
        diff = _check(pair, insns, rng, thumb=False)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_form_thumb(pair, name):
    rng = random.Random("neon-t32-" + name)
    for trial in range(10):
        insns = random_sequence(rng, 6, [name])
        diff = _check(pair, insns, rng, thumb=True)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


def _campaign(seed, sequences, length):
    pair = VFPPair()
    rng = random.Random(seed)
    total = 0
    for s in range(sequences):
        thumb = rng.random() < 0.3
        insns = random_sequence(rng, length)
        diff = _check(pair, insns, rng, thumb)
        assert not diff, f"sequence {s} ({'T32' if thumb else 'A32'}): {diff}\n" + \
            " ".join(f"{i:08x}" for i in insns)
        total += sum(1 for i in insns if i >> 28 == 0xF or (i >> 24) & 0xF == 0xE)
    return total


def test_random_sequences():
    assert _campaign(1, 100, 100) >= 5000


@pytest.mark.slow
def test_random_sequences_long():
    assert _campaign(2, 1200, 120) >= 100000
