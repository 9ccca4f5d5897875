"""Random words as A32 and T32 code: whatever they decode to, the translator must
produce valid code and ``run()`` must come back (UNDEF, aborts and mode changes
are all fine; a Python exception from the translator is not)."""
from __future__ import annotations

import random
import struct

import pytest

from machine import Machine

from pysystem.cpu.arm.cpu import ARMCPU


@pytest.mark.parametrize("thumb", [0, 1])
def test_random_words_never_break_the_translator(thumb):
    assert ARMCPU.raise_internal_errors
    rng = random.Random(7 + thumb)
    m = Machine()
    cpu = m.cpu
    vectors = struct.pack("<8I", *([0xEAFFFFFE] * 8))  # b . at every vector
    for trial in range(1500):
        words = [rng.getrandbits(32) for _ in range(16)]
        m.space.write_bytes(0, vectors)
        m.space.write_bytes(0x1000, struct.pack("<16I", *words))
        cpu.write_cpsr((0x1D0 if trial % 3 else 0x1D3) | (0x20 * thumb), 0xFFFFFFFF)  # User or SVC
        for i in range(13):
            cpu.regs[i] = 0x2000 + 4 * rng.randrange(256)
        cpu.regs[13] = 0x8000
        cpu.regs[15] = 0x1000
        cpu.cp15.sctlr = 0x00C50078
        cpu.tlb_flush_all()
        cpu.run(64)
        assert cpu.mode in (0x10, 0x11, 0x12, 0x13, 0x16, 0x17, 0x1B, 0x1F)
