"""A guest test suite written with pysystem's pytest plugin: Debian's armmp kernel on
vexpress-a9 boots once (or starts from ``--pysystem-snapshot``), and each test runs on
the restored busybox shell, so no test sees what another did.

Not collected by the main suite (the file name does not start with ``test_``):
tests/test_api_readme.py runs it on the snapshot the README example made, and
bench/plugin_sample.py times it.  Run it alone with
``pytest tests/plugin_sample/sample_debian_shell.py`` (the boot: about 2 minutes
under PyPy, 8 under CPython).
"""
from __future__ import annotations

import re

import pytest

from pysystem.images import guest_files

g = guest_files("arm", quiet=True)
pytestmark = pytest.mark.pysystem(
    "-M", "vexpress-a9", "-m", "256M", "-kernel", g.kernel, "-dtb", g.dtb, "-initrd", g.initrd,
    "-append", "console=ttyAMA0", "-rtc", "base=2026-01-01T00:00:00",
    arch="arm", prompt="/ # ", boot_timeout=120, fail_on=("Kernel panic",))


def run(m, cmd: str) -> str:
    return m.console.command(cmd, timeout=20)


def test_arithmetic(pysystem_machine):
    assert run(pysystem_machine, "echo $((6 * 7))") == "42\n"


def test_machine_name(pysystem_machine):
    assert run(pysystem_machine, "uname -m") == "armv7l\n"


def test_kernel_release(pysystem_machine):
    assert run(pysystem_machine, "uname -r").strip().endswith("-armmp")


def test_root_directory(pysystem_machine):
    assert {"bin", "dev", "proc", "sys"} <= set(run(pysystem_machine, "ls /").split())


def test_cpu_has_vfpv3(pysystem_machine):
    assert re.search(r"^Features\s*:.*\bvfpv3\b", run(pysystem_machine, "cat /proc/cpuinfo"), re.M)


def test_memory_size(pysystem_machine):
    total = int(re.search(r"MemTotal:\s+(\d+) kB", run(pysystem_machine, "cat /proc/meminfo"))[1])
    assert 200_000 < total <= 262_144


def test_command_line(pysystem_machine):
    assert "console=ttyAMA0" in run(pysystem_machine, "cat /proc/cmdline")


def test_serial_driver(pysystem_machine):
    assert "ttyAMA" in run(pysystem_machine, "cat /proc/tty/drivers")


def test_write_then_read_a_file(pysystem_machine):
    run(pysystem_machine, "echo hello > /tmp/f")
    assert run(pysystem_machine, "cat /tmp/f") == "hello\n"


def test_each_test_starts_from_the_snapshot(pysystem_machine):
    assert run(pysystem_machine, "ls /tmp/f 2>&1; echo $?").splitlines()[-1] != "0"


def test_exit_status(pysystem_machine):
    assert run(pysystem_machine, "false; echo $?") == "1\n"


def test_pipes(pysystem_machine):
    assert run(pysystem_machine, "echo a b c | wc -w").strip() == "3"


def test_loop(pysystem_machine):
    assert run(pysystem_machine, "for i in 1 2 3; do echo -n $i; done; echo") == "123\n"


def test_environment(pysystem_machine):
    assert run(pysystem_machine, "X=abc; echo ${#X}") == "3\n"


def test_proc_self(pysystem_machine):
    assert run(pysystem_machine, "readlink /proc/self/exe").strip().endswith("busybox")


def test_uptime_is_guest_time(pysystem_machine):
    up = float(run(pysystem_machine, "cat /proc/uptime").split()[0])
    assert 0 < up < 120


def test_rtc_base(pysystem_machine):
    assert run(pysystem_machine, "date +%Y").strip() == "2026"


def test_interrupts_count(pysystem_machine):
    assert "GIC" in run(pysystem_machine, "cat /proc/interrupts")


def test_mounts(pysystem_machine):
    assert re.search(r"^proc /proc proc", run(pysystem_machine, "cat /proc/mounts"), re.M)


def test_dd_and_checksum(pysystem_machine):
    out = run(pysystem_machine, "dd if=/dev/zero bs=1k count=64 2>/dev/null | md5sum")
    assert out.split()[0] == "fcd6bcb56c1689fcef28b57c22475bad"


def test_device_tree_model(pysystem_machine):
    assert "V2P-CA9" in run(pysystem_machine, "cat /proc/device-tree/model")


def test_registers_and_memory_from_python(pysystem_machine):
    m = pysystem_machine
    assert m.registers["cpsr"] & 0x1F in (0x10, 0x13, 0x1F)     # usr, svc or sys mode
    assert len(m.read_phys(0x60000000, 16)) == 16


def test_monitor(pysystem_machine):
    assert pysystem_machine.qmp("query-status")["status"] == "running"
    assert "VM status: running" in pysystem_machine.hmp("info status")
