"""The Malta boot protocol against QEMU 7.2's: what ``-kernel``/``-initrd``/``-append``
leave in memory, the CPU state at reset, ``-kernel`` refusals, ``-bios`` from reset.

Both emulators load the same small ELF kernel and initrd with ``-S``; the boot ROM,
the flash, the argument table, the kernel and the initrd are saved with ``pmemsave``
and compared byte for byte (except the rngseed string, random in QEMU and derived
from the kernel and command line here).
"""
from __future__ import annotations

import os
import random
import struct

import pytest

from malta_qemu import elf32, monitor, run
from pysystem.machines import mips_boot

ARCHES = ("mipsel", "mips")
KERNEL_BASE, KERNEL_ENTRY = 0x80100000, 0x80100400
APPEND = "console=ttyS0 rdinit=/init quiet"


def _images(tmp_path, big_endian: bool):
    rng = random.Random(7)
    kernel = elf32(tmp_path / "vmlinux", big_endian, KERNEL_ENTRY,
                   [(KERNEL_BASE, bytes(rng.getrandbits(8) for _ in range(0x3000)))])
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(bytes(rng.getrandbits(8) for _ in range(100003)))
    return kernel, str(initrd)


def _dump(which, arch, args, tmp_path, regions):
    cmds = [f'pmemsave 0x{addr:x} 0x{size:x} "{which}-{name}.bin"'
            for name, (addr, size) in regions.items()]
    out = monitor(which, arch, args, cmds + ["info roms", "info registers"], cwd=tmp_path)
    blobs = {name: (tmp_path / f"{which}-{name}.bin").read_bytes() for name in regions}
    return out, blobs


def _strings(prom: bytes, big_endian: bool):
    ptrs = struct.unpack((">" if big_endian else "<") + "16I", prom[:64])
    out = []
    for p in ptrs:
        if not p:
            break
        off = p - mips_boot.ENVP_VADDR
        out.append(prom[off:off + 256].split(b"\0")[0].decode())
    return ptrs, out


@pytest.mark.parametrize("arch,ram", [("mipsel", "256M"), ("mips", "128M"), ("mipsel", "1G")])
def test_boot_memory_is_qemus(tmp_path, arch, ram):
    be = arch == "mips"
    kernel, initrd = _images(tmp_path, be)
    initrd_at = mips_boot.initrd_offset(min(int(ram[:-1]) << (30 if ram[-1] == "G" else 20),
                                            256 << 20), os.path.getsize(initrd))
    regions = {"bootrom": (0x1FC00000, 0x1000), "flash": (0x1E000000, 0x1000),
               "prom": (0x2000, mips_boot.PROM_SIZE), "kernel": (0x100000, 0x3000),
               "initrd": (initrd_at, 100003)}
    args = ["-m", ram, "-kernel", kernel, "-initrd", initrd, "-append", APPEND]
    q_out, q = _dump("qemu", arch, args, tmp_path, regions)
    p_out, p = _dump("pysystem", arch, args, tmp_path, regions)
    for name in ("bootrom", "flash", "kernel", "initrd"):
        assert p[name] == q[name], name
    q_ptrs, q_strings = _strings(q["prom"], be)
    p_ptrs, p_strings = _strings(p["prom"], be)
    assert p_ptrs == q_ptrs
    assert q_strings[8] == p_strings[8] == "rngseed"
    assert len(p_strings[9]) == 64 and int(p_strings[9], 16) >= 0
    assert p_strings[:9] == q_strings[:9]
    assert p_strings[1].startswith(f"rd_start=0xffffffff{0x80000000 | initrd_at:08x} "
                                   f"rd_size=100003 {APPEND}")
    assert p_out["info roms"] == q_out["info roms"]
    for prefix in ("pc=", "CP0 Status"):
        want = [l for l in q_out["info registers"].splitlines() if l.strip().startswith(prefix)]
        got = [l for l in p_out["info registers"].splitlines() if l.strip().startswith(prefix)]
        assert want and got[0].split()[:2] == want[0].split()[:2]


