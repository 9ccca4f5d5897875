"""``-g port``: the gdb stub for one user-mode process, as ``qemu-arm -g 1234 prog``.

The emulator listens on TCP ``port`` (all addresses, as QEMU) and waits, before the
program's first instruction (the ELF interpreter's entry for a dynamic program), for a
debugger to connect: ``target remote :1234`` in gdb-multiarch.  The packets are the
system-mode stub's (monitor/gdbstub.py): registers, memory, breakpoints, watchpoints,
``c``/``s``/``vCont``, Ctrl-C.  What differs is the machine around it, which here is
``UserMachine``: the process's CPU as the one "CPU", a run state, and no monitor.  When
the program exits, gdb gets ``W`` with the exit status (QEMU's ``[Inferior 1 (process
N) exited with code NN]``), and ``X`` with the signal when a signal kills it; ``k``
ends the emulator.  A debugger that goes away lets the program run on to its end.
Reverse execution (system mode's ``bs``/``bc``) is not offered, as QEMU's user mode.
"""
from __future__ import annotations

import fcntl
import select
import socket
import sys
from typing import List, Optional

from pysystem.monitor.gdbstub import GdbStub

from .outcome import OWN_FDS_FROM, ProcessExit


class UserMachine:
    """What the gdb stub sees of the process: its CPU, a run state, listeners."""

    def __init__(self, cpu):
        self.cpus = [cpu]
        self.listeners: List = []
        self.run_state = "prelaunch"
        self.killed = False

    def add_listener(self, fn) -> None:
        self.listeners.append(fn)

    @property
    def running(self) -> bool:
        return self.run_state == "running"

    def pause(self, state: str = "paused") -> None:
        if self.run_state == "running":
            self.run_state = state
            self.cpus[0].exit_request = True
            for fn in list(self.listeners):
                fn("STOP", "")

    def resume(self) -> None:
        if self.run_state in ("paused", "debug", "prelaunch"):
            self.run_state = "running"

    def quit(self) -> None:
        """``k``: the stub said so; the run loop ends the process."""
        self.killed = True
        self.cpus[0].exit_request = True


class _Connection:
    """The debugger's socket as the chardev the stub writes to."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def set_handlers(self, can_read, read, event) -> None:
        pass

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            pass


def _high(sock: socket.socket) -> socket.socket:
    """The same socket on a descriptor >= OWN_FDS_FROM, so the guest's files number as
    under a kernel."""
    fd = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC if hasattr(fcntl, "F_DUPFD_CLOEXEC")
                     else 1030, OWN_FDS_FROM)
    high = socket.socket(sock.family, sock.type, sock.proto, fileno=fd)
    sock.close()
    return high


def listen(port: int) -> socket.socket:
    """The listening socket, on all addresses as QEMU's."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("", port))
        sock.listen(1)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, e.strerror, f"gdb port {port}") from None
    return _high(sock)


class UserGdb:
    """Runs a process under the debugger (``Process.run`` hands over to ``run``)."""

    def __init__(self, listener: socket.socket):
        self.listener = listener
        self.conn: Optional[socket.socket] = None
        self.stub: Optional[GdbStub] = None

    def _connect(self, proc) -> None:
        conn, _ = self.listener.accept()
        conn = _high(conn)
        self.listener.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        machine = UserMachine(proc.cpu)
        stub = self.stub = GdbStub(machine)
        stub.history = None          # no reverse execution in user mode (QEMU neither)
        stub.attach(_Connection(conn))
        stub._event("opened")        # a new debugger: the program stays stopped

    def _feed(self, block: bool) -> None:
        """Pass what the debugger sent to the stub; a closed connection detaches."""
        if self.conn is None:
            return
        if not block and not select.select([self.conn], [], [], 0)[0]:
            return
        try:
            data = self.conn.recv(4096)
        except OSError:
            data = b""
        if data:
            self.stub.receive(data)
            return
        self.stub._remove_all()
        self.conn.close()
        self.conn = None
        self.stub.machine.resume()

    def run(self, proc, run_slice) -> int:
        """Run the process under the debugger until it ends; its exit status."""
        self._connect(proc)
        machine = self.stub.machine
        try:
            while True:
                if machine.killed:
                    sys.stderr.write("pysystem: Terminated via GDBstub\n")
                    return 0
                if not machine.running and self.conn is not None:
                    self._feed(True)
                    continue
                run_slice()
                self._feed(False)
        except ProcessExit as e:
            self._finish(e)
            raise

    def signalled(self, guest_sig: int) -> None:
        """A signal kills the process: gdb hears ``X`` with its (guest) number."""
        self._close(f"X{guest_sig:02x}")

    def _finish(self, e: ProcessExit) -> None:
        self._close(f"W{e.status & 0xff:02x}")

    def _close(self, reply: str) -> None:
        if self.conn is None:
            return
        self.stub._send(reply)
        try:
            self.conn.close()
        except OSError:
            pass
        self.conn = None
