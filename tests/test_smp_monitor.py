"""The CPU listing of -smp 4 in QMP (query-cpus-fast) and HMP (info cpus, cpu N)
against qemu-system-arm 7.2, both started paused (-S) with a QMP socket.

Known differences, compared around: QEMU runs each CPU in a thread of its own
(thread-id differs per CPU there; one thread runs every CPU here) and names the CPUs
/machine/unattached/device[N] in the QOM tree (cpu[N] here)."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path


import tools

PYSYSTEM = Path(sys.executable).parent / "pysystem-arm"


class QMP:
    def __init__(self, cmd, sock_path: str):
        self.proc = subprocess.Popen(cmd + ["-qmp", f"unix:{sock_path},server=on,wait=off",
                                            "-display", "none", "-S"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(sock_path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name, "arguments": args} if args else {"execute": name}
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "event" not in reply:
                return reply

    def hmp(self, line: str) -> str:
        return self.cmd("human-monitor-command", **{"command-line": line})["return"]

    def close(self):
        try:
            self.cmd("quit")
        finally:
            self.sock.close()
            self.proc.wait(30)


def _listing(q: QMP):
    cpus = q.cmd("query-cpus-fast")["return"]
    threads = {c["thread-id"] for c in cpus}
    shape = [(list(c), c["cpu-index"], c["target"], c["qom-path"].rsplit("/", 1)[0])
             for c in cpus]
    info = q.hmp("info cpus")
    for t in threads:
        info = info.replace(f"thread_id={t}", "thread_id=<tid>")
    selected = q.hmp("cpu 3")
    # Each human-monitor-command runs in a fresh monitor: `cpu 3` above does not last,
    # cpu-index picks the CPU for one call, and a CPU that does not exist is refused.
    def current(**extra):
        reply = q.cmd("human-monitor-command", **{"command-line": "info cpus"}, **extra)
        if "error" in reply:
            return reply["error"]
        return [line for line in reply["return"].splitlines() if line.startswith("*")][0][:9]
    return (shape, info, q.hmp("cpu 4"), selected, current(), current(**{"cpu-index": 2}),
            current(), current(**{"cpu-index": 4}))


def test_cpu_listing_matches_qemu(tmp_path):
    qemu = tools.program("qemu-system-arm")
    args = ["-M", "vexpress-a9", "-smp", "4", "-m", "128"]
    listings = []
    for i, cmd in enumerate(([qemu, *args, "-audiodev", "none,id=snd0"], [str(PYSYSTEM), *args])):
        q = QMP(cmd, str(tmp_path / f"qmp{i}.sock"))
        try:
            listings.append(_listing(q))
        finally:
            q.close()
    theirs, ours = listings
    assert ours == theirs
    assert [s[1] for s in ours[0]] == [0, 1, 2, 3]
    assert ours[1].count("CPU #") == 4 and ours[2] == "invalid CPU index\r\n"
    assert ours[4:7] == ("* CPU #0:", "* CPU #2:", "* CPU #0:")
    assert ours[7] == {"class": "GenericError", "desc": "Parameter 'cpu-index' expects a CPU number"}


def _hmp_cpu_then_info(cmd, sock_path: str) -> list:
    """``cpu 1`` then ``info cpus`` on an HMP monitor socket: the CPU lines printed."""
    proc = subprocess.Popen(cmd + ["-monitor", f"unix:{sock_path},server=on,wait=off",
                                   "-display", "none", "-S"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock_path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        s.settimeout(60)

        def until_prompt(after: bytes = b"") -> bytes:
            """Read to the first prompt that follows the echo of ``after`` (QEMU
            prints a second prompt for the LF of CRLF, so a plain "up to a prompt" falls
            one command behind)."""
            buf = b""
            while True:
                i = buf.rfind(after) if after else 0
                if i >= 0 and buf.endswith(b"(qemu) ") and len(buf) - len(b"(qemu) ") > i:
                    return buf[i:]
                chunk = s.recv(4096)
                if not chunk:
                    raise EOFError(buf)
                buf += chunk
        until_prompt()
        s.sendall(b"cpu 1\r\n")
        until_prompt(b"cpu 1")
        s.sendall(b"info cpus\r\n")
        out = until_prompt(b"info cpus").decode()
        s.sendall(b"quit\r\n")
        proc.wait(30)
        s.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return [re.sub(r"thread_id=\d+", "thread_id=<tid>", line)
            for line in out.split("\r\n") if "CPU #" in line]


def test_hmp_cpu_selects_the_monitor_cpu_as_qemu(tmp_path):
    qemu = tools.program("qemu-system-arm")
    args = ["-M", "vexpress-a9", "-smp", "2", "-m", "128"]
    theirs = _hmp_cpu_then_info([qemu, *args, "-audiodev", "none,id=snd0"],
                                str(tmp_path / "q.sock"))
    ours = _hmp_cpu_then_info([str(PYSYSTEM), *args], str(tmp_path / "p.sock"))
    assert ours == theirs == ["  CPU #0: thread_id=<tid>", "* CPU #1: thread_id=<tid>"]
