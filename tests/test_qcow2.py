"""qcow2 through pysystem's block layer, with the real qemu-img as the oracle.

Each test makes images with ``qemu-img create/convert``, writes random patterns through
pysystem (and the same writes to a raw image), then asks ``qemu-img compare`` whether
the qcow2 reads as the raw one and ``qemu-img check`` whether its tables and refcounts
are clean.
"""
import os
import random
import subprocess

import pytest

from pysystem.block import BlockError, close_all, open_drive
from tools import program

MiB = 1 << 20


def need(tool: str) -> str:
    return program(tool)


def img(*args, cwd=None) -> str:
    proc = subprocess.run([need("qemu-img"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def check_clean(path) -> None:
    proc = subprocess.run([need("qemu-img"), "check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and "No errors were found on the image." in proc.stdout, \
        proc.stdout + proc.stderr
    assert "leaked" not in proc.stdout, proc.stdout


def same(a, b, fmt_a="qcow2", fmt_b="raw") -> None:
    proc = subprocess.run([need("qemu-img"), "compare", "-f", fmt_a, "-F", fmt_b, str(a), str(b)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def random_writes(backends, size: int, count: int, seed: int, max_sectors: int = 40,
                  read_back: bool = True) -> None:
    """The same random writes (data, zeros, unaligned) to every backend; reads compared."""
    rng = random.Random(seed)
    for _ in range(count):
        off = rng.randrange(size)
        if rng.random() < 0.7:
            off -= off % 512
        n = min(size - off, rng.randrange(1, max_sectors) * 512 + rng.choice((0, 0, 7)))
        data = bytes(n) if rng.random() < 0.15 else rng.randbytes(n)
        for b in backends:
            b.write(off, data)
        if read_back:
            at = rng.randrange(size)
            k = min(size - at, rng.randrange(1, 70000))
            first = backends[0].read(at, k)
            assert all(b.read(at, k) == first for b in backends[1:])


@pytest.fixture(autouse=True)
def _close():
    yield
    close_all()


@pytest.mark.parametrize("opts", [
    "compat=0.10",                                   # version 2
    "compat=1.1",                                    # version 3
    "compat=1.1,cluster_size=512",                   # L2 tables spread over the file
    "compat=1.1,cluster_size=512,refcount_bits=64",  # the refcount table must grow
    "compat=1.1,cluster_size=4096,refcount_bits=1",
    "compat=0.10,cluster_size=2M",
])
def test_random_writes_match_a_raw_image(tmp_path, opts):
    size = 24 * MiB
    q, r = tmp_path / "d.qcow2", tmp_path / "d.raw"
    img("create", "-q", "-f", "qcow2", "-o", opts, q, size)
    img("create", "-q", "-f", "raw", r, size)
    qb, rb = open_drive(str(q), format="qcow2"), open_drive(str(r), format="raw")
    assert qb.format == "qcow2" and qb.size == size
    random_writes([qb, rb], size, 250, seed=hash(opts) & 0xFFFF)
    close_all()
    check_clean(q)
    same(q, r)
    # and what we wrote reads back after reopening
    qb, rb = open_drive(str(q), format="qcow2"), open_drive(str(r), format="raw")
    assert qb.read(0, size) == rb.read(0, size)


def test_refcount_table_growth_stays_consistent(tmp_path):
    # 512-byte clusters with 64-bit refcounts: one refcount block counts 64 clusters, and
    # the first table (one cluster, 64 blocks) covers 2 MiB of file: writes spread over
    # 16 MiB grow it several times
    size = 16 * MiB
    q, r = tmp_path / "g.qcow2", tmp_path / "g.raw"
    img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512,refcount_bits=64", q, size)
    img("create", "-q", "-f", "raw", r, size)
    qb, rb = open_drive(str(q), format="qcow2"), open_drive(str(r), format="raw")
    first = qb.rt_clusters
    for off in range(0, size, 3 * 1024):
        data = off.to_bytes(8, "little") * 64
        qb.write(off - off % 512, data)
        rb.write(off - off % 512, data)
    assert qb.rt_clusters > first
    close_all()
    check_clean(q)
    same(q, r)


def test_image_made_by_qemu_reads_the_same(tmp_path):
    rng = random.Random(3)
    raw = tmp_path / "src.raw"
    data = bytearray(8 * MiB)
    for _ in range(40):
        off = rng.randrange(len(data) - 70000)
        data[off:off + 65536] = rng.randbytes(65536)
    raw.write_bytes(bytes(data))
    for compat in ("0.10", "1.1"):
        q = tmp_path / f"src-{compat}.qcow2"
        img("convert", "-f", "raw", "-O", "qcow2", "-o", f"compat={compat},cluster_size=4096", raw, q)
        b = open_drive(str(q), readonly=True)        # probed
        assert b.format == "qcow2"
        assert b.read(0, len(data)) == bytes(data)
        b.close()


def test_backing_chain_made_by_qemu_img(tmp_path):
    # base (raw, in another directory) <- mid.qcow2 (v2) <- top.qcow2 (v3), relative names
    # resolved against each image's own directory, as QEMU does
    size = 6 * MiB
    (tmp_path / "b").mkdir()
    (tmp_path / "t").mkdir()
    rng = random.Random(5)
    base = tmp_path / "b" / "base.raw"
    base.write_bytes(rng.randbytes(size - MiB))          # shorter than the overlays
    mid = tmp_path / "b" / "mid.qcow2"
    img("create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4096",
        "-b", "base.raw", "-F", "raw", mid, size, cwd=tmp_path / "b")
    m = open_drive(str(mid), format="qcow2")
    m.write(100 * 1024, rng.randbytes(10000))            # partial clusters over the base
    m.close()
    top = tmp_path / "t" / "top.qcow2"
    img("create", "-q", "-f", "qcow2", "-b", "../b/mid.qcow2", "-F", "qcow2", top,
        cwd=tmp_path / "t")
    flat = tmp_path / "flat.raw"
    img("convert", "-O", "raw", top, flat)               # the chain as QEMU reads it
    t, f = open_drive(str(top)), open_drive(str(flat), format="raw")
    assert t.backing is not None and t.backing.backing is not None
    assert t.read(0, size) == f.read(0, size)
    random_writes([t, f], size, 150, seed=9)
    close_all()
    check_clean(top)
    check_clean(mid)
    same(top, flat)
    # the backing files did not change
    assert subprocess.run([need("qemu-img"), "compare", "-q", str(mid), str(base)]).returncode == 1


def test_zero_clusters_in_v3(tmp_path):
    need("qemu-io")
    size = 2 * MiB
    q, r = tmp_path / "z.qcow2", tmp_path / "z.raw"
    rng = random.Random(11)
    r.write_bytes(rng.randbytes(size))
    img("convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=65536", r, q)
    # zero flag over allocated clusters (kept allocated) and over a whole range
    for cmd in ("write -z 65536 131072", "write -z -u 524288 65536"):
        subprocess.run([need("qemu-io"), "-f", "qcow2", "-c", cmd, str(q)], check=True,
                       capture_output=True)
    data = bytearray(r.read_bytes())
    data[65536:196608] = bytes(131072)
    data[524288:589824] = bytes(65536)
    r.write_bytes(bytes(data))
    b = open_drive(str(q), format="qcow2")
    assert b.read(0, size) == bytes(data)
    rb = open_drive(str(r), format="raw")
    for off in (65536 + 1000, 524288 + 512, 100000):     # partial writes into zero clusters
        chunk = rng.randbytes(3000)
        b.write(off, chunk)
        rb.write(off, chunk)
    close_all()
    check_clean(q)
    same(q, r)


def test_flush_reaches_the_file_and_close_flushes(tmp_path, monkeypatch):
    q = tmp_path / "f.qcow2"
    img("create", "-q", "-f", "qcow2", q, MiB)
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    b = open_drive(str(q), format="qcow2")
    b.write(4096, b"x" * 512)
    # write-through: another reader sees it before any flush
    assert subprocess.run([need("qemu-io"), "-r", "-U", "-c", "read -P 0x78 4096 512", str(q)],
                          capture_output=True, text=True).stdout.count("read 512/512") == 1
    b.flush()
    assert len(calls) == 1
    b.close()
    assert len(calls) == 2


def test_snapshot_on_leaves_the_qcow2_untouched(tmp_path):
    q = tmp_path / "s.qcow2"
    img("create", "-q", "-f", "qcow2", q, MiB)
    before = q.read_bytes()
    b = open_drive(str(q), snapshot=True)
    assert b.format == "qcow2" and b.snapshot
    b.write(0, b"\xaa" * 4096)
    assert b.read(0, 4096) == b"\xaa" * 4096
    b.close()
    assert q.read_bytes() == before


@pytest.mark.parametrize("make,message", [
    (lambda p, t: img("convert", "-c", "-O", "qcow2", _text_raw(t), p), "compressed clusters"),
    (lambda p, t: img("create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=x", "-o",
                      "encrypt.format=aes,encrypt.key-secret=s0", p, "1M"), "encrypted"),
    (lambda p, t: _patch(p, 79, 0x10), "Extended L2 Entries"),
    (lambda p, t: _patch(p, 78, 0x80), "Unknown incompatible feature: 8000"),
    (lambda p, t: _patch(p, 79, 0x02), "Image is corrupt; cannot be opened read/write"),
    (lambda p, t: _patch(p, 7, 0x07), "Unsupported qcow2 version 7"),
])
def test_unsupported_images_are_refused_in_one_line(tmp_path, make, message):
    p = tmp_path / "bad.qcow2"
    make(p, tmp_path)
    with pytest.raises(BlockError) as info:
        open_drive(str(p))
    assert message in str(info.value) and "\n" not in str(info.value)


def _text_raw(tmp_path):
    raw = tmp_path / "r.raw"
    raw.write_bytes(b"compressible text " * (MiB // 18))
    return raw


def _patch(path, offset, value):
    if not os.path.exists(path):
        img("create", "-q", "-f", "qcow2", path, "1M")
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes((value,)))


def test_qcow_v1_and_other_formats_are_named(tmp_path):
    p = tmp_path / "old.qcow"
    img("create", "-q", "-f", "qcow", p, "1M")
    with pytest.raises(BlockError, match="is a qcow image: image format 'qcow' is not supported"):
        open_drive(str(p))
    v = tmp_path / "d.vdi"
    img("create", "-q", "-f", "vdi", v, "1M")
    with pytest.raises(BlockError, match="vdi"):
        open_drive(str(v))


def test_missing_backing_file(tmp_path):
    p = tmp_path / "o.qcow2"
    img("create", "-q", "-f", "qcow2", "-u", "-b", "gone.qcow2", "-F", "qcow2", p, "1M")
    with pytest.raises(BlockError, match=r"^Could not open backing file: Could not open "
                                         r"'.*/gone.qcow2': No such file or directory$"):
        open_drive(str(p))


def test_corrupt_images_fail_cleanly(tmp_path):
    """Hostile images: random bytes changed in the header, the tables and the data of a
    qemu-img image.  Opening, reading and writing them gives data or BlockError (one
    line), never another exception; writes never land on the image's metadata."""
    src, q = tmp_path / "src.raw", tmp_path / "good.qcow2"
    src.write_bytes(random.Random(2).randbytes(MiB))
    img("convert", "-O", "qcow2", "-o", "cluster_size=4096", src, q)
    good = q.read_bytes()
    rng = random.Random(22)
    bad = tmp_path / "bad.qcow2"
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            end = rng.choice((120, 4096, 5 * 4096, len(data)))
            pos = rng.randrange(end)
            data[pos] = rng.randrange(256) if rng.random() < 0.7 else data[pos] ^ (1 << rng.randrange(8))
        bad.write_bytes(bytes(data))
        try:
            b = open_drive(str(bad), format="qcow2", readonly=rng.random() < 0.3)
            for _ in range(20):
                if not b.size:
                    break
                off = rng.randrange(b.size)
                n = min(b.size - off, rng.randrange(1, 20000))
                b.read(off, n)
                if not b.readonly and rng.random() < 0.5:
                    b.write(off, bytes(n))
        except BlockError as e:
            assert "\n" not in str(e)
        finally:
            close_all()
