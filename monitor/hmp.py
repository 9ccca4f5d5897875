"""The human monitor (HMP), minimal: a command table and a line reader.

    mon = Monitor(machine)                 # machine may be None (tests)
    text = mon.execute("info status")      # run one command line, get its output
    mon.attach(chardev)                    # serve a chardev (a mux port or stdio)

Commands live in tables of ``Command(name, params, help, handler)``:
``COMMANDS`` for top-level commands and ``INFO_COMMANDS`` for ``info X``.  A
handler is ``fn(mon, args: list[str]) -> str|None``; add commands with the
``@command(...)`` / ``@info_command(...)`` decorators (issue 5 extends the
tables and replaces the line reader with prompt_toolkit).  ``help`` output and
error texts follow QEMU's: ``unknown command: 'foo'``; the VM keeps running.

On a chardev the monitor prints QEMU's banner (with our name) and the
``(qemu) `` prompt when it first gets the keyboard (a mux's ``mux-in``, or
``opened`` for a chardev of its own), echoes what is typed, handles backspace,
and turns ``\\n`` into ``\\r\\n`` on output as QEMU's monitor does.
"""
from __future__ import annotations

import shlex
from typing import Callable, Dict, List, NamedTuple, Optional

from pysystem import QEMU_VERSION_COMPAT, __version__

PROMPT = "(qemu) "


class MonitorError(Exception):
    """A command failed; its message is printed as the command's output."""


class Command(NamedTuple):
    name: str                  # "quit|q": aliases after "|"
    params: str                # as help shows it: "[-f]", "[path]", ""
    help: str
    handler: Callable

    @property
    def names(self) -> List[str]:
        return self.name.split("|")

    def help_line(self, prefix: str = "") -> str:
        return f"{prefix}{self.name} {self.params} -- {self.help}"


COMMANDS: List[Command] = []
INFO_COMMANDS: List[Command] = []


def command(name: str, params: str = "", help: str = "", table: Optional[List[Command]] = None):
    """Decorator: add ``fn`` to the command table (``COMMANDS`` by default)."""
    def deco(fn):
        (COMMANDS if table is None else table).append(Command(name, params, help, fn))
        return fn
    return deco


def info_command(name: str, params: str = "", help: str = ""):
    return command(name, params, help, INFO_COMMANDS)


def find(table: List[Command], name: str) -> Optional[Command]:
    for cmd in table:
        if name in cmd.names:
            return cmd
    return None


class Monitor:
    def __init__(self, machine=None):
        self.machine = machine
        self.chardev = None
        self.line = bytearray()
        self.banner_shown = False
        self.focused = False
        self.is_mux = False
        self.quitting = False       # after quit: no new prompt

    # --- commands -------------------------------------------------------------------
    def execute(self, cmdline: str) -> str:
        """Run one command line; returns its output (lines ending in \\n)."""
        try:
            words = shlex.split(cmdline)
        except ValueError:
            words = cmdline.split()
        if not words:
            return ""
        cmd = find(COMMANDS, words[0])
        if cmd is None:
            return f"unknown command: '{words[0]}'\n"
        try:
            out = cmd.handler(self, words[1:])
        except MonitorError as e:
            out = str(e)
        except Exception as e:  # noqa: BLE001 - a broken command must not stop the VM
            out = f"internal error in '{words[0]}': {type(e).__name__}: {e}"
        if not out:
            return ""
        return out if out.endswith("\n") else out + "\n"

    # --- the chardev side -----------------------------------------------------------
    def attach(self, chardev) -> None:
        from pysystem.chardev import MuxPort
        self.chardev = chardev
        self.is_mux = isinstance(chardev, MuxPort)
        chardev.set_handlers(lambda: 4096, self._receive, self._event)

    def _out(self, text: str) -> None:
        if self.chardev is not None:
            self.chardev.write(text.replace("\n", "\r\n").encode("utf-8", "replace"))

    def _event(self, ev: str) -> None:
        if ev == "mux-in" or (ev == "opened" and not self.is_mux):
            self.focused = True
            if not self.banner_shown:
                self.banner_shown = True
                self._out(f"pysystem {__version__} monitor - type 'help' for more information\n")
            self._out(PROMPT + self.line.decode("utf-8", "replace"))
        elif ev == "mux-out":
            if self.focused:
                self._out("\n")
            self.focused = False

    def _receive(self, data: bytes) -> None:
        for b in data:
            if b in (0x0D, 0x0A):
                if b == 0x0A and getattr(self, "_last", None) == 0x0D:
                    self._last = b
                    continue
                self._last = b
                line = self.line.decode("utf-8", "replace")
                self.line.clear()
                self._out("\n")
                self._out(self.execute(line))
                if not self.quitting:
                    self._out(PROMPT)
                continue
            self._last = b
            if b in (0x7F, 0x08):
                if self.line:
                    del self.line[-1]
                    self._out("\b \b")
            elif b == 0x15:                     # Ctrl-U: kill the line
                self._out("\b \b" * len(self.line))
                self.line.clear()
            elif b >= 0x20:
                self.line.append(b)
                self.chardev.write(bytes((b,)))


