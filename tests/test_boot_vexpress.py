"""End-to-end: Debian's armmp kernel on -M vexpress-a9, to a busybox shell and back.

The guest comes from images/ (Debian's own packages, cached after the first run).
The console is the emulator's stdio under -nographic, as a user has it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from guest_session import GuestSession
from tools import guest_images

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
REFERENCE = Path(__file__).parent / "reference" / "qemu-7.2-vexpress-a9-debian-armmp-boot.txt"
PROMPT = r"/ # "

# Lines of QEMU's boot log that do not appear here, each with its reason.  Patterns are
# matched against the normalised line (timestamps dropped, numbers replaced by '#').
KNOWN_MISSING = {
    r"deferred probe pending": "printed 10 s of guest time after boot; the test may finish sooner",
    r"^Kernel command line: ": "the reference boot added rdinit=/init to the command line",
    r"^reboot: Power down": "printed at power-off, after the test has read dmesg",
}
# Error and warning lines that appear here and not under QEMU, each with its reason.
KNOWN_EXTRA = {
}
PROBLEM = re.compile(r"error|fail|warn|unable|can't|cannot|bug|oops|unhandled|timeout|timed out", re.I)


def _guest():
    return guest_images("arm")


def _normalise(line: str) -> str:
    line = re.sub(r"^\[\s*\d+\.\d+\]\s?", "", line.rstrip("\r\n"))
    return re.sub(r"\d+", "#", line).strip()


def _kernel_lines(text: str):
    return [_normalise(l) for l in text.splitlines() if re.match(r"^\[\s*\d+\.\d+\]", l)]


def _boot(tmp_path, *extra, initrd=None, append="console=ttyAMA0"):
    g = _guest()
    args = ["-M", "vexpress-a9", "-m", "256M", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
            "-initrd", str(initrd or g.initrd), "-append", append, "-nographic",
            "-rtc", "base=2026-01-01T00:00:00", *extra]
    return GuestSession("arm", args, log_path=str(tmp_path / "console.log"))


def test_debian_armmp_boots_to_a_shell(tmp_path):
    s = _boot(tmp_path)
    try:
        s.expect(PROMPT, BOOT_TIMEOUT)
        s.command("")
        assert s.command("uname -m").strip() == "armv7l"
        cpuinfo = s.command("cat /proc/cpuinfo")
        features = re.search(r"^Features\s*:(.*)$", cpuinfo, re.M)
        assert features and "vfpv3" in features.group(1).split(), cpuinfo
        before = _gic_counts(s.command("cat /proc/interrupts"))
        assert s.command("echo $((6*7))").strip() == "42"
        after = _gic_counts(s.command("cat /proc/interrupts"))
        assert sum(after.values()) > sum(before.values()), (before, after)
        dmesg = s.command("dmesg")
        s.send("poweroff -f")
        assert s.wait(300) == 0
    finally:
        s.close()
    _compare_dmesg(dmesg)


def _gic_counts(text: str):
    counts = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+):\s+(\d+)\s+GIC", line)
        if m:
            counts[int(m.group(1))] = int(m.group(2))
    assert counts, text
    return counts


def _compare_dmesg(dmesg: str) -> None:
    ours = _kernel_lines(dmesg)
    theirs = _kernel_lines(REFERENCE.read_text())
    ours_set = set(ours)
    missing = [l for l in theirs if l not in ours_set
               and not any(re.search(p, l) for p in KNOWN_MISSING)]
    theirs_set = set(theirs)
    extra = [l for l in ours if l not in theirs_set and PROBLEM.search(l)
             and not any(re.search(p, l) for p in KNOWN_EXTRA)]
    assert not missing and not extra, (
        "dmesg differs from QEMU's:\nmissing here:\n  " + "\n  ".join(missing) +
        "\nproblems only here:\n  " + "\n  ".join(extra))


VIRTIO_INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
/bin/load-modules
echo "disk: $(cat /sys/block/vda/size 2>/dev/null) sectors"
# /pattern (64 KiB, made by the test) goes 1 MiB into the disk and is read back
dd if=/pattern of=/dev/vda bs=65536 seek=16 count=1 conv=fsync 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
dd if=/dev/vda of=/tmp/back bs=65536 skip=16 count=1 2>/dev/null
if cmp -s /pattern /tmp/back; then echo VIRTIO-READBACK-OK; else echo VIRTIO-READBACK-BAD; fi
sync
poweroff -f
"""


def _pattern() -> bytes:
    return bytes(range(256)) * 256


@pytest.mark.parametrize("snapshot", [False, True], ids=["write-through", "snapshot"])
def test_virtio_blk_write_read_back(tmp_path, snapshot):
    from pysystem.images import build_initramfs
    g = _guest()
    initrd = build_initramfs("arm", VIRTIO_INIT, modules=("virtio_mmio", "virtio_blk"),
                             extra_files={"/pattern": _pattern()}, out=tmp_path / "initrd.cpio.gz")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\xee" * (4 << 20))
    extra = ["-drive", f"if=none,id=d0,file={disk},format=raw",
             "-device", "virtio-blk-device,drive=d0"]
    if snapshot:
        extra.append("-snapshot")
    s = _boot(tmp_path, *extra, initrd=initrd, append="console=ttyAMA0 rdinit=/init")
    try:
        s.expect(r"disk: 8192 sectors", BOOT_TIMEOUT)
        s.expect(r"VIRTIO-READBACK-OK", 600)
        assert s.wait(300) == 0
    finally:
        s.close()
    data = disk.read_bytes()
    if snapshot:
        assert data == b"\xee" * (4 << 20)
    else:
        assert data[1 << 20:(1 << 20) + 65536] == _pattern()
        assert data[:1 << 20] == b"\xee" * (1 << 20)
    assert g
