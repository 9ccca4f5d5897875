"""Image loaders: ELF, raw, uImage, zImage detection, DTB patching, boot layout, ROM registry.

Where QEMU can say what the right answer is, it does: the same files are
loaded by qemu-system-arm (``info roms``, ``pmemsave``, ``info registers``,
``-machine dumpdtb=``) and compared with ours.
"""
from __future__ import annotations

import gzip
import os
import re
import struct
import subprocess
import zlib

import pytest

from pysystem import loader
from pysystem.machines import arm_boot
from pysystem.loader import LoaderError
from pysystem.memory import AddressSpace, ContainerRegion, IORegion, RAMRegion, ROMRegion
from tools import program

RAM_BASE = 0x60000000


def vexpress_space(ram_size=2 << 20, fill=0):
    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "vexpress.highmem", ram_size)
    if fill:
        ram.data[:] = bytes([fill]) * ram_size
    root.add_subregion(RAM_BASE, ram)
    flash = ROMRegion(None, "flash", 0x1000)
    root.add_subregion(0x40000000, flash)
    root.add_subregion(0x10009000, IORegion(None, "pl011", 0x1000, lambda o, s: 0,
                                            lambda o, v, s: None))
    return AddressSpace("memory", root), ram


def qemu_monitor(args, commands, cwd):
    text = "".join(c + "\n" for c in commands) + "quit\n"
    qemu = program("qemu-system-arm")
    proc = subprocess.run([qemu, "-M", "vexpress-a9", *args, "-display", "none", "-serial", "null",
                           "-monitor", "stdio", "-S", "-audiodev", "none,id=snd0"],
                          input=text.encode(), capture_output=True, timeout=60, cwd=cwd)
    out = proc.stdout.decode(errors="replace").replace("\r", "")
    return out


def qemu_roms(out):
    return "".join(line + "\n" for line in out.split("\n") if line.startswith("addr="))


# --- files in general --------------------------------------------------------------------------

def test_missing_empty_and_directory_files_give_one_line_errors(tmp_path):
    space, _ = vexpress_space()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for path, text in ((tmp_path / "nope", "No such file"), (empty, "empty"),
                       (tmp_path, "directory")):
        for call in (lambda p: loader.load_raw(p, space, RAM_BASE),
                     lambda p: loader.load_elf(p, space),
                     loader.parse_uimage, loader.load_dtb):
            with pytest.raises(LoaderError, match=text) as e:
                call(str(path))
            assert "\n" not in str(e.value)


def test_raw_load_limits_and_registry(tmp_path):
    space, ram = vexpress_space(ram_size=1 << 20)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 16)
    assert loader.load_raw(str(blob), space, RAM_BASE + 0x100) == 4096
    assert bytes(ram.data[0x100:0x1100]) == bytes(range(256)) * 16
    with pytest.raises(LoaderError, match="too big"):
        loader.load_raw(str(blob), space, RAM_BASE + 0x8000, max_size=100)
    with pytest.raises(LoaderError, match="too big"):
        loader.load_raw(str(blob), space, RAM_BASE + (1 << 20) - 100)   # runs off the RAM
    with pytest.raises(LoaderError, match="no memory"):
        loader.load_raw(str(blob), space, 0x20000000)
    with pytest.raises(LoaderError, match="no memory"):
        loader.load_raw(str(blob), space, 0x10009000)                   # I/O is not memory
    with pytest.raises(LoaderError, match="overlap"):
        loader.load_raw(str(blob), space, RAM_BASE + 0x800)
    assert loader.load_raw(str(blob), space, 0x40000000) == 4096      # ROM: loaders write it
    assert loader.roms_text(space) == (
        f'addr=0000000040000000 size=0x001000 mem=rom name="{blob}"\n'
        f'addr=0000000060000100 size=0x001000 mem=ram name="{blob}"\n')
    ram.data[0x100:0x200] = bytes(256)                                  # the guest scribbles
    loader.rom_reset(space)                                             # system_reset
    assert bytes(ram.data[0x100:0x200]) == bytes(range(256))


def test_zimage_magic():
    image = bytearray(0x40)
    struct.pack_into("<I", image, 0x24, 0x016F2818)
    assert loader.is_zimage(bytes(image))
    assert not loader.is_zimage(bytes(0x40))
    assert not loader.is_zimage(b"\x7fELF")


# --- ELF ---------------------------------------------------------------------------------

ELF_SOURCE = """
    .text
    .global _start
_start:
    ldr r0, =msg
    ldr r1, =val
    b .
    .section .rodata
msg: .asciz "hello from rodata"
    .data
val: .word 0x11223344, 0x55667788
    .bss
buf: .space 256
"""
# a kernel-like layout: linked at 0xc00xxxxx, loaded at physical 0x600xxxxx
ELF_LDS = """
ENTRY(_start)
SECTIONS {
  .text 0xc0010000 : AT(0x60010000) { *(.text*) *(.rodata*) }
  .data 0xc0100000 : AT(0x60020000) { *(.data*) }
  .bss : { *(.bss*) }
}
"""


