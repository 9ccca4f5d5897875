"""Benchmark: both boards' Debian boots to the shell, pysystem against QEMU, in one run.

Issue 20 asks that the Malta boot to a shell be within the same ratio to QEMU as the
vexpress boot.  Each board boots Debian's guest (``pysystem.images``: the kernel, DTB
and busybox initramfs tests/test_boot_vexpress.py and tests/test_boot_malta.py boot)
to the ``/ # `` prompt, then ``poweroff -f``, under qemu-system-<arch> and under
pysystem-<arch> from the venv of ``--python``, with the same command line (QEMU's
vexpress also gets ``-audiodev none``, which it needs and pysystem has no use for).

Measured per boot: wall seconds and CPU seconds (user + system, all threads) to the
prompt and to the exit, and the peak RSS (``wait4``'s ru_maxrss).  With ``--workload``
the shell runs a short busybox workload (WORKLOAD below: a listing, awk arithmetic,
a find over the root, checksums) between the prompt and ``poweroff -f``, and its CPU
seconds are reported apart.  The ratio to QEMU is of CPU seconds: on a shared machine wall
time depends on the load, CPU time much less.  The two boards run at the same time,
one core each.  The first pass uses a fresh code cache per board (cold); ``--warm``
adds a second pass with the cache the first one left.

    python bench/boot_ratio.py                      # PyPy venv of this tree, cold
    python bench/boot_ratio.py --python .venv/bin/python --warm
    python bench/boot_ratio.py --warm --workload  # boot, workload, exit (issue 27's figure)

Figures and the commands that produced them are kept in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = b"/ # "
COMMON = ["-m", "256M", "-nographic", "-no-reboot", "-rtc", "base=2026-01-01T00:00:00"]
BOARDS = ("vexpress", "malta")
# Run at the prompt by --workload; it ends with a line no command echo contains whole.
WORKLOAD = (b"ls -l /bin | wc -l; awk 'BEGIN { s = 0; for (i = 0; i < 20000; i++) s += i % 7; "
            b"print s }'; find / -xdev | wc -l; md5sum /bin/busybox /init | wc -l; "
            b"echo WORK''LOAD-DONE\n")
WORKLOAD_DONE = b"WORKLOAD-DONE"


def board_args(board: str) -> list:
    from pysystem.images import guest_files
    if board == "vexpress":
        g = guest_files("arm", quiet=True)
        return ["-M", "vexpress-a9", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
                "-initrd", str(g.initrd), "-append", "console=ttyAMA0"] + COMMON
    g = guest_files("mipsel", quiet=True)
    return ["-M", "malta", "-kernel", str(g.kernel), "-initrd", str(g.initrd),
            "-append", "console=ttyS0 rdinit=/init"] + COMMON


def commands(board: str, python: str) -> dict:
    """The emulators' command lines for ``board``, by emulator name."""
    arch = {"vexpress": "arm", "malta": "mipsel"}[board]
    args = board_args(board)
    audio = ["-audiodev", "none,id=snd0"] if board == "vexpress" else []
    return {f"qemu-system-{arch}": [f"qemu-system-{arch}"] + args + audio,
            f"pysystem-{arch}": [os.path.join(os.path.dirname(python), f"pysystem-{arch}")] + args}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boot(cmd: list, env: dict, workload: bool) -> dict:
    """Run ``cmd`` to the prompt, maybe the workload, send ``poweroff -f``, wait for its
    exit; its figures."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    output = bytearray()
    r = {}
    while True:
        chunk = proc.stdout.read1(65536)
        if not chunk:
            break
        output += chunk
        if "prompt_wall" not in r and PROMPT in output:
            r["prompt_wall"], r["prompt_cpu"] = time.monotonic() - start, cpu_seconds(proc.pid)
            proc.stdin.write(WORKLOAD if workload else b"poweroff -f\n")
            proc.stdin.flush()
            mark = len(output)
        elif workload and "work_cpu" not in r and "prompt_wall" in r \
                and WORKLOAD_DONE in output[mark:]:
            r["work_cpu"] = cpu_seconds(proc.pid) - r["prompt_cpu"]
            proc.stdin.write(b"poweroff -f\n")
            proc.stdin.flush()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    r["exit_wall"] = time.monotonic() - start
    r["exit_cpu"] = usage.ru_utime + usage.ru_stime
    r["status"] = proc.returncode
    r["rss_mb"] = usage.ru_maxrss / 1024
    if "prompt_wall" not in r:
        tail = output[-400:].decode("utf-8", "replace")
        r["error"] = f"no prompt; exit status {proc.returncode}; last output:\n{tail}"
    return r


def run_board(board: str, python: str, cache: str, results: dict, workload: bool) -> None:
    env = dict(os.environ, PYSYSTEM_CODE_CACHE=cache)
    for emulator, cmd in commands(board, python).items():
        results[board, emulator] = boot(cmd, env, workload)


def table(results: dict) -> str:
    lines = ["| board | emulator | wall s to prompt | CPU s to prompt | CPU s of the workload "
             "| wall s to exit | CPU s to exit | CPU x QEMU (prompt) | CPU x QEMU (exit) "
             "| peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for board in BOARDS:
        rows = [(e, r) for (b, e), r in results.items() if b == board]
        qemu = next(r for e, r in rows if e.startswith("qemu"))
        for emulator, r in rows:
            if "error" in r:
                lines.append(f"| {board} | {emulator} | failed: {r['error'].splitlines()[0]} |")
                continue
            work = f"{r['work_cpu']:.1f}" if "work_cpu" in r else ""
            lines.append(f"| {board} | {emulator} | {r['prompt_wall']:.1f} | {r['prompt_cpu']:.1f} "
                         f"| {work} | {r['exit_wall']:.1f} | {r['exit_cpu']:.1f} "
                         f"| {r['prompt_cpu'] / qemu['prompt_cpu']:.1f} "
                         f"| {r['exit_cpu'] / qemu['exit_cpu']:.1f} | {r['rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default=os.path.join(TREE, ".venv-pypy", "bin", "python"),
                   help="interpreter whose venv's pysystem-<arch> runs (default: this "
                   "tree's .venv-pypy)")
    p.add_argument("--warm", action="store_true", help="a second pass with the code cache "
                   "the first pass left")
    p.add_argument("--workload", action="store_true", help="run WORKLOAD at the prompt "
                   "before powering off")
    opts = p.parse_args()
    if not os.path.exists(opts.python):
        print(f"boot_ratio: no interpreter at {opts.python}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pysystem-boot-ratio-") as top:
        for name in ("cold", "warm") if opts.warm else ("cold",):
            print(f"# {name} code cache, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
                  f"load average {os.getloadavg()[0]:.1f}, command: {' '.join(sys.argv)}",
                  flush=True)
            results = {}
            threads = [threading.Thread(target=run_board,
                                        args=(b, opts.python, os.path.join(top, b), results,
                                              opts.workload))
                       for b in BOARDS]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(table(results), flush=True)
            print(f"# done {time.strftime('%H:%M:%S UTC', time.gmtime())}, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            for (board, emulator), r in results.items():
                if "error" in r:
                    print(f"{board} {emulator}: {r['error']}", file=sys.stderr)
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
