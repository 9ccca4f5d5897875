"""PIIX4 IDE: ATA disks and an ATAPI CD-ROM on real raw images, PIO and bus-master DMA.

QEMU 7.2's Malta is the oracle for the task-file signatures, IDENTIFY (PACKET) DEVICE
data and ATAPI replies (INQUIRY, READ CAPACITY, REQUEST SENSE, MODE SENSE, READ TOC,
READ(10)); reads and writes are checked against the image file itself.
"""
import os
import struct

import pytest

from malta_pci_rig import PLACES, Rig
from qtest_malta import qemu_malta

from pysystem.block import open_drive

IDE = PLACES["ide"][2]
IO = 0x10000000
P = 0x1F0          # primary command block
RAM = 0x00100000   # where the DMA tests put their buffers (system RAM in the rig)


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(4 << 20))
    return str(path)


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "cd.iso"
    data = bytearray(os.urandom(300 * 2048))
    path.write_bytes(bytes(data))
    return str(path)


def _rig(drives):
    from pysystem.memory import RAMRegion
    rig = Rig(functions=("piix4", "ide", "pm"))
    ram = RAMRegion(None, "ram", 16 << 20)
    rig.sysmem.add_subregion(0, ram)
    ide = rig.dev["ide"]
    for index, (path, kind) in drives.items():
        ide.attach(index, open_drive(path) if path else None, kind)
    ide.reset()
    return rig


def _replay(rig, ops):
    out = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            out.append(rig.mem.read(op[1], op[2]))
    return out


def _taskfile_ops():
    return [("r", IO + P + r, 1) for r in range(1, 8)]


def _identify_ops(cmd):
    return ([("w", IO + P + 6, 0xA0, 1), ("w", IO + P + 7, cmd, 1), ("r", IO + P + 7, 1)] +
            [("r", IO + P, 2)] * 256 + [("r", IO + P + 7, 1)])


