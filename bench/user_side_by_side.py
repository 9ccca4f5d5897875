"""User mode beside qemu-arm, in one run (not a test): a busybox awk loop and Debian's
python3 starting up, each under qemu-arm and under pysystem-user-arm of every
``--venv`` given (a PyPy and a CPython venv, typically).

    python3 bench/user_side_by_side.py --venv .venv-pypy --venv .venv [--rounds 2]

The busybox and python3 come from Debian's armhf archive through pysystem.images (cached
in ~/.cache/pysystem after the first run; python3's root is unpacked once into
``--root``, default /tmp/pysystem-bench-python-root).  Each round runs every workload
under every emulator one after the other, so a change in the machine's load falls on
all of them alike.  Two figures per run: wall seconds, and CPU seconds (user + system
of the emulator and its children), which a loaded machine disturbs far less.  The code
cache (PYSYSTEM_CODE_CACHE) is whatever the environment says: the first round is the
cold one if it starts empty.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

AWK = "BEGIN { s = 0; for (i = 0; i < 200000; i++) s += i % 7; print s }"
PYTHON_PACKAGES = ("libc6", "libgcc-s1", "python3-minimal", "python3.11-minimal",
                   "libpython3.11-minimal", "libexpat1", "zlib1g")


def python_root(dest: str) -> str:
    from pysystem.images import fetch as F
    from pysystem.images.aptsources import mirror_from
    from pysystem.images.packages import newest, parse_packages
    if os.path.exists(os.path.join(dest, "usr/bin/python3")):
        return dest
    mirror = mirror_from(None)
    ga = F.lookup_arch("arm")
    cache = F.default_cache_dir()
    index = F._load_index(mirror, ga, cache, False, True)
    for name in PYTHON_PACKAGES:
        st = newest(parse_packages(index, lambda n: n == name))
        tree = F._unpacked(F._get_deb(mirror, st, cache, True), st, ga, cache)
        shutil.copytree(tree, dest, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".complete"))
    return dest


def timed(cmd) -> tuple:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, timeout=3600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r.stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", action="append", default=[], help="a venv with pysystem")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--root", default="/tmp/pysystem-bench-python-root")
    args = ap.parse_args()
    from pysystem.images import guest_files
    busybox = str(guest_files("arm", quiet=True).busybox)
    root = python_root(args.root)
    python = os.path.join(root, "usr/bin/python3")
    emulators = [("qemu-arm 7.2", [shutil.which("qemu-arm"), "-cpu", "cortex-a9", "-L", root])]
    for venv in args.venv:
        exe = os.path.join(venv, "bin", "python")
        version = subprocess.run([exe, "-c", "import platform; print(platform.python_implementation(),"
                                  " platform.python_version())"], capture_output=True,
                                 text=True).stdout.strip()
        emulators.append((f"pysystem, {version}",
                          [os.path.join(venv, "bin", "pysystem-user-arm"), "-L", root]))
    workloads = [("busybox awk loop (200k iterations)", [busybox, "awk", AWK]),
                 ("python3 -S -c pass (startup)", [python, "-S", "-c", "pass"]),
                 ("python3 -c pass (startup with site)", [python, "-c", "pass"])]
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for rnd in range(args.rounds):
        for wname, wargs in workloads:
            expected = None
            for ename, ecmd in emulators:
                wall, cpu, out = timed(ecmd + wargs)
                if expected is None:
                    expected = out
                same = "same" if out == expected else "DIFFERENT"
                rows.append((rnd + 1, wname, ename, wall, cpu, same))
                print(f"| {rnd + 1} | {wname} | {ename} | {wall:.2f} | {cpu:.2f} | {same} |",
                      flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
