"""Socket, ringbuf and host-serial chardevs against real peers (loopback, unix, ptys).

The chardevs run under a real MainLoop (without a machine) whose ``poll`` is
pumped in bounded loops; the peers are plain sockets and pty pairs.
"""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from pysystem import chardev as chardevs
from pysystem.chardev import ChardevError, parse_legacy
from pysystem.chardev.socket import TELNET_INIT
from pysystem.main_loop import MainLoop
from tools import module


class Frontend:
    """What a UART would be: collects input and events."""

    def __init__(self, chardev):
        self.data = bytearray()
        self.events = []
        self.chardev = chardev
        chardev.set_handlers(lambda: 4096, self.data.extend, self.events.append)


@pytest.fixture
def loop():
    made = []
    lp = MainLoop()
    yield lp, made
    for c in made:
        c.close()
    chardevs.close_all()


def make(loop_made, **opts):
    lp, made = loop_made
    c = chardevs.create(dict({"backend": "socket"}, **opts))
    made.append(c)
    return c


def pump(lp, until, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lp.poll(0.02)
        if until():
            return True
    return False


def recv_until(sock, want: bytes, timeout=5.0) -> bytes:
    sock.settimeout(0.1)
    got = b""
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


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- the legacy spellings ------------------------------------------------------------

@pytest.mark.parametrize("text, opts", [
    ("tcp::4444,server,nowait", {"backend": "socket", "port": "4444", "server": "on",
                                 "wait": "off"}),
    ("tcp:127.0.0.1:4444,server=on,wait=off", {"backend": "socket", "host": "127.0.0.1",
                                               "port": "4444", "server": "on", "wait": "off"}),
    ("telnet:localhost:23,server", {"backend": "socket", "host": "localhost", "port": "23",
                                    "telnet": "on", "server": "on"}),
    ("tcp:[::1]:99,reconnect=2", {"backend": "socket", "host": "::1", "port": "99",
                                  "reconnect": "2"}),
    ("unix:/tmp/x.sock,server=on", {"backend": "socket", "path": "/tmp/x.sock", "server": "on"}),
    ("/dev/ttyUSB0", {"backend": "serial", "path": "/dev/ttyUSB0"}),
    ("mon:telnet::4444,server,nowait", {"backend": "socket", "port": "4444", "telnet": "on",
                                        "server": "on", "wait": "off", "mux": "on"}),
])
def test_legacy_forms(text, opts):
    assert parse_legacy(text) == opts


@pytest.mark.parametrize("opts, message", [
    ({"id": "a"}, "no host given"),
    ({"id": "a", "host": "127.0.0.1"}, "no port given"),
    ({"id": "a", "port": "1", "server": "on", "reconnect": "1"},
     "'reconnect' option is incompatible with 'server' option"),
    ({"id": "a", "port": "1", "bogus": "1"}, "Invalid parameter 'bogus'"),
    ({"id": "a", "path": "/nonexistent-dir/x.sock", "server": "on"}, "Failed to bind socket"),
])
def test_bad_specs_are_one_line_errors(loop, opts, message):
    with pytest.raises(ChardevError) as e:
        make(loop, **opts)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_client_without_a_server_is_refused(loop):
    port = free_port()
    with pytest.raises(ChardevError) as e:
        make(loop, id="c", host="127.0.0.1", port=str(port))
    assert str(e.value) == f"Failed to connect to '127.0.0.1:{port}': Connection refused"


# --- tcp server ------------------------------------------------------------------------

def test_tcp_server_listens_on_loopback_by_default(loop):
    lp, _ = loop
    c = make(loop, id="s", port="0", server="on", wait="off")
    assert c.listener.getsockname()[0] == "127.0.0.1"
    port = int(c.port)
    assert c.filename() == f"disconnected:tcp:127.0.0.1:{port},server=on"
    fe = Frontend(c)
    c.open(lp)
    assert fe.events == []
    for round_ in range(2):                     # a second client after the first left
        peer = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert pump(lp, lambda: c.conn is not None)
        assert fe.events[-1] == "opened"
        assert c.filename().startswith(f"tcp:127.0.0.1:{port},server=on <-> 127.0.0.1:")
        peer.sendall(b"hello %d" % round_)
        assert pump(lp, lambda: fe.data.endswith(b"hello %d" % round_))
        c.write(b"from the guest")
        assert recv_until(peer, b"from the guest").endswith(b"from the guest")
        peer.close()
        assert pump(lp, lambda: c.conn is None)
        assert fe.events[-1] == "closed"
    c.write(b"nobody listens")                  # dropped, no error


def test_server_with_wait_blocks_until_a_client_comes(loop, capsys):
    lp, _ = loop
    c = make(loop, id="w", host="127.0.0.1", port="0", server="on")
    port = int(c.port)
    fe = Frontend(c)
    t = threading.Timer(0.3, lambda: socket.create_connection(("127.0.0.1", port)).close())
    t.start()
    start = time.monotonic()
    c.open(lp)
    t.join()
    assert time.monotonic() - start >= 0.25
    assert fe.events == ["opened"]
    err = capsys.readouterr().err
    assert f"QEMU waiting for connection on: disconnected:tcp:127.0.0.1:{port},server=on" in err


# --- telnet ----------------------------------------------------------------------------

def test_telnet_negotiates_and_strips_iac(loop):
    lp, _ = loop
    c = make(loop, id="t", port="0", server="on", wait="off", telnet="on")
    fe = Frontend(c)
    c.open(lp)
    peer = socket.create_connection(("127.0.0.1", int(c.port)), timeout=5)
    assert pump(lp, lambda: c.conn is not None)
    assert recv_until(peer, TELNET_INIT) == TELNET_INIT    # QEMU's bytes: ff fb 01 ff fb 03 ...
    assert TELNET_INIT == bytes.fromhex("fffb01fffb03fffb00fffd00")
    # IAC IAC is a data 0xff; WILL/DO replies and subnegotiations vanish; IAC BREAK is a break
    peer.sendall(b"ab\xff\xffc\xff\xfd\x01\xff\xfb\x03\xff\xfa\x18\x00xterm\xff\xf0"
                 b"d\xff\xf3e")
    assert pump(lp, lambda: fe.data.endswith(b"e"))
    assert bytes(fe.data) == b"ab\xffcde"
    assert "break" in fe.events
    # a sequence split across packets
    peer.sendall(b"f\xff")
    pump(lp, lambda: fe.data.endswith(b"f"))
    peer.sendall(b"\xf3g")
    assert pump(lp, lambda: fe.data.endswith(b"g"))
    assert fe.events.count("break") == 2
    assert c.filename().startswith("telnet:127.0.0.1:")
    peer.close()


# --- clients and unix sockets -------------------------------------------------------------

def test_tcp_client_talks_to_a_server(loop):
    lp, _ = loop
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    c = make(loop, id="cl", host="127.0.0.1", port=str(port), nodelay="on")
    fe = Frontend(c)
    c.open(lp)
    assert fe.events == ["opened"]
    peer, _ = srv.accept()
    c.write(b"to the server")
    assert recv_until(peer, b"to the server") == b"to the server"
    peer.sendall(b"to the guest")
    assert pump(lp, lambda: bytes(fe.data) == b"to the guest")
    peer.close()
    srv.close()
    assert pump(lp, lambda: fe.events[-1:] == ["closed"])


def test_client_reconnects(loop):
    lp, _ = loop
    port = free_port()
    c = make(loop, id="rc", host="127.0.0.1", port=str(port), reconnect="1")
    fe = Frontend(c)
    c.open(lp)
    assert c.conn is None and fe.events == []
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    try:
        for n in range(2):
            assert pump(lp, lambda: c.conn is not None, timeout=4)
            peer, _ = srv.accept()
            c.write(b"round %d" % n)
            assert recv_until(peer, b"round %d" % n) == b"round %d" % n
            peer.close()
            assert pump(lp, lambda: c.conn is None)
        assert fe.events == ["opened", "closed", "opened", "closed"]
    finally:
        srv.close()


def test_unix_server_and_client_chardevs(loop, tmp_path):
    lp, _ = loop
    path = str(tmp_path / "pair.sock")
    server = make(loop, id="us", path=path, server="on", wait="off")
    fs = Frontend(server)
    server.open(lp)
    client = make(loop, id="uc", path=path)
    fc = Frontend(client)
    client.open(lp)
    assert pump(lp, lambda: server.conn is not None)
    client.write(b"client->server")
    server.write(b"server->client")
    assert pump(lp, lambda: bytes(fs.data) == b"client->server" and
                bytes(fc.data) == b"server->client")
    assert server.filename() == f"unix:{path},server=on"
    assert client.filename() == f"unix:{path}"
    client.close()
    assert pump(lp, lambda: fs.events[-1:] == ["closed"])
    server.close()
    assert not os.path.exists(path)             # the server removes its socket file


def test_slow_peer_does_not_block_and_gets_everything(loop):
    lp, _ = loop
    c = make(loop, id="slow", port="0", server="on", wait="off")
    Frontend(c)
    c.open(lp)
    peer = socket.create_connection(("127.0.0.1", int(c.port)), timeout=5)
    assert pump(lp, lambda: c.conn is not None)
    blob = bytes(range(256)) * 2048             # 512 KiB, more than the socket buffers
    start = time.monotonic()
    for i in range(0, len(blob), 4096):
        c.write(blob[i:i + 4096])
    assert time.monotonic() - start < 2.0       # writes never wait for the peer
    got = bytearray()
    peer.settimeout(0.05)
    end = time.monotonic() + 10
    while len(got) < len(blob) and time.monotonic() < end:
        lp.poll(0)
        try:
            got += peer.recv(65536)
        except socket.timeout:
            pass
    assert len(got) == len(blob)
    assert bytes(got) == blob
    peer.close()


# --- ringbuf -----------------------------------------------------------------------------

def test_ringbuf_keeps_the_newest_bytes(loop):
    with pytest.raises(ChardevError, match="power of two"):
        chardevs.create({"backend": "ringbuf", "id": "bad", "size": "1000"})
    rb = chardevs.create({"backend": "ringbuf", "id": "rb", "size": "16"})
    rb.write(b"0123456789")
    assert rb.contents() == b"0123456789"
    rb.write(b"abcdefghij")
    assert rb.contents() == b"456789abcdefghij"
    assert rb.read(4) == b"4567"
    assert rb.contents() == b"89abcdefghij"
    assert rb.filename() == "ringbuf"


def test_ringbuf_through_qmp(loop):
    from pysystem.monitor.qmp import QMPMonitor
    rb = chardevs.create({"backend": "ringbuf", "id": "rb0", "size": "64"})
    fe = Frontend(rb)
    rb.write(b"guest output \xff")
    qmp = QMPMonitor(None)
    qmp.handle_line('{"execute":"qmp_capabilities"}')
    try:
        reply, = qmp.handle_line('{"execute":"ringbuf-read","arguments":{"device":"rb0",'
                                 '"size":6}}')
        assert reply == {"return": "guest "}
        reply, = qmp.handle_line('{"execute":"ringbuf-read","arguments":{"device":"rb0",'
                                 '"size":100,"format":"base64"}}')
        assert reply == {"return": "b3V0cHV0IP8="}
        reply, = qmp.handle_line('{"execute":"ringbuf-write","arguments":{"device":"rb0",'
                                 '"data":"aGk=","format":"base64"}}')
        assert reply == {"return": {}}
        # as in QEMU, ringbuf-write adds to the buffer (the guest does not see it)
        assert rb.contents() == b"hi" and bytes(fe.data) == b""
        reply, = qmp.handle_line('{"execute":"ringbuf-read","arguments":{"device":"x",'
                                 '"size":1}}')
        assert reply["error"]["desc"] == "Chardev 'x' not found"
    finally:
        qmp.close()


# --- host serial ports (a pty pair stands in for /dev/ttyUSB0) ---------------------------

def test_host_serial_port_through_pyserial(loop):
    module("serial")
    lp, _ = loop
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        opts = parse_legacy(name)
        c = chardevs.create(dict(opts, id="hostserial"))
        fe = Frontend(c)
        c.open(lp)
        assert c.filename() == f"serial:{name}"
        c.write(b"to the device")
        got = b""
        end = time.monotonic() + 5
        while b"to the device" not in got and time.monotonic() < end:
            lp.poll(0.02)
            got += os.read(master, 4096) if _readable(master) else b""
        assert got == b"to the device"
        os.write(master, b"from the device")
        assert pump(lp, lambda: bytes(fe.data) == b"from the device")
        c.close()
    finally:
        os.close(master)
        os.close(slave)
    with pytest.raises(ChardevError, match="Could not open '/dev/nonexistent-tty'"):
        chardevs.create({"backend": "serial", "id": "nope", "path": "/dev/nonexistent-tty"})


def _readable(fd) -> bool:
    import select
    return bool(select.select([fd], [], [], 0.05)[0])


def test_mux_over_a_socket_reannounces_focus_on_connect(loop):
    """``-serial mon:telnet::PORT,server,nowait``: the focused frontend (the monitor) hears
    mux-in again when a client connects, so it can show its prompt to that client."""
    lp, made = loop
    mux = chardevs.create({"backend": "socket", "id": "mx", "port": "0", "server": "on",
                           "wait": "off", "telnet": "on", "mux": "on"})
    made.append(mux)
    serial = Frontend(mux.claim())
    monitor = Frontend(mux.claim())         # attached last: it has the focus
    mux.open(lp)
    assert monitor.events[-1] == "mux-in"
    before = len(monitor.events)
    peer = socket.create_connection(("127.0.0.1", int(mux.backend.port)), timeout=5)
    assert pump(lp, lambda: len(monitor.events) > before)
    assert monitor.events[-1] == "mux-in"
    peer.sendall(b"typed\x01cfor the uart")
    assert pump(lp, lambda: bytes(serial.data) == b"for the uart")
    assert bytes(monitor.data) == b"typed"
    peer.close()


def test_logfile_copies_output_even_without_a_peer(loop, tmp_path):
    lp, made = loop
    log = tmp_path / "serial.log"
    c = chardevs.create({"backend": "socket", "id": "lg", "port": "0", "server": "on",
                         "wait": "off", "logfile": str(log)})
    made.append(c)
    Frontend(c)
    c.open(lp)
    c.write(b"before anyone listens\n")
    peer = socket.create_connection(("127.0.0.1", int(c.port)), timeout=5)
    assert pump(lp, lambda: c.conn is not None)
    c.write(b"while connected\n")
    assert recv_until(peer, b"connected\n") == b"while connected\n"
    peer.close()
    c.close()
    assert log.read_bytes() == b"before anyone listens\nwhile connected\n"
    c2 = chardevs.create({"backend": "null", "id": "lg2", "logfile": str(log),
                          "logappend": "on"})
    c2.write(b"appended\n")
    c2.close()
    assert log.read_bytes().endswith(b"connected\nappended\n")
    with pytest.raises(ChardevError, match="Could not open"):
        chardevs.create({"backend": "null", "id": "lg3", "logfile": "/nonexistent/dir/x"})
