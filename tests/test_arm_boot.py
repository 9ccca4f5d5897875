"""machines/arm_boot.py on an in-process vexpress-a9: where each kind of kernel goes,
how the first CPU enters it, and what a reset puts back.  (What the guest sees is
compared with QEMU 7.2 in tests/test_baremetal_arm.py and tests/test_loader.py.)"""
from __future__ import annotations

import os
import re
import struct
import subprocess

import pytest

import tools

from pysystem import loader, qom
from pysystem.machines import arm_boot

RAM = 0x60000000


def _need(tool: str) -> str:
    """The tool's path; a missing one fails under CI, else skips."""
    return tools.program(tool)


@pytest.fixture
def board():
    from pysystem.cli import load_types
    from pysystem.machine import find_machine
    load_types()
    qom.reset_root()
    yield find_machine("vexpress-a9", "arm")
    qom.reset_root()


def _machine(board, **props):
    m = board(**{"ram-size": "128M", **props})
    m.realize()
    m.reset()
    return m


def _words(m, addr, n):
    return list(struct.unpack(f"<{n}I", m.address_space.read_bytes(addr, 4 * n)))


def test_raw_image_without_dtb_gets_atags_again_at_each_reset(board, tmp_path):
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(b"\xfe\xff\xff\xea" * 4)          # b .
    m = _machine(board, kernel=str(kernel), append="console=ttyAMA0 abc")
    cpu = m.cpus[0]
    assert (cpu.pc, cpu.thumb) == (RAM, 0)
    # the stub: r0 = 0, r1 = board id, r2 = the ATAGs, then the kernel at +0x10000
    assert _words(m, RAM, 7) == [0xE3A00000, 0xE59F1004, 0xE59F2004, 0xE59FF004,
                                 0x8E0, RAM + 0x100, RAM + 0x10000]
    tags = _words(m, RAM + 0x100, 20)
    assert tags[:9] == [5, arm_boot.ATAG_CORE, 1, 4096, 0, 4, arm_boot.ATAG_MEM, 128 << 20, RAM]
    assert tags[9:11] == [2 + 5, arm_boot.ATAG_CMDLINE]   # 19 bytes + NUL in 5 words
    assert m.address_space.read_bytes(RAM + 0x100 + 44, 20) == b"console=ttyAMA0 abc\0"
    assert tags[16:18] == [0, arm_boot.ATAG_NONE]
    roms = loader.roms_text(m.address_space)
    assert "bootloader" in roms and "name=\"dtb\"" not in roms
    m.address_space.write_bytes(RAM + 0x100, bytes(64))  # the guest reuses the memory
    cpu.pc = 0x1234
    m.reset()
    assert _words(m, RAM + 0x100, 20) == tags and cpu.pc == RAM


def test_elf_is_entered_directly_and_thumb_entries_set_t(board, tmp_path):
    gcc = _need("arm-none-eabi-gcc")
    (tmp_path / "t.S").write_text(".syntax unified\n.thumb\n.global _start\n.thumb_func\n"
                                  "_start: b _start\n")
    elf = tmp_path / "t.elf"
    subprocess.run([gcc, "-nostdlib", "-Wl,-Ttext=0x60020000", "-Wl,--build-id=none",
                    "-o", str(elf), str(tmp_path / "t.S")], check=True)
    m = _machine(board, kernel=str(elf), append="ignored", initrd=str(elf))
    cpu = m.cpus[0]
    assert (cpu.pc, cpu.thumb) == (0x60020000, 1)
    assert m.boot.is_linux is False and m.boot.dtb_start is None
    assert _words(m, RAM, 4) == [0, 0, 0, 0]             # no stub, no ATAGs
    assert "bootloader" not in loader.roms_text(m.address_space)


def test_load_elf_takes_the_machine_as_a_number(tmp_path):
    with pytest.raises(TypeError, match="EM_ARM"):
        loader.load_elf(str(tmp_path / "x"), None, machine="arm")



@pytest.mark.parametrize("link", [0x60000000, 0x60010000, 0x60001000])
def test_elf_dtb_placement_matches_qemu(board, tmp_path, link):
    """With -dtb an ELF gets the DTB at the RAM base if it fits below the image (else
    none), or at address 0 when the image covers the base: QEMU's info roms."""
    gcc = _need("arm-none-eabi-gcc")
    _need("qemu-system-arm")
    from test_loader import qemu_monitor, qemu_roms
    from pysystem.images.fetch import default_cache_dir
    dtb = os.path.join(default_cache_dir(), "arm", "vexpress-v2p-ca9.dtb")
    if not os.path.exists(dtb):
        pytest.skip("no cached vexpress-v2p-ca9.dtb")
    (tmp_path / "t.S").write_text(".global _start\n_start: b _start\n")
    elf = tmp_path / "t.elf"
    subprocess.run([gcc, "-nostdlib", f"-Wl,-Ttext={link:#x}", "-Wl,--build-id=none",
                    "-o", str(elf), str(tmp_path / "t.S")], check=True)
    want = qemu_roms(qemu_monitor(["-m", "128", "-kernel", str(elf), "-dtb", dtb],
                                  ["info roms"], tmp_path))
    m = _machine(board, kernel=str(elf), dtb=dtb)
    assert loader.roms_text(m.address_space) == want


@pytest.mark.parametrize("kind", ["kernel", "noload", "not-linux"])
def test_uimage_placement_and_entry_match_qemu(board, tmp_path, kind):
    """A uImage at its load address, a kernel_noload one after its header at RAM base +
    32 MiB, both through the stub when the OS is Linux, else entered directly."""
    import zlib
    _need("qemu-system-arm")
    from test_loader import qemu_monitor, qemu_roms
    payload = b"\xfe\xff\xff\xea" * 16
    itype, load, ep, os_ = {"kernel": (2, 0x60008000, 0x60008000, 5), "noload": (14, 0, 8, 5),
                            "not-linux": (2, 0x60008000, 0x60008004, 0x11)}[kind]
    head = struct.pack(">IIIIIIIBBBB32s", 0x27051956, 0, 0, len(payload), load, ep,
                       zlib.crc32(payload), os_, 2, itype, 0, b"t")
    image = tmp_path / "k.uimg"
    image.write_bytes(head[:4] + struct.pack(">I", zlib.crc32(head)) + head[8:] + payload)
    out = qemu_monitor(["-m", "128", "-kernel", str(image)],
                       ["info roms", "info registers", "xp /7wx 0x60000000"], tmp_path)
    m = _machine(board, kernel=str(image))
    assert loader.roms_text(m.address_space) == qemu_roms(out)
    assert f"R15={m.cpus[0].pc:08x}" in out
    if os_ == 5:
        words = re.findall(r"0x([0-9a-f]{8})", out.split("xp /7wx 0x60000000")[-1])
        assert _words(m, RAM, 7) == [int(w, 16) for w in words[:7]]
