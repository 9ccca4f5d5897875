"""Differential testing of ``ARMCPU`` against Unicorn (whose CPU is QEMU's).

``Pair()`` holds one ARMCPU on a real ``pysystem.memory`` map and one Unicorn
Cortex-A9 with the same map (1 MiB of RAM at 0):

    CODE_BASE  0x10000   the code under test, followed by ``b .``
    DATA_BASE  0x80000   DATA_SIZE bytes of data, randomised per run

``pair.run(code, regs, cpsr_flags, data, thumb=False, mode=0x13)`` loads the
same state into both (in SVC or another mode), runs ``code`` (forward branches
only, ending at its last instruction; exceptions are not expected) in both, and returns a list of mismatch descriptions (empty when they
agree): r0-r14, the CPSR's NZCVQ and GE bits, and the data region.

Generating instructions for a form: see gen_a32.py (``A32Gen``): each form has a
generator producing the instruction and a prologue that sets up base registers,
so random sequences never touch memory outside the data region.  The T32 and VFP
helpers reuse ``Pair`` (``thumb=True``; VFP registers via ``vfp=True``).
"""
from __future__ import annotations

import random
import struct
from typing import List, Optional, Sequence

import pytest
from unicorn import UC_ARCH_ARM, UC_MODE_ARM, Uc
from unicorn import arm_const as A

from pysystem.clock import VirtualClock
from pysystem.cpu.arm import ARMCPU

ARMCPU.raise_internal_errors = True  # translator bugs must fail the tests
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

RAM_SIZE = 0x100000
CODE_BASE = 0x10000
DATA_BASE = 0x80000
DATA_SIZE = 0x10000
CPSR_CMP_MASK = 0xF80F0000  # N Z C V Q and GE[3:0]

UC_REGS = [getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)] + [A.UC_ARM_REG_SP, A.UC_ARM_REG_LR]

INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF]


def rand_value(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.25:
        return rng.choice(INTERESTING)
    if r < 0.35:
        return rng.randrange(0, 64)
    return rng.getrandbits(32)


class Pair:
    def __init__(self):
        root = ContainerRegion(None, "system", 1 << 32)
        self.ram = RAMRegion(None, "ram", RAM_SIZE)
        root.add_subregion(0, self.ram)
        self.space = AddressSpace("cpu-memory", root)
        self.cpu = ARMCPU()
        self.cpu.address_space = self.space
        self.cpu.clock = VirtualClock()
        self.cpu.realize()
        self.cpu.reset()
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_A9)
        self.uc.mem_map(0, RAM_SIZE)
        self.count = 0
        self._last_len = 0

    def run(self, code: bytes, regs: Sequence[int], flags: int, data: bytes,
            thumb: bool = False, ninsns: Optional[int] = None, mode: int = 0x13) -> List[str]:
        end = CODE_BASE + len(code)
        tail = (b"\xfe\xe7" * 2) if thumb else struct.pack("<I", 0xEAFFFFFE)  # b .
        blob = bytes(code) + tail
        cpsr = (flags & CPSR_CMP_MASK) | 0x1C0 | mode | (0x20 if thumb else 0)
        # Unicorn
        uc = self.uc
        uc.mem_write(CODE_BASE, blob)
        uc.ctl_remove_cache(CODE_BASE, CODE_BASE + max(len(blob), self._last_len))  # mem_write keeps stale TBs
        self._last_len = len(blob)
        uc.mem_write(DATA_BASE, bytes(data))
        uc.reg_write(A.UC_ARM_REG_CPSR, cpsr)
        for i, r in enumerate(UC_REGS):
            uc.reg_write(r, regs[i])
        uc.emu_start(CODE_BASE | (1 if thumb else 0), end, count=ninsns or 0)
        # ours
        cpu = self.cpu
        self.space.write_bytes(CODE_BASE, blob)
        self.space.write_bytes(DATA_BASE, bytes(data))
        cpu.write_cpsr(cpsr, 0xFFFFFFFF)
        for i in range(15):
            cpu.regs[i] = regs[i]
        cpu.regs[15] = CODE_BASE
        budget = ninsns if ninsns else len(code) // (2 if thumb else 4)
        n = 0
        guard = 0
        while cpu.regs[15] != end and guard < 64:
            n += cpu.run(max(1, budget - n))
            guard += 1
        self.count += n
        out = []
        upc = uc.reg_read(A.UC_ARM_REG_PC)
        if upc != end:
            out.append(f"unicorn stopped at 0x{upc:x}, not 0x{end:x}")
        if cpu.regs[15] != end:
            out.append(f"pysystem stopped at 0x{cpu.regs[15]:x}, not 0x{end:x}")
        for i, r in enumerate(UC_REGS):
            u = uc.reg_read(r)
            if u != cpu.regs[i]:
                out.append(f"r{i}: unicorn 0x{u:08x} pysystem 0x{cpu.regs[i]:08x}")
        ucpsr = uc.reg_read(A.UC_ARM_REG_CPSR)
        if (ucpsr ^ cpu.cpsr) & CPSR_CMP_MASK:
            out.append(f"cpsr: unicorn 0x{ucpsr:08x} pysystem 0x{cpu.cpsr:08x}")
        udata = bytes(uc.mem_read(DATA_BASE, DATA_SIZE))
        pdata = self.space.read_bytes(DATA_BASE, DATA_SIZE)
        if udata != pdata:
            diffs = [i for i in range(DATA_SIZE) if udata[i] != pdata[i]]
            out.append(f"memory differs at {len(diffs)} bytes, first at 0x{DATA_BASE + diffs[0]:x}: "
                       f"unicorn {udata[diffs[0]]:02x} pysystem {pdata[diffs[0]]:02x}")
        return out


    def enable_mmu(self) -> List[str]:
        """Turn the MMU on in both (identity-mapped first MiB, AP=3, client domain 0),
        by running the same MCRs in both; returns mismatches like ``run``."""
        table = 0xC0000
        entry = struct.pack("<I", 0x00000C02)
        self.uc.mem_write(table, entry)
        self.space.write_bytes(table, entry)
        words = [0xE3000000, 0xE340000C,  # movw/movt r0, #0xc0000
                 0xEE020F10,              # mcr p15, 0, r0, c2, c0, 0   TTBR0
                 0xE3A00001,              # mov r0, #1
                 0xEE030F10,              # mcr p15, 0, r0, c3, c0, 0   DACR
                 0xEE110F10,              # mrc p15, 0, r0, c1, c0, 0
                 0xE3800001,              # orr r0, r0, #1
                 0xEE010F10,              # mcr p15, 0, r0, c1, c0, 0   SCTLR.M
                 0xF57FF06F]              # isb
        code = b"".join(struct.pack("<I", w) for w in words)
        return self.run(code, [0] * 15, 0, bytes(DATA_SIZE))


def random_state(rng: random.Random):
    regs = [rand_value(rng) for _ in range(15)]
    flags = rng.getrandbits(32) & CPSR_CMP_MASK
    data = bytes(rng.getrandbits(8) for _ in range(256)) * (DATA_SIZE // 256)
    return regs, flags, data


@pytest.fixture
def pypy_memory_access(pair, monkeypatch):
    """Generate RAM accesses as on PyPy (struct on the mapping: see codegen.Ctx._fast_ref),
    in blocks translated afresh, and drop them afterwards."""
    from pysystem.cpu.engine import codegen
    monkeypatch.setattr(codegen, "PYPY", True)
    pair.cpu.flush_code()
    yield
    pair.cpu.flush_code()
