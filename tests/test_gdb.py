"""The gdb stub driven by the real client: gdb-multiarch in batch mode runs a command file
against a bare-metal program with symbols, on pysystem and on QEMU 7.2, and the two
transcripts must be equal line for line: vexpress-a9 (ARM, Thumb, VFP/NEON) and Malta in
both byte orders (MIPS32 with its FPU and CP0).

The programs and command files are in tests/baremetal/gdb/ (built here with Debian's
cross compilers); QEMU's transcripts are kept there as ``*.expected``, re-recorded by
``python tests/baremetal/gdb/record.py`` (which runs the same commands against
qemu-system-*).  The command file covers: break on a function, continue, stepi, x/i,
finish, a hardware breakpoint in a Thumb function, core and VFP/NEON registers read and
written ($d1, $q0, $fpscr), memory read and written, write/read/access watchpoints (one
firing inside the SVC handler), info threads, monitor commands, Ctrl-C of a running guest
(gdb gets SIGINT and sends the interrupt byte) and detach; stepi loops print PCs and
registers (on MIPS through branches with their delay slots, which QEMU steps together).
QEMU 7.2 runs a MIPS exception handler to its eret within one stepi of a syscall; the
MIPS file does not step over one.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from typing import List

import pytest

from tools import guest_script, program

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "baremetal", "gdb")

# name -> (compiler, program (its sources and command file are PROGRAM*), flags, board,
#          front end)
_MIPS_FLAGS = ["-g", "-O0", "-march=24kf", "-mabi=32", "-mno-abicalls", "-fno-pic", "-G0",
               "-nostdlib", "-static", "-ffreestanding", "-Wl,--build-id=none", "-T", "mips.ld"]
TARGETS = {
    "arm": ("arm-none-eabi-gcc", "arm",
            ["-g", "-O0", "-mcpu=cortex-a9", "-mfpu=vfpv3-d16", "-mfloat-abi=hard", "-marm",
             "-nostdlib", "-ffreestanding", "-Wl,--build-id=none", "-T", "arm.ld"],
            ["-M", "vexpress-a9"], "arm"),
    "mipsel": ("mipsel-linux-gnu-gcc", "mips", _MIPS_FLAGS, ["-M", "malta"], "mipsel"),
    "mips": ("mips-linux-gnu-gcc", "mips", _MIPS_FLAGS, ["-M", "malta"], "mips"),
}


def build(name: str, folder: str) -> str:
    """Copy the program's sources into ``folder`` and build it there; the ELF's path."""
    compiler, prog, flags, _, _ = TARGETS[name]
    cc = program(compiler)
    for f in os.listdir(PROGRAMS):
        if f.startswith(prog + "_") or f.startswith(prog + "."):
            shutil.copy(os.path.join(PROGRAMS, f), folder)
    out = os.path.join(folder, f"{name}_prog.elf")
    subprocess.run([cc, *flags, f"{prog}_start.S", f"{prog}_prog.c", "-o", out], cwd=folder,
                   check=True)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the emulator exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port}")


def emulator_command(name: str, elf: str, port: int, qemu: bool,
                     machine_opts: str = "") -> List[str]:
    _, _, _, machine, arch = TARGETS[name]
    machine = [machine[0], machine[1] + machine_opts]
    exe = program(f"qemu-system-{arch}") if qemu else guest_script(f"pysystem-{arch}")
    return [exe, *machine, "-kernel", elf, "-gdb", f"tcp::{port}", "-S", "-display", "none",
            "-serial", "null", "-monitor", "none"]


def transcript(name: str, folder: str, qemu: bool = False, script: str = "",
               machine_opts: str = "") -> str:
    """Run the command file (``script``, else the program's) against the emulator; gdb's
    output (stdout and stderr)."""
    elf = build(name, folder)
    gdb = program("gdb-multiarch")
    port = free_port()
    # our wait_listening probe is a connection too: QEMU (and we) stop the guest for it,
    # which changes nothing while -S holds it anyway
    emu = subprocess.Popen(emulator_command(name, elf, port, qemu, machine_opts), cwd=folder,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port, emu)
        commands = os.path.join(folder, f"{name}.run.gdb")
        prog = TARGETS[name][1]
        with open(os.path.join(PROGRAMS, script or f"{prog}.gdb")) as f, \
                open(commands, "w") as out:
            out.write(f"set remotetimeout 60\ntarget remote :{port}\n" + f.read())
        run = subprocess.run([gdb, "-q", "-batch", "-nx", "-x", commands, elf], cwd=folder,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=300)
        return run.stdout.decode("utf-8", "replace")
    finally:
        emu.kill()
        emu.wait()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_gdb_transcript_equals_qemu(name, tmp_path):
    with open(os.path.join(PROGRAMS, f"{name}.expected")) as f:
        expected = f.read()
    got = transcript(name, str(tmp_path))
    assert got.splitlines() == expected.splitlines()
