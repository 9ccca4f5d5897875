"""The bare-metal loops of arm_loops.py / mips_loops.py, several trees and interpreters
interleaved in one run (not a test).

    python3 bench/loops_side_by_side.py --python A/.venv-pypy/bin/python \\
        --python B/.venv-pypy/bin/python [--arch arm|mips] [--rounds 3] [--seconds 3] [loop ...]

Each round runs every loop once under every ``--python``, one after the other, so a
change in the machine's load falls on all of them alike.  Each child imports the loop
module of its own tree (the ``bench/`` folder beside the ``pysystem`` it imports), so an
older commit runs its own loops against its own CPU.  Two figures per run: guest
instructions per second of wall time, and per second of the process's CPU time (user +
system), which a loaded machine disturbs far less (it still shares caches and the
memory bus).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time


def child(arch: str, name: str, seconds: float) -> None:
    """Run one loop in this process and print its figures as one JSON line."""
    import pysystem
    bench_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(pysystem.__file__))),
                             "bench")
    path = os.path.join(bench_dir, f"{arch}_loops.py")
    spec = importlib.util.spec_from_file_location(f"{arch}_loops", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # the module's bench() measures wall time; give it a clock that records both
    clocks = []

    class Clock:
        @staticmethod
        def perf_counter() -> float:
            clocks.append((time.perf_counter(), time.process_time()))
            return clocks[-1][0]

    mod.time = Clock
    args = (name, seconds) if arch == "arm" else (name, seconds, False)
    mod.bench(*args)
    # bench() reads the clock at the start, once per million instructions, and at the end
    (w0, c0), (w1, c1) = clocks[0], clocks[-1]
    insns = (len(clocks) - 2) * 1_000_000
    print(json.dumps({"wall": insns / (w1 - w0) / 1e6, "cpu": insns / (c1 - c0) / 1e6}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", default=[],
                    help="an interpreter (its pysystem and bench/ are the tree measured)")
    ap.add_argument("--arch", choices=("arm", "mips"), default="arm")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--child", nargs=3, metavar=("ARCH", "LOOP", "SECONDS"), help=argparse.SUPPRESS)
    ap.add_argument("loops", nargs="*", default=["alu", "mem", "branch"])
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, load average "
          f"{os.getloadavg()[0]:.1f}; MIPS: wall / cpu")
    for r in range(args.rounds):
        for name in args.loops:
            for py in args.python:
                proc = subprocess.run([py, os.path.abspath(__file__), "--child", args.arch, name,
                                       str(args.seconds)], capture_output=True, text=True)
                lines = proc.stdout.strip().splitlines()
                if proc.returncode or not lines:
                    print(f"round {r + 1} {name:7} {py}: failed: "
                          f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
                    continue
                fig = json.loads(lines[-1])
                print(f"round {r + 1} {name:7} {fig['wall']:8.2f} / {fig['cpu']:8.2f}  {py}",
                      flush=True)


if __name__ == "__main__":
    main()
