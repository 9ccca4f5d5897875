"""MIPS32 differential tests against Unicorn, both byte orders: every form with random
operands, and random programs mixing all forms.  See mips_harness.py and gen.py."""
from __future__ import annotations

import random

import pytest

from gen import GENERATORS, NOT_RANDOM, random_program
from mips_harness import CODE_BASE, Pair, random_state

from pysystem.cpu.mips import isa


@pytest.fixture(scope="module", params=[False, True], ids=["el", "eb"])
def pair(request):
    return Pair(big_endian=request.param)


def test_every_form_is_covered():
    names = {f.name for f in isa.FORMS}
    missing = names - set(GENERATORS) - set(NOT_RANDOM)
    assert not missing, f"forms without a generator or a reason: {sorted(missing)}"


def _trials(pair, names, seed, trials, length=12):
    rng = random.Random(seed)
    for trial in range(trials):
        words = random_program(rng, length, CODE_BASE, names)
        regs, hi, lo, data = random_state(rng)
        diff = pair.run(words, regs, hi, lo, data)
        assert not diff, f"{names} trial {trial}: {diff}\n" + " ".join(f"{w:08x}" for w in words)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_form(pair, name):
    _trials(pair, [name], name, 25)


def _campaign(seed, sequences, length, big_endian):
    pair = Pair(big_endian=big_endian)
    rng = random.Random(seed)
    for s in range(sequences):
        words = random_program(rng, length, CODE_BASE)
        regs, hi, lo, data = random_state(rng)
        diff = pair.run(words, regs, hi, lo, data)
        assert not diff, f"sequence {s}: {diff}\n" + " ".join(f"{w:08x}" for w in words)
    return pair.count


@pytest.mark.parametrize("big_endian", [False, True], ids=["el", "eb"])
def test_random_programs(big_endian):
    assert _campaign(1 + big_endian, 400, 300, big_endian) >= 100000


@pytest.mark.slow
@pytest.mark.parametrize("big_endian", [False, True], ids=["el", "eb"])
def test_random_programs_long(big_endian):
    assert _campaign(10 + big_endian, 4000, 300, big_endian) >= 1000000


def test_random_programs_as_generated_for_pypy(monkeypatch):
    """Little-endian programs with RAM accessed through struct, as on PyPy (CPython's
    little-endian blocks index memoryviews instead; big-endian ones always use struct)."""
    from pysystem.cpu.engine import codegen
    monkeypatch.setattr(codegen, "PYPY", True)
    assert _campaign(5, 60, 300, False) >= 12000


@pytest.mark.parametrize("name", ["MULT", "MULTU", "MADD", "MADDU", "MSUB", "MSUBU", "MUL"])
def test_multiplies_as_generated_for_pypy(pair, name, monkeypatch):
    """PyPy's multiplies (unsigned ones from 32x16-bit halves: see trans_alu.mult)."""
    from pysystem.cpu.engine import codegen
    monkeypatch.setattr(codegen, "PYPY", True)
    pair.cpu.flush_code()
    _trials(pair, [name], "pypy" + name, 60)
    pair.cpu.flush_code()
