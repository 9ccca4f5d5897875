"""-smp 2 and -smp 4 on vexpress-a9 against qemu-system-arm 7.2, with a bare-metal
program (tests/baremetal/arm_smp/) that every CPU enters, as QEMU starts an ELF.

CPU 0 has each CPU in turn probe and then re-read its view of the A9 MPCore private
region (MPIDR, SCU configuration, GICD_TYPER, the read-only ITARGETSR0/7, the banked
SGI/PPI enables and priorities, the GIC CPU interface's PMR, the private timer's and
watchdog's load registers), sends SGIs to each CPU and to itself, has each secondary
send an SGI to every other CPU (the source CPU in IAR), and has each CPU take its own
private timer's interrupt (PPI 29).  CPU 0 sequences everything, so the output does
not depend on scheduling; it must equal QEMU's byte for byte but for KNOWN.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import tools

HERE = Path(__file__).parent
SRC = HERE / "baremetal" / "arm_smp"
LIB = HERE / "baremetal" / "arm"
PYSYSTEM = Path(sys.executable).parent / "pysystem-arm"
CFLAGS = ["-O2", "-march=armv7-a", "-marm", "-ffreestanding", "-nostdlib", "-fno-builtin",
          "-Wall", "-Werror", f"-I{LIB}"]

# (pattern, replacement, reason): applied to both outputs before comparing
KNOWN = [
    (r"^(ITARGETSR10 after 0xff020103) \S\S", r"\1 <targets of absent CPUs>",
     "ITARGETSR bits of CPU interfaces that do not exist read as zero here (GIC "
     "architecture, A9 MPCore TRM); QEMU keeps all 8 bits"),
]


def _need(tool: str) -> str:
    return tools.program(tool)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    gcc = _need("arm-none-eabi-gcc")
    out = tmp_path_factory.mktemp("smp") / "smp.elf"
    subprocess.run([gcc, *CFLAGS, "-T", str(SRC / "link.ld"), "-Wl,--build-id=none",
                    str(SRC / "start.S"), str(SRC / "smp.c"), str(LIB / "lib.c"), "-lgcc",
                    "-o", str(out)], check=True)
    return out


def normalise(text: str) -> str:
    for pattern, repl, _why in KNOWN:
        text = re.sub(pattern, repl, text, flags=re.M)
    return text


@pytest.mark.parametrize("ncpu", [2, 4])
def test_smp_program_matches_qemu(program, ncpu):
    qemu = _need("qemu-system-arm")
    args = ["-M", "vexpress-a9", "-m", "128", "-smp", str(ncpu), "-kernel", str(program),
            "-nographic", "-no-reboot"]
    q = subprocess.run([qemu, *args, "-audiodev", "none,id=snd0"], capture_output=True,
                       timeout=120)
    p = subprocess.run([str(PYSYSTEM), *args], capture_output=True, timeout=600)
    assert q.returncode == 0 and q.stdout.endswith(b"done\n"), q.stdout[-300:]
    assert p.returncode == 0, p.stdout[-300:] + p.stderr[-300:]
    ours, theirs = p.stdout.decode(), q.stdout.decode()
    assert normalise(ours) == normalise(theirs)
    # the output covers every CPU, and KNOWN masked one line only
    assert ours.startswith(f"cpus {ncpu:08x}\n")
    assert len(re.findall(r"^timer cpu \d iar isr ISENABLER0 0000001d 00000001", ours,
                          flags=re.M)) == ncpu
    assert len(re.findall(r"^cpu \d MPIDR .* 8000000\d ", ours, flags=re.M)) == ncpu
    assert sum(len(re.findall(pat, theirs, flags=re.M)) for pat, _, _ in KNOWN) == 1


def _machine(program, ncpu: int, snapdir):
    from pysystem.chardev import ChardevRegistry
    from pysystem.cli import load_types
    from pysystem.machine import find_machine
    load_types()
    m = find_machine("vexpress-a9", "arm")(**{"ram-size": "128M", "kernel": str(program),
                                              "smp": ncpu, "snapshot-dir": str(snapdir)})
    m.set_arch("arm")
    m.chardevs = ChardevRegistry()
    m.serial_hds.append(m.chardevs.create({"backend": "ringbuf", "id": "out", "size": "1M"}))
    m.realize()
    m.reset()
    m.start()
    return m


def _state(m):
    return [(list(c.regs), c.cpsr, c.halted) for c in m.cpus]


def _run_to_end(m) -> int:
    n = 0
    while not m.has_requests():
        ran = m.run_for(100_000)
        n += ran
        assert ran and n < 10_000_000, "the program did not power off"
    return n


def test_smp_snapshot_restores_every_cpu_and_replays_identically(program, tmp_path):
    """-smp 4: saved halfway, the rest of the run is the same whether it continues or
    is restored into a fresh machine (every CPU's registers, the output, the
    instruction count): the schedule is deterministic and snapshots hold all CPUs."""
    from pysystem import snapshot
    a = _machine(program, 4, tmp_path)
    a.run_for(8_000)            # of about 21,000: the CPUs are probing each other
    head = a.serial_hds[0].read(1 << 20)
    saved = _state(a)
    assert len({tuple(s[0]) for s in saved}) == 4, saved   # four CPUs, four states
    snapshot.save(a, "mid")
    rest = _run_to_end(a)
    tail, final = a.serial_hds[0].read(1 << 20), _state(a)
    assert (head + tail).endswith(b"done\n") and b"sgi 7 from cpu 3" in head + tail

    b = _machine(program, 4, tmp_path)
    b.run_for(3_000)
    b.serial_hds[0].read(1 << 20)       # what it printed before the restore
    snapshot.load(b, "mid")
    assert _state(b) == saved
    assert _run_to_end(b) == rest
    assert b.serial_hds[0].read(1 << 20) == tail
    assert _state(b) == final


BE8_SRC = HERE / "baremetal" / "arm_be8"


def test_big_endian_be8_elf_runs_as_under_qemu(tmp_path):
    """A BE8 ELF (big-endian data, little-endian code: arm-none-eabi-gcc -mbig-endian
    -mbe8) starts with CPSR.E and SCTLR.EE set, and its data and its byte-swapped
    accesses to the little-endian PL011 and system registers land as under QEMU; a BE32
    image (pre-ARMv7) is refused with a one-line error."""
    gcc = _need("arm-none-eabi-gcc")
    qemu = _need("qemu-system-arm")
    elf = tmp_path / "be8.elf"
    subprocess.run([gcc, "-O2", "-march=armv7-a", "-marm", "-mbig-endian", "-mbe8",
                    "-Wl,--be8", "-ffreestanding", "-nostdlib", "-fno-builtin", "-Wall",
                    "-Werror", "-T", str(BE8_SRC / "link.ld"), "-Wl,--build-id=none",
                    str(BE8_SRC / "be8.c"), "-lgcc", "-o", str(elf)], check=True)
    args = ["-M", "vexpress-a9", "-m", "128", "-kernel", str(elf), "-nographic", "-no-reboot"]
    q = subprocess.run([qemu, *args, "-audiodev", "none,id=snd0"], capture_output=True,
                       timeout=120)
    p = subprocess.run([str(PYSYSTEM), *args], capture_output=True, timeout=300)
    assert q.returncode == 0 and q.stdout.endswith(b"done\n"), q.stdout[-300:]
    assert p.returncode == 0 and p.stdout == q.stdout, (p.stdout, p.stderr)
    assert p.stdout.startswith(b"cpsr sctlr 400003d3 02c50078 \nword bytes 11223344 11223344")

    be32 = tmp_path / "be32.elf"
    data = bytearray(elf.read_bytes())
    data[36:40] = (int.from_bytes(data[36:40], "big") & ~0x00800000).to_bytes(4, "big")
    be32.write_bytes(bytes(data))
    p = subprocess.run([str(PYSYSTEM), *args[:-4], "-kernel", str(be32), "-nographic"],
                       capture_output=True, timeout=120)
    assert p.returncode != 0 and b"BE32" in p.stderr and b"Traceback" not in p.stderr
