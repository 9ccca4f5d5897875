"""HMP answers compared with qemu-system-arm 7.2's, command for command.

Both emulators load the same bare-metal guest with ``-S`` (nothing runs, so
memory and registers are the reset state) and get the same monitor script on
stdin: x/xp in every format and size (the sticky defaults included), /i
disassembly of the guest's code, and random expressions for print in every
format.  Registers are not used ($reg is an extension of ours: QEMU 7.2 knows
no ARM register names).
"""
from __future__ import annotations

import os
import random
import select
import subprocess
import time

import pytest

from tools import module, program, script

keystone = module("keystone")

from test_cli_run import MINI_DTS  # noqa: E402


GUEST = """
    mov r1, #0x11
    mov r2, #0x22
    movw r3, #0x3333
    movt r3, #0x1234
    ldr sp, =0x60100000
    adds r5, r5, #1
    bx lr
    push {r4-r11, lr}
    ldrex r0, [r1]
    vadd.f64 d0, d1, d2
    .word 0xe7f000f0
    .word 0xffffffff
    .ascii "Hello, 'monitor'\\\\ \\n\\r\\t!"
    .align 2
"""


def _expr(rng: random.Random, depth: int = 0) -> str:
    if depth > 3 or rng.random() < 0.3:
        n = rng.choice([0, 1, 2, 7, 10, 255, 0x7F, 0x100, 0xFFFFFFFF, 1 << 63, rng.getrandbits(64),
                        rng.getrandbits(16)])
        return rng.choice([f"{n}", f"0x{n:x}", f"0{n:o}"]) if n else "0"
    kind = rng.random()
    if kind < 0.15:
        return rng.choice("-~+") + _expr(rng, depth + 1)
    if kind < 0.3:
        return f"({_expr(rng, depth + 1)})"
    op = rng.choice(["+", "-", "*", "/", "%", "&", "|", "^"])
    return f"{_expr(rng, depth + 1)} {op} {_expr(rng, depth + 1)}"


def monitor_script() -> list:
    cmds = []
    for size in "bhwg":
        for fmt in "xduoc":
            cmds.append(f"x /5{fmt}{size} 0x60010000")
            cmds.append(f"xp /3{fmt}{size} 0x60010010")
    cmds += ["x 0x60010000", "x /2 0x60010004", "xp /x 0x60010008", "x /h 0x60010000",
             "x /3 0x60010000", "x /c 0x60010030", "x /16c 0x60010030",
             "x /12i 0x60010000", "xp /3i 0x60010004", "x /w 0x60010000", "x 0x60010000",
             "x /4xw 0xf0000000", "xp /4xw 0xf0000000", "x /0x 0x60010000",
             "x /2z 0", "x /2xq 0", "x", "x 1 2", "x /x (1", "xp /2bx 0x60010000",
             "print 10", "p/x 0", "p/o 0", "p/c 39", "p/c 92", "p/c 10", "p/c 13", "p/c 200",
             "p 'x'", "p 'ab'", "p ()", "p 1/0", "p 5 % 0", "p 99999999999999999999999",
             "p 0x", "p 08", "p -(3)", "p +4", "p 1 + 2", "p (1+2", "p 123abc",
             "stop x", "info status x", "cont foo", "stop/x", "quit now", "info version 1",
             "system_reset 1", "info mtree -f extra", "qom-list /machine extra",
             "info qom-tree /machine extra", "log in_asm extra", "x /2x 0 1", "info nope",
             "nope", "help x y", "help info status", "help quit", "info status",
             "memsave 0x60010000 0x10 sp ace.bin", "qom-get /machine", "qom-list /nope",
             "qom-get /nope x", "logfile", "log"]
    rng = random.Random(1234)
    for _ in range(120):
        cmds.append(f"p/{rng.choice('xduoc')} {_expr(rng)}")
        if rng.random() < 0.2:
            cmds.append(f"p {_expr(rng)}")
    return cmds


class Conversation:
    """A monitor on stdin/stdout, typed at one command at a time as a user does: each
    line is sent after the previous answer's prompt arrived.  (Piping the whole script
    at once loses QEMU's last answers on a loaded machine: its output backs up in the
    pipe and 'quit' exits before the monitor flushes it.)"""

    PROMPT = b"(qemu) "

    def __init__(self, argv: list, timeout: float = 120):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.out = b""
        self.deadline = time.monotonic() + timeout
        self._wait_prompts(1)

    def _wait_prompts(self, n: int) -> None:
        fd = self.proc.stdout.fileno()
        while self.out.count(self.PROMPT) < n:
            left = self.deadline - time.monotonic()
            assert left > 0, "the monitor stopped answering"
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                assert chunk, "the emulator exited"
                self.out += chunk

    def send(self, line: str) -> str:
        """Type one line; returns the raw text up to the next prompt."""
        start = len(self.out)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self._wait_prompts(self.out.count(self.PROMPT) + 1)
        return self.out[start:].decode("latin-1")

    def quit(self) -> str:
        """Type ``quit``; returns everything the monitor wrote."""
        rest, _ = self.proc.communicate(b"quit\n",
                                        timeout=max(1.0, self.deadline - time.monotonic()))
        self.out += rest
        return self.out.decode("latin-1")


