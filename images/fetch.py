"""Fetch Debian 12 guest kernels and busybox into a user cache; the command line.

Interface:

* ``guest_files(arch, cache_dir=None, mirror=None, refresh=False, quiet=False)``
  -> ``GuestFiles`` for ``arch`` "arm" (armhf, ``linux-image-*-armmp``, zImage +
  ``vexpress-v2p-ca9.dtb``) or "mipsel" (``linux-image-*-4kc-malta``, an ELF
  vmlinux), each with ``busybox-static`` and a default initramfs; or "mips", built
  from Debian's sources instead (``build_mips``; ``refresh`` builds it again).  When the
  cache already holds a complete set (``<cache>/<arch>/guest.json`` and its
  files), nothing touches the network; ``refresh=True`` looks for newer
  packages.
* ``build_initramfs(arch, init_script=None, modules=(), extra_files=None,
  out=None, cache_dir=None, mirror=None)`` -> Path of a busybox initramfs
  (``initramfs.make_initramfs``) whose /init is ``init_script``, fetching the
  guest packages first if needed.  ``out`` defaults to
  ``<cache>/<arch>/initramfs-custom.cpio.gz``; tests that may run in parallel
  should pass their own ``out``.
* ``default_cache_dir()``: ``$XDG_CACHE_HOME/pysystem`` or ``~/.cache/pysystem``.
* ``main(argv)``: the ``pysystem-images`` command (also ``python -m
  pysystem.images``); ``--help`` lists the options.  ``--boot ARCH`` runs the
  guest (``boot``: an explanation first, and a snapshot of the booted shell that
  later runs restore).

How: the mirror comes from ``--mirror``/``$PYSYSTEM_DEBIAN_MIRROR`` or the host's
apt sources (``aptsources``); ``dists/bookworm/Release`` and
``main/binary-<arch>/Packages.xz`` are downloaded and the index checked against
the Release file's SHA256; the newest matching package is chosen
(``packages``), its .deb downloaded and checked against the index's SHA256
(``download``), and unpacked in Python (``deb``).

Cache layout (``<cache>``):
  debs/<file>.deb                      downloaded packages, verified
  index/<arch>/Packages.xz, Release    package indexes (re-read after a day)
  pkgs/<package>_<version>_<arch>/     unpacked packages
  arm/zImage, arm/vexpress-v2p-ca9.dtb, arm/initramfs.cpio.gz, arm/guest.json
  mipsel/vmlinux, mipsel/initramfs.cpio.gz, mipsel/guest.json
  mips/vmlinux, mips/busybox, mips/initramfs.cpio.gz, mips/guest.json
  build/mips/*.log                     the big-endian guest's build logs
  <arch>/snapshots/boot-<initramfs>.pysnap, .json   the booted guest (``boot_snapshot``)
A lock file (``<cache>/.lock``) serialises concurrent fetches.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from pysystem import dirs, pypy_gc

from .aptsources import MIRROR_ENV, mirror_from
from .archive import SUITE, get_file, load_index
from .archive import release_sha256 as _release_sha256  # noqa: F401 (tests use it here)
from .boot import UNAVAILABLE, boot, check_available
from .build_mips import build_guest
from .deb import extract_deb
from .errors import ImageError, NotFoundError, OfflineError
from .initramfs import ExtraFile, make_initramfs
from .kmod import ModuleTree
from .packages import Stanza, kernel_package_re, newest, parse_packages

__all__ = ["GuestArch", "GuestFiles", "ARCHES", "SUITE", "guest_files", "build_initramfs",
           "default_cache_dir", "main"]

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class GuestArch:
    name: str                 # our name: "arm", "mipsel"
    debian: str               # Debian architecture
    flavour: str              # kernel flavour
    kernel_file: str          # name of the kernel in the cache
    dtb: Optional[str]        # device tree to copy out of the kernel package
    append: str               # a kernel command line that reaches the initramfs shell
    machine: str              # the board to run it on
    elf_machine: int          # e_machine of the kernel / busybox ELF (busybox always ELF)
    byte_order: str = "little"
    built: bool = False       # built from Debian's sources (build_mips), not fetched


ARCHES: Dict[str, GuestArch] = {
    "arm": GuestArch("arm", "armhf", "armmp", "zImage", "vexpress-v2p-ca9.dtb",
                     "console=ttyAMA0 rdinit=/init", "vexpress-a9", 40),
    "mipsel": GuestArch("mipsel", "mipsel", "4kc-malta", "vmlinux", None,
                        "console=ttyS0 rdinit=/init", "malta", 8),
    "mips": GuestArch("mips", "mips", "malta", "vmlinux", None,
                      "console=ttyS0 rdinit=/init", "malta", 8, "big", built=True),
}
_ALIASES = {"armhf": "arm", "arm": "arm", "mipsel": "mipsel", "mips": "mips"}


@dataclass
class GuestFiles:
    """Paths of one architecture's guest images (all inside the cache)."""
    arch: str
    kernel: Path
    dtb: Optional[Path]
    initrd: Path
    busybox: Path
    kernel_version: str                  # e.g. 6.1.0-50-armmp
    kernel_tree: Path                    # the unpacked linux-image package
    packages: Dict[str, str] = field(default_factory=dict)   # name -> version
    append: str = ""
    machine: str = ""

    def to_json(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, Path):
                d[k] = str(v)
        return d


