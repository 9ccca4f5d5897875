"""A tiny bare-metal guest's PL011 over tcp, telnet and pty, and QMP watching it.

The guests are the ones test_cli_run.py assembles with keystone: one prints a
line and powers off, one echoes what it receives until it reads 'q'.
"""
from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import time

from test_cli_run import (ECHO_UNTIL_Q, HELLO_THEN, POWEROFF, assemble, board,  # noqa: F401
                          dtb, reap)
from tools import module, program, script


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(kernel, dtb_path, *args):
    return subprocess.Popen([script("pysystem-arm"), "-M", "vexpress-a9", "-kernel", kernel,
                             "-dtb", dtb_path, "-display", "none", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def connect_retry(addr, timeout=20.0) -> socket.socket:
    end = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(addr, timeout=5)
            return s
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def read_until(sock, want: bytes, timeout=30.0) -> bytes:
    got = b""
    sock.settimeout(0.2)
    end = time.monotonic() + timeout
    while want not in got and time.monotonic() < end:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    return got


def finish(proc, timeout=30):
    try:
        return proc.wait(timeout)
    finally:
        reap(proc)


def qmp_client(sock: str):
    """Connect qemu.qmp's client to an emulator's QMP socket once it exists."""
    from qemu.qmp.legacy import QEMUMonitorProtocol
    end = time.monotonic() + 20
    while not os.path.exists(sock) and time.monotonic() < end:
        time.sleep(0.05)
    qmp = QEMUMonitorProtocol(sock)
    qmp.connect(negotiate=True)
    return qmp


def qmp_close(qmp) -> None:
    """Close a QMP client whose server may already have gone (after quit/power-off)."""
    try:
        qmp.close()
    except EOFError:
        pass


def test_pl011_over_a_tcp_server_waits_for_its_client(board, dtb, tmp_path):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    port = free_port()
    proc = start(kernel, dtb, "-serial", f"tcp::{port},server=on")
    # nothing runs before the client connects: the greeting is not lost
    line = proc.stderr.readline().decode()
    assert line == (f"pysystem-arm: -serial tcp::{port},server=on: info: QEMU waiting for "
                    f"connection on: disconnected:tcp:127.0.0.1:{port},server=on\n")
    peer = connect_retry(("127.0.0.1", port))
    assert read_until(peer, b"guest\n") == b"Hello from the guest\n"
    assert finish(proc) == 0
    peer.close()


def test_pl011_over_telnet_both_ways(board, dtb, tmp_path):
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    port = free_port()
    proc = start(kernel, dtb, "-serial", f"telnet:127.0.0.1:{port},server,nowait")
    peer = connect_retry(("127.0.0.1", port))
    init = read_until(peer, b"\xff\xfd\x00")
    assert init == bytes.fromhex("fffb01fffb03fffb00fffd00")
    peer.sendall(b"\xff\xfd\x01hello\xff\xfb\x00 telnet")     # negotiation replies are eaten
    assert read_until(peer, b"telnet") == b"hello telnet"
    peer.sendall(b"q")
    assert finish(proc) == 0
    peer.close()


def test_pl011_as_a_tcp_client(board, dtb, tmp_path):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    proc = start(kernel, dtb, "-chardev",
                 f"socket,id=ser,host=127.0.0.1,port={srv.getsockname()[1]}",
                 "-serial", "chardev:ser")
    peer, _ = srv.accept()
    assert read_until(peer, b"guest\n") == b"Hello from the guest\n"
    assert finish(proc) == 0
    peer.close()
    srv.close()


def test_pl011_over_a_unix_socket(board, dtb, tmp_path):
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    path = str(tmp_path / "serial.sock")
    proc = start(kernel, dtb, "-serial", f"unix:{path},server=on,wait=off")
    end = time.monotonic() + 20
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.05)
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(path)
    peer.sendall(b"over unix")
    assert read_until(peer, b"unix") == b"over unix"
    peer.sendall(b"q")
    assert finish(proc) == 0
    assert not os.path.exists(path)


def test_miniterm_attaches_to_the_pty(board, dtb, tmp_path):
    """``python -m serial.tools.miniterm /dev/pts/N`` on the pty QEMU-style -serial pty prints."""
    module("serial.tools.miniterm")
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    proc = start(kernel, dtb, "-serial", "pty")
    line = proc.stderr.readline().decode()
    m = re.fullmatch(r"char device redirected to (/dev/pts/\d+) \(label serial0\)\n", line)
    assert m, line
    # miniterm needs a terminal of its own: give it a pty pair
    term_master, term_slave = os.openpty()
    mt = subprocess.Popen([sys.executable, "-m", "serial.tools.miniterm", "--raw", "--eol", "LF",
                           m.group(1), "115200"], stdin=term_slave, stdout=term_slave,
                          stderr=term_slave, close_fds=True)
    os.close(term_slave)
    seen = b""
    try:
        end = time.monotonic() + 20
        while b"Quit:" not in seen and time.monotonic() < end:       # miniterm's banner
            if select.select([term_master], [], [], 0.2)[0]:
                seen += os.read(term_master, 4096)
        os.write(term_master, b"typed in miniterm")
        end = time.monotonic() + 20
        while b"typed in miniterm" not in seen and time.monotonic() < end:
            if select.select([term_master], [], [], 0.2)[0]:
                seen += os.read(term_master, 4096)
        assert b"typed in miniterm" in seen, seen
        os.write(term_master, b"q")
        assert finish(proc) == 0
    finally:
        mt.kill()
        mt.wait(10)
        os.close(term_master)


def test_qmp_watches_the_guest_power_off(board, dtb, tmp_path, qmp_event_loop):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    sock = str(tmp_path / "qmp.sock")
    proc = start(kernel, dtb, "-serial", "stdio", "-S",
                 "-qmp", f"unix:{sock},server=on,wait=off")
    qmp = qmp_client(sock)
    try:
        assert qmp.cmd_obj({"execute": "query-status"})["return"]["status"] == "prelaunch"
        uart = qmp.cmd_obj({"execute": "qom-list", "arguments": {
            "path": "/machine/unattached"}})["return"]
        assert any(p["type"].startswith("child<") for p in uart)
        cpus = qmp.cmd_obj({"execute": "query-cpus-fast"})["return"]
        assert [c["cpu-index"] for c in cpus] == [0] and cpus[0]["target"] == "arm"
        qmp.cmd_obj({"execute": "cont"})
        events = []
        end = time.monotonic() + 30
        while not any(e["event"] == "SHUTDOWN" for e in events) and time.monotonic() < end:
            ev = qmp.pull_event(wait=5.0)
            if ev is not None:
                events.append(ev)
        names = [e["event"] for e in events]
        assert names == ["RESUME", "SHUTDOWN"], names
        assert events[-1]["data"] == {"guest": True, "reason": "guest-shutdown"}
    finally:
        qmp_close(qmp)
    assert finish(proc) == 0


def test_qmp_and_hmp_over_tcp_side_by_side(board, dtb, tmp_path):
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    qport, sport = free_port(), free_port()
    proc = start(kernel, dtb, "-serial", f"tcp:127.0.0.1:{sport},server=on,wait=off",
                 "-qmp-pretty", f"tcp:127.0.0.1:{qport},server=on,wait=off")
    q = connect_retry(("127.0.0.1", qport))
    greeting = read_until(q, b"}\r\n")
    assert json.loads(greeting)["QMP"]["capabilities"] == ["oob"]
    assert greeting.startswith(b"{\n    \"QMP\"")             # -qmp-pretty
    q.sendall(b'{"execute":"qmp_capabilities"}{"execute":"query-chardev"}')
    out = read_until(q, b"serial0")
    assert f"tcp:127.0.0.1:{sport},server=on".encode() in out
    s = connect_retry(("127.0.0.1", sport))
    s.sendall(b"abc")
    assert read_until(s, b"abc") == b"abc"
    q.sendall(b'{"execute":"quit"}')
    assert finish(proc) == 0
    q.close()
    s.close()


def _telnet_session(cmd, port, data: bytes) -> bytes:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        peer = connect_retry(("127.0.0.1", port))
        got = read_until(peer, b"\xff\xfd\x00")
        peer.sendall(data)
        got += read_until(peer, data[-1:] + b"<end>", timeout=3)
        peer.sendall(b"q")
        proc.wait(30)
        peer.close()
        return got
    finally:
        reap(proc)


def test_telnet_bytes_match_qemu(board, dtb, tmp_path):
    """The same echo guest behind -serial telnet in QEMU and here: identical bytes both ways
    (negotiation, IAC IAC -> one 0xff for the guest, 0xff from the guest not doubled,
    CR NUL kept)."""
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    data = b"a\xff\xffb\r\x00c\r\nd\xff\xfd\x03e"
    results = []
    for prog in (program("qemu-system-arm"), script("pysystem-arm")):
        port = free_port()
        cmd = [prog, "-M", "vexpress-a9", "-kernel", kernel, "-dtb", dtb, "-display", "none",
               "-monitor", "none", "-serial", f"telnet:127.0.0.1:{port},server=on,wait=off"]
        results.append(_telnet_session(cmd, port, data))
    assert results[0] == results[1]
    assert results[1] == bytes.fromhex("fffb01fffb03fffb00fffd00") + b"a\xffb\r\x00c\r\nde"


def test_pl011_on_a_host_serial_port(board, dtb, tmp_path):
    """``-serial /dev/pts/N`` (pyserial): one end of a pty pair plays the host's serial port,
    the test holds the other end like the cable's far side."""
    module("serial")
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)                       # no line discipline echo of its own
    name = os.ttyname(slave)
    proc = start(kernel, dtb, "-serial", name)
    try:
        # opening the port flushes what waited in it: knock until the guest answers
        got = b""
        end = time.monotonic() + 30
        while b"." not in got and time.monotonic() < end:
            os.write(master, b".")
            if select.select([master], [], [], 0.5)[0]:
                got += os.read(master, 4096)
        assert got and set(got) == {ord(".")}, got
        os.write(master, b"over the wire")
        got = b""
        while b"wire" not in got and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                got += os.read(master, 4096)
        assert got.lstrip(b".") == b"over the wire"
        os.write(master, b"q")
        assert finish(proc) == 0
    finally:
        os.close(master)
        os.close(slave)


