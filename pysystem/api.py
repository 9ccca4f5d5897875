"""Machines as Python objects: the embedding API.

    from pysystem.api import Machine

    with Machine("vexpress-a9", m="256M", kernel="zImage", dtb="vexpress-v2p-ca9.dtb",
                 initrd="initramfs.cpio.gz", append="console=ttyAMA0",
                 prompt=r"/ # ") as m:
        m.console.expect(m.prompt, timeout=600)          # 600 s of guest time
        print(m.console.command("uname -a"))
        state = m.snapshot()                              # the whole machine, as bytes

Building: ``Machine(board, arch="arm", **options)`` takes the command line's options
as keywords (``m="256M"`` is ``-m 256M``; ``True`` is a flag such as ``S=True``; a
list repeats the option, ``drive=[...]``; ``_`` in a name stands for ``-``);
``Machine.from_args(["-M", "vexpress-a9", ...], arch="arm")`` takes a QEMU-style list.
Both go through the command line's own builder (``pysystem.cli.build``), so every
option and every error message is the command line's; a bad option raises
``MachineBuildError`` with that one line.  Unless the options name ``-serial``,
``-nographic``, ``-display`` or ``-nodefaults``, serial0 is the in-process console
(``console``) and there is no monitor on stdio.  ``prompt=`` (not an option) is the
default prompt of ``console.command``.

Running (guest time only advances inside these calls; host I/O of socket chardevs
is served meanwhile): ``run(instructions=N)``, ``run(until=predicate)``,
``run_for(guest_seconds)``; ``stop()``, ``resume()``, ``running``; ``reset()``;
``exit_status`` (None while the machine lives; set when the guest powered off or a
monitor said quit).  The console's waits (``console.expect``, ``console.command``,
api_console.py) run it too.

Inspecting and controlling: ``registers["pc"]`` (read and write, CPU 0;
``registers_of(i)`` for another), ``read_phys(addr, n)``, ``write_phys(addr, data)``,
``read_virt(addr, n)``, ``write_virt(addr, data)`` (through CPU 0's MMU),
``hmp("info mtree")`` -> text, ``qmp("query-status")`` -> its return value (a
``QMPCommandError`` for an error reply), ``events()`` -> the QMP events the machine
sent since the last call, ``save(tag)``/``load(tag)`` (the snapshot
store: ``-machine snapshot-dir=`` or the default one), ``snapshot()`` -> bytes,
``restore(data)``, ``save_file(path)``, ``load_file(path)``.  ``board`` is the machine
object itself (pysystem.machine.Machine).

``close()`` (or the end of a ``with`` block) releases its chardevs, monitors and disk
images.  Machines in one process are independent: their own object tree, chardevs,
clock and RAM, ``-global`` defaults, ``-d``/``-D`` log and QMP event subscribers
(each call above puts its machine in effect: ``pysystem.machine.Machine.in_effect``).
What they share, on purpose: the translated-code disk cache.
"""
from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from .api_console import Console, ConsoleError

__all__ = ["Machine", "MachineBuildError", "QMPCommandError", "Console", "ConsoleError"]

CONSOLE_ID = "api-console"
_SNAP_TAG = "api"           # the tag of snapshots kept outside the store


def _in_effect(method):
    """The method runs with its machine in effect (its log, its -global defaults)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self.board.in_effect():
            return method(self, *args, **kwargs)
    return call


class MachineBuildError(Exception):
    """The options do not make a machine; the command line's one-line message."""


class QMPCommandError(Exception):
    """A QMP command answered with an error: ``error_class`` and the text."""

    def __init__(self, error_class: str, desc: str):
        super().__init__(f"{error_class}: {desc}")
        self.error_class, self.desc = error_class, desc


def options_to_args(board: Optional[str], options: Dict[str, Any]) -> List[str]:
    """The argument list for ``Machine(board, **options)``."""
    args: List[str] = ["-M", board] if board else []
    for key, value in options.items():
        word = "-" + key.replace("_", "-")
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None or v is False:
                continue
            args += [word] if v is True else [word, str(v)]
    return args


