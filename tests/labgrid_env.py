"""labgrid (from PyPI) driving a pysystem console script as it drives QEMU.

    with labgrid_qemu(tmp_path, script, machine="malta", cpu="24Kf", memory="256",
                      kernel=..., extra_args="-initrd ... -loadvm shell",
                      boot_args="console=ttyS0") as (qemu, shell):
        shell.run_check("uname -m")

writes a labgrid environment with labgrid's own QEMUDriver (``qemu_bin`` naming the
script through ``tools:``) and ShellDriver for busybox's ``/ # `` prompt, powers the
emulator on (labgrid starts it with ``-S -qmp stdio`` and the serial port on a unix
socket chardev, then sends ``cont``) and off at the end.  ``emulator_python(qemu)``
says which interpreter runs it (the guest interpreter's script: PyPy when
``PYSYSTEM_GUEST_PYTHON`` names it, while labgrid itself runs under CPython).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional, Tuple

from tools import NOT_CPYTHON, interpreter_skip, module

# labgrid's default for a command is 30 s of wall time; a first command after a restore
# translates the guest's code afresh (a cold code cache) on a loaded 2-core host
RUN_TIMEOUT = 180



def labgrid() -> ModuleType:
    """The labgrid package.  It is in the test extra on CPython only (its grpcio
    dependency has no PyPy wheel), so under PyPy a test that needs it does not apply."""
    if sys.implementation.name == "pypy":
        interpreter_skip(NOT_CPYTHON)
    return module("labgrid")


ENV = """\
targets:
  main:
    drivers:
      QEMUDriver:
        qemu_bin: pysystem
        machine: {machine}
        cpu: {cpu}
        memory: "{memory}"
        kernel: kernel
{dtb_line}        extra_args: "{extra_args}"
        boot_args: "{boot_args}"
        display: none
      ShellDriver:
        prompt: '/ # '
        login_prompt: 'login: '
        username: root
        await_login_timeout: 5
        login_timeout: 120
tools:
  pysystem: {script}
images:
  kernel: {kernel}
{dtb_image}"""


def emulator_python(qemu) -> str:
    """The interpreter running the emulator labgrid started, resolved: the first word
    of the process's command line (the console script's ``#!`` line).  Reads labgrid's
    ``QEMUDriver._child`` (its subprocess.Popen), which labgrid does not publish."""
    with open(f"/proc/{qemu._child.pid}/cmdline", "rb") as f:
        first = f.read().split(b"\0")[0].decode()
    return os.path.realpath(first)


@contextmanager
def labgrid_qemu(tmp_path: Path, script: str, *, machine: str, cpu: str, memory: str,
                 kernel: str, extra_args: str, boot_args: str,
                 dtb: Optional[str] = None) -> Iterator[Tuple[object, object]]:
    """(QEMUDriver, ShellDriver) of a labgrid target on ``script``, powered on."""
    labgrid()
    from labgrid import Environment
    env_file = tmp_path / "labgrid.yaml"
    env_file.write_text(ENV.format(
        machine=machine, cpu=cpu, memory=memory, extra_args=extra_args,
        boot_args=boot_args, script=script, kernel=kernel,
        dtb_line="        dtb: dtb\n" if dtb else "",
        dtb_image=f"  dtb: {dtb}\n" if dtb else ""))
    target = Environment(str(env_file)).get_target("main")
    qemu = target.get_driver("QEMUDriver")
    qemu.on()
    try:
        yield qemu, target.get_driver("ShellDriver")
    finally:
        qemu.off()
