"""The human monitor (HMP): one command table, QEMU's commands and texts.

    mon = Monitor(machine)                 # machine may be None (tests)
    text = mon.execute("info status")      # run one command line, get its output
    mon.attach(chardev)                    # serve a chardev (stdio, a mux port, pty, socket)
    mon.complete("info re")                # -> (start, ["registers"]): tab completion

QMP's ``human-monitor-command`` calls ``Monitor(machine).execute(line)`` (or a
long-lived Monitor, to keep the sticky ``x`` format).

Commands live in tables of ``Command``: ``COMMANDS`` for top-level commands
and ``INFO_COMMANDS`` for ``info X``.  Any module registers its own with the
decorators; the table is the only list (help, dispatch and completion read it)::

    from pysystem.monitor.hmp import command, info_command, MonitorError, UsageError

    @command("savevm", "tag", "save a VM snapshot", args=("snapshot",))
    def _savevm(mon, args):           # args: the words after the name (shell quoting)
        if not args: raise UsageError("savevm", "string expected")
        return "text to print"         # or None / ""

    @info_command("snapshots", "", "show the currently saved VM snapshots")
    def _info_snapshots(mon, args): ...

``raw=True`` hands the handler the unsplit rest of the line (``x``, ``print``).
More words than ``params`` names (``[-f]``, ``path``, ``[tag]`` are one each;
``words...`` takes any number) get QEMU's "extraneous characters" error before
the handler runs.
``args`` names what each positional argument is, for tab completion:
``command``, ``info``, ``qom-path``, ``qom-prop``, ``file``, ``expr`` (``$reg``
completes), ``log``, ``snapshot``, or anything else (no completion); a
completer for a new kind is added with ``add_completer(kind, fn)``, ``fn(mon,
words, prefix) -> [candidates]``.  The modules holding the built-in commands
(hmp_info, hmp_memory, hmp_system) are imported at the end of this one; the
snapshot commands come from ``pysystem.monitor.snapshot_cmds``, imported here
too if it exists.

Errors: a handler raises ``MonitorError(text)`` (printed as is, e.g. QEMU's
``Error: ...`` lines) or ``UsageError(cmd, text)`` (printed with QEMU's ``Try
"help cmd" for more information``).  Unknown commands print ``unknown command:
'foo'``; any other exception is reported in one line; the VM keeps running.

On a chardev the monitor prints QEMU's banner (with our name) and the ``(qemu) ``
prompt when it gets the keyboard (a mux's ``mux-in``, or ``opened``: every new
connection of a socket), and edits lines with ``readline.LineEditor`` (echo,
cursor keys, history, Ctrl-A/E/K/U/W, tab completion), turning ``\\n`` into
``\\r\\n`` on output as QEMU does.  A ``stdio`` chardev on a real terminal gets
prompt_toolkit instead (``readline_pt``; ``PYSYSTEM_MONITOR_READLINE=simple``
turns it off).
"""
from __future__ import annotations

import re
import shlex
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from pysystem import __version__

from .hmp_expr import FormatState

PROMPT = "(qemu) "


class MonitorError(Exception):
    """A command failed; its message is printed as the command's output."""


class UsageError(MonitorError):
    """Bad arguments: QEMU prints the reason and a pointer to ``help``."""

    def __init__(self, cmd: str, text: str):
        super().__init__(f"{text}\nTry \"help {cmd}\" for more information")


class Command(NamedTuple):
    name: str                  # "quit|q": aliases after "|"
    params: str                # as help shows it: "[-f]", "[path]", ""
    help: str
    handler: Callable
    raw: bool = False          # the handler gets the rest of the line unsplit
    args: Tuple[str, ...] = ()  # completion kind of each positional argument

    @property
    def names(self) -> List[str]:
        return self.name.split("|")

    def help_line(self, prefix: str = "") -> str:
        return f"{prefix}{self.name} {self.params} -- {self.help}"

    @property
    def max_args(self) -> float:
        """How many words ``params`` allows (each ``[-x]``, ``[-a|vcpu]``, ``path`` is one;
        ``words...`` any number)."""
        params = self.params.replace("[,...]", "")
        if "..." in params:
            return float("inf")
        return len(re.findall(r"[^\s\[\]]+", params))

    def check_args(self, args: List[str], help_prefix: str = "") -> None:
        """QEMU's "extraneous characters" error when there are more words than params."""
        if len(args) > self.max_args:
            label = self.name if not help_prefix else self.names[0]
            raise UsageError(help_prefix + self.names[0],
                             f"{label}: extraneous characters at the end of line")


COMMANDS: List[Command] = []
INFO_COMMANDS: List[Command] = []
COMPLETERS: Dict[str, Callable] = {}


def command(name: str, params: str = "", help: str = "", table: Optional[List[Command]] = None,
            raw: bool = False, args: Tuple[str, ...] = ()):
    """Decorator: add ``fn`` to the command table (``COMMANDS`` by default).

    A later registration of the same name replaces the earlier one.
    """
    def deco(fn):
        tbl = COMMANDS if table is None else table
        new = Command(name, params, help, fn, raw, tuple(args))
        for i, old in enumerate(tbl):
            if set(old.names) & set(new.names):
                tbl[i] = new
                break
        else:
            tbl.append(new)
        return fn
    return deco


