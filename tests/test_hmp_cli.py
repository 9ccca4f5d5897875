"""Reaching HMP from the command line: Ctrl-A c under -nographic, -mon chardev=ID,
-monitor stdio; quit ends the process with status 0."""
from __future__ import annotations

import subprocess

import pytest

from tools import module, script

keystone = module("keystone")

from test_cli_run import MINI_DTS, reap  # noqa: E402

IDLE = """
    ldr r1, =0x10009000
    mov r0, #0x41
    str r0, [r1]
halt:
    wfi
    b halt
"""


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    import fdt
    from pysystem.machine import find_machine
    from pysystem.machines import load_all
    load_all()
    assert find_machine("vexpress-a9", "arm") is not None, "no vexpress-a9 board"
    d = tmp_path_factory.mktemp("hmpcli")
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
    code, _ = ks.asm(IDLE, 0x60010000)
    (d / "idle.bin").write_bytes(bytes(code))
    (d / "mini.dtb").write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    return ["-M", "vexpress-a9", "-m", "128", "-kernel", str(d / "idle.bin"),
            "-dtb", str(d / "mini.dtb")]


def run(args, stdin: bytes):
    return subprocess.run([script("pysystem-arm"), *args], input=stdin, capture_output=True,
                          timeout=120)


def test_ctrl_a_c_switches_to_the_monitor_under_nographic(guest):
    proc = run(guest + ["-nographic"], b"\x01cinfo status\rp 6*7\r\x01cq\x01cquit\r")
    out = proc.stdout.replace(b"\r\n", b"\n")
    assert proc.returncode == 0, proc.stderr
    assert b"info status\nVM status: running\n" in out
    assert b"(qemu) p 6*7\n0x2a\n" in out
    assert out.count(b"monitor - type 'help' for more information") == 1


def test_mon_on_a_chardev(guest):
    proc = run(guest + ["-display", "none", "-serial", "null", "-chardev", "stdio,id=hmp0",
                        "-mon", "chardev=hmp0"], b"info chardev\rinfo status\rquit\r")
    out = proc.stdout.replace(b"\r\n", b"\n")
    assert proc.returncode == 0, proc.stderr
    assert b"hmp0: filename=stdio\n" in out
    assert b"VM status: running\n" in out


def test_monitor_stdio_with_S_and_cont(guest):
    proc = run(guest + ["-display", "none", "-serial", "null", "-monitor", "stdio", "-S"],
               b"info status\rcont\rinfo status\rquit\r")
    out = proc.stdout.replace(b"\r\n", b"\n")
    assert proc.returncode == 0, proc.stderr
    assert b"VM status: paused (prelaunch)\n" in out
    assert out.index(b"paused (prelaunch)") < out.index(b"VM status: running")


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strip_telnet(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == 255 and i + 1 < len(data) and data[i + 1] in (251, 252, 253, 254):
            i += 3
            continue
        out.append(data[i])
        i += 1
    return bytes(out)


def test_monitor_over_telnet(guest):
    import socket
    import time
    port = _free_port()
    proc = subprocess.Popen([script("pysystem-arm"), *guest, "-display", "none", "-serial", "null",
                             "-monitor", f"telnet:127.0.0.1:{port},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)

        def until(marker: bytes, buf=bytearray()) -> bytes:
            while marker not in _strip_telnet(bytes(buf)):
                chunk = sock.recv(65536)
                assert chunk, bytes(buf)
                buf += chunk
            text = _strip_telnet(bytes(buf))
            buf.clear()
            return text
        assert b"monitor - type 'help' for more information\r\n(qemu) " in until(b"(qemu) ")
        # A telnet client's Enter is CR LF: two Enters for QEMU's monitor, the second on
        # an empty line, so a second prompt follows the command's output.
        twice = b"(qemu) \r\n(qemu) "
        sock.sendall(b"info status\r\n")
        assert until(twice) == b"info status\r\nVM status: running\r\n" + twice
        sock.sendall(b"info sta\t\r\x00")         # completion; CR NUL, the other telnet Enter
        assert until(b"(qemu) ") == b"info status \r\nVM status: running\r\n(qemu) "
        sock.sendall(b"p $r0+1\r\n")            # the guest left 0x41 in r0
        assert until(twice) == b"p $r0+1\r\n0x42\r\n" + twice
        sock.sendall(b"quit\r\n")
        assert proc.wait(timeout=30) == 0
        sock.close()
    finally:
        reap(proc)


def test_log_and_logfile_at_run_time(guest, tmp_path):
    import time
    log = tmp_path / "in_asm.log"
    proc = subprocess.Popen([script("pysystem-arm"), *guest, "-display", "none", "-serial", "null",
                             "-monitor", "stdio"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(f"logfile {log}\nlog in_asm\nsystem_reset\n".encode())
    proc.stdin.flush()
    # the guest must run after the reset before "log none" arrives: wait for its code to
    # be translated (a fixed pause is too short when the emulator starts slowly; with
    # all the input at once the monitor runs every command before the guest's next block)
    deadline = time.monotonic() + 60
    while "0x60010004:" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "no in_asm output within 60 s"
        time.sleep(0.1)
    out, _ = proc.communicate(b"log none\nquit\n", timeout=60)
    assert proc.returncode == 0
    text = log.read_text()
    # translated after the reset: the boot stub, then the guest, disassembled
    assert "IN: \n0x60000000:  e3a00000  mov      r0, #0\n" in text
    assert "0x60010000:  e59f100c  ldr      r1, [pc, #0xc]\n0x60010004:  e3a00041  mov      r0, #0x41\n" in text


def test_monitor_over_a_unix_socket_and_reconnect(guest, tmp_path):
    import socket
    import time
    path = str(tmp_path / "hmp.sock")
    proc = subprocess.Popen([script("pysystem-arm"), *guest, "-display", "none", "-serial", "null",
                             "-monitor", f"unix:{path},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def connect():
        deadline = time.monotonic() + 60
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(10)
                s.connect(path)
                return s
            except OSError:
                s.close()
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)

    def until(s, marker: bytes) -> bytes:
        buf = b""
        while marker not in buf:
            chunk = s.recv(65536)
            assert chunk, buf
            buf += chunk
        return buf
    try:
        s = connect()
        assert b"monitor - type 'help'" in until(s, b"(qemu) ")
        s.sendall(b"info sta")                  # a half-typed line, then the client goes away
        until(s, b"info sta")
        s.close()
        s = connect()                           # a new client is greeted again, line empty
        assert b"monitor - type 'help'" in until(s, b"(qemu) ")
        s.sendall(b"tus\r")
        assert until(s, b"(qemu) ") == b"tus\r\nunknown command: 'tus'\r\n(qemu) "
        s.sendall(b"quit\r")
        assert proc.wait(timeout=30) == 0
        s.close()
    finally:
        reap(proc)
