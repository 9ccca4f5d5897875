"""Hostile HMP input (issue 22) through the real pysystem-arm console script: deeply
nested expressions get a clear error, a 16,000-character line is read in linear time."""
from __future__ import annotations

import os
import select
import subprocess
import time

import pytest

from tools import script


def hmp_stdio(*lines: str) -> str:
    r = subprocess.run([script("pysystem-arm"), "-M", "none", "-S", "-display", "none",
                        "-monitor", "stdio"], input="".join(f"{x}\n" for x in lines) + "quit\n",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout


@pytest.mark.parametrize("expr, reply", [
    ("(" * 1200 + "1" + ")" * 1200, "expression nested too deeply (at most 100 parentheses)"),
    ("(" * 100 + "7" + ")" * 100, "0x7"),
    ("-" * 1500 + "5", "0x5"),                 # an even number of minuses
    ("~" * 1501 + "0", "0xffffffffffffffff"),
    ("-~" * 750 + "5", f"0x{5 + 750:x}"),       # -~x is x+1
])
def test_deep_expressions_answer_or_refuse_clearly(expr, reply):
    out = hmp_stdio(f"p {expr}")
    assert "internal error" not in out and "RecursionError" not in out
    # text mode reads the CR LF line ends as LF
    answer = out.split(f"(qemu) p {expr}\n", 1)[1].split("\n", 1)[0]
    assert answer == reply


def read_until(proc, marker: bytes, limit: float) -> bytes:
    data = b""
    end = time.monotonic() + limit
    while marker not in data:
        left = end - time.monotonic()
        assert left > 0, f"no {marker!r} within {limit}s: {data[-200:]!r}"
        if select.select([proc.stdout], [], [], left)[0]:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "monitor closed"
            data += chunk
    return data


def test_a_16000_character_line_is_read_in_linear_time():
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "none", "-S", "-display", "none",
                             "-monitor", "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        read_until(proc, b"(qemu) ", 60)
        line = "p " + "1+" * 8000 + "1"            # 16,003 characters, value 8001
        start = time.monotonic()
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()
        # before the fix: 45 s of line editing, the main loop (QMP, guest) stalled
        out = read_until(proc, b"0x1f41\r\n(qemu) ", 10)
        took = time.monotonic() - start
        assert took < 3, f"{took:.1f}s for one line"
        assert out.startswith(line.encode())      # echoed whole
        proc.stdin.write(b"quit\n")
        proc.stdin.flush()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            f.close()


def test_qom_set_of_ram_size_and_smp_after_realize_is_refused():
    out = subprocess.run([script("pysystem-arm"), "-M", "vexpress-a9", "-m", "64", "-S",
                          "-display", "none", "-monitor", "stdio"],
                         input="qom-set /machine ram-size 0\nqom-set /machine smp -5\n"
                               "qom-get /machine ram-size\nqom-get /machine smp\n"
                               "qom-set /machine append console=ttyAMA0\nquit\n",
                         capture_output=True, text=True, timeout=60).stdout
    for prop in ("ram-size", "smp"):
        assert f"Error: property '{prop}' of 'vexpress-a9-machine' cannot be set after " \
            "realize\n" in out
    assert f"(qemu) qom-get /machine ram-size\n{64 << 20}\n" in out
    assert "(qemu) qom-get /machine smp\n1\n" in out
    # properties read only at boot stay settable, as on QEMU
    assert "(qemu) qom-set /machine append console=ttyAMA0\n(qemu) quit" in out


def test_huge_dump_on_a_socket_monitor_is_refused_not_cut(tmp_path):
    import socket
    sock_path = str(tmp_path / "hmp.sock")
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "vexpress-a9", "-S", "-display",
                             "none", "-monitor", f"unix:{sock_path},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 30
        while not os.path.exists(sock_path):
            assert proc.poll() is None and time.monotonic() < end, "no monitor socket"
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(30)
        s.connect(sock_path)

        def until(marker: bytes, data: bytes = b"") -> bytes:
            while data.count(marker) < 1:
                chunk = s.recv(1 << 16)
                assert chunk, "monitor closed"
                data += chunk
            return data
        until(b"(qemu) ")
        twice = b"\r\n(qemu) \r\n(qemu) "              # CR LF: two Enters, as in QEMU
        s.sendall(b"xp /65536xg 0x60000000\r\n")
        out = until(twice)
        assert b"too large" in out and b"0000000060000000:" not in out
        s.sendall(b"xp /4000xg 0x60000000\r\n")      # under the bound: whole, start included
        out = until(twice)
        lines = out[:-len(twice) + len(b"\r\n(qemu) ")].split(b"\r\n")
        assert lines[1].startswith(b"0000000060000000: ")
        assert lines[-2].startswith(f"{0x60000000 + 4000 * 8 - 16:016x}: ".encode())
        assert len(lines) == 1 + 2000 + 1          # the echo, the dump, the prompt
        s.close()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
