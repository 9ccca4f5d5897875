"""Differential testing of ``MIPSCPU`` against Unicorn (whose MIPS32 core is QEMU's).

``Pair(big_endian)`` holds one 24Kf ``MIPSCPU`` on a real ``pysystem.memory`` map and
one Unicorn MIPS32 24Kf with the same map, both in the reset state (kernel mode,
Status.ERL: kuseg is unmapped, so virtual = physical):

    CODE_BASE  0x10000   the code under test
    DATA_BASE  0x80000   DATA_SIZE bytes of data, randomised per run

``pair.run(code, regs, hi, lo, data)`` loads the same state into both, runs ``code``
to its end in both, and returns a list of mismatch descriptions (empty when they
agree): r1-r31, HI, LO and the data region.  When Unicorn reports an exception
(its interrupt hook), the run stops there and our CPU must have taken the same one
(Cause.ExcCode) with the same registers.
"""
from __future__ import annotations

import random
import struct
from typing import List, Optional, Sequence

from unicorn import UC_ARCH_MIPS, UC_HOOK_INTR, UC_MODE_BIG_ENDIAN, UC_MODE_LITTLE_ENDIAN, \
    UC_MODE_MIPS32, Uc, UcError
from unicorn import mips_const as M

from pysystem.clock import VirtualClock
from pysystem.cpu.mips import CPU_TYPES, MIPSCPU
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

MIPSCPU.raise_internal_errors = True  # translator bugs must fail the tests

RAM_SIZE = 0x100000
CODE_BASE = 0x10000
DATA_BASE = 0x80000
DATA_SIZE = 0x10000
UC_STATUS = 0x20400004  # what Unicorn's 24Kf starts with: CU1, BEV, ERL

UC_GPR = [getattr(M, f"UC_MIPS_REG_{i}") for i in range(32)]

