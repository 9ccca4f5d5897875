"""A32 differential tests against Unicorn: every form with random operands, and random
sequences mixing all forms.  See harness.py and gen_a32.py."""
from __future__ import annotations

import random
import struct

import pytest

from harness import Pair, pypy_memory_access, random_state  # noqa: F401 (a fixture)
from gen_a32 import GENERATORS, NOT_RANDOM, random_program, random_sequence
from harness import CODE_BASE

from pysystem.cpu.arm import a32, trans_dp
from pysystem.cpu.engine import codegen


def _code(insns):
    return b"".join(struct.pack("<I", i) for i in insns)


@pytest.fixture(scope="module")
def pair():
    return Pair()


def test_every_form_is_covered():
    names = {f.name for f in a32.FORMS + a32.UNCOND_FORMS}
    missing = names - set(GENERATORS) - set(NOT_RANDOM) - {"PLI_imm", "PLD_reg", "PLI_reg"}
    assert not missing, f"forms without a generator or a reason: {sorted(missing)}"


def _trials(pair, name, seed, trials):
    """Random sequences of one form from random states, against Unicorn."""
    rng = random.Random(seed)
    for trial in range(trials):
        insns = random_sequence(rng, 12, [name])
        regs, flags, data = random_state(rng)
        diff = pair.run(_code(insns), regs, flags, data)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_form(pair, name):
    _trials(pair, name, name, 25)


@pytest.mark.parametrize("name", ["MUL", "MLS", "MULL", "UMAAL"])
def test_multiplies_as_generated_for_pypy(pair, name, monkeypatch):
    """PyPy gets multiplies built from 32x16-bit halves (see trans_dp); check that code here."""
    monkeypatch.setattr(trans_dp, "PYPY", True)
    _trials(pair, name, "pypy" + name, 100)


@pytest.mark.parametrize("name", ["LDST_imm", "LDST_reg", "LDRH_imm", "LDRH_reg", "LDRD_imm",
                                  "LDM", "SWP", "STREX"])
def test_loads_and_stores_as_generated_for_pypy(pair, name, pypy_memory_access):
    _trials(pair, name, "pypy-mem" + name, 60)


def _campaign(seed, sequences, length, mmu=False):
    """Random programs (with forward branches), alternately in SVC and User mode;
    returns the number of instructions executed."""
    pair = Pair()
    if mmu:
        assert not pair.enable_mmu()
        assert pair.cpu.cp15.sctlr & 1
    rng = random.Random(seed)
    for s in range(sequences):
        insns = random_program(rng, length, CODE_BASE)
        regs, flags, data = random_state(rng)
        mode = 0x10 if s % 2 else 0x13
        diff = pair.run(_code(insns), regs, flags, data, mode=mode)
        assert not diff, f"sequence {s} (mode {mode:#x}): {diff}\n" + " ".join(f"{i:08x}" for i in insns)
    return pair.count


def test_random_sequences():
    assert _campaign(1, 500, 300) >= 100000


def test_random_sequences_with_mmu_on():
    assert _campaign(3, 60, 300, mmu=True) >= 12000


def test_random_sequences_as_generated_for_pypy(monkeypatch):
    """Mixed programs in the form PyPy's blocks take (struct loads and stores, split
    multiplies), where helper names like ``s8`` share the namespace of temporaries."""
    monkeypatch.setattr(trans_dp, "PYPY", True)
    monkeypatch.setattr(codegen, "PYPY", True)
    assert _campaign(4, 60, 300, mmu=True) >= 12000


@pytest.mark.slow
def test_random_sequences_long():
    assert _campaign(2, 4000, 300) >= 800000
