"""QMP end to end: the official qemu.qmp client library against pysystem-arm.

Every test starts a real pysystem-arm process with ``-qmp`` on a loopback or
unix socket and talks to it as a QEMU user would: qemu.qmp's sync API
(``QEMUMonitorProtocol``, what iotests and scripts use), its asyncio
``QMPClient``, and raw sockets where the exact bytes matter.  The expected
texts were taken from qemu-system-arm 7.2 (see monitor/qmp.py).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time

import pytest

from tools import module, script

qmp_legacy = module("qemu.qmp.legacy")
from qemu.qmp import QMPClient  # noqa: E402

pytestmark = pytest.mark.usefixtures("qmp_event_loop")     # conftest.py


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Emulator:
    """A pysystem-arm process with a QMP socket."""

    def __init__(self, tmp_path, *args: str, qmp: str = "unix", env=None):
        self.sock = str(tmp_path / "qmp.sock")
        if qmp == "unix":
            self.address = self.sock
            spec = ["-qmp", f"unix:{self.sock},server=on,wait=off"]
        else:
            port = free_port()
            self.address = ("127.0.0.1", port)
            spec = ["-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off"]
        environ = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
        environ.update(env or {})
        self.proc = subprocess.Popen([script("pysystem-arm"), *args, *spec],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=environ)
        self._wait_listening()

    def _wait_listening(self) -> None:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"pysystem-arm exited: {self.proc.stderr.read().decode()}")
            try:
                s = self.raw()
                s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("QMP socket never came up")

    def raw(self) -> socket.socket:
        if isinstance(self.address, str):
            s = socket.socket(socket.AF_UNIX)
        else:
            s = socket.socket()
        s.settimeout(10)
        s.connect(self.address)
        return s

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def emulator(tmp_path):
    made = []

    def make(*args, **kw):
        emu = Emulator(tmp_path, *args, **kw)
        made.append(emu)
        return emu
    yield make
    for emu in made:
        emu.stop()


class RawQMP:
    """Line-oriented raw QMP for checking exact replies."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def line(self) -> dict:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return json.loads(line)

    def send(self, data) -> None:
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self) -> dict:
        """The next message that is not an event."""
        while True:
            msg = self.line()
            if "event" not in msg:
                return msg

    def ask(self, data) -> dict:
        self.send(data)
        return self.reply()


# --- the sync client and the commands ----------------------------------------------------

