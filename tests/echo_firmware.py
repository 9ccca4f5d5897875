"""A tiny firmware for a board's boot flash, as pytest-embedded's QEMU plugin flashes one.

    image = echo_firmware("arm")        # bytes: vexpress-a9's flash 0, run from address 0
    image = echo_firmware("mipsel")     # Malta's flash, run from the boot ROM's copy

It prints ``BANNER`` and a ``> `` prompt on the first serial port, then echoes what
it reads with lower-case letters made upper-case; a line feed prints a new prompt
(``\\r\\n> ``).  It polls the UART (vexpress: PL011 UART0's flag register; Malta: the
16550 at ISA port 0x3f8, through the GT-64120's I/O window where it is at reset), so
what it prints depends on what it reads.  Assembled with Keystone.

Malta: the board writes its ID at 0x1fc00010, so the code branches over it.  On
little-endian Malta the words of the flash are byte-swapped in memory, as QEMU does
(one image serves both byte orders): the image holds the little-endian code with
each word swapped, so that the board's swap gives it back.
"""
from __future__ import annotations

import struct

from tools import module

BANNER = "pysystem firmware ready"

ARM = r"""
    ldr r4, =0x10009000
    adr r0, banner
    bl puts
loop:
    ldr r1, [r4, #0x18]
    tst r1, #0x10
    bne loop
    ldr r2, [r4]
    and r2, r2, #0xff
    cmp r2, #0x61
    blo out
    cmp r2, #0x7a
    subls r2, r2, #0x20
out:
    cmp r2, #10
    beq newline
    str r2, [r4]
    b loop
newline:
    adr r0, prompt
    bl puts
    b loop
puts:
    ldrb r3, [r0], #1
    cmp r3, #0
    bxeq lr
    str r3, [r4]
    b puts
banner:
    .asciz "{banner}\r\n> "
prompt:
    .asciz "\r\n> "
    .align 2
"""

# Keystone leaves MIPS symbol addresses (la) unresolved: the texts are written
# character by character instead ({banner}, {prompt}: li/sb pairs).
MIPS = r"""
    .set noreorder
    b start
    nop
    .word 0, 0, 0, 0, 0, 0
start:
    lui $s0, 0xb000
    ori $s0, $s0, 0x3f8
{banner}
loop:
    lbu $t1, 5($s0)
    andi $t1, $t1, 1
    beqz $t1, loop
    nop
    lbu $t2, 0($s0)
    sltiu $t3, $t2, 0x61
    bnez $t3, out
    nop
    sltiu $t3, $t2, 0x7b
    beqz $t3, out
    nop
    addiu $t2, $t2, -0x20
out:
    li $t3, 10
    beq $t2, $t3, newline
    nop
    sb $t2, 0($s0)
    b loop
    nop
newline:
{prompt}
    b loop
    nop
"""

MIPS_BASE = 0xBFC00000


def _mips_says(text: str) -> str:
    return "\n".join(f"    li $t3, {c}\n    sb $t3, 0($s0)" for c in text.encode())


def echo_firmware(arch: str) -> bytes:
    """The flash image for ``arch`` ("arm": vexpress-a9, "mipsel": Malta)."""
    ks = module("keystone")
    if arch == "arm":
        code, _ = ks.Ks(ks.KS_ARCH_ARM, ks.KS_MODE_ARM).asm(ARM.format(banner=BANNER), 0)
        return bytes(code)
    assert arch == "mipsel", arch
    source = MIPS.format(banner=_mips_says(BANNER + "\r\n> "), prompt=_mips_says("\r\n> "))
    code, _ = ks.Ks(ks.KS_ARCH_MIPS, ks.KS_MODE_MIPS32 | ks.KS_MODE_LITTLE_ENDIAN).asm(
        source, MIPS_BASE)
    code = bytes(code)
    words = struct.unpack(f"<{len(code) // 4}I", code)
    return struct.pack(f">{len(words)}I", *words)
