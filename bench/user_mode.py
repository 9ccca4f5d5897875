"""User mode against qemu-arm: CPU-bound busybox loops (an awk loop, a shell loop, and
``true`` for the start-up) under pysystem-user-arm on PyPy and on CPython beside Debian's
qemu-arm, in one run (not a test).

    python3 bench/user_mode.py [--pypy .venv-pypy/bin/python] [--cpython .venv/bin/python]
                               [--rounds 2] [--awk 40000] [--sh 4000]

``--pypy`` and ``--cpython`` may be given several times (other trees' venvs, e.g. main's
beside a branch's): every interpreter then runs in each round, interleaved.

The guest is Debian's static busybox for armhf (pysystem.images, as the busybox tests use).
Each round runs every loop once under every emulator, one after the other, so a change in
the machine's load falls on all of them alike.  The figure is the CPU seconds (user +
system, from ``wait4``) of the emulator process; every emulator's output must equal
qemu-arm's, else the run stops.  Each pysystem interpreter starts with an empty
translated-code cache of its own (``PYSYSTEM_CODE_CACHE``), so round 1 is cold and the
later rounds are warm.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

LOOPS = {
    "true": lambda n: ["true"],     # the start-up alone: what the loops' figures include
    "awk": lambda n: ["awk", "BEGIN { s = 0; for (i = 0; i < %d; i++) s = (s + i * i) %% 1000003;"
                             " print s }" % n],
    "sh": lambda n: ["sh", "-c", "i=0; s=0; while [ $i -lt %d ]; do i=$((i+1)); "
                                 "s=$(( (s + i * 7) %% 65521 )); done; echo $s" % n],
}


def run(cmd: List[str], env: Dict[str, str]) -> Tuple[float, float, bytes]:
    """Run ``cmd``; its (wall seconds, CPU seconds, stdout).  The child writes into
    temporary files and is reaped by our own ``wait4``, whose rusage is the figure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _pid, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): "
                             f"{err.read().decode(errors='replace')[-300:]}")
        return wall, ru.ru_utime + ru.ru_stime, out.read()


def main() -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pypy", action="append",
                    help="a PyPy with pysystem installed (repeatable; default .venv-pypy)")
    ap.add_argument("--cpython", action="append",
                    help="a CPython with pysystem (repeatable; default .venv); "
                         "'none' leaves that interpreter out (as --pypy none)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--awk", type=int, default=40000, help="awk loop iterations")
    ap.add_argument("--sh", type=int, default=4000, help="shell loop iterations")
    ap.add_argument("loops", nargs="*", default=list(LOOPS), help="of: " + " ".join(LOOPS))
    args = ap.parse_args()
    unknown = [loop for loop in args.loops if loop not in LOOPS]
    if unknown:
        ap.error(f"unknown loop '{unknown[0]}' (choose from {', '.join(LOOPS)})")
    sys.path.insert(0, here)
    from pysystem.images import guest_files
    busybox = str(guest_files("arm", quiet=True).busybox)
    qemu = shutil.which("qemu-arm")
    if not qemu:
        raise SystemExit("qemu-arm not on PATH (Debian's qemu-user)")
    emulators = [("qemu-arm", [qemu, "-cpu", "cortex-a9"], None)]
    pythons = [("pysystem PyPy", py) for py in args.pypy or [os.path.join(here, ".venv-pypy/bin/python")]]
    pythons += [("pysystem CPython", py) for py in args.cpython or [os.path.join(here, ".venv/bin/python")]]
    several = len(pythons) > 2
    for label, py in pythons:
        if py == "none":
            continue
        if several:   # name the tree: the folder holding the venv
            label += " " + os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(py)))))
        script = os.path.join(os.path.dirname(py), "pysystem-user-arm")
        if not os.path.exists(script):
            raise SystemExit(f"{script} missing (pip install -e . with {py})")
        emulators.append((label, [py, script], tempfile.mkdtemp(prefix="user-bench-cache-")))
    versions = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, load average "
          f"{os.getloadavg()[0]:.1f}; {versions.splitlines()[0]}; awk n={args.awk}, sh n={args.sh}")
    results: Dict[Tuple[str, str, int], Tuple[float, float]] = {}
    for r in range(1, args.rounds + 1):
        for loop in args.loops:
            make = LOOPS[loop]
            n = {"awk": args.awk, "sh": args.sh}.get(loop, 0)
            expected = None
            for label, cmd, cache in emulators:
                env = dict(os.environ, LC_ALL="C")
                if cache:
                    env["PYSYSTEM_CODE_CACHE"] = cache
                wall, cpu, out = run(cmd + [busybox] + make(n), env)
                if expected is None:
                    expected = out
                elif out != expected:
                    raise SystemExit(f"{label} printed {out!r}, qemu-arm {expected!r}")
                results[(loop, label, r)] = (wall, cpu)
                print(f"round {r} {loop:3} {label:30} wall {wall:8.2f} s  CPU {cpu:8.2f} s  "
                      f"load {os.getloadavg()[0]:5.1f}  -> {out.decode().strip()}", flush=True)
    print(f"# end {time.strftime('%H:%M:%S', time.gmtime())} UTC, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| loop | round | emulator | wall s | CPU s | CPU x qemu-arm |")
    print("|---|---|---|---|---|---|")
    for (loop, label, r), (wall, cpu) in results.items():
        base = results[(loop, "qemu-arm", r)][1]
        ratio = f"{cpu / base:.0f}" if base > 0 else "-"
        print(f"| {loop} | {r} | {label} | {wall:.2f} | {cpu:.2f} | {ratio} |")
    for _label, _cmd, cache in emulators:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