def test_qmp_memory_dumps_and_block_info(board, dtb, tmp_path, qmp_event_loop):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    sock = str(tmp_path / "qmp.sock")
    proc = start(kernel, dtb, "-S", "-drive", f"if=none,id=d0,file={disk},format=raw",
                 "-qmp", f"unix:{sock},server=on,wait=off")
    qmp = qmp_client(sock)
    try:
        blocks = qmp.cmd_obj({"execute": "query-block"})["return"]
        assert blocks[0]["device"] == "d0" and blocks[0]["inserted"]["node-name"] == "d0"
        assert blocks[0]["inserted"]["image"]["virtual-size"] == 1 << 20
        out = tmp_path / "kernel.bin"
        assert qmp.cmd_obj({"execute": "pmemsave", "arguments": {
            "val": 0x60010000, "size": 64, "filename": str(out)}}) == {"return": {}}
        assert out.read_bytes() == open(kernel, "rb").read()[:64]
        err = qmp.cmd_obj({"execute": "pmemsave", "arguments": {
            "val": 0, "size": 16, "filename": str(tmp_path / "nodir" / "x")}})
        assert err["error"]["class"] == "GenericError" and "Could not open" in \
            err["error"]["desc"]
        qmp.cmd_obj({"execute": "quit"})
    finally:
        qmp_close(qmp)
    assert finish(proc) == 0
