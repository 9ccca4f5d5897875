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
words, prefix) -> [candidates]``.  The table and the decorators live in hmp_table.py
(this module re-exports them); the modules holding the built-in commands (hmp_info,
hmp_memory, hmp_system, snapshot_cmds) import only the table, and this one imports
them, so there is no import cycle.

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

from typing import List, Tuple

from pysystem import __version__

from .hmp_complete import complete
from .hmp_expr import FormatState
from .hmp_table import (COMMANDS, COMPLETERS, INFO_COMMANDS, Command, MonitorError,  # noqa: F401
                        UsageError, add_completer, command, find, info_command, split_args,
                        split_name)

PROMPT = "(qemu) "


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


from . import hmp_info, hmp_memory, hmp_net, hmp_pci, hmp_system, snapshot_cmds  # noqa: E402,F401  (the commands)
