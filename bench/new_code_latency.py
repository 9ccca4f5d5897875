"""Latency of new code: restore a booted busybox shell, then time commands (not a test).

Restores the ARM guest saved by ``pysystem-images --boot arm`` (a copy of its snapshot
slot, so the original is not touched) with ``-loadvm``, then types each command and
waits for its output and the next prompt.  Prints, per command, the wall seconds and the
CPU seconds (user + system) of the emulator's process from the Enter to the prompt.  The
code cache is a fresh, empty one unless ``--warm DIR`` names one to reuse.

    .venv-pypy/bin/python bench/new_code_latency.py [--python .venv/bin/python] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

COMMANDS = ["echo hi", "ls -l /bin | wc -l", "awk 'BEGIN{s=0; for(i=1;i<=100;i++) s+=i; print s}'"]
PROMPT = b"/ # "
COUNTED = ("jc_clear", "invalidate_page", "tlb_flush_all", "tlb_flush_va", "tlb_flush_tags",
           "_drop_block", "flush_code")
#: with --timed: engine methods whose calls and CPU seconds are counted (calls nest: a
#: lookup includes its translation and code-fetch walks, a slow load its MMU walk)
TIMED = ("_lookup", "load_checked", "store_checked", "mmu_translate", "tlb_swap_tags",
         "_bring_back", "tlb_flush_tags", "deliver", "check_interrupts")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(python: str, cache: str, timed: bool = False, jit: str = "",
             script: str = "") -> list:
    """Restore the shell and time COMMANDS; ``script``: the emulator's child script
    (default: this one; bench/fragment_reuse.py adds its own hooks)."""
    home = os.path.expanduser("~/.cache/pysystem/arm")
    meta = json.load(open(os.path.join(home, "snapshots", "boot-initramfs.json")))
    argv = json.loads(meta["key"]["machine"])
    files = {"kernel": "zImage", "dtb": "vexpress-v2p-ca9.dtb", "initramfs": "initramfs.cpio.gz"}
    argv = [os.path.join(home, files[a]) if a in files else a for a in argv[1:]]
    slot = tempfile.mkdtemp(prefix="pysystem-latency-")
    for name in ("boot-initramfs.pysnap",):
        shutil.copy(os.path.join(home, "snapshots", name), slot)
    i = argv.index("-M")
    argv[i + 1] += ",snapshot-dir=" + slot
    env = dict(os.environ, PYSYSTEM_CODE_CACHE=cache)
    if jit:
        env["BENCH_JIT_PARAMS"] = jit
    t0 = time.perf_counter()
    child = "--child-timed" if timed else "--child"
    proc = subprocess.Popen([python, script or os.path.abspath(__file__), child] + argv
                            + ["-loadvm", "boot-initramfs"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = bytearray()

    def counters() -> dict:
        proc.send_signal(signal.SIGUSR1)
        line = proc.stderr.readline()
        return json.loads(line)

    def wait_for(pattern: bytes, timeout: float = 600) -> None:
        end = time.monotonic() + timeout
        while not re.search(pattern, out):
            if time.monotonic() > end or proc.poll() is not None:
                raise SystemExit(f"no {pattern!r} in {bytes(out[-300:])!r}")
            if select.select([proc.stdout], [], [], 0.05)[0]:
                out.extend(os.read(proc.stdout.fileno(), 65536))

    results = []
    try:
        # the restored shell sits at its prompt: an empty line proves it answers
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        wait_for(re.escape(PROMPT))
        results.append(("restore + Enter", time.perf_counter() - t0, cpu_seconds(proc.pid),
                        counters()))
        for cmd in COMMANDS:
            del out[:]
            t, c, k = time.perf_counter(), cpu_seconds(proc.pid), counters()
            proc.stdin.write(cmd.encode() + b"\n")
            proc.stdin.flush()
            wait_for(rb"\n\d+\s*\r?\n.*" + re.escape(PROMPT) if "echo" not in cmd
                     else rb"\nhi\s*\r?\n.*" + re.escape(PROMPT))
            wall, cpu, k2 = time.perf_counter() - t, cpu_seconds(proc.pid) - c, counters()
            results.append((cmd, wall, cpu, {n: k2[n] - k[n] for n in k}))
        proc.stdin.write(b"\x01x")  # Ctrl-A x: quit, writing the code cache
        proc.stdin.flush()
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        shutil.rmtree(slot, ignore_errors=True)
    return results


def child(argv: list, timed: bool = False) -> int:
    """The emulator, counting translation (bench/boot_phases.py's counters); SIGUSR1
    writes the counts and the instruction count as one JSON line to stderr."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pysystem import pypy_gc
    pypy_gc.restart_if_needed()
    import boot_phases
    import pysystem.cpu.engine.cpu as cpumod
    from pysystem.cli import main as emulator
    c = boot_phases.Counters().c
    seen = []
    run = cpumod.TranslatedCPU.run

    def noting_run(cpu, max_insns):
        if not seen:
            seen.append(cpu)
        return run(cpu, max_insns)

    def report(*_):
        out = dict(c, icount=seen[0].clock.icount if seen else 0)
        if timed:
            try:  # PyPy: seconds in its JIT (tracing, machine code) and its GC
                import gc
                import pypyjit
                times = pypyjit.get_stats_snapshot().counter_times
                out["s_jit"] = times["TRACING"] + times["BACKEND"]
                out["s_gc"] = gc.get_stats().total_gc_time / 1000.0
            except (ImportError, AttributeError):
                pass
        sys.stderr.write(json.dumps(out) + "\n")
        sys.stderr.flush()

    cpumod.TranslatedCPU.run = noting_run
    if os.environ.get("BENCH_JIT_PARAMS"):   # after the engine's own pypyjit.set_param
        import pypyjit
        pypyjit.set_param(os.environ["BENCH_JIT_PARAMS"])
    clock = time.process_time
    from pysystem.cpu.arm.cpu import ARMCPU
    for name in TIMED if timed else ():
        f = getattr(ARMCPU, name, None)
        if f is None:
            continue

        def timing(*a, _f=f, _n=name, **k):
            t = clock()
            try:
                return _f(*a, **k)
            finally:
                c["n_" + _n] += 1
                c["s_" + _n] += clock() - t
        c["n_" + name] = 0
        c["s_" + name] = 0.0
        setattr(ARMCPU, name, timing)
    for name in COUNTED:  # calls of the engine's flushes, counted by name
        def counting(*a, _f=getattr(cpumod.TranslatedCPU, name), _n=name, **k):
            c[_n] += 1
            return _f(*a, **k)
        c[name] = 0
        setattr(cpumod.TranslatedCPU, name, counting)
    signal.signal(signal.SIGUSR1, report)
    return emulator("arm", argv)


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2:])
    if sys.argv[1:2] == ["--child-timed"]:
        return child(sys.argv[2:], True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append", help="interpreter(s) (default: this one)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--warm", help="a code cache directory to reuse (default: a fresh one)")
    ap.add_argument("--jit", default="", help="PyPy JIT parameters for the emulator, set "
                    "after the engine's (e.g. function_threshold=1619)")
    ap.add_argument("--timed", action="store_true",
                    help="also count calls and CPU seconds of the engine's methods in TIMED")
    opts = ap.parse_args()
    print(f"# load average {os.getloadavg()[0]:.1f}")
    for _ in range(opts.repeat):
        for python in opts.python or [sys.executable]:
            cache = opts.warm or tempfile.mkdtemp(prefix="pysystem-latency-cache-")
            for what, wall, cpu, k in run_once(python, cache, opts.timed, opts.jit):
                print(f"{python}: {what!r}: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                      f"{k['icount']} insns, {k['blocks']} blocks translated "
                      f"({k['translate']:.2f} s, compile {k['compile']:.2f} s, "
                      f"{k['disk']} from disk), {k['lookups']} lookups, "
                      + ", ".join(f"{n} {k[n]}" for n in COUNTED)
                      + "".join(f", {n[2:]} {k[n]} calls {k['s_' + n[2:]]:.2f} s"
                                for n in k if n.startswith("n_"))
                      + "".join(f", {n[2:]} {k[n]:.2f} s" for n in ("s_jit", "s_gc") if n in k),
                      flush=True)
            if not opts.warm:
                shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
