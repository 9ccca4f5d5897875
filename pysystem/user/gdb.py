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

Signals: as QEMU's gdb_handlesig, a signal about to be delivered to the guest (one sent
to the process, not the CPU's own faults) is first reported to gdb as a stop (``T``
with gdb's number for it: SIGUSR1 is 0x1e), and the program waits; the packet that
resumes it says what is delivered: ``C`` with a signal delivers that one (gdb's
``continue`` passes the signal so), ``c`` none (gdb's ``signal 0``: discarded).  gdb's
``handle SIG nostop`` makes it resume with ``C`` at once.
"""
from __future__ import annotations

import fcntl
import select
import signal as _signal
import socket
import sys
from typing import Dict, List, Optional

from pysystem.monitor.gdbstub import GdbError, GdbStub

from .outcome import OWN_FDS_FROM, ProcessExit


#: gdb's own numbers for the signals (gdb/signals.def), by name
GDB_SIGNALS: Dict[str, int] = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6,
    "SIGFPE": 8, "SIGKILL": 9, "SIGBUS": 10, "SIGSEGV": 11, "SIGSYS": 12, "SIGPIPE": 13,
    "SIGALRM": 14, "SIGTERM": 15, "SIGURG": 16, "SIGSTOP": 17, "SIGTSTP": 18,
    "SIGCONT": 19, "SIGCHLD": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGIO": 23, "SIGXCPU": 24,
    "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGUSR1": 30,
    "SIGUSR2": 31, "SIGPWR": 32}


def gdb_signal(host_sig: int) -> int:
    """gdb's number for host signal ``host_sig`` (0 for one it has no name for)."""
    try:
        return GDB_SIGNALS.get(_signal.Signals(host_sig).name, 0)
    except ValueError:
        return 0


def host_signal(gdb_sig: int) -> int:
    """The host signal that gdb's number ``gdb_sig`` names (0: none)."""
    for name, n in GDB_SIGNALS.items():
        if n == gdb_sig and hasattr(_signal, name):
            return int(getattr(_signal, name))
    return 0


def resume_signal(payload: bytes) -> Optional[int]:
    """The gdb signal number a resuming packet passes (0 for none), or None when the
    packet does not resume the program."""
    text = payload.decode("latin-1")
    if text[:1] in ("c", "s"):
        return 0
    if text[:1] in ("C", "S"):
        try:
            return int(text[1:].split(";", 1)[0], 16)
        except ValueError:
            return None
    if text.startswith("vCont;"):
        for action in text[6:].split(";"):
            verb = action.split(":", 1)[0]
            if verb[:1] in ("C", "S"):
                try:
                    return int(verb[1:], 16)
                except ValueError:
                    return None
        return 0
    return None


class UserStub(GdbStub):
    """The gdb stub over the process's threads: noting the signal that each resuming
    packet passes, and naming threads as QEMU's user mode does (``p01.<tid>``: process
    1, the thread's id; ``CPU#n``: n one above the highest in use when it was made).  A stop names the thread that
    was on the CPU; ``Hg`` puts the named thread's registers on the CPU for gdb to read
    and write, and resuming puts the stopped one back first."""

    passed_signal = 0

    def __init__(self, machine: "UserMachine"):
        super().__init__(machine)
        self.proc = machine.proc
        self.stopped = machine.proc.current

    def handle(self, payload: bytes):
        sig = resume_signal(payload)
        if sig is not None:
            self.passed_signal = sig
            self.proc._switch_to(self._resumed_thread(payload.decode("latin-1")))
        if payload.startswith(b"qThreadExtraInfo,"):
            return self._thread_extra(payload[17:].decode("latin-1"))
        reply = super().handle(payload)
        if payload.startswith(b"Hg") and reply == "OK":
            self.proc._switch_to(self.proc.threads[self.g_cpu])
        return reply

    def _resumed_thread(self, text: str):
        """The thread that gets the CPU when gdb resumes: the one a vCont step names
        (unless it waits in a system call: then the one that stopped), else the one
        that stopped."""
        if text.startswith("vCont;"):
            for action in text[6:].split(";"):
                verb, _, tid = action.partition(":")
                if verb[:1] in ("s", "S") and tid:
                    try:
                        index = self._parse_tid(tid)
                    except GdbError:
                        break
                    if index is not None and index >= 0:
                        t = self.proc.threads[index]
                        if t.complete is None:
                            self.stopped = t
                    break
        return self.stopped

    def _tid(self, index: int) -> str:
        ts = self.proc.threads
        tid = ts[index].tid if 0 <= index < len(ts) else self.proc.current.tid
        return f"p01.{tid:02x}" if self.multiprocess else f"{tid:02x}"

    def _thread_index(self, n: int) -> int:
        """The index of thread id ``n`` (the guest thread's tid)."""
        for i, t in enumerate(self.proc.threads):
            if t.tid == n:
                return i
        raise GdbError(22)

    def _stop_reply(self, signal: int, index: int, watch=None) -> str:
        proc = self.proc
        self.stopped = proc.current
        self.g_cpu = self.c_cpu = proc.threads.index(proc.current)
        return super()._stop_reply(signal, self.c_cpu, watch)

    def _thread_extra(self, rest: str) -> str:
        try:
            index = self._parse_tid(rest)
        except GdbError:
            return "E22"
        t = self.proc.threads[0 if index is None or index < 0 else index]
        return f"CPU#{t.cpu_index} [running]".encode().hex()


class UserMachine:
    """What the gdb stub sees of the process: its CPU (once per thread: the stub puts
    the thread it looks at on it), a run state, listeners."""

    def __init__(self, proc):
        self.proc = proc
        self.listeners: List = []
        self.run_state = "prelaunch"
        self.killed = False

    @property
    def cpus(self) -> list:
        return [self.proc.cpu] * len(self.proc.threads)

    def add_listener(self, fn) -> None:
        self.listeners.append(fn)

    @property
    def running(self) -> bool:
        return self.run_state == "running"

    def pause(self, state: str = "paused") -> None:
        if self.run_state == "running":
            self.run_state = state
            self.proc.cpu.exit_request = True
            for fn in list(self.listeners):
                fn("STOP", "")

    def resume(self) -> None:
        if self.run_state in ("paused", "debug", "prelaunch"):
            self.run_state = "running"

    def quit(self) -> None:
        """``k``: the stub said so; the run loop ends the process."""
        self.killed = True
        self.proc.cpu.exit_request = True


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
        machine = UserMachine(proc)
        stub = self.stub = UserStub(machine)
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

    def lets_run(self) -> bool:
        """Whether the program runs (not stopped in the debugger)."""
        return self.stub is None or self.conn is None or self.stub.machine.running

    def report_signal(self, proc, host_sig: int) -> int:
        """``host_sig`` is about to be delivered: gdb hears of it and the program waits
        until gdb resumes it; the signal to deliver instead (0: none)."""
        stub = self.stub
        number = gdb_signal(host_sig)
        if self.conn is None or stub is None or not number:
            return host_sig
        machine = stub.machine
        stub.waiting = False
        machine.run_state = "debug"
        stub.passed_signal = 0
        stub._send(stub._stop_reply(number, 0))
        while not machine.running and self.conn is not None and not machine.killed:
            self._feed(True)
        if machine.killed:
            sys.stderr.write("pysystem: Terminated via GDBstub\n")
            raise ProcessExit(0)
        if self.conn is None:      # the debugger went away: the signal goes on
            return host_sig
        return host_signal(stub.passed_signal)

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