@pytest.fixture(scope="module")
def arm_elf(tmp_path_factory):
    gcc = program("arm-none-eabi-gcc", "arm-linux-gnueabihf-gcc")
    d = tmp_path_factory.mktemp("elf")
    (d / "start.S").write_text(ELF_SOURCE)
    (d / "link.ld").write_text(ELF_LDS)
    subprocess.run([gcc, "-nostdlib", "-nostartfiles", "-Wl,--build-id=none", "-T", "link.ld",
                    "-o", "prog.elf", "start.S"], cwd=d, check=True, capture_output=True)
    return d / "prog.elf"


def test_elf_loads_segments_at_physical_addresses(arm_elf):
    space, ram = vexpress_space(fill=0xff)
    info = loader.load_elf(str(arm_elf), space, machine=loader.EM_ARM, big_endian=False)
    assert info == loader.ElfInfo(0x60010000, 0x60010000, 0x60020108, False, loader.EM_ARM)
    text = bytes(ram.data[0x10000:0x10026])
    assert b"hello from rodata" in text
    assert bytes(ram.data[0x20000:0x20008]) == struct.pack("<II", 0x11223344, 0x55667788)
    assert bytes(ram.data[0x20008:0x20108]) == bytes(256)        # .bss zero-filled
    # with translate: entry stays virtual, segments go where translate says
    space, ram = vexpress_space()
    info = loader.load_elf(str(arm_elf), space, translate=lambda a: a + 0x1000)
    assert (info.entry, info.low) == (0xc0010000, 0x60011000)


def test_elf_matches_qemu(arm_elf, tmp_path):
    out = qemu_monitor(["-m", "256", "-kernel", str(arm_elf)],
                       ["info roms", "info registers",
                        f'pmemsave 0x60010000 0x26 "{tmp_path}/s0"',
                        f'pmemsave 0x60020000 0x108 "{tmp_path}/s1"'], tmp_path)
    space, ram = vexpress_space(fill=0xff)
    info = loader.load_elf(str(arm_elf), space)
    assert loader.roms_text(space) == qemu_roms(out)
    assert f"R15={info.entry:08x}" in out
    assert bytes(ram.data[0x10000:0x10026]) == (tmp_path / "s0").read_bytes()
    assert bytes(ram.data[0x20000:0x20108]) == (tmp_path / "s1").read_bytes()


