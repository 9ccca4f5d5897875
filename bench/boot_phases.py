"""Profile the reference Debian boot by phase: speed and translation per window.

Runs the same guest as bench/boot_vexpress.py in this process, in windows of N guest
instructions, and prints for each window the MIPS, the wall time, the blocks translated
and the time spent translating them, and where the PC was at the end.  This is how the
phases in bench/RESULTS.md (decompressor, kernel init, self-tests) were told apart.

    python bench/boot_phases.py                          # whole boot, 250M windows
    .venv-pypy/bin/python bench/boot_phases.py --window 50000000 --stop 2500000000
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boot_vexpress  # noqa: E402  (the guest: kernel, DTB, bench initramfs)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--window", type=int, default=250_000_000, help="instructions per line")
    p.add_argument("--stop", type=int, default=4_000_000_000,
                   help="stop after this many instructions (the boot powers off at ~3.53e9)")
    opts = p.parse_args()

    import pysystem.cpu.arm.cpu as cpumod
    from pysystem.machines.vexpress import VexpressA9

    spent = {"blocks": 0, "seconds": 0.0}
    translate = cpumod.translate

    def timed_translate(*a, **k):
        t = time.perf_counter()
        try:
            return translate(*a, **k)
        finally:
            spent["blocks"] += 1
            spent["seconds"] += time.perf_counter() - t

    cpumod.translate = timed_translate
    args = boot_vexpress.guest_args(boot_vexpress.make_initrd())
    opt = dict(zip(args[::2], args[1::2]))
    m = VexpressA9()
    for prop, flag in (("kernel", "-kernel"), ("dtb", "-dtb"), ("initrd", "-initrd"),
                       ("append", "-append")):
        m.set_prop(prop, opt[flag])
    m.set_prop("ram-size", 256 << 20)

    class Console:
        def write(self, data):
            pass

        def set_handlers(self, *a):
            pass

    m.serial_hds = [Console()]
    m.realize()
    m.reset()
    cpu, clock = m.cpus[0], m.clock
    print(f"{'at insns':>10} {'MIPS':>7} {'seconds':>8} {'blocks':>7} {'translating s':>14}  pc")
    # m._requests: a guest power-off or reset ends the run (the main loop would act on it)
    while clock.icount < opts.stop and not m._requests:
        t0, b0, s0, i0 = time.perf_counter(), spent["blocks"], spent["seconds"], clock.icount
        while clock.icount - i0 < opts.window and not m._requests:
            cpu.run(clock.insns_until_deadline(1_000_000))
            clock.run_timers()
            if cpu.halted and not any(cpu.irq_level) and not clock.warp_to_next_deadline():
                break
        dt = time.perf_counter() - t0
        print(f"{clock.icount / 1e9:9.3f}e9 {(clock.icount - i0) / dt / 1e6:7.2f} {dt:8.1f} "
              f"{spent['blocks'] - b0:7} {spent['seconds'] - s0:14.1f}  {cpu.pc:08x}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
