"""Soak: a busy Debian guest for an hour with monitor traffic (not a test; not in CI).

    pypy3 bench/soak.py [--seconds 3600] [--savevm-every 300] [--out DIR]
    python3 bench/soak.py --seconds 300 --savevm-every 60    # a check of the script

Two ``pysystem-arm`` processes of the interpreter running this script boot the same
Debian armmp guest (vexpress-a9, busybox initramfs, ``-rtc base=`` fixed) whose init
runs a busy shell loop forever: each round does some arithmetic, pipes through
``md5sum`` and prints one line ``ROUND i <md5>``.  They run side by side:

* the soaked one gets monitor traffic: an HMP query (``info status``, ``info
  registers``, ``info mtree``, ``info snapshots``...) every second, and every
  ``--savevm-every`` seconds a ``savevm soak`` immediately followed by ``loadvm soak``
  (so the restored state must continue exactly as the saved one would have);
* the reference one gets none.

The soak's clock starts when both guests have printed SOAK-START.  Every 10 s the script records each process's RSS (``/proc/PID/status`` VmRSS) and
its count of rounds.  At the end it prints, per ten-minute window, the soaked
process's RSS and rounds per minute (flat RSS, no slowdown), and compares the two
consoles: the shorter list of ``ROUND`` lines (the soaked one without the rounds a loadvm
made the guest print again, each equal to its first printing) must be a prefix of the longer one
(identical output with and without monitor traffic).  Exit status 0 when all of
that holds, 1 otherwise.  Everything is kept in ``--out`` (consoles, samples as
CSV, monitor replies).

The sample times count from the emulators' start, so the first windows are the boot.

Recorded runs (PyPy, ``--seconds 3600 --savevm-every 300``, 2026-12-07):

* 16:28-17:40 UTC, load rising from 2 to 27 (eight engineers' work): both booted, 12
  savevm+loadvm cycles, soaked 1745 rounds and reference 1849, the first 1745 identical;
  RSS of the soaked process 606, 642, 638, 623, 623, 622 MiB per 10 minutes (the
  reference's 460); rounds/min fell from 85 to 6 for both processes alike with the load
  (soaked/reference 0.97 to 0.79), which is why CPU per round is reported now.
* 17:35-18:50 UTC, load 5-25: 2070 rounds soaked (one printed again after a loadvm, equal
  to its first printing), reference 2225, the first 2070 identical.  Per 10 minutes after
  the boot: RSS 580, 588, 567, 611, 610 MiB; CPU ms per round 588, 574, 721, 747, 730
  against the reference's 564, 542, 644, 665, 649 (both rose when a CI rehearsal
  started at 3000 s; the monitor traffic costs the soaked one 4-13%, with no growth).

Earlier, a check of the script (2026-12-07, PyPy, load
average about 18 on 2 cores, ``--seconds 150 --savevm-every 60``): both guests booted
in about 9.5 min, two savevm+loadvm cycles, soaked 49 rounds and reference 64, the
first 49 identical; RSS of the soaked process 365 MiB after the boot, 441 MiB at the
end (too short to say anything about growth).
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WORKLOAD = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo SOAK-START
i=0
while true; do
  i=$((i+1))
  n=$(( (i * 7919) % 1000 + 200 ))
  sum=$(seq 1 $n | md5sum | cut -c1-32)
  echo "ROUND $i $sum"
done
"""
QUERIES = ("info status", "info registers", "info mtree", "info snapshots", "info chardev",
           "info qtree", "info block", "x /16x 0x60000000", "info pic", "info roms")


class Rounds(list):
    repeats = mismatches = 0


