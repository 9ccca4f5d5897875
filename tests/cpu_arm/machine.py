"""A small bare-metal machine for directed ARMCPU tests: 1 MiB of RAM at 0, a
second RAM at 0x40000000 and nothing else (every other address is a bus error).

``m = Machine(); m.load(0x1000, "mov r0, #1 ...")`` assembles with keystone;
``m.run_to(addr)`` runs until the PC reaches ``addr``.
"""
from __future__ import annotations

import struct

import keystone

from pysystem.clock import VirtualClock
from pysystem.cpu.arm import ARMCPU

ARMCPU.raise_internal_errors = True  # translator bugs must fail the tests
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

_KS = {}


def asm(src: str, addr: int = 0, thumb: bool = False) -> bytes:
    mode = keystone.KS_MODE_THUMB if thumb else keystone.KS_MODE_ARM
    if mode not in _KS:
        _KS[mode] = keystone.Ks(keystone.KS_ARCH_ARM, mode)
    code, _ = _KS[mode].asm(src, addr)
    return bytes(code)


class Machine:
    def __init__(self):
        root = ContainerRegion(None, "system", 1 << 32)
        self.ram = RAMRegion(None, "ram", 1 << 20)
        root.add_subregion(0, self.ram)
        self.ram2 = RAMRegion(None, "ram2", 1 << 16)
        root.add_subregion(0x40000000, self.ram2)
        self.space = AddressSpace("cpu-memory", root)
        self.cpu = ARMCPU()
        self.cpu.address_space = self.space
        self.cpu.clock = VirtualClock()
        self.cpu.realize()
        self.cpu.reset()

    def load(self, addr: int, src: str, thumb: bool = False) -> int:
        code = asm(src, addr, thumb)
        self.space.write_bytes(addr, code)
        return addr + len(code)

    def word(self, addr: int, value: int) -> None:
        self.space.write_bytes(addr, struct.pack("<I", value))

    def read_word(self, addr: int) -> int:
        return struct.unpack("<I", self.space.read_bytes(addr, 4))[0]

    def run_to(self, addr: int, limit: int = 10000) -> int:
        n = 0
        while self.cpu.regs[15] != addr and n < limit:
            got = self.cpu.single_step()
            if got == 0 and self.cpu.halted:
                break
            n += max(got, 1)
        assert self.cpu.regs[15] == addr, f"stopped at 0x{self.cpu.regs[15]:x} (mode {self.cpu.mode:#x})"
        return n

    def identity_sections(self, table: int = 0x8000, ap: int = 3, domain: int = 0) -> None:
        """Map every 1 MiB section to itself (AP, domain), TTBR0 = table."""
        for i in range(4096):
            self.word(table + 4 * i, (i << 20) | ((ap & 3) << 10) | ((ap >> 2) << 15) | (domain << 5) | 2)
        self.cpu.cp15.ttbr0 = table
