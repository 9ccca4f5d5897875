"""Black-box tests of the CFI flash (cfi.pflash01) with vexpress's parameters.

The flash sits in an address space at 0x40000000 with an alias of it at 0 (as the
board maps flash0), so ROMD reads (straight from the contents) and I/O-mode reads
(status, IDs, CFI) are both exercised through real guest accesses.
"""
import pytest

from pysystem.block import open_drive
from pysystem.devices.pflash_cfi01 import PFlashCFI01
from pysystem.memory import AddressSpace, AliasRegion, ContainerRegion
from pysystem.qom import QOMError

from qtest_oracle import qemu_vexpress

BASE = 0x40000000
SECTOR = 256 * 1024
SIZE = 64 * 1024 * 1024
VEXPRESS = {"num-blocks": SIZE // SECTOR, "sector-length": SECTOR, "width": 4,
            "device-width": 2, "id0": 0x89, "id1": 0x18}


def w2(cmd):
    """A command as the guest writes it to both 16-bit chips of the bank."""
    return cmd | cmd << 16


class Rig:
    def __init__(self, drive=None, **overrides):
        props = dict(VEXPRESS, name="vexpress.flash0", **overrides)
        self.dev = PFlashCFI01(drive=drive, **props)
        self.dev.realize()
        self.dev.reset()
        root = ContainerRegion(None, "system", 1 << 32)
        region = self.dev.mmio[0]
        root.add_subregion(BASE, region)
        root.add_subregion(0, AliasRegion(None, "vexpress.flashalias", region, 0, region.size))
        self.space = AddressSpace("memory", root)

    def read(self, addr, size=4):
        return self.space.read(addr, size)

    def write(self, addr, value, size=4):
        self.space.write(addr, value, size)

    def romd(self):
        return self.dev.mmio[0].romd_mode


def test_reset_state_reads_zero_in_romd_mode():
    r = Rig()
    assert r.romd() and r.dev.mmio[0].kind == "romd"
    assert r.read(BASE) == 0 and r.read(BASE + SIZE - 4) == 0 and r.read(0) == 0


def test_cfi_query_table():
    r = Rig()
    r.write(BASE, w2(0x98))
    assert not r.romd()
    q = [r.read(BASE + 4 * i) & 0xFFFF for i in range(0x10, 0x40)]
    assert bytes(q[:3]) == b"QRY"
    assert q[0x13 - 0x10:0x15 - 0x10] == [0x01, 0x00]        # Intel/Sharp command set
    assert q[0x27 - 0x10] == 25                             # 32 MiB per chip (2 chips)
    assert q[0x2A - 0x10] == 0x0B                           # 2 KiB write buffer
    assert q[0x2C - 0x10] == 1                              # one erase region
    blocks = q[0x2D - 0x10] | q[0x2E - 0x10] << 8
    size = (q[0x2F - 0x10] | q[0x30 - 0x10] << 8) * 256
    assert (blocks + 1, size) == (256, 128 * 1024)          # per chip: half a 256 KiB sector
    assert bytes(q[0x31 - 0x10:0x36 - 0x10]) == b"PRI10"
    # every 32-bit word carries the answer of both chips
    assert r.read(BASE + 0x40) == 0x00510051
    assert r.read(BASE + 0x42, 2) == 0x0051 and r.read(BASE + 0x41, 1) == 0x51
    assert r.read(BASE + 4 * 0x52) == 0                     # past the table
    r.write(BASE, w2(0xF0))                                 # stays in query mode (QEMU)
    assert r.read(BASE + 0x40) == 0x00510051
    r.write(BASE, w2(0xFF))
    assert r.romd() and r.read(BASE + 0x40) == 0


def test_read_identifier_and_status():
    r = Rig()
    r.write(BASE, w2(0x90))
    assert r.read(BASE) == 0x00890089 and r.read(BASE + 4) == 0x00180018
    assert r.read(BASE + 8) == 0 and r.read(BASE + 4, 2) == 0x18
    r.write(BASE, w2(0x70))
    assert r.read(BASE) == 0x00800080 and r.read(BASE + 2, 2) == 0x80
    r.write(BASE, w2(0x50))                                 # clear status, read array
    assert r.romd()
    r.write(BASE, w2(0x70))
    assert r.read(BASE) == 0


