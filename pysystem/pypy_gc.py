"""PyPy's garbage collector, set for the emulator before the interpreter starts.

PyPy sizes its nursery (where new objects are made) from the CPU's cache, 1 MB on our
machine, and reads a different size only from ``PYPY_GC_NURSERY`` when the process
starts.  The emulator makes garbage fast: boxed integers in blocks not yet compiled by
the JIT, and source text, syntax trees and code objects while it translates.  With 1 MB
a cold boot of the reference guest ran about 240,000 minor collections, and so many
short-lived objects survived them that major collections took as long again (about 18 s
of GC in a 160 s boot).  With 8 MB, side by side with 1 MB, it took 116.6 s against
131.5 s and peaked at 383 MB against 423 (bench/RESULTS.md, "After the eighth round").

So the console scripts call :func:`restart_if_needed` first: under PyPy, when the
variable is not set, it sets it and executes the same command again in this process
(same pid, same terminal).  A variable the user set is left alone, and CPython never
restarts.
"""
from __future__ import annotations

import os
import platform
import sys
from typing import List, Optional

#: the nursery size the emulator runs with under PyPy (PyPy's own syntax: "8MB")
NURSERY = "8MB"
VARIABLE = "PYPY_GC_NURSERY"


def command_again() -> Optional[List[str]]:
    """The arguments that start this program again (after the interpreter's path), or
    None when they cannot be recovered (``python -c``, an interactive session)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return ["-m", spec.name] + sys.argv[1:]
    if sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
        return list(sys.argv)
    return None


def restart_if_needed() -> None:
    """Under PyPy without ``PYPY_GC_NURSERY`` set: set it and run this command again.
    Returns (doing nothing) on CPython, when it is set, or when the command cannot be
    run again."""
    if platform.python_implementation() != "PyPy" or VARIABLE in os.environ:
        return
    args = command_again()
    if args is None:
        return
    os.environ[VARIABLE] = NURSERY
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, [sys.executable] + args)
