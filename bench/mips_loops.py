"""Guest MIPS of the MIPS CPU on bare-metal loops (not a test); the shapes of arm_loops.py.

    python3 bench/mips_loops.py [--seconds S] [--eb] [loop ...]
    pypy3 bench/mips_loops.py

Loops: alu (arithmetic, logic, shifts), mem (loads/stores through the TLB: kuseg mapped
by one 16 MiB JTLB entry, kernel mode), branch (jal/jr calls, conditional branches).
Each loop runs for about ``--seconds`` after a warm-up; the figure is guest
instructions per second of wall time.  Needs Debian's binutils-mips(el)-linux-gnu.

Measured 2026-12-07 on the shared engine, load average about 13 on 2 cores, MIPS and
ARM (bench/arm_loops.py) run one after the other in the same session (MIPS):

    ============ ======= ======= ======= ======= ======= =======
    loop         MIPS el MIPS eb ARM     MIPS el MIPS eb ARM
                 CPython CPython CPython PyPy    PyPy    PyPy
    ============ ======= ======= ======= ======= ======= =======
    alu          9.1-9.6 8.5     4.6-5.2 1241    1142    650
    mem          4.3     3.8     3.4-3.5 107     71      90
    branch       6.2-7.2 5.9     2.5-2.8 6.0     5.6     4.2
    ============ ======= ======= ======= ======= ======= =======
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from pysystem.clock import VirtualClock
from pysystem.cpu.mips import CPU_TYPES
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

RAM_SIZE = 64 << 20
CODE = 0x80010000

ALU = """
    li $7, 0
    li $1, 3
loop:
    addu $2, $2, $1
    sll $8, $2, 3
    xor $3, $3, $8
    srl $8, $3, 1
    or $4, $4, $8
    subu $5, $5, $4
    and $6, $2, $3
    rotr $9, $6, 3
    addu $10, $10, $9
    sltu $11, $10, $9
    addu $12, $12, $11
    nor $13, $2, $5
    addiu $7, $7, -1
    b loop
    slt $14, $7, $0
"""

MEM = """
    li $5, 0
outer:
    li $1, 0x00200000
    li $4, 256
inner:
    lw $2, 0($1)
    addu $3, $3, $2
    sw $3, 4($1)
    lbu $6, 9($1)
    addu $3, $3, $6
    sh $3, 12($1)
    addiu $4, $4, -1
    bnez $4, inner
    addiu $1, $1, 12
    b outer
    addiu $5, $5, 1
"""

BRANCH = """
    li $4, 0
loop:
    jal func
    nop
    andi $8, $2, 1
    beqz $8, even
    nop
    b next
    addiu $6, $6, 1
even:
    addiu $7, $7, 1
next:
    addiu $4, $4, 1
    slti $8, $4, 100
    bnez $8, loop
    nop
    b loop
    li $4, 0
func:
    jr $31
    addiu $2, $2, 1
"""


def _asm(src: str, addr: int, be: bool) -> bytes:
    prefix = "mips" if be else "mipsel"
    with tempfile.TemporaryDirectory() as d:
        s, o, e, b = (os.path.join(d, n) for n in ("t.S", "t.o", "t.elf", "t.bin"))
        with open(s, "w") as f:
            f.write(".set noreorder\n.set noat\n.text\n" + src + "\n")
        for cmd in ([f"{prefix}-linux-gnu-as", "-march=mips32r2", "-o", o, s],
                    [f"{prefix}-linux-gnu-ld", "-Ttext", hex(addr), "-e", hex(addr), "-o", e, o],
                    [f"{prefix}-linux-gnu-objcopy", "-O", "binary", "-j", ".text", e, b]):
            subprocess.run(cmd, check=True)
        with open(b, "rb") as f:
            return f.read()


def make_cpu(be: bool):
    root = ContainerRegion(None, "system", 1 << 32)
    root.add_subregion(0, RAMRegion(None, "ram", RAM_SIZE))
    space = AddressSpace("cpu-memory", root, big_endian=be)
    cpu = CPU_TYPES["24Kf"](endianness="big" if be else "little")
    cpu.address_space = space
    cpu.clock = VirtualClock()
    cpu.realize()
    cpu.reset()
    cpu.cp0.status = 0          # kernel mode, BEV = ERL = 0: kuseg goes through the TLB
    cpu.cp0_status_written(0)
    return cpu, space


def map_kuseg(cpu) -> None:
    """One JTLB entry: virtual 0x00000000-0x01ffffff -> physical 0 (16 MiB pages), dirty, valid."""
    cp0 = cpu.cp0
    cp0.entryhi, cp0.pagemask = 0, 0x01FFE000
    cp0.entrylo0 = (0 << 6) | (3 << 3) | 7
    cp0.entrylo1 = ((0x01000000 >> 12) << 6) | (3 << 3) | 7
    cp0.index = 0
    cpu.tlb_tlbwi()


def bench(name: str, seconds: float, be: bool) -> float:
    cpu, space = make_cpu(be)
    src = {"alu": ALU, "mem": MEM, "branch": BRANCH}[name]
    space.write_bytes(CODE & 0x1FFFFFFF, _asm(src, CODE, be))
    map_kuseg(cpu)
    cpu.pc = CODE
    cpu.run(200000)  # warm-up (and the JIT's, under PyPy)
    if cpu.cp0.status & 2:
        raise SystemExit(f"{name}: the loop took an exception (EPC 0x{cpu.cp0.epc:08x}, "
                         f"Cause 0x{cpu.cp0.cause:08x})")
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += cpu.run(1_000_000)
    dt = time.perf_counter() - t0
    return n / dt / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--eb", action="store_true", help="big-endian")
    ap.add_argument("loops", nargs="*", default=["alu", "mem", "branch"])
    args = ap.parse_args()
    impl = sys.implementation.name
    for name in args.loops:
        try:
            mips = bench(name, args.seconds, args.eb)
        except SystemExit as e:
            print(f"{impl:8} {name:7} skipped: {e}")
            continue
        print(f"{impl:8} {name:7} {'eb' if args.eb else 'el'} {mips:7.2f} MIPS")


if __name__ == "__main__":
    main()
