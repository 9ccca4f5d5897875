"""Big-endian data (SETEND BE) in the engine's fast paths, against Unicorn.

Blocks translated with CPSR.E set read and write RAM through big-endian struct readers
and writers inline (single accesses, LDM/STM/LDRD/STRD as one access, STREX's fast path)
instead of the slow path; every memory form runs between SETEND BE and SETEND LE in
both code forms (CPython's and PyPy's)."""
from __future__ import annotations

import random
import struct

import pytest

from harness import Pair, pypy_memory_access, random_state  # noqa: F401 (a fixture)
from gen_a32 import random_sequence

SETEND_BE, SETEND_LE = 0xF1010200, 0xF1010000
FORMS = ["LDST_imm", "LDST_reg", "LDRH_imm", "LDRH_reg", "LDRD_imm", "LDM", "SWP", "STREX"]


@pytest.fixture(scope="module")
def pair():
    return Pair()


def _trials(pair, name, seed, trials=40):
    rng = random.Random(seed)
    for trial in range(trials):
        insns = [SETEND_BE] + random_sequence(rng, 12, [name]) + [SETEND_LE]
        regs, flags, data = random_state(rng)
        code = b"".join(struct.pack("<I", i) for i in insns)
        diff = pair.run(code, regs, flags, data)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{i:08x}" for i in insns)


def test_big_endian_blocks_take_the_fast_path(pair):
    """The block between the SETENDs binds big-endian accessors, not only slow paths."""
    _trials(pair, "LDM", "be-fast", 3)
    names = set(pair.cpu._tb_globals)
    assert any(n.startswith(("u32x", "p32x")) and n.endswith("be") for n in names), sorted(names)


@pytest.mark.parametrize("name", FORMS)
def test_big_endian_form(pair, name):
    _trials(pair, name, "be" + name)


@pytest.mark.parametrize("name", FORMS)
def test_big_endian_form_as_generated_for_pypy(pair, name, pypy_memory_access):
    _trials(pair, name, "be-pypy" + name)
