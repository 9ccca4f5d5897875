"""How a guest process's run ends, shared by the modules that end it: the exception that
carries its exit status, the marker a sigreturn returns, and what must reach disk or the
terminal before the process image goes.  A leaf module, so that process.py, the system
call modules and execve.py can all use it without importing one another."""
from __future__ import annotations

import sys

from pysystem import log

#: the emulator's own files (the log, the code cache's database, the gdb socket, shared
#: mappings' descriptors) get descriptors from here up, so that the guest's first open()
#: returns 3 as under a real kernel
OWN_FDS_FROM = 200

#: what sigreturn returns: the registers came from the frame, nothing to set
SIGRETURN = object()


class ProcessExit(Exception):
    """The guest process ended: ``status`` is its exit code."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


#: callables that flush_all runs first (the guest's MAP_SHARED file mappings: sys_memory)
BEFORE_EXIT: list = []


def flush_all() -> None:
    """What must reach disk or the terminal before the process image goes (exit, exec,
    death by a signal): os._exit and os.execve skip atexit, where the disk code cache
    writes its new blocks."""
    from pysystem import codecache
    for fn in BEFORE_EXIT:
        fn()
    sys.stdout.flush()
    sys.stderr.flush()
    log.active().out.flush()
    codecache.shared().flush()
