"""Signal numbers (the host's and ARM's generic ones, MIPS's own) and the guest's signal
dispositions.

Signals are named by their generic (host) number inside the emulator; an architecture
whose numbers differ (MIPS) converts at the system call boundary with ``to_guest`` /
``to_host``.  A signal the guest has no handler for takes its default action, as the
kernel would: a fatal one ends the process the way QEMU does (a message, then the host
signal on the emulator itself, so the parent sees the same wait status).
"""
from __future__ import annotations

import signal as _signal
from typing import Dict, Optional

# generic numbering (asm-generic/signal.h: ARM and the host)
SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM = 9, 10, 11, 12, 13, 14, 15
SIGSTKFLT, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU = 16, 17, 18, 19, 20, 21, 22
SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = \
    23, 24, 25, 26, 27, 28, 29, 30, 31

#: MIPS's numbers (asm/signal.h) for the generic ones; real-time signals are equal
MIPS_OF_GENERIC: Dict[int, int] = {
    SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGFPE: 8,
    SIGKILL: 9, SIGBUS: 10, SIGSEGV: 11, SIGSYS: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
    SIGUSR1: 16, SIGUSR2: 17, SIGCHLD: 18, SIGPWR: 19, SIGWINCH: 20, SIGURG: 21, SIGIO: 22,
    SIGSTOP: 23, SIGTSTP: 24, SIGCONT: 25, SIGTTIN: 26, SIGTTOU: 27, SIGVTALRM: 28,
    SIGPROF: 29, SIGXCPU: 30, SIGXFSZ: 31,
}
GENERIC_OF_MIPS = {v: k for k, v in MIPS_OF_GENERIC.items()}

SIG_DFL, SIG_IGN = 0, 1
#: signals whose default action is to ignore them
DEFAULT_IGNORED = {SIGCHLD, SIGCONT, SIGURG, SIGWINCH}
#: QEMU's names in "qemu: uncaught target signal N (Name)"
_DESCR = {SIGSEGV: "Segmentation fault", SIGILL: "Illegal instruction", SIGBUS: "Bus error",
          SIGFPE: "Floating point exception", SIGTRAP: "Trace/breakpoint trap",
          SIGABRT: "Aborted"}


def describe(sig: int) -> str:
    try:
        return _DESCR.get(sig) or _signal.strsignal(sig) or f"Signal {sig}"
    except ValueError:
        return f"Signal {sig}"


class SignalTable:
    """The guest's dispositions: generic signal number -> (handler, flags, restorer, mask)."""

    def __init__(self) -> None:
        self.actions: Dict[int, tuple] = {}
        self.blocked = 0   # the guest's signal mask (bit n-1 for signal n, generic numbers)
        # the mask before rt_sigsuspend set its own: the next signal frame saves it, so
        # sigreturn restores it (the kernel's saved_sigmask)
        self.saved: Optional[int] = None

    def frame_mask(self) -> int:
        """The mask a signal frame saves (for sigreturn to restore)."""
        saved, self.saved = self.saved, None
        return self.blocked if saved is None else saved

    def get(self, sig: int) -> tuple:
        return self.actions.get(sig, (SIG_DFL, 0, 0, 0))

    def set(self, sig: int, action: tuple) -> None:
        self.actions[sig] = action
