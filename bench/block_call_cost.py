"""What one block call costs the run loop under PyPy, by the block function's locals
(not a test).

    pypy3 bench/block_call_cost.py [--blocks 40] [--calls 2000000]

Builds ``--blocks`` functions shaped like translated blocks (``tb(R, cpu=cpu)``: load a
register, a ``while True`` body in ``try``/``finally``, write it back, return the next
key) that differ only in how many locals they have (temporaries assigned on a path never
taken), and runs them in a ring through the run loop's dispatch (``jc[key]``, then
``pypyjit.residual_call(f, R)`` as cpu/engine/cpu.py does; ``direct``: ``f(R)``, which
lets the JIT trace through the block).  Prints nanoseconds per block call, three runs
each.  Under CPython only the direct call is measured.
"""
from __future__ import annotations

import argparse
import time

try:
    import pypyjit
    _rcall = pypyjit.residual_call
except ImportError:
    _rcall = None


class _Clock:
    icount = 0


def make_blocks(n: int, nlocals: int) -> list:
    fs = []
    for i in range(n):
        extra = "".join(f"                t{j} = r0 + {j}\n" for j in range(nlocals)) or \
            "                pass\n"
        src = (f"def tb(R, cpu=cpu):\n"
               f"    r0 = R[0]\n"
               f"    try:\n"
               f"        while True:\n"
               f"            r0 = (r0 + 1) & 0xffffffff\n"
               f"            if r0 > 0xffffffff:\n{extra}"
               f"            nk = {(i + 1) % n}; break\n"
               f"    finally:\n"
               f"        R[0] = r0\n"
               f"    return nk\n")
        ns = {"cpu": None}
        exec(src, ns)
        fs.append(ns["tb"])
    return fs


def per_call(fs: list, calls: int, residual: bool) -> float:
    jc = {i: (f, 5, None) for i, f in enumerate(fs)}
    R = [0] * 16
    clock = _Clock()
    clock.icount = 0
    key = 0
    rcall = _rcall if residual else None
    t = time.perf_counter()
    while clock.icount < calls:
        f, n, _ = jc[key]
        key = rcall(f, R) if rcall else f(R)
        clock.icount += 1
    return (time.perf_counter() - t) / calls * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--calls", type=int, default=2_000_000)
    args = ap.parse_args()
    kinds = [("residual", True), ("direct", False)] if _rcall else [("direct", False)]
    for nlocals in (0, 10, 20, 40, 100):
        fs = make_blocks(args.blocks, nlocals)
        for label, residual in kinds:
            ns = [per_call(fs, args.calls, residual) for _ in range(3)]
            print(f"{nlocals + 3:4} locals  {label:8}  " + "  ".join(f"{v:6.1f}" for v in ns)
                  + "  ns/call", flush=True)


if __name__ == "__main__":
    main()