class Machine:
    """One emulated machine, driven from Python (see the module docstring)."""

    def __init__(self, board: Optional[str] = None, *, arch: str = "arm",
                 prompt: Optional[str] = None, **options: Any):
        self._build(options_to_args(board, options), arch, prompt)

    @classmethod
    def from_args(cls, argv: Sequence[str], arch: str = "arm",
                  prompt: Optional[str] = None) -> "Machine":
        """A machine from a QEMU-style argument list (without the program name)."""
        self = cls.__new__(cls)
        self._build(list(argv), arch, prompt)
        return self

    # --- building -----------------------------------------------------------------------
    def _build(self, argv: List[str], arch: str, prompt: Optional[str]) -> None:
        from . import chardev as chardevs, cli
        from .main_loop import MainLoop
        from .monitor.hmp import Monitor
        from .monitor.qmp import QMPMonitor
        self.prompt = prompt
        self.board = None
        self._closed = False
        registry = chardevs.ChardevRegistry()
        own_console = not any(a in ("-serial", "--serial", "-nographic", "--nographic",
                                    "-display", "--display", "-nodefaults", "--nodefaults")
                              for a in argv)
        if own_console:
            registry.create({"backend": "null", "id": CONSOLE_ID})
            argv = argv + ["-serial", f"chardev:{CONSOLE_ID}", "-display", "none"]
        try:
            built = cli.build(arch, f"pysystem-{arch}", argv, registry)
        except cli._USER_ERRORS as e:
            registry.close_all()
            raise MachineBuildError(cli._one_line(e)) from None
        if isinstance(built, int):
            registry.close_all()
            raise MachineBuildError("a help option does not build a machine")
        self.board, _ = built
        self.loop = MainLoop(self.board, sleep=bool(self.board.icount_sleep))
        cli.open_backends(self.board, self.loop)
        serial0 = self.board.serial_hd(0)
        self.console = Console(self, serial0) if serial0 is not None else None
        self._hmp = Monitor(self.board)
        self._events: List[Dict[str, Any]] = []
        self._qmp = QMPMonitor(self.board)     # subscribed to the machine's events from here
        self._qmp.on_event = self._events.append
        self._qmp.handle_request({"execute": "qmp_capabilities"})
        with self.board.in_effect():
            self.board.start()

    # --- running ------------------------------------------------------------------------
    @property
    def exit_status(self) -> Optional[int]:
        return self.loop.exit_status

    @property
    def running(self) -> bool:
        return self.board.running

    @property
    def icount(self) -> int:
        """Guest instructions run since the machine was made (or restored)."""
        return self.board.clock.icount

    @property
    def guest_ns(self) -> int:
        """Guest time in nanoseconds."""
        return self.board.clock.now()

    def run(self, instructions: Optional[int] = None,
            until: Optional[Callable[[], bool]] = None, _wait: bool = False) -> int:
        """Run ``instructions`` more guest instructions (to the end of the translated
        block that reaches the count: a few more at most), or until ``until()`` is true
        (checked between slices of at most 100,000 instructions), whichever comes
        first; also returns when the machine ends or waits with nothing to wake it.
        Returns the instructions run."""
        if instructions is None and until is None:
            raise ValueError("run() needs instructions= or until= (or use run_for)")
        self._check_alive()
        if not self.board.running and not _wait:
            raise RuntimeError("the machine is stopped: resume() it first")
        start = self.board.clock.icount
        limit = None if instructions is None else start + instructions
        self.loop.run(until=until, icount_limit=limit)
        return self.board.clock.icount - start

    def run_for(self, seconds: float) -> int:
        """Run for ``seconds`` of guest time; returns the instructions run."""
        clock = self.board.clock
        deadline = clock.now() + int(seconds * 1e9)
        return self.run(until=lambda: clock.now() >= deadline)

    def stop(self) -> None:
        self.board.pause()

    def resume(self) -> None:
        self.board.resume()

    @_in_effect
    def reset(self) -> None:
        """System reset (as the monitor's system_reset)."""
        self._check_alive()
        self.board.request_reset("host-qmp-system-reset")
        self.board.handle_requests()

    def _check_alive(self) -> None:
        if self._closed:
            raise RuntimeError("the machine is closed")
        if self.exit_status is not None:
            raise RuntimeError(f"the machine has ended ({self.board.shutdown_reason})")

    # --- inspection ---------------------------------------------------------------------
    @property
    def registers(self) -> "Registers":
        return Registers(self.board.cpus[0])

    def registers_of(self, cpu: int) -> "Registers":
        return Registers(self.board.cpus[cpu])

    @_in_effect
    def read_phys(self, addr: int, n: int) -> bytes:
        return self.board.address_space.read_bytes(addr, n)

    @_in_effect
    def write_phys(self, addr: int, data: bytes) -> None:
        self.board.address_space.write_bytes(addr, bytes(data))
        self._code_changed()

    @_in_effect
    def read_virt(self, addr: int, n: int, cpu: int = 0) -> bytes:
        return self.board.cpus[cpu].read_virt(addr, n)

    @_in_effect
    def write_virt(self, addr: int, data: bytes, cpu: int = 0) -> None:
        self.board.cpus[cpu].write_virt(addr, bytes(data))
        self._code_changed()

    def _code_changed(self) -> None:
        for cpu in self.board.cpus:
            cpu.exit_request = True

    @_in_effect
    def hmp(self, line: str) -> str:
        """Run one human-monitor command; returns its output."""
        out = self._hmp.execute(line)
        self.board.handle_requests()        # quit, system_reset: acted on at once
        return out

    @_in_effect
    def qmp(self, command: str, arguments: Optional[Dict[str, Any]] = None, **kw: Any) -> Any:
        """Run one QMP command; returns its ``return`` value."""
        args = dict(arguments or {}, **kw)
        reply = self._qmp.handle_request({"execute": command, "arguments": args})
        self.board.handle_requests()
        if "error" in reply:
            raise QMPCommandError(reply["error"]["class"], reply["error"]["desc"])
        return reply["return"]

    def events(self) -> List[Dict[str, Any]]:
        """The QMP events of this machine since the last call (as a QMP client gets
        them: ``{"event": "STOP", "timestamp": ..., "data": ...}``), oldest first."""
        out, self._events[:] = list(self._events), []
        return out

    # --- snapshots ----------------------------------------------------------------------
    @_in_effect
    def save(self, tag: str) -> None:
        """``savevm tag``: into the machine's snapshot store."""
        from . import snapshot
        snapshot.save(self.board, tag)

    @_in_effect
    def load(self, tag: str) -> None:
        """``loadvm tag``: from the machine's snapshot store."""
        from . import snapshot
        snapshot.load(self.board, tag)
        self._restored()

    def save_file(self, path: str) -> None:
        """The whole machine into the snapshot file ``path`` (pysystem's format)."""
        with self._private_store() as directory:
            self.save(_SNAP_TAG)
            shutil.move(os.path.join(directory, _SNAP_TAG + ".pysnap"), path)

    def load_file(self, path: str) -> None:
        """Restore the snapshot file ``path`` (from ``save_file``, or a ``savevm``)."""
        with self._private_store() as directory:
            os.symlink(os.path.abspath(path), os.path.join(directory, _SNAP_TAG + ".pysnap"))
            self.load(_SNAP_TAG)

    def snapshot(self) -> bytes:
        """The whole machine as bytes (a snapshot file's contents)."""
        with self._private_store() as directory:
            self.save(_SNAP_TAG)
            with open(os.path.join(directory, _SNAP_TAG + ".pysnap"), "rb") as f:
                return f.read()

    def restore(self, data: bytes) -> None:
        """Restore what ``snapshot()`` returned (of this or a like machine)."""
        with self._private_store() as directory:
            with open(os.path.join(directory, _SNAP_TAG + ".pysnap"), "wb") as f:
                f.write(data)
            self.load(_SNAP_TAG)

    def _private_store(self):
        return _PrivateStore(self.board)

    def _restored(self) -> None:
        if self.console is not None:
            self.console.drop_input()
            self.console.clear_position()

    # --- the end ------------------------------------------------------------------------
    def close(self) -> None:
        """Release chardevs, monitors and disk images (once)."""
        if self._closed or self.board is None:
            return
        self._closed = True
        self._qmp.close()
        stub = getattr(self.board, "gdbstub", None)
        if stub is not None:
            try:
                stub.detach()
            except Exception:  # noqa: BLE001 - closing must not hide the caller's error
                pass
        for mon in self.board.monitors:
            if hasattr(mon, "close"):
                mon.close()
        self.board.chardevs.close_all()
        if self.board.log.out not in (sys.stderr, sys.stdout):
            self.board.log.out.close()          # its -D file
        for drive in self.board.drives:
            if drive.backend is not None:
                drive.backend.close()

    def __enter__(self) -> "Machine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        b = self.board
        return f"<pysystem.api.Machine {type(b).NAME} {b.run_state} icount={b.clock.icount}>"