def replayed(lines: list) -> Rounds:
    """The soaked console's rounds once each: a ``loadvm`` returns the guest to its
    ``savevm``, so rounds printed between the two are printed again, and each repeat
    must equal the first printing."""
    out, seen = Rounds(), {}
    for line in lines:
        number = line.split()[1]
        if number in seen:
            out.repeats += 1
            out.mismatches += seen[number] != line
        else:
            seen[number] = line
            out.append(line)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Guest:
    def __init__(self, name: str, out: Path, args: list, monitor: bool):
        self.name, self.console = name, out / f"{name}.console"
        self.sock = out / f"{name}.mon" if monitor else None
        cmd = [str(Path(sys.executable).parent / "pysystem-arm"), *args]
        if self.sock is not None:
            cmd += ["-monitor", f"unix:{self.sock},server=on,wait=off"]
        self.log = open(self.console, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def rounds(self) -> list:
        return re.findall(rb"ROUND \d+ [0-9a-f]{32}", self.console.read_bytes())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Monitor:
    def __init__(self, path: Path, transcript: Path):
        end = time.monotonic() + 120
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.5)
        self.sock.settimeout(600)
        self.transcript = open(transcript, "a")
        self._until_prompt()

    def _until_prompt(self) -> str:
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the monitor went away")
            buf += chunk
        return buf.decode("utf-8", "replace")

    def run(self, command: str) -> str:
        self.sock.sendall(command.encode() + b"\n")
        reply = self._until_prompt()
        self.transcript.write(f"--- {time.strftime('%H:%M:%S')} {command}\n{reply}\n")
        return reply


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=3600)
    ap.add_argument("--savevm-every", type=int, default=300)
    ap.add_argument("--boot-timeout", type=int, default=1800)
    ap.add_argument("--out", type=Path, default=None)
    opts = ap.parse_args()
    out = opts.out or Path(tempfile.mkdtemp(prefix="pysystem-soak-"))
    out.mkdir(parents=True, exist_ok=True)

    from pysystem.images import build_initramfs, guest_files
    g = guest_files("arm", quiet=True)
    initrd = build_initramfs("arm", WORKLOAD, out=out / "soak-initrd.cpio.gz")
    guests = []
    for name, monitor in (("soaked", True), ("reference", False)):
        snaps = out / f"{name}-snapshots"
        snaps.mkdir(exist_ok=True)
        args = ["-M", f"vexpress-a9,snapshot-dir={snaps}", "-m", "256M",
                "-kernel", str(g.kernel), "-dtb", str(g.dtb), "-initrd", str(initrd),
                "-append", "console=ttyAMA0 rdinit=/init", "-display", "none",
                "-serial", "stdio", "-rtc", "base=2026-01-01T00:00:00"]
        guests.append(Guest(name, out, args, monitor))
    soaked, reference = guests
    samples = []
    failures = []
    stop = threading.Event()

    def sampler() -> None:
        start = time.monotonic()
        while not stop.wait(10):
            row = [round(time.monotonic() - start)]
            for gst in guests:
                row += [rss_kib(gst.proc.pid), len(gst.rounds()), cpu_seconds(gst.proc.pid)]
            samples.append(row)

    threading.Thread(target=sampler, daemon=True).start()
    try:
        mon = Monitor(soaked.sock, out / "monitor.txt")
        boot_end = time.monotonic() + opts.boot_timeout
        while not all(b"SOAK-START" in gst.console.read_bytes() for gst in guests):
            if time.monotonic() > boot_end or any(gst.proc.poll() is not None
                                                  for gst in guests):
                failures.append("the guests did not boot")
                break
            mon.run("info status")
            time.sleep(5)
        start = last_save = time.monotonic()
        k = 0
        while not failures and time.monotonic() - start < opts.seconds:
            if soaked.proc.poll() is not None or reference.proc.poll() is not None:
                failures.append("an emulator exited")
                break
            reply = mon.run(QUERIES[k % len(QUERIES)])
            if "rror" in reply and "info snapshots" not in reply:
                failures.append(f"monitor: {reply.strip()[:200]}")
            k += 1
            if time.monotonic() - last_save >= opts.savevm_every and soaked.rounds():
                for command in ("savevm soak", "loadvm soak"):
                    reply = mon.run(command)
                    if "rror" in reply:
                        failures.append(f"{command}: {reply.strip()[:200]}")
                last_save = time.monotonic()
            time.sleep(1)
    finally:
        stop.set()
        for gst in guests:
            gst.stop()

    with open(out / "samples.csv", "w") as f:
        f.write("seconds,soaked_rss_kib,soaked_rounds,soaked_cpu_s,"
                "reference_rss_kib,reference_rounds,reference_cpu_s\n")
        for row in samples:
            f.write(",".join(map(str, row)) + "\n")
    window = 600 if opts.seconds >= 1800 else 60
    print(f"{sys.implementation.name}: {opts.seconds} s; per {window} s of the soaked run "
          "(CPU ms per round: host load changes rounds/min, not the CPU a round costs):")
    prev = None
    for row in samples:
        t, rss, rounds, cpu, _, ref_rounds, ref_cpu = row
        if prev is None or t - prev[0] >= window:
            if prev is not None:
                rate = (rounds - prev[2]) * 60 / (t - prev[0])
                per = (cpu - prev[3]) * 1000 / max(1, rounds - prev[2])
                ref_per = (ref_cpu - prev[6]) * 1000 / max(1, ref_rounds - prev[5])
                print(f"  {t:>6} s  RSS {rss / 1024:7.1f} MiB  {rate:7.1f} rounds/min  "
                      f"{per:7.1f} CPU ms/round (reference {ref_per:7.1f})")
            prev = row
    a, b = replayed(soaked.rounds()), reference.rounds()
    n = min(len(a), len(b))
    print(f"rounds: soaked {len(a)} ({a.repeats} printed again after a loadvm, "
          f"{a.mismatches} of them different), reference {len(b)}; first {n} "
          f"{'identical' if a[:n] == b[:n] else 'DIFFER'}")
    if a[:n] != b[:n] or a.mismatches:
        failures.append("the consoles differ")
    if n == 0:
        failures.append("no rounds: the guest never got to its loop")
    for f in failures:
        print("soak: " + f)
    print(f"files: {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
