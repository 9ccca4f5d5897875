"""virtio-blk-pci: config space and capabilities against QEMU 7.2, and block requests
through both the modern (BAR4) and the legacy (BAR0) interface on a raw image."""
import os
import struct

import pytest

from malta_pci_rig import GT_BASE, Rig
from qtest_malta import qemu_malta

from pysystem.block import open_drive
from pysystem.devices.virtio_pci import VirtIOBlockPCI
from pysystem.memory import RAMRegion

DEVFN = 18 << 3
MODERN = 0x12000000
LEGACY = 0x1000
RAM = 0x100000


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(1 << 20))
    return str(path)


def _rig(image):
    rig = Rig(functions=("piix4", "pm"))
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 8 << 20))
    dev = VirtIOBlockPCI(drive=open_drive(image))
    dev.realize()
    rig.bus.plug(dev)
    dev.reset()
    return rig, dev


def test_config_space_and_masks_match_qemu(image):
    ops = []
    for reg in range(0, 256, 4):
        ops += [("w", GT_BASE + 0xCF8, 0x80000000 | DEVFN << 8 | reg, 4),
                ("r", GT_BASE + 0xCFC, 4),
                ("w", GT_BASE + 0xCFC, 0xFFFFFFFF, 4), ("r", GT_BASE + 0xCFC, 4),
                ("w", GT_BASE + 0xCFC, 0, 4), ("r", GT_BASE + 0xCFC, 4)]
    want = qemu_malta(ops, extra_args=("-nodefaults", "-drive",
                                       f"file={image},if=none,id=d0,format=raw",
                                       "-device", "virtio-blk-pci,drive=d0"))
    rig, dev = _rig(image)
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [f"{v:08x}" for v in got] == [f"{v:08x}" for v in want]


class ModernDriver:
    """What Linux's virtio_pci_modern does, reduced to one queue of 16 entries."""

    def __init__(self, rig, legacy=False):
        self.rig, self.mem, self.legacy = rig, rig.mem, legacy
        rig.cfg_write(DEVFN, 0x10, LEGACY)
        rig.cfg_write(DEVFN, 0x20, MODERN)
        rig.cfg_write(DEVFN, 0x24, 0)
        rig.cfg_write(DEVFN, 0x04, 0x07)
        rig.cfg_write(DEVFN, 0x3C, 10)
        self.desc, self.avail, self.used = RAM, RAM + 0x1000, RAM + 0x2000
        self.num, self.avail_idx = 16, 0

    def common(self, off, size=4, value=None):
        addr = MODERN + off
        if value is None:
            return self.mem.read(addr, size)
        self.mem.write(addr, value, size)

    def io(self, off, size=4, value=None):
        if value is None:
            return self.rig.io_read(LEGACY + off, size)
        self.rig.io_write(LEGACY + off, value, size)

    def setup(self):
        if self.legacy:
            self.io(0x12, 1, 0)
            self.io(0x12, 1, 3)
            host = self.io(0x00)
            self.io(0x04, 4, host & (1 << 9))        # FLUSH
            self.io(0x0E, 2, 0)
            self.num = self.io(0x0C, 2)
            self.avail = self.desc + 16 * self.num
            self.used = (self.avail + 6 + 2 * self.num + 4095) & ~4095
            self.io(0x08, 4, self.desc >> 12)
            self.io(0x12, 1, 7)
            return host
        self.common(0x14, 1, 0)
        self.common(0x14, 1, 3)
        self.common(0x00, 4, 1)
        high = self.common(0x04)
        assert high & 1, "VIRTIO_F_VERSION_1 offered"
        self.common(0x08, 4, 1)
        self.common(0x0C, 4, 1)
        self.common(0x08, 4, 0)
        self.common(0x0C, 4, 1 << 9)
        self.common(0x14, 1, 0x0B)
        assert self.common(0x14, 1) & 0x08
        self.common(0x16, 2, 0)
        assert self.common(0x18, 2) == 256
        self.common(0x18, 2, self.num)
        for off, addr in ((0x20, self.desc), (0x28, self.avail), (0x30, self.used)):
            self.common(off, 4, addr)
            self.common(off + 4, 4, 0)
        self.common(0x1C, 2, 1)
        self.common(0x14, 1, 0x0F)
        return high

    def request(self, rtype, sector, data=b"", nread=0):
        hdr, buf, status = RAM + 0x4000, RAM + 0x5000, RAM + 0x9000
        self.mem.write_bytes(hdr, struct.pack("<IIQ", rtype, 0, sector))
        descs = [(hdr, 16, 1)]
        if data:
            self.mem.write_bytes(buf, data)
            descs.append((buf, len(data), 1))
        if nread:
            descs.append((buf, nread, 3))
        descs.append((status, 1, 2))
        for i, (addr, length, flags) in enumerate(descs):
            last = i == len(descs) - 1
            self.mem.write_bytes(self.desc + 16 * i, struct.pack(
                "<QIHH", addr, length, (flags & 2) | (0 if last else 1), 0 if last else i + 1))
        self.mem.write_bytes(self.avail + 4 + 2 * (self.avail_idx % self.num), struct.pack("<H", 0))
        self.avail_idx += 1
        self.mem.write_bytes(self.avail, struct.pack("<HH", 0, self.avail_idx))
        if self.legacy:
            self.io(0x10, 2, 0)
        else:
            self.mem.write(MODERN + 0x3000 + 4 * 0, 0, 2)
        return self.mem.read_bytes(status, 1)[0], self.mem.read_bytes(buf, nread)


