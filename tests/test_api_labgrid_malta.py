"""labgrid's own QEMUDriver and ShellDriver (from PyPI) on ``pysystem-mipsel -M malta``.

labgrid starts the emulator as it starts qemu-system-mipsel (``-S -qmp stdio``, the
serial port on a unix socket chardev, ``-nographic``), here with ``-loadvm`` of the
Debian guest booted once to its shell (tests/booted_shell.py: the snapshot
``pysystem-images --boot mipsel`` keeps), so the test costs a restore, not a boot.
The ShellDriver runs commands at busybox's shell and checks their exit status;
QMP's query-status goes through labgrid's monitor.  The emulator runs under the guest
interpreter (PyPy when ``PYSYSTEM_GUEST_PYTHON`` names it), labgrid under CPython.
"""
from __future__ import annotations

import os

import pytest

from booted_shell import booted_shell
from labgrid_env import RUN_TIMEOUT, emulator_python, labgrid, labgrid_qemu
from tools import guest_images, guest_python, guest_script

pytestmark = [pytest.mark.slow, pytest.mark.network]


def _option(args, name: str) -> str:
    return args[args.index(name) + 1]


def test_labgrid_drives_pysystem_mipsel_on_malta(tmp_path):
    labgrid()                               # before the boot: none for PyPy
    saved = booted_shell("mipsel")
    g = guest_images("mipsel")
    extra = (f"-initrd {g.initrd} -machine {saved.machine},snapshot-dir={saved.directory} "
             f"-loadvm {saved.tag}")
    with labgrid_qemu(tmp_path, guest_script("pysystem-mipsel"), machine=saved.machine,
                      cpu="24Kf", memory=_option(saved.args, "-m"), kernel=g.kernel,
                      extra_args=extra, boot_args=_option(saved.args, "-append")) as (qemu, shell):
        answer = shell.run_check("echo $((6 * 7)); uname -m", timeout=RUN_TIMEOUT)
        assert answer == ["42", "mips"]
        out, _, status = shell.run("grep -c MIPS /proc/cpuinfo; false", timeout=RUN_TIMEOUT)
        assert status == 1 and int(out[0]) >= 1, out
        assert qemu.monitor_command("query-status")["status"] == "running"
        assert emulator_python(qemu) == os.path.realpath(guest_python())