def test_legacy_client_runs_the_commands(emulator):
    emu = emulator("-M", "none", "-display", "none", "-S", "-name", "guest=vm1,debug-threads=on")
    qmp = qmp_legacy.QEMUMonitorProtocol(emu.address)
    greeting = qmp.connect(negotiate=True)
    assert greeting["QMP"]["version"]["qemu"] == {"micro": 0, "minor": 2, "major": 7}
    assert greeting["QMP"]["version"]["package"].startswith("pysystem")
    assert greeting["QMP"]["capabilities"] == ["oob"]
    try:
        assert qmp.cmd_obj({"execute": "query-status"})["return"] == \
            {"status": "prelaunch", "singlestep": False, "running": False}
        assert qmp.cmd_obj({"execute": "query-version"})["return"]["qemu"]["major"] == 7
        assert qmp.cmd_obj({"execute": "query-name"})["return"] == {"name": "vm1"}
        names = {c["name"] for c in qmp.cmd_obj({"execute": "query-commands"})["return"]}
        for name in ("query-status", "stop", "cont", "system_reset", "system_powerdown", "quit",
                     "human-monitor-command", "snapshot-save", "snapshot-load",
                     "snapshot-delete", "qom-list", "qom-get", "qom-set", "query-chardev",
                     "query-jobs", "job-dismiss", "qmp_capabilities"):
            assert name in names
        chardevs = qmp.cmd_obj({"execute": "query-chardev"})["return"]
        mon = [c for c in chardevs if c["label"] == "compat_monitor0"]
        assert mon and mon[0]["filename"] == f"unix:{emu.sock},server=on"
        assert mon[0]["frontend-open"] is True
        out = qmp.cmd_obj({"execute": "human-monitor-command",
                           "arguments": {"command-line": "info status"}})["return"]
        assert out == "VM status: paused (prelaunch)\r\n"
        out = qmp.cmd_obj({"execute": "human-monitor-command",
                           "arguments": {"command-line": "nosuchcommand"}})["return"]
        assert "unknown command: 'nosuchcommand'" in out
        props = qmp.cmd_obj({"execute": "qom-list", "arguments": {"path": "/machine"}})["return"]
        kinds = {p["name"]: p["type"] for p in props}
        assert kinds["type"] == "string"
        assert kinds["unattached"] == "child<container>"
        assert kinds["peripheral"] == "child<container>"
        assert qmp.cmd_obj({"execute": "qom-get", "arguments": {
            "path": "/machine", "property": "type"}})["return"] == "none-machine"
        assert qmp.cmd_obj({"execute": "qom-get", "arguments": {
            "path": "/machine", "property": "no-shutdown"}})["return"] is False
        assert qmp.cmd_obj({"execute": "qom-get", "arguments": {
            "path": "/machine", "property": "unattached"}})["return"] == "/machine/unattached"
        err = qmp.cmd_obj({"execute": "qom-get", "arguments": {
            "path": "/machine", "property": "nope"}})["error"]
        assert err == {"class": "GenericError", "desc": "Property 'none-machine.nope' not found"}
        err = qmp.cmd_obj({"execute": "qom-get", "arguments": {
            "path": "/nope", "property": "x"}})["error"]
        assert err == {"class": "DeviceNotFound", "desc": "Device '/nope' not found"}
        err = qmp.cmd_obj({"execute": "qom-set", "arguments": {
            "path": "/machine", "property": "no-shutdown", "value": True}})["error"]
        assert err["class"] == "GenericError" and "after realize" in err["desc"]
        err = qmp.cmd_obj({"execute": "nosuch", "id": "seven"})
        assert err == {"error": {"class": "CommandNotFound",
                                 "desc": "The command nosuch has not been found"}, "id": "seven"}
        assert qmp.cmd_obj({"execute": "cont"})["return"] == {}
        assert qmp.cmd_obj({"execute": "query-status"})["return"]["status"] == "running"
        assert qmp.cmd_obj({"execute": "stop"})["return"] == {}
        assert qmp.cmd_obj({"execute": "query-status"})["return"]["status"] == "paused"
        events = [e["event"] for e in qmp.get_events(wait=False)]
        assert events == ["RESUME", "STOP"]
        assert qmp.cmd_obj({"execute": "quit"})["return"] == {}
    finally:
        try:
            qmp.close()
        except EOFError:        # after quit; qemu.qmp does the same with QEMU
            pass
    assert emu.proc.wait(20) == 0


# --- events through the asyncio client ---------------------------------------------------

