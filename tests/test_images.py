"""Offline tests of the image tools: parsers, unpacking, cpio, modules, the cache.

Oracles: dpkg for version order, dpkg-deb for building real .debs, GNU cpio for
reading our archives back, gcc for ELF objects with a .modinfo section.  The
end-to-end test runs the whole fetch against a small Debian-shaped mirror
written to a temporary folder and reached through a file: URL.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from pysystem.images import ImageError, OfflineError, guest_files, make_initramfs
from pysystem.images import aptsources, cpio, deb, debver, fetch, initramfs, kmod, packages
from tools import program



# --- Debian versions -----------------------------------------------------------------

VERSION_PAIRS = [
    ("1.0", "1.0", 0), ("1.0", "1.0-0", 0), ("1.0~rc1", "1.0", -1), ("1.0~~", "1.0~", -1),
    ("1.0", "1.0+b1", -1), ("1:0.1", "2.0", 1), ("6.1.0-9", "6.1.0-10", -1),
    ("6.1.176-1", "6.1.170-3", 1), ("1.35.0-4+deb12u1+b1", "1.35.0-4+deb12u1", 1),
    ("1.2a", "1.2+", -1), ("1.2.3", "1.2.3a", -1), ("0001", "1", 0), ("a", "", 1),
    ("2.0-1", "2.0-1~bpo1", 1), ("1.0-1", "1.0.1", -1), ("10", "9", 1),
]


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@pytest.mark.parametrize("a,b,expected", VERSION_PAIRS)
def test_version_order(a, b, expected):
    assert _sign(debver.compare_versions(a, b)) == expected
    assert _sign(debver.compare_versions(b, a)) == -expected


def test_version_order_matches_dpkg():
    dpkg = program("dpkg")
    import random
    rng = random.Random(7)
    alphabet = "0123456789.~+ab"
    versions = set(a for a, _, _ in VERSION_PAIRS if a)
    while len(versions) < 60:
        s = rng.choice("0123456789") + "".join(rng.choice(alphabet)
                                               for _ in range(rng.randint(0, 6)))
        if rng.random() < 0.3:
            s += "-" + rng.choice("0123456789") + "".join(rng.choice("0123456789.~+b")
                                                          for _ in range(rng.randint(0, 3)))
        versions.add(s)
    vs = sorted(versions)
    for a, b in zip(vs, vs[1:]):
        lt = subprocess.run([dpkg, "--compare-versions", a, "lt", b]).returncode == 0
        gt = subprocess.run([dpkg, "--compare-versions", a, "gt", b]).returncode == 0
        assert _sign(debver.compare_versions(a, b)) == (-1 if lt else 1 if gt else 0), (a, b)


# --- Packages indexes ----------------------------------------------------------------

INDEX = """Package: linux-image-6.1.0-9-armmp
Version: 6.1.27-1
Filename: pool/main/l/linux/linux-image-6.1.0-9-armmp_6.1.27-1_armhf.deb
Size: 100
SHA256: AA

Package: linux-image-6.1.0-10-armmp
Source: linux
Version: 6.1.38-1
Description: Linux 6.1 for ARMv7 multiplatform
 A second line of description.
 .
 Package: not-a-package
Filename: pool/main/l/linux/linux-image-6.1.0-10-armmp_6.1.38-1_armhf.deb
Size: 200
SHA256: bb

Package: linux-image-6.1.0-10-armmp-dbg
Version: 6.1.40-1
Filename: x.deb

Package: linux-image-6.1.0-10-rt-armmp
Version: 6.1.40-1
Filename: y.deb

Package: linux-image-armmp
Version: 6.1.40-1
Filename: z.deb

