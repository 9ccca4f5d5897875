"""The SD card model on its own: the command protocol as a controller sees it."""
import struct

import pytest

from pysystem.block import BlockError, open_drive
from pysystem.devices.sd import SDCard, crc7, make_csd


def card_for(tmp_path, size=1 << 20, **kw):
    path = tmp_path / "card.img"
    with open(path, "wb") as f:
        f.truncate(size)
    c = SDCard(drive=open_drive(str(path), **kw))
    c.realize()
    c.reset()
    return c, path


def r1(resp):
    return struct.unpack(">I", resp)[0]


def to_transfer(c):
    c.do_command(0, 0)
    c.do_command(8, 0x1AA)
    c.do_command(55, 0)
    c.do_command(41, 0x40FF8000)
    c.do_command(2, 0)
    rca = struct.unpack(">H", c.do_command(3, 0)[:2])[0]
    c.do_command(7, rca << 16)
    return rca


def test_crc7_known_vector():
    # CMD0 with argument 0 is sent as 0x40 00 00 00 00 with CRC7 0x4A (the famous 0x95 byte)
    assert crc7(bytes((0x40, 0, 0, 0, 0))) == 0x4A
    # CMD8 0x1AA: CRC byte 0x87
    assert (crc7(bytes((0x48, 0, 0, 1, 0xAA))) << 1) | 1 == 0x87


def test_cid_and_csd_carry_valid_crc(tmp_path):
    c, _ = card_for(tmp_path)
    for reg in (c.cid, c.csd):
        assert len(reg) == 16 and reg[15] == (crc7(reg[:15]) << 1) | 1


def test_two_gib_card_uses_1024_byte_read_blocks():
    csd = make_csd(2 << 30)
    assert csd[0] >> 6 == 0 and csd[5] & 0xF == 10
    bits = int.from_bytes(csd, "big")
    c_size, mult = (bits >> 62) & 0xFFF, (bits >> 47) & 7
    assert (c_size + 1) << (mult + 2) << 10 == 2 << 30


def test_illegal_command_no_response_then_flagged(tmp_path):
    c, _ = card_for(tmp_path)
    assert c.do_command(5, 0) == b""                 # SDIO probe
    resp = c.do_command(55, 0)
    assert r1(resp) & (1 << 22) and r1(resp) & (1 << 5)   # ILLEGAL_COMMAND, APP_CMD
    resp = c.do_command(41, 0)
    assert r1(resp) == 0x00FFFF00                    # enquiry: not powered up yet
    assert c.do_command(17, 0) == b""                # read in idle state: illegal


def test_if_cond_echo_and_voltage_mismatch(tmp_path):
    c, _ = card_for(tmp_path)
    assert c.do_command(8, 0x1AA) == struct.pack(">I", 0x1AA)
    c.do_command(0, 0)
    assert c.do_command(8, 0x2AA) == b""             # low-voltage range: no answer


def test_r1_reports_state_before_command(tmp_path):
    c, _ = card_for(tmp_path)
    rca = to_transfer(c)
    assert (r1(c.do_command(17, 0)) >> 9) & 0xF == 4        # was transfer
    assert c.data_ready()
    assert (r1(c.do_command(13, rca << 16)) >> 9) & 0xF == 5  # now sending data
    c.read_data(512)
    assert not c.data_ready()
    assert (r1(c.do_command(13, rca << 16)) >> 9) & 0xF == 4


def test_block_count_and_written_blocks(tmp_path):
    c, path = card_for(tmp_path)
    to_transfer(c)
    c.do_command(23, 2)
    c.do_command(25, 0)
    c.write_data(b"\x11" * 1024)
    assert c.state == 4                             # CMD23 count reached: back to transfer
    c.do_command(55, 0x4567 << 16)
    c.do_command(22, 0)
    assert c.read_data(4) == struct.pack(">I", 2)
    assert path.read_bytes()[:1024] == b"\x11" * 1024


def test_reset_returns_to_idle(tmp_path):
    c, _ = card_for(tmp_path)
    to_transfer(c)
    c.do_command(0, 0)
    assert c.state == 0 and c.rca == 0 and c.do_command(2, 0) == b""


@pytest.mark.parametrize("size", [1000000, 3 << 20, 1536])
def test_sizes_qemu_refuses(tmp_path, size):
    with pytest.raises(BlockError, match="Invalid SD card size"):
        card_for(tmp_path, size)


def test_size_rounded_to_sectors_like_qemu(tmp_path):
    c, _ = card_for(tmp_path, 1023)                   # QEMU sees 1024 bytes: accepted
    assert c.size == 1024
