"""Build the big-endian Malta guest: Debian 12 has no big-endian MIPS port to fetch.

Interface:

* ``build_guest(mirror, cache, out_dir, quiet)`` -> ``BuiltGuest`` (kernel, busybox,
  kernel release, source package versions): a Malta ``vmlinux`` and a static busybox,
  both big-endian MIPS32, built once with ``gcc-mips-linux-gnu`` from Debian 12's own
  sources and copied into ``out_dir`` (``<cache>/mips``).
* ``check_tools()`` raises ``ImageError`` naming the Debian packages to install when a
  build tool is missing.
* ``KERNEL_CONFIG``: the kernel's configuration (``configs/malta-be-kernel.config``).

The sources:

* the kernel: ``linux-source-6.1`` (``main/binary-all``), its
  ``/usr/src/linux-source-6.1.tar.xz``, configured by ``make allnoconfig`` with
  ``KCONFIG_ALLCONFIG=configs/malta-be-kernel.config``: Debian's 4kc-malta choices
  (MIPS32 R2, HZ 250) with the board's drivers built in and no modules.  Every
  ``CONFIG_`` line of that file is checked in the resulting ``.config``.
* busybox: the ``busybox`` source package (``main/source/Sources.xz``), its upstream
  tarball, ``make allnoconfig`` and the options of ``configs/malta-be-busybox.config``
  (static; the shell and the applets the initramfs and the tests use).

How long, once (measured 2026-12-07 on this project's 2-core machine): the kernel takes
about 3 processor-minutes (2m29s user + 29s system: under 2 minutes on 2 idle cores, 24
minutes while ~9 other jobs shared them), busybox about 20 processor-seconds (4 minutes
shared), plus the download of linux-source-6.1 (139 MB).  The build trees under
``<cache>/build/mips/`` are removed afterwards (about 1.5 GB while building), the
downloaded sources stay in ``<cache>/debs/``.  Each build's output goes to
``<cache>/build/mips/*.log``; a failed build names its log.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

from .archive import get_file, load_index, source_files
from .deb import extract_deb
from .errors import ImageError
from .packages import newest, parse_packages

__all__ = ["BuiltGuest", "build_guest", "check_tools", "apply_options", "missing_options",
           "KERNEL_CONFIG", "BUSYBOX_CONFIG", "CROSS", "KERNEL_MINUTES"]

CROSS = "mips-linux-gnu-"
KERNEL_CONFIG = Path(__file__).parent / "configs" / "malta-be-kernel.config"
BUSYBOX_CONFIG = Path(__file__).parent / "configs" / "malta-be-busybox.config"
KERNEL_SOURCE = "linux-source-6.1"
BUSYBOX_SOURCE = "busybox"
# Processor minutes, measured (module docstring); the wall clock is this on 2 idle cores.
KERNEL_MINUTES = 3
# program -> the Debian package that has it
TOOLS: Dict[str, str] = {
    CROSS + "gcc": "gcc-mips-linux-gnu", "gcc": "gcc", "make": "make", "flex": "flex",
    "bison": "bison", "bc": "bc", "perl": "perl", "tar": "tar", "xz": "xz-utils",
    "bzip2": "bzip2",
}


@dataclass
class BuiltGuest:
    kernel: Path
    busybox: Path
    kernel_release: str                  # e.g. 6.1.176
    packages: Dict[str, str]             # source package -> version


def check_tools() -> None:
    missing = sorted({pkg for prog, pkg in TOOLS.items() if shutil.which(prog) is None})
    if missing:
        raise ImageError("building the big-endian Malta guest needs these Debian packages: "
                         + " ".join(missing) + " (apt-get install them)")


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        sys.stderr.write(f"pysystem-images: {text}\n")
        sys.stderr.flush()


def _run(cmd: Sequence[str], cwd: Path, log: Path, what: str, stdin: bytes = b"") -> None:
    env = dict(os.environ, LC_ALL="C", ARCH="mips", CROSS_COMPILE=CROSS)
    with open(log, "ab") as f:
        f.write(("$ " + " ".join(cmd) + "\n").encode())
        f.flush()
        status = subprocess.run(list(cmd), cwd=str(cwd), stdout=f, stderr=subprocess.STDOUT,
                                input=stdin, env=env).returncode
    if status != 0:
        raise ImageError(f"{what} failed (exit status {status}); its output is in {log}")


def _jobs() -> str:
    return f"-j{max(1, os.cpu_count() or 1)}"


def _check_be_elf(path: Path, what: str) -> None:
    with open(path, "rb") as f:
        head = f.read(20)
    if (len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 1 or head[5] != 2
            or int.from_bytes(head[18:20], "big") != 8):
        raise ImageError(f"{path}: {what} is not a 32-bit big-endian MIPS ELF file")


def missing_options(config_text: str, wanted_text: str) -> List[str]:
    """The ``CONFIG_X=v`` lines of ``wanted_text`` that ``config_text`` does not have."""
    have = set(config_text.splitlines())
    return [line for line in (l.strip() for l in wanted_text.splitlines())
            if line.startswith("CONFIG_") and line not in have]


# --- sources ----------------------------------------------------------------------------

def _kernel_source(mirror: str, cache: Path, refresh: bool, quiet: bool):
    text = load_index(mirror, "main/binary-all/Packages.xz", cache, refresh, quiet)
    st = newest(parse_packages(text, lambda n: n == KERNEL_SOURCE))
    if st is None:
        raise ImageError(f"no {KERNEL_SOURCE} package in main/binary-all")
    return st, get_file(mirror, st.filename, st.sha256, st.size, cache, quiet)


def _busybox_source(mirror: str, cache: Path, refresh: bool, quiet: bool):
    text = load_index(mirror, "main/source/Sources.xz", cache, refresh, quiet)
    st = newest(parse_packages(text, lambda n: n == BUSYBOX_SOURCE))
    if st is None:
        raise ImageError(f"no {BUSYBOX_SOURCE} source package in main/source")
    orig = [f for f in source_files(st) if ".orig.tar." in f[0]]
    if not orig or "Directory" not in st:
        raise ImageError(f"the {BUSYBOX_SOURCE} source package lists no upstream tarball")
    name, sha, size = orig[0]
    return st, get_file(mirror, f"{st['Directory']}/{name}", sha, size, cache, quiet)


def _untar(archive: Path, dest: Path, log: Path) -> Path:
    """Unpack ``archive`` into ``dest`` (emptied first); the one top folder it holds."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _run(["tar", "xf", str(archive)], dest, log, f"unpacking {archive.name}")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise ImageError(f"{archive.name} does not hold one top folder")
    return tops[0]