@pytest.mark.parametrize("legacy", (False, True))
def test_block_requests(image, legacy):
    rig, dev = _rig(image)
    drv = ModernDriver(rig, legacy)
    drv.setup()
    irq10 = rig.dev["piix4"].isa_irqs[10]       # slot 18 INTA -> PIRQA -> IRQ 10
    st, data = drv.request(0, 3, nread=1024)
    with open(image, "rb") as f:
        f.seek(3 * 512)
        assert st == 0 and data == f.read(1024)
    assert irq10.level == 1
    isr = drv.io(0x13, 1) if legacy else rig.mem.read(MODERN + 0x1000, 1)
    assert isr == 1 and irq10.level == 0
    payload = os.urandom(1536)
    st, _ = drv.request(1, 100, data=payload)
    assert st == 0
    st, _ = drv.request(4, 0)                   # FLUSH
    assert st == 0
    with open(image, "rb") as f:
        f.seek(100 * 512)
        assert f.read(1536) == payload
    st, _ = drv.request(0, 2047, nread=1024)    # past the end: IOERR
    assert st == 1


def test_device_config_capacity(image):
    rig, dev = _rig(image)
    drv = ModernDriver(rig)
    assert rig.mem.read(MODERN + 0x2000, 4) == (1 << 20) // 512
    assert drv.io(20, 4) == (1 << 20) // 512    # legacy config at 20
    assert rig.mem.read(MODERN + 0x12, 2) == 1  # one queue
    assert rig.mem.read(MODERN + 0x10, 2) == 0xFFFF


def test_status_zero_resets(image):
    rig, dev = _rig(image)
    drv = ModernDriver(rig)
    drv.setup()
    drv.common(0x14, 1, 0)
    drv.common(0x16, 2, 0)
    assert drv.common(0x1C, 2) == 0 and drv.common(0x14, 1) == 0


def test_info_pci_line_matches_qemu(image):
    import subprocess
    from pysystem.monitor.hmp_pci import info_pci_text
    from qtest_malta import qemu_binary
    qemu = qemu_binary(False)
    out = subprocess.run([qemu, "-M", "malta", "-S", "-display", "none", "-nodefaults",
                          "-monitor", "stdio", "-drive", f"file={image},if=none,id=d0,format=raw",
                          "-device", "virtio-blk-pci,drive=d0"], input="info pci\nquit\n",
                         capture_output=True, text=True, timeout=60).stdout
    want = out[out.index("  Bus  0, device  18"):].split("(qemu)")[0].rstrip()
    rig, dev = _rig(image)
    got = info_pci_text([rig.bus])
    assert got[got.index("  Bus  0, device  18"):] == want.replace("\r", "")
