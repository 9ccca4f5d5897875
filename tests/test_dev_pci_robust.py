"""A misbehaving guest never crashes the PCI side: random config cycles, GT register
writes and accesses to every BAR and fixed port, with drives, RAM and DMA behind them."""
import os
import random

import pytest

from malta_pci_rig import Rig

from pysystem.block import open_drive
from pysystem.devices.virtio_pci import VirtIOBlockPCI
from pysystem.memory import BusError, RAMRegion

FUNCS = ("piix4", "ide", "usb", "pm", "pcnet", "cirrus")


@pytest.mark.parametrize("seed", range(6))
def test_random_guest_accesses(tmp_path, seed):
    rng = random.Random(seed)
    disk = tmp_path / "d.img"
    disk.write_bytes(os.urandom(1 << 20))
    vdisk = tmp_path / "v.img"      # the virtio disk has its own image: the locks refuse
    vdisk.write_bytes(os.urandom(1 << 20))  # a second writer of d.img, as QEMU's do
    iso = tmp_path / "c.iso"
    iso.write_bytes(os.urandom(64 * 2048))
    rig = Rig(functions=FUNCS)
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 4 << 20))
    rig.dev["ide"].attach(0, open_drive(str(disk)), "hd")
    rig.dev["ide"].attach(3, open_drive(str(iso), readonly=True), "cd")
    vblk = VirtIOBlockPCI(drive=open_drive(str(vdisk)))
    vblk.realize()
    rig.bus.plug(vblk)
    for dev in list(rig.dev.values()) + [vblk]:
        dev.reset()
    devfns = [d.devfn for d in rig.bus.functions()]
    # give every BAR an address and enable the functions, as a BIOS would
    io, mem = 0x1000, 0x12000000
    for dev in rig.bus.functions():
        for bar in dev.BARS:
            if bar.kind == "io":
                rig.cfg_write(dev.devfn, bar.offset, io)
                io += max(bar.size, 0x40)
            elif bar.size <= 0x100000:
                rig.cfg_write(dev.devfn, bar.offset, mem | (1 if bar.index == 6 else 0))
                mem += 0x100000
        rig.cfg_write(dev.devfn, 0x04, 0x7)
    ports = list(range(0x170, 0x178)) + list(range(0x1F0, 0x1F8)) + [0x376, 0x3F6, 0xCF9] + \
        list(range(0x3B0, 0x3E0)) + list(range(0x1000, io)) + list(range(0x1100, 0x1110))
    for _ in range(4000):
        kind = rng.random()
        size = rng.choice((1, 2, 4))
        value = rng.getrandbits(32)
        target = None
        try:
            if kind < 0.25:
                devfn = rng.choice(devfns)
                reg = rng.randrange(0, 256, 4)
                if rng.random() < 0.5:
                    rig.cfg_read(devfn, reg)
                elif not (reg == 0x04 and rng.random() < 0.8):
                    rig.cfg_write(devfn, reg, value)
            elif kind < 0.3:
                off = rng.randrange(0, 0x1000, 4)
                if off not in (0x48, 0x50, 0x58, 0x60, 0x68, 0x80, 0x88, 0xCF8, 0xCFC):
                    rig.gt_write(off, value)
                else:
                    rig.gt_read(off)
            elif kind < 0.8:
                port = rng.choice(ports) & ~(size - 1)
                target = 0x10000000 + port
                if rng.random() < 0.5:
                    rig.io_read(port, size)
                else:
                    rig.io_write(port, value, size)
            else:
                addr = rng.randrange(0x12000000, mem, size)
                target = addr
                if rng.random() < 0.5:
                    rig.mem.read(addr, size)
                else:
                    rig.mem.write(addr, value, size)
        except BusError as e:
            # the access itself may be invalid (a size a region refuses): the guest's bus
            # error; a device's own DMA to nowhere must never surface here
            assert e.addr == target, e


def test_dma_to_nowhere_fails_the_command_not_the_emulator(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(os.urandom(1 << 20))
    rig = Rig(functions=FUNCS)
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 4 << 20))
    ide = rig.dev["ide"]
    ide.attach(0, open_drive(str(disk)), "hd")
    ide.reset()
    rig.cfg_write(ide.devfn, 0x20, 0xC001)
    rig.cfg_write(ide.devfn, 0x04, 0x05)
    for table, entry in ((0x30000000, None), (0x1000, (0x30000000, 512))):
        if entry:
            rig.mem.write_bytes(table, entry[0].to_bytes(4, "little") +
                                entry[1].to_bytes(2, "little") + b"\x00\x80")
        rig.io_write(0xC004, table, 4)
        rig.io_write(0xC000, 0x08, 1)
        rig.io_write(0x1F2, 1, 1)
        rig.io_write(0x1F6, 0xE0, 1)
        rig.io_write(0x1F7, 0xC8, 1)                     # READ DMA
        rig.io_write(0xC000, 0x09, 1)
        assert rig.io_read(0xC002, 1) & 0x02             # bus master ERROR
        assert rig.io_read(0x1F7, 1) & 0x01              # the command failed
        rig.io_write(0xC000, 0x00, 1)
