"""Debian's 6.1 4kc-malta kernel on the bare CPU: no board, every device address reads 0.
The kernel's XZ payload is unpacked here (as its zboot decompressor would) and entered
with the Malta boot loader's registers; after 6e7 instructions its printk buffer must
hold the banner and what it found probing the 24Kf: the CPU and FPU revisions (PRId,
FIR), which come from the model table, CP0 and the FPU.  (Further on it needs the
GT-64120, which the Malta board provides.)"""
from __future__ import annotations

import lzma
import os
import struct

import pytest

from pysystem.clock import VirtualClock
from pysystem.cpu.mips import CPU_TYPES, MIPSCPU
from pysystem.memory import AddressSpace, ContainerRegion, IORegion, RAMRegion

MIPSCPU.raise_internal_errors = True
LOAD = 0x80100000   # Malta's VMLINUX_LOAD_ADDRESS


def _kernel() -> bytes:
    try:
        from pysystem.images.fetch import guest_files
        gf = guest_files("mipsel", quiet=True)
    except Exception as e:  # no network, no cache
        if os.environ.get("CI"):
            pytest.fail(f"Debian mipsel kernel not available: {e}")
        pytest.skip(f"Debian mipsel kernel not available: {e}")
    path = next((p for p in (gf.kernel_tree / "boot").glob("vmlinuz-*")), None)
    assert path is not None, f"no vmlinuz in {gf.kernel_tree}"
    return path.read_bytes()


def _unpack(zboot: bytes):
    """The kernel image (the first XZ stream that decodes) and its entry point (the
    second ``lui t9 / ori t9 / jalr t9`` of the zboot head, which jumps there)."""
    magic = bytes.fromhex("fd377a585a00")
    i = zboot.find(magic)
    while i >= 0:
        try:
            raw = lzma.LZMADecompressor().decompress(zboot[i:])
            break
        except lzma.LZMAError:
            i = zboot.find(magic, i + 1)
    else:
        raise AssertionError("no XZ payload")
    text = zboot[0x10000:0x10100]  # the head, at the ELF's first segment
    words = struct.unpack("<64I", text)
    entries = [((words[k] & 0xFFFF) << 16) | (words[k + 1] & 0xFFFF)
               for k in range(63) if words[k] >> 16 == 0x3C19 and words[k + 1] >> 16 == 0x3739]
    assert entries, "no jump to the kernel in the zboot head"
    return raw, entries[-1]


@pytest.mark.slow
@pytest.mark.network
def test_debian_kernel_probes_the_24kf():
    raw, entry = _unpack(_kernel())
    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "ram", 256 << 20)
    root.add_subregion(0, ram)
    root.add_subregion(0x10000000, IORegion(None, "nothing", 0x10000000, lambda o, s: 0,
                                            lambda o, v, s: None, endianness="native"))
    space = AddressSpace("m", root)
    cpu = CPU_TYPES["24Kf"]()
    cpu.address_space, cpu.clock = space, VirtualClock()
    cpu.realize()
    cpu.reset()
    space.write_bytes(LOAD & 0x1FFFFFFF, raw)
    # the boot loader's argv/envp table (QEMU's layout) and registers
    strings = [b"vmlinux", b"console=ttyS0,38400 earlycon=uart8250,io,0x3f8 loglevel=8",
               b"memsize", b"268435456", b"modetty0", b"38400n8r"]
    table = bytearray(0x1000)
    ptrs = [0x80002100 + 256 * i for i in range(len(strings))]
    for i, s in enumerate(strings):
        table[0x100 + 256 * i:0x100 + 256 * i + len(s)] = s
    table[:4 * (len(ptrs) + 1)] = struct.pack(f"<{len(ptrs) + 1}I", *ptrs, 0)
    space.write_bytes(0x2000, bytes(table))
    cpu.regs[4:8] = [2, 0x80002000, 0x80002008, 256 << 20]
    cpu.regs[29] = 0x80002000 - 64
    cpu.pc = entry
    n = 0
    while n < 60_000_000:
        n += cpu.run(1_000_000)
        cpu.clock.run_timers()
    mem = ram.data  # the printk buffer moves with the kernel (KASLR): search all of RAM
    assert mem.find(b"[    0.000000] Linux version 6.1.") >= 0
    assert mem.find(b"CPU0 revision is: 00019300 (MIPS 24Kc)") >= 0
    assert mem.find(b"FPU revision is: 00739300") >= 0
