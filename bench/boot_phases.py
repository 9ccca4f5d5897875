"""Profile a reference Debian boot by phase: speed and translation per window.

Boots the guest of bench/boot_vexpress.py (``--arch arm``: Debian's armmp zImage on
vexpress-a9) or Debian's 4kc-malta vmlinux on Malta (``--arch mipsel``, the same
busybox /init that prints a line and powers off) in this process, through the ordinary
command line and main loop, and prints for each window of N guest instructions:

- MIPS per wall second and per CPU second of this process (a loaded machine disturbs
  the second far less), and the window's wall and CPU seconds;
- blocks translated, and the CPU seconds spent translating them, of which ``compile()``
  and reading blocks from the disk code cache;
- block lookups (jump-cache misses: each goes through the block cache or translates);
- where the PC was at the end.

    python bench/boot_phases.py                          # ARM, whole boot, 250M windows
    .venv-pypy/bin/python bench/boot_phases.py --arch mipsel --window 100000000 --stop 1500000000

The code cache is this process's PYSYSTEM_CODE_CACHE (``--cold`` gives it a fresh one).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boot_vexpress  # noqa: E402  (the ARM guest)

MALTA_APPEND = "console=ttyS0 rdinit=/init"


def malta_args() -> list:
    from pysystem.images import build_initramfs, default_cache_dir, guest_files
    folder = os.path.join(default_cache_dir(), "mipsel")
    kernel = os.path.join(folder, "vmlinux")
    initrd = os.path.join(folder, "initramfs-bench.cpio.gz")
    if not (os.path.exists(kernel) and os.path.exists(initrd)):  # else: no wait for the cache's lock
        kernel = str(guest_files("mipsel", quiet=True).kernel)
        initrd = str(build_initramfs("mipsel", boot_vexpress.INIT, out=initrd))
    return ["-M", "malta", "-m", "256", "-kernel", kernel, "-initrd", initrd,
            "-append", MALTA_APPEND, "-rtc", "base=2026-01-01T00:00:00"]


class Counters:
    """CPU seconds and counts of the engine's translation paths, patched in place."""

    def __init__(self) -> None:
        import pysystem.cpu.engine.codegen as codegen
        import pysystem.cpu.engine.cpu as cpumod
        import pysystem.cpu.engine.translate as tr
        self.c = {"blocks": 0, "translate": 0.0, "compile": 0.0, "disk": 0, "disk_s": 0.0,
                  "lookups": 0}
        c = self.c
        clock = time.process_time
        translate, from_disk, lookup = cpumod.translate, tr._from_disk, cpumod.TranslatedCPU._lookup

        def counting_translate(*a, **k):
            t = clock()
            try:
                return translate(*a, **k)
            finally:
                c["blocks"] += 1
                c["translate"] += clock() - t

        def counting_compile(*a, **k):
            t = clock()
            try:
                return compile(*a, **k)
            finally:
                c["compile"] += clock() - t

        def counting_from_disk(*a, **k):
            t = clock()
            blk = from_disk(*a, **k)
            c["disk_s"] += clock() - t
            c["disk"] += blk is not None
            return blk

        def counting_lookup(*a, **k):
            c["lookups"] += 1
            return lookup(*a, **k)

        cpumod.translate = counting_translate
        codegen.compile = counting_compile     # the module's global shadows the builtin
        tr._from_disk = counting_from_disk
        cpumod.TranslatedCPU._lookup = counting_lookup


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=("arm", "mipsel"), default="arm")
    p.add_argument("--window", type=int, default=250_000_000, help="instructions per line")
    p.add_argument("--stop", type=int, default=0,
                   help="stop after this many instructions (default: at the guest's power-off)")
    p.add_argument("--cold", action="store_true", help="a fresh, empty code cache")
    opts = p.parse_args()
    if opts.cold and not os.environ.get("PYSYSTEM_BENCH_COLD"):
        os.environ["PYSYSTEM_CODE_CACHE"] = tempfile.mkdtemp(prefix="pysystem-phases-")
        os.environ["PYSYSTEM_BENCH_COLD"] = "1"
    from pysystem import pypy_gc
    pypy_gc.restart_if_needed()  # what the console scripts do first

    import pysystem.cpu.engine.cpu as cpumod
    from pysystem.cli import main as emulator

    counters = Counters().c
    run = cpumod.TranslatedCPU.run
    keys = ("blocks", "translate", "compile", "disk", "disk_s", "lookups")
    mark = dict(counters, t=time.perf_counter(), cpu=time.process_time(), icount=0)

    def windowed_run(cpu, max_insns: int) -> int:
        done = run(cpu, max_insns)
        icount = cpu.clock.icount
        if icount - mark["icount"] >= opts.window:
            now, cpu_now = time.perf_counter(), time.process_time()
            dt, dc = now - mark["t"], cpu_now - mark["cpu"]
            d = {k: counters[k] - mark[k] for k in keys}
            n = icount - mark["icount"]
            print(f"{icount / 1e9:7.3f}e9 {n / dt / 1e6:7.2f} {n / dc / 1e6:7.2f} {dt:7.1f} {dc:7.1f}"
                  f" {d['blocks']:7} {d['translate']:7.1f} {d['compile']:7.1f} {d['disk']:6}"
                  f" {d['disk_s']:6.1f} {d['lookups']:8}  {cpu.pc:08x}", flush=True)
            mark.update(counters, t=now, cpu=cpu_now, icount=icount)
            if opts.stop and icount >= opts.stop:
                raise SystemExit(0)
        return done

    cpumod.TranslatedCPU.run = windowed_run
    if opts.arch == "arm":
        args = boot_vexpress.guest_args(boot_vexpress.make_initrd())
    else:
        args = malta_args()
    print(f"# {opts.arch}, {sys.implementation.name}, load average {os.getloadavg()[0]:.1f}, "
          f"code cache {os.environ.get('PYSYSTEM_CODE_CACHE', 'default')}")
    print(f"{'at insns':>9} {'MIPS':>7} {'cpuMIPS':>7} {'wall s':>7} {'cpu s':>7} {'blocks':>7}"
          f" {'trans s':>7} {'compile':>7} {'disk':>6} {'disk s':>6} {'lookups':>8}  pc")
    return emulator(opts.arch, args + ["-serial", "null", "-display", "none"])


if __name__ == "__main__":
    sys.exit(main())
