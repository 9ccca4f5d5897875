"""Hostile QMP input (issue 22) against the real pysystem-arm over a unix socket:
strict JSON (no NaN/Infinity in or out), host I/O errors of memsave/pmemsave worded as
QEMU's, arguments taken as values (file names with blanks), huge HMP output."""
from __future__ import annotations

import json

import pytest

from tools import module

qmp_legacy = module("qemu.qmp.legacy")

from test_qmp import RawQMP, emulator  # noqa: E402,F401 - the fixture


def strict(line: bytes):
    """Parse one reply as strict JSON (what any conforming client accepts)."""
    def refuse(name):
        raise ValueError(f"{name} in a reply")
    return json.loads(line, parse_constant=refuse)


def raw_session(emu) -> RawQMP:
    raw = RawQMP(emu.raw())
    raw.line()
    assert raw.ask('{"execute":"qmp_capabilities"}') == {"return": {}}
    return raw


def raw_reply_line(raw: RawQMP) -> bytes:
    while b"\r\n" not in raw.buf:
        data = raw.sock.recv(65536)
        assert data, "connection closed"
        raw.buf += data
    line, raw.buf = raw.buf.split(b"\r\n", 1)
    return line


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_numbers_are_refused_never_echoed(emulator, literal):
    # QEMU 7.2 refuses NaN/Infinity ("JSON parse error, stray 'N'"); for 1e400 it
    # echoes "id": inf, which is not JSON: we refuse it as a parse error instead.
    emu = emulator("-M", "none", "-display", "none", "-S")
    raw = raw_session(emu)
    raw.send('{"execute":"query-status","id":%s}\n' % literal)
    reply = strict(raw_reply_line(raw))
    assert reply["error"]["class"] == "GenericError"
    assert reply["error"]["desc"].startswith("JSON parse error")
    assert "id" not in reply
    # the monitor still answers, and finite numbers are still echoed
    raw.send('{"execute":"query-status","id":1e308}\n')
    assert strict(raw_reply_line(raw))["id"] == 1e308


@pytest.fixture
def client(emulator, qmp_event_loop):
    emu = emulator("-M", "vexpress-a9", "-display", "none", "-S")
    qmp = qmp_legacy.QEMUMonitorProtocol(emu.address)
    qmp.connect(negotiate=True)
    yield qmp
    qmp.close()


@pytest.mark.parametrize("command", ["memsave", "pmemsave"])
def test_save_to_unwritable_files_is_an_ordinary_error(client, tmp_path, command):
    for path, desc in [("/dev/full", "An IO error has occurred"),
                       (str(tmp_path / "no" / "such"),
                        f"Could not open '{tmp_path / 'no' / 'such'}': No such file or directory")]:
        reply = client.cmd_obj({"execute": command, "arguments": {
            "val": 0x60000000, "size": 200000, "filename": path}})
        assert reply == {"error": {"class": "GenericError", "desc": desc}}
    assert client.cmd_obj({"execute": "query-status"})["return"]["status"] == "prelaunch"


@pytest.mark.parametrize("command", ["memsave", "pmemsave"])
def test_save_file_name_with_blanks_is_a_value(client, tmp_path, command):
    path = tmp_path / "a file; with blanks"
    reply = client.cmd_obj({"execute": command, "arguments": {
        "val": 0x60000000, "size": 4096, "filename": str(path)}})
    assert reply == {"return": {}}
    assert path.stat().st_size == 4096


def test_huge_hmp_output_is_refused_whole_not_cut(client):
    reply = client.cmd_obj({"execute": "human-monitor-command",
                            "arguments": {"command-line": "xp /65536xg 0x60000000"}})
    assert reply["return"].startswith("output of up to ")
    assert "too large" in reply["return"] and reply["return"].count("\r\n") == 1
    # a dump just under the bound arrives whole, first line included
    reply = client.cmd_obj({"execute": "human-monitor-command",
                            "arguments": {"command-line": "xp /4000xg 0x60000000"}})
    lines = reply["return"].split("\r\n")
    assert lines[0].startswith("0000000060000000: ")
    assert lines[-2].startswith(f"{0x60000000 + 4000 * 8 - 16:016x}: ")


def test_qom_set_of_ram_size_and_smp_after_realize_is_refused(client):
    for prop, value in (("ram-size", 0), ("smp", -5)):
        reply = client.cmd_obj({"execute": "qom-set", "arguments": {
            "path": "/machine", "property": prop, "value": value}})
        assert reply["error"]["class"] == "GenericError"
    assert client.cmd_obj({"execute": "qom-get", "arguments": {
        "path": "/machine", "property": "smp"}})["return"] == 1
