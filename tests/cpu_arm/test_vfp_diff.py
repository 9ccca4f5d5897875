"""VFP differential tests against Unicorn: every VFP form with random operands biased to
corner cases (NaN payloads, denormals, infinities, zeros, halfway values) in every
rounding mode with FZ/DN/AHP on and off, and random sequences mixing VFP and A32
forms.  See gen_vfp.py (what is not generated, and why)."""
from __future__ import annotations

import random

import pytest

from gen_a32 import random_sequence as a32_sequence
from gen_vfp import GENERATORS, VFPPair, code_bytes, random_sequence, random_vfp_state, t32_bytes
from harness import random_state

from pysystem.cpu.arm import vfp_decode


@pytest.fixture(scope="module")
def pair():
    return VFPPair()


def test_every_form_is_covered():
    names = {f.name for f in vfp_decode.FORMS}
    assert names == set(GENERATORS)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_form(pair, name):
    rng = random.Random("vfp-" + name)
    for trial in range(40):
        insns = random_sequence(rng, 10, [name])
        regs, flags, data = random_state(rng)
        diff = pair.run(code_bytes(insns), regs, flags, data, random_vfp_state(rng))
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_form_thumb(pair, name):
    """T32 decodes coprocessor instructions through the A32 VFP forms (see t32.py)."""
    rng = random.Random("vfp-t32-" + name)
    for trial in range(15):
        insns = random_sequence(rng, 8, [name])
        regs, flags, data = random_state(rng)
        diff = pair.run(t32_bytes(insns), regs, flags, data, random_vfp_state(rng), thumb=True)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


def _campaign(seed, sequences, length):
    pair = VFPPair()
    rng = random.Random(seed)
    total = 0
    for s in range(sequences):
        thumb = rng.random() < 0.25
        if not thumb and rng.random() < 0.4:  # interleave core instructions (A32)
            insns = []
            while len(insns) < length:
                insns += (a32_sequence if rng.random() < 0.2 else random_sequence)(rng, 1)
        else:
            insns = random_sequence(rng, length)
        regs, flags, data = random_state(rng)
        code = t32_bytes(insns) if thumb else code_bytes(insns)
        diff = pair.run(code, regs, flags, data, random_vfp_state(rng), thumb=thumb)
        assert not diff, f"sequence {s} ({'T32' if thumb else 'A32'}): {diff}\n" + \
            " ".join(f"{i:08x}" for i in insns)
        total += len(insns)
    return total


def test_random_sequences():
    assert _campaign(1, 150, 100) >= 15000


@pytest.mark.slow
def test_random_sequences_long():
    assert _campaign(2, 2000, 200) >= 400000
