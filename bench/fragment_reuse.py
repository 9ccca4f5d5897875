"""What a first tier built from per-instruction fragments could save (not a test).

Restores the booted busybox shell as bench/new_code_latency.py does, runs its commands,
and measures in the emulator, for every block translated:

- the instructions' source fragments (the lines each generator emitted): how many are
  distinct as text, with the instruction's index in its block written as ``IDX``
  (an estimate: the index is replaced where it stands as a whole number), and with every
  number replaced (constants made parameters);
- the block sources: how many are distinct as text, and with every number replaced;
- for every ``--sample``-th block: the CPU seconds of ``compile()`` of its source, and of
  each of its instructions compiled on its own as a function (loading the registers
  and state it names, writing them back), all of them and only the first of each
  number-normalised text (what a cache of fragments keyed by text would compile).

    .venv-pypy/bin/python bench/fragment_reuse.py [--python .venv/bin/python]
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import new_code_latency  # noqa: E402

NUMBER = re.compile(r"\b0x[0-9a-f]+\b|\b\d+\b")
REG = re.compile(r"\br(\d+)\b")


def unit_source(lines, ctx) -> str:
    """One instruction's lines as a function of its own (what a fragment tier runs)."""
    base = min(i for i, _ in lines)
    body = []
    for i, t in lines:
        pad = "    " * (i - base + 3)
        if t.startswith("\0EXIT ") or t.startswith("\0RET "):
            body.append(pad + "nk = " + t.split(" ", 1)[1] + "; break")
        elif t.startswith("\0SIDE "):
            body.append(pad + "nk = " + t.split("|", 1)[1] + "; break")
        elif t.startswith("\0"):
            body.append(pad + "pass")
        else:
            body.append(pad + t)
    text = "\n".join(body)
    regs = sorted(set(REG.findall(text)), key=int)
    state = [s for s in ctx.STATE_LOCALS if re.search(rf"\b{s}\b", text)]
    binds = [b for b in ctx.bind if re.search(rf"\b{b}\b", text)]
    out = ["def u(R, cpu=cpu" + "".join(f", {b}={b}" for b in binds) + "):"]
    if regs:
        out.append("    " + "; ".join(f"r{n} = R[{n}]" for n in regs))
    if state:
        out.append("    " + "; ".join(f"{s} = {ctx.STATE_LOCALS[s]}" for s in state))
    out += ["    nk = None", "    try:", "        while True:", text, "            break",
            "    finally:"]
    wb = [f"R[{n}] = r{n}" for n in regs] + [f"{ctx.STATE_LOCALS[s]} = {s}" for s in state]
    out.append("        " + ("; ".join(wb) or "pass"))
    out.append("    return nk")
    return "\n".join(out) + "\n"


