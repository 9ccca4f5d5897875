"""The README's Python API example, run exactly as written, then the pytest plugin's
sample suite on the machine it booted.

One Debian boot in all (the example's): the example runs under the guest interpreter
(PyPy when ``PYSYSTEM_GUEST_PYTHON`` names it, as the other boot tests do) through a
small runner that executes the README's code block unchanged and then writes the
snapshot it made (its variable ``shell``) to a file.  The plugin sample
(tests/plugin_sample/sample_debian_shell.py) then starts from that file (``--pysystem-snapshot``) instead of
booting again, and runs its guest tests, each on the restored shell.  Last, labgrid's
own QEMUDriver (from PyPI) starts ``pysystem-arm`` as it starts qemu-system-arm (``-S
-qmp stdio``, the serial port on a unix socket chardev), here with ``-loadvm`` of that
snapshot, and its ShellDriver runs a command at the shell: labgrid needed nothing
changed (its ``qemu_bin`` names the console script: the guest interpreter's, so PyPy
runs the emulator when ``PYSYSTEM_GUEST_PYTHON`` names it).  labgrid is in the test extra on
CPython only (it needs grpcio, which PyPI has no PyPy wheel of): when pytest runs under PyPy the labgrid
part skips, after the example and the sample suite have passed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labgrid_env import RUN_TIMEOUT, emulator_python, labgrid, labgrid_qemu
from tools import guest_images, guest_python, guest_script

pytestmark = [pytest.mark.slow, pytest.mark.network]

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))

RUNNER = """\
import sys
code = open(sys.argv[1]).read()
namespace = {"__name__": "__main__"}
exec(compile(code, "README.md example", "exec"), namespace)
with open(sys.argv[2], "wb") as f:
    f.write(namespace["shell"])
"""


def readme_example() -> str:
    """The code block of the README's "Python API" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Python API section holds one python block"
    return blocks[0]


def test_readme_example_then_the_plugin_sample_on_its_snapshot(tmp_path):
    guest_images("arm")             # the example fetches them too; here a missing archive skips
    (tmp_path / "example.py").write_text(readme_example())
    (tmp_path / "runner.py").write_text(RUNNER)
    snap = tmp_path / "shell.pysnap"
    run = subprocess.run([guest_python(), "runner.py", "example.py", str(snap)], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    out = run.stdout.decode("utf-8", "replace")
    assert run.returncode == 0, out
    # the second machine's `ls /` of the busybox initramfs
    assert re.search(r"^bin\s+dev\s+etc\s+init\b.*\bsys\s+tmp\s+usr\s+var$", out, re.M), out
    assert snap.stat().st_size > 1 << 20

    sample = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-p", "no:pytest_embedded",
         str(ROOT / "tests" / "plugin_sample" / "sample_debian_shell.py"),
         f"--pysystem-snapshot={snap}",
         f"--junitxml={tmp_path / 'sample.xml'}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    report = sample.stdout.decode("utf-8", "replace")
    assert sample.returncode == 0, report
    passed = re.search(r"(\d+) passed", report)
    assert passed and int(passed.group(1)) >= 20, report

    labgrid_shell(tmp_path, snap)


def labgrid_shell(tmp_path, snap: Path) -> None:
    """labgrid's QEMUDriver and ShellDriver on pysystem-arm, from the booted snapshot."""
    labgrid()                               # none for PyPy (see the docstring above)
    g = guest_images("arm")
    store = tmp_path / "store"
    store.mkdir()
    (store / "shell.pysnap").symlink_to(snap)
    extra = (f"-initrd {g.initrd} -rtc base=2026-01-01T00:00:00 "
             f"-machine vexpress-a9,snapshot-dir={store} -loadvm shell")
    with labgrid_qemu(tmp_path, guest_script("pysystem-arm"), machine="vexpress-a9",
                      cpu="cortex-a9", memory="256M", kernel=g.kernel, dtb=g.dtb,
                      extra_args=extra, boot_args="console=ttyAMA0") as (qemu, shell):
        answer = shell.run_check("echo $((6 * 7)); uname -m", timeout=RUN_TIMEOUT)
        assert answer == ["42", "armv7l"]
        assert qemu.monitor_command("query-status")["status"] == "running"
        assert emulator_python(qemu) == os.path.realpath(guest_python())
