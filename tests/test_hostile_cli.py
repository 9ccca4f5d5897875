"""Hostile command lines (issue 22): -append/-initrd without -kernel, tiny -m sizes.
Each case runs the real console script and compares with what QEMU 7.2 does."""
from __future__ import annotations

import subprocess

import pytest

from tools import script


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([script("pysystem-arm"), *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["-append", "x"], "-append only allowed with -kernel option"),
    (["-initrd", "x"], "-initrd only allowed with -kernel option"),
    (["-initrd", "x", "-append", "y"], "-append only allowed with -kernel option"),
])
def test_append_initrd_need_kernel(args, message):
    r = run("-M", "vexpress-a9", "-display", "none", "-S", "-monitor", "none", *args)
    assert r.returncode != 0
    assert r.stderr == f"pysystem-arm: {message}\n"


@pytest.mark.parametrize("size, ram", [("1B", 8192), ("1k", 8192), ("9k", 16384)])
def test_tiny_ram_rounded_up_as_qemu(size, ram):
    # QEMU 7.2 (vl.c set_memory_options) rounds the RAM size up to 8 KiB; on
    # vexpress-a9 `info mtree` then shows highmem 0x60000000-0x60001fff for -m 1B.
    r = run("-M", "vexpress-a9", "-m", size, "-S", "-monitor", "stdio", "-display", "none",
            stdin="info mtree\nquit\n")
    assert r.returncode == 0, r.stderr
    assert f"0000000060000000-{0x60000000 + ram - 1:016x} (prio 0, ram): vexpress.highmem" \
        in r.stdout


@pytest.mark.parametrize("size", ["1B", "1k"])
def test_tiny_ram_kernel_message_has_no_negative_size(tmp_path, size):
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(bytes(100))
    r = run("-M", "vexpress-a9", "-m", size, "-kernel", str(kernel), "-display", "none",
            "-S", "-monitor", "none")
    assert r.returncode != 0
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    assert "-" not in r.stderr.split("too big", 1)[-1], r.stderr
