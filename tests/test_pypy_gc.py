"""Under PyPy the emulator restarts itself once with a larger GC nursery
(pysystem/pypy_gc.py): the console scripts, ``python -m`` and plain scripts all come
back with ``PYPY_GC_NURSERY`` set and PyPy's GC using it, and a value the user set is
left alone.  Runs in the interpreter the guests boot under (PyPy in CI); the PyPy
cases are skipped when that is not PyPy."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

import pytest

from pysystem import pypy_gc
from tools import NOT_CPYTHON, NOT_PYPY, guest_python, guest_script, interpreter_skip

_PROBE = """
import gc, os, sys
from pysystem import pypy_gc
print("before", os.getpid(), flush=True)
pypy_gc.restart_if_needed()
stats = str(gc.get_stats()) if hasattr(gc, "get_stats") else ""
nursery = [line.split()[-1] for line in stats.splitlines() if "nursery:" in line][:1]
print("after", os.getpid(), os.environ.get("PYPY_GC_NURSERY"), nursery, sys.argv[1:])
"""


def _is_pypy(python: str) -> bool:
    out = subprocess.run([python, "-c", "import platform; print(platform.python_implementation())"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "PyPy"


def _env(extra=None) -> dict:
    """This environment without the nursery variable (plus ``extra``)."""
    env = {k: v for k, v in os.environ.items() if k != pypy_gc.VARIABLE}
    env.update(extra or {})
    return env


def _run(cmd, cwd, env_extra=None):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd,
                         env=_env(env_extra))
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


@pytest.fixture
def pypy():
    python = os.path.abspath(guest_python())  # the probes run in tmp_path
    if not _is_pypy(python):
        interpreter_skip(NOT_PYPY)
    return python


@pytest.mark.parametrize("how", ["script", "module"])
def test_pypy_restarts_once_with_the_larger_nursery(pypy, tmp_path, how):
    (tmp_path / "gcprobe.py").write_text(_PROBE)
    cmd = [pypy, str(tmp_path / "gcprobe.py")] if how == "script" else [pypy, "-m", "gcprobe"]
    lines = _run(cmd + ["-x", "y z"], tmp_path)
    assert len(lines) == 3, lines  # "before" twice (the restart), "after" once
    assert lines[0].startswith("before") and lines[1].startswith("before")
    assert lines[0].split()[1] == lines[1].split()[1]  # the same process, executed again
    size = pypy_gc.NURSERY[:-2]
    assert lines[2].split(None, 2)[2] == f"{pypy_gc.NURSERY} ['{size}.0MB'] ['-x', 'y z']"


def test_pypy_keeps_the_users_nursery(pypy, tmp_path):
    (tmp_path / "gcprobe.py").write_text(_PROBE)
    lines = _run([pypy, str(tmp_path / "gcprobe.py")], tmp_path, {pypy_gc.VARIABLE: "2MB"})
    assert len(lines) == 2 and lines[1].split(None, 2)[2] == "2MB ['2.0MB'] []"


def test_pypy_console_script_runs_with_the_larger_nursery(pypy):
    proc = subprocess.Popen([guest_script("pysystem-arm"), "-M", "none", "-S", "-display", "none",
                             "-monitor", "none", "-serial", "none"], env=_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        seen = b""
        while time.monotonic() < deadline and proc.poll() is None:
            with open(f"/proc/{proc.pid}/environ", "rb") as f:
                seen = f.read()
            if pypy_gc.VARIABLE.encode() in seen:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        assert f"{pypy_gc.VARIABLE}={pypy_gc.NURSERY}".encode() in seen.split(b"\0")
    finally:
        proc.kill()
        proc.communicate()


def test_cpython_never_restarts(tmp_path):
    if platform.python_implementation() == "PyPy":
        interpreter_skip(NOT_CPYTHON)
    (tmp_path / "gcprobe.py").write_text(_PROBE)
    lines = _run([sys.executable, str(tmp_path / "gcprobe.py")], tmp_path)
    assert len(lines) == 2 and lines[1].split(None, 2)[2] == "None [] []"
