"""Standing fuzz campaign: every host-facing front end of one running emulator at once.

One ``pysystem-arm`` process runs a bare-metal guest that echoes what it receives on
UART0 and UART1.  UART0 is a telnet server socket, UART1 a unix socket chardev, the
HMP monitor a unix socket, QMP another, and the gdb stub a tcp port.  From a seeded
generator, rounds of random bytes and random valid-looking messages (QMP requests
with random arguments, HMP command lines, gdb packets with good checksums, telnet
IAC sequences) go into all of them, clients connect and hang up mid-message.  After
the campaign:

* the process is alive, and nothing it wrote says "Traceback" or "internal error";
* every HMP answer line and every QMP error is one line (QMP: one JSON object per line);
* each front end still answers a well-formed request: QMP ``query-status``, HMP
  ``info status``, gdb ``?``, and the guest echoes a marker on both UARTs.

A second test types random bytes (Ctrl-A sequences among them) into ``-nographic``'s
stdio mux of serial port and monitor; Ctrl-A x still ends the emulator cleanly.

CI size: ``PYSYSTEM_FUZZ_ROUNDS`` (default 8) rounds.  Long run (2026-12-07, CPython
3.11, load average 20 on 2 cores): PYSYSTEM_FUZZ_ROUNDS=80 passed in 147 s (before the
per-round sync requests), 20 rounds with them in 41 s.
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import time

import pytest

from test_cli_run import MINI_DTS
from tools import module, script

ROUNDS = int(os.environ.get("PYSYSTEM_FUZZ_ROUNDS", "8"))

ECHO = """
    ldr r4, =0x10009000
    ldr r5, =0x1000a000
