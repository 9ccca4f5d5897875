"""Determinism across processes: the same command line run twice gives the same run.

Each board runs a small bare-metal guest whose output depends on virtual time: on
vexpress-a9 the ticker (tests/arm_ticker.py) sleeps in WFI between SP804 interrupts
(delivered through the GIC) and prints the timer's counter each time it wakes, and
tests/baremetal/arm_smp runs on four CPUs (WFE, WFI, SGIs, private timers); on Malta
a program reads the i8254's latched counter and the CP0 Count register after loops of
varying length, then resets the board (with -no-reboot: an exit).  Each run is a fresh
process started through the command-line front end (``pysystem.cli.main``, the same
path as ``pysystem-arm ...``); at a fixed instruction count it saves a snapshot, then
the main loop runs the guest to its end.  The first run starts with an empty
translated-code cache (pysystem/codecache.py), the second with what the first stored.
Both runs must agree on:

* the instruction count at which the guest shut the machine down,
* the serial output, byte for byte (a file chardev),
* the snapshot's state digest (every device, CPU and RAM byte) at that fixed count.

``-rtc base=`` is part of the command line: without it the RTCs (PL031, MC146818)
start from the host's clock, which differs between runs, as in QEMU.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import arm_ticker
import tools
from malta_qemu import elf32
from tools import module

MID_INSNS = 50_000
RTC_BASE = "2026-12-07T12:00:00"   # the guest's wall clock: host time would differ per run

# Malta: i8254 channel 0 in mode 2; each round latches and prints its counter and the
# low 16 bits of CP0 Count (4 hex digits each) after a busy loop of varying length;
# after 200 rounds, SOFTRES (0x42) resets the board.
TICKER_MIPS = """
.set noreorder
    lui $s0, 0xb800
    li $s1, 0
    li $t0, 0x34
    sb $t0, 0x43($s0)
    li $t0, 0x9b
    sb $t0, 0x40($s0)
    li $t0, 0x2e
    sb $t0, 0x40($s0)
round:
    sb $zero, 0x43($s0)
    lbu $t1, 0x40($s0)
    lbu $t2, 0x40($s0)
    sll $t2, $t2, 8
    bal hex16
    or $a1, $t1, $t2
    mfc0 $a1, $9
    bal hex16
    nop
    bal putc
    li $a0, 10
    andi $t3, $s1, 0x3f
    addiu $t3, $t3, 10
busy:
    addiu $t3, $t3, -1
    bnez $t3, busy
    nop
    addiu $s1, $s1, 1
    li $t0, 200
    bne $s1, $t0, round
    nop
    lui $t0, 0xbf00
    li $t1, 0x42
    sw $t1, 0x500($t0)
halt:
    b halt
    nop
hex16:
    move $s7, $ra
    li $s2, 12
digit:
    srlv $a0, $a1, $s2
    andi $a0, $a0, 15
    sltiu $t4, $a0, 10
    bnez $t4, decimal
    addiu $a0, $a0, 0x30
    addiu $a0, $a0, 7
decimal:
    bal putc
    nop
    bnez $s2, digit
    addiu $s2, $s2, -4
    jr $s7
    nop
putc:
    lbu $t9, 0x3fd($s0)
    andi $t9, $t9, 0x20
    beqz $t9, putc
    nop
    jr $ra
    sb $a0, 0x3f8($s0)
"""

# A fresh process: the command line as given (after the snapshot point), plus a snapshot
# at that instruction count; it says how many blocks the code cache held when it started.
DRIVER = """
import json, sys
from pysystem import cli, codecache, snapshot
seen = {}
cache = codecache.shared()
cache._open()
cached = len(cache._known)
def on_start(machine, loop):
    seen["m"] = machine
    machine.run_for(int(sys.argv[1]))
    info = snapshot.save(machine, "mid", now_ns=0, snapshot_id=1)
    seen["mid"] = (machine.clock.icount, snapshot.state_digest(info.path))
status = cli.main(sys.argv[2], sys.argv[3:], on_start=on_start)
m = seen["m"]
print(json.dumps({"status": status, "mid": seen["mid"], "end": m.clock.icount,
                  "reason": m.shutdown_reason, "cached": cached}))
"""


def _arm_guest(folder) -> list:
    kernel, dtb = arm_ticker.write(folder, limit=400)
    return [MID_INSNS, "arm", "-M", "vexpress-a9", "-m", "128", "-kernel", kernel,
            "-dtb", dtb]


def _smp_guest(folder) -> list:
    """tests/baremetal/arm_smp on four CPUs: each runs its part (WFE, WFI, SGIs, private
    timers) in the round-robin schedule; the snapshot is taken as they probe each other."""
    from test_smp_baremetal import CFLAGS, LIB, SRC
    gcc = tools.program("arm-none-eabi-gcc")
    elf = folder / "smp.elf"
    subprocess.run([gcc, *CFLAGS, "-T", str(SRC / "link.ld"), "-Wl,--build-id=none",
                    str(SRC / "start.S"), str(SRC / "smp.c"), str(LIB / "lib.c"), "-lgcc",
                    "-o", str(elf)], check=True)
    return [8_000, "arm", "-M", "vexpress-a9", "-m", "128", "-smp", "4", "-kernel", str(elf)]


def _mips_guest(folder) -> list:
    keystone = module("keystone")
    ks = keystone.Ks(keystone.KS_ARCH_MIPS,
                     keystone.KS_MODE_MIPS32 | keystone.KS_MODE_LITTLE_ENDIAN)
    code, _ = ks.asm(TICKER_MIPS, 0x80100000)
    elf = elf32(folder / "ticker.elf", False, 0x80100000, [(0x80100000, bytes(code))])
    return [MID_INSNS, "mipsel", "-M", "malta", "-m", "64", "-kernel", elf]


def _run(folder, argv: list, n: int):
    out = folder / f"serial{n}.txt"
    env = dict(os.environ, XDG_DATA_HOME=str(folder / f"data{n}"),   # the snapshot store
               PYSYSTEM_CODE_CACHE=str(folder / "code"))  # empty for the first run only
    cmd = [sys.executable, "-c", DRIVER, str(argv[0]), *argv[1:], "-display", "none",
           "-monitor", "none",
           "-serial", f"file:{out}", "-no-reboot", "-rtc", f"base={RTC_BASE}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=folder,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, out.read_bytes()


@pytest.mark.parametrize("make", [_arm_guest, _mips_guest, _smp_guest],
                         ids=["vexpress-a9", "malta", "vexpress-a9-smp4"])
def test_two_runs_of_one_command_line_are_identical(tmp_path, make):
    """The first run starts with an empty translated-code cache (it translates every
    block and stores it), the second with the blocks the first stored (it translates
    next to none): a block from the cache must behave as the one translated, down to the
    instruction at which each CPU's turn ends and an interrupt is taken."""
    argv = make(tmp_path)
    first, out1 = _run(tmp_path, argv, 1)
    second, out2 = _run(tmp_path, argv, 2)
    assert first["status"] == 0 and first["reason"], first
    assert argv[0] <= first["mid"][0] < first["end"]     # it ran on to its own end
    assert len(out1) > 600 and len(set(out1)) > 12, out1[:200]
    assert first.pop("cached") == 0 and second.pop("cached") > 0, (first, second)
    assert out1 == out2
    assert first == second
