"""CPU time of a bare-metal loop under the whole emulator with a gdb stub listening and no
debugger attached (not a test): what the stub's recording for reverse execution costs
when nobody debugs (it should be nothing: it is installed only when gdb resumes).

    python3 bench/gdb_listening.py [PYSYSTEM_ARM] [runs]

The guest (vexpress-a9, -kernel) runs 10 million iterations of a 3-instruction loop
(30 M instructions), then powers the board off; the figure is the child's user+system
CPU seconds (wall time on a loaded host says little)."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile

LOOP = """
    .syntax unified
    .arm
    .global _start
_start:
    ldr r3, =10000000
1:  add r2, r2, r3
    subs r3, r3, #1
    bne 1b
    ldr r1, =0x100000a4     @ SYS_CFGCTRL: shutdown
    ldr r0, =0xC0800000
    str r0, [r1]
2:  b 2b
"""


def main() -> None:
    exe = sys.argv[1] if len(sys.argv) > 1 else shutil.which("pysystem-arm")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as d:
        src, elf = os.path.join(d, "loop.S"), os.path.join(d, "loop.elf")
        with open(src, "w") as f:
            f.write(LOOP)
        subprocess.run(["arm-none-eabi-gcc", "-nostdlib", "-Wl,-Ttext=0x60010000",
                        "-Wl,--build-id=none", src, "-o", elf], check=True)
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([exe, "-M", "vexpress-a9", "-kernel", elf, "-display", "none",
                            "-monitor", "none", "-serial", "null", "-gdb", "tcp::0",
                            "-no-reboot"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"{cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
