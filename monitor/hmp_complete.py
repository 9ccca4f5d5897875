"""Tab completion for HMP: command names, info subcommands and arguments.

    start, candidates = complete(mon, "qom-list /machine/un")

The last word of the text is completed from the command table: word 0 from
``COMMANDS``; the arguments by the kinds in ``Command.args`` (see hmp_table.py):
``command`` and ``info`` (names), ``qom-path`` (object paths; children end in
``/``), ``qom-prop`` (the properties of the object named by the previous
word), ``file`` (host file names), ``expr`` (``$`` + register names), ``log``
(log items).  ``help info X`` completes info names.
"""
from __future__ import annotations

import glob
import os
from typing import List, Tuple

from . import hmp_table as hmp


def _names(table) -> List[str]:
    return [n for c in table for n in c.names]


def _qom_paths(mon, words, prefix: str) -> List[str]:
    from pysystem.qom import resolve_path
    if not prefix.startswith("/"):
        return ["/"] if "/".startswith(prefix) else []
    head, _, tail = prefix.rpartition("/")
    if mon.machine is None or mon.machine.root is None:
        return []
    node = resolve_path(head or "/", mon.machine.root)
    if node is None:
        return []
    out = []
    for name, child in node.children.items():
        if name.startswith(tail):
            out.append(f"{head}/{name}" + ("/" if child.children else ""))
    return out


def _qom_props(mon, words, prefix: str) -> List[str]:
    from pysystem.qom import resolve_path
    from .hmp_system import qom_properties
    top = mon.machine.root if mon.machine is not None else None
    node = resolve_path(words[-1], top) if words and top is not None else None
    if node is None:
        return []
    return [name for name, _ in qom_properties(node) if name.startswith(prefix)]


def _files(mon, words, prefix: str) -> List[str]:
    path = os.path.expanduser(prefix)
    out = []
    for p in glob.glob(glob.escape(path) + "*"):
        if prefix.startswith("~"):
            p = "~" + p[len(os.path.expanduser("~")):]
        out.append(p + "/" if os.path.isdir(os.path.expanduser(p)) else p)
    return out


def _expr(mon, words, prefix: str) -> List[str]:
    i = prefix.rfind("$")
    if i < 0:
        return []
    head, reg = prefix[:i + 1], prefix[i + 1:]
    cpu = mon.cpu()
    names = cpu.REGISTER_NAMES if cpu is not None else ()
    return [head + r for r in names if r.startswith(reg)]


def _log(mon, words, prefix: str) -> List[str]:
    from pysystem.log import CATEGORIES
    head, _, item = prefix.rpartition(",")
    head = head + "," if head else ""
    return [head + c for c in list(CATEGORIES) + ["none"] if c.startswith(item)]


for _kind, _fn in (("qom-path", _qom_paths), ("qom-prop", _qom_props), ("file", _files),
                   ("expr", _expr), ("log", _log)):
    hmp.add_completer(_kind, _fn)


def _split(text: str) -> Tuple[List[str], str, int]:
    """Words before the last one, the last (possibly empty) word, and where it starts."""
    words: List[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        j = i
        while j < n and not text[j].isspace():
            j += 1
        if j >= n:
            return words, text[i:], i
        words.append(text[i:j])
        i = j


def complete(mon, text: str) -> Tuple[int, List[str]]:
    words, last, start = _split(text)
    if not words:
        return start, sorted(n for n in _names(hmp.COMMANDS) if n.startswith(last))
    name = words[0].split("/", 1)[0]
    args = words[1:]
    if "/" in words[0] or (args and args[0].startswith("/") and name in ("x", "xp", "print", "p")):
        args = [a for a in args if not a.startswith("/")]
    if name in ("help", "?"):
        if not args:
            kind = "command"
        elif args == ["info"]:
            kind = "info"
        else:
            return start, []
        table = hmp.COMMANDS if kind == "command" else hmp.INFO_COMMANDS
        return start, sorted(n for n in _names(table) if n.startswith(last))
    if name == "info":
        if not args:
            return start, sorted(n for n in _names(hmp.INFO_COMMANDS) if n.startswith(last))
        cmd = hmp.find(hmp.INFO_COMMANDS, args[0])
        args = args[1:]
    else:
        cmd = hmp.find(hmp.COMMANDS, name)
    if cmd is None:
        return start, []
    opts = [a for a in args if a.startswith("-") and len(a) == 2 and a[1].isalpha()]
    pos = len(args) - len(opts)
    if last.startswith("$") or "$" in last:
        kind = "expr"
    elif pos < len(cmd.args):
        kind = cmd.args[pos]
    elif cmd.args and cmd.args[-1] == "expr":
        kind = "expr"
    else:
        return start, []
    if kind == "command":
        return start, sorted(n for n in _names(hmp.COMMANDS) if n.startswith(last))
    if kind == "info":
        return start, sorted(n for n in _names(hmp.INFO_COMMANDS) if n.startswith(last))
    fn = hmp.COMPLETERS.get(kind)
    if fn is None:
        return start, []
    try:
        cands = fn(mon, [a for a in args if a not in opts], last)
    except Exception:  # noqa: BLE001 - completion must never break the monitor
        return start, []
    return start, sorted(set(cands))