Package: busybox-static
Version: 1:1.35.0-4
Filename: pool/main/b/busybox/busybox-static_1.35.0-4_armhf.deb
"""


def test_parse_packages_fields_and_continuations():
    st = {s.name: s for s in packages.parse_packages(INDEX)}
    assert set(st) == {"linux-image-6.1.0-9-armmp", "linux-image-6.1.0-10-armmp",
                       "linux-image-6.1.0-10-armmp-dbg", "linux-image-6.1.0-10-rt-armmp",
                       "linux-image-armmp", "busybox-static"}
    k = st["linux-image-6.1.0-10-armmp"]
    assert k.version == "6.1.38-1" and k.size == 200 and k.sha256 == "bb"
    assert k["Description"].endswith("A second line of description.\n.\nPackage: not-a-package")
    assert st["linux-image-6.1.0-9-armmp"].sha256 == "aa"


def test_newest_kernel_skips_dbg_rt_and_metapackage():
    kre = packages.kernel_package_re("armmp")
    best = packages.newest(packages.parse_packages(INDEX, lambda n: kre.fullmatch(n) is not None))
    assert best.name == "linux-image-6.1.0-10-armmp"
    assert packages.kernel_package_re("4kc-malta").fullmatch("linux-image-6.1.0-50-4kc-malta")
    assert not packages.kernel_package_re("4kc-malta").fullmatch("linux-image-4kc-malta")


def test_newest_same_version_prefers_higher_abi():
    text = ("Package: linux-image-6.1.0-9-armmp\nVersion: 1\n\n"
            "Package: linux-image-6.1.0-10-armmp\nVersion: 1\n")
    assert packages.newest(packages.parse_packages(text)).name == "linux-image-6.1.0-10-armmp"


def test_decompress_index_formats():
    raw = INDEX.encode()
    assert packages.decompress_index(lzma.compress(raw), "Packages.xz") == INDEX
    assert packages.decompress_index(gzip.compress(raw), "Packages.gz") == INDEX
    with pytest.raises(ImageError, match="corrupt index"):
        packages.decompress_index(b"garbage", "Packages.xz")


def test_release_sha256():
    release = ("Origin: Debian\nMD5Sum:\n 0123 10 main/binary-armhf/Packages.xz\n"
               "SHA256:\n abcd 99 main/binary-armel/Packages.xz\n"
               " EF01 1234 main/binary-armhf/Packages.xz\n")
    assert fetch._release_sha256(release, "main/binary-armhf/Packages.xz") == ("ef01", 1234)
    assert fetch._release_sha256(release, "main/binary-mipsel/Packages.xz") is None


# --- apt sources ---------------------------------------------------------------------

def _etc_apt(tmp_path: Path, sources_list: str = "", files=None) -> str:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text(sources_list)
    for name, text in (files or {}).items():
        (etc / "sources.list.d" / name).write_text(text)
    return str(etc)


def test_one_line_sources(tmp_path):
    etc = _etc_apt(tmp_path, """# a comment
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://sec.example/debian-security bookworm-security main
deb http://upd.example/debian bookworm-updates main
deb [ arch=amd64 ] http://main.example/debian/ bookworm main contrib  # trailing
""")
    srcs = aptsources.read_sources(etc)
    assert [s.uri for s in srcs][0] == "http://src.example/debian"
    assert srcs[-1].components == ["main", "contrib"] and srcs[-1].suites == ["bookworm"]
    assert aptsources.find_mirror("bookworm", etc) == "http://main.example/debian"


def test_deb822_sources(tmp_path):
    etc = _etc_apt(tmp_path, "", {
        "a.sources": """Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
