"""HMP robustness: random bytes and random command lines never break the monitor.

An in-process vexpress-a9 with a monitor on a test chardev; hypothesis types
arbitrary bytes (escape sequences, control keys, invalid UTF-8, Tab) and
arbitrary argument strings after every command name that writes no files.
The monitor must answer every line with text, never raise, and still answer
``info status`` afterwards.  Also: the line editor's keys, the completer, and
registering a command from another module through the decorators.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysystem import qom
from pysystem.chardev import Chardev
from pysystem.monitor import hmp
from pysystem.monitor.hmp import COMMANDS, Monitor
from pysystem.monitor.readline import LineEditor

# commands that write host files, stop the process or change logging: not fuzzed
SKIP = {"memsave", "pmemsave", "logfile", "dumpdtb", "quit", "log", "savevm", "loadvm", "delvm"}


class Terminal(Chardev):
    TYPE = "test-hmp-terminal"
    ABSTRACT = False

    def __init__(self, **props):
        super().__init__(**props)
        self.written = bytearray()

    def _write(self, data: bytes) -> int:
        self.written += data
        return len(data)


@pytest.fixture(scope="module")
def machine():
    from pysystem.machine import find_machine
    from pysystem.machines import load_all
    load_all()
    cls = find_machine("vexpress-a9", "arm")
    assert cls is not None, "no vexpress-a9 board"
    qom.reset_root()
    m = cls(**{"ram-size": 32 << 20})
    m.realize()
    m.reset()
    m.start()
    yield m
    qom.reset_root()


@pytest.fixture
def in_tmp(tmp_path):
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def _fuzzable():
    names = []
    for c in COMMANDS:
        if not set(c.names) & SKIP:
            names.extend(c.names)
    return sorted(names)


class GuardedMonitor(Monitor):
    """The real monitor, except that lines naming a SKIP command run ``p 0`` instead."""

    def _line(self, line: str) -> bool:
        cmd = hmp.find(COMMANDS, hmp.split_name(line)[0])
        if cmd is not None and set(cmd.names) & SKIP:
            line = "p 0"
        return super()._line(line)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_into_the_monitor(machine, in_tmp, data):
    term = Terminal(id="fuzz")
    mon = GuardedMonitor(machine)
    mon.attach(term)
    term.open(None)
    term.deliver(data)
    term.deliver(b"\r")
    ed = mon.editor
    assert 0 <= ed.cursor <= len(ed.line)
    assert mon.execute("info status").startswith("VM status: ")
    assert bytes(term.written).startswith(b"pysystem ")
    machine.resume()
    machine._requests.clear()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_fuzzable()), st.text(max_size=60))
def test_random_arguments_give_text_not_tracebacks(machine, in_tmp, name, args):
    mon = Monitor(machine)
    if name in ("info",) and args.strip().startswith(("snapshots",)):
        args = "status"
    out = mon.execute(f"{name} {args}")
    assert isinstance(out, str)
    assert "Traceback" not in out
    assert "internal error" not in out, out
    machine.resume()                        # whatever it did, the VM goes on
    machine._requests.clear()
    assert mon.execute("info status") == "VM status: running\n"


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_completion_never_fails(text):
    mon = Monitor(None)
    start, cands = mon.complete(text)
    assert 0 <= start <= len(text)
    assert all(isinstance(c, str) for c in cands)


def test_line_editor_keys():
    out, lines = [], []
    ed = LineEditor(out.append, lambda l: lines.append(l) or True, None, "> ")
    ed.feed(b"hello\x1b[D\x1b[DXY\r")
    assert lines[-1] == "helXYlo"
    ed.feed(b"abc\x01Z\x05!\r")
    assert lines[-1] == "Zabc!"
    ed.feed(b"one two\x17three\r")
    assert lines[-1] == "one three"
    ed.feed(b"kill\x1b[H\x0b\rtail\x1b[D\x1b[D\x15\r")
    assert lines[-2:] == ["", "il"]
    ed.feed(b"\x1b[A\x1b[A\r")          # history: the previous non-empty lines
    assert lines[-1] == "one three"
    ed.feed(b"x\x1b[3~\x1b[Dy\x04\r")    # Delete at the end does nothing, Ctrl-D deletes
    assert lines[-1] == "y"
    ed.feed(b"\xff\xfeok\x1bOF\x1b[99;5~\r\n")     # CR LF is two Enters, as in QEMU
    assert lines[-2:] == ["ok", ""]
    ed.feed("häh\r".encode())
    assert lines[-1] == "häh"


def test_a_module_registers_commands_through_the_decorators(machine):
    @hmp.command("hmp-test-echo", "text...", "echo the arguments (test)", args=("qom-path",))
    def _echo(mon, args):
        return " ".join(args)

    @hmp.info_command("hmp-test", "", "a test info command")
    def _info(mon, args):
        raise hmp.UsageError("info hmp-test", "bad")
    try:
        mon = Monitor(machine)
        assert mon.execute("hmp-test-echo a 'b c'") == "a b c\n"
        assert mon.execute("info hmp-test") == "bad\nTry \"help info hmp-test\" for more information\n"
        assert "hmp-test-echo text... -- echo the arguments (test)\n" in mon.execute("help")
        assert mon.complete("hmp-test-e") == (0, ["hmp-test-echo"])
        assert mon.complete("hmp-test-echo /mach")[1] == ["/machine/"]
        assert mon.complete("info hmp-t") == (5, ["hmp-test"])
    finally:
        hmp.COMMANDS[:] = [c for c in hmp.COMMANDS if c.name != "hmp-test-echo"]
        hmp.INFO_COMMANDS[:] = [c for c in hmp.INFO_COMMANDS if c.name != "hmp-test"]


def test_completion_of_arguments(machine, tmp_path):
    (tmp_path / "dump.bin").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    mon = Monitor(machine)
    assert mon.complete("mem") == (0, ["memsave"])
    assert mon.complete("info qo") == (5, ["qom-tree"])
    assert mon.complete("help info sta") == (10, ["status"])
    assert mon.complete(f"memsave 0 16 {tmp_path}/d") == \
        (13, [f"{tmp_path}/dir/", f"{tmp_path}/dump.bin"])
    assert mon.complete(f"logfile {tmp_path}/du") == (8, [f"{tmp_path}/dump.bin"])
    assert mon.complete("qom-list /machine/unattached/uart")[1] == \
        [f"/machine/unattached/uart{i}" for i in range(4)]
    line = "qom-get /machine/unattached/uart0 ch"
    assert mon.complete(line) == (len(line) - 2, ["chardev"])
    line = "qom-set -j /machine no-r"
    assert mon.complete(line) == (len(line) - 4, ["no-reboot"])
    assert mon.complete("x /4i $p") == (6, ["$pc"])
    assert mon.complete("p 1+$r1")[1] == ["1+$r1", "1+$r10", "1+$r11", "1+$r12", "1+$r13",
                                          "1+$r14", "1+$r15"]
    assert mon.complete("log in_asm,ex") == (4, ["in_asm,exec"])
    assert mon.complete("stop ") == (5, [])
