"""The on-disk cache of compiled block code (pysystem/codecache.py)."""
from __future__ import annotations

import os

import pysystem.codecache as codecache
from pysystem.codecache import CodeCache, cache_dir

SRC = "def tb_00001000(x):\n    return (x * 3 + 1) & 0xffffffff\n"


def _run(code, arg):
    ns = {}
    exec(code, ns)
    return ns["tb_00001000"](arg)


def test_code_survives_a_new_process_view_of_the_cache(tmp_path):
    first = CodeCache(str(tmp_path))
    assert first.get(SRC) is None
    first.put(SRC, compile(SRC, "<tb>", "exec"))
    first.flush()
    second = CodeCache(str(tmp_path))  # what the next run sees
    code = second.get(SRC)
    assert code is not None and _run(code, 5) == 16
    assert second.get(SRC + "\n") is None  # other source, other entry


def test_off_means_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSYSTEM_CODE_CACHE", "off")
    assert cache_dir() is None
    cache = CodeCache(cache_dir())
    cache.put(SRC, compile(SRC, "<tb>", "exec"))
    cache.flush()
    assert cache.get(SRC) is None


def test_default_location_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("PYSYSTEM_CODE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == os.path.join(str(tmp_path), "pysystem", "code")


def test_a_corrupt_file_turns_the_cache_off_without_errors(tmp_path):
    path = CodeCache(str(tmp_path)).path
    with open(path, "wb") as f:
        f.write(b"this is not an sqlite database" * 100)
    cache = CodeCache(str(tmp_path))
    assert cache.get(SRC) is None
    cache.put(SRC, compile(SRC, "<tb>", "exec"))
    cache.flush()
    assert cache.get(SRC) is None


def test_an_unwritable_place_turns_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = CodeCache(str(blocker / "code"))  # a directory inside a regular file
    assert cache.get(SRC) is None
    cache.put(SRC, compile(SRC, "<tb>", "exec"))
    cache.flush()


def _sources(n, tag):
    return [f"def tb_00001000(x):\n    return (x * {i} + {tag!r}.__len__()) & 0xffffffff\n"
            for i in range(n)]


def test_the_write_ahead_log_is_cut_back_after_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(codecache, "WAL_LIMIT", 256 << 10)
    cache = CodeCache(str(tmp_path))
    padding = "x" * 4000   # a big batch: a log of several MB in one transaction
    for src in _sources(2000, padding):
        cache.put(src, compile(src, "<tb>", "exec"))
    cache.flush()
    reader = CodeCache(str(tmp_path))   # another process reading meanwhile
    assert reader.get(_sources(1, padding)[0]) is not None
    for src in _sources(300, "small"):
        cache.put(src, compile(src, "<tb>", "exec"))
    cache.flush()
    cache._open().execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert os.path.getsize(cache.path + "-wal") <= 256 << 10


def test_a_cache_over_its_limit_with_its_log_is_started_afresh(tmp_path, monkeypatch):
    first = CodeCache(str(tmp_path))
    first.put(SRC, compile(SRC, "<tb>", "exec"))
    first.flush()
    sizes = sum(os.path.getsize(first.path + s) for s in ("", "-wal", "-shm")
                if os.path.exists(first.path + s))
    monkeypatch.setattr(codecache, "MAX_BYTES", sizes - 1)
    assert CodeCache(str(tmp_path)).get(SRC) is None