# a comment between fields
URIs: http://m.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://s.example/debian-security
Suites: bookworm-security
Components: main
""",
        "ignored.sources.disabled": "Types: deb\nURIs: http://no.example/\nSuites: bookworm\n",
    })
    srcs = aptsources.read_sources(etc)
    assert len(srcs) == 3 and not srcs[0].enabled
    assert srcs[1].types == ["deb", "deb-src"] and srcs[1].suites == ["bookworm", "bookworm-updates"]
    assert aptsources.find_mirror("bookworm", etc) == "http://m.example/debian"


def test_mirror_of_another_debian_release_and_none(tmp_path):
    etc = _etc_apt(tmp_path, "deb http://t.example/debian trixie main\n"
                             "deb https://u.example/ubuntu noble main\n")
    assert aptsources.find_mirror("bookworm", etc) == "http://t.example/debian"
    empty = _etc_apt(tmp_path / "e", "deb cdrom:[Debian]/ bookworm main\n")
    assert aptsources.find_mirror("bookworm", empty) is None


def test_mirror_from_option_env_and_error(tmp_path, monkeypatch):
    etc = _etc_apt(tmp_path, "deb http://a.example/debian bookworm main\n")
    monkeypatch.delenv(aptsources.MIRROR_ENV, raising=False)
    assert aptsources.mirror_from(None, etc_apt=etc) == "http://a.example/debian"
    assert aptsources.mirror_from("http://o.example/d/", etc_apt=etc) == "http://o.example/d"
    monkeypatch.setenv(aptsources.MIRROR_ENV, "http://e.example/d")
    assert aptsources.mirror_from(None, etc_apt=etc) == "http://e.example/d"
    monkeypatch.delenv(aptsources.MIRROR_ENV)
    with pytest.raises(ImageError, match="pass --mirror URL"):
        aptsources.mirror_from(None, etc_apt=str(tmp_path / "nothing"))
    with pytest.raises(ImageError, match="not an http"):
        aptsources.mirror_from("mirror.example/debian")


# --- .deb unpacking --------------------------------------------------------------------

def _tar(entries, compress=None) -> bytes:
    """entries: (name, bytes) for files, (name, None, target) for symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for e in entries:
            ti = tarfile.TarInfo(e[0])
            if e[1] is None:
                ti.type, ti.linkname = tarfile.SYMTYPE, e[2]
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(e[1]), 0o755
                t.addfile(ti, io.BytesIO(e[1]))
    data = buf.getvalue()
    return {"gz": gzip.compress, "xz": lzma.compress, None: lambda d: d}[compress](data)


def _ar(members) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name.encode(), 0, 0, 0, b"100644",
                                                         len(data)))
        out.append(data + (b"\n" if len(data) & 1 else b""))
    return b"".join(out)


def _deb(files, compress="xz") -> bytes:
    suffix = {"xz": ".xz", "gz": ".gz", None: ""}[compress]
    return _ar([("debian-binary", b"2.0\n"),
                ("control.tar.xz", lzma.compress(_tar([("./control", b"Package: x\n")]))),
                ("data.tar" + suffix, _tar(files, compress))])


@pytest.mark.parametrize("compress", ["xz", "gz", None])
def test_unpack_python_built_deb(tmp_path, compress):
    path = tmp_path / "p.deb"
    path.write_bytes(_deb([("./bin/busybox", b"\x7fELF odd length"),
                           ("./usr/share/doc/x/copyright", b"c"),
                           ("./bin/sh", None, "busybox")], compress))
    written = deb.extract_deb(str(path), str(tmp_path / "out"))
    assert sorted(written) == ["bin/busybox", "bin/sh"]
    assert (tmp_path / "out/bin/busybox").read_bytes() == b"\x7fELF odd length"
    assert os.readlink(tmp_path / "out/bin/sh") == "busybox"


@pytest.mark.parametrize("compressor", ["xz", "gzip"])
def test_unpack_dpkg_deb_built_package(tmp_path, compressor):
    dpkg_deb = program("dpkg-deb")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text("Package: t\nVersion: 1.0\nArchitecture: all\n"
                                         "Maintainer: t <t@t>\nDescription: t\n")
    (root / "boot").mkdir()
    (root / "boot/vmlinuz-1").write_bytes(bytes(range(256)) * 100 + b"x")
    os.symlink("vmlinuz-1", root / "boot/vmlinuz")
    subprocess.run([dpkg_deb, "--root-owner-group", "-Z" + compressor, "--build", str(root),
                    str(tmp_path / "t.deb")], check=True, capture_output=True)
    name, _ = deb.deb_data_tar((tmp_path / "t.deb").read_bytes())
    assert name == ("data.tar.xz" if compressor == "xz" else "data.tar.gz")
    deb.extract_deb(str(tmp_path / "t.deb"), str(tmp_path / "out"))
    assert (tmp_path / "out/boot/vmlinuz-1").read_bytes() == (root / "boot/vmlinuz-1").read_bytes()
    assert os.readlink(tmp_path / "out/boot/vmlinuz") == "vmlinuz-1"


