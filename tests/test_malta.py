"""The Malta board against QEMU 7.2's: memory map, I/O ports, PCI functions, device tree.

Both emulators start with ``-S`` and answer the same monitor commands; the answers are
compared line for line, with the differences that are ours listed (and explained) here.
"""
from __future__ import annotations

import pytest

from malta_qemu import monitor, run, section

ARCHES = ("mipsel", "mips")

# `info mtree`: the system memory map and the I/O port space ("io": PIIX4's, the
# GT-64120's and the ISA devices' ports, names, priorities and ranges) are QEMU's line
# for line.  Known differences elsewhere in its output, all by design:
#  - QEMU lists the address spaces "I/O" (root "io"), "pci0-mem" and each PCI function's
#    bus-master space ("bus master container"); our monitor shows the machine's one CPU
#    address space (the MIPS CPU has no port space; our PCI DMA goes to system memory
#    directly), so "io" and "pci0-mem" appear only as "memory-region:" blocks.
#  - hence QEMU's extra "memory-region: system" and "vga.vram" blocks (the targets of
#    its disabled bus-master and VGA bank aliases), and its cirrus-lowmem-container in
#    pci0-mem: our cirrus-vga has no legacy 0xa0000 window (nothing under
#    -nographic uses it).

# QEMU type names of the devices we model under another name, and the ones we do not model
QTREE_NAMES = {"isa-serial": "serial-16550a", "serial-mm": "serial-16550a",
               "isa-parallel": "unimplemented-device", "isa-fdc": "unimplemented-device"}
QTREE_NOT_MODELLED = {"fdc37m81x-superio", "floppy", "ide-cd", "smbus-eeprom", "ps2-kbd",
                      "ps2-mouse", "empty_slot", "mips-malta", "malta-fpga"}


def both(arch: str, args, commands):
    return monitor("qemu", arch, args, commands), monitor("pysystem", arch, args, commands)


@pytest.mark.parametrize("arch,ram", [("mipsel", "256M"), ("mips", "1G"), ("mipsel", "32M"),
                                      ("mips", "2G")])
def test_system_memory_map_is_qemus(arch, ram):
    qemu, ours = both(arch, ["-m", ram], ["info mtree"])
    want = section(qemu["info mtree"], "address-space: memory")
    got = section(ours["info mtree"], "address-space: memory")
    assert got == want


@pytest.mark.parametrize("arch", ARCHES)
def test_io_ports_are_qemus(arch):
    qemu, ours = both(arch, [], ["info mtree"])
    want = section(qemu["info mtree"], "memory-region: io")
    assert len(want) > 30                   # PIIX4, ISA, IDE, VGA, PM ports
    assert section(ours["info mtree"], "memory-region: io") == want


@pytest.mark.parametrize("arch", ARCHES)
def test_info_pci_is_qemus(arch):
    qemu, ours = both(arch, [], ["info pci"])
    assert ours["info pci"] == qemu["info pci"]


def _qtree(text: str) -> list:
    """(depth, 'dev: TYPE' | 'bus: NAME' | 'class ...' | 'bar ...') of the devices we model;
    a device repeated at once counts once (our floppy hole is two regions, so two devices)."""
    out, skip_below = [], None
    for line in text.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        if skip_below is not None and depth > skip_below:
            continue
        skip_below = None
        body = line.strip()
        if body.startswith("dev: "):
            name = body[5:].split(",")[0]
            if name in QTREE_NOT_MODELLED:
                skip_below = depth
                continue
            item = (depth, "dev: " + QTREE_NAMES.get(name, name))
            if not out or out[-1] != item:
                out.append(item)
        elif body.startswith(("bus: pci", "bus: isa", "class ", "bar ", "addr = ")):
            out.append((depth, body))
    return out


@pytest.mark.parametrize("arch", ARCHES)
def test_qtree_pci_and_isa_are_qemus(arch):
    qemu, ours = both(arch, [], ["info qtree"])
    want = [x for x in _qtree(qemu["info qtree"])]
    got = _qtree(ours["info qtree"])
    assert got == want


def test_more_than_2g_is_refused_as_qemu_does():
    q = run("qemu", "mipsel", ["-M", "malta", "-m", "3G", "-display", "none"])
    p = run("pysystem", "mipsel", ["-M", "malta", "-m", "3G", "-display", "none"])
    assert q.returncode == 1 and p.returncode == 1
    qline = q.stderr.decode().strip().split(": ", 1)[1]
    assert p.stderr.decode().strip() == f"pysystem-mipsel: {qline}"


@pytest.mark.parametrize("arch", ARCHES)
def test_fpga_status_and_board_id(arch):
    """The FPGA's STATUS register tells the byte order; the boot ROM holds the board ID."""
    cmds = ["xp /1wx 0x1f000208", "xp /1wx 0x1fc00010"]
    qemu, ours = both(arch, [], cmds)
    for c in cmds:
        assert ours[c] == qemu[c]
    assert ours[cmds[0]].split()[-1] == ("0x00000012" if arch == "mips" else "0x00000010")


def _malta(arch: str = "mipsel"):
    """A Malta object in this process, reset."""
    from pysystem.machines import load_all
    from pysystem.machines.malta import Malta
    load_all()
    m = Malta()
    m.set_arch(arch)
    m.realize()
    m.reset()
    return m


def test_keyboard_reset_answer_interrupts_twice_through_the_gt_iack():
    """atkbd's reset gets ACK then BAT: each byte is an i8259 request on IRQ 1 that the
    CPU sees on IP2 and the kernel acknowledges through the GT-64120's IACK register
    (an edge-triggered PIC needs the line to drop when the first byte is read)."""
    import sys
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from isa_rig import linux_pic_init
    m = _malta()
    io, cpu = 0x10000000, m.cpus[0]
    for op in linux_pic_init():
        m.address_space.write(io + op[1], op[2], 1)
    m.address_space.write(io + 0x64, 0x60, 1)
    m.address_space.write(io + 0x60, 0x47, 1)      # CTR: keyboard and mouse interrupts
    m.address_space.write(io + 0x60, 0xFF, 1)      # keyboard: reset
    got = []
    for _ in range(2):
        assert cpu.hw_ip & 1, "no interrupt on IP2"
        assert m.address_space.read(0x14000C34, 4) == 1     # IACK: vector of IRQ 1
        got.append(m.address_space.read(io + 0x60, 1))
        m.address_space.write(io + 0x20, 0x20, 1)           # EOI
    assert got == [0xFA, 0xAA]
    assert not cpu.hw_ip & 1


def test_info_pic_lists_the_slave_then_the_master():
    from pysystem.devices.i8259 import info_pic_text
    m = _malta()
    text = info_pic_text(m.pic)
    assert text.startswith("pic1: ") and "\npic0: " in text


def test_user_pci_device_and_ide_disk_are_placed_as_qemu_places_them(tmp_path):
    """-device virtio-blk-pci takes the next free slot after the VGA's; an IDE disk answers."""
    disk, blk = tmp_path / "hd.img", tmp_path / "vd.img"
    disk.write_bytes(bytes(1 << 20))
    blk.write_bytes(bytes(1 << 20))
    args = ["-drive", f"if=ide,index=0,file={disk},format=raw",
            "-drive", f"if=none,id=d0,file={blk},format=raw",
            "-device", "virtio-blk-pci,drive=d0"]
    qemu, ours = both("mipsel", args, ["info pci"])
    assert ours["info pci"] == qemu["info pci"]
    assert "device  19, function 0:" in ours["info pci"]
