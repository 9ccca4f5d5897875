"""The on-disk cache of translated blocks (pysystem/codecache.py)."""
from __future__ import annotations

import os

import pysystem.codecache as codecache
from pysystem.codecache import CodeCache, cache_dir, ident

SRC = "def tb_00001000(x):\n    return (x * 3 + 1) & 0xffffffff\n"
KEY = ident(SRC.encode())
VALUE = (compile(SRC, "<tb>", "exec"), ("x",), 1)


def _run(code, arg):
    ns = {}
    exec(code, ns)
    return ns["tb_00001000"](arg)


def test_code_survives_a_new_process_view_of_the_cache(tmp_path):
    first = CodeCache(str(tmp_path))
    assert first.get(KEY) is None
    first.put(KEY, VALUE)
    first.flush()
    second = CodeCache(str(tmp_path))  # what the next run sees
    code, names, n = second.get(KEY)
    assert _run(code, 5) == 16 and names == ("x",) and n == 1
    assert second.get(ident(SRC.encode(), b"")) is None  # other parts, other entry


def test_an_entry_is_there_before_it_is_written(tmp_path):
    cache = CodeCache(str(tmp_path))
    cache.put(KEY, VALUE)
    assert cache.get(KEY)[1:] == (("x",), 1)   # a block dropped and needed again
    assert CodeCache(str(tmp_path)).get(KEY) is None   # not on disk until the flush


def test_idents_tell_their_parts_apart():
    assert ident(b"ab", b"c") != ident(b"a", b"bc")
    assert ident(b"ab") == ident(b"ab") and len(ident(b"ab")) == 16


def test_off_means_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSYSTEM_CODE_CACHE", "off")
    assert cache_dir() is None
    cache = CodeCache(cache_dir())
    cache.put(KEY, VALUE)
    cache.flush()
    assert cache.get(KEY) is None


def test_default_location_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("PYSYSTEM_CODE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == os.path.join(str(tmp_path), "pysystem", "code")


def test_a_corrupt_file_turns_the_cache_off_without_errors(tmp_path):
    path = CodeCache(str(tmp_path)).path
    with open(path, "wb") as f:
        f.write(b"this is not an sqlite database" * 100)
    cache = CodeCache(str(tmp_path))
    assert cache.get(KEY) is None
    cache.put(KEY, VALUE)
    cache.flush()
    assert cache.get(KEY) is None


def test_an_unwritable_place_turns_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = CodeCache(str(blocker / "code"))  # a directory inside a regular file
    assert cache.get(KEY) is None
    cache.put(KEY, VALUE)
    cache.flush()


def _entries(n, tag):
    return [(ident(tag.encode(), str(i).encode()), (i, tag)) for i in range(n)]


def test_the_write_ahead_log_is_cut_back_after_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(codecache, "WAL_LIMIT", 256 << 10)
    cache = CodeCache(str(tmp_path))
    padding = "x" * 4000   # a big batch: a log of several MB in one transaction
    for key, value in _entries(2000, padding):
        cache.put(key, value)
    cache.flush()
    reader = CodeCache(str(tmp_path))   # another process reading meanwhile
    assert reader.get(_entries(1, padding)[0][0]) == (0, padding)
    for key, value in _entries(300, "small"):
        cache.put(key, value)
    cache.flush()
    cache._open().execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert os.path.getsize(cache.path + "-wal") <= 256 << 10


def test_a_cache_over_its_limit_with_its_log_is_started_afresh(tmp_path, monkeypatch):
    first = CodeCache(str(tmp_path))
    first.put(KEY, VALUE)
    first.flush()
    sizes = sum(os.path.getsize(first.path + s) for s in ("", "-wal", "-shm")
                if os.path.exists(first.path + s))
    monkeypatch.setattr(codecache, "MAX_BYTES", sizes - 1)
    assert CodeCache(str(tmp_path)).get(KEY) is None


# run in a fresh interpreter: the one the guests boot under (PyPy in CI), where an
# unfinished statement lives until its cursor is collected
_READ_THEN_WRITE = """
import sys
from pysystem.codecache import CodeCache, ident
one, two = ident(b"one"), ident(b"two")
writer = CodeCache(sys.argv[1])
writer.put(one, 1)
writer.flush()
cache = CodeCache(sys.argv[1])   # the next run
assert cache.get(one) == 1       # read from the file
cache.put(two, 2)
cache.flush()                    # a COMMIT after that read
assert not cache._failed, "the cache turned itself off"
assert CodeCache(sys.argv[1]).get(two) == 2
"""


def test_a_read_from_the_file_does_not_stop_later_writes(tmp_path):
    import subprocess
    from tools import guest_python
    out = subprocess.run([guest_python(), "-c", _READ_THEN_WRITE, str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
