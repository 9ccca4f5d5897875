"""One gdb thread per CPU (``machine.cpus``, in index order), at the packet level: thread
lists, ``Hg`` choosing whose registers ``g`` reads, ``Hc``/``vCont`` choosing which CPU
steps, stop replies naming the thread, thread ids checked.

The packet-level tests build a two-CPU board and talk to the stub's packet handler
directly (so do the malformed-packet checks: every handler refuses bad input with its
own E code).  The last test drives gdb-multiarch against ``-smp 2`` on pysystem and on
qemu-system-arm 7.2 with the SMP bare-metal program (tests/baremetal/arm_smp/) and
tests/baremetal/arm_smp/threads.gdb: ``info threads``, ``thread 2``, ``bt``, ``x/i $pc``,
stepping one CPU while the other stays (``set scheduler-locking step``), ``$_thread``,
and an unknown thread.  The transcripts must be equal line for line, with no
normalisation at all: both runs read the same ELF and a command file of the same
relative name, so even gdb's error line (which names that file) is the same; the thread
names ("CPU#0 [running]") are QEMU's qThreadExtraInfo words, which the stub copies."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

import test_gdb
from tools import guest_script, program


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    return test_gdb.build("arm", str(tmp_path_factory.mktemp("gdbsmp")))


@pytest.fixture
def stub(elf):
    from pysystem.cli import load_types
    from pysystem.machine import find_machine
    from pysystem.monitor.gdbstub import GdbError, GdbStub
    load_types()
    board = find_machine("vexpress-a9", "arm")
    two = type("VexpressTwoCPUs", (board,), {"MAX_CPUS": max(board.MAX_CPUS, 2)})
    m = two(**{"ram-size": "128M", "kernel": elf, "smp": 2})
    m.realize()
    m.reset()
    s = GdbStub(m)

    def ask(packet: str) -> str:
        try:
            return s.handle(packet.encode())
        except GdbError as e:       # what the stub's receive() turns into E<code>
            return f"E{e.code:02d}"

    s.ask = ask
    return s


def _r0(g_reply: str) -> int:
    return int.from_bytes(bytes.fromhex(g_reply[:8]), "little")


def test_threads_are_the_cpus(stub):
    assert len(stub.machine.cpus) == 2
    assert stub.ask("qfThreadInfo") == "m01,02"
    assert stub.ask("qsThreadInfo") == "l"
    assert stub.ask("T01") == "OK" and stub.ask("T02") == "OK"
    assert stub.ask("T03") == "E22"
    assert stub.ask("Hg3") == "E22"
    assert bytes.fromhex(stub.ask("qThreadExtraInfo,02")).decode().startswith("CPU#1 ")


def test_hg_selects_whose_registers(stub):
    cpus = stub.machine.cpus
    cpus[0].regs[0], cpus[1].regs[0] = 0x5678, 0x1234
    assert stub.ask("Hg2") == "OK" and stub.ask("qC") == "QC02"
    assert _r0(stub.ask("g")) == 0x1234
    assert stub.ask("G" + (0xABCD).to_bytes(4, "little").hex()) == "OK"
    assert cpus[1].regs[0] == 0xABCD and cpus[0].regs[0] == 0x5678
    assert stub.ask("Hg1") == "OK" and stub.ask("qC") == "QC01"
    assert _r0(stub.ask("g")) == 0x5678
    assert stub.ask("Hg0") == "OK" and stub.ask("qC") == "QC01"     # any thread: the first


def test_steps_move_only_the_chosen_cpu(stub):
    cpus = stub.machine.cpus
    pcs = [c.regs[15] for c in cpus]
    assert stub.ask("Hc2") == "OK"
    assert stub.ask("s") == "T05thread:02;"
    assert [c.regs[15] for c in cpus] == [pcs[0], pcs[1] + 4]
    assert stub.ask("?") == "T05thread:02;"
    assert stub.ask("vCont;s:1;c") == "T05thread:01;"
    assert [c.regs[15] for c in cpus] == [pcs[0] + 4, pcs[1] + 4]
    assert stub.ask("vCont;s:p1.2") == "T05thread:02;"   # a multiprocess thread id
    assert [c.regs[15] for c in cpus] == [pcs[0] + 4, pcs[1] + 8]
    assert stub.ask("vCont;s:3") == "E22"


# Malformed forms of every packet the stub knows: each gets an E reply that the handler
# chose (returned, or raised as GdbError: receive() sends it as E<code>), never the catch-all for an unexpected
# Python exception, and none of them runs the guest.
MALFORMED = ["H", "Hx", "Hgzz", "Hg-2", "Hg3", "Hc", "T", "Tzz", "T-1", "p", "pzz", "P",
             "P1", "P1=", "Pzz=00", "P0=zz", "P0=00", "m", "m,", "m1,", "m,1", "mzz,4",
             "m" + "f" * 40 + ",4", "m0,fffff", "M", "M1,1", "M1,1:", "M1,2:00", "M0,fffffffff:00",
             "X", "X1", "Xzz,1:a", "X1,zz:", "X0,2:a", "G0", "Gzz", "Z", "Z0", "Z0,1", "Zz,1,1",
             "Z2,60010000,0", "z", "z0", "z2,1,0", "czz", "Czz", "C05;zz", "szz", "Szz",
             "S05;zz", "vCont;", "vCont;x", "vCont;s:zz", "vCont;s:3", "vCont;Czz", "vCont;c5",
             "vCont;c:zz", "qXfer:features:read:target.xml:zz,10",
             "qXfer:features:read:target.xml:0", "qThreadExtraInfo,zz", "qThreadExtraInfo"]


def test_malformed_packets_get_an_e_reply(stub):
    from pysystem.monitor.gdbstub import GdbError
    cpus = stub.machine.cpus
    stub.handle(b"qXfer:features:read:target.xml:0,ffb")     # as gdb does first
    before = [(c.regs[15], c.regs[0]) for c in cpus]
    for packet in MALFORMED:
        try:
            reply = stub.handle(packet.encode())
        except GdbError:
            continue
        if isinstance(reply, str) and re.fullmatch(r"E[0-9a-f]{2}", reply):
            continue
        raise AssertionError(f"{packet!r} -> {reply!r}, not an error")
    assert [(c.regs[15], c.regs[0]) for c in cpus] == before
    assert not stub.machine.running


SMP = Path(__file__).parent / "baremetal" / "arm_smp"
LIB = Path(__file__).parent / "baremetal" / "arm"


def _smp_transcript(elf: str, folder: str, qemu: bool) -> str:
    exe = program("qemu-system-arm") if qemu else guest_script("pysystem-arm")
    port = test_gdb.free_port()
    extra = ["-audiodev", "none,id=snd0"] if qemu else []
    emu = subprocess.Popen([exe, "-M", "vexpress-a9", "-smp", "2", "-kernel", elf,
                            "-gdb", f"tcp::{port}", "-S", "-display", "none",
                            "-serial", "null", "-monitor", "none", *extra],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        test_gdb.wait_listening(port, emu)
        os.makedirs(folder)
        with open(os.path.join(folder, "threads.gdb"), "w") as f:
            f.write(f"set remotetimeout 60\ntarget remote :{port}\n"
                    + (SMP / "threads.gdb").read_text())
        run = subprocess.run([program("gdb-multiarch"), "-q", "-batch", "-nx", "-x",
                              "threads.gdb", elf], cwd=folder, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        return run.stdout.decode("utf-8", "replace")
    finally:
        emu.kill()
        emu.wait()


def test_info_threads_transcript_equals_qemu(tmp_path):
    elf = str(tmp_path / "smp.elf")
    subprocess.run([program("arm-none-eabi-gcc"), "-g", "-O2", "-march=armv7-a", "-marm",
                    "-ffreestanding", "-nostdlib", "-fno-builtin", f"-I{LIB}",
                    "-T", str(SMP / "link.ld"), "-Wl,--build-id=none", str(SMP / "start.S"),
                    str(SMP / "smp.c"), str(LIB / "lib.c"), "-lgcc", "-o", elf], check=True)
    theirs = _smp_transcript(elf, str(tmp_path / "qemu"), qemu=True)
    ours = _smp_transcript(elf, str(tmp_path / "pysystem"), qemu=False)
    assert ours.splitlines() == theirs.splitlines()
    # what the transcript must show, so that equal is not equally empty
    assert "* 1    Thread 1.1 (CPU#0 [running]) _start ()" in ours
    assert "* 2    Thread 1.2 (CPU#1 [running]) reset ()" in ours   # CPU 1 stepped alone
    assert "$1 = 0x1\n" in ours and "$3 = 0x0\n" in ours           # MPIDR per CPU
    assert "Unknown thread 3." in ours
