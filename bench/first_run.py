"""Benchmark: the README's boot command, run twice as a new user runs it.

For each interpreter (a venv's python: its ``pysystem-images`` beside it), in a new
empty cache (``XDG_CACHE_HOME`` set to a temporary folder, so the guest is
downloaded and every block translated, as in a fresh clone), under a pseudo-terminal:

1. ``pysystem-images --boot ARCH`` (``--arch``, default arm): seconds until the
   explanation (the download is before it), until the kernel's first line, until the shell prompt, until the
   booted guest is saved; then ``echo $((6*7))`` must print 42, and ``poweroff -f``.
2. The same command again: seconds until the prompt (restored), and until
   ``echo $((6*7))`` has printed 42 and the prompt is back.

Each time is given twice: wall-clock seconds, and the processor seconds the command
had used by then (user + system), which depend much less on what else the machine runs.

    python bench/first_run.py --python .venv-pypy/bin/python --python .venv/bin/python
    python bench/first_run.py --python .venv/bin/python --restore-only   # uses the user cache

``--restore-only`` skips the first run and restores from the user's own cache
(which must hold a saved boot).  Figures go in bench/RESULTS.md ("First run").
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from pty_session import PtySession  # noqa: E402

# the progress line may stand between the guest's last line and its prompt (erased then)
PROMPT = rb"\n(?:\r[^\r\n]*\x1b\[K)*/ # "
BOOT_TIMEOUT = 3600
UNAME_M = {"arm": b"armv7l", "mipsel": b"mips"}   # what ``uname -m`` prints in each guest


def _interpreter(python: str) -> str:
    return subprocess.run([python, "-c", "import platform; print(platform.python_implementation()"
                           ", platform.python_version())"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _command(python: str, arch: str) -> list:
    return [python, os.path.join(os.path.dirname(python), "pysystem-images"), "--boot", arch]


def _shell_works(s: PtySession) -> float:
    """Type a command, check its output; seconds until the prompt is back."""
    t = time.monotonic()
    mark = s.send(b"echo $((6*7))\r")
    s.expect(rb"\r*\n42\r*\n/ # ", 600, mark)
    return time.monotonic() - t


def first_run(python: str, env: dict, arch: str) -> dict:
    s = PtySession(_command(python, arch), env=env)
    try:
        m = s.expect(rb"pysystem-images: linux-image", 600)
        out = {"explained": s.seen_at(m.start()) - s.started}
        m = s.expect(rb"\[\s*0\.000000\] (Booting Linux|Linux version)", BOOT_TIMEOUT)
        out["first line"] = s.seen_at(m.start()) - s.started
        out["first line cpu"] = s.cpu_seconds()
        m = s.expect(PROMPT, BOOT_TIMEOUT)
        out["prompt"] = s.seen_at(m.end() - 1) - s.started
        out["prompt cpu"] = s.cpu_seconds()
        record = os.path.join(env["XDG_CACHE_HOME"], "pysystem", arch, "snapshots",
                              "boot-initramfs.json")
        while not os.path.exists(record):
            time.sleep(0.05)
        out["saved"] = time.monotonic() - s.started
        out["command"] = _shell_works(s)
        out["progress line"] = b"pysystem: guest running silently" in s.out
        s.send(b"poweroff -f\r")
        out["status"] = s.wait(300)
    finally:
        s.close()
    return out


def restore_run(python: str, env: dict, arch: str) -> dict:
    s = PtySession(_command(python, arch), env=env)
    try:
        s.expect(rb"restoring the booted guest", 600)
        m = s.expect(PROMPT, 600)
        out = {"prompt": s.seen_at(m.end() - 1) - s.started, "prompt cpu": s.cpu_seconds()}
        out["command"] = _shell_works(s)
        out["command cpu"] = s.cpu_seconds() - out["prompt cpu"]
        mark = s.send(b"uname -m\r")
        s.expect(UNAME_M[arch] + rb"\r*\n/ # ", 600, mark)
        s.send(b"poweroff -f\r")
        out["status"] = s.wait(300)
    finally:
        s.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", action="append", help="interpreter (repeatable; default: this)")
    p.add_argument("--restore-only", action="store_true",
                   help="only the second run, from the user's own cache")
    p.add_argument("--arch", default="arm", choices=sorted(UNAME_M), help="guest (default arm)")
    args = p.parse_args()
    pythons = args.python or [sys.executable]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    rows = []
    for python in pythons:
        python = os.path.abspath(python)
        name = _interpreter(python)
        env = {k: v for k, v in os.environ.items() if k != "PYSYSTEM_CODE_CACHE"}
        tmp = None
        try:
            if not args.restore_only:
                tmp = tempfile.mkdtemp(prefix="pysystem-first-run-")
                env["XDG_CACHE_HOME"] = tmp
                first = first_run(python, env, args.arch)
                print(f"{name} first run: {first}", flush=True)
                rows.append(f"| {name}, first run (download, cold code cache) | "
                            f"{first['explained']:.1f} | {first['first line']:.1f} "
                            f"({first['first line cpu']:.1f}) | {first['prompt']:.1f} "
                            f"({first['prompt cpu']:.1f}) | {first['saved']:.1f} | "
                            f"{first['command']:.2f} |")
            again = restore_run(python, env, args.arch)
            print(f"{name} second run: {again}", flush=True)
            rows.append(f"| {name}, second run (restored) | | | {again['prompt']:.2f} "
                        f"({again['prompt cpu']:.2f}) | | {again['command']:.2f} "
                        f"({again['command cpu']:.2f}) |")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("| run | explained s | first kernel line s (cpu s) | shell prompt s (cpu s) | saved s | "
          "echo round trip s (cpu s) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
