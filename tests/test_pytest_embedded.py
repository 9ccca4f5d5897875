"""pytest-embedded's own QEMU plugin (pytest-embedded-qemu 2.9.3, from PyPI) driving
``pysystem-arm -M vexpress-a9`` and ``pysystem-mipsel -M malta``.

A pytest of its own runs tests/embedded_sample/sample_firmware.py with
``--embedded-services qemu --qemu-prog-path <console script> --qemu-cli-args
"-nographic -M BOARD -m 128M" --qemu-image-path firmware.bin``: the plugin starts the
emulator as it starts QEMU, always adding its QMP socket and ``-drive
file=IMAGE,if=mtd,format=raw``, which pysystem takes as the board's boot flash
(Machine.claim_flash; QEMU refuses if=mtd on these boards).  The firmware
(tests/echo_firmware.py) runs from that flash; the sample types a line and reads the
answer, and resets the board through the plugin's QMP client.

The plugin needs Python 3.10 (so the test process is CPython), the emulator it starts
need not: each board runs under this CPython and, when ``PYSYSTEM_GUEST_PYTHON`` names a
PyPy, under PyPy.  pytest-embedded's plugin is kept out of this suite (pyproject's
``-p no:pytest_embedded``: its autouse fixtures and its ``target`` fixture, which
labgrid's shadows); the inner pytest loads it and leaves labgrid's out.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from echo_firmware import echo_firmware
from tools import NOT_CPYTHON, NOT_PYPY, guest_python, guest_script, interpreter_skip, \
    module, script

SAMPLE = Path(__file__).resolve().parent / "embedded_sample" / "sample_firmware.py"
BOARDS = {"arm": "vexpress-a9", "mipsel": "malta"}
TIMEOUT = 600


def _is_pypy(python: str) -> bool:
    out = subprocess.run([python, "-c", "import sys; print(sys.implementation.name)"],
                         stdout=subprocess.PIPE, timeout=60)
    return out.stdout.strip() == b"pypy"


def _emulator(arch: str, interpreter: str) -> str:
    if interpreter == "cpython":
        return script(f"pysystem-{arch}")
    if not os.environ.get("PYSYSTEM_GUEST_PYTHON") or not _is_pypy(guest_python()):
        interpreter_skip(NOT_PYPY)
    return guest_script(f"pysystem-{arch}")


@pytest.mark.parametrize("interpreter", ["cpython", "pypy"])
@pytest.mark.parametrize("arch", sorted(BOARDS))
def test_pytest_embedded_qemu_drives_pysystem(tmp_path, arch, interpreter):
    if sys.implementation.name != "cpython":
        interpreter_skip(NOT_CPYTHON)
    module("pytest_embedded_qemu")
    emulator = _emulator(arch, interpreter)
    image = tmp_path / "firmware.bin"
    image.write_bytes(echo_firmware(arch))
    before = image.read_bytes()
    shutil.copy(SAMPLE, tmp_path / "test_firmware.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")     # not this repository's settings
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", "pytest.ini", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:labgrid", "test_firmware.py", "--log-cli-level=INFO",
         "--embedded-services=qemu", f"--qemu-prog-path={emulator}",
         f"--qemu-cli-args=-nographic -M {BOARDS[arch]} -m 128M",
         f"--qemu-image-path={image}", f"--root-logdir={tmp_path / 'logs'}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    report = run.stdout.decode("utf-8", "replace")
    assert run.returncode == 0, report
    assert re.search(r"\b1 passed\b", report), report
    started = re.findall(r"Executing (\S+) (.*)", report)
    assert len(started) == 1, report             # one emulator per test
    program, args = started[0]
    assert program == emulator
    assert f"-drive file={image},if=mtd,format=raw" in args
    assert re.search(r"-qmp tcp:127\.0\.0\.1:\d+,server,wait=off", args)
    assert image.read_bytes() == before
