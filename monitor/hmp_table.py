"""The HMP command table: ``Command``, the ``command``/``info_command`` decorators,
completers, and the errors handlers raise (see hmp.py for how commands are written).

The modules holding commands (hmp_info, hmp_memory, hmp_system, snapshot_cmds) and the
completion (hmp_complete) import this table, and hmp.py imports them, so that no module
imports one that imports it back.
"""
from __future__ import annotations

import re
import shlex
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple


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
