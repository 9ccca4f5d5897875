"""``-d`` log categories and the ``-D`` log file, as QEMU's qemu_log_mask.

Code checks ``log.enabled.<cat>``-style flags outside hot paths only: the CPU
translator consults the mask when it generates code, not per instruction.  Each
machine owns its configuration (``Log``); the functions here act on the active one,
which is the log of the machine whose code runs (``Machine.in_effect``: its run, its
monitors, the embedding API's calls), so the call sites need no machine at hand.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Set, TextIO

CATEGORIES: Dict[str, str] = {
    "in_asm": "show target assembly code for each compiled TB",
    "op": "show the generated Python code for each compiled TB",
    "exec": "show trace before each executed TB (lots of logs)",
    "cpu": "show CPU registers before entering a TB (lots of logs)",
    "int": "show interrupts/exceptions in short format",
    "mmu": "log MMU-related activities",
    "unimp": "log unimplemented functionality",
    "guest_errors": "log when the guest OS does something invalid (eg accessing a non-existent register)",
    "page": "dump pages at beginning of user mode emulation",
    "nochain": "do not chain compiled TBs so that \"exec\" and \"cpu\" show complete traces",
    "trace": "log device register accesses (pysystem extension)",
    "net": "log user-network host traffic, in the order it reaches the guest (pysystem extension)",
}


class LogError(ValueError):
    pass


class Log:
    """One log configuration: the enabled categories (``mask``) and where lines go.

    A machine owns one (``machine.log``); the module's functions act on the *active*
    one, which the machine's run (``Machine.run_for``, the main loop) makes its own, so
    that two machines in a process keep their ``-d``/``-D`` apart."""

    def __init__(self) -> None:
        self.mask: Set[str] = set()
        self.out: TextIO = sys.stderr

    def set_mask(self, spec: str) -> None:
        """Parse ``-d in_asm,int,...`` and enable those categories."""
        names = [n for n in spec.split(",") if n]
        for n in names:
            if n not in CATEGORIES:
                raise LogError(f"Log items (comma separated): unknown item '{n}' (try -d help)")
        self.mask.clear()
        self.mask.update(names)

    def set_file(self, path: Optional[str]) -> None:
        """Send the log to ``path`` (``-D``), or back to stderr with None."""
        if path is None:
            self.out = sys.stderr
            return
        try:
            self.out = open(path, "w", buffering=1)
        except OSError as e:
            raise LogError(f"cannot open log file '{path}': {e.strerror}") from None


_active = Log()
mask: Set[str] = _active.mask      # the active log's (read by code outside hot paths)
_out: TextIO = _active.out


def active() -> Log:
    return _active


def activate(lg: Log) -> None:
    """Make ``lg`` the log the module's functions use."""
    global _active, mask, _out
    _active, mask, _out = lg, lg.mask, lg.out


@contextmanager
def using(lg: Log) -> Iterator[Log]:
    """``lg`` is the active log inside the block; the one before it is again after."""
    before = _active
    activate(lg)
    try:
        yield lg
    finally:
        activate(before)


def set_mask(spec: str) -> None:
    """``-d``: set the active log's categories."""
    _active.set_mask(spec)


def set_file(path: Optional[str]) -> None:
    """``-D``: send the active log to ``path`` (None: stderr)."""
    global _out
    _active.set_file(path)
    _out = _active.out


def enabled(cat: str) -> bool:
    return cat in mask


def log(cat: str, msg: str) -> None:
    """Write ``msg`` (one line, newline added) if category ``cat`` is on."""
    if cat in mask:
        _out.write(msg if msg.endswith("\n") else msg + "\n")


def write(text: str) -> None:
    """Write unconditionally to the log (used by callers that checked ``enabled``)."""
    _out.write(text)


def help_text() -> str:
    lines = ["Log items (comma separated):"]
    lines += [f"{k:<13}{v}" for k, v in CATEGORIES.items()]
    return "\n".join(lines)
