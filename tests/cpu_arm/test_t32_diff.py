"""T32 (Thumb/Thumb-2) differential tests against Unicorn: every form with random
operands, and random sequences with IT blocks.  See harness.py and gen_t32.py
(its ``UNPREDICTABLE`` lists the encodings that are not generated)."""
from __future__ import annotations

import random

import pytest

from harness import Pair, random_state
from gen_t32 import GENERATORS, NOT_RANDOM, count_insns, random_sequence, to_bytes

from pysystem.cpu.arm import t32

CPSR_IT = 0x0600FC00


@pytest.fixture(scope="module")
def pair():
    return Pair()


def _run(pair, hws, rng):
    regs, flags, data = random_state(rng)
    diff = pair.run(to_bytes(hws), regs, flags, data, thumb=True)
    it = pair.cpu.cpsr & CPSR_IT
    if it:
        diff.append(f"IT state left set: 0x{it:08x}")
    return diff


def test_every_form_is_covered():
    d16, d32 = t32.decoders()
    names = {f.name for f in d16.forms + d32.forms}
    missing = names - set(GENERATORS) - set(NOT_RANDOM) - {"IT"}
    assert not missing, f"forms without a generator or a reason: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_form(pair, name):
    rng = random.Random("t32" + name)
    for trial in range(24):
        hws = random_sequence(rng, 12, [name], it_rate=0.0 if trial < 12 else 0.3)
        diff = _run(pair, hws, rng)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{h:04x}" for h in hws)


def _campaign(seed, sequences, length, it_rate=0.15):
    pair = Pair()
    rng = random.Random(seed)
    total = 0
    for s in range(sequences):
        hws = random_sequence(rng, length, it_rate=it_rate)
        diff = _run(pair, hws, rng)
        assert not diff, f"sequence {s}: {diff}\n" + " ".join(f"{h:04x}" for h in hws)
        total += count_insns(hws)
    return total


def test_random_sequences():
    assert _campaign(11, 330, 200) >= 66000


def test_random_it_heavy():
    assert _campaign(12, 80, 200, it_rate=0.6) >= 16000


@pytest.mark.slow
def test_random_sequences_long():
    assert _campaign(13, 3000, 300) >= 900000
