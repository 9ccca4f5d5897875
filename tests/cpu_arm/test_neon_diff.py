"""Advanced SIMD (NEON) differential tests against Unicorn (QEMU's Cortex-A9): every form
of cpu/arm/neon.py with random operands in A32 and T32, and random sequences mixing the
forms (see gen_neon.py for what is generated and how)."""
from __future__ import annotations

import random

import pytest

from gen_neon import FORMS, LDST, code_bytes, random_neon_state, random_sequence, t32_bytes
from gen_vfp import VFPPair
from harness import pypy_memory_access, random_state  # noqa: F401 (a fixture)

from pysystem.cpu.arm import a32


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


@pytest.mark.parametrize("name", sorted(LDST))
def test_loads_and_stores_as_generated_for_pypy(pair, name, pypy_memory_access):
    rng = random.Random("neon-pypy-" + name)
    for trial in range(30):
        thumb = trial % 3 == 2
        insns = random_sequence(rng, 6, [name])
        diff = _check(pair, insns, rng, thumb)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


SETEND_BE, SETEND_LE = 0xF1010200, 0xF1010000


@pytest.mark.parametrize("name", sorted(LDST))
def test_loads_and_stores_big_endian(pair, name):
    """Elements are byte-reversed in big-endian data state (SETEND BE), each at its size."""
    rng = random.Random("neon-be-" + name)
    for trial in range(30):
        insns = [SETEND_BE] + random_sequence(rng, 4, [name]) + [SETEND_LE]
        diff = _check(pair, insns, rng, thumb=False)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


def _campaign(seed, sequences, length):
    """Random sequences of every form, 30% in T32; returns (NEON instructions compared,
    forms seen)."""
    pair = VFPPair()
    rng = random.Random(seed)
    total = 0
    seen = set()
    for s in range(sequences):
        thumb = rng.random() < 0.3
        insns = random_sequence(rng, length)
        diff = _check(pair, insns, rng, thumb)
        assert not diff, f"sequence {s} ({'T32' if thumb else 'A32'}): {diff}\n" + \
            " ".join(f"{i:08x}" for i in insns)
        for i in insns:
            form = a32.decode(i)[0]
            if form is not None and form.name in FORMS:
                seen.add(form.name)
                total += 1
    return total, seen


def test_random_sequences():
    total, seen = _campaign(1, 100, 100)
    assert total >= 5000 and seen == set(FORMS)


@pytest.mark.slow
def test_random_sequences_long():
    total, seen = _campaign(2, 1200, 120)
    assert total >= 100000 and seen == set(FORMS)
