"""Debian's armmp zImage booted without -dtb: QEMU's ATAG protocol (r1 = 0x8e0, r2 =
the ATAG list at 0x60000100: core, mem, cmdline).

A multiplatform kernel has no board file for vexpress, so it cannot boot on ATAGs
alone (QEMU prints nothing either); Debian's is built with ARM_APPENDED_DTB and
ARM_ATAG_DTB_COMPAT, so with the board's DTB appended to the zImage its decompressor
merges the ATAGs into that DTB: the command line the kernel echoes and the memory size
it reports come from our ATAG_CMDLINE and ATAG_MEM.  The early boot lines, up to the
memory line, must be QEMU's (timestamps and numbers aside where they are timing).
The ATAG list itself, byte for byte with INITRD2, is checked by the bare-metal
program (tests/test_baremetal_arm.py, case bin-atags).
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

import tools

from guest_session import GuestSession

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
APPEND = "earlycon=pl011,0x10009000 console=ttyAMA0 atag.test=from-atag-cmdline"
LAST = r"Memory: \d+K/131072K available"


def _guest():
    from pysystem.images import ImageError, guest_files
    try:
        return guest_files("arm", quiet=True)
    except ImageError as e:
        pytest.skip(f"guest images unavailable: {e}")


def _lines(text: str):
    """Kernel lines up to the memory line, without timestamps."""
    out = []
    for line in text.replace("\r", "").splitlines():
        m = re.match(r"^\[\s*\d+\.\d+\] (.*)$", line)
        if m:
            out.append(m.group(1))
            if re.match(LAST, m.group(1)):
                break
    return out


def test_zimage_with_appended_dtb_boots_on_atags(tmp_path):
    qemu = tools.program("qemu-system-arm")
    g = _guest()
    kernel = tmp_path / "zImage-dtb"
    kernel.write_bytes(open(g.kernel, "rb").read() + open(g.dtb, "rb").read())
    args = ["-M", "vexpress-a9", "-m", "128", "-kernel", str(kernel), "-append", APPEND,
            "-nographic", "-no-reboot"]
    try:
        out = subprocess.run([qemu, *args, "-audiodev", "none,id=snd0"], capture_output=True,
                             timeout=30).stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
    want = _lines(out.decode(errors="replace"))
    assert want and re.match(LAST, want[-1]), want
    assert f"Kernel command line: {APPEND}" in want and "OF: fdt: Machine model: V2P-CA9" in want

    s = GuestSession("arm", args, log_path=str(tmp_path / "console.log"))
    try:
        s.expect(LAST + r".*\n", BOOT_TIMEOUT)   # the whole line, not a part of it
        got = _lines(s.text)
    finally:
        s.close()
    assert got == want