def test_no_initrd_means_the_command_line_alone(tmp_path):
    kernel, _ = _images(tmp_path, False)
    regions = {"prom": (0x2000, mips_boot.PROM_SIZE)}
    args = ["-kernel", kernel, "-append", APPEND]
    _, q = _dump("qemu", "mipsel", args, tmp_path, regions)
    _, p = _dump("pysystem", "mipsel", args, tmp_path, regions)
    assert _strings(p["prom"], False)[1][:9] == _strings(q["prom"], False)[1][:9]
    assert _strings(p["prom"], False)[1][1] == APPEND


def _refusal(arch, args):
    q = run("qemu", arch, ["-M", "malta", "-display", "none", "-serial", "null", *args])
    p = run("pysystem", arch, ["-M", "malta", "-display", "none", "-serial", "null", *args])
    q_lines = [l for l in q.stderr.decode().splitlines() if l.startswith(f"qemu-system-{arch}: ")]
    p_lines = p.stderr.decode().splitlines()
    assert q.returncode == 1 and p.returncode == 1, (q, p)
    assert len(p_lines) == 1, p_lines
    assert p_lines[0] == q_lines[-1].replace(f"qemu-system-{arch}:", f"pysystem-{arch}:")


def test_kernel_that_is_not_elf_is_refused(tmp_path):
    path = tmp_path / "zImage"
    path.write_bytes(bytes(range(256)) * 64)
    _refusal("mipsel", ["-kernel", str(path)])


def test_missing_kernel_is_refused(tmp_path):
    _refusal("mipsel", ["-kernel", str(tmp_path / "nonexistent")])


def test_truncated_elf_is_refused(tmp_path):
    path = tmp_path / "tiny"
    path.write_bytes(b"\x7fELF")
    _refusal("mipsel", ["-kernel", str(path)])


def test_elf_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "arm.elf"
    data = bytearray(open(elf32(tmp_path / "k", False, 0x80100000, [(0x80100000, b"\0" * 64)]),
                          "rb").read())
    data[18:20] = struct.pack("<H", 40)           # EM_ARM
    path.write_bytes(bytes(data))
    _refusal("mipsel", ["-kernel", str(path)])


@pytest.mark.parametrize("arch", ARCHES)
def test_elf_of_the_other_byte_order_is_refused(tmp_path, arch):
    kernel = elf32(tmp_path / "k", arch == "mipsel", 0x80100000, [(0x80100000, b"\0" * 64)])
    _refusal(arch, ["-kernel", kernel])


def test_initrd_too_big_for_low_memory_is_refused(tmp_path):
    kernel = elf32(tmp_path / "k", False, 0x80100000, [(0x80100000, b"\0" * 64)])
    initrd = tmp_path / "big.img"
    initrd.write_bytes(b"\1" * (31 << 20))
    _refusal("mipsel", ["-m", "32M", "-kernel", kernel, "-initrd", str(initrd)])


def test_missing_bios_is_refused(tmp_path):
    _refusal("mipsel", ["-bios", str(tmp_path / "nonexistent.bin")])


def _firmware() -> bytes:
    """Prints on the ISA UART through the GT-64120's reset I/O window, then SOFTRES."""
    from pysystem.machines.mips_boot import T0, T1, ZERO, addiu, beq, li32, sb, sw
    start = 0xBFC00020                     # past the board ID the board writes at +0x10
    words = [beq(ZERO, ZERO, 0xBFC00000, start), 0] + [0] * 6 + li32(T0, 0xB00003F8)
    for ch in b"BIOS-OK\r\n":
        words += [addiu(T1, ZERO, ch), sb(T1, 0, T0)]
    words += li32(T0, 0xBF000500) + [addiu(T1, ZERO, 0x42), sw(T1, 0, T0)]
    spin = 0xBFC00000 + 4 * len(words)
    words += [beq(ZERO, ZERO, spin, spin), 0]
    return b"".join(struct.pack(">I", w) for w in words)   # QEMU swaps them for mipsel


