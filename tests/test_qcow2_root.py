"""The Debian guest's root file system on qcow2 images made by qemu-img.

Debian's armmp kernel boots on vexpress-a9 with two virtio disks:

* ``vda``, the root: ``qemu-img create -f qcow2 -F raw -b base.raw root.qcow2``, an
  overlay over a raw ext4 image (made by ``mkfs.ext4 -d``) holding a static busybox
  and the root's ``/sbin/init``;
* ``vdb``: ``qemu-img convert -O qcow2`` of another ext4 image, mounted as /data.

The initramfs loads the virtio and ext4 modules, mounts vda and ``switch_root``s into
it.  The root's init reads a file that exists only in the backing image, writes a
file of about 170 KB (three 64 KiB clusters and more) to each disk, deletes a file of the backing image, syncs,
remounts both read-only and powers off.  Then, with the emulator gone:

* ``qemu-img check`` finds no errors and no leaked clusters in either image;
* ``e2fsck -fn`` of each (converted to raw by qemu-img) is clean, and ``debugfs``
  reads the written files back byte for byte, and the deleted one is gone;
* the backing image is byte for byte what it was (all writes went to the overlay).

One boot (the guest runs under ``PYSYSTEM_GUEST_PYTHON``, PyPy in CI).  Measured
2026-12-07 under PyPy with a cold code cache on a machine at load average 17-20 on
2 cores: 733 s with 100,000-line files (the shell's seq dominated after the boot);
with the 30,000-line files of now and a warm code cache, 535 s.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guest_session import GuestSession
from tools import guest_images, program

pytestmark = [pytest.mark.network, pytest.mark.slow]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))

INITRAMFS_INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
/bin/load-modules
mkdir -p /newroot
mount -t ext4 /dev/vda /newroot || echo ROOT-MOUNT-FAILED
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
"""

ROOT_INIT = """#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
echo "ROOT-IS $($B awk '$2 == "/" {print $1, $3}' /proc/mounts)"
echo "BASE-SAYS $($B cat /etc/only-in-base)"
$B mount -t ext4 /dev/vdb /data || echo DATA-MOUNT-FAILED
$B seq 1 30000 > /written-to-root
$B seq 30000 -1 1 > /data/written-to-data
$B rm /etc/remove-me
$B sync
$B mount -o remount,ro /data
$B mount -o remount,ro /
echo "GUEST-DONE $($B md5sum /written-to-root | $B cut -c1-32)"
$B poweroff -f
"""


def _seq(first: int, last: int, step: int = 1) -> bytes:
    return "".join(f"{k}\n" for k in range(first, last + step, step)).encode()


def _run(*cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([program(cmd[0]), *map(str, cmd[1:])], capture_output=True,
                          text=True, **kw)


def _ext4(path: Path, tree: Path, mb: int) -> None:
    with open(path, "wb") as f:
        f.truncate(mb << 20)
    r = _run("mkfs.ext4", "-q", "-F", "-d", tree, "-E",
             "lazy_itable_init=0,lazy_journal_init=0", path)
    assert r.returncode == 0, r.stderr


def _check_qcow2(path: Path) -> None:
    r = _run("qemu-img", "check", path)
    assert r.returncode == 0 and "No errors were found on the image." in r.stdout, \
        r.stdout + r.stderr
    assert "leaked" not in r.stdout, r.stdout


def _fs_of(path: Path, tmp: Path) -> Path:
    """The qcow2 image as raw (through qemu-img), checked by e2fsck."""
    raw = tmp / (path.stem + "-check.raw")
    r = _run("qemu-img", "convert", "-O", "raw", path, raw)
    assert r.returncode == 0, r.stderr
    fsck = _run("e2fsck", "-fn", raw)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    return raw


def _cat(raw: Path, name: str) -> bytes:
    r = subprocess.run([program("debugfs"), "-R", f"cat {name}", str(raw)],
                       capture_output=True)
    return r.stdout


def test_debian_root_on_qcow2_overlay_and_converted_image(tmp_path):
    from pysystem.images import build_initramfs
    for tool in ("qemu-img", "mkfs.ext4", "e2fsck", "debugfs"):
        program(tool)
    g = guest_images("arm")
    initrd = build_initramfs("arm", INITRAMFS_INIT,
                             modules=("virtio_mmio", "virtio_blk", "ext4"),
                             out=tmp_path / "initrd.cpio.gz")
    root = tmp_path / "root"
    for d in ("bin", "sbin", "etc", "proc", "dev", "data"):
        (root / d).mkdir(parents=True)
    shutil.copy(g.busybox, root / "bin" / "busybox")
    os.chmod(root / "bin" / "busybox", 0o755)
    (root / "sbin" / "init").write_text(ROOT_INIT)
    os.chmod(root / "sbin" / "init", 0o755)
    (root / "etc" / "only-in-base").write_text("read through the backing file\n")
    (root / "etc" / "remove-me").write_bytes(os.urandom(300_000))
    base = tmp_path / "base.raw"
    _ext4(base, root, 24)
    base_digest = hashlib.sha256(base.read_bytes()).hexdigest()
    overlay = tmp_path / "root.qcow2"
    r = _run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, overlay)
    assert r.returncode == 0, r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    data_raw = tmp_path / "data.raw"
    _ext4(data_raw, empty, 16)
    data = tmp_path / "data.qcow2"
    r = _run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", data_raw, data)
    assert r.returncode == 0, r.stderr

    args = ["-M", "vexpress-a9", "-m", "256M", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
            "-initrd", str(initrd), "-append", "console=ttyAMA0 rdinit=/init",
            "-nographic", "-no-reboot", "-rtc", "base=2026-01-01T00:00:00",
            # as in QEMU, the first virtio-blk-device takes the last transport, which
            # Linux names last: the data disk comes first so that the root is vda
            "-drive", f"if=none,id=data,file={data},format=qcow2",
            "-device", "virtio-blk-device,drive=data",
            "-drive", f"if=none,id=root,file={overlay}",          # format probed
            "-device", "virtio-blk-device,drive=root"]
    s = GuestSession("arm", args, log_path=str(tmp_path / "boot.log"))
    try:
        s.expect(r"GUEST-DONE", BOOT_TIMEOUT)
        status = s.wait(300)
    finally:
        s.close()
    text = s.text
    assert "ROOT-IS /dev/vda ext4" in text, text[-3000:]
    assert "BASE-SAYS read through the backing file" in text, text[-3000:]
    assert "FAILED" not in text, text[-3000:]
    want = hashlib.md5(_seq(1, 30000)).hexdigest()
    assert f"GUEST-DONE {want}" in text
    assert status == 0

    for image in (overlay, data):
        _check_qcow2(image)
    root_fs = _fs_of(overlay, tmp_path)
    assert _cat(root_fs, "/written-to-root") == _seq(1, 30000)
    assert _cat(root_fs, "/etc/only-in-base") == b"read through the backing file\n"
    gone = subprocess.run([program("debugfs"), "-R", "stat /etc/remove-me", str(root_fs)],
                          capture_output=True, text=True)
    assert "File not found" in gone.stderr + gone.stdout
    data_fs = _fs_of(data, tmp_path)
    assert _cat(data_fs, "/written-to-data") == _seq(30000, 1, -1)
    assert hashlib.sha256(base.read_bytes()).hexdigest() == base_digest