loop:
    ldr r0, [r4, #0x18]
    tst r0, #0x10
    ldreq r1, [r4]
    streq r1, [r4]
    ldr r0, [r5, #0x18]
    tst r0, #0x10
    ldreq r1, [r5]
    streq r1, [r5]
    b loop
"""

QMP_COMMANDS = ("query-status", "query-version", "query-commands", "stop", "cont",
                "qom-list", "qom-get", "qom-set", "human-monitor-command", "query-chardev",
                "query-block", "no-such-command", "snapshot-load", "system_reset", "")
HMP_LINES = ("info registers", "info mtree", "info qtree", "info chardev", "info status",
             "info snapshots", "info block", "x /4x 0x60010000", "xp /2i 0x60010000",
             "p 1+2*3", "p $pc", "stop", "cont", "system_reset", "log none", "help x",
             "nosuchcommand", "info", "x /99999999x 0", "xp /s 0xffffffff", "p ((((1",
             "info registers -a", "delvm nosuch", "loadvm nosuch")
GDB_PACKETS = ("?", "g", "m60010000,40", "m0,ffffffff", "M60100000,4:00000000", "p0", "pff",
               "P1=00000000", "Z0,60010000,4", "z0,60010000,4", "qSupported", "qC",
               "qXfer:features:read:target.xml:0,ffff", "vCont?", "Hg0", "s", "X0,0:", "qRcmd,",
               "qRcmd,696e666f20737461747573")
FORBIDDEN = (b"Traceback", b"internal error")


def _connect(address, timeout=10.0) -> socket.socket:
    end = time.monotonic() + 30
    while True:
        try:
            if isinstance(address, str):
                s = socket.socket(socket.AF_UNIX)
            else:
                s = socket.socket()
            s.settimeout(timeout)
            s.connect(address)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def _drain(s: socket.socket, quiet: float = 0.1, limit: float = 10.0) -> bytes:
    """Everything the peer sends until it is quiet for ``quiet`` seconds."""
    out = bytearray()
    end = time.monotonic() + limit
    s.settimeout(quiet)
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:        # the peer may hang up (gdb's D, k...)
            break
        if not data:
            break
        out += data
    s.settimeout(10)
    return bytes(out)


def _until(s: socket.socket, marker: bytes, limit: float = 30.0) -> bytes:
    out = bytearray()
    end = time.monotonic() + limit
    while marker not in out:
        if time.monotonic() > end:
            raise AssertionError(f"no {marker!r} in {bytes(out[-400:])!r}")
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        assert data, f"connection closed before {marker!r}: {bytes(out[-400:])!r}"
        out += data
    return bytes(out)


def _gdb_packet(body: bytes) -> bytes:
    return b"$" + body + b"#%02x" % (sum(body) & 0xFF)


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 2 else 4)
    if kind == 0:
        return rng.choice((0, -1, 2**63, 1.5, 10**30))
    if kind == 1:
        return "".join(rng.choice("ab/\\\"\u00e9 \x01machine") for _ in range(rng.randrange(12)))
    if kind == 2:
        return rng.choice((True, False, None))
    if kind == 3:
        return rng.choice(("/machine", "type", "ram-size", "info status", "quit-not"))
    if kind in (4, 5):
        return {rng.choice(("path", "property", "value", "tag", "command-line", "x")):
                _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


def _qmp_request(rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) + b"\xff"
    req = {"execute": rng.choice(QMP_COMMANDS)}
    if rng.random() < 0.7:
        req["arguments"] = _random_json(rng, 1)
        if req["execute"] == "human-monitor-command":
            req["arguments"] = {"command-line": rng.choice(HMP_LINES)}
    if rng.random() < 0.5:
        req["id"] = _random_json(rng, 2)
    return json.dumps(req).encode()


def _hmp_line(rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        junk = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 200)))
        return junk.replace(b"q", b"Q") + b"\n"        # never "quit" by chance
    line = rng.choice(HMP_LINES)
    if rng.random() < 0.4:
        line += " " + "".join(rng.choice("0x9$()-~*/,% abc") for _ in range(rng.randrange(20)))
    return line.encode() + b"\r\n"


def _gdb_bytes(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if r < 0.5:
        body = "".join(rng.choice("0123456789abcdefmMgGpPZzqQvHs,;:=}*") for _ in range(40))
        return _gdb_packet(body.lstrip("kDRrvc").encode())
    return _gdb_packet(rng.choice(GDB_PACKETS).encode()) + b"+"


def _telnet_bytes(rng: random.Random) -> bytes:
    pieces = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 100)))]
    pieces.append(bytes((255, rng.choice((240, 241, 243, 244, 246, 250, 251, 252, 253, 254, 255)),
                         rng.randrange(256))))
    pieces.append(b"\xff\xfa\x18" + bytes(rng.randrange(256) for _ in range(20)))  # open SB
    rng.shuffle(pieces)
    return b"".join(pieces)


@pytest.fixture
def emulator(tmp_path):
    keystone, fdt = module("keystone"), module("fdt")
    code, _ = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM).asm(ECHO, 0x60010000)
    (tmp_path / "echo.bin").write_bytes(bytes(code))
    (tmp_path / "mini.dtb").write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    addr = {"qmp": str(tmp_path / "qmp.sock"), "hmp": str(tmp_path / "hmp.sock"),
            "uart1": str(tmp_path / "uart1.sock"), "gdb": ("127.0.0.1", ports[0]),
            "uart0": ("127.0.0.1", ports[1])}
    cmd = [script("pysystem-arm"), "-M", "vexpress-a9", "-m", "64",
           "-kernel", str(tmp_path / "echo.bin"), "-dtb", str(tmp_path / "mini.dtb"),
           "-display", "none", "-nodefaults",
           "-serial", f"telnet:127.0.0.1:{ports[1]},server=on,wait=off",
           "-chardev", f"socket,id=u1,path={addr['uart1']},server=on,wait=off",
           "-serial", "chardev:u1",
           "-monitor", f"unix:{addr['hmp']},server=on,wait=off",
           "-qmp", f"unix:{addr['qmp']},server=on,wait=off",
           "-gdb", f"tcp:127.0.0.1:{ports[0]}"]
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    yield proc, addr
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _qmp_session(address) -> socket.socket:
    s = _connect(address)
    _until(s, b"\n")                                # the greeting
    s.sendall(b'{"execute":"qmp_capabilities"}\n')
    _until(s, b"\n")
    return s


def test_random_input_into_every_front_end(emulator):
    proc, addr = emulator
    rng = random.Random(2026)
    replies = {"qmp": bytearray(), "hmp": bytearray(), "gdb": bytearray(), "uart": bytearray()}
    for _ in range(ROUNDS):
        qmp = _qmp_session(addr["qmp"])
        hmp = _connect(addr["hmp"])
        gdb = _connect(addr["gdb"])
        u0 = _connect(addr["uart0"])
        u1 = _connect(addr["uart1"])
        for _ in range(6):
            qmp.sendall(_qmp_request(rng) + b"\n")
            hmp.sendall(_hmp_line(rng))
            gdb.sendall(_gdb_bytes(rng))
            u0.sendall(_telnet_bytes(rng))
            u1.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 500))))
        # each answers a well-formed request after the noise: its reply ends the round
        qmp.sendall(b'\xff{"execute":"query-status","id":"sync"}\n')
        replies["qmp"] += _until(qmp, b'"id": "sync"}') + _drain(qmp, 0.05)
        hmp.sendall(b"\r\ninfo status\r\n")
        replies["hmp"] += _until(hmp, b"VM status") + _drain(hmp, 0.05)
        gdb.sendall(b"#00+" + _gdb_packet(b"qC"))   # "#00" ends a packet left open
        replies["gdb"] += _until(gdb, b"QC") + _drain(gdb, 0.05)
        gdb.sendall(_gdb_packet(b"c"))              # let the guest run on
        replies["uart"] += _drain(u0, 0.05) + _drain(u1, 0.05)
        # hang up, some of them in the middle of a message
        qmp.sendall(b'{"execute": "query-')
        hmp.sendall(b"info reg")
        gdb.sendall(b"$m6001")
        for s in (qmp, hmp, gdb, u0, u1):
            s.close()
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")

    # every front end still answers a well-formed request
    qmp = _qmp_session(addr["qmp"])
    qmp.sendall(b'{"execute":"cont"}\n{"execute":"query-status","id":"last"}\n')
    last = [json.loads(line) for line in _until(qmp, b'"last"').splitlines() if line.strip()]
    assert last[-1]["return"]["running"] is True
    hmp = _connect(addr["hmp"])
    hmp.sendall(b"info status\r\n")
    assert b"VM status: running" in _until(hmp, b"VM status") + _drain(hmp)
    gdb = _connect(addr["gdb"])
    gdb.sendall(_gdb_packet(b"?"))
    assert b"$T05" in _until(gdb, b"#")
    gdb.sendall(b"+" + _gdb_packet(b"c"))
    time.sleep(0.2)
    gdb.close()
    u0, u1 = _connect(addr["uart0"]), _connect(addr["uart1"])
    _drain(u0, 0.2)                                 # telnet negotiation
    u0.sendall(b"marker-zero\r\n")
    u1.sendall(b"marker-one\n")
    assert b"marker-zero" in _until(u0, b"marker-zero")
    assert b"marker-one" in _until(u1, b"marker-one")

    # answers were one line each, and nothing was a traceback
    for line in bytes(replies["qmp"]).splitlines():
        if line.strip():
            msg = json.loads(line)
            assert "error" not in msg or "\n" not in msg["error"]["desc"], msg
    everything = b"".join(bytes(v) for v in replies.values())
    for word in FORBIDDEN:
        assert word not in everything
    assert replies["uart"]
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    for word in FORBIDDEN:
        assert word not in err, err.decode(errors="replace")[-2000:]


def test_random_bytes_into_the_stdio_mux(tmp_path):
    """-nographic: the serial port and the monitor share stdio through the mux, with
    Ctrl-A commands; random bytes (Ctrl-A sequences included, but for x: quit) switch
    between them and type into both.  Then Ctrl-A x still ends the emulator cleanly."""
    keystone, fdt = module("keystone"), module("fdt")
    code, _ = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM).asm(ECHO, 0x60010000)
    (tmp_path / "echo.bin").write_bytes(bytes(code))
    (tmp_path / "mini.dtb").write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    rng = random.Random(77)
    chunks = []
    for _ in range(25):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 150)))
        junk = junk.replace(b"\x01x", b"\x01?").replace(b"\x01X", b"\x01?")
        junk = junk.replace(b"q", b"Q")                 # never the monitor's quit
        if rng.random() < 0.3:
            junk += b"\x01" + bytes([rng.choice(b"hcbts\x01")])
        if rng.random() < 0.3:
            junk += rng.choice(HMP_LINES).encode() + b"\r"
        chunks.append(junk)
    stdin = b"".join(chunks)
    if stdin.endswith(b"\x01"):
        stdin += b"\x01"                                # not a dangling escape
    stdin += b"\x01x"
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.run([script("pysystem-arm"), "-M", "vexpress-a9", "-m", "64",
                           "-kernel", str(tmp_path / "echo.bin"),
                           "-dtb", str(tmp_path / "mini.dtb"), "-nographic"],
                          input=stdin, capture_output=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    assert b": Terminated" in proc.stdout[-200:]        # what Ctrl-A x prints
    for word in FORBIDDEN:
        assert word not in proc.stdout + proc.stderr
