"""VLD1/VST1 (multiple elements) at addresses that are not word-aligned: in the middle
of a page, where they go as one access at the host offset when the TLB maps the page,
and across a page boundary, where they go element by element.

Against Unicorn (flat memory, SCTLR.A clear): every element size and register count,
each instruction run twice so that the second run finds its pages in the TLB, with the
RAM accesses generated for CPython and for PyPy.  Faults (a transfer running into an
unmapped or read-only page, SCTLR.A) on the small-page MMU layout of test_a32_system:
the Data Abort names the first element's address in the faulting page (ARM ARM
A3.5.6: an unaligned VLD1 is a sequence of element accesses), as QEMU reports it.
"""
from __future__ import annotations

import random

import pytest

from gen_neon import random_neon_state
from gen_vfp import VFPPair
from harness import DATA_BASE, DATA_SIZE, pypy_memory_access  # noqa: F401 (a fixture)
from machine import asm
from test_a32_system import _fault, _split_pages, m  # noqa: F401 (a fixture)

from pysystem.cpu.arm.cpu import SVC

FORMS = [(size, n) for size in (8, 16, 32, 64) for n in (1, 2, 3, 4)]
# (load offset, store offset) from DATA_BASE: both inside one page, and both crossing a
# page boundary for every transfer size (8..32 bytes)
MID_PAGE = (0x1001, 0x2406)
ACROSS = (0x1FFD, 0x2FF9)


@pytest.fixture(scope="module")
def pair():
    return VFPPair()


def _program(size: int, n: int) -> bytes:
    regs = f"{{d1-d{n}}}" if n > 1 else "{d1}"
    regs2 = f"{{d9-d{8 + n}}}" if n > 1 else "{d9}"
    once = f"""
        vld1.{size} {regs}, [r1]
        vst1.{size} {regs}, [r2]
        vld1.{size} {regs2}, [r3]!
        vst1.{size} {regs2}, [r4], r5
    """
    return asm(once + once.replace("r3]!", "r6]").replace("r4]", "r7]"))


def _run(pair, size, n, offsets, seed):
    rng = random.Random(seed)
    load, store = offsets
    regs = [0] * 15
    regs[1], regs[2] = DATA_BASE + load, DATA_BASE + store
    regs[3], regs[4], regs[5] = DATA_BASE + load + 0x800, DATA_BASE + store + 0x801, 0x23
    regs[6], regs[7] = regs[1], regs[2]
    data = bytes(rng.randrange(256) for _ in range(DATA_SIZE))
    return pair.run(_program(size, n), regs, 0, data, random_neon_state(rng))


@pytest.mark.parametrize("offsets", [MID_PAGE, ACROSS], ids=["mid-page", "across-pages"])
@pytest.mark.parametrize("size,n", FORMS)
def test_unaligned_vld1_vst1(pair, size, n, offsets):
    diff = _run(pair, size, n, offsets, f"{size}-{n}-{offsets}")
    assert not diff, diff


@pytest.mark.parametrize("offsets", [MID_PAGE, ACROSS], ids=["mid-page", "across-pages"])
@pytest.mark.parametrize("size,n", [(8, 4), (16, 3), (32, 2), (64, 1)])
def test_unaligned_vld1_vst1_as_generated_for_pypy(pair, size, n, offsets, pypy_memory_access):
    diff = _run(pair, size, n, offsets, f"pypy-{size}-{n}-{offsets}")
    assert not diff, diff


# --- faults (MMU on): page 0 RW, 1 RW, 2 privileged read-only, 3 a translation fault -----

def _neon_on(m):
    m.cpu.cp15.cpacr = 0x00F00000
    m.cpu.fpexc = 0x40000000


def _twice(m, first: str, then: str, vector: int = 0x10):
    """Run ``first`` (fills the TLB with the pages), then ``then`` to ``vector``."""
    end = m.load(0x1000, first)
    m.cpu.regs[15] = 0x1000
    m.run_to(end)
    _fault(m, then, vector)


def test_vld1_into_an_unmapped_page_faults_at_its_first_byte(m):
    _split_pages(m)
    _neon_on(m)
    cpu = m.cpu
    cpu.vfp_d[0:4] = [1, 2, 3, 4]
    setup = "mov r1, #0x30000000\n add r1, r1, #0x2f00\n add r1, r1, #0xe3\n"
    _twice(m, setup + "sub r2, r1, #0x80\n vld1.8 {d4-d7}, [r2]", setup + "vld1.8 {d0-d3}, [r1]!")
    assert cpu.cp15.dfsr == 0x007 and cpu.cp15.dfar == 0x30003000  # translation, page
    assert cpu.regs[14] == 0x100C + 8
    assert cpu.vfp_d[0:4] == [1, 2, 3, 4] and cpu.regs[1] == 0x30002FE3  # nothing loaded, no writeback


def test_vst1_into_a_read_only_page_writes_the_first_page(m):
    _split_pages(m)
    _neon_on(m)
    cpu = m.cpu
    cpu.vfp_d[0:2] = [0x0706050403020100, 0x0F0E0D0C0B0A0908]
    setup = "mov r1, #0x30000000\n add r1, r1, #0x1f00\n add r1, r1, #0xfa\n"
    _twice(m, setup + "vld1.8 {d4-d5}, [r1]", setup + "vst1.16 {d0-d1}, [r1]")
    assert cpu.cp15.dfsr == 0x80F and cpu.cp15.dfar == 0x30002000  # permission, page, WnR
    assert cpu.regs[14] == 0x100C + 8
    assert m.space.read_bytes(0x6FFA, 6) == bytes(range(6))        # the elements before it
    assert m.read_word(0x7000) == 0                                 # none after it


def test_vld1_16_at_an_odd_address_faults_when_sctlr_a(m):
    _split_pages(m)
    _neon_on(m)
    cpu = m.cpu
    setup = "mov r1, #0x30000000\n add r1, r1, #0x100\n add r1, r1, #1\n"
    end = m.load(0x1000, setup + "vld1.16 {d0-d1}, [r1]\n vld1.8 {d2-d3}, [r1]\n")
    cpu.regs[15] = 0x1000
    m.run_to(end)  # SCTLR.A clear: no fault, the TLB holds the page
    assert cpu.mode == SVC
    cpu.cp15.sctlr |= 2
    _fault(m, setup + "vld1.8 {d2-d3}, [r1]\n vld1.16 {d0-d1}, [r1]")
    assert cpu.cp15.dfsr == 0x001 and cpu.cp15.dfar == 0x30000101 and cpu.regs[14] == 0x1010 + 8
