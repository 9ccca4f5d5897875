"""End-to-end: Debian's armmp kernel on -M vexpress-a9 -smp 2 brings up both CPUs, as
under qemu-system-arm 7.2 with the same command line.

The secondary CPU starts in QEMU's boot stub, is released by the kernel through
SYS_FLAGS and an SGI, and comes online: the kernel's SMP summary lines (numbers
masked: BogoMIPS come from timing) must be QEMU's, and the shell sees two processors
in /proc/cpuinfo.  One full boot, so slow; CI runs it under PyPy
(PYSYSTEM_GUEST_PYTHON).
"""
from __future__ import annotations

import os
import re
import subprocess
import threading

import pytest

from guest_session import GuestSession
import tools
from tools import guest_images

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
PROMPT = r"/ # "
SMP_LINE = re.compile(r"^\[\s*\d+\.\d+\] ((?:smp|SMP|CPU\d+): .*)$", re.M)


def _smp_lines(text: str):
    """The kernel's SMP bring-up lines, numbers masked, Spectre notes left out."""
    return [re.sub(r"\d+", "#", m.group(1)).rstrip() for m in SMP_LINE.finditer(text)
            if "Spectre" not in m.group(1)]


def _qemu_until(qemu: str, args, marker: bytes, timeout: float) -> str:
    """QEMU's console output up to the line holding ``marker`` (or ``timeout`` s)."""
    proc = subprocess.Popen([qemu, *args, "-audiodev", "none,id=snd0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out = b""
    try:
        for line in proc.stdout:
            out += line
            if marker in line:
                break
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    return out.decode("utf-8", "replace")


def test_debian_armmp_brings_up_two_cpus(tmp_path):
    qemu = tools.program("qemu-system-arm")
    g = guest_images("arm")
    args = ["-M", "vexpress-a9", "-smp", "2", "-m", "256M", "-kernel", str(g.kernel),
            "-dtb", str(g.dtb), "-initrd", str(g.initrd), "-append", "console=ttyAMA0",
            "-nographic", "-no-reboot"]
    # QEMU's boot up to its SMP summary (a few seconds): the reference
    theirs = _smp_lines(_qemu_until(qemu, args, b"SMP: Total of", 120))
    assert "smp: Brought up # node, # CPUs" in theirs, theirs

    s = GuestSession("arm", [*args, "-rtc", "base=2026-01-01T00:00:00"],
                     log_path=str(tmp_path / "console.log"))
    try:
        s.expect(PROMPT, BOOT_TIMEOUT)
        s.command("")
        processors = s.command("grep -c ^processor /proc/cpuinfo").strip()
        online = s.command("cat /sys/devices/system/cpu/online").strip()
        dmesg = s.command("dmesg")
        s.send("poweroff -f")
        assert s.wait(300) == 0
    finally:
        s.close()
    assert processors == "2" and online == "0-1"
    ours = _smp_lines(dmesg)
    assert ours == theirs
    assert "smp: Brought up 1 node, 2 CPUs" in dmesg
    assert re.search(r"SMP: Total of 2 processors activated", dmesg)