def lookup_arch(arch: str) -> GuestArch:
    try:
        return ARCHES[_ALIASES[arch]]
    except KeyError:
        raise ImageError(f"unknown guest architecture '{arch}' (choose from: "
                         f"{', '.join(ARCHES)})") from None


def default_cache_dir() -> Path:
    return Path(dirs.user_cache_dir())


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _clear_leftovers_if_idle(cache: Path) -> None:
    """``_remove_leftovers`` when no other run holds the lock (else they are its files)."""
    with open(cache / ".lock", "a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return
        try:
            _remove_leftovers(cache)
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(cache: Path) -> None:
    """Temporary files of a fetch that was killed (we hold the lock: none is live)."""
    for pattern in ("debs/.part-*", "index/*/.part-*", "pkgs/.unpack-*", "*/.copy-*",
                    "*/.json-*"):
        for p in cache.glob(pattern):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".json-", dir=str(path.parent))
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _copy_atomic(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".copy-", dir=str(dest.parent))
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- the package index ----------------------------------------------------------------

def _load_index(mirror: str, ga: GuestArch, cache: Path, refresh: bool, quiet: bool) -> str:
    return load_index(mirror, f"main/binary-{ga.debian}/Packages.xz", cache, refresh, quiet)


def _choose(text: str, ga: GuestArch) -> Tuple[Stanza, Stanza]:
    kre = kernel_package_re(ga.flavour)
    kernel = newest(parse_packages(text, lambda n: kre.fullmatch(n) is not None))
    if kernel is None:
        raise ImageError(f"no linux-image-*-{ga.flavour} package in {SUITE}/main "
                         f"for {ga.debian}")
    busybox = newest(parse_packages(text, lambda n: n == "busybox-static"))
    if busybox is None:
        raise ImageError(f"no busybox-static package in {SUITE}/main for {ga.debian}")
    return kernel, busybox


def _get_deb(mirror: str, st: Stanza, cache: Path, quiet: bool) -> Path:
    return get_file(mirror, st.filename, st.sha256, st.size, cache, quiet)


