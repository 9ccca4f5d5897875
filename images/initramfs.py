"""Busybox initramfs images whose /init runs a given script.

Interface:

* ``make_initramfs(busybox, out, init_script=None, module_tree=None,
  modules=(), extra_files=None)`` -> Path of a gzip'ed newc cpio, from files
  already on disk (no network; ``fetch.build_initramfs`` fetches them first).
* ``busybox_applets(binary)`` -> applet names found in a busybox binary.
* ``DEFAULT_INIT``, ``BANNER``: the default /init and the line it prints.

Layout of the image: ``/bin/busybox`` and one symlink per applet in ``/bin``;
``/sbin``, ``/usr/bin``, ``/usr/sbin`` are symlinks to it (merged /usr), so
every applet is found wherever a script or the kernel (``/sbin/modprobe``)
looks.  ``/dev/console`` (5,1) and ``/dev/null`` (1,3) are device nodes, so the
kernel has a console before /init mounts devtmpfs.  Empty ``/proc``, ``/sys``,
``/tmp``, ``/root``, ``/etc``, ``/mnt`` directories.

Modules: ``modules=("virtio_blk", "ext4")`` adds those modules and what they
depend on, uncompressed, under ``/lib/modules/<ver>/``, with a ``modules.dep``
(so busybox ``modprobe NAME`` works) and ``/bin/load-modules``, a script that
``insmod``s them in dependency order.  The default /init runs it; a custom /init
should run ``/bin/load-modules`` (or ``modprobe``) itself.

``extra_files`` maps a path in the image to its content: ``bytes``/``str`` (mode
0755 if it starts with ``#!``, else 0644), a host path (``os.PathLike``; its
mode is kept), or a ``(content, mode)`` tuple.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Union

from .cpio import CpioWriter
from .errors import ImageError
from .kmod import ModuleTree, modules_dep

__all__ = ["make_initramfs", "busybox_applets", "DEFAULT_INIT", "BANNER",
           "FALLBACK_APPLETS"]

BANNER = "pysystem initramfs ready"

DEFAULT_INIT = """#!/bin/sh
# /init of a pysystem busybox initramfs
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
[ -x /bin/load-modules ] && /bin/load-modules
echo "%s: Linux $(uname -r) $(uname -m)"
setsid cttyhack sh
echo "shell exited, powering off"
poweroff -f
""" % BANNER

# Used when a busybox binary's applet table cannot be found.
FALLBACK_APPLETS = (
    "[ [[ ash awk basename cat chmod chown chroot clear cmp cp cpio cttyhack cut date dd "
    "depmod df dirname dmesg du echo env expr false find free grep gunzip gzip halt head "
    "hexdump hostname hwclock id ifconfig init insmod ip kill killall less ln ls lsmod "
    "md5sum mdev mkdir mknod modprobe more mount mv nc ping pivot_root poweroff printf ps "
    "pwd readlink reboot rm rmdir rmmod route sed seq setsid sh sha256sum sleep sort stat "
    "stty switch_root sync sysctl tail tar tee test time top touch tr true tty umount uname "
    "uniq uptime vi watch wc wget which xargs xxd yes zcat").split()

_APPLET_RE = re.compile(rb"[a-z0-9_.\[\]-]{1,32}")

ExtraFile = Union[bytes, str, "os.PathLike[str]", tuple]


def busybox_applets(binary: bytes) -> List[str]:
    """The applet names compiled into a busybox binary (its sorted name table)."""
    start = binary.find(b"\0[\0[[\0")
    if start < 0:
        return list(FALLBACK_APPLETS)
    names: List[str] = []
    pos = start + 1
    while True:
        end = binary.find(b"\0", pos)
        word = binary[pos:end]
        if end < 0 or not _APPLET_RE.fullmatch(word):
            break
        name = word.decode()
        if names and name <= names[-1]:
            break
        names.append(name)
        pos = end + 1
    return names if len(names) > 20 else list(FALLBACK_APPLETS)


def _extra_content(value: ExtraFile):
    if isinstance(value, tuple):
        content, mode = value
        data, _ = _extra_content(content)
        return data, mode
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), (0o755 if value.startswith(b"#!") else 0o644)
    path = os.fspath(value)
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data, stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise ImageError(f"cannot read extra file '{path}': {e.strerror}") from None


def make_initramfs(busybox: Union[str, "os.PathLike[str]"], out: Union[str, "os.PathLike[str]"],
                   init_script: Optional[str] = None, module_tree: Optional[ModuleTree] = None,
                   modules: Sequence[str] = (),
                   extra_files: Optional[Mapping[str, ExtraFile]] = None) -> Path:
    """Write an initramfs from a busybox binary already on disk."""
    with open(busybox, "rb") as f:
        bb = f.read()
    w = CpioWriter()
    for d in ("bin", "dev", "etc", "lib", "mnt", "proc", "root", "sys", "tmp", "usr", "var"):
        w.directory(d)
    w.directory("tmp", 0o1777)
    w.file("bin/busybox", bb, 0o755)
    for applet in busybox_applets(bb):
        if applet != "busybox":
            w.symlink("bin/" + applet, "busybox")
    w.symlink("sbin", "bin")
    w.symlink("usr/bin", "../bin")
    w.symlink("usr/sbin", "../bin")
    w.char_device("dev/console", 5, 1)
    w.char_device("dev/null", 1, 3, 0o666)
    w.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    w.file("etc/group", b"root:x:0:\n")

    mods = [m for m in modules if m and m.strip()]
    if mods:
        if module_tree is None:
            raise ImageError("modules requested but no kernel module tree given")
        resolved = module_tree.resolve(mods)
        base = f"lib/modules/{module_tree.version}"
        lines = ["#!/bin/sh", "# insert the initramfs's kernel modules, dependencies first"]
        for name, rel in resolved:
            plain = re.sub(r"\.ko(\.\w+)?$", ".ko", rel)
            w.file(f"{base}/{plain}", module_tree.read(rel))
            lines.append(f"insmod /{base}/{plain}")
        w.file(f"{base}/modules.dep", modules_dep(module_tree, resolved).encode())
        w.file("bin/load-modules", ("\n".join(lines) + "\n").encode(), 0o755)

    script = DEFAULT_INIT if init_script is None else init_script
    w.file("init", script.encode() if isinstance(script, str) else bytes(script), 0o755)
    for guest_path, value in (extra_files or {}).items():
        data, mode = _extra_content(value)
        try:
            w.file(guest_path, data, mode)
        except ValueError as e:
            raise ImageError(str(e)) from None
    return Path(w.write_gz(os.fspath(out)))