def converse(argv: list, lines: list) -> str:
    talk = Conversation(argv)
    for line in lines:
        talk.send(line)
    return talk.quit()


def run_qemu(kernel: str, dtb: str, cmds: list) -> list:
    out = converse([program("qemu-system-arm"), "-M", "vexpress-a9", "-m", "256",
                    "-display", "none", "-S",
                    "-monitor", "stdio", "-serial", "null", "-kernel", kernel, "-dtb", dtb,
                    "-audiodev", "none,id=snd0"], cmds)
    parts = out.split("(qemu) ")[1:]
    answers = []
    for part in parts:
        i = part.rfind("\x1b[K")             # QEMU redraws the line as it echoes it
        answers.append(part[i + 3:].replace("\r\n", "\n")[1:] if i >= 0 else part)
    return answers


def run_ours(kernel: str, dtb: str, cmds: list) -> list:
    proc = subprocess.run([script("pysystem-arm"), "-M", "vexpress-a9", "-m", "256",
                           "-display", "none", "-S",
                           "-monitor", "stdio", "-serial", "null", "-kernel", kernel, "-dtb", dtb],
                          input="".join(c + "\n" for c in cmds + ["quit"]).encode(),
                          capture_output=True, timeout=300)
    parts = proc.stdout.decode("latin-1").replace("\r\n", "\n").split("(qemu) ")[1:]
    return [p.partition("\n")[2] for p in parts]       # drop our echo of the line


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    import fdt
    from pysystem.machine import find_machine
    from pysystem.machines import load_all
    load_all()
    assert find_machine("vexpress-a9", "arm") is not None, "no vexpress-a9 board"
    d = tmp_path_factory.mktemp("hmpq")
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
    code, _ = ks.asm(GUEST, 0x60010000)
    kernel = d / "guest.bin"
    kernel.write_bytes(bytes(code))
    dtb = d / "mini.dtb"
    dtb.write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    return str(kernel), str(dtb)


def test_same_answers_as_qemu(guest):
    cmds = monitor_script()
    want = run_qemu(*guest, cmds)
    got = run_ours(*guest, cmds)
    assert len(want) == len(cmds) + 1, "QEMU did not answer every command"
    assert len(got) == len(cmds) + 1
    diffs = [(c, w, g) for c, w, g in zip(cmds, want, got) if w != g]
    assert not diffs, "\n".join(f"{c!r}:\n  qemu: {w!r}\n  ours: {g!r}" for c, w, g in diffs[:10])


IDLE_GUEST = """
    mov r1, #0x11
    mov r2, #0x22
    movw r3, #0x3333
    movt r3, #0x1234
    ldr sp, =0x60100000
    mrc p15, 0, r0, c1, c0, 2
    orr r0, r0, #0xf00000
    mcr p15, 0, r0, c1, c0, 2
    isb
    mov r0, #0x40000000
    vmsr fpexc, r0
    vmov d3, r1, r3
    vmov s31, r2
    ldr r0, =0x03000000
    vmsr fpscr, r0
    movs r6, #0
    cps #0x1f
    mov r7, #7
halt:
    wfi
    b halt
"""


def _session(cmd, lines) -> str:
    """The monitor's output for ``lines`` once the guest reached its WFI loop (r7 is its
    last write: polled with 'info registers', whose answers are left out)."""
    talk = Conversation(cmd)
    while "R07=00000007" not in talk.send("info registers"):
        time.sleep(0.1)
    skip = len(talk.out)
    for line in lines:
        talk.send(line)
    return "(qemu) " + talk.quit()[skip:]


def test_info_registers_same_as_qemu(tmp_path, guest):
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
    code, _ = ks.asm(IDLE_GUEST, 0x60010000)
    kernel = tmp_path / "idle.bin"
    kernel.write_bytes(bytes(code))
    common = ["-M", "vexpress-a9", "-m", "256", "-display", "none", "-monitor", "stdio",
              "-serial", "null", "-kernel", str(kernel), "-dtb", guest[1]]
    lines = ["stop", "info registers", "x /2i 0x60010000"]
    q = _session([program("qemu-system-arm"), *common, "-audiodev", "none,id=snd0"], lines)
    o = _session([script("pysystem-arm"), *common], lines)

    def answer(text: str, n: int) -> str:
        part = text.split("(qemu) ")[n + 1]
        i = part.rfind("\x1b[K")
        body = part[i + 3:] if i >= 0 else part.partition("\n")[2]
        return body.replace("\r\n", "\n").lstrip("\n") if i >= 0 else body.replace("\r\n", "\n")

    want, got = answer(q, 1), answer(o, 1)
    assert "R07=00000007" in want and "sys32" in want, want
    assert got.strip("\n") == want.strip("\n")
    assert answer(o, 2) == answer(q, 2).lstrip("\n")
