"""End-to-end NEON: Debian's armmp kernel on -M vexpress-a9 reports Advanced SIMD
(``neon`` in /proc/cpuinfo's Features, HWCAP_NEON for programs), and a static glibc
program (tests/cpu_arm/neon_prog/strings.c, built here with arm-linux-gnueabihf-gcc)
whose memcpy/memset/memcmp/strlen... are glibc's NEON versions and whose loops the
compiler vectorised prints what it prints under qemu-system-arm, line for line.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from guest_session import GuestSession
from tools import guest_images, program

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpu_arm", "neon_prog", "strings.c")

INIT = """#!/bin/sh
mount -t proc proc /proc
echo NEON-BEGIN
grep -m1 '^Features' /proc/cpuinfo
/strings
echo NEON-END
poweroff -f
"""


def _output(text: str) -> list:
    m = re.search(r"NEON-BEGIN\r?\n(.*?)NEON-END", text, re.S)
    assert m, text[-2000:]
    return [line.rstrip("\r") for line in m.group(1).splitlines()]


def test_neon_in_cpuinfo_and_glibc_string_routines_match_qemu(tmp_path):
    from pysystem.images import build_initramfs
    gcc = program("arm-linux-gnueabihf-gcc")
    qemu = program("qemu-system-arm")
    exe = tmp_path / "strings"
    subprocess.run([gcc, "-O3", "-static", "-marm", "-march=armv7-a", "-mfpu=neon",
                    "-mfloat-abi=hard", SOURCE, "-o", str(exe)], check=True)
    g = guest_images("arm")
    initrd = build_initramfs("arm", INIT, extra_files={"/strings": (exe, 0o755)},
                             out=tmp_path / "initrd.cpio.gz")
    args = ["-M", "vexpress-a9", "-m", "256M", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
            "-initrd", str(initrd), "-append", "console=ttyAMA0 rdinit=/init", "-nographic",
            "-rtc", "base=2026-01-01T00:00:00"]
    ref = subprocess.run([qemu, *args, "-no-reboot"], capture_output=True, text=True,
                         timeout=600, stdin=subprocess.DEVNULL).stdout
    expected = _output(ref)
    assert "neon" in expected[0].split(), expected
    assert expected[1] == "hwcap neon: 1"
    s = GuestSession("arm", args, log_path=str(tmp_path / "console.log"))
    try:
        s.expect(r"NEON-END", BOOT_TIMEOUT)
        assert s.wait(300) == 0
    finally:
        s.close()
    assert _output(s.text) == expected
