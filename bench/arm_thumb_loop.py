"""Guest MIPS of ARMCPU on a Thumb-2 loop shaped like compiled code (not a test).

    python3 bench/arm_thumb_loop.py [--seconds S]
    pypy3 bench/arm_thumb_loop.py

The loop mixes 16- and 32-bit encodings: loads with a scaled register offset, IT
blocks (one with a store inside, which starts a block of its own), a TBB switch,
modified-immediate and shifted-register data processing, a BL/BX call with
PUSH/POP, CBZ and UBFX.  The simple Thumb loop is ``bench/arm_loops.py thumb``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from arm_loops import CODE, RAM_BASE, _asm, make_cpu  # noqa: E402

DATA = RAM_BASE + 0x200000

LOOP = """
    movs r4, #0
    movw r5, #0x0000
    movt r5, #0x6020
outer:
    movs r6, #63
inner:
    ldr.w r0, [r5, r6, lsl #2]
    cmp r0, #100
    ite lt
    addlt r1, r1, r0
    subge.w r1, r1, #3
    and r2, r6, #3
    tbb [pc, r2]
    .byte 2, 6, 10, 14
    add.w r3, r3, #1
    b.w next
    eor.w r3, r3, r1, lsl #2
    b.w next
    orr.w r3, r3, #0x100
    b.w next
    sub.w r3, r3, r0, asr #1
    b.w next
next:
    cmp r3, r1
    itt hi
    strhi r3, [r5, #4]
    movhi r3, #0
    subs r6, #1
    bne inner
    push {r4, lr}
    bl func
    pop {r4, lr}
    adds r4, #1
    b outer
func:
    cbz r4, skip
    ubfx r7, r4, #3, #5
    add.w r7, r7, r4, lsr #1
skip:
    bx lr
"""


def bench(seconds: float) -> float:
    cpu, space = make_cpu()
    space.write_bytes(CODE, _asm(LOOP, CODE, thumb=True))
    space.write_bytes(DATA, bytes(range(256)))
    cpu.regs[13] = RAM_BASE + 0x100000
    cpu.cpsr = cpu.cpsr | 0x20
    cpu.regs[15] = CODE
    cpu.run(200000)  # warm-up (and the JIT's, under PyPy)
    if cpu.halted or cpu.mode != 0x13 or not cpu.thumb:
        raise SystemExit(f"the loop took an exception (pc 0x{cpu.regs[15]:08x}, mode {cpu.mode:#x})")
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += cpu.run(1_000_000)
    dt = time.perf_counter() - t0
    return n / dt / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    print(f"{sys.implementation.name:8} thumb2  {bench(args.seconds):7.2f} MIPS")


if __name__ == "__main__":
    main()
