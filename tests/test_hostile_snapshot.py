"""Hostile snapshot stores (issue 22), through the real pysystem-arm console script: a
FIFO named like a snapshot never freezes the monitor; tags starting with "." are saved,
listed, loaded and deleted like any other (QEMU takes any tag)."""
from __future__ import annotations

import os
import subprocess

from tools import script


def hmp(store, *lines: str) -> str:
    r = subprocess.run([script("pysystem-arm"), "-M", f"vexpress-a9,snapshot-dir={store}",
                        "-m", "16", "-S", "-display", "none", "-monitor", "stdio"],
                       input="".join(f"{x}\n" for x in lines) + "quit\n",
                       capture_output=True, text=True, timeout=60)   # a hang fails here
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout


def test_a_fifo_in_the_store_never_blocks(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    os.mkfifo(store / "X.pysnap")
    out = hmp(store, "info snapshots", "savevm a", "info snapshots", "loadvm X", "loadvm a")
    assert "(qemu) info snapshots\nThere is no snapshot available.\n" in out
    assert "(qemu) savevm a\n(qemu) info snapshots\nList of snapshots" in out
    assert "(qemu) loadvm X\nError: snapshot 'X' is not a regular file\n" in out
    assert "(qemu) loadvm a\n(qemu) quit" in out


def test_tags_starting_with_a_dot_are_listed(tmp_path):
    out = hmp(tmp_path, "savevm .hidden", "savevm ..", "info snapshots", "loadvm .hidden",
              "delvm .hidden", "info snapshots")
    listing, after = out.split("(qemu) loadvm .hidden\n")
    assert " .hidden " in listing and " .. " in listing
    assert after.startswith("(qemu) delvm .hidden\n(qemu) info snapshots\n")
    assert " .hidden " not in after and " .. " in after
    assert sorted(os.listdir(tmp_path)) == ["%2E..pysnap"]
