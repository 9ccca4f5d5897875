"""The image tools against the real Debian archive (the mirror of the host's apt sources).

Downloads go to the user cache (``pysystem.images.default_cache_dir()``), so
after the first run only the package indexes are fetched again.  The archive is a
prerequisite (tools.guest_images).  The boot tests run the results under QEMU, the
reference for what a correct kernel + initramfs does.
"""
from __future__ import annotations

import gzip
import subprocess
import threading

import pytest

from pysystem.images import BANNER, build_initramfs
from tools import guest_images, program

pytestmark = pytest.mark.network


def _newc_names(path):
    data = gzip.decompress(path.read_bytes())
    names, pos = [], 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        size, namesize = int(data[pos + 54:pos + 62], 16), int(data[pos + 94:pos + 102], 16)
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        if name == "TRAILER!!!":
            return names
        names.append(name)
        pos += (110 + namesize + 3) & ~3
        pos += (size + 3) & ~3


@pytest.mark.parametrize("arch", ["arm", "mipsel"])
def test_fetch_real_guest_files(arch):
    gf = guest_images(arch, refresh=True)       # re-reads the index; the .debs are reused
    kernel = gf.kernel.read_bytes()
    if arch == "arm":
        assert gf.kernel.name == "zImage"
        assert int.from_bytes(kernel[0x24:0x28], "little") == 0x016F2818
        assert gf.dtb.read_bytes()[:4] == b"\xd0\x0d\xfe\xed"
        assert gf.kernel_version.endswith("-armmp")
    else:
        assert gf.dtb is None
        assert kernel[:6] == b"\x7fELF\x01\x01" and kernel[18] == 8     # EM_MIPS, LE
        assert gf.kernel_version.endswith("-4kc-malta")
    names = _newc_names(gf.initrd)
    assert {"init", "bin/busybox", "bin/sh", "dev/console", "sbin"} <= set(names)
    assert any(n.startswith("linux-image-6.1.0-") for n in gf.packages)


BOOT = {
    "arm": ("qemu-system-arm", ["-M", "vexpress-a9", "-device", "virtio-blk-device,drive=d0"],
            "console=ttyAMA0", ["virtio_mmio", "virtio_blk", "ext4"]),
    "mipsel": ("qemu-system-mipsel", ["-M", "malta", "-device", "virtio-blk-pci,drive=d0"],
               "console=ttyS0", ["virtio_pci", "virtio_blk", "ext4"]),
}

TEST_INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
/bin/load-modules
mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d && cat /mnt/d/hello.txt
echo "IMAGES-TEST $(uname -r)"
poweroff -f
"""


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["arm", "mipsel"])
def test_initramfs_with_modules_boots_under_qemu(arch, tmp_path):
    qemu, machine, console, modules = BOOT[arch]
    qemu, mke2fs = program(qemu), program("mke2fs")
    gf = guest_images(arch)
    initrd = build_initramfs(arch, TEST_INIT, modules, out=tmp_path / "initrd.gz")
    (tmp_path / "root").mkdir()
    (tmp_path / "root/hello.txt").write_text("hello from ext4\n")
    subprocess.run([mke2fs, "-q", "-F", "-t", "ext4", "-d", str(tmp_path / "root"),
                    str(tmp_path / "disk.img"), "8M"], check=True, capture_output=True)
    cmd = [qemu, *machine[:2], "-m", "256", "-kernel", str(gf.kernel), "-initrd", str(initrd),
           "-append", console + " rdinit=/init", "-nographic", "-no-reboot",
           "-drive", f"if=none,file={tmp_path / 'disk.img'},format=raw,id=d0", *machine[2:]]
    if gf.dtb:
        cmd += ["-dtb", str(gf.dtb)]
    out = subprocess.run(cmd, capture_output=True, timeout=180, stdin=subprocess.DEVNULL
                         ).stdout.decode(errors="replace")
    assert "hello from ext4" in out
    assert f"IMAGES-TEST {gf.kernel_version}" in out
    assert "reboot: Power down" in out


@pytest.mark.slow
def test_default_initramfs_reaches_a_shell_under_qemu():
    qemu = program("qemu-system-arm")
    gf = guest_images("arm")
    proc = subprocess.Popen(
        [qemu, "-M", "vexpress-a9", "-m", "256", "-kernel", str(gf.kernel),
         "-dtb", str(gf.dtb), "-initrd", str(gf.initrd), "-append", gf.append, "-nographic",
         "-no-reboot"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = b""
    watchdog = threading.Timer(180, proc.kill)
    watchdog.start()
    try:
        while BANNER.encode() not in seen or b"/ # " not in seen.split(BANNER.encode())[-1]:
            chunk = proc.stdout.read1(4096)
            assert chunk, seen[-500:]
            seen += chunk
        proc.stdin.write(b"echo SHELL-$((6*7))\nexit\n")
        proc.stdin.flush()
        rest, _ = proc.communicate(timeout=60)
        seen += rest
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"SHELL-42" in seen and b"reboot: Power down" in seen
