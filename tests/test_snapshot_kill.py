"""A ``savevm`` killed part-way (SIGKILL) loses nothing (issue 22's crash safety for
snapshots): the snapshot that tag named before is still whole and loads, or the new one
is whole; never half of one.

Each machine holds a different random blob in RAM (a raw ``-kernel`` image at
0x60010000, which ``-S`` never runs), so the snapshot is large enough to take a moment
to write and its RAM tells which save it came from.  The test saves tag ``t`` once, then
starts more processes that overwrite ``t`` with their own blob and kills each with
SIGKILL: half of them the moment the save's temporary file appears (while it is being
written), the others after a random part of a whole save's duration.  After every kill,
a new process lists the store and loads ``t``: exactly one ``t``, no error, and RAM that
is the old blob while the file is the old one, the new blob when the file changed.  A
later save removes the temporaries the killed saves left.
"""
from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import subprocess
import time

from tools import script

BLOB = 16 << 20
BASE = 0x60010000


def _args(store, kernel) -> list:
    return [script("pysystem-arm"), "-M", f"vexpress-a9,snapshot-dir={store}", "-m", "128",
            "-kernel", str(kernel), "-S", "-display", "none", "-monitor", "stdio"]


def _hmp(store, kernel, *lines: str) -> str:
    r = subprocess.run(_args(store, kernel), input="".join(f"{x}\n" for x in lines) + "quit\n",
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout


def _read_until_prompt(proc, timeout: float = 120) -> bytes:
    out = b""
    end = time.monotonic() + timeout
    while not out.endswith(b"(qemu) "):
        left = end - time.monotonic()
        assert left > 0, out
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, out
            out += chunk
    return out


def _temporaries(store) -> list:
    return [n for n in os.listdir(store) if n.endswith(".tmp")]


def _digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _first_words(blob: bytes) -> str:
    words = [int.from_bytes(blob[i:i + 4], "little") for i in (0, 4)]
    return f"{BASE:08x}: " + " ".join(f"0x{w:08x}" for w in words)


def test_a_killed_savevm_keeps_a_whole_snapshot(tmp_path):
    rng = random.Random(22)
    store = tmp_path / "store"
    blobs = []
    for i in range(2):
        data = bytes(rng.getrandbits(8) for _ in range(4096)) * (BLOB // 4096)
        data = hashlib.sha256(data[:64]).digest() + data[32:]   # distinct first words
        path = tmp_path / f"blob{i}.bin"
        path.write_bytes(data)
        blobs.append((path, data))
    (old_kernel, old_blob), (new_kernel, new_blob) = blobs
    assert "Error" not in _hmp(store, old_kernel, "savevm t")
    snap = store / "t.pysnap"
    old_digest = _digest(snap)

    # how long a whole save of the new blob takes in a running process
    proc = subprocess.Popen(_args(store, new_kernel), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _read_until_prompt(proc)
    start = time.monotonic()
    proc.stdin.write(b"savevm probe\n")
    proc.stdin.flush()
    _read_until_prompt(proc)
    whole = time.monotonic() - start
    proc.stdin.write(b"delvm probe\nquit\n")
    proc.stdin.flush()
    proc.communicate(timeout=60)

    mid_write = 0
    for kill in range(4):
        proc = subprocess.Popen(_args(store, new_kernel), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _read_until_prompt(proc)
        before = set(_temporaries(store))
        proc.stdin.write(b"savevm t\n")
        proc.stdin.flush()
        if kill % 2 == 0:       # the moment its temporary file appears
            deadline = time.monotonic() + whole * 20 + 30
            while not set(_temporaries(store)) - before and time.monotonic() < deadline \
                    and proc.poll() is None:
                time.sleep(0.0005)
        else:
            time.sleep(rng.uniform(0, whole))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        left = set(_temporaries(store)) - before
        mid_write += bool(left)

        out = _hmp(store, old_kernel, "info snapshots", "loadvm t", "xp /2xw 0x60010000")
        assert out.count(" t ") == 1 and "Error" not in out, out
        expected = old_blob if _digest(snap) == old_digest else new_blob
        assert _first_words(expected) in out, (kill, out)
        if _digest(snap) != old_digest:         # the new one landed whole: start over
            assert "Error" not in _hmp(store, old_kernel, "savevm t")
            old_digest = _digest(snap)
    assert mid_write >= 2, "no kill landed while a save was being written"

    # a save by a live process removes what the killed ones left
    assert _temporaries(store)
    assert "Error" not in _hmp(store, old_kernel, "savevm u")
    assert _temporaries(store) == []