def test_deb_errors(tmp_path):
    with pytest.raises(ImageError, match="not an ar archive"):
        deb.deb_data_tar(b"PK\x03\x04")
    with pytest.raises(ImageError, match="unsupported .deb member compression"):
        deb.deb_data_tar(_ar([("debian-binary", b"2.0\n"), ("data.tar.lz4", b"x")]))
    with pytest.raises(ImageError, match="truncated"):
        deb.ar_members(_ar([("debian-binary", b"2.0\n")])[:-3])
    corrupt = tmp_path / "corrupt.deb"
    corrupt.write_bytes(_ar([("debian-binary", b"2.0\n"), ("data.tar.xz", b"\xfd7zXZ\0junk")]))
    with pytest.raises(ImageError, match="corrupt data.tar.xz"):
        deb.extract_deb(str(corrupt), str(tmp_path / "out0"))
    evil = tmp_path / "evil.deb"
    evil.write_bytes(_deb([("../../escape", b"x")]))
    with pytest.raises(ImageError, match="unsafe path"):
        deb.extract_deb(str(evil), str(tmp_path / "out"))
    through = tmp_path / "through.deb"
    through.write_bytes(_deb([("./link", None, "/tmp"), ("./link/escape", b"x")]))
    with pytest.raises(ImageError, match="leaves the unpack directory"):
        deb.extract_deb(str(through), str(tmp_path / "out2"))


# --- cpio ------------------------------------------------------------------------------

def test_cpio_newc_read_back_by_cpio(tmp_path):
    gnu_cpio = program("cpio")
    w = cpio.CpioWriter()
    w.file("bin/busybox", b"\x7fELF" + bytes(1001), 0o755)
    w.symlink("bin/sh", "busybox")
    w.char_device("dev/console", 5, 1)
    w.char_device("dev/null", 1, 3, 0o666)
    w.file("init", b"#!/bin/sh\necho hi\n", 0o755)
    w.file("etc/a/b/c.txt", b"odd")            # parents added on demand
    w.directory("tmp", 0o1777)
    data = w.to_bytes()
    assert len(data) % 4 == 0 and data.startswith(b"070701")
    listing = subprocess.run([gnu_cpio, "-t", "-v", "--quiet"], input=data, capture_output=True,
                             check=True).stdout.decode()
    lines = {l.split()[-1] if "->" not in l else l.split()[-3]: l for l in listing.splitlines()}
    assert list(lines) == ["bin", "bin/busybox", "bin/sh", "dev", "dev/console", "dev/null",
                           "etc", "etc/a", "etc/a/b", "etc/a/b/c.txt", "init", "tmp"]
    assert lines["dev/console"].startswith("crw-------") and "5,   1" in lines["dev/console"]
    assert lines["dev/null"].startswith("crw-rw-rw-") and "1,   3" in lines["dev/null"]
    assert lines["bin/sh"].startswith("lrwxrwxrwx") and lines["bin/sh"].endswith("-> busybox")
    assert lines["tmp"].startswith("drwxrwxrwt")
    assert lines["init"].startswith("-rwxr-xr-x")
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run([gnu_cpio, "-i", "-d", "--quiet", "--no-absolute-filenames", "bin/*", "init",
                    "etc/*"], input=data, cwd=out, check=True)
    assert (out / "bin/busybox").read_bytes() == b"\x7fELF" + bytes(1001)
    assert (out / "etc/a/b/c.txt").read_bytes() == b"odd"
    assert os.readlink(out / "bin/sh") == "busybox"


def test_cpio_gz_is_reproducible(tmp_path):
    def build(path):
        w = cpio.CpioWriter()
        w.file("init", b"x")
        return Path(w.write_gz(str(path))).read_bytes()
    a, b = build(tmp_path / "a.gz"), build(tmp_path / "b.gz")
    assert a == b and gzip.decompress(a).endswith(b"TRAILER!!!\0\0\0\0")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


# --- busybox applets, kernel modules and the initramfs --------------------------------

def test_busybox_applet_table():
    table = ["[", "[[", "acpid", "ash"] + ["b%02d" % i for i in range(30)] + ["sh", "zcat"]
    blob = b"junk\0" + "\0".join(table).encode() + b"\0\0\x01\x02"
    assert initramfs.busybox_applets(blob) == table
    # the table ends where the sorted order breaks
    assert initramfs.busybox_applets(blob.replace(b"\0\0\x01", b"\0aaa\0")) == table
    assert initramfs.busybox_applets(b"no table here") == list(initramfs.FALLBACK_APPLETS)


