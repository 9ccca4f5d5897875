"""Profile the reference Debian boot by phase: speed and translation per window.

Boots the same guest as bench/boot_vexpress.py in this process, through the ordinary
command line and main loop, and prints for each window of N guest instructions the
MIPS, the wall time, the blocks translated and the time spent translating them, and
where the PC was at the end.  This is how the phases in bench/RESULTS.md (decompressor,
kernel init, self-tests) were told apart.

    python bench/boot_phases.py                          # whole boot, 250M windows
    .venv-pypy/bin/python bench/boot_phases.py --window 50000000 --stop 2500000000
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boot_vexpress  # noqa: E402  (the guest, and the translation counter)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--window", type=int, default=250_000_000, help="instructions per line")
    p.add_argument("--stop", type=int, default=0,
                   help="stop after this many instructions (default: at the guest's power-off)")
    opts = p.parse_args()
    from pysystem import pypy_gc
    pypy_gc.restart_if_needed()  # what the console scripts do first

    import pysystem.cpu.arm.cpu as cpumod
    from pysystem.cli import main as emulator

    spent = boot_vexpress.count_translations()
    run = cpumod.ARMCPU.run
    mark = {"t": time.perf_counter(), "icount": 0, "blocks": 0, "seconds": 0.0}

    def windowed_run(cpu, max_insns: int) -> int:
        done = run(cpu, max_insns)
        icount = cpu.clock.icount
        if icount - mark["icount"] >= opts.window:
            now = time.perf_counter()
            dt = now - mark["t"]
            print(f"{icount / 1e9:9.3f}e9 {(icount - mark['icount']) / dt / 1e6:7.2f} {dt:8.1f} "
                  f"{spent['blocks'] - mark['blocks']:7} {spent['seconds'] - mark['seconds']:14.1f}"
                  f"  {cpu.pc:08x}", flush=True)
            mark.update(t=now, icount=icount, blocks=spent["blocks"], seconds=spent["seconds"])
            if opts.stop and icount >= opts.stop:
                raise SystemExit(0)
        return done

    cpumod.ARMCPU.run = windowed_run
    args = boot_vexpress.guest_args(boot_vexpress.make_initrd())
    print(f"{'at insns':>10} {'MIPS':>7} {'seconds':>8} {'blocks':>7} {'translating s':>14}  pc")
    return emulator("arm", args + ["-serial", "null", "-display", "none"])


if __name__ == "__main__":
    sys.exit(main())