# QEMU's EXCP_* numbers (Unicorn's interrupt hook) -> Cause.ExcCode
QEMU_EXCP = {12: 4, 13: 5, 17: 8, 18: 9, 19: 11, 20: 10, 21: 12, 22: 13, 23: 15, 26: 2, 27: 3,
             28: 7, 16: None}

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
    def __init__(self, big_endian: bool = False, model: str = "24Kf"):
        self.be = big_endian
        root = ContainerRegion(None, "system", 1 << 32)
        self.ram = RAMRegion(None, "ram", RAM_SIZE)
        root.add_subregion(0, self.ram)
        self.vectors = RAMRegion(None, "vectors", 0x1000)
        root.add_subregion(0x1FC00000, self.vectors)
        self.be = big_endian
        self.space = AddressSpace("cpu-memory", root, big_endian=big_endian)
        for vector in (0x200, 0x380, 0x400, 0x480):  # our CPU halts (WAIT) at a vector
            self.space.write_bytes(0x1FC00000 + vector, self.word(0x42000020))
        self.cpu = CPU_TYPES[model](endianness="big" if big_endian else "little")
        self.cpu.address_space = self.space
        self.cpu.clock = VirtualClock()
        self.cpu.realize()
        self.cpu.reset()
        mode = UC_MODE_MIPS32 | (UC_MODE_BIG_ENDIAN if big_endian else UC_MODE_LITTLE_ENDIAN)
        self.uc = Uc(UC_ARCH_MIPS, mode)
        self.uc.ctl_set_cpu_model(getattr(M, f"UC_CPU_MIPS32_{model.upper()}"))
        self.uc.mem_map(0, RAM_SIZE)
        self.uc.hook_add(UC_HOOK_INTR, self._uc_intr)
        self.uc_excp: Optional[int] = None
        self.count = 0
        self._last_len = 0

    def _uc_intr(self, uc, intno, user_data) -> None:
        if self.uc_excp is None:
            self.uc_excp = intno
        uc.emu_stop()

    def word(self, w: int) -> bytes:
        return struct.pack(">I" if self.be else "<I", w)

    def run(self, words: Sequence[int], regs: Sequence[int], hi: int, lo: int, data: bytes,
            ninsns: Optional[int] = None) -> List[str]:
        code = b"".join(self.word(w) for w in words)
        end = CODE_BASE + len(code)
        # ours stops at `end` too: a jump to itself there ends the last block
        blob = code + self.word(0x08000000 | ((end >> 2) & 0x3FFFFFF)) + self.word(0)
        uc = self.uc
        uc.mem_write(CODE_BASE, blob)
        uc.ctl_remove_cache(CODE_BASE, CODE_BASE + max(len(blob), self._last_len))
        self._last_len = len(blob)
        uc.mem_write(DATA_BASE, bytes(data))
        uc.reg_write(M.UC_MIPS_REG_CP0_STATUS, UC_STATUS)
        for i in range(1, 32):
            uc.reg_write(UC_GPR[i], regs[i])
        uc.reg_write(M.UC_MIPS_REG_HI, hi)
        uc.reg_write(M.UC_MIPS_REG_LO, lo)
        self.uc_excp = None
        try:
            uc.emu_start(CODE_BASE, end, count=ninsns or 0)
        except UcError as e:
            if self.uc_excp is None:
                return [f"unicorn: {e}"]

        # ours
        cpu = self.cpu
        self.space.write_bytes(CODE_BASE, blob)
        self.space.write_bytes(DATA_BASE, bytes(data))
        cpu.cp0.status = UC_STATUS
        cpu.cp0_status_written(0)
        for i in range(32):
            cpu.regs[i] = regs[i] if i else 0
        cpu.regs[32], cpu.regs[33] = hi, lo
        cpu.pc = CODE_BASE
        cpu.halted = False
        budget = ninsns if ninsns else 4 * len(words)
        n = guard = 0
        while cpu.pc != end and guard < 64 and n < budget and not cpu.cp0.status & 2:
            n += cpu.run(max(1, budget - n))
            guard += 1
        self.count += n
        out = []
        if self.uc_excp is not None:
            want = QEMU_EXCP.get(self.uc_excp, -1)
            got = (cpu.cp0.cause >> 2) & 0x1F if cpu.cp0.status & 2 else None
            if want is None:  # SDBBP: debug mode
                if not cpu.cp0.debug & (1 << 30):
                    out.append("unicorn entered debug mode, pysystem did not")
            elif got != want:
                out.append(f"exception: unicorn {self.uc_excp} (ExcCode {want}), pysystem {got}")
            cpu.cp0.status &= ~2
            cpu.cp0.debug &= ~(1 << 30)
        else:
            if cpu.cp0.status & 2:
                out.append(f"pysystem took exception {(cpu.cp0.cause >> 2) & 0x1F} at "
                           f"0x{cpu.cp0.epc:x}, unicorn none")
                cpu.cp0.status &= ~2
            elif cpu.pc != end:
                out.append(f"pysystem stopped at 0x{cpu.pc:x}, not 0x{end:x}")
            # (Unicorn's PC reads stale after a run that ended in an exception: not compared)
        for i in range(1, 32):
            u = uc.reg_read(UC_GPR[i]) & 0xFFFFFFFF
            if u != cpu.regs[i]:
                out.append(f"r{i}: unicorn 0x{u:08x} pysystem 0x{cpu.regs[i]:08x}")
        for name, n in (("hi", 32), ("lo", 33)):
            u = uc.reg_read(getattr(M, f"UC_MIPS_REG_{name.upper()}")) & 0xFFFFFFFF
            if u != cpu.regs[n]:
                out.append(f"{name}: unicorn 0x{u:08x} pysystem 0x{cpu.regs[n]:08x}")
        udata = bytes(uc.mem_read(DATA_BASE, DATA_SIZE))
        pdata = self.space.read_bytes(DATA_BASE, DATA_SIZE)
        if udata != pdata:
            diffs = [i for i in range(DATA_SIZE) if udata[i] != pdata[i]]
            out.append(f"memory differs at {len(diffs)} bytes, first at 0x{DATA_BASE + diffs[0]:x}: "
                       f"unicorn {udata[diffs[0]]:02x} pysystem {pdata[diffs[0]]:02x}")
        return out


def random_state(rng: random.Random):
    regs = [0] + [rand_value(rng) for _ in range(31)]
    data = bytes(rng.getrandbits(8) for _ in range(256)) * (DATA_SIZE // 256)
    return regs, rand_value(rng), rand_value(rng), data