# --- the commands ---------------------------------------------------------------------

def _machine(mon: Monitor):
    if mon.machine is None:
        raise MonitorError("no machine")
    return mon.machine


@command("help|?", "[cmd]", "show the help")
def _help(mon: Monitor, args: List[str]) -> str:
    if args:
        if args[0] == "info":
            return "\n".join(c.help_line("info ") for c in INFO_COMMANDS)
        cmd = find(COMMANDS, args[0])
        if cmd is None:
            return f"unknown command: '{args[0]}'"
        return cmd.help_line()
    return "\n".join(c.help_line() for c in sorted(COMMANDS, key=lambda c: c.name))


@command("info", "[subcommand]", "show various information about the system state")
def _info(mon: Monitor, args: List[str]) -> str:
    if not args:
        return _help(mon, ["info"])
    cmd = find(INFO_COMMANDS, args[0])
    if cmd is None:
        return f"unknown command: 'info {args[0]}'"
    return cmd.handler(mon, args[1:])


@command("quit|q", "", "quit the emulator")
def _quit(mon: Monitor, args: List[str]) -> str:
    _machine(mon).quit()
    mon.quitting = True
    return ""


@command("stop", "", "stop emulation")
def _stop(mon: Monitor, args: List[str]) -> str:
    _machine(mon).pause()
    return ""


@command("cont|c", "", "resume emulation")
def _cont(mon: Monitor, args: List[str]) -> str:
    _machine(mon).resume()
    return ""


@command("system_reset", "", "reset the system")
def _system_reset(mon: Monitor, args: List[str]) -> str:
    _machine(mon).request_reset("host-qmp-system-reset")
    return ""


_STATES = {"running": "running", "paused": "paused", "prelaunch": "paused (prelaunch)",
           "shutdown": "paused (shutdown)"}


@info_command("status", "", "show the current VM status (running|paused)")
def _info_status(mon: Monitor, args: List[str]) -> str:
    return f"VM status: {_STATES.get(_machine(mon).run_state, _machine(mon).run_state)}"


@info_command("version", "", "show the version of QEMU")
def _info_version(mon: Monitor, args: List[str]) -> str:
    return f"{__version__} (pysystem, QEMU {QEMU_VERSION_COMPAT} compatible)"


@info_command("mtree", "[-f][-d]",
              "show memory tree (-f: dump flat view for address spaces; -d: dump disabled regions)")
def _info_mtree(mon: Monitor, args: List[str]) -> str:
    from pysystem.memory import mtree_text
    flags = set()
    for a in args:
        if not a.startswith("-") or len(a) < 2:
            raise MonitorError(f"info mtree: invalid argument '{a}'")
        flags.update(a[1:])
    bad = flags - {"f", "d"}
    if bad:
        raise MonitorError(f"info mtree: invalid option '-{sorted(bad)[0]}'")
    return mtree_text(None, flatview="f" in flags, disabled="d" in flags)


@info_command("qom-tree", "[path]", "show QOM composition tree")
def _info_qom_tree(mon: Monitor, args: List[str]) -> str:
    from pysystem.qom import resolve_path
    path = args[0] if args else "/machine"
    top = resolve_path(path)
    if top is None:
        raise MonitorError(f"Path '{path}' could not be resolved")
    lines: List[str] = []

    def walk(obj, depth: int) -> None:
        lines.append(f"{'  ' * depth}/{obj.name or ''} ({obj.TYPE})")
        for child in obj.children.values():
            walk(child, depth + 1)
    walk(top, 0)
    return "\n".join(lines)


@info_command("chardev", "", "show the character devices")
def _info_chardev(mon: Monitor, args: List[str]) -> str:
    from pysystem.chardev import all_chardevs
    return "\n".join(f"{c.label}: filename={c.filename()}" for c in all_chardevs())


@info_command("registers", "[-a]", "show the cpu registers (-a: all CPUs)")
def _info_registers(mon: Monitor, args: List[str]) -> str:
    cpus = _machine(mon).cpus
    if not cpus:
        raise MonitorError("No CPU available")
    if args and args != ["-a"]:
        raise MonitorError(f"info registers: invalid argument '{args[0]}'")
    chosen = cpus if args == ["-a"] else cpus[:1]
    out = []
    for i, cpu in enumerate(chosen):
        if len(chosen) > 1:
            out.append(f"\nCPU#{i}")
        out.append(cpu.dump_registers().rstrip("\n"))
    return "\n".join(out)
