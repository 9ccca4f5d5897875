"""A bare-metal program (tests/cpu_mips/baremetal: exceptions, delay slots, the TLB and
its refills, ASIDs, user mode, the timer interrupt with WAIT, the FPU, LL/SC, lwl/lwr)
built with Debian's cross gcc in both byte orders; its serial output on pysystem must
equal QEMU's (``qemu-system-mips(el) -M malta``, instruction-counted so that its Count
timer runs) byte for byte."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from mips_machine import BareMetal

HERE = os.path.join(os.path.dirname(__file__), "baremetal")


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed")
        pytest.skip(f"{tool} is not installed")
    return path


def _build(be: bool, tmp_path) -> str:
    _need("mips-linux-gnu-gcc" if be else "mipsel-linux-gnu-gcc")
    out = str(tmp_path / f"prog_{'eb' if be else 'el'}.elf")
    r = subprocess.run([os.path.join(HERE, "build.sh"), "eb" if be else "el", out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def _qemu(be: bool, elf: str, tmp_path) -> bytes:
    qemu = _need("qemu-system-mips" if be else "qemu-system-mipsel")
    out = tmp_path / "serial.txt"
    subprocess.run([qemu, "-M", "malta", "-cpu", "24Kf", "-m", "64", "-kernel", elf,
                    "-display", "none", "-monitor", "none", "-serial", "null", "-serial", "null",
                    "-serial", f"file:{out}", "-no-reboot", "-icount", "shift=4"],
                   timeout=60, check=True, capture_output=True)
    return out.read_bytes()


@pytest.mark.parametrize("be", [False, True], ids=["el", "eb"])
def test_baremetal_program_matches_qemu(be, tmp_path):
    elf = _build(be, tmp_path)
    want = _qemu(be, elf, tmp_path)
    assert want.endswith(b"done\n")
    m = BareMetal(big_endian=be)
    m.cpu.pc = m.load_elf(elf)
    m.run_until_stopped()
    assert m.stopped
    assert m.output.decode() == want.decode()
