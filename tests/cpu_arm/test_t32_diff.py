"""T32 (Thumb/Thumb-2) differential tests against Unicorn: every form with random
operands, and random sequences with IT blocks.  See harness.py and gen_t32.py
(its ``UNPREDICTABLE`` lists the encodings that are not generated)."""
from __future__ import annotations

import random

import pytest

from harness import Pair, pypy_memory_access, random_state  # noqa: F401 (a fixture)
from gen_t32 import GENERATORS, NOT_RANDOM, count_insns, random_sequence, to_bytes

from pysystem.cpu.arm import t32, trans_dp

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


def _trials(pair, name, seed, trials):
    """Random sequences of one form, the second half inside IT blocks, against Unicorn."""
    rng = random.Random(seed)
    for trial in range(trials):
        hws = random_sequence(rng, 12, [name], it_rate=0.0 if trial < trials // 2 else 0.3)
        diff = _run(pair, hws, rng)
        assert not diff, f"{name} trial {trial}: {diff}\n" + " ".join(f"{h:04x}" for h in hws)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_form(pair, name):
    _trials(pair, name, "t32" + name, 24)


@pytest.mark.parametrize("name", ["MUL16", "MUL_t", "MLS_t", "MULL_t", "MLAL_t", "UMAAL_t"])
def test_multiplies_as_generated_for_pypy(pair, name, monkeypatch):
    """PyPy gets multiplies built from 32x16-bit halves (see trans_dp); check that code here."""
    monkeypatch.setattr(trans_dp, "PYPY", True)
    _trials(pair, name, "pypy-t32" + name, 60)


@pytest.mark.parametrize("name", ["LDST_imm8", "LDST_imm12", "LDSTH_imm16", "LDST_reg16",
                                  "LDST_sp16", "LDM16", "STREX_t", "STREXBH_t"])
def test_loads_and_stores_as_generated_for_pypy(pair, name, pypy_memory_access):
    _trials(pair, name, "pypy-t32-mem" + name, 60)


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


LOOP_PROGRAM = """
    movw r5, #0x0000
    movt r5, #0x8
    movs r4, #0
outer:
    movs r6, #23
inner:
    ldr.w r0, [r5, r6, lsl #2]
    cmp r0, r7
    ite lt
    addlt r1, r1, r0
    subge.w r1, r1, #3
    and r2, r6, #3
    tbb [pc, r2]
    .byte 2, 6, 10, 14
    add.w r3, r3, #1
    b.w next
    eor.w r3, r3, r1, lsl #2
    b.w next
    orr.w r3, r3, #0x100
    b.w next
    sub.w r3, r3, r0, asr #1
    b.w next
next:
    cmp r3, r1
    itt hi
    strhi r3, [r5, #4]
    movhi r3, #0
    cbz r3, skip2
    adds r3, #1
skip2:
    subs r6, #1
    bne inner
    push {r4, lr}
    bl func
    pop {r4, lr}
    adds r4, #1
    cmp r4, #9
    blt outer
    b done
func:
    cbz r4, skip
    ubfx r7, r4, #3, #5
    add.w r7, r7, r4, lsr #1
skip:
    bx lr
done:
    mov.w r8, #50
tight:
    adds r9, r9, r8
    eor.w r10, r10, r9, ror #3
    cmp r8, #20
    ite gt
    addgt r11, #1
    suble.w r11, r11, r10
    subs r8, #1
    bne tight
    nop
"""


def test_loop_program(pair):
    """Loops (a block branching to its own start), side exits, TBB and IT blocks in
    loops, a call: the whole run compared with Unicorn."""
    from machine import asm
    from harness import CODE_BASE, DATA_BASE
    code = asm(LOOP_PROGRAM, CODE_BASE, thumb=True)
    rng = random.Random(5)
    for trial in range(4):
        regs, flags, data = random_state(rng)
        regs[13] = DATA_BASE + 0x9000
        diff = pair.run(code, regs, flags, data, thumb=True, ninsns=200000)
        assert not diff, f"trial {trial}: {diff}"
