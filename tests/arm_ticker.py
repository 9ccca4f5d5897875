"""The ticker: a small bare-metal vexpress-a9 guest whose output depends on virtual time.

It programs the GIC and SP804 timer 1 (every 2000 us unless told), waits for the timer's interrupt
with WFI (the clock warps), acknowledges it, keeps a tick counter in RAM (at 0x60100000
on), does busy work of a length that varies with the tick, and prints to UART0 a letter
from the timer's current value and a digit of the tick count; after ``limit`` ticks it
prints a newline and shuts the board down through the system controller.  Everything it
prints therefore depends on the CPU, RAM, GIC, timer and clock state.  Shared by
test_snapshot, test_determinism and test_two_machines.
"""
from __future__ import annotations

from pathlib import Path
from typing import Tuple

from tools import module

SOURCE = """
    ldr r4, =0x10009000
    ldr r5, =0x10011000
    ldr r6, =0x1e001000
    ldr r7, =0x1e000100
    ldr r8, =0x60100000
    mov r0, #1
    str r0, [r6]
    mov r0, #4
    str r0, [r6, #0x104]
    mov r0, #1
    strb r0, [r6, #0x822]
    str r0, [r7]
    mov r0, #0xf0
    str r0, [r7, #4]
    ldr r0, ={period_us}
    str r0, [r5]
    mov r0, #0xe2
    str r0, [r5, #8]
    mov r9, #0
loop:
    wfi
    ldr r0, [r7, #0xc]
    str r0, [r5, #0xc]
    str r0, [r7, #0x10]
    add r9, r9, #1
    str r9, [r8, r9, lsl #2]
    and r3, r9, #0xff
    add r3, r3, #20
busy:
    subs r3, r3, #1
    bne busy
    ldr r1, [r5, #4]
    and r2, r1, #0x1f
    add r2, r2, #0x40
    str r2, [r4]
    and r2, r9, #0xf
    add r2, r2, #0x30
    str r2, [r4]
    ldr r0, ={limit}
    cmp r9, r0
    bne loop
    mov r2, #10
    str r2, [r4]
    ldr r1, =0x100000a4
    ldr r0, =0xC0800000
    str r0, [r1]
halt:
    wfi
    b halt
"""

LOAD_ADDRESS = 0x60010000


def code(limit: int, period_us: int = 2000) -> bytes:
    """The ticker assembled (with Keystone) to run from LOAD_ADDRESS."""
    keystone = module("keystone")
    out, _ = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM).asm(
        SOURCE.format(limit=limit, period_us=period_us), LOAD_ADDRESS)
    return bytes(out)


def write(folder: Path, limit: int, period_us: int = 2000) -> Tuple[str, str]:
    """The ticker (a raw image) and a minimal device tree in ``folder``: their paths."""
    from test_cli_run import MINI_DTS
    fdt = module("fdt")
    kernel, dtb = folder / "ticker.bin", folder / "mini.dtb"
    kernel.write_bytes(code(limit, period_us))
    dtb.write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    return str(kernel), str(dtb)
