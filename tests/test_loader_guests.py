"""The loaders on the real Debian guest images, compared with QEMU loading the same files.

The images come from the pysystem cache, fetched there first when they are not
(tools.guest_images: the Debian archive is then a prerequisite).
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from pysystem import loader
from pysystem.machines import arm_boot
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion
from tools import guest_images, program

pytestmark = pytest.mark.network


def guest(arch):
    return guest_images(arch).to_json()


def qemu(binary, args, commands, cwd):
    text = "".join(c + "\n" for c in commands) + "quit\n"
    proc = subprocess.run([program(binary), *args, "-display", "none", "-serial", "null",
                           "-monitor", "stdio", "-S", "-audiodev", "none,id=snd0"],
                          input=text.encode(), capture_output=True, timeout=120, cwd=cwd)
    return proc.stdout.decode(errors="replace").replace("\r", "")


def rom_lines(out):
    return [line for line in out.split("\n") if line.startswith("addr=")]


def test_debian_armmp_zimage_initrd_and_dtb_placed_and_patched_as_qemu_does(tmp_path):
    g = guest("arm")
    ram_base, ram_size = 0x60000000, 256 << 20
    args = ["-M", "vexpress-a9", "-m", "256", "-kernel", g["kernel"], "-initrd", g["initrd"],
            "-dtb", g["dtb"], "-append", g["append"]]
    out = qemu("qemu-system-arm", args, ["info roms"], tmp_path)
    subprocess.run([program("qemu-system-arm"), *args, "-machine", "dumpdtb=qemu.dtb", "-display", "none",
                    "-serial", "null", "-monitor", "none", "-audiodev", "none,id=snd0"],
                   cwd=tmp_path, capture_output=True, timeout=120)

    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "vexpress.highmem", ram_size)
    root.add_subregion(ram_base, ram)
    space = AddressSpace("memory", root)
    with open(g["kernel"], "rb") as f:
        assert loader.is_zimage(f.read(0x40))
    kernel_addr = ram_base + 0x10000
    ksize = loader.load_raw(g["kernel"], space, kernel_addr, ram_size - 0x10000)
    initrd_size = os.path.getsize(g["initrd"])
    initrd, dtb_addr = arm_boot.boot_layout(ram_base, ram_size, kernel_addr + ksize, initrd_size)
    loader.load_raw(g["initrd"], space, initrd)
    dtb = loader.load_dtb(g["dtb"])
    loader.set_memory(dtb, ram_base, ram_size)
    loader.set_chosen(dtb, g["append"], initrd, initrd + initrd_size)
    gic = loader.phandle_of(dtb, loader.find_compatible(dtb, "arm,cortex-a9-gic"))
    assert gic
    for i in reversed(range(4)):
        addr = 0x10013000 + 0x200 * i
        loader.add_node(dtb, f"/virtio_mmio@{addr:x}", {
            "compatible": "virtio,mmio", "reg": loader.sized_cells(dtb, addr, 0x200),
            "interrupt-parent": gic, "interrupts": [0, 40 + i, 1], "dma-coherent": None})
    blob = loader.dtb_bytes(dtb, total_size=(os.path.getsize(g["dtb"]) + 10000) * 2)
    loader.add_rom("dtb", dtb_addr, blob, space)

    ours = loader.roms_text(space).splitlines()
    theirs = [line for line in rom_lines(out) if 'name="bootloader"' not in line]
    assert ours == theirs
    qemu_dtb = loader.load_dtb(str(tmp_path / "qemu.dtb"))
    assert loader.parse_dtb_bytes(blob).to_dts() == qemu_dtb.to_dts()
    assert bytes(ram.data[initrd - ram_base:initrd - ram_base + 16]) == \
        open(g["initrd"], "rb").read(16)


def test_debian_malta_vmlinux_segments_as_qemu_loads_them(tmp_path):
    g = guest("mipsel")
    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "mips_malta.ram", 64 << 20)
    root.add_subregion(0, ram)
    space = AddressSpace("memory", root)
    info = loader.load_elf(g["kernel"], space, translate=lambda a: a & 0x1FFFFFFF,
                           big_endian=False, machine=loader.EM_MIPS)
    assert info.machine == loader.EM_MIPS and not info.big_endian
    assert 0x80000000 <= info.entry < 0xA0000000          # kseg0: the entry stays virtual
    out = qemu("qemu-system-mipsel", ["-M", "malta", "-m", "256", "-kernel", g["kernel"]],
               ["info roms", f'pmemsave 0x{info.low:x} 0x10000 "{tmp_path}/head"'], tmp_path)
    theirs = [line for line in rom_lines(out) if "ELF program header" in line]
    assert theirs and loader.roms_text(space).splitlines() == theirs
    start = int(re.search(r"addr=([0-9a-f]+)", theirs[0]).group(1), 16)
    assert start == info.low
    assert bytes(ram.data[info.low:info.low + 0x10000]) == (tmp_path / "head").read_bytes()