MODULES = {
    # relative path: modinfo strings
    "kernel/fs/ext9/ext9.ko": ["name=ext9", "depends=jbd9,mbcache",
                               "softdep=pre: crcx post: ext9-extra"],
    "kernel/fs/jbd9/jbd9.ko.xz": ["name=jbd9", "depends="],
    "kernel/fs/mbcache.ko": ["name=mbcache", "depends=builtin_lib"],
    "kernel/crypto/crcx_generic.ko": ["name=crcx_generic", "alias=crcx", "alias=crypto-crcx"],
    "kernel/arch/crcx-fast.ko": ["name=crcx_fast", "alias=crcx"],
    "kernel/drivers/virtio-blk2.ko": ["name=virtio_blk2", "depends=virtio9"],
}


@pytest.fixture(scope="module")
def module_tree(tmp_path_factory):
    gcc = program("gcc")        # makes ELF objects with a .modinfo section
    root = tmp_path_factory.mktemp("kpkg")
    base = root / "lib/modules/9.9.9-test"
    for rel, info in MODULES.items():
        src = "".join('__attribute__((section(".modinfo"), used)) static const char m%d[] = "%s";\n'
                      % (i, s) for i, s in enumerate(info))
        obj = base / rel.replace(".ko.xz", ".ko")
        obj.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([gcc, "-c", "-x", "c", "-", "-o", str(obj)], input=src.encode(),
                       check=True)
        if rel.endswith(".xz"):
            (base / rel).write_bytes(lzma.compress(obj.read_bytes(), check=lzma.CHECK_CRC32))
            obj.unlink()
    (base / "modules.builtin").write_text("kernel/lib/builtin_lib.ko\nkernel/drivers/virtio9.ko\n")
    (base / "modules.builtin.modinfo").write_bytes(b"virtio9.alias=virtio-nine\0")
    return kmod.ModuleTree(str(root), "9.9.9-test")


def test_module_dependency_order(module_tree):
    order = module_tree.resolve(["ext9", "virtio-blk2", "virtio9"])
    names = [n for n, _ in order]
    # softdep pre first (the generic crcx), hard deps next, then ext9; no built-ins;
    # the missing post softdep is skipped
    assert names == ["crcx_generic", "jbd9", "mbcache", "ext9", "virtio_blk2"]
    assert dict(order)["jbd9"] == "kernel/fs/jbd9/jbd9.ko.xz"
    dep = kmod.modules_dep(module_tree, order)
    assert "kernel/fs/ext9/ext9.ko: kernel/fs/jbd9/jbd9.ko kernel/fs/mbcache.ko\n" in dep
    with pytest.raises(ImageError, match="no module 'nope'"):
        module_tree.resolve(["nope"])


def test_make_initramfs_with_modules(tmp_path, module_tree):
    gnu_cpio = program("cpio")
    bb = tmp_path / "busybox"
    bb.write_bytes(b"\x7fELF" + b"\0[\0[[\0" + b"\0".join(b"ap%02d" % i for i in range(25))
                   + b"\0insmod\0sh\0\0")
    host = tmp_path / "host.sh"
    host.write_text("#!/bin/sh\n")
    host.chmod(0o750)
    out = make_initramfs(bb, tmp_path / "i.cpio.gz", "#!/bin/sh\necho test\n", module_tree,
                         ["ext9"], {"etc/motd": "hi\n", "bin/t": host, "data.bin": (b"\1", 0o600)})
    data = gzip.decompress(out.read_bytes())
    listing = subprocess.run([gnu_cpio, "-t", "-v", "--quiet"], input=data, capture_output=True,
                             check=True).stdout.decode()
    assert "lib/modules/9.9.9-test/kernel/fs/jbd9/jbd9.ko\n" in listing    # decompressed
    assert "-> busybox" in listing and " bin/insmod -> busybox" in listing
    assert " sbin -> bin" in listing
    perms = {l.split()[-1]: l.split()[0] for l in listing.splitlines() if "->" not in l}
    assert perms["bin/t"] == "-rwxr-x---" and perms["data.bin"] == "-rw-------"
    assert perms["init"] == "-rwxr-xr-x" and perms["bin/load-modules"] == "-rwxr-xr-x"
    x = tmp_path / "x"
    x.mkdir()
    subprocess.run([gnu_cpio, "-i", "-d", "--quiet", "init", "bin/load-modules", "lib/*",
                    "etc/motd"], input=data, cwd=x, check=True)
    assert (x / "init").read_text() == "#!/bin/sh\necho test\n"
    assert (x / "etc/motd").read_text() == "hi\n"
    load = (x / "bin/load-modules").read_text().splitlines()
    assert [l.rsplit("/", 1)[-1] for l in load if l.startswith("insmod")] == \
        ["crcx_generic.ko", "jbd9.ko", "mbcache.ko", "ext9.ko"]
    jbd9 = x / "lib/modules/9.9.9-test/kernel/fs/jbd9/jbd9.ko"
    assert jbd9.read_bytes()[:4] == b"\x7fELF"


