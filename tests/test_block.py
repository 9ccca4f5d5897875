"""Block backends: raw images, read-only, snapshot overlay, flush, errors."""
import os
import random

import pytest

from pysystem.block import BlockError, close_all, open_drive, size_to_str


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    rng = random.Random(1)
    path.write_bytes(bytes(rng.getrandbits(8) for _ in range(8192)))
    return path


def test_read_write_reach_the_file(image):
    b = open_drive(str(image))
    assert b.size == 8192 and not b.readonly
    assert b.read(100, 50) == image.read_bytes()[100:150]
    b.write(1000, b"hello")
    assert image.read_bytes()[1000:1005] == b"hello"
    b.flush()
    b.close()
    assert b.closed
    b.close()   # idempotent


def test_flush_calls_fsync(image, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    b = open_drive(str(image))
    b.write(0, b"x")
    b.flush()
    assert len(calls) == 1
    b.close()                 # close flushes too
    assert len(calls) == 2


def test_bounds(image):
    b = open_drive(str(image))
    with pytest.raises(BlockError):
        b.read(8190, 4)
    with pytest.raises(BlockError):
        b.write(-1, b"x")
    b.close()
    with pytest.raises(BlockError):
        b.read(0, 1)


def test_read_only(image):
    before = image.read_bytes()
    b = open_drive(str(image), readonly=True)
    assert b.readonly
    with pytest.raises(BlockError):
        b.write(0, b"x")
    b.flush()
    b.close()
    assert image.read_bytes() == before


def test_snapshot_overlay(image):
    before = image.read_bytes()
    b = open_drive(str(image), snapshot=True)
    b.write(510, b"ABCD")                 # straddles sectors 0 and 1
    b.write(4096, b"Z" * 1024)            # whole sectors 8 and 9
    expect = bytearray(before)
    expect[510:514] = b"ABCD"
    expect[4096:5120] = b"Z" * 1024
    assert b.read(0, 8192) == bytes(expect)
    assert b.read(511, 2) == b"BC"
    assert b.read(3000, 2000) == bytes(expect[3000:5000])
    b.flush()
    b.close()
    assert image.read_bytes() == before


def test_snapshot_matches_plain_file_under_random_writes(image, tmp_path):
    copy = tmp_path / "copy.img"
    copy.write_bytes(image.read_bytes())
    before = image.read_bytes()
    snap, plain = open_drive(str(image), snapshot=True), open_drive(str(copy))
    rng = random.Random(7)
    for _ in range(200):
        off = rng.randrange(8192)
        n = rng.randrange(0, min(1500, 8192 - off) + 1)
        if rng.random() < 0.5:
            data = bytes(rng.getrandbits(8) for _ in range(n))
            snap.write(off, data)
            plain.write(off, data)
        else:
            assert snap.read(off, n) == plain.read(off, n)
    assert snap.read(0, 8192) == plain.read(0, 8192)
    close_all()
    assert image.read_bytes() == before


def test_unaligned_size_rounds_up_to_sectors(tmp_path):
    path = tmp_path / "odd.img"
    path.write_bytes(b"\x01" * 1000)
    b = open_drive(str(path))
    assert b.size == 1024
    assert b.read(990, 34) == b"\x01" * 10 + bytes(24)
    b.close()


def test_errors_are_one_line(tmp_path):
    with pytest.raises(BlockError, match=r"^Could not open '.*nope.img': No such file or directory$"):
        open_drive(str(tmp_path / "nope.img"))
    with pytest.raises(BlockError, match="Is a directory"):
        open_drive(str(tmp_path))
    (tmp_path / "x.img").write_bytes(bytes(512))
    with pytest.raises(BlockError, match="Image is not in qcow2 format"):
        open_drive(str(tmp_path / "x.img"), format="qcow2")
    with pytest.raises(BlockError, match="Unknown driver 'qcow3'"):
        open_drive(str(tmp_path / "x.img"), format="qcow3")
    if os.geteuid() != 0:
        os.chmod(tmp_path / "x.img", 0o444)
        with pytest.raises(BlockError, match="Permission denied"):
            open_drive(str(tmp_path / "x.img"))
        open_drive(str(tmp_path / "x.img"), readonly=True).close()


@pytest.mark.parametrize("value,text", [
    (1000000, "977 KiB"), (1500000000, "1.4 GiB"), (3072, "3 KiB"), (5000000000, "4.66 GiB"),
    (1 << 20, "1 MiB"), (512, "512 B"),
])
def test_size_to_str_as_qemu(value, text):
    # the figures were checked against qemu-system-arm 7.2's "Invalid SD card size" message
    assert size_to_str(value) == text
