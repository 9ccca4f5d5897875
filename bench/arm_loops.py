"""Guest MIPS of ARMCPU on bare-metal loops (not a test).

    python3 bench/arm_loops.py [--seconds S] [loop ...]
    pypy3 bench/arm_loops.py

Loops: alu (data processing with shifts and flags), mem (loads/stores with the MMU
on: section-mapped, client domain), branch (BL/BX calls, conditional branches),
thumb (Thumb-2 code, once T32 exists), vld1 (unaligned VLD1.8 {d0-d3} with
writeback, as glibc's NEON memcpy does, and a VST1 of them; MMU on, NEON enabled).  Each loop runs for about ``--seconds``
after a warm-up; the figure is guest instructions per second of wall time.
"""
from __future__ import annotations

import argparse
import struct
import sys
import time

from pysystem.clock import VirtualClock
from pysystem.cpu.arm import ARMCPU
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

RAM_BASE = 0x60000000
RAM_SIZE = 16 << 20
CODE = RAM_BASE + 0x10000
TTB = RAM_BASE + 0x4000  # 16 KiB aligned


def _asm(src: str, addr: int, thumb: bool = False) -> bytes:
    import keystone
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_THUMB if thumb else keystone.KS_MODE_ARM)
    code, _ = ks.asm(src, addr)
    return bytes(code)


ALU = """
    mov r7, #0
    mov r1, #3
loop:
    add r0, r0, r1
    eor r2, r2, r0, lsl #3
    orr r3, r3, r2, lsr #1
    sub r4, r4, r3
    and r5, r0, r2
    mov r6, r5, ror #3
    adds r8, r8, r6
    adc r9, r9, #0
    bic r10, r0, r4
    sub r7, r7, #1
    cmp r7, #0
    b loop
"""

MEM = """
    mov r5, #0
outer:
    ldr r1, =0x60200000
    mov r4, #256
inner:
    ldr r0, [r1]
    add r2, r2, r0
    str r2, [r1, #4]
    ldrb r3, [r1, #9]
    add r2, r2, r3
    strh r2, [r1, #12]!
    subs r4, r4, #1
    bne inner
    add r5, r5, #1
    b outer
"""

BRANCH = """
    mov r4, #0
loop:
    bl func
    tst r0, #1
    beq even
    add r2, r2, #1
    b next
even:
    add r3, r3, #1
next:
    add r4, r4, #1
    cmp r4, #100
    blt loop
    mov r4, #0
    b loop
func:
    add r0, r0, #1
    bx lr
"""

THUMB = """
    movs r4, #0
loop:
    adds r0, r0, r1
    eor.w r2, r2, r0, lsl #3
    ldr r3, [r5]
    add r3, r3, r2
    str r3, [r5, #4]
    subs r4, #1
    cmp r4, #7
    bne loop
    b loop
"""

VLD1 = """
    mov r5, #0
outer:
    ldr r1, =0x60200001
    ldr r2, =0x60300003
    mov r4, #64
inner:
    vld1.8 {d0-d3}, [r1]!
    vst1.8 {d0-d3}, [r2]!
    subs r4, r4, #1
    bne inner
    add r5, r5, #1
    b outer
"""


def make_cpu():
    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "ram", RAM_SIZE)
    root.add_subregion(RAM_BASE, ram)
    space = AddressSpace("cpu-memory", root)
    cpu = ARMCPU()
    cpu.address_space = space
    cpu.clock = VirtualClock()
    cpu.realize()
    cpu.reset()
    return cpu, space


def enable_mmu(cpu, space) -> None:
    """Identity-map every 1 MiB section (client domain 0, AP=3), MMU on."""
    table = b"".join(struct.pack("<I", (i << 20) | (3 << 10) | 0x2) for i in range(4096))
    space.write_bytes(TTB, table)
    cpu.cp15.ttbr0 = TTB
    cpu.cp15.dacr = 1
    cpu.cp15.sctlr |= 1
    cpu.tlb_flush_all()


def bench(name: str, seconds: float) -> float:
    cpu, space = make_cpu()
    thumb = name == "thumb"
    src = {"alu": ALU, "mem": MEM, "branch": BRANCH, "thumb": THUMB, "vld1": VLD1}[name]
    space.write_bytes(CODE, _asm(src, CODE, thumb))
    if name in ("mem", "vld1"):
        enable_mmu(cpu, space)
    if name == "vld1":
        cpu.cp15.cpacr = 0x00F00000  # cp10/cp11 full access, FPEXC.EN
        cpu.fpexc = 0x40000000
    if thumb:
        cpu.regs[5] = RAM_BASE + 0x200000
        cpu.cpsr = cpu.cpsr | 0x20
    cpu.regs[15] = CODE
    cpu.run(200000)  # warm-up (and the JIT's, under PyPy)
    if cpu.halted or cpu.mode != 0x13:
        raise SystemExit(f"{name}: the loop took an exception (pc 0x{cpu.regs[15]:08x}, mode {cpu.mode:#x})")
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += cpu.run(1_000_000)
    dt = time.perf_counter() - t0
    return n / dt / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("loops", nargs="*", default=["alu", "mem", "branch", "thumb"])
    args = ap.parse_args()
    impl = sys.implementation.name
    for name in args.loops:
        try:
            mips = bench(name, args.seconds)
        except SystemExit as e:
            print(f"{impl:8} {name:7} skipped: {e}")
            continue
        print(f"{impl:8} {name:7} {mips:7.2f} MIPS")


if __name__ == "__main__":
    main()