@pytest.mark.parametrize("arch", ARCHES)
def test_bios_runs_from_reset_as_on_qemu(tmp_path, arch):
    bios = tmp_path / "bios.bin"
    bios.write_bytes(_firmware())
    args = ["-M", "malta", "-bios", str(bios), "-display", "none", "-serial", "stdio",
            "-monitor", "none", "-no-reboot"]
    q = run("qemu", arch, args, timeout=60)
    p = run("pysystem", arch, args, timeout=60)
    assert q.stdout == b"BIOS-OK\r\n"
    assert (p.returncode, p.stdout) == (q.returncode, q.stdout)


def _rebooting_firmware() -> bytes:
    """Counts its boots in RAM (which a reset keeps), prints the count, resets through
    SOFTRES until the third boot, then spins."""
    from pysystem.machines.mips_boot import (T0, T1, T2, T3, ZERO, _i, addiu, beq, li32,
                                             sb, sw)
    lw = lambda rt, off, base: _i(0x23, base, rt, off)   # noqa: E731
    base = 0xBFC00020
    words = [beq(ZERO, ZERO, 0xBFC00000, base), 0] + [0] * 6
    words += li32(T0, 0x80001000) + [lw(T1, 0, T0), addiu(T1, T1, 1), sw(T1, 0, T0)]
    words += li32(T2, 0xB00003F8) + [addiu(T3, T1, ord("0")), sb(T3, 0, T2), addiu(T3, ZERO, 3)]
    here = 0xBFC00000 + 4 * len(words)
    spin = here + 4 * (2 + 2 + 2)        # past the branch, its slot and the SOFTRES write
    words += [beq(T1, T3, here, spin), 0]
    words += li32(T2, 0xBF000500) + [addiu(T3, ZERO, 0x42), sw(T3, 0, T2)]
    assert 0xBFC00000 + 4 * len(words) == spin
    words += [beq(ZERO, ZERO, spin, spin), 0]
    return b"".join(struct.pack(">I", w) for w in words)


@pytest.mark.parametrize("arch", ARCHES)
def test_softres_resets_the_board_as_on_qemu(tmp_path, arch):
    """Without -no-reboot, SOFTRES restarts from the reset vector with RAM kept."""
    import subprocess
    import time
    from malta_qemu import binary
    bios = tmp_path / "bios.bin"
    bios.write_bytes(_rebooting_firmware())
    outputs = []
    for which in ("qemu", "pysystem"):
        proc = subprocess.Popen([binary(which, arch), "-M", "malta", "-bios", str(bios),
                                 "-display", "none", "-serial", "file:" + str(tmp_path / which),
                                 "-monitor", "none"])
        deadline = time.monotonic() + 60
        path = tmp_path / which
        while time.monotonic() < deadline and not (path.exists() and len(path.read_bytes()) >= 3):
            time.sleep(0.2)
        time.sleep(1.0)                      # nothing more may come
        proc.kill()
        proc.wait()
        outputs.append(path.read_bytes())
    assert outputs[0] == b"123"
    assert outputs[1] == outputs[0]


@pytest.mark.parametrize("arch", ARCHES)
def test_pflash_image_boots_as_on_qemu(tmp_path, arch):
    """-drive if=pflash: the 4 MiB image is the flash, its words swapped in memory on
    little-endian as QEMU does; the image file keeps its bytes."""
    image = tmp_path / "flash.img"
    image.write_bytes(_firmware().ljust(4 << 20, b"\0"))
    before = image.read_bytes()
    args = ["-M", "malta", "-drive", f"if=pflash,file={image},format=raw", "-display", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot"]
    q = run("qemu", arch, args, timeout=60)
    p = run("pysystem", arch, args, timeout=60)
    assert q.stdout == b"BIOS-OK\r\n"
    assert (p.returncode, p.stdout) == (q.returncode, q.stdout)
    assert image.read_bytes() == before
