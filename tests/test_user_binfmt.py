"""pysystem-binfmt: the binfmt_misc entries recognise exactly the executables of their
architecture (checked on the cross toolchains' real libc and loader files and the host's
Python), print in the kernel's register format and Debian's update-binfmts format, and
register/run/remove for real where the test may (root, binfmt_misc mounted)."""
from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import subprocess
import sys

import pytest

import tools
from pysystem.user import binfmt

SAMPLES = {"arm": "/usr/arm-linux-gnueabihf/lib/libc.so.6",
           "mipsel": "/usr/mipsel-linux-gnu/lib/libc.so.6",
           "mips": "/usr/mips-linux-gnu/lib/libc.so.6"}


@contextlib.contextmanager
def _registered(flags):
    """The arm entry registered with ``flags`` for the duration; the kernel's table is
    one for the machine, so tests that register (here and in other pytest workers)
    take turns through a lock file."""
    with open("/tmp/pysystem-binfmt-test.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if glob.glob(os.path.join(binfmt.BINFMT_DIR, "*arm*")):
            pytest.skip(tools.BINFMT_TAKEN)
        script = tools.script("pysystem-binfmt")
        subprocess.run([script, "--register", "--arch", "arm", "--flags", flags], check=True)
        try:
            yield
        finally:
            subprocess.run([script, "--remove", "--arch", "arm"], check=True)


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
    gcc = tools.program("arm-linux-gnueabihf-gcc")
    src = tmp_path / "h.c"
    src.write_text('#include <stdio.h>\nint main(int c,char**v){printf("%s %d\\n",v[0],c);return 0;}\n')
    exe = tmp_path / "h"
    subprocess.run([gcc, "-static", "-o", str(exe), str(src)], check=True)
    with _registered("P"):
        r = subprocess.run([str(exe), "x"], capture_output=True, timeout=120)
    assert r.stdout == f"{exe} 2\n".encode()


# what the front end (a Python script) needs inside a chroot, found from the interpreter
# that runs pysystem-binfmt's entries (this one: tools.script's)
_NEEDS = r"""
import os, sys, subprocess, pysystem
paths = {sys.prefix, os.path.dirname(os.path.dirname(os.path.abspath(pysystem.__file__)))}
if sys.base_prefix not in ("/", "/usr"):
    paths.add(sys.base_prefix)
hop = sys.executable
for _ in range(10):     # each link on the way to the real interpreter
    paths.add(hop)
    if not os.path.islink(hop):
        break
    hop = os.path.join(os.path.dirname(hop), os.readlink(hop))
paths.update(p for p in sys.path if p and os.path.isdir(p))
out = subprocess.run(["ldd", os.path.realpath(sys.executable)], capture_output=True, text=True).stdout
for word in out.split():
    if word.startswith("/"):
        paths.add(os.path.realpath(word)); paths.add(word)
print("\n".join(sorted(paths)))
"""


def test_chroot_through_binfmt(tmp_path):
    """``chroot ROOT /bin/sh -c ...`` into a root of Debian's armhf busybox: the kernel
    starts the ARM programs through pysystem-user-arm (registered with the F flag, so
    the kernel holds the front end open; the Python that runs it is bound into the root
    at its own paths, in a private mount namespace).  The output is what qemu-arm gives
    for the same commands, run with ``-L ROOT``."""
    if os.geteuid() != 0 or not os.path.exists(os.path.join(binfmt.BINFMT_DIR, "register")):
        pytest.skip(tools.NO_BINFMT)
    unshare = tools.program("unshare")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(tools.guest_images("arm").busybox, root / "bin" / "busybox")
    for applet in ("sh", "ls", "uname", "echo", "cat"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc").mkdir()
    (root / "etc" / "motd").write_text("inside the armhf root\n")
    script = tools.script("pysystem-binfmt")
    python = open(script).readline()[2:].strip()
    needs = subprocess.run([python, "-c", _NEEDS], capture_output=True, text=True,
                           check=True).stdout.split()
    needs += ["/proc", "/dev", os.environ.get("PYSYSTEM_CODE_CACHE", "") or "/nonexistent"]
    binds = []
    for path in needs:
        if not os.path.exists(path):
            continue
        target = f"{root}{path}"
        if os.path.isdir(path):
            binds.append(f"mkdir -p '{target}' && mount --rbind '{path}' '{target}'")
        else:
            binds.append(f"mkdir -p '{os.path.dirname(target)}' && touch '{target}' && "
                         f"mount --bind '{path}' '{target}'")
    command = "uname -m; ls /; cat /etc/motd; echo done"
    chroot = tools.program("chroot")
    shell = " && ".join(binds + [f"{chroot} '{root}' /bin/sh -c '{command}'"])
    with _registered("PF"):
        r = subprocess.run([unshare, "-m", "--propagation", "private", "sh", "-c", shell],
                           capture_output=True, timeout=300)
    q = subprocess.run([tools.program("qemu-arm"), "-L", str(root), str(root / "bin/sh"),
                        "-c", command.replace("ls /", f"ls {root}").replace(
                            "/etc/motd", f"{root}/etc/motd")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"armv7l\n") and b"inside the armhf root" in r.stdout
    assert r.stdout == q.stdout, (r.stdout, q.stdout)