def _unpacked(deb: Path, st: Stanza, ga: GuestArch, cache: Path) -> Path:
    """Unpack a .deb once into pkgs/<name>_<version>_<arch>/ (atomically)."""
    version = st.version.replace(":", "%3a")
    dest = cache / "pkgs" / f"{st.name}_{version}_{ga.debian}"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=str(dest.parent)))
    try:
        extract_deb(str(deb), str(tmp))
        (tmp / ".complete").write_text(f"{st.name} {st.version}\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


# --- checks of what we unpacked -------------------------------------------------------

def _check_elf(path: Path, ga: GuestArch, what: str) -> None:
    with open(path, "rb") as f:
        head = f.read(20)
    data = 1 if ga.byte_order == "little" else 2
    if (len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 1 or head[5] != data
            or int.from_bytes(head[18:20], ga.byte_order) != ga.elf_machine):
        raise ImageError(f"{path}: {what} is not a 32-bit {ga.byte_order}-endian "
                         f"{ga.debian} ELF file")


def _check_zimage(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(0x30)
    if int.from_bytes(head[0x24:0x28], "little") != 0x016F2818:
        raise ImageError(f"{path}: not an ARM zImage (no magic at offset 0x24)")


def _check_dtb(path: Path) -> None:
    with open(path, "rb") as f:
        if f.read(4) != b"\xd0\x0d\xfe\xed":
            raise ImageError(f"{path}: not a flattened device tree")


# --- the cache as a whole -------------------------------------------------------------

def _manifest_ok(path: Path) -> Optional[GuestFiles]:
    try:
        data = json.loads(path.read_text())
        if data.pop("format", None) != MANIFEST_VERSION:
            return None
        gf = GuestFiles(**data)
    except (OSError, ValueError, TypeError):
        return None
    for k in ("kernel", "dtb", "initrd", "busybox", "kernel_tree"):
        v = getattr(gf, k)
        if v is not None:
            setattr(gf, k, Path(v))
            if not Path(v).exists() and k != "initrd":
                return None
    if not gf.initrd.exists():            # rebuilt from the cache, no network needed
        make_initramfs(gf.busybox, gf.initrd)
    return gf


def guest_files(arch: str, cache_dir: Union[str, "os.PathLike[str]", None] = None,
                mirror: Optional[str] = None, refresh: bool = False,
                quiet: bool = False) -> GuestFiles:
    """Kernel, DTB, initramfs and busybox for ``arch``, fetched into the cache if needed."""
    ga = lookup_arch(arch)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache = cache.expanduser().absolute()
    out_dir = cache / ga.name
    manifest = out_dir / "guest.json"
    try:
        if not refresh:     # complete: no lock needed (the manifest is written atomically,
            gf = _manifest_ok(manifest)     # last), so a build elsewhere does not hold us up
            if gf is not None:
                _clear_leftovers_if_idle(cache)
                return gf
        with _locked(cache):
            _remove_leftovers(cache)
            if not refresh:
                gf = _manifest_ok(manifest)
                if gf is not None:
                    return gf
            url = mirror_from(mirror, SUITE)
            if ga.built:
                return _build(ga, url, cache, out_dir, manifest, refresh, quiet)
            text = _load_index(url, ga, cache, refresh, quiet)
            kst, bst = _choose(text, ga)
            try:
                kdeb = _get_deb(url, kst, cache, quiet)
                bdeb = _get_deb(url, bst, cache, quiet)
            except NotFoundError:
                if refresh:
                    raise
                # the index we kept is older than the mirror: read it again, once
                text = _load_index(url, ga, cache, True, quiet)
                kst, bst = _choose(text, ga)
                kdeb = _get_deb(url, kst, cache, quiet)
                bdeb = _get_deb(url, bst, cache, quiet)
            ktree = _unpacked(kdeb, kst, ga, cache)
            btree = _unpacked(bdeb, bst, ga, cache)
            return _assemble(ga, out_dir, kst, bst, ktree, btree, manifest)
    except OSError as e:
        raise ImageError(f"cache {cache}: {e.strerror or e}"
                         + (f" ({e.filename})" if e.filename else "")) from None


def _assemble(ga: GuestArch, out_dir: Path, kst: Stanza, bst: Stanza, ktree: Path,
              btree: Path, manifest: Path) -> GuestFiles:
    kver = kst.name[len("linux-image-"):]
    out_dir.mkdir(parents=True, exist_ok=True)
    src = ktree / "boot" / f"vmlinuz-{kver}"
    if not src.is_file():
        raise ImageError(f"{kst.name} has no /boot/vmlinuz-{kver}")
    kernel = out_dir / ga.kernel_file
    _copy_atomic(src, kernel)
    if ga.kernel_file == "zImage":
        _check_zimage(kernel)
    else:
        _check_elf(kernel, ga, "the kernel")
    dtb = None
    if ga.dtb:
        found = sorted((ktree / "usr" / "lib").glob(f"linux-image-{kver}/**/{ga.dtb}"))
        if not found:
            raise ImageError(f"{kst.name} has no {ga.dtb} under /usr/lib/linux-image-{kver}")
        dtb = out_dir / ga.dtb
        _copy_atomic(found[0], dtb)
        _check_dtb(dtb)
    busybox = btree / "bin" / "busybox"
    if not busybox.is_file():
        raise ImageError(f"{bst.name} has no /bin/busybox")
    _check_elf(busybox, ga, "busybox")
    initrd = make_initramfs(busybox, out_dir / "initramfs.cpio.gz")
    gf = GuestFiles(ga.name, kernel, dtb, initrd, busybox, kver, ktree,
                    {kst.name: kst.version, bst.name: bst.version}, ga.append, ga.machine)
    data = gf.to_json()
    data["format"] = MANIFEST_VERSION
    _write_json_atomic(manifest, data)
    return gf


def _build(ga: GuestArch, mirror: str, cache: Path, out_dir: Path, manifest: Path,
           refresh: bool, quiet: bool) -> GuestFiles:
    """Build the guest from Debian's sources (``build_mips``) and write its manifest."""
    built = build_guest(mirror, cache, out_dir, refresh, quiet)
    _check_elf(built.kernel, ga, "the kernel")
    _check_elf(built.busybox, ga, "busybox")
    initrd = make_initramfs(built.busybox, out_dir / "initramfs.cpio.gz")
    gf = GuestFiles(ga.name, built.kernel, None, initrd, built.busybox, built.kernel_release,
                    out_dir, built.packages, ga.append, ga.machine)
    data = gf.to_json()
    data["format"] = MANIFEST_VERSION
    _write_json_atomic(manifest, data)
    return gf


def _module_tree(ga_name: str, gf: GuestFiles, modules: Sequence[str]) -> Optional[ModuleTree]:
    if not modules:
        return None
    if lookup_arch(ga_name).built:
        raise ImageError(f"the {ga_name} kernel has no modules: its drivers are built in")
    return ModuleTree(str(gf.kernel_tree), gf.kernel_version)


def build_initramfs(arch: str, init_script: Optional[str] = None, modules: Sequence[str] = (),
                    extra_files: Optional[Mapping[str, ExtraFile]] = None,
                    out: Union[str, "os.PathLike[str]", None] = None,
                    cache_dir: Union[str, "os.PathLike[str]", None] = None,
                    mirror: Optional[str] = None) -> Path:
    """Build an initramfs for ``arch`` ("arm" or "mipsel"), fetching packages if needed."""
    gf = guest_files(arch, cache_dir=cache_dir, mirror=mirror)
    if out is None:
        out = gf.kernel.parent / "initramfs-custom.cpio.gz"
    tree = _module_tree(arch, gf, modules)
    return make_initramfs(gf.busybox, out, init_script, tree, modules, extra_files)


# --- the command line -----------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pysystem-images",
        description="Fetch Debian 12 kernels (armhf armmp, mipsel 4kc-malta) and busybox into "
                    "a user cache, build the big-endian Malta guest (mips) from Debian's "
                    "sources, and build busybox initramfs images.",
        epilog=f"The mirror comes from --mirror, ${MIRROR_ENV}, or the host's apt sources.")
    p.add_argument("--arch", action="append", choices=sorted(set(_ALIASES)),
                   help="guest architecture (repeatable; default: arm and mipsel)")
    p.add_argument("--mirror", metavar="URL", help="Debian archive URL (the folder holding dists/)")
    p.add_argument("--cache-dir", metavar="DIR", type=Path,
                   help=f"cache folder (default: {default_cache_dir()})")
    p.add_argument("--refresh", action="store_true",
                   help="look for newer packages even if the cache is complete")
    p.add_argument("--init", metavar="FILE", type=Path,
                   help="build an initramfs whose /init is this script")
    p.add_argument("--modules", metavar="M1,M2", default="",
                   help="kernel modules (with their dependencies) to put in the initramfs")
    p.add_argument("--add", metavar="GUEST=HOST", action="append", default=[],
                   help="copy host file HOST to GUEST in the initramfs (repeatable)")
    p.add_argument("-o", "--output", metavar="FILE", type=Path,
                   help="where to write the custom initramfs (needs one --arch)")
    p.add_argument("--json", action="store_true", help="print the paths as JSON")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no download progress (with --boot: no explanation either)")
    p.add_argument("--boot", metavar="ARCH", choices=sorted(set(_ALIASES) | set(UNAVAILABLE)),
                   help="fetch ARCH's guest and boot it with pysystem (the 'run' line); the "
                        "booted shell is saved, and later runs restore it in about a second")
    p.add_argument("--fresh", action="store_true",
                   help="with --boot: boot from scratch even if a booted guest was saved")
    p.add_argument("--no-save", action="store_true",
                   help="with --boot: never save the booted guest")
    return p


def run_args(entry: Dict) -> List[str]:
    """The emulator's command line that boots a fetched guest (``entry``: to_json())."""
    args = [f"pysystem-{entry['arch']}", "-M", entry["machine"], "-m", "256",
            "-kernel", entry["kernel"]]
    if entry["dtb"]:
        args += ["-dtb", entry["dtb"]]
    return args + ["-initrd", entry["initrd"], "-append", entry["append"], "-nographic"]


def _boot(entry: Dict, args: argparse.Namespace) -> int:
    """Run the emulator on the guest in this process (``boot``)."""
    files = {k: entry[k] for k in ("kernel", "dtb", "initrd")}
    return boot(entry["arch"], run_args(entry), files, entry["packages"], fresh=args.fresh,
                save=not args.no_save, quiet=args.quiet)


def _run(args: argparse.Namespace) -> int:
    if (args.fresh or args.no_save) and not args.boot:
        raise ImageError("--fresh and --no-save go with --boot ARCH")
    if args.boot:
        check_available(_ALIASES.get(args.boot, args.boot))
        pypy_gc.restart_if_needed()     # the emulator runs in this process
        args.arch = [args.boot]
    arches = [lookup_arch(a).name for a in (args.arch or ["arm", "mipsel"])]
    arches = list(dict.fromkeys(arches))
    custom = bool(args.init or args.modules or args.add or args.output)
    if args.output and len(arches) != 1:
        raise ImageError("--output needs exactly one --arch")
    init_script = None
    if args.init:
        try:
            init_script = args.init.read_text()
        except OSError as e:
            raise ImageError(f"cannot read --init file '{args.init}': {e.strerror}") from None
    extra: Dict[str, Union[str, Path]] = {}
    for item in args.add:
        guest, sep, host = item.partition("=")
        if not sep or not guest or not host:
            raise ImageError(f"--add wants GUEST=HOST, got '{item}'")
        extra[guest] = Path(host)
    modules = [m for m in args.modules.split(",") if m.strip()]

    results = {}
    for a in arches:
        gf = guest_files(a, args.cache_dir, args.mirror, args.refresh, args.quiet)
        entry = gf.to_json()
        if custom:
            out = args.output or gf.kernel.parent / "initramfs-custom.cpio.gz"
            tree = _module_tree(a, gf, modules)
            entry["initrd"] = str(make_initramfs(gf.busybox, out, init_script, tree, modules,
                                                 extra))
        entry["arch"] = a
        results[a] = entry

    if args.boot:
        return _boot(results[arches[0]], args)
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return 0
    for a, e in results.items():
        print(f"{a} kernel: {e['kernel']}")
        if e["dtb"]:
            print(f"{a} dtb: {e['dtb']}")
        print(f"{a} initrd: {e['initrd']}")
        print(f"{a} packages: " + ", ".join(f"{n} {v}" for n, v in sorted(e["packages"].items())))
        print(f"{a} run: {' '.join(shlex.quote(x) for x in run_args(e))}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ImageError as e:
        sys.stderr.write(f"pysystem-images: error: {e}\n")
        return 2 if isinstance(e, OfflineError) else 1
    except KeyboardInterrupt:
        sys.stderr.write("pysystem-images: interrupted\n")
        return 130
    except BrokenPipeError:            # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
