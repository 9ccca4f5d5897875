"""pysystem-binfmt: the binfmt_misc entries recognise exactly the executables of their
architecture (checked on the cross toolchains' real libc and loader files and the host's
Python), print in the kernel's register format and Debian's update-binfmts format, and
register/run/remove for real where the test may (root, binfmt_misc mounted)."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

import tools
from pysystem.user import binfmt

SAMPLES = {"arm": "/usr/arm-linux-gnueabihf/lib/libc.so.6",
           "mipsel": "/usr/mipsel-linux-gnu/lib/libc.so.6",
           "mips": "/usr/mips-linux-gnu/lib/libc.so.6"}


def _head(path):
    with open(path, "rb") as f:
        return f.read(20)


def test_entries_match_their_architecture_only():
    for arch, sample in SAMPLES.items():
        if not os.path.exists(sample):
            tools.missing(f"{sample} (the {arch} cross toolchain's libc)")
    for arch in binfmt.ARCHES:
        for other, sample in SAMPLES.items():
            assert binfmt.matches(arch, _head(sample)) == (arch == other), (arch, sample)
        assert not binfmt.matches(arch, _head(sys.executable))


def test_register_format_and_debian_files(tmp_path):
    script = tools.script("pysystem-binfmt")
    out = subprocess.run([script, "--flags", "pf"], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    for line, arch in zip(lines, ["arm", "mipsel", "mips"]):
        fields = line.split(":")
        assert fields[:4] == ["", f"pysystem-{arch}", "M", ""]
        magic = bytes.fromhex(fields[4].replace("\\x", ""))
        assert binfmt.matches(arch, magic)
        assert fields[6].endswith(f"pysystem-user-{arch}") and fields[7] == "PF"
    subprocess.run([script, "--debian", str(tmp_path), "--flags", "C"], check=True)
    text = (tmp_path / "pysystem-arm").read_text()
    assert "credentials yes" in text and "magic \\x7f\\x45\\x4c\\x46" in text
    bad = subprocess.run([script, "--flags", "Z"], capture_output=True, text=True)
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1


def test_register_and_run_through_the_kernel(tmp_path):
    if os.geteuid() != 0 or not os.path.exists(os.path.join(binfmt.BINFMT_DIR, "register")):
        pytest.skip(tools.NO_BINFMT)
    if glob.glob(os.path.join(binfmt.BINFMT_DIR, "*arm*")):
        pytest.skip(tools.BINFMT_TAKEN)
    gcc = tools.program("arm-linux-gnueabihf-gcc")
    src = tmp_path / "h.c"
    src.write_text('#include <stdio.h>\nint main(int c,char**v){printf("%s %d\\n",v[0],c);return 0;}\n')
    exe = tmp_path / "h"
    subprocess.run([gcc, "-static", "-o", str(exe), str(src)], check=True)
    script = tools.script("pysystem-binfmt")
    subprocess.run([script, "--register", "--arch", "arm", "--flags", "P"], check=True)
    try:
        r = subprocess.run([str(exe), "x"], capture_output=True, timeout=120)
        assert r.stdout == f"{exe} 2\n".encode()
    finally:
        subprocess.run([script, "--remove", "--arch", "arm"], check=True)