def info_command(name: str, params: str = "", help: str = "", raw: bool = False,
                 args: Tuple[str, ...] = ()):
    return command(name, params, help, INFO_COMMANDS, raw, args)


def add_completer(kind: str, fn: Callable) -> None:
    """``fn(mon, words, prefix) -> [candidates]`` completes arguments of ``kind``."""
    COMPLETERS[kind] = fn


def find(table: List[Command], name: str) -> Optional[Command]:
    for cmd in table:
        if name in cmd.names:
            return cmd
    return None


def split_name(line: str) -> Tuple[str, str]:
    """The command name (up to a blank or ``/``) and the rest of the line."""
    line = line.strip()
    i = 0
    while i < len(line) and not line[i].isspace() and line[i] != "/":
        i += 1
    return line[:i], line[i:]


def split_args(text: str) -> List[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


class Monitor:
    def __init__(self, machine=None):
        self.machine = machine
        self.chardev = None
        self.editor = None          # readline.LineEditor, on a chardev
        self.frontend = None        # readline_pt.PromptToolkitFrontend, on a terminal
        self.banner_shown = False
        self.focused = False
        self.is_mux = False
        self.quitting = False       # after quit: no new prompt
        self.fmt = FormatState()    # sticky x/print format and size
        self.cpu_index = 0          # the monitor's current CPU
        self.history: List[str] = []    # lines typed at this monitor (info history)

    # --- commands -------------------------------------------------------------------
    def execute(self, cmdline: str) -> str:
        """Run one command line; returns its output (lines ending in \\n)."""
        name, rest = split_name(cmdline)
        if not name:
            return "" if not rest.strip() else f"unknown command: '{rest.strip()}'\n"
        cmd = find(COMMANDS, name)
        if cmd is None:
            return f"unknown command: '{name}'\n"
        try:
            if cmd.raw:
                out = cmd.handler(self, rest)
            else:
                args = split_args(rest)
                if cmd.names[0] != "help":
                    cmd.check_args(args)
                out = cmd.handler(self, args)
        except MonitorError as e:
            out = str(e)
        except Exception as e:  # noqa: BLE001 - a broken command must not stop the VM
            out = f"internal error in '{name}': {type(e).__name__}: {e}"
        if not out:
            return ""
        return out if out.endswith("\n") else out + "\n"

    def complete(self, text: str) -> Tuple[int, List[str]]:
        """Completions of the last word of ``text``: (its start, sorted candidates)."""
        from .hmp_complete import complete
        return complete(self, text)

    # --- the machine ------------------------------------------------------------------
    def need_machine(self):
        if self.machine is None:
            raise MonitorError("no machine")
        return self.machine

    def cpu(self):
        """The current CPU, or None when the machine has none."""
        cpus = getattr(self.machine, "cpus", None) or []
        if not cpus:
            return None
        return cpus[self.cpu_index if self.cpu_index < len(cpus) else 0]

    # --- the chardev side -----------------------------------------------------------
    def attach(self, chardev) -> None:
        from pysystem.chardev import MuxPort
        from .readline import LineEditor
        from .readline_pt import PromptToolkitFrontend, wants_prompt_toolkit
        self.chardev = chardev
        self.is_mux = isinstance(chardev, MuxPort)
        self.editor = LineEditor(self._write_raw, self._line, self.complete, PROMPT)
        self.editor.history = self.history
        if wants_prompt_toolkit(chardev):
            self.frontend = PromptToolkitFrontend(self, chardev, PROMPT)
            chardev.set_handlers(None, None, self.frontend.event)
            return
        chardev.set_handlers(lambda: 4096, self._receive, self._event)

    def _write_raw(self, text: str) -> None:
        if self.chardev is not None:
            self.chardev.write(text.encode("utf-8", "replace"))

    def _out(self, text: str) -> None:
        self._write_raw(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    def _event(self, ev: str) -> None:
        if ev == "mux-in" or (ev == "opened" and not self.is_mux):
            self.focused = True
            # QEMU greets every new connection of a monitor's own chardev, a mux once
            if not self.banner_shown or ev == "opened":
                self.banner_shown = True
                self._out(f"pysystem {__version__} monitor - type 'help' for more information\n")
            if not self.quitting:
                self.editor.show_prompt()
        elif ev == "mux-out":
            if self.focused:
                self._out("\n")
            self.focused = False
        elif ev == "closed" and not self.is_mux:
            self.editor.reset_line()        # a half-typed line dies with its connection

    def _receive(self, data: bytes) -> None:
        if self.quitting:
            return
        try:
            self.editor.feed(data)
        except Exception as e:  # noqa: BLE001 - input must never take the emulator down
            self._out(f"\nmonitor input error: {type(e).__name__}: {e}\n")
            self.editor.reset_line()
            self.editor.show_prompt()

    def _line(self, line: str) -> bool:
        """One line was entered; returns whether to show a new prompt."""
        self._out(self.execute(line))
        return not self.quitting


def builtin_module_names() -> List[str]:
    return ["hmp_info", "hmp_memory", "hmp_system", "hmp_pci"]


def _load_builtin_commands() -> None:
    import importlib
    for mod in builtin_module_names():
        importlib.import_module(f"{__package__}.{mod}")
    try:
        importlib.import_module(f"{__package__}.snapshot_cmds")
    except ImportError as e:
        if "snapshot_cmds" not in str(e):
            raise


_load_builtin_commands()