def install(out_path: str, sample: int) -> None:
    import pysystem.cpu.engine.cpu as cpumod
    import pysystem.cpu.engine.translate as tr
    st = dict(blocks=0, frags=0, frag_text=0, frag_noidx=0, frag_norm=0, block_text=0,
              block_norm=0, sampled=0, s_block=0.0, units=0, s_units=0.0, s_units_first=0.0,
              not_separable=0)
    seen: dict = {k: set() for k in ("frag_text", "frag_noidx", "frag_norm", "block_text",
                                     "block_norm", "unit")}

    def note(kind: str, text: str) -> None:
        if text not in seen[kind]:
            seen[kind].add(text)
            st[kind] += 1

    translate = cpumod.translate

    def marked_translate(cpu, key, phys, fetch, decode, *a, **k):
        def marked(ctx, f):
            ctx.__dict__.setdefault("_marks", []).append((len(ctx.lines), ctx.idx))
            return decode(ctx, f)
        return translate(cpu, key, phys, fetch, marked, *a, **k)

    compile_block = tr.compile_block
    clock = time.process_time

    def measuring_compile(ctx, name, ninsns=0):
        src = ctx.source(name, ninsns)
        st["blocks"] += 1
        body = src.split("\n", 1)[1]  # the def line names the address and the bindings
        note("block_text", body)
        note("block_norm", NUMBER.sub("K", body))
        marks = getattr(ctx, "_marks", [])
        ends = [m for m, _ in marks[1:]] + [len(ctx.lines)]
        timed = st["blocks"] % sample == 0
        if timed:
            t = clock()
            compile(src, "<block>", "exec")
            st["s_block"] += clock() - t
            st["sampled"] += 1
        for (start, idx), end in zip(marks, ends):
            seg = ctx.lines[start:end]
            if not seg:
                continue
            text = "\n".join(f"{i} {t}" for i, t in seg)
            st["frags"] += 1
            note("frag_text", text)
            note("frag_noidx", re.sub(rf"\b{idx}\b", "IDX", text))
            note("frag_norm", NUMBER.sub("K", text))
            if timed:
                us = unit_source(seg, ctx)
                try:
                    t = clock()
                    compile(us, "<unit>", "exec")
                    dt = clock() - t
                except SyntaxError:  # an `else:` of a region, a branch apart from its slot
                    st["not_separable"] += 1
                    continue
                st["units"] += 1
                st["s_units"] += dt
                norm = NUMBER.sub("K", us)
                if norm not in seen["unit"]:
                    seen["unit"].add(norm)
                    st["s_units_first"] += dt
        return compile_block(ctx, name, ninsns)

    cpumod.translate = marked_translate
    tr.compile_block = measuring_compile

    def dump() -> None:
        with open(out_path, "w") as f:
            json.dump(st, f)
    atexit.register(dump)


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        install(os.environ["BENCH_FRAGMENTS_OUT"], int(os.environ.get("BENCH_SAMPLE", "4")))
        return new_code_latency.child(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append", help="interpreter(s) (default: this one)")
    ap.add_argument("--sample", type=int, default=4, help="time every N-th block's compile")
    opts = ap.parse_args()
    print(f"# load average {os.getloadavg()[0]:.1f}")
    for python in opts.python or [sys.executable]:
        cache = tempfile.mkdtemp(prefix="pysystem-fragments-cache-")
        out = os.path.join(cache, "fragments.json")
        os.environ["BENCH_FRAGMENTS_OUT"] = out
        os.environ["BENCH_SAMPLE"] = str(opts.sample)
        steps = new_code_latency.run_once(python, cache, script=os.path.abspath(__file__))
        for what, wall, cpu, k in steps:
            print(f"{python}: {what!r}: {cpu:.2f} s CPU, {k['blocks']} blocks translated "
                  f"({k['translate']:.2f} s, compile {k['compile']:.2f} s)")
        with open(out) as f:
            st = json.load(f)
        shutil.rmtree(cache, ignore_errors=True)
        n, b = st["frags"], st["blocks"]
        print(f"{python}: {b} blocks, {n} instruction fragments; distinct fragments: "
              f"{st['frag_text']} as text ({st['frag_text'] / n:.0%}), {st['frag_noidx']} "
              f"index apart ({st['frag_noidx'] / n:.0%}), {st['frag_norm']} numbers apart "
              f"({st['frag_norm'] / n:.0%}); distinct block sources: {st['block_text']} "
              f"({st['block_text'] / b:.0%}), {st['block_norm']} numbers apart "
              f"({st['block_norm'] / b:.0%})")
        s = st["sampled"]
        print(f"{python}: compile() of {s} sampled blocks {st['s_block']:.3f} s "
              f"({1e6 * st['s_block'] / max(s, 1):.0f} us a block); of their {st['units']} "
              f"instructions one by one {st['s_units']:.3f} s ({1e6 * st['s_units'] / max(st['units'], 1):.0f}"
              f" us each), the first of each normalised text only {st['s_units_first']:.3f} s; "
              f"{st['not_separable']} instructions not separable", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