def test_default_init_script():
    s = initramfs.DEFAULT_INIT
    assert s.startswith("#!/bin/sh\n") and "mount -t devtmpfs" in s and initramfs.BANNER in s
    assert "setsid cttyhack sh" in s and "/bin/load-modules" in s


# --- the whole fetch, against a local Debian-shaped mirror ----------------------------

def _fake_zimage() -> bytes:
    head = bytearray(0x40)
    head[0x24:0x28] = (0x016F2818).to_bytes(4, "little")
    return bytes(head) + b"kernel"


def _fake_elf(machine: int) -> bytes:
    return b"\x7fELF\x01\x01\x01" + bytes(11) + machine.to_bytes(2, "little") + bytes(40)


def _make_mirror(root: Path, kernel_abi: str = "6.1.0-3") -> None:
    kver = f"{kernel_abi}-armmp"
    debs = {
        f"linux-image-{kver}": ("6.1.10-1", _deb([
            (f"./boot/vmlinuz-{kver}", _fake_zimage()),
            (f"./usr/lib/linux-image-{kver}/vexpress-v2p-ca9.dtb", b"\xd0\x0d\xfe\xed" + bytes(60)),
            (f"./lib/modules/{kver}/modules.builtin", b""),
        ])),
        "linux-image-6.1.0-2-armmp": ("6.1.9-1", _deb([("./boot/old", b"")])),
        "busybox-static": ("1:1.35.0-4", _deb([("./bin/busybox", _fake_elf(40))])),
    }
    stanzas = []
    for name, (version, blob) in debs.items():
        fn = f"pool/main/x/{name}_{version.split(':')[-1]}_armhf.deb"
        (root / fn).parent.mkdir(parents=True, exist_ok=True)
        (root / fn).write_bytes(blob)
        stanzas.append(f"Package: {name}\nVersion: {version}\nArchitecture: armhf\n"
                       f"Filename: {fn}\nSize: {len(blob)}\n"
                       f"SHA256: {hashlib.sha256(blob).hexdigest()}\n")
    index = lzma.compress("\n".join(stanzas).encode())
    dist = root / "dists/bookworm"
    (dist / "main/binary-armhf").mkdir(parents=True)
    (dist / "main/binary-armhf/Packages.xz").write_bytes(index)
    (dist / "Release").write_text(
        f"Suite: stable\nSHA256:\n {hashlib.sha256(index).hexdigest()} {len(index)} "
        "main/binary-armhf/Packages.xz\n")