def _packet_ops(cdb, nbytes, limit=0xFFFE, P=P):
    cdb = bytes(cdb).ljust(12, b"\0")
    ops = [("w", IO + P + 6, 0xA0, 1), ("w", IO + P + 1, 0, 1),
           ("w", IO + P + 4, limit & 0xFF, 1), ("w", IO + P + 5, limit >> 8, 1),
           ("w", IO + P + 7, 0xA0, 1), ("r", IO + P + 7, 1), ("r", IO + P + 2, 1)]
    ops += [("w", IO + P, struct.unpack_from("<H", cdb, i)[0], 2) for i in range(0, 12, 2)]
    ops += [("r", IO + P + 7, 1), ("r", IO + P + 2, 1), ("r", IO + P + 4, 1),
            ("r", IO + P + 5, 1), ("r", IO + P + 1, 1)]
    ops += [("r", IO + P, 2)] * (nbytes // 2)
    ops += [("r", IO + P + 7, 1), ("r", IO + P + 2, 1), ("r", IO + P + 1, 1)]
    return ops


@pytest.mark.parametrize("kind,cmd", (("hd", 0xEC), ("cd", 0xA1), ("cd", 0xEC)))
def test_identify_and_signature_match_qemu(image, kind, cmd):
    ops = _taskfile_ops() + _identify_ops(cmd) + _taskfile_ops()
    media = ",media=cdrom" if kind == "cd" else ""
    want = qemu_malta(ops, extra_args=("-drive", f"file={image},if=ide,format=raw{media}"))
    got = _replay(_rig({0: (image, kind)}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


def test_empty_channel_and_absent_slave_match_qemu(image):
    """QEMU's Malta has an empty CD-ROM at index 2 unless -nodefaults: so does the rig."""
    ops = _taskfile_ops() + [("w", IO + P + 6, 0xB0, 1)] + _taskfile_ops() + \
        [("r", IO + 0x3F6, 1), ("r", IO + 0x177, 1), ("r", IO + 0x171, 1), ("r", IO + 0x376, 1)]
    want = qemu_malta(ops, extra_args=("-drive", f"file={image},if=ide,format=raw"))
    rig = _rig({0: (image, "hd"), 2: (None, "cd")})
    got = _replay(rig, ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]
    # quit, as a user would, before QEMU opens the image (its lock refuses a second writer)
    rig.dev["ide"].channels[0].drives[0].close()
    want = qemu_malta(ops, extra_args=("-drive", f"file={image},if=ide,format=raw",
                                       "-nodefaults"))
    got = _replay(_rig({0: (image, "hd")}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


@pytest.mark.parametrize("cdb,n", (
    ((0x12, 0, 0, 0, 36), 36),                          # INQUIRY
    ((0x25,), 8),                                        # READ CAPACITY
    ((0x03, 0, 0, 0, 18), 18),                           # REQUEST SENSE
    ((0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64), 36),            # MODE SENSE(10) capabilities
    ((0x5A, 0, 0x01, 0, 0, 0, 0, 0, 64), 16),            # MODE SENSE(10) error recovery
    ((0x43, 0, 0, 0, 0, 0, 0, 0, 64), 20),               # READ TOC
    ((0x43, 2, 0, 0, 0, 0, 0, 0, 64), 20),               # READ TOC, MSF
    ((0x00,), 0),                                        # TEST UNIT READY
    ((0xFF,), 0),                                        # unknown opcode
    ((0x28, 0, 0, 0, 0x10, 0, 0, 0, 1), 0),              # READ(10) past the end
    ((0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8), 8),              # GET EVENT STATUS, media
    ((0x51, 0, 0, 0, 0, 0, 0, 0, 34), 34),               # READ DISC INFORMATION
    ((0x1A, 0, 0x2A, 0, 64), 0),                          # MODE SENSE(6): refused
    ((0xBD, 0, 0, 0, 0, 0, 0, 0, 0, 8), 8),              # MECHANISM STATUS
    ((0x46, 0, 0, 0, 0, 0, 0, 0, 64), 20),               # GET CONFIGURATION
    ((0x43, 0, 0, 0, 0, 0, 0, 0, 64, 0x40), 12),         # READ TOC, multi-session
))
def test_atapi_packets_match_qemu(iso, cdb, n):
    ops = _packet_ops(cdb, n) + _packet_ops((0x03, 0, 0, 0, 18), 18)
    want = qemu_malta(ops, extra_args=("-drive", f"file={iso},if=ide,format=raw,media=cdrom"))
    got = _replay(_rig({0: (iso, "cd")}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


@pytest.mark.parametrize("cdb,n", (((0x00,), 0), ((0x25,), 0), ((0x03, 0, 0, 0, 18), 18),
                                   ((0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8), 8),
                                   ((0x46, 0, 0, 0, 0, 0, 0, 0, 64), 20)))
def test_empty_cdrom_matches_qemu(cdb, n):
    """QEMU's default Malta has an empty CD-ROM at index 2 (secondary master)."""
    ops = _packet_ops(cdb, n, P=0x170) + _packet_ops((0x03, 0, 0, 0, 18), 18, P=0x170)
    want = qemu_malta(ops)
    got = _replay(_rig({2: (None, "cd")}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


def test_atapi_pio_respects_byte_count_limit(iso):
    ops = _packet_ops((0x28, 0, 0, 0, 0, 1, 0, 0, 1), 0, limit=512)
    rig = _rig({0: (iso, "cd")})
    _replay(rig, ops)
    data = bytearray()
    for _ in range(4):
        assert rig.io_read(P + 7, 1) == 0x58 and rig.io_read(P + 2, 1) == 0x02
        assert rig.io_read(P + 4, 1) | rig.io_read(P + 5, 1) << 8 == 512
        data += b"".join(rig.io_read(P, 2).to_bytes(2, "little") for _ in range(256))
    assert rig.io_read(P + 7, 1) == 0x50 and rig.io_read(P + 2, 1) == 0x03
    with open(iso, "rb") as f:
        f.seek(2048)
        assert bytes(data) == f.read(2048)


def _pio_command(rig, cmd, lba, count, lba48=False):
    if lba48:
        for reg, v in ((2, count >> 8), (3, lba >> 24), (4, lba >> 32), (5, lba >> 40)):
            rig.io_write(P + reg, v & 0xFF, 1)
    rig.io_write(P + 2, count & 0xFF, 1)
    rig.io_write(P + 3, lba & 0xFF, 1)
    rig.io_write(P + 4, (lba >> 8) & 0xFF, 1)
    rig.io_write(P + 5, (lba >> 16) & 0xFF, 1)
    rig.io_write(P + 6, 0xE0 | (0 if lba48 else (lba >> 24) & 0xF), 1)
    rig.io_write(P + 7, cmd, 1)


@pytest.mark.parametrize("read_cmd,write_cmd,lba48", ((0x20, 0x30, False), (0x24, 0x34, True),
                                                      (0xC4, 0xC5, False), (0x29, 0x39, True)))
def test_pio_read_and_write_reach_the_image(image, read_cmd, write_cmd, lba48):
    rig = _rig({0: (image, "hd")})
    irq = rig.dev["ide"].irqs[0]
    _pio_command(rig, read_cmd, 100, 20, lba48)
    got = bytearray()
    for _ in range(20 * 256):
        got += rig.io_read(P, 2).to_bytes(2, "little")
    assert rig.io_read(P + 7, 1) == 0x50
    with open(image, "rb") as f:
        f.seek(100 * 512)
        assert bytes(got) == f.read(20 * 512)
    payload = os.urandom(20 * 512)
    _pio_command(rig, write_cmd, 2000, 20, lba48)
    assert irq.level == 0 and rig.io_read(P + 7, 1) == 0x58   # first block: DRQ, no IRQ
    for i in range(0, len(payload), 4):
        rig.io_write(P, struct.unpack_from("<I", payload, i)[0], 4)
    assert irq.level == 1 and rig.io_read(P + 7, 1) == 0x50 and irq.level == 0
    rig.io_write(P + 7, 0xE7, 1)                               # FLUSH CACHE
    assert rig.io_read(P + 7, 1) == 0x50
    with open(image, "rb") as f:
        f.seek(2000 * 512)
        assert f.read(20 * 512) == payload
    assert rig.io_read(P + 3, 1) == (2019 & 0xFF)              # LBA of the last sector


def _setup_prd(rig, entries):
    table = RAM + 0x10000
    raw = b""
    for i, (addr, count) in enumerate(entries):
        raw += struct.pack("<IHH", addr, count & 0xFFFF, 0x8000 if i == len(entries) - 1 else 0)
    rig.mem.write_bytes(table, raw)
    ide = rig.dev["ide"]
    rig.cfg_write(IDE, 0x20, 0xC001)
    rig.cfg_write(IDE, 0x04, 0x05)                             # I/O + bus master
    rig.io_write(0xC004, table, 4)
    rig.io_write(0xC002, 0x06, 1)                              # clear INT and ERROR
    return ide


def test_dma_read_and_write(image):
    rig = _rig({0: (image, "hd")})
    _setup_prd(rig, [(RAM, 4096), (RAM + 0x8000, 4096)])
    rig.io_write(0xC000, 0x08, 1)                              # direction: to memory
    _pio_command(rig, 0xC8, 8, 16)                             # READ DMA
    assert rig.io_read(0xC002, 1) & 0x04 == 0
    rig.io_write(0xC000, 0x09, 1)                              # start
    assert rig.io_read(0xC002, 1) & 0x07 == 0x04               # INT, no longer active
    assert rig.dev["ide"].irqs[0].level == 1
    rig.io_write(0xC000, 0x08, 1)
    assert rig.io_read(P + 7, 1) == 0x50
    with open(image, "rb") as f:
        f.seek(8 * 512)
        want = f.read(16 * 512)
    assert rig.mem.read_bytes(RAM, 4096) + rig.mem.read_bytes(RAM + 0x8000, 4096) == want
    payload = os.urandom(8192)
    rig.mem.write_bytes(RAM + 0x20000, payload)
    _setup_prd(rig, [(RAM + 0x20000, 0x2000)])
    rig.io_write(0xC000, 0x01, 1)                              # started before the command
    _pio_command(rig, 0x35, 0x100, 16, lba48=True)             # WRITE DMA EXT
    assert rig.io_read(0xC002, 1) & 0x07 == 0x04
    rig.io_write(P + 7, 0xEA, 1)                               # FLUSH CACHE EXT
    with open(image, "rb") as f:
        f.seek(0x100 * 512)
        assert f.read(8192) == payload


def test_dma_with_short_prd_table_fails(image):
    rig = _rig({0: (image, "hd")})
    _setup_prd(rig, [(RAM, 1024)])
    rig.io_write(0xC000, 0x08, 1)
    _pio_command(rig, 0xC8, 0, 4)
    rig.io_write(0xC000, 0x09, 1)
    assert rig.io_read(0xC002, 1) & 0x02 and rig.io_read(P + 7, 1) & 0x01


def test_atapi_dma_read(iso):
    rig = _rig({2: (iso, "cd")})
    _setup_prd(rig, [(RAM, 4096)])
    S = 0x170
    cdb = bytes((0x28, 0, 0, 0, 0, 3, 0, 0, 2)).ljust(12, b"\0")
    rig.io_write(0xC008 + 4, RAM + 0x10000, 4)                 # secondary's PRD table
    rig.io_write(0xC008, 0x08, 1)
    rig.io_write(S + 6, 0xA0, 1)
    rig.io_write(S + 1, 1, 1)                                  # DMA
    rig.io_write(S + 7, 0xA0, 1)
    for i in range(0, 12, 2):
        rig.io_write(S, struct.unpack_from("<H", cdb, i)[0], 2)
    rig.io_write(0xC008, 0x09, 1)
    assert rig.io_read(0xC00A, 1) & 0x07 == 0x04
    assert rig.io_read(S + 7, 1) == 0x50 and rig.io_read(S + 2, 1) == 0x03
    with open(iso, "rb") as f:
        f.seek(3 * 2048)
        assert rig.mem.read_bytes(RAM, 4096) == f.read(4096)


def test_out_of_range_and_unknown_commands_abort(image):
    rig = _rig({0: (image, "hd")})
    _pio_command(rig, 0x20, 8190, 4)
    assert rig.io_read(P + 7, 1) & 0x01 and rig.io_read(P + 1, 1) == 0x10
    rig.io_write(P + 7, 0xB0, 1)                               # SMART: not modelled
    assert rig.io_read(P + 7, 1) == 0x41 and rig.io_read(P + 1, 1) == 0x04


def test_geometry_from_partition_table(tmp_path):
    from pysystem.devices.ata import guess_geometry
    mbr = bytearray(512)
    mbr[446 + 5], mbr[446 + 6] = 31, 32                         # end head 31, sector 32
    struct.pack_into("<I", mbr, 446 + 12, 1000)
    mbr[510:512] = b"\x55\xaa"
    path = tmp_path / "p.img"
    path.write_bytes(bytes(mbr) + bytes((8 << 20) - 512))
    drive = open_drive(str(path))
    assert guess_geometry(drive) == (16, 16, 63)                # heads > 16: 16/63
    drive.close()                       # the image's lock goes with it: it can be reopened
    mbr[446 + 5] = 15
    path.write_bytes(bytes(mbr) + bytes((8 << 20) - 512))
    assert guess_geometry(open_drive(str(path))) == (16384 // 16 // 32, 16, 32)


def test_state_round_trip_mid_transfer(image):
    rig = _rig({0: (image, "hd")})
    _pio_command(rig, 0x20, 0, 2)
    first = rig.io_read(P, 2)
    ch = rig.dev["ide"].channels[0]
    blob = ch.state_bytes()
    rig.io_read(P, 2)
    ch.load_state_bytes(blob)
    assert ch.state_bytes() == blob
    with open(image, "rb") as f:
        data = f.read(1024)
    assert first == struct.unpack_from("<H", data, 0)[0]
    assert rig.io_read(P, 2) == struct.unpack_from("<H", data, 2)[0]


def test_software_reset_matches_qemu(image, iso):
    """libata's probe: register writes, SRST with nIEN, release, signatures of both units
    on a channel with a disk and one with a CD-ROM (absent slaves on both)."""
    def tf(base):
        return [("r", IO + base + r, 1) for r in range(1, 8)]
    ops = []
    for base, ctl in ((0x1F0, 0x3F6), (0x170, 0x376)):
        ops += [("w", IO + base + 2, 0x55, 1), ("w", IO + base + 3, 0xAA, 1),
                ("w", IO + base + 6, 0xB0, 1), ("w", IO + base + 2, 0xAA, 1),
                ("w", IO + base + 3, 0x55, 1)] + tf(base)
        ops += [("w", IO + ctl, 0x06, 1)] + tf(base) + [("r", IO + ctl, 1)]
        ops += [("w", IO + ctl, 0x02, 1)] + tf(base) + [("r", IO + ctl, 1)]
        ops += [("w", IO + base + 6, 0xA0, 1)] + tf(base) + [("w", IO + base + 6, 0xB0, 1)]
        ops += tf(base) + [("w", IO + ctl, 0x00, 1)]
    want = qemu_malta(ops, extra_args=(
        "-drive", f"file={image},if=ide,format=raw,index=0",
        "-drive", f"file={iso},if=ide,format=raw,media=cdrom,index=2"))
    got = _replay(_rig({0: (image, "hd"), 2: (iso, "cd")}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


NON_DATA = {
    "set-features-xfer": [(1, 0x03), (2, 0x45), (7, 0xEF)],
    "set-features-bad": [(1, 0x99), (7, 0xEF)],
    "set-multiple-8": [(2, 8), (7, 0xC6)],
    "set-multiple-3": [(2, 3), (7, 0xC6)],
    "set-multiple-0": [(2, 0), (7, 0xC6)],
    "check-power": [(7, 0xE5)],
    "initialize-params": [(2, 32), (6, 0xA7), (7, 0x91)],
    "idle-immediate": [(7, 0xE1)],
    "standby": [(7, 0xE0)],
    "sleep": [(7, 0xE6)],
    "nop": [(7, 0x00)],
    "recalibrate": [(7, 0x10)],
    "seek": [(7, 0x70)],
    "native-max": [(6, 0xE0), (7, 0xF8)],
    "native-max-ext": [(6, 0xE0), (7, 0x27)],
    "verify": [(2, 4), (3, 10), (6, 0xE0), (7, 0x40)],
    "device-reset": [(7, 0x08)],
    "read-log-ext": [(7, 0x2F)],
    "flush-on-cd": [(7, 0xE7)],
}


@pytest.mark.parametrize("kind", ("hd", "cd"))
@pytest.mark.parametrize("name", sorted(NON_DATA))
def test_non_data_commands_match_qemu(image, iso, kind, name):
    """Each command, the task file after it, then IDENTIFY: status, error, registers and
    identify words (INITIALIZE DEVICE PARAMETERS and SET MULTIPLE show in the first
    IDENTIFY) as QEMU 7.2 leaves them."""
    ident = 0xEC if kind == "hd" else 0xA1
    ops = [("w", IO + P + 6, 0xA0, 1)] + [("w", IO + P + r, v, 1) for r, v in NON_DATA[name]]
    ops += [("r", IO + P + r, 1) for r in range(1, 8)]
    ops += _identify_ops(ident)
    path = image if kind == "hd" else iso
    media = "" if kind == "hd" else ",media=cdrom"
    want = qemu_malta(ops, extra_args=("-drive", f"file={path},if=ide,format=raw{media}"))
    got = _replay(_rig({0: (path, kind)}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


def test_identify_data_is_built_once_as_qemu_does(image):
    ops = _identify_ops(0xEC) + [("w", IO + P + 2, 32, 1), ("w", IO + P + 6, 0xA7, 1),
                                 ("w", IO + P + 7, 0x91, 1), ("w", IO + P + 2, 8, 1),
                                 ("w", IO + P + 7, 0xC6, 1)] + _identify_ops(0xEC)
    want = qemu_malta(ops, extra_args=("-drive", f"file={image},if=ide,format=raw"))
    got = _replay(_rig({0: (image, "hd")}), ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]
