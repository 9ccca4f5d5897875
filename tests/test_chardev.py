"""Chardevs: the -nographic mux on a real pseudo-terminal, the file and pty backends.

The terminal tests run ``pysystem-arm`` as the child of a pty (a real terminal
for it), type Ctrl-A sequences and check the bytes QEMU's mux would produce and
that the terminal settings (``stty -g``) are the same after every way out.
"""
from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import sys
import termios
import time

import pytest

from pysystem import chardev
from pysystem.chardev import EVENT_BREAK, EVENT_MUX_IN, EVENT_MUX_OUT, Chardev, MuxChardev
from pysystem.chardev.mux import help_text
from tools import script

HELP = (b"\r\n\rC-a h    print this help\r\n\rC-a x    exit emulator\r\n"
        b"\rC-a s    save disk data back to file (if -snapshot)\r\n"
        b"\rC-a t    toggle console timestamps\r\n\rC-a b    send break (magic sysrq)\r\n"
        b"\rC-a c    switch between console and monitor\r\n\rC-a C-a  sends C-a\r\n\r")


class Terminal:
    """A command running on a new pty, driven like a user at a terminal."""

    def __init__(self, script: str):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp("sh", ["sh", "-c", script])
        self.out = b""

    def read_until(self, marker: bytes, timeout: float = 30.0) -> bytes:
        end = time.monotonic() + timeout
        while marker not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} in {self.out!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF before {marker!r} in {self.out!r}")
                self.out += data
        return self.out

    def send(self, data: bytes, settle: float = 0.3) -> None:
        os.write(self.fd, data)
        time.sleep(settle)

    def finish(self, timeout: float = 30.0) -> bytes:
        try:
            self.read_until(b"AFTER=", timeout)
            self.read_until(b"\n", timeout)
            while True:
                r, _, _ = select.select([self.fd], [], [], 0.5)
                if not r:
                    break
                data = os.read(self.fd, 4096)
                if not data:
                    break
                self.out += data
        except OSError:
            pass
        finally:
            os.waitpid(self.pid, 0)
            os.close(self.fd)
        return self.out

    def child_pid(self) -> int:
        """The pid of the emulator (the shell's child)."""
        for _ in range(100):
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
            time.sleep(0.1)
        raise AssertionError("no child process")


def session(args: str) -> Terminal:
    binary = shlex.quote(script("pysystem-arm"))
    return Terminal(f"trap : INT; echo BEFORE=$(stty -g); {binary} {args}; "
                    f"echo STATUS=$?; echo AFTER=$(stty -g)")


def stty_states(out: bytes):
    text = out.decode(errors="replace")
    before = text.split("BEFORE=", 1)[1].split()[0]
    after = text.split("AFTER=", 1)[1].split()[0]
    status = int(text.split("STATUS=", 1)[1].split()[0])
    return before, after, status


def test_nographic_mux_keys_and_terminal_restored():
    t = session("-M none -nographic")
    t.read_until(b"(qemu) ")
    t.send(b"\x01h")
    t.read_until(b"sends C-a\r\n\r")
    assert HELP in t.out
    t.send(b"info status\r")
    t.read_until(b"VM status: running")
    t.send(b"foo\r")
    t.read_until(b"unknown command: 'foo'\r\r\n(qemu) ")
    # C-a c: to serial0 (no UART on -M none: input goes nowhere), and back
    t.send(b"\x01c")
    t.send(b"info status\r")
    t.send(b"\x01c")
    t.read_until(b"\r\r\n(qemu) ", 10)
    assert t.out.count(b"VM status") == 1
    t.send(b"\x01x")
    out = t.finish()
    assert b"pysystem: Terminated\r\n" in out
    before, after, status = stty_states(out)
    assert status == 0
    assert before == after


def test_timestamps_toggle():
    t = session("-M none -nographic")
    t.read_until(b"(qemu) ")
    t.send(b"\x01t")
    t.send(b"info version\r")
    t.read_until(b"compatible")
    t.send(b"\x01x")
    out = t.finish()
    tail = out.split(b"info version", 1)[1]
    assert b"] 0.1.0 (pysystem, QEMU" in tail
    assert b"] (qemu) pysystem: Terminated\r\n[00:00:0" in tail


@pytest.mark.parametrize("how", ["quit", "sigterm", "ctrl-c"])
def test_terminal_restored_on_every_exit(how):
    # -serial stdio -monitor none: stdio keeps signal=on, so Ctrl-C stops the emulator
    args = "-M none -nographic" if how != "ctrl-c" else "-M none -display none -serial stdio"
    t = session(args)
    if how == "ctrl-c":
        t.read_until(b"BEFORE=")
        t.read_until(b"\n")
        time.sleep(2.5)               # start-up: the terminal goes raw when the loop starts
        t.send(b"\x03")
    else:
        t.read_until(b"(qemu) ")
        if how == "quit":
            t.send(b"quit\r")
        else:
            os.kill(t.child_pid(), signal.SIGTERM)
    out = t.finish()
    before, after, status = stty_states(out)
    assert before == after, out
    assert status == 0, out
    if how != "quit":
        assert b"terminating on signal" in out


BROKEN_LOOP = ("import sys; from pysystem import main_loop; "
               "main_loop.MainLoop._idle_wait = lambda self, clock: 1 / 0; "
               "from pysystem.cli import main_arm; sys.argv[0] = 'pysystem-arm'; main_arm()")


def test_terminal_restored_after_an_internal_error():
    """The main loop dies while the terminal is raw: one line, status 1, terminal back."""
    t = Terminal(f"echo BEFORE=$(stty -g); {sys.executable} -c \"{BROKEN_LOOP}\" -M none -nographic; "
                 "echo STATUS=$?; echo AFTER=$(stty -g)")
    out = t.finish()
    before, after, status = stty_states(out)
    assert status == 1 and before == after, out
    assert b"pysystem-arm: internal error: ZeroDivisionError: division by zero\r\n" in out
    assert b"Traceback" not in out


def test_raw_mode_while_running():
    """While the emulator runs, the terminal is raw: no echo, no ICANON, Ctrl-C for the guest."""
    t = session("-M none -nographic")
    t.read_until(b"(qemu) ")
    attrs = termios.tcgetattr(t.fd)
    lflag = attrs[3]
    assert not lflag & (termios.ECHO | termios.ICANON | termios.ISIG)
    assert attrs[1] & termios.OPOST
    t.send(b"\x03")                   # not a signal under -nographic: goes to the monitor
    t.send(b"\x01x")
    out = t.finish()
    assert stty_states(out)[2] == 0
    assert b"terminating" not in out


# --- the mux in-process, with a recording backend -------------------------------------

class Recorder(Chardev):
    """A backend that keeps what is written to it; input comes from ``deliver``."""

    TYPE = "test-recorder-chardev"
    ABSTRACT = False

    def __init__(self, **props):
        super().__init__(**props)
        self.written = bytearray()

    def _write(self, data: bytes) -> int:
        self.written += data
        return len(data)


class Frontend:
    def __init__(self, port, room: int = 1024):
        self.got, self.events, self.room = bytearray(), [], room
        port.set_handlers(lambda: self.room, self.read, self.events.append)

    def read(self, data: bytes) -> None:
        assert len(data) <= self.room
        self.got += data
        self.room -= len(data)


def make_mux(nports=2, exits=None):
    backend = Recorder(id="b")
    mux = MuxChardev(backend=backend, id="m")
    ports = [mux.claim() for _ in range(nports)]
    fronts = [Frontend(p) for p in ports]
    if exits is not None:
        mux.on_exit = lambda: exits.append(True)
    mux.open(None)
    return backend, mux, ports, fronts


def test_mux_focus_escapes_and_events():
    exits = []
    backend, mux, ports, (mon, uart) = make_mux(exits=exits)
    assert mux.focused is ports[1]                    # the last frontend to attach
    assert uart.events[-1] == EVENT_MUX_IN and EVENT_MUX_IN not in mon.events
    backend.deliver(b"ab\x01\x01c")
    assert bytes(uart.got) == b"ab\x01c" and mon.got == b""
    backend.deliver(b"\x01b")
    assert uart.events[-1] == EVENT_BREAK
    backend.deliver(b"\x01c")
    assert uart.events[-1] == EVENT_MUX_OUT and mon.events[-1] == EVENT_MUX_IN
    backend.deliver(b"xy\x01z")                       # C-a z: unknown, dropped
    assert bytes(mon.got) == b"xy"
    backend.deliver(b"w")
    assert bytes(mon.got) == b"xyw"
    backend.deliver(b"\x01h")
    assert backend.written.endswith(help_text())
    assert not exits
    backend.deliver(b"\x01x")
    assert exits and backend.written.endswith(b"pysystem: Terminated\n\r")


def test_mux_output_from_every_port_and_flow_control():
    backend, mux, ports, (mon, uart) = make_mux()
    ports[0].write(b"from monitor\n")
    ports[1].write(b"from uart\n")
    assert bytes(backend.written) == b"from monitor\nfrom uart\n"
    uart.room = 0                                     # UART FIFO full: input waits
    backend.deliver(b"12345")
    assert uart.got == b""
    uart.room = 2
    ports[1].accept_input()
    assert bytes(uart.got) == b"12"
    uart.room = 100
    mux.pump_ports()
    assert bytes(uart.got) == b"12345"


def test_mux_timestamps_prefix_lines():
    backend, mux, ports, fronts = make_mux()
    backend.deliver(b"\x01t")
    ports[1].write(b"one\ntwo\n")
    lines = bytes(backend.written).split(b"\n")
    assert lines[0] == b"one"
    assert lines[1].startswith(b"[00:00:0") and lines[1].endswith(b"] two")
    backend.deliver(b"\x01t")
    ports[1].write(b"three\n")
    assert backend.written.endswith(b"two\nthree\n")


def test_mux_port_limit():
    backend, mux, ports, fronts = make_mux(nports=4)
    with pytest.raises(chardev.ChardevError, match="too many uses"):
        mux.claim()


# --- file and pty ---------------------------------------------------------------------

def test_file_backend(tmp_path):
    path = tmp_path / "out.txt"
    c = chardev.create({"backend": "file", "id": "f1", "path": str(path)})
    try:
        c.write(b"hello\n")
        assert path.read_bytes() == b"hello\n"
        with pytest.raises(chardev.ChardevError, match="already in use"):
            c.claim()
            c.claim()
    finally:
        chardev.close_all()
    c = chardev.create({"backend": "file", "id": "f2", "path": str(path), "append": "on"})
    c.write(b"more\n")
    chardev.close_all()
    assert path.read_bytes() == b"hello\nmore\n"
    c = chardev.create({"backend": "file", "id": "f3", "path": str(path)})
    chardev.close_all()
    assert path.read_bytes() == b""                    # truncated without append=on
    with pytest.raises(chardev.ChardevError, match="Could not open"):
        chardev.create({"backend": "file", "id": "f4", "path": str(tmp_path / "no" / "x")})
    with pytest.raises(chardev.ChardevError, match="Invalid parameter 'bogus'"):
        chardev.create({"backend": "file", "id": "f5", "path": str(path), "bogus": "1"})
    chardev.close_all()


def test_monitor_on_a_file_chardev(tmp_path):
    import subprocess
    path = tmp_path / "mon.txt"
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "none", "-nodefaults",
                             "-chardev", f"file,id=mon0,path={path}", "-mon", "chardev=mon0"])
    try:
        for _ in range(100):
            if path.exists() and b"(qemu) " in path.read_bytes():
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    assert path.read_bytes() == b"pysystem 0.1.0 monitor - type 'help' for more information\r\n(qemu) "


def test_pty_backend_serves_the_monitor():
    import subprocess
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "none", "-nodefaults",
                             "-chardev", "pty,id=p", "-mon", "chardev=p"],
                            stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        assert line.startswith("char device redirected to /dev/pts/") and line.endswith("(label p)\n")
        pts = line.split()[4]
        fd = os.open(pts, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"info status\r")
            got = b""
            end = time.monotonic() + 20
            while b"VM status: running" not in got and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    got += os.read(fd, 4096)
            assert b"VM status: running" in got
        finally:
            os.close(fd)
    finally:
        proc.terminate()
        proc.wait(10)