async def _events_session(address, pid_wait):
    client = QMPClient("test")
    await client.connect(address)
    seen = []

    async def next_event(name):
        while True:
            ev = await asyncio.wait_for(client.events.get(), 10)
            seen.append(ev)
            if ev["event"] == name:
                return ev

    assert (await client.execute("query-status"))["status"] == "running"
    await client.execute("stop")
    stop = await next_event("STOP")
    assert set(stop["timestamp"]) == {"seconds", "microseconds"}
    assert abs(stop["timestamp"]["seconds"] - time.time()) < 60
    assert "data" not in stop
    await client.execute("cont")
    await next_event("RESUME")
    await client.execute("system_reset")
    reset = await next_event("RESET")
    assert reset["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
    await client.execute("system_powerdown")
    assert "data" not in await next_event("POWERDOWN")
    await client.execute("quit")
    shutdown = await next_event("SHUTDOWN")
    assert shutdown["data"] == {"guest": False, "reason": "host-qmp-quit"}
    try:
        await client.disconnect()
    except EOFError:        # the server went away after quit (the same with QEMU)
        pass
    return [e["event"] for e in seen]


def test_async_client_receives_events(emulator):
    emu = emulator("-M", "none", "-display", "none", qmp="tcp")
    names = asyncio.run(_events_session(emu.address, emu.proc.wait))
    assert names == ["STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN"]
    assert emu.proc.wait(20) == 0


def test_mon_control_on_a_chardev(emulator, tmp_path):
    port = free_port()
    emu = emulator("-M", "none", "-display", "none",
                   "-chardev", f"socket,id=qmp0,host=127.0.0.1,port={port},server=on,wait=off",
                   "-mon", "chardev=qmp0,mode=control")
    qmp = qmp_legacy.QEMUMonitorProtocol(("127.0.0.1", port))
    qmp.connect(negotiate=True)
    try:
        labels = {c["label"] for c in qmp.cmd_obj({"execute": "query-chardev"})["return"]}
        assert "qmp0" in labels
    finally:
        qmp.close()
    # a second client after the first left gets a fresh greeting and negotiation
    qmp = qmp_legacy.QEMUMonitorProtocol(("127.0.0.1", port))
    qmp.connect(negotiate=True)
    assert qmp.cmd_obj({"execute": "query-status"})["return"]["running"] is True
    qmp.close()


def test_qmp_shell_talks_to_pysystem(emulator):
    emu = emulator("-M", "none", "-display", "none", "-S")
    proc = subprocess.run([sys.executable, "-m", "qemu.qmp.qmp_shell", emu.sock],
                          input=b"query-status\nquery-version\n", capture_output=True, timeout=30)
    out = proc.stdout.decode()
    assert '"status": "prelaunch"' in out, proc.stderr.decode()
    assert '"major": 7' in out


# --- exact bytes: greeting, negotiation, errors ------------------------------------------

def generic(desc: str) -> dict:
    return {"error": {"class": "GenericError", "desc": desc}}


QEMU_REPLIES = [
    # (input, reply) as qemu-system-arm 7.2 gives them after qmp_capabilities
    ('[1,2]', {"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}),
    ('"str"', {"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}),
    ('{"execute":"query-status","arguments":{"x":1}}',
     {"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}),
    ('{"execute":"qom-get","arguments":{"path":"/machine"}}',
     {"error": {"class": "GenericError", "desc": "Parameter 'property' is missing"}}),
    ('{"execute":"qom-get","arguments":{"path":1,"property":"x"}}',
     {"error": {"class": "GenericError",
                "desc": "Invalid parameter type for 'path', expected: string"}}),
    ('{"foo":1}', generic("QMP input member 'foo' is unexpected")),
    ('{"execute":1}',
     {"error": {"class": "GenericError", "desc": "QMP input member 'execute' must be a string"}}),
    ('{"execute":"query-status","arguments":[]}',
     generic("QMP input member 'arguments' must be an object")),
    ('}', {"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}),
    ('{"a":}', {"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}),
    ('{bad}', generic("JSON parse error, invalid keyword 'bad'")),
    ('{"execute":"qmp_capabilities"}',
     {"error": {"class": "CommandNotFound",
                "desc": "Capabilities negotiation is already complete, command ignored"}}),
    ('{"execute":"job-dismiss","arguments":{"id":"nope"}}',
     {"error": {"class": "GenericError", "desc": "Job not found"}}),
    ('{"execute":"query-status","id":{"a":[1]}}',
     {"return": {"status": "running", "singlestep": False, "running": True}, "id": {"a": [1]}}),
]


def test_greeting_negotiation_and_error_texts(emulator):
    emu = emulator("-M", "none", "-display", "none")
    raw = RawQMP(emu.raw())
    greeting_bytes = raw.sock.recv(4096)
    assert greeting_bytes.endswith(b"\r\n")
    raw.buf = greeting_bytes
    assert list(raw.line()) == ["QMP"]
    assert raw.ask('{"execute":"query-status","id":1}') == {
        "error": {"class": "CommandNotFound",
                  "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}, "id": 1}
    assert raw.ask('{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}') == \
        {"return": {}}
    for text, expected in QEMU_REPLIES:
        assert raw.ask(text) == expected, text
    # two requests in one packet, and one split over several packets
    raw.send('{"execute":"query-name"} {"execute":"query-name","id":2}')
    assert raw.reply() == {"return": {}}
    assert raw.reply() == {"return": {}, "id": 2}
    for piece in ('{"exec', 'ute": "query-', 'name"', '}'):
        raw.send(piece)
        time.sleep(0.02)
    assert raw.reply() == {"return": {}}
    raw.sock.close()


def test_random_bytes_never_kill_the_server(emulator):
    emu = emulator("-M", "none", "-display", "none")
    rng = random.Random(1234)
    raw = RawQMP(emu.raw())
    raw.line()
    raw.ask('{"execute":"qmp_capabilities"}')
    for _ in range(20):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        raw.send(junk)
        # 0xFF resets QMP's JSON parser (as in QEMU): then a request is answered
        raw.send(b'\xff{"execute":"query-status","id":"after"}')
        while True:
            msg = raw.reply()
            if msg.get("id") == "after":
                assert msg["return"]["running"] is True
                break
            assert msg["error"]["class"] in ("GenericError", "CommandNotFound")
    # garbage, then the client hangs up mid-request: the next client is served
    raw.send(b'{"execute": "query-')
    raw.sock.close()
    qmp = qmp_legacy.QEMUMonitorProtocol(emu.address)
    qmp.connect(negotiate=True)
    assert qmp.cmd_obj({"execute": "query-status"})["return"]["running"] is True
    qmp.close()
    assert emu.proc.poll() is None


# --- snapshot jobs -----------------------------------------------------------------------

def _job_events(raw: RawQMP, job_id: str):
    states = []
    while True:
        msg = raw.line()
        if msg.get("event") == "JOB_STATUS_CHANGE" and msg["data"]["id"] == job_id:
            states.append(msg["data"]["status"])
            if msg["data"]["status"] == "concluded":
                return states


def test_snapshot_jobs_follow_qemus_states(emulator, tmp_path):
    emu = emulator("-M", "none", "-m", "1", "-display", "none", "-S")
    raw = RawQMP(emu.raw())
    raw.line()
    raw.ask('{"execute":"qmp_capabilities"}')
    # QEMU refuses an empty device list, as a failed job
    raw.send(json.dumps({"execute": "snapshot-save", "arguments": {
        "job-id": "bad", "tag": "t", "vmstate": "disk0", "devices": []}}))
    assert _job_events(raw, "bad") == ["created", "running", "aborting", "concluded"]
    jobs = raw.ask('{"execute":"query-jobs"}')["return"]
    assert jobs == [{"current-progress": 1, "status": "concluded", "total-progress": 1,
                     "type": "snapshot-save", "id": "bad",
                     "error": "At least one device is required for snapshot"}]
    raw.send('{"execute":"job-dismiss","arguments":{"id":"bad"}}')
    msgs = [raw.line(), raw.line()]
    assert {"return": {}} in msgs
    assert any(m.get("data") == {"status": "null", "id": "bad"} for m in msgs)
    assert raw.ask('{"execute":"query-jobs"}') == {"return": []}
    err = raw.ask(json.dumps({"execute": "snapshot-save", "arguments": {"job-id": "x"}}))
    assert err["error"]["desc"] == "Parameter 'tag' is missing"

    raw.send(json.dumps({"execute": "snapshot-save", "arguments": {
        "job-id": "save0", "tag": "first", "vmstate": "disk0", "devices": ["disk0"]}}))
    states = _job_events(raw, "save0")
    job = raw.ask('{"execute":"query-jobs"}')["return"][0]
    assert "error" not in job, job
    assert states == ["created", "running", "waiting", "pending", "concluded"]
    raw.send('{"execute":"job-dismiss","arguments":{"id":"save0"}}')
    raw.line(), raw.line()
    for kind, extra in (("snapshot-load", {"vmstate": "disk0"}), ("snapshot-delete", {})):
        raw.send(json.dumps({"execute": kind, "arguments": dict(
            {"job-id": kind, "tag": "first", "devices": ["disk0"]}, **extra)}))
        assert _job_events(raw, kind)[-1] == "concluded"
        job = raw.ask('{"execute":"query-jobs"}')["return"][0]
        assert job["type"] == kind and "error" not in job, job
        raw.send(json.dumps({"execute": "job-dismiss", "arguments": {"id": kind}}))
        raw.line(), raw.line()
    # the snapshot is gone: loading it again fails as a job error
    raw.send(json.dumps({"execute": "snapshot-load", "arguments": {
        "job-id": "again", "tag": "first", "vmstate": "disk0", "devices": ["disk0"]}}))
    assert _job_events(raw, "again")[-2:] == ["aborting", "concluded"]
    job = raw.ask('{"execute":"query-jobs"}')["return"][0]
    assert job["error"]


# --- pysystem as the connecting side ---------------------------------------------------

def test_pysystem_connects_to_a_listening_client(tmp_path):
    """QEMUMachine's way: the script listens (server=True) and the emulator connects."""
    path = str(tmp_path / "listen.sock")
    qmp = qmp_legacy.QEMUMonitorProtocol(path, server=True)
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "none", "-display", "none",
                             "-chardev", f"socket,id=mon,path={path}",
                             "-mon", "chardev=mon,mode=control"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        qmp.accept(timeout=20)
        assert qmp.cmd_obj({"execute": "query-status"})["return"]["running"] is True
        qmp.cmd_obj({"execute": "quit"})
        assert proc.wait(20) == 0
    finally:
        try:
            qmp.close()
        except EOFError:
            pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_qmp_on_an_inherited_socket():
    """``-chardev socket,id=mon,fd=N``: one end of a socketpair made by the parent."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "none", "-display", "none",
                             "-chardev", f"socket,id=mon,fd={theirs.fileno()}",
                             "-mon", "chardev=mon,mode=control"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, pass_fds=[theirs.fileno()])
    theirs.close()
    try:
        ours.settimeout(20)
        raw = RawQMP(ours)
        assert "QMP" in raw.line()
        assert raw.ask('{"execute":"qmp_capabilities"}') == {"return": {}}
        chardevs = raw.ask('{"execute":"query-chardev"}')["return"]
        assert {"frontend-open": True, "filename": f"fd:{proc.args[6].split('fd=')[1]}",
                "label": "mon"} in chardevs
        raw.ask('{"execute":"quit"}')
        assert proc.wait(20) == 0
    finally:
        ours.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_a_flooding_client_gets_every_reply(emulator):
    """Requests sent without reading the replies: the server stops reading while its
    replies back up, so nothing is lost or cut (QEMU suspends such a monitor too)."""
    emu = emulator("-M", "none", "-display", "none")
    sock = emu.raw()
    raw = RawQMP(sock)
    raw.line()
    raw.ask('{"execute":"qmp_capabilities"}')
    count = 3000
    request = b'{"execute":"query-commands","id":%d}\n'
    sender = __import__("threading").Thread(
        target=lambda: sock.sendall(b"".join(request % i for i in range(count))))
    sender.start()
    time.sleep(1.0)                     # let the replies back up
    for i in range(count):
        reply = raw.reply()
        assert reply["id"] == i and isinstance(reply["return"], list)
    sender.join(10)
    sock.close()