# --- the builds -------------------------------------------------------------------------

def _build_kernel(deb: Path, work: Path, quiet: bool) -> tuple:
    log = work / "kernel.log"
    log.write_bytes(b"")
    tmp = Path(tempfile.mkdtemp(prefix="deb-", dir=str(work)))
    try:
        extract_deb(str(deb), str(tmp))
        tarballs = sorted(tmp.glob("usr/src/linux-source-*.tar.xz"))
        if not tarballs:
            raise ImageError(f"{deb.name} has no /usr/src/linux-source-*.tar.xz")
        tree = _untar(tarballs[0], work / "linux", log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _say(quiet, f"building the big-endian Malta kernel (about {KERNEL_MINUTES} processor-minutes"
                f", once; log: {log})")
    _run(["make", f"KCONFIG_ALLCONFIG={KERNEL_CONFIG}", "allnoconfig"], tree, log,
         "configuring the kernel")
    missing = missing_options((tree / ".config").read_text(), KERNEL_CONFIG.read_text())
    if missing:
        raise ImageError(f"the kernel configuration lacks {', '.join(missing)} "
                         f"({KERNEL_CONFIG.name} asks for them)")
    _run(["make", _jobs(), "vmlinux"], tree, log, "building the kernel")
    release = subprocess.run(["make", "-s", "kernelrelease"], cwd=str(tree), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, ARCH="mips", CROSS_COMPILE=CROSS)
                             ).stdout.strip()
    return tree / "vmlinux", release or "unknown"


def apply_options(config_text: str, wanted_text: str) -> str:
    """Set the ``CONFIG_X=v`` lines of ``wanted_text`` (``=n``: not set) in a .config
    (busybox's kconfig has no KCONFIG_ALLCONFIG)."""
    for line in (l.strip() for l in wanted_text.splitlines()):
        if not line.startswith("CONFIG_"):
            continue
        name, value = line.split("=", 1)
        new = f"# {name} is not set" if value == "n" else line
        config_text, n = re.subn(rf"^(# {name} is not set|{name}=.*)$", new, config_text,
                                 flags=re.M)
        if n != 1:
            raise ImageError(f"busybox has no option {name}")
    return config_text


def _build_busybox(tarball: Path, work: Path, quiet: bool) -> Path:
    log = work / "busybox.log"
    log.write_bytes(b"")
    tree = _untar(tarball, work / "busybox", log)
    _say(quiet, f"building a static big-endian busybox (under a processor-minute, once; "
                f"log: {log})")
    _run(["make", "allnoconfig"], tree, log, "configuring busybox")
    config = tree / ".config"
    wanted = BUSYBOX_CONFIG.read_text()
    config.write_text(apply_options(config.read_text(), wanted))
    _run(["make", "oldconfig"], tree, log, "configuring busybox", stdin=b"\n" * 4096)
    missing = missing_options(config.read_text(),
                              "\n".join(l for l in wanted.splitlines() if not l.endswith("=n")))
    if missing:
        raise ImageError(f"the busybox configuration lacks {', '.join(missing)} "
                         f"({BUSYBOX_CONFIG.name} asks for them)")
    _run(["make", _jobs(), "busybox"], tree, log, "building busybox")
    return tree / "busybox"


def _install(src: Path, dest: Path, what: str) -> Path:
    _check_be_elf(src, what)
    fd, tmp = tempfile.mkstemp(prefix=".copy-", dir=str(dest.parent))
    os.close(fd)
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return dest


def build_guest(mirror: str, cache: Path, out_dir: Path, refresh: bool = False,
                quiet: bool = False) -> BuiltGuest:
    """Build (or rebuild) the kernel and busybox into ``out_dir``; the caller holds the
    cache lock."""
    check_tools()
    kst, kdeb = _kernel_source(mirror, cache, refresh, quiet)
    bst, btar = _busybox_source(mirror, cache, refresh, quiet)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = cache / "build" / "mips"
    work.mkdir(parents=True, exist_ok=True)
    kernel = out_dir / "vmlinux"
    busybox = out_dir / "busybox"
    try:
        vmlinux, release = _build_kernel(kdeb, work, quiet)
        _install(vmlinux, kernel, "the kernel")
        _install(_build_busybox(btar, work, quiet), busybox, "busybox")
    finally:
        for tree in ("linux", "busybox"):
            shutil.rmtree(work / tree, ignore_errors=True)
    return BuiltGuest(kernel, busybox, release,
                      {kst.name: kst.version, f"{bst.name} (source)": bst.version})
