"""Benchmark: Debian's armmp kernel on -M vexpress-a9, from reset to power-off.

The guest is BRIEF.md's reference boot: Debian's zImage + vexpress-v2p-ca9.dtb + a
busybox initramfs whose /init prints a line and powers off, ``-m 256``,
``console=ttyAMA0 rdinit=/init``.  Each interpreter runs the emulator in a child
process and reports: seconds from start to power-off (the shell is where /init
runs, just before), guest instructions, average MIPS, blocks translated, peak
RSS.  QEMU's time for the same boot is measured too when qemu-system-arm exists, and
each row says how many times QEMU's time it took.

Translated blocks are cached on disk (pysystem/codecache.py), so a second boot
translates almost nothing.  By default each interpreter boots twice in a fresh cache
directory: once cold (every block translated) and once warm (the cache the first boot left);
``--cache cold`` runs only the first, ``--cache user`` one boot with the user's own cache.
``--side-by-side`` boots every interpreter at once (one core each), which is the fair
way to compare two trees on a machine whose speed drifts: give each tree's venv.

    python bench/boot_vexpress.py                       # this interpreter only
    python bench/boot_vexpress.py --python .venv/bin/python --python .venv-pypy/bin/python
    python bench/boot_vexpress.py --side-by-side --cache cold --no-qemu \
        --python .venv-pypy/bin/python --python ../other-tree/.venv-pypy/bin/python

Figures and the commands that produced them are kept in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

INIT = """#!/bin/sh
mount -t proc proc /proc
echo "BOOT-OK: $(uname -a)"
poweroff -f
"""
MARKER = b"BOOT-OK"


def guest_args(initrd: str) -> list:
    from pysystem.images import guest_files
    g = guest_files("arm", quiet=True)
    return ["-M", "vexpress-a9", "-m", "256", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
            "-initrd", initrd, "-append", "console=ttyAMA0 rdinit=/init",
            # a fixed wall clock: with the host's, the guest's RTC code differs run to run
            "-rtc", "base=2026-01-01T00:00:00"]


def make_initrd() -> str:
    from pysystem.images import build_initramfs, default_cache_dir
    out = os.path.join(default_cache_dir(), "arm", "initramfs-bench.cpio.gz")
    return str(build_initramfs("arm", INIT, out=out))


def run_loop_module():
    """The module whose run loop calls translate() (before the shared engine: ARM's)."""
    try:
        import pysystem.cpu.engine.cpu as cpumod
    except ImportError:
        import pysystem.cpu.arm.cpu as cpumod
    return cpumod


class Stop(BaseException):
    """Raised out of the run loop at ``--stop`` instructions (not an Exception, so that no
    handler on the way out takes it for an emulator error)."""


def stop_at(insns: int, seen: dict) -> None:
    """End the boot at the first run-loop slice that reaches ``insns`` guest instructions,
    noting the PC there in ``seen["pc"]`` (trees that count alike stop at the same PC)."""
    cpumod = run_loop_module()
    cls = getattr(cpumod, "TranslatedCPU", None) or getattr(cpumod, "ARMCPU")
    run = cls.run

    def stopping_run(cpu, max_insns: int) -> int:
        done = run(cpu, max_insns)
        if cpu.clock.icount >= insns:
            seen["pc"] = cpu.pc
            raise Stop
        return done

    cls.run = stopping_run


def count_translations() -> dict:
    """Count the ARM blocks translated from now on, and the seconds spent on them; the
    returned dict is updated in place (``blocks``, ``seconds``)."""
    cpumod = run_loop_module()
    counts = {"blocks": 0, "seconds": 0.0}
    translate = cpumod.translate

    def counting_translate(*a, **k):
        t = time.perf_counter()
        try:
            return translate(*a, **k)
        finally:
            counts["blocks"] += 1
            counts["seconds"] += time.perf_counter() - t

    cpumod.translate = counting_translate
    return counts


def child(args: list, console: str, stop: int = 0) -> dict:
    """Run the emulator in this process (to the guest's power-off, or to ``stop``
    instructions); return its figures."""
    import pysystem.main_loop as main_loop
    from pysystem.cli import main

    counts = count_translations()
    seen = {}
    if stop:
        stop_at(stop, seen)
    run = main_loop.MainLoop.run

    def observed_run(self):
        seen["machine"] = self.machine
        return run(self)

    main_loop.MainLoop.run = observed_run
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        status = main("arm", args + ["-serial", f"file:{console}", "-display", "none"])
    except Stop:
        status = 0
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    machine = seen["machine"]
    insns = machine.clock.icount
    with open(console, "rb") as f:
        ok = MARKER in f.read()
    return {"status": status, "booted": ok, "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1), "instructions": insns,
            "mips": round(insns / seconds / 1e6, 2), "blocks": counts["blocks"],
            "pc": f"{seen['pc']:08x}" if "pc" in seen else "",
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def qemu(args: list) -> dict:
    start = time.perf_counter()
    out = subprocess.run(["qemu-system-arm", *args, "-nographic", "-no-reboot"],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    seconds = time.perf_counter() - start
    return {"status": out.returncode, "booted": MARKER in out.stdout, "seconds": round(seconds, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", action="append", help="interpreter to run the emulator with "
                   "(repeatable; default: this one)")
    p.add_argument("--no-qemu", action="store_true")
    p.add_argument("--cache", choices=("both", "cold", "user"), default="both",
                   help="code cache: cold then warm (default), cold only, or the user's")
    p.add_argument("--side-by-side", action="store_true",
                   help="run the interpreters' boots at the same time (one core each): "
                   "to compare two trees, give each tree's own venv")
    p.add_argument("--stop", type=int, default=0, help="end each boot at this many guest "
                   "instructions (the first run-loop slice past it) instead of at power-off")
    p.add_argument("--rounds", type=int, default=1, help="repeat the whole measurement")
    p.add_argument("--child", nargs=2, metavar=("ARGS_JSON", "CONSOLE"), help=argparse.SUPPRESS)
    opts = p.parse_args()
    if opts.child:
        from pysystem import pypy_gc
        pypy_gc.restart_if_needed()  # what the console scripts do first
        print(json.dumps(child(json.loads(opts.child[0]), opts.child[1], opts.stop)))
        return 0
    args = guest_args(make_initrd())
    pythons = opts.python or [sys.executable]
    names = []
    for python in pythons:
        version = subprocess.run([python, "-c", "import platform; print(platform.python_implementation(), "
                                  "platform.python_version())"], capture_output=True, text=True)
        names.append(version.stdout.strip())
    if len(set(names)) < len(names):  # the same interpreter in two trees: say which is which
        names = [f"{n} ({os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(p))))})"
                 for n, p in zip(names, pythons)]
    kinds = {"both": ("cold", "warm"), "cold": ("cold",), "user": ("user",)}[opts.cache]
    runs = [f"{kind} {r + 1}" if opts.rounds > 1 else kind
            for r in range(opts.rounds) for kind in kinds]
    results = {}
    with tempfile.TemporaryDirectory(prefix="pysystem-bench-code-") as top:
        for run in runs:
            if run.startswith("cold") and os.path.isdir(top):  # each round starts empty
                shutil.rmtree(top)
                os.mkdir(top)
            jobs = []
            for i, python in enumerate(pythons):
                env = dict(os.environ)
                if run.startswith("user"):
                    env.pop("PYSYSTEM_CODE_CACHE", None)
                else:
                    env["PYSYSTEM_CODE_CACHE"] = os.path.join(top, str(i))
                console = f"/tmp/pysystem-bench-console-{os.getpid()}-{i}.txt"
                cmd = [python, __file__, "--child", json.dumps(args), console,
                       "--stop", str(opts.stop)]
                jobs.append((i, cmd, env))
            # side by side: all at once, so that a slow spell of the machine hits them all
            for group in ([jobs] if opts.side_by_side else [[j] for j in jobs]):
                procs = [(i, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True, env=env)) for i, cmd, env in group]
                for i, proc in procs:
                    out, err = proc.communicate()
                    if proc.returncode != 0:
                        print(err, file=sys.stderr)
                        return 1
                    label = names[i] if run.startswith("user") else f"{names[i]}, {run}"
                    results[i, run] = (label, json.loads(out.strip().splitlines()[-1]))
    rows = [results[i, run] for run in runs for i in range(len(pythons))]
    if not opts.no_qemu and shutil.which("qemu-system-arm"):
        rows.append(("qemu-system-arm", qemu(args)))
    qemu_s = rows[-1][1]["seconds"] if rows[-1][0] == "qemu-system-arm" else None
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, command: {' '.join(sys.argv)}")
    width = max(24, *(len(name) for name, _ in rows))
    print(f"{'interpreter':<{width}} {'booted':>6} {'seconds':>8} {'CPU s':>7} {'x QEMU':>7} "
          f"{'instructions':>13} {'MIPS':>6} {'blocks':>7} {'RSS MB':>7} {'pc':>8}")
    for name, r in rows:
        ratio = f"{r['seconds'] / qemu_s:.0f}" if qemu_s else ""
        print(f"{name:<{width}} {str(r['booted']):>6} {r['seconds']:>8} {r.get('cpu_seconds', ''):>7} "
              f"{ratio:>7} {r.get('instructions', ''):>13} {r.get('mips', ''):>6} "
              f"{r.get('blocks', ''):>7} {r.get('peak_rss_mb', ''):>7} {r.get('pc', ''):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
