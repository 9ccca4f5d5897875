"""Small static C programs built for a guest and run by qemu-user (the oracle) and by
pysystem's user-mode front end, for the user-mode tests."""
from __future__ import annotations

import subprocess
from typing import List, Sequence

import tools

# cross compiler, and QEMU with its options, per front end
ARCHES = {
    "arm": ("arm-linux-gnueabihf-gcc", ["qemu-arm", "-cpu", "cortex-a9"]),
    "mipsel": ("mipsel-linux-gnu-gcc", ["qemu-mipsel"]),
}


def build_static(tmp_path, arch: str, source: str, name: str, flags: Sequence[str] = ()) -> str:
    """``source`` compiled static for ``arch`` into tmp_path/name-arch; returns its path."""
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    exe = tmp_path / f"{name}-{arch}"
    subprocess.run([tools.program(ARCHES[arch][0]), "-static", "-O1", *flags, "-o", str(exe),
                    str(src)], check=True)
    return str(exe)


def qemu_command(arch: str) -> List[str]:
    qemu = ARCHES[arch][1]
    return [tools.program(qemu[0])] + qemu[1:]


def run_both(arch: str, exe: str, expect: str):
    """Run ``exe`` under qemu-user (which must succeed and print ``expect``) and under
    pysystem; returns both CompletedProcesses (qemu's first)."""
    q = subprocess.run(qemu_command(arch) + [exe], capture_output=True, text=True, timeout=60)
    assert q.returncode == 0 and expect in q.stdout, q
    p = subprocess.run([tools.guest_script(f"pysystem-user-{arch}"), exe],
                       capture_output=True, text=True, timeout=300)
    return q, p
