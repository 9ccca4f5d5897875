"""Dynamically linked programs from Debian's armhf and mipsel archives (bash, coreutils'
ls, python3 and their libraries, unpacked from their .debs fetched through
pysystem.images) run with ``-L root`` under pysystem-user-arm/-mipsel as under
qemu-arm/qemu-mipsel."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import tools

PACKAGES = ("libc6", "libgcc-s1", "libtinfo6", "bash", "coreutils", "libacl1", "libattr1",
            "libgmp10", "libselinux1", "libpcre2-8-0")
# python3 without its standard library's optional C modules: the interpreter, the pure
# Python modules (os, subprocess...) and the libraries they link
PYTHON_PACKAGES = ("libc6", "libgcc-s1", "python3-minimal", "python3.11-minimal",
                   "libpython3.11-minimal", "libexpat1", "zlib1g")


def _debian_root(out, packages, arch="arm"):
    """Unpack ``packages`` (``arch``'s Debian architecture, bookworm) into ``out``; the .debs and their unpacked
    trees are cached in ~/.cache/pysystem, so only the copy happens after the first run."""
    from pysystem.images import OfflineError
    from pysystem.images import fetch as F
    from pysystem.images.aptsources import mirror_from
    from pysystem.images.errors import ImageError
    from pysystem.images.packages import newest, parse_packages
    try:
        mirror = mirror_from(None)
        ga = F.lookup_arch(arch)
        cache = F.default_cache_dir()
        index = F._load_index(mirror, ga, cache, False, True)
        for name in packages:
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


@pytest.fixture(scope="module", params=["arm", "mipsel"])
def root(request, tmp_path_factory):
    arch = request.param
    return arch, _debian_root(tmp_path_factory.mktemp(f"{arch}-root"), PACKAGES, arch)


@pytest.fixture(scope="module")
def python_root(tmp_path_factory):
    return _debian_root(tmp_path_factory.mktemp("armhf-python-root"), PYTHON_PACKAGES)


def _both(root, args, cwd, separate=False, arch="arm"):
    """qemu-ARCH first, then pysystem-user-ARCH; ``separate``: each in its own copy of
    ``cwd`` (for a program that writes there)."""
    cpu = ["-cpu", "cortex-a9"] if arch == "arm" else []
    qemu = [tools.program(f"qemu-{arch}")] + cpu + ["-L", root]
    ours = [tools.guest_script(f"pysystem-user-{arch}"), "-L", root]
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    results = []
    for name, cmd in (("qemu", qemu), ("ours", ours)):
        here = cwd
        if separate:
            here = os.path.join(os.path.dirname(cwd), f"{os.path.basename(cwd)}-{name}")
            shutil.copytree(cwd, here, symlinks=True)
        results.append(subprocess.run(cmd + args, capture_output=True, cwd=here, env=env,
                                      timeout=600))
    return results


@pytest.mark.network
def test_debian_bash_and_ls(root, tmp_path):
    arch, root = root
    work = tmp_path / "w"
    (work / "sub").mkdir(parents=True)
    (work / "file.txt").write_text("twelve bytes")
    for p in (work / "file.txt", work / "sub"):
        os.utime(p, (1700000000, 1700000000))
    script = ('echo $((6*7)); for i in a b; do echo "item $i"; done; '
              'x=$(echo sub); echo "${x^^} ${BASH_VERSINFO[0]}"; exit 4')
    q, p = _both(root, [os.path.join(root, "bin/bash"), "-c", script], str(work), arch=arch)
    assert q.returncode == 4, q.stderr
    assert (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
    q, p = _both(root, [os.path.join(root, "bin/ls"), "-l", "--time-style=+%F", "-n", "."],
                 str(work), arch=arch)
    assert q.returncode == 0, q.stderr
    assert (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
    assert b"file.txt" in p.stdout


# arithmetic (big integers, floats), a dict, a file written and read back, the directory
# listed, the machine, the exit status; -S skips site.py (only guest time here), and
# subprocess is left out: importing it costs more guest time than all the rest
PYTHON_SCRIPT = """\
import os, sys
d = {"a": 1, "b": [2, 3]}
d["c"] = sum(range(1000)) * 2 ** 70
print(d, 7 / 3, sorted(d))
with open("f.txt", "w") as f:
    f.write("line\\n" * 3)
print(open("f.txt").read().count("line"), os.path.getsize("f.txt"), sorted(os.listdir(".")))
print(os.uname().machine, sys.byteorder)
sys.exit(3)
"""


@pytest.mark.network
@pytest.mark.slow
def test_debian_python3(python_root, tmp_path):
    """Debian's python3 -c: the same output and exit status as under qemu-arm."""
    work = tmp_path / "w"
    (work / "sub").mkdir(parents=True)
    python = os.path.join(python_root, "usr/bin/python3")
    q, p = _both(python_root, [python, "-S", "-c", PYTHON_SCRIPT], str(work),
                 separate=True)
    assert q.returncode == 3, q.stderr
    assert b"armv7l little" in q.stdout
    assert (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