def test_bad_elf_files(arm_elf, tmp_path):
    space, _ = vexpress_space()
    data = arm_elf.read_bytes()
    cases = {
        "text": b"this is not an ELF file at all\n" * 4,
        "short": data[:20],                 # inside the ELF header
        "phdrs": data[:60],                 # program headers cut off
        "segment": data[:0x1010],           # segment data cut off
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(LoaderError) as e:
            loader.load_elf(str(p), space)
        assert str(p) in str(e.value) and "\n" not in str(e.value), name
    with pytest.raises(LoaderError, match="architecture"):
        loader.load_elf(str(arm_elf), space, machine=loader.EM_MIPS)
    with pytest.raises(LoaderError, match="endian"):
        loader.load_elf(str(arm_elf), space, big_endian=True)
    space_small, _ = vexpress_space(ram_size=0x10000)
    with pytest.raises(LoaderError, match="no memory"):
        loader.load_elf(str(arm_elf), space_small)
    assert loader.roms(space_small) == []   # nothing half-loaded


# --- uImage --------------------------------------------------------------------------

def make_uimage(payload, load=0x60008000, entry=0x60008000, itype=2, comp=0, os_=5, arch=2,
                name=b"test image"):
    data = gzip.compress(payload) if comp == 1 else payload
    hdr = struct.pack(">IIIIIIIBBBB32s", 0x27051956, 0, 0x5F000000, len(data), load, entry,
                      zlib.crc32(data), os_, arch, itype, comp, name)
    hdr = hdr[:4] + struct.pack(">I", zlib.crc32(hdr)) + hdr[8:]
    return hdr + data


def test_uimage_parse_and_corruption(tmp_path):
    payload = bytes(range(256)) * 64
    p = tmp_path / "uImage"
    p.write_bytes(make_uimage(payload, comp=1))
    img = loader.parse_uimage(str(p))
    assert img.data == payload and img.compression == 1
    assert (img.load_addr, img.entry, img.image_type, img.os, img.arch, img.name) == \
        (0x60008000, 0x60008000, 2, 5, 2, "test image")
    good = bytearray(make_uimage(payload))
    bad = {"magic": b"\0" + good[1:], "header crc": good[:40] + b"X" + good[41:],
           "data crc": good[:100] + b"X" + good[101:], "truncated": good[:1000],
           "compression": make_uimage(payload, comp=3)}
    for what, blob in bad.items():
        p.write_bytes(bytes(blob))
        with pytest.raises(LoaderError) as e:
            loader.parse_uimage(str(p))
        assert "\n" not in str(e.value), what
    broken_gzip = bytearray(make_uimage(payload, comp=1))
    del broken_gzip[-30:]                   # cut the gzip stream, then fix the CRCs and size
    data = bytes(broken_gzip[64:])
    hdr = bytearray(broken_gzip[:64])
    struct.pack_into(">I", hdr, 12, len(data))
    struct.pack_into(">I", hdr, 24, zlib.crc32(data))
    struct.pack_into(">I", hdr, 4, 0)
    struct.pack_into(">I", hdr, 4, zlib.crc32(bytes(hdr)))
    p.write_bytes(bytes(hdr) + data)
    with pytest.raises(LoaderError, match="gzip"):
        loader.parse_uimage(str(p))


def test_ramdisk_raw_or_uimage(tmp_path):
    space, ram = vexpress_space()
    payload = os.urandom(5000)
    raw = tmp_path / "rd.raw"
    raw.write_bytes(payload)
    wrapped = tmp_path / "rd.uimg"
    wrapped.write_bytes(make_uimage(payload, load=0, entry=0, itype=3))
    assert loader.load_ramdisk(str(raw), space, RAM_BASE) == 5000
    assert loader.load_ramdisk(str(wrapped), space, RAM_BASE + 0x2000) == 5000
    assert bytes(ram.data[0x2000:0x2000 + 5000]) == bytes(ram.data[:5000]) == payload
    with pytest.raises(LoaderError, match="too big"):
        loader.load_ramdisk(str(raw), space, RAM_BASE + 0x4000, max_size=4096)


def test_uimage_load_matches_qemu(tmp_path):
    payload = os.urandom(3000)
    p = tmp_path / "uImage"
    p.write_bytes(make_uimage(payload, load=0x60008000, entry=0x60008040, comp=1))
    out = qemu_monitor(["-m", "256", "-kernel", "uImage"], ["info roms"], tmp_path)
    space, ram = vexpress_space()
    img, load, entry = loader.load_uimage(str(p), space)
    assert (load, entry) == (0x60008000, 0x60008040)
    assert bytes(ram.data[0x8000:0x8000 + 3000]) == payload
    rom_line = [line for line in qemu_roms(out).splitlines() if "uImage" in line]
    assert rom_line == ['addr=0000000060008000 size=0x000bb8 mem=ram name="uImage"']


# --- device trees ---------------------------------------------------------------------------

BASE_DTS = """/dts-v1/;
/ {
    #address-cells = <1>;
    #size-cells = <1>;
    model = "pysystem test board";
    compatible = "arm,vexpress";
    interrupt-parent = <1>;
    chosen {
        bootargs = "old";
    };
    memory@60000000 {
        device_type = "memory";
        reg = <0x60000000 0x10000000>;
    };
    memory {
        device_type = "memory";
        reg = <0x80000000 0x100>;
    };
    interrupt-controller@1e001000 {
        compatible = "arm,cortex-a9-gic";
        #interrupt-cells = <3>;
        interrupt-controller;
        reg = <0x1e001000 0x1000 0x1e000100 0x100>;
        phandle = <1>;
    };
};
"""


@pytest.fixture
def base_dtb(tmp_path):
    import fdt
    path = tmp_path / "board.dtb"
    path.write_bytes(fdt.parse_dts(BASE_DTS).to_dtb(version=17))
    return path


def vexpress_patch(dtb, ram_size, bootargs, initrd_start, initrd_size):
    """What QEMU's arm_load_dtb + vexpress_modify_dtb do, through our helpers."""
    loader.set_memory(dtb, RAM_BASE, ram_size)
    loader.set_chosen(dtb, bootargs, initrd_start, initrd_start + initrd_size)
    gic = loader.phandle_of(dtb, loader.find_compatible(dtb, "arm,cortex-a9-gic"))
    for i in reversed(range(4)):
        addr = 0x10013000 + 0x200 * i
        loader.add_node(dtb, f"/virtio_mmio@{addr:x}", {
            "compatible": "virtio,mmio", "reg": loader.sized_cells(dtb, addr, 0x200),
            "interrupt-parent": gic, "interrupts": [0, 40 + i, 1], "dma-coherent": None})


def test_dtb_errors(tmp_path, base_dtb):
    text = tmp_path / "text.dtb"
    text.write_text("this is a text file, not a device tree\n" * 4)
    with pytest.raises(LoaderError, match="not a device tree"):
        loader.load_dtb(str(text))
    data = base_dtb.read_bytes()
    cut = tmp_path / "cut.dtb"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(LoaderError, match="truncated"):
        loader.load_dtb(str(cut))
    garbled = bytearray(data)
    garbled[0x40:0x60] = b"\xff" * 0x20          # struct block destroyed
    cut.write_bytes(bytes(garbled))
    with pytest.raises(LoaderError):
        loader.load_dtb(str(cut))
    dtb = loader.load_dtb(str(base_dtb))
    with pytest.raises(LoaderError, match="no node"):
        loader.add_node(dtb, "/nowhere/node", {})
    with pytest.raises(LoaderError, match="RAM size > 4GB"):
        loader.set_memory(dtb, RAM_BASE, 1 << 32)


def test_dtb_patching_round_trips(base_dtb):
    dtb = loader.load_dtb(str(base_dtb))
    vexpress_patch(dtb, 256 << 20, "console=ttyAMA0", 0x68000000, 0x1000)
    again = loader.parse_dtb_bytes(loader.dtb_bytes(dtb, total_size=0x4000))
    mem = [n.name for n in again.root.nodes if n.name.startswith("memory")]
    assert mem == ["memory@60000000"]
    assert list(again.get_property("reg", "/memory@60000000").data) == [RAM_BASE, 256 << 20]
    chosen = again.get_node("/chosen")
    assert chosen.get_property("bootargs").value == "console=ttyAMA0"
    assert list(chosen.get_property("linux,initrd-end").data) == [0x68001000]
    assert len(loader.dtb_bytes(dtb, total_size=0x4000)) == 0x4000


@pytest.mark.parametrize("ram_mb,kernel_size,initrd_size", [
    (256, 5000, 3000),            # initrd at base + 128 MiB
    (64, 5000, 0x2345),           # base + ram/2
    (32, 20 << 20, 4096),         # the kernel reaches past ram/2: initrd after it
    (256, 5000, 0),               # no initrd: the DTB takes its place
])
def test_boot_layout_and_dtb_match_qemu(tmp_path, base_dtb, ram_mb, kernel_size, initrd_size):
    (tmp_path / "k.bin").write_bytes(os.urandom(kernel_size))
    args = ["-m", str(ram_mb), "-kernel", "k.bin", "-dtb", "board.dtb",
            "-append", "console=ttyAMA0 rdinit=/init"]
    if initrd_size:
        (tmp_path / "rd.bin").write_bytes(os.urandom(initrd_size))
        args += ["-initrd", "rd.bin"]
    out = qemu_monitor(args, ["info roms"], tmp_path)
    subprocess.run([program("qemu-system-arm"), "-M", "vexpress-a9", *args,
                    "-machine", "dumpdtb=qemu.dtb",
                    "-display", "none", "-serial", "null", "-monitor", "none",
                    "-audiodev", "none,id=snd0"], cwd=tmp_path, capture_output=True, timeout=60)
    want = {m.group(2): int(m.group(1), 16)
            for m in re.finditer(r'addr=([0-9a-f]+) size=\S+ mem=ram name="([^"]+)"', out)}
    ram_size = ram_mb << 20
    kernel_addr = RAM_BASE + 0x10000
    initrd, dtb_addr = arm_boot.boot_layout(RAM_BASE, ram_size, kernel_addr + kernel_size,
                                            initrd_size)
    assert want["k.bin"] == kernel_addr
    assert want["dtb"] == dtb_addr
    if initrd_size:
        assert want["rd.bin"] == initrd
    # the patched DTB, as text, is QEMU's
    dtb = loader.load_dtb(str(base_dtb))
    vexpress_patch(dtb, ram_size, "console=ttyAMA0 rdinit=/init", initrd, initrd_size)
    qemu_dtb = loader.load_dtb(str(tmp_path / "qemu.dtb"))
    assert loader.parse_dtb_bytes(loader.dtb_bytes(dtb)).to_dts() == qemu_dtb.to_dts()
    # and QEMU loads (file size + 10000) * 2 bytes
    size = int(re.search(r'size=0x([0-9a-f]+) mem=ram name="dtb"', out).group(1), 16)
    assert size == (base_dtb.stat().st_size + 10000) * 2


def test_boot_layout_errors():
    with pytest.raises(LoaderError, match="not enough space"):
        arm_boot.boot_layout(RAM_BASE, 16 << 20, RAM_BASE + (16 << 20), 4096)
    with pytest.raises(LoaderError, match="too big"):
        arm_boot.boot_layout(RAM_BASE, 16 << 20, None, 9 << 20)
    assert arm_boot.boot_layout(RAM_BASE, 1 << 30) == (RAM_BASE + (128 << 20),
                                                       RAM_BASE + (128 << 20))
