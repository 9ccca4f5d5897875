"""A small bare-metal machine for directed MIPSCPU tests: 1 MiB of RAM at physical 0
(kseg0 0x80000000, kseg1 0xa0000000) and 64 KiB at the boot vector's 0x1fc00000;
every other address is a bus error.

``m = Machine(big_endian)``; ``m.load(0x80001000, "li $2, 1 ...")`` assembles with
Debian's binutils (``mips-linux-gnu-as``/``mipsel-linux-gnu-as``, ``-march=mips32r2``,
``.set noreorder``: delay slots are written out) and links at that address;
``m.run_to(addr)`` runs until the PC reaches ``addr``.  Load at 16-byte aligned addresses
(the assembler aligns .text to 16; its padding makes ``load``'s end a little past the code).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile

import pytest

from pysystem.clock import VirtualClock
from pysystem.cpu.mips import CPU_TYPES, MIPSCPU
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

MIPSCPU.raise_internal_errors = True


def _tool(be: bool, name: str) -> str:
    path = shutil.which(f"{'mips' if be else 'mipsel'}-linux-gnu-{name}")
    if path is None:
        msg = f"{'mips' if be else 'mipsel'}-linux-gnu-{name} (binutils) is not installed"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def asm(src: str, addr: int, be: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        s, o, e, b = (os.path.join(d, n) for n in ("t.S", "t.o", "t.elf", "t.bin"))
        with open(s, "w") as f:
            f.write(".set noreorder\n.set noat\n.set mips32r2\n.text\n" + src + "\n")
        for cmd in ([_tool(be, "as"), "-march=mips32r2", "-mno-shared", "-EB" if be else "-EL",
                     "-o", o, s],
                    [_tool(be, "ld"), "-EB" if be else "-EL", "-Ttext", hex(addr), "-e", hex(addr),
                     "-o", e, o],
                    [_tool(be, "objcopy"), "-O", "binary", "-j", ".text", e, b]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise AssertionError(f"{os.path.basename(cmd[0])}: {r.stderr}")
        with open(b, "rb") as f:
            return f.read()


class Machine:
    def __init__(self, big_endian: bool = False, model: str = "24Kf"):
        self.be = big_endian
        root = self._root = ContainerRegion(None, "system", 1 << 32)
        self.ram = RAMRegion(None, "ram", 1 << 20)
        root.add_subregion(0, self.ram)
        self.rom = RAMRegion(None, "boot", 1 << 16)
        root.add_subregion(0x1FC00000, self.rom)
        self.space = AddressSpace("cpu-memory", root, big_endian=big_endian)
        self.cpu = CPU_TYPES[model](endianness="big" if big_endian else "little")
        self.cpu.address_space = self.space
        self.cpu.clock = VirtualClock()
        self.cpu.realize()
        self.cpu.reset()

    @staticmethod
    def phys(va: int) -> int:
        return va & 0x1FFFFFFF

    def load(self, va: int, src: str) -> int:
        code = asm(src, va, self.be)
        self.space.write_bytes(self.phys(va), code)
        return va + len(code)

    def word(self, va: int, value: int) -> None:
        self.space.write_bytes(self.phys(va), struct.pack(">I" if self.be else "<I", value))

    def read_word(self, va: int) -> int:
        return struct.unpack(">I" if self.be else "<I", self.space.read_bytes(self.phys(va), 4))[0]

    def run_to(self, addr: int, limit: int = 100000) -> int:
        n = 0
        cpu = self.cpu
        while cpu.pc != addr and n < limit:
            got = cpu.run(min(64, limit - n))
            cpu.clock.run_timers()
            if got == 0:
                if cpu.halted and not cpu.clock.warp_to_next_deadline():
                    break
                cpu.clock.run_timers()
            n += max(got, 1)
        assert cpu.pc == addr, f"stopped at 0x{cpu.pc:08x} (Cause 0x{cpu.cp0.cause:08x} " \
                               f"EPC 0x{cpu.cp0.epc:08x} Status 0x{cpu.cp0.status:08x})"
        return n


class BareMetal(Machine):
    """``Machine`` with 64 MiB of RAM and the two Malta FPGA registers a bare-metal
    program needs: the CBUS UART's transmit and line-status registers (0x1f000900,
    register shift 3; what it sends collects in ``output``) and SOFTRES (0x1f000500:
    writing 0x42 stops the run, as QEMU's ``-no-reboot`` does)."""

    def __init__(self, big_endian: bool = False, model: str = "24Kf"):
        from pysystem.memory import IORegion
        self.output = bytearray()
        self.stopped = False
        super().__init__(big_endian, model)
        fpga = IORegion(None, "fpga", 0x1000, self._read, self._write, endianness="native")
        self._root.add_subregion(0x1F000000, fpga)
        big = RAMRegion(None, "ram-hi", (64 << 20) - (1 << 20))
        self._root.add_subregion(1 << 20, big)

    def _read(self, offset: int, size: int) -> int:
        return 0x60 if offset == 0x928 else 0

    def _write(self, offset: int, value: int, size: int) -> None:
        if offset == 0x900:
            self.output.append(value & 0xFF)
        elif offset == 0x500 and value & 0xFF == 0x42:
            self.stopped = True
            self.cpu.exit_request = True

    def load_elf(self, path: str) -> int:
        from elftools.elf.elffile import ELFFile
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD":
                    data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
                    self.space.write_bytes(seg["p_paddr"] & 0x1FFFFFFF, data)
            return elf.header["e_entry"]

    def run_until_stopped(self, limit: int = 50_000_000) -> int:
        cpu, clock = self.cpu, self.cpu.clock
        n = 0
        while not self.stopped and n < limit:
            got = cpu.run(min(100000, clock.insns_until_deadline(100000)))
            clock.run_timers()
            if got == 0 and cpu.halted and not clock.warp_to_next_deadline():
                break
            clock.run_timers()
            n += got
        return n
