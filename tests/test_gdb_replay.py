"""Reverse execution of a run that took interrupts and host input (monitor/gdbstub_replay.py),
through gdb-multiarch.

The guests (tests/baremetal/gdb/*_irq_*) sleep between timer ticks (WFI and the SP804
through the GIC on vexpress-a9; ``wait`` and the CP0 timer on Malta; about every 10 ms,
with ``-icount sleep=on`` so ticks come at host speed), print each tick and echo each byte
their UART received (PL011's receive interrupt; the 16550 polled).  The test types one byte into the
serial port while gdb's ``continue`` runs, after a few ticks were printed: so where the
byte lands depends on the host.  gdb then goes back to the last interrupt entry
(``reverse-continue`` to the handler), steps back across it and forward again, goes back
to the breakpoint hit before the ticks and the byte (``reverse-continue``), and forward
again to the echo.  The oracle is the first pass: registers and variables at both
breakpoints are the same the second time, stepping back from the handler leaves IRQ mode
and stepping forward enters it at the same place, and the console shows the stretch
between the two breakpoints a second time, byte for byte (guest output is muted only
while going back); going on live from the end of the history, the guest echoes the byte
once."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

import test_gdb
from tools import guest_script, program

# name -> (compiler, flags, sources, the board and front end, the vector's symbol)
_MIPS = ["-g", "-O0", "-march=24kf", "-mabi=32", "-mno-abicalls", "-fno-pic", "-G0",
         "-nostdlib", "-static", "-ffreestanding", "-Wl,--build-id=none", "-T", "mips.ld",
         "-DPERIOD=500000"]
TARGETS = {
    "arm": ("arm-none-eabi-gcc",
            ["-g", "-O0", "-mcpu=cortex-a9", "-marm", "-nostdlib", "-ffreestanding",
             "-Wl,--build-id=none", "-T", "arm_irq.ld"],
            ["arm_irq_start.S", "arm_irq_prog.c", "arm_irq.ld"], "vexpress-a9", "arm"),
    "mipsel": ("mipsel-linux-gnu-gcc", _MIPS,
               ["mips_irq_start.S", "mips_irq_prog.c", "mips.ld"], "malta", "mipsel"),
}


def build(name: str, folder: str) -> str:
    compiler, flags, sources, _, _ = TARGETS[name]
    cc = program(compiler)
    for f in sources:
        shutil.copy(os.path.join(test_gdb.PROGRAMS, f), folder)
    out = os.path.join(folder, "irq.elf")
    subprocess.run([cc, *flags, *sources[:2], "-o", out], cwd=folder, check=True)
    return out


class Console(threading.Thread):
    """The guest's serial port: collects its output, types ``key`` once ``after`` ticks
    were printed."""

    def __init__(self, port: int, key: bytes = b"x", after: int = 5):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.key, self.after = key, after
        self.out = bytearray()
        self.sent = False

    def run(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            self.out += data
            if not self.sent and sum(c in b"0123456789" for c in self.out) >= self.after:
                self.sent = True
                self.sock.sendall(self.key)


def section(out: str, name: str) -> str:
    m = re.search(rf"^=={name}\n(.*?)^==", out, re.M | re.S)
    assert m, out
    return m.group(1)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_reverse_across_interrupts_and_serial_input(name, tmp_path):
    folder = str(tmp_path)
    elf = build(name, folder)
    _, _, _, board, arch = TARGETS[name]
    gdb = program("gdb-multiarch")
    port, serial = test_gdb.free_port(), test_gdb.free_port()
    emu = subprocess.Popen(
        [guest_script(f"pysystem-{arch}"), "-M", board, "-kernel", elf,
         "-gdb", f"tcp::{port}", "-S", "-display", "none", "-monitor", "none",
         "-serial", f"tcp:127.0.0.1:{serial},server=on,wait=off",
         "-icount", "shift=3,sleep=on"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        test_gdb.wait_listening(port, emu)
        console = Console(serial)
        console.start()
        commands = os.path.join(folder, "run.gdb")
        with open(os.path.join(test_gdb.PROGRAMS, f"{name[:4]}_irq_reverse.gdb")) as f, \
                open(commands, "w") as out:
            out.write(f"set remotetimeout 60\ntarget remote :{port}\n" + f.read())
        try:        # about 10 s; a replay that misses the breakpoint runs on forever
            run = subprocess.run([gdb, "-q", "-batch", "-nx", "-x", commands, elf],
                                 cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=90)
            out = run.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            out = (e.output or b"").decode("utf-8", "replace") + "\n(gdb timed out)"
        time.sleep(0.5)             # the last console bytes
    finally:
        emu.kill()
        emu.wait()
    assert console.sent, out
    a1, b1 = section(out, "A1"), section(out, "B1")
    assert "$1 = 1\n" in a1 or re.search(r"^\$\d+ = 0\n", a1, re.M), a1
    # several ticks and the byte between the two breakpoints
    ticks = int(re.search(r"^\$\d+ = (\d+)\n", b1, re.M).group(1))
    assert ticks >= 5, b1
    assert re.search(r"^\$\d+ = (\{0x78, 0x0 <repeats 15 times>\}|0x78)$", b1, re.M), b1
    # the second pass: the same registers and variables at both breakpoints
    def strip(text: str) -> str:    # gdb's value and breakpoint numbers go on counting
        return re.sub(r"^(\$|Breakpoint )\d+", r"\1", text, flags=re.M)

    assert strip(section(out, "A2")) == strip(a1), out
    assert strip(section(out, "B2")) == strip(b1), out
    # back across the interrupt entry and forward again: the mode before and after
    e = [(int(pc, 16), int(mode, 16)) for pc, mode in
         re.findall(r"^E ([0-9a-f]{8}) ([0-9a-f]{8})$", out, re.M)]
    if name == "arm":
        # irq_entry -> the vector (IRQ mode) -> the interrupted code (SVC, IRQs on)
        assert len(e) == 5, out
        assert e[0][1] & 0x1f == 0x12 and e[1][1] & 0x1f == 0x12, out
        assert e[1][0] & 0x1f == 0x18, out                     # VBAR + 0x18
        assert e[2][1] & 0x1f == 0x13 and not e[2][1] & 0x80, out
        assert e[3] == e[1] and e[4] == e[0], out
    else:
        # the vector (Status.EXL) -> the interrupted code (EXL clear, IE set) -> the vector
        assert len(e) == 3, out
        assert e[0][0] == 0x80000180 and e[0][1] & 2, out
        assert not e[1][1] & 2 and e[1][1] & 1 and e[1][0] != 0x80000180, out
        assert e[2] == e[0], out
    # a watchpoint set afterwards: reverse-continue finds the last write of ticks (in an
    # earlier tick's handler) and shows the value before it
    watch = section(out, "WATCH")
    assert re.search(r"^Hardware watchpoint \d+: ticks\n\nOld value = \d+\nNew value = \d+$",
                     watch, re.M), watch
    before = int(re.findall(r"^\$\d+ = (\d+)$", watch, re.M)[-1])
    assert 0 < before < ticks, watch
    # the console: what the guest printed from the first breakpoint to the second,
    # twice (the second time replayed), then the echo once: printed live after the end of
    # the history, the byte not given to the guest a second time
    text = console.out.decode("latin-1")
    assert text.endswith("[x]") and text.count("[x]") == 1, text
    half = (len(text) - 3) // 2
    assert half >= 5 and text[:half] == text[half:-3], text
    assert re.findall(r"^\$\d+ = (\d+)$", section(out, "LIVE"), re.M)[-2:] == ["1", "1"], out
    assert "[Inferior 1 (process 1) killed]" in out
