"""images/build_mips.py and images/archive.py without building: the configuration
helpers, the Sources index, and the configuration files themselves."""
from __future__ import annotations

import hashlib
import lzma

import pytest

from pysystem.images import archive, build_mips
from pysystem.images.errors import ImageError
from pysystem.images.packages import newest, parse_packages

SOURCES = """Package: busybox
Binary: busybox, busybox-static
Version: 1:1.35.0-4+deb12u1
Format: 3.0 (quilt)
Checksums-Sha256:
 9c01fe128b0eeded371c70e37d474fdb5055f71b5d0a778db44c6b0c62d3a7fa 2321 busybox_1.35.0-4+deb12u1.dsc
 faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694 2480624 busybox_1.35.0.orig.tar.bz2
Directory: pool/main/b/busybox

Package: busybox
Version: 1:1.30.1-6
Checksums-Sha256:
 00 1 busybox_1.30.1.orig.tar.bz2
Directory: pool/main/b/busybox
"""


def test_apply_options_sets_and_clears_and_refuses_unknown_names():
    config = "# CONFIG_STATIC is not set\nCONFIG_ASH=y\nCONFIG_WIDTH=0\n"
    out = build_mips.apply_options(config, "# comment\nCONFIG_STATIC=y\nCONFIG_ASH=n\n"
                                           "CONFIG_WIDTH=80\n")
    assert out == "CONFIG_STATIC=y\n# CONFIG_ASH is not set\nCONFIG_WIDTH=80\n"
    with pytest.raises(ImageError, match="busybox has no option CONFIG_NOPE"):
        build_mips.apply_options(config, "CONFIG_NOPE=y")


def test_missing_options_lists_what_the_configuration_did_not_take():
    config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=4\n"
    assert build_mips.missing_options(config, "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=5\n# x\n") == [
        "CONFIG_B=y", "CONFIG_C=5"]


@pytest.mark.parametrize("path", [build_mips.KERNEL_CONFIG, build_mips.BUSYBOX_CONFIG])
def test_configuration_files_hold_only_comments_and_options(path):
    lines = [l for l in path.read_text().splitlines() if l and not l.startswith("#")]
    assert lines and all(l.startswith("CONFIG_") and "=" in l for l in lines)
    names = [l.split("=")[0] for l in lines]
    assert len(names) == len(set(names))


def test_sources_index_from_a_local_mirror(tmp_path):
    data = lzma.compress(SOURCES.encode())
    dist = tmp_path / "mirror" / "dists" / "bookworm"
    (dist / "main" / "source").mkdir(parents=True)
    (dist / "main" / "source" / "Sources.xz").write_bytes(data)
    (dist / "Release").write_text(f"Suite: stable\nSHA256:\n {hashlib.sha256(data).hexdigest()} "
                                  f"{len(data)} main/source/Sources.xz\n")
    text = archive.load_index((tmp_path / "mirror").as_uri(), "main/source/Sources.xz",
                              tmp_path / "cache", False, True)
    assert (tmp_path / "cache" / "index" / "source" / "Sources.xz").exists()
    st = newest(parse_packages(text, lambda n: n == "busybox"))
    assert st.version == "1:1.35.0-4+deb12u1" and st["Directory"] == "pool/main/b/busybox"
    assert archive.source_files(st)[1] == (
        "busybox_1.35.0.orig.tar.bz2",
        "faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694", 2480624)