def test_guest_files_from_local_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    _make_mirror(mirror)
    cache = tmp_path / "cache"
    gf = guest_files("arm", cache_dir=cache, mirror=mirror.as_uri(), quiet=True)
    assert gf.kernel == cache / "arm/zImage" and gf.kernel.read_bytes() == _fake_zimage()
    assert gf.dtb == cache / "arm/vexpress-v2p-ca9.dtb"
    assert gf.kernel_version == "6.1.0-3-armmp" and gf.machine == "vexpress-a9"
    assert gf.packages == {"linux-image-6.1.0-3-armmp": "6.1.10-1", "busybox-static": "1:1.35.0-4"}
    assert gzip.decompress(gf.initrd.read_bytes()).startswith(b"070701")
    # complete cache: no mirror needed at all; a killed run's temporary file is cleared
    shutil.rmtree(mirror)
    (cache / "debs/.part-killed").write_bytes(b"half")
    again = guest_files("arm", cache_dir=cache, mirror="http://127.0.0.1:9/none", quiet=True)
    assert again.kernel == gf.kernel and again.packages == gf.packages
    assert not list(cache.glob("**/.part-*")) and not list(cache.glob("pkgs/.unpack-*"))
    assert sorted(p.name for p in (cache / "arm").iterdir()) == [
        "guest.json", "initramfs.cpio.gz", "vexpress-v2p-ca9.dtb", "zImage"]


def test_stale_cached_index_is_read_again(tmp_path):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    _make_mirror(mirror, "6.1.0-3")
    assert guest_files("arm", cache, mirror.as_uri(), quiet=True).kernel_version == "6.1.0-3-armmp"
    for folder in ("arm", "debs", "pkgs"):
        shutil.rmtree(cache / folder)
    shutil.rmtree(mirror)                   # a point release replaced the kernel package
    _make_mirror(mirror, "6.1.0-4")
    assert guest_files("arm", cache, mirror.as_uri(), quiet=True).kernel_version == "6.1.0-4-armmp"


def test_hash_mismatch_and_missing_package(tmp_path):
    mirror = tmp_path / "mirror"
    _make_mirror(mirror)
    deb_path = next(mirror.glob("pool/main/x/busybox-static_*.deb"))
    deb_path.write_bytes(deb_path.read_bytes()[:-1] + b"\0")
    with pytest.raises(ImageError, match="SHA256 mismatch"):
        guest_files("arm", cache_dir=tmp_path / "c", mirror=mirror.as_uri(), quiet=True)
    assert not list((tmp_path / "c/debs").glob("busybox*"))      # nothing half-written kept
    with pytest.raises(ImageError, match="does not list main/binary-mipsel"):
        guest_files("mipsel", cache_dir=tmp_path / "c", mirror=mirror.as_uri(), quiet=True)


def test_command_line_errors_are_one_line(tmp_path, capsys):
    rc = fetch.main(["--arch", "arm", "--cache-dir", str(tmp_path / "c"), "--mirror",
                     (tmp_path / "no-mirror").as_uri()])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and err.startswith("pysystem-images: error: ")
    assert "not found on the mirror" in err
    rc = fetch.main(["--arch", "arm", "--cache-dir", str(tmp_path / "c"), "--mirror",
                     "http://127.0.0.1:9/debian", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "cannot reach" in err and "--mirror" in err
    rc = fetch.main(["--output", str(tmp_path / "x.gz")])
    assert rc == 1 and "needs exactly one --arch" in capsys.readouterr().err


def test_command_line_custom_initramfs_and_json(tmp_path, capsys):
    import json
    mirror = tmp_path / "mirror"
    _make_mirror(mirror)
    init = tmp_path / "init.sh"
    init.write_text("#!/bin/sh\necho custom\npoweroff -f\n")
    rc = fetch.main(["--arch", "arm", "--cache-dir", str(tmp_path / "c"), "--mirror",
                     mirror.as_uri(), "-q", "--init", str(init), "-o", str(tmp_path / "o.gz"),
                     "--json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arm"]["initrd"] == str(tmp_path / "o.gz")
    assert b"echo custom\npoweroff -f\n" in gzip.decompress((tmp_path / "o.gz").read_bytes())
    rc = fetch.main(["--arch", "arm", "--cache-dir", str(tmp_path / "c"), "-q"])
    out = capsys.readouterr().out
    assert rc == 0 and f"arm kernel: {tmp_path / 'c/arm/zImage'}\n" in out
    assert f"arm dtb: {tmp_path / 'c/arm/vexpress-v2p-ca9.dtb'}\n" in out


def test_unknown_arch():
    with pytest.raises(ImageError, match="unknown guest architecture"):
        guest_files("sparc")


def test_offline_error_is_an_image_error():
    assert issubclass(OfflineError, ImageError)