class _PrivateStore:
    """A temporary snapshot store for the machine, for one snapshot outside its own."""

    def __init__(self, board):
        self.board = board

    def __enter__(self) -> str:
        self.saved = self.board.snapshot_dir
        self.directory = tempfile.mkdtemp(prefix="pysystem-snap-")
        self.board.snapshot_dir = self.directory
        return self.directory

    def __exit__(self, *exc) -> None:
        self.board.snapshot_dir = self.saved
        shutil.rmtree(self.directory, ignore_errors=True)


class Registers:
    """CPU registers by name: ``regs["pc"]``, ``regs["r0"] = 1``, ``dict(regs)``."""

    def __init__(self, cpu):
        self.cpu = cpu

    def _gdb_regs(self) -> Dict[str, Any]:
        from .monitor.gdbstub_targets import target_for
        return {r.name: r for r in target_for(self.cpu).regs.values() if r is not None}

    def __getitem__(self, name: str) -> int:
        value = self.cpu.read_register(name)
        if value is None:
            reg = self._gdb_regs().get(name.lower())
            if reg is None:
                raise KeyError(name)
            return reg.get(self.cpu)
        return value

    def __setitem__(self, name: str, value: int) -> None:
        regs = self._gdb_regs()
        key = name.lower()
        if key not in regs:             # an alias the monitor knows (sp, fp, ...): by value
            aliases = {"sp": "r13", "lr": "r14", "pc": "r15", "fp": "r11", "ip": "r12",
                       "sl": "r10", "sb": "r9"}
            key = aliases.get(key, key)
            if key not in regs and key.startswith("r") and key[1:].isdigit():
                key = {"r13": "sp", "r14": "lr", "r15": "pc"}.get(key, key)
        reg = regs.get(key)
        if reg is None or reg.set is None:
            raise KeyError(name)
        reg.set(self.cpu, value)
        self.cpu.exit_request = True

    def keys(self) -> List[str]:
        return list(self.cpu.REGISTER_NAMES)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())
