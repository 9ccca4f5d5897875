"""Run QEMU's and pysystem's Malta side by side with a monitor script (for the board tests).

``monitor(which, arch, args, commands)`` starts ``qemu-system-<arch>`` (which="qemu")
or ``pysystem-<arch>`` (which="pysystem") with ``-M malta -S -display none -serial
null -monitor stdio`` plus ``args``, types ``commands`` and ``quit``, and returns
each command's answer (terminal escapes and carriage returns removed).
``elf32(big_endian, entry, segments)`` writes a minimal MIPS ELF executable (the
kernel the boot-protocol tests load into both emulators).
"""
from __future__ import annotations

import re
import struct
import subprocess
from typing import Dict, List, Sequence, Tuple

from tools import program, script

ESCAPES = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]|\x1b[78]")


def binary(which: str, arch: str) -> str:
    if which == "qemu":
        return program(f"qemu-system-{arch}")
    return script(f"pysystem-{arch}")


def run(which: str, arch: str, args: Sequence[str], stdin: bytes = b"",
        timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([binary(which, arch), *args], input=stdin, capture_output=True,
                          timeout=timeout, cwd=cwd)


def monitor(which: str, arch: str, args: Sequence[str], commands: Sequence[str],
            timeout: float = 120, cwd=None) -> Dict[str, str]:
    """{command: its output} from a monitor on stdio, the machine stopped at reset
    (``cwd``: where relative file names in the commands go; short names keep QEMU's
    echo of each typed line, redrawn character by character, small)."""
    script_text = "".join(c + "\n" for c in commands) + "quit\n"
    r = run(which, arch, ["-M", "malta", "-S", "-display", "none", "-serial", "null",
                          "-monitor", "stdio", *args], script_text.encode(), timeout, cwd)
    text = ESCAPES.sub(b"", r.stdout).decode("utf-8", "replace").replace("\r", "")
    out: Dict[str, str] = {}
    # each answer follows the "(qemu) " prompt and the echoed command's line (QEMU
    # redraws that line as it is typed: only what follows its end is the answer)
    parts = text.split("(qemu) ")
    for cmd, part in zip(commands, parts[1:]):
        body = part.split("\n", 1)[1] if "\n" in part else ""
        out[cmd] = body.rstrip("\n")
    assert len(parts) > len(commands), f"{which}: the monitor did not answer:\n{text}\n" \
                                        f"{r.stderr.decode(errors='replace')}"
    return out


def section(text: str, title: str) -> List[str]:
    """The lines of one ``info mtree`` block (``address-space: memory``...)."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def elf32(path, big_endian: bool, entry: int, segments: Sequence[Tuple[int, bytes]]) -> str:
    """A minimal ET_EXEC MIPS ELF32 file with one PT_LOAD per (vaddr = paddr, data)."""
    e = ">" if big_endian else "<"
    phoff, phsize = 52, 32
    offset = phoff + phsize * len(segments)
    header = b"\x7fELF" + bytes([1, 2 if big_endian else 1, 1]) + bytes(9)
    header += struct.pack(e + "HHIIIIIHHHHHH", 2, 8, 1, entry, phoff, 0, 0x1000, 52, phsize,
                          len(segments), 40, 0, 0)
    phdrs, blobs = b"", b""
    for vaddr, data in segments:
        phdrs += struct.pack(e + "IIIIIIII", 1, offset + len(blobs), vaddr, vaddr, len(data),
                             len(data), 7, 0x1000)
        blobs += data
    with open(path, "wb") as f:
        f.write(header + phdrs + blobs)
    return str(path)