def test_word_program_erase_and_alias():
    r = Rig()
    r.write(BASE, w2(0x40))
    r.write(BASE + 0x10, 0x12345678)
    assert r.read(BASE + 0x10) == 0x00800080                # status until read array
    r.write(BASE, w2(0xFF))
    assert r.read(BASE + 0x10) == 0x12345678 and r.read(0x10) == 0x12345678
    r.write(BASE + SECTOR, w2(0x20))
    r.write(BASE + SECTOR, w2(0xD0))
    assert r.read(BASE + SECTOR) == 0x00800080
    r.write(BASE + SECTOR, w2(0xFF))
    assert r.read(BASE + SECTOR) == 0xFFFFFFFF
    assert r.read(BASE + 2 * SECTOR - 4) == 0xFFFFFFFF
    assert r.read(BASE + 2 * SECTOR) == 0 and r.read(BASE + SECTOR - 4) == 0
    assert r.read(BASE + 0x10) == 0x12345678                # other sector untouched


def test_buffered_program():
    r = Rig()
    r.write(BASE, w2(0xE8))
    assert r.read(BASE) == 0x00800080
    r.write(BASE, w2(0x01))                                 # two words (count - 1)
    r.write(BASE + 0x100, 0xAABBCCDD)
    r.write(BASE + 0x104, 0x11223344)
    r.write(BASE, w2(0xD0))
    assert r.read(BASE) == 0x00800080
    r.write(BASE, w2(0xFF))
    assert r.read(BASE + 0x100) == 0xAABBCCDD and r.read(BASE + 0x104) == 0x11223344


def test_unknown_command_returns_to_read_array():
    r = Rig()
    r.write(BASE, w2(0x40))
    r.write(BASE + 0x100, 0xCAFEF00D)
    r.write(BASE, w2(0x33))
    assert r.romd() and r.read(BASE + 0x100) == 0xCAFEF00D


SMALL = {"num-blocks": 4}   # 1 MiB: drive tests need not write 64 MiB files


def test_drive_contents_writes_and_readonly(tmp_path):
    path = tmp_path / "flash.img"
    image = bytearray(b"\xff" * 4 * SECTOR)
    image[0:8] = b"BOOTCODE"
    path.write_bytes(image)
    drive = open_drive(str(path))
    r = Rig(drive=drive, **SMALL)
    assert r.read(0, 4) == int.from_bytes(b"BOOT", "little")
    r.write(BASE, w2(0x20))                                 # erase sector 0
    r.write(BASE, w2(0xD0))
    r.write(BASE, w2(0x40))
    r.write(BASE + 0x1000, 0x00000000)
    with open(path, "rb") as f:
        data = f.read(0x1004)
    assert data[:8] == b"\xff" * 8 and data[0x1000:0x1004] == b"\0\0\0\0"
    drive.close()

    ro = open_drive(str(path), readonly=True)
    r = Rig(drive=ro, **SMALL)
    r.write(BASE, w2(0x40))
    r.write(BASE + 0x2000, 0)
    assert r.read(BASE) == 0x00900090                       # ready | program error
    r.write(BASE, w2(0x50))
    r.write(BASE, w2(0x20))
    assert r.read(BASE) == 0x00A000A0                       # ready | erase error
    r.write(BASE, w2(0xFF))
    assert r.read(BASE + 0x2000) == 0xFFFFFFFF
    ro.close()


def test_snapshot_drive_keeps_file(tmp_path):
    path = tmp_path / "flash.img"
    path.write_bytes(b"\0" * 4 * SECTOR)
    drive = open_drive(str(path), snapshot=True)
    r = Rig(drive=drive, **SMALL)
    r.write(BASE, w2(0x20))
    r.write(BASE, w2(0xD0))
    r.write(BASE, w2(0xFF))
    assert r.read(BASE) == 0xFFFFFFFF
    drive.close()
    with open(path, "rb") as f:
        assert f.read(16) == b"\0" * 16


