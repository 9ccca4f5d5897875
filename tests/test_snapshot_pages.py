"""snapshot_pages: non-zero page runs, chunking and compression, restore in place."""
from __future__ import annotations

import mmap
import os
import random

import pytest

from pysystem import snapshot_pages as pages
from pysystem.block import open_drive


def _random_image(rng, size):
    buf = bytearray(size)
    for _ in range(rng.randrange(0, 12)):
        start = rng.randrange(size)
        n = min(size - start, rng.choice((1, 100, 4096, 5000, 70000, 1 << 20)))
        kind = rng.randrange(3)
        buf[start:start + n] = (os.urandom(n) if kind == 0 else
                                bytes([rng.randrange(1, 256)]) * n if kind == 1 else
                                (b"text %d " % start * (n // 5 + 1))[:n])
    return buf


def _round_trip(image, size):
    runs = pages.check(image.runs, [c[1] for c in image.chunks], size)
    return runs, [pages.decompress(*c) for c in image.chunks]


@pytest.mark.parametrize("seed", range(12))
def test_encode_then_apply_gives_the_same_bytes(seed):
    rng = random.Random(seed)
    size = rng.choice((4096, 12288, 3 << 20, (2 << 20) + 512, 1000))
    src = _random_image(rng, size)
    image = pages.encode(src, size)
    assert pages.encode(bytes(src), size) == image
    assert pages.encode_reader(lambda off, n: bytes(src[off:off + n]), size) == image
    runs, raw = _round_trip(image, size)
    dst = _random_image(random.Random(seed + 100), size)
    keep = dst
    pages.apply_buffer(dst, size, runs, raw)
    assert dst is keep and dst == src
    # anonymous mappings, private (RAM, flash) and shared: zero ranges are handed back to
    # the kernel, then whatever still reads non-zero (a shared mapping) is written
    for flags in (mmap.MAP_SHARED, mmap.MAP_PRIVATE):
        mm = mmap.mmap(-1, max(size, 1), flags=flags | mmap.MAP_ANONYMOUS)
        mm[:size] = bytes(_random_image(random.Random(seed + 200), size))
        pages.apply_buffer(mm, size, runs, pages.decompress_all(image.chunks))
        assert mm[:size] == bytes(src)


def test_zero_pages_cost_nothing_and_chunks_are_deterministic():
    size = 64 << 20
    buf = bytearray(size)
    buf[5 << 20:(5 << 20) + 10] = b"0123456789"
    buf[size - 1] = 1
    image = pages.encode(buf, size)
    assert pages.unpack_runs(image.runs) == [((5 << 20) // 4096, 1), (size // 4096 - 1, 1)]
    assert image.nonzero_bytes == 8192 and len(image.chunks) == 1
    assert image.chunks[0][0] == "zlib" and len(image.chunks[0][2]) < 100
    assert pages.encode(buf, size) == image
    noise = bytearray(os.urandom(3 << 20))
    image = pages.encode(noise, len(noise))
    assert [c[0] for c in image.chunks] == ["raw"] * 3


def test_bad_runs_and_chunks_are_refused():
    good = pages.encode(bytearray(b"x" * 10000), 10000)
    lens = [c[1] for c in good.chunks]
    assert pages.check(good.runs, lens, 10000) == [(0, 3)]
    with pytest.raises(ValueError):
        pages.check(good.runs, lens, 8192)            # runs past the end
    with pytest.raises(ValueError):
        pages.check(good.runs[:-1], lens, 10000)      # truncated run table
    with pytest.raises(ValueError):
        pages.check(good.runs, [lens[0] + 1], 10000)  # data does not match the runs
    with pytest.raises(ValueError):
        pages.check(good.runs + good.runs, lens * 2, 1 << 20)   # overlapping runs
    with pytest.raises(ValueError):
        pages.decompress("zlib", 10000, good.chunks[0][2][:-3])
    with pytest.raises(ValueError):
        pages.decompress("lzma", 1, b"x")


def test_apply_block_writes_only_what_differs(tmp_path):
    path = tmp_path / "disk.img"
    src = _random_image(random.Random(7), 3 << 20)
    path.write_bytes(bytes(src))
    disk = open_drive(str(path))
    try:
        image = pages.encode_reader(disk.read, disk.size)
        runs, raw = _round_trip(image, disk.size)
        assert pages.apply_block(disk, disk.size, runs, raw) == 0
        disk.write(4096, b"\xff" * 512)
        disk.write(disk.size - 512, b"\x01" * 512)
        written = pages.apply_block(disk, disk.size, runs, raw)
        assert 0 < written <= 2 << 20
        assert disk.read(0, disk.size) == bytes(src)
    finally:
        disk.close()
