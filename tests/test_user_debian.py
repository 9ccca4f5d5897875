"""Dynamically linked programs from Debian's armhf archive (bash, coreutils' ls and their
libraries, unpacked from their .debs fetched through pysystem.images) run with
``-L root`` under pysystem-user-arm as under qemu-arm."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import tools

PACKAGES = ("libc6", "libgcc-s1", "libtinfo6", "bash", "coreutils", "libacl1", "libattr1",
            "libgmp10", "libselinux1", "libpcre2-8-0")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from pysystem.images import OfflineError
    from pysystem.images import fetch as F
    from pysystem.images.aptsources import mirror_from
    from pysystem.images.errors import ImageError
    from pysystem.images.packages import newest, parse_packages
    out = tmp_path_factory.mktemp("armhf-root")
    try:
        mirror = mirror_from(None)
        ga = F.lookup_arch("arm")
        cache = F.default_cache_dir()
        index = F._load_index(mirror, ga, cache, False, True)
        for name in PACKAGES:
            st = newest(parse_packages(index, lambda n: n == name))
            assert st is not None, name
            tree = F._unpacked(F._get_deb(mirror, st, cache, True), st, ga, cache)
            shutil.copytree(tree, out, symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".complete"))
    except OfflineError as e:
        tools.missing(f"the Debian archive ({e})")
    except ImageError as e:
        if "no Debian mirror" not in str(e):
            raise
        tools.missing(str(e))
    return str(out)


def _both(root, args, cwd):
    qemu = [tools.program("qemu-arm"), "-cpu", "cortex-a9", "-L", root]
    ours = [tools.guest_script("pysystem-user-arm"), "-L", root]
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    q = subprocess.run(qemu + args, capture_output=True, cwd=cwd, env=env, timeout=300)
    p = subprocess.run(ours + args, capture_output=True, cwd=cwd, env=env, timeout=300)
    return q, p


@pytest.mark.network
def test_debian_bash_and_ls(root, tmp_path):
    work = tmp_path / "w"
    (work / "sub").mkdir(parents=True)
    (work / "file.txt").write_text("twelve bytes")
    for p in (work / "file.txt", work / "sub"):
        os.utime(p, (1700000000, 1700000000))
    script = ('echo $((6*7)); for i in a b; do echo "item $i"; done; '
              'x=$(echo sub); echo "${x^^} ${BASH_VERSINFO[0]}"; exit 4')
    q, p = _both(root, [os.path.join(root, "bin/bash"), "-c", script], str(work))
    assert q.returncode == 4, q.stderr
    assert (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
    q, p = _both(root, [os.path.join(root, "bin/ls"), "-l", "--time-style=+%F", "-n", "."],
                 str(work))
    assert q.returncode == 0, q.stderr
    assert (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
    assert b"file.txt" in p.stdout