def test_a_smaller_image_through_erased_tail(tmp_path):
    """A ``-drive if=mtd`` image smaller than the flash (block.ErasedTail, as the boards
    hand it over): its bytes, then erased ones; a program inside the image reaches the
    file, one past its end stays in the flash's memory and the file does not grow."""
    from pysystem.block import ErasedTail
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"BOOTCODE" + bytes(range(92)))        # 100 bytes
    base = open_drive(str(path), format="raw")
    r = Rig(drive=ErasedTail(base, 4 * SECTOR, 100), **SMALL)
    assert r.read(0) == int.from_bytes(b"BOOT", "little")
    assert r.read(BASE + 96) == int.from_bytes(bytes(range(88, 92)), "little")
    assert r.read(BASE + 100) == 0xFFFFFFFF and r.read(BASE + 4 * SECTOR - 4) == 0xFFFFFFFF
    r.write(BASE, w2(0x40))
    r.write(BASE + 8, 0x11223344)                           # inside the image
    r.write(BASE, w2(0x40))
    r.write(BASE + 0x1000, 0x55667788)                      # past its end
    r.write(BASE, w2(0xFF))
    assert r.read(BASE + 8) == 0x11223344 and r.read(BASE + 0x1000) == 0x55667788
    base.close()
    assert path.read_bytes() == b"BOOTCODE" + bytes.fromhex("44332211") + bytes(range(4, 92))


def test_drive_of_wrong_size_is_refused(tmp_path):
    path = tmp_path / "small.img"
    path.write_bytes(b"\0" * 4096)
    drive = open_drive(str(path))
    with pytest.raises(QOMError, match="device requires 67108864 bytes, block backend "
                                       "provides 4096 bytes"):
        Rig(drive=drive)
    drive.close()


def test_missing_properties_are_refused():
    with pytest.raises(QOMError, match="sector-length"):
        PFlashCFI01(name="x").realize()
    with pytest.raises(QOMError, match="name"):
        PFlashCFI01(**VEXPRESS).realize()


def test_reset_and_state_round_trip():
    r = Rig()
    r.write(BASE, w2(0x98))
    state = r.dev.save_state()
    other = Rig()
    other.dev.load_state(state)
    assert not other.romd() and other.read(BASE + 0x40) == 0x00510051
    r.dev.reset()
    assert r.romd() and r.read(BASE + 0x40) == 0


ORACLE_OPS = [
    ("w", 0x0, w2(0x98)), *[("r", 4 * i) for i in range(0x10, 0x42)], ("r", 0x148),
    ("w", 0x0, w2(0xFF)), ("r", 0x40),
    ("w", 0x0, w2(0x90)), ("r", 0x0), ("r", 0x4), ("r", 0x8), ("r", 0x404),
    ("w", 0x0, w2(0x70)), ("r", 0x0),
    ("w", 0x0, w2(0x40)), ("w", 0x10, 0x12345678), ("r", 0x10),
    ("w", 0x0, w2(0xFF)), ("r", 0x10),
    ("w", SECTOR, w2(0x20)), ("w", SECTOR, w2(0xD0)), ("r", SECTOR),
    ("w", SECTOR, w2(0xFF)), ("r", SECTOR), ("r", 2 * SECTOR - 4), ("r", 2 * SECTOR),
    ("w", 0x0, w2(0xE8)), ("r", 0x0), ("w", 0x0, w2(0x01)),
    ("w", 0x100, 0xAABBCCDD), ("w", 0x104, 0x11223344), ("r", 0x0),
    ("w", 0x0, w2(0xD0)), ("r", 0x0), ("w", 0x0, w2(0xFF)), ("r", 0x100), ("r", 0x104),
    ("w", 0x0, w2(0x60)), ("w", 0x0, w2(0xD0)), ("r", 0x0),
    ("w", 0x0, w2(0x50)), ("r", 0x0), ("w", 0x0, w2(0x70)), ("r", 0x0),
    ("w", 0x0, w2(0x33)), ("r", 0x100),
]


def test_commands_match_qemu():
    expected = qemu_vexpress([(op[0], BASE + op[1]) + op[2:] for op in ORACLE_OPS])
    r = Rig()
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(BASE + op[1]))
        else:
            r.write(BASE + op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]
