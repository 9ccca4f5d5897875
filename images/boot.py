"""``pysystem-images --boot ARCH``: boot a fetched guest once, then restore it.

    boot(arch, args, files, packages, fresh=False, save=True, quiet=False) -> exit status

``args`` is the emulator's command line (``fetch.run_args``: program name first),
``files`` the kernel, dtb and initramfs paths.  What happens:

1. On stderr (not with ``quiet``), before the guest starts: what boots on which
   board under which interpreter, how long the first boot takes here (the
   measured figures in ``PROFILES``), that its first minutes print nothing, how
   to get PyPy, and that the booted machine will be saved.
2. If a boot of the same kernel, device tree, initramfs, machine options and
   pysystem source was saved (``boot_snapshot``) and ``fresh`` is false, the
   emulator starts from it: the guest's last lines (its shell prompt) are shown
   again and the shell is there.  A snapshot that is refused or damaged gives a
   one-line note and a boot from scratch.
3. Otherwise the guest boots from reset.  On a terminal a progress line shows
   while it is silent (``console_watch``); when its shell prompt first appears
   the machine is saved (unless ``save`` is false, or the guest was given input
   before its prompt, which the snapshot would replay), and a line on stderr says
   so when the emulator ends.

The emulator runs in this process (``pysystem.cli.main`` with an ``on_start``
hook), with the console on stdio as ``pysystem-ARCH -nographic`` has it.

A board that cannot boot yet is data too: ``UNAVAILABLE`` gives the one-line
reason; an architecture gets ``--boot`` by adding its ``BootProfile``.
"""
from __future__ import annotations

import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .boot_snapshot import BootSlot, boot_key
from .console_watch import ConsoleWatch
from .errors import ImageError

__all__ = ["BootProfile", "Figures", "PROFILES", "UNAVAILABLE", "boot", "check_available",
           "explain_fresh"]

PROG = "pysystem-images"


@dataclass(frozen=True)
class Figures:
    """Measured on this project's machine (bench/first_run.py, bench/RESULTS.md)."""
    silent: float       # seconds from start to the kernel's first line
    shell: float        # seconds from start to the shell prompt, nothing cached
    restore: float      # seconds from start to the prompt of a restored boot


@dataclass(frozen=True)
class BootProfile:
    prompt: bytes                   # regex matching the end of the console at the shell prompt
    silent_because: str             # what runs while the console is silent
    figures: Dict[str, Figures]     # by platform.python_implementation()


PROFILES: Dict[str, BootProfile] = {
    "arm": BootProfile(
        prompt=rb"\n/ # $",
        silent_because="the kernel decompresses itself (XZ) before it prints anything",
        # processor seconds (an idle machine's wall clock), bench/RESULTS.md "First run";
        # silent: the 2.0e9 instructions of the XZ decompressor, "Profile of the boot"
        figures={"CPython": Figures(silent=300, shell=453, restore=0.5),
                 "PyPy": Figures(silent=30, shell=120, restore=1.3)},
    ),
    "mipsel": BootProfile(
        prompt=rb"\n/ # $",
        silent_because="the guest is fetched and the kernel sets itself up before its first line",
        # processor seconds, bench/first_run.py --arch mipsel, 2026-12-07 (PyPy only so far)
        figures={"PyPy": Figures(silent=38, shell=110, restore=1.2)},
    ),
    "mips": BootProfile(
        prompt=rb"\n/ # $",
        silent_because="the kernel sets itself up before its first line",
        figures={},
    ),
}

UNAVAILABLE: Dict[str, str] = {}


def check_available(arch: str) -> None:
    if arch in UNAVAILABLE:
        raise ImageError(f"--boot {arch} is not available yet: {UNAVAILABLE[arch]}")
    if arch not in PROFILES:
        raise ImageError(f"--boot {arch} is not available yet")


def _interpreter() -> str:
    return platform.python_implementation()


def _duration(seconds: float) -> str:
    if seconds < 1.5:
        return "a second"
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes"


def _say(text: str) -> None:
    sys.stderr.write(f"{PROG}: {text}\n")
    sys.stderr.flush()


def explain_fresh(arch: str, save: bool) -> List[str]:
    """The lines that introduce a boot from scratch under this interpreter."""
    profile = PROFILES[arch]
    here = _interpreter()
    mine = profile.figures.get(here)
    lines = []
    if mine is None:
        lines.append(f"there are no figures for {here}: the boot takes minutes, and its first "
                     f"part is silent while {profile.silent_because}")
    else:
        others = [f"{_duration(f.shell)} on {name}" for name, f in profile.figures.items()
                  if name != here]
        lines.append(f"the first boot takes about {_duration(mine.shell)} on {here}"
                     + (f" ({', '.join(others)})" if others else "") + " when the host is idle"
                     + f"; the first {_duration(mine.silent)} are silent while "
                     + profile.silent_because)
    pypy = profile.figures.get("PyPy")
    if here != "PyPy" and pypy is not None and mine is not None:
        lines.append(f"PyPy is about {mine.shell / pypy.shell:.0f} times faster: apt-get install "
                     f"pypy3 pypy3-venv, then pypy3 -m venv .venv-pypy && .venv-pypy/bin/pip "
                     f"install -e . && .venv-pypy/bin/pysystem-images --boot {arch}")
    if save:
        restore = mine.restore if mine is not None else 2
        lines.append(f"at the shell prompt the booted machine is saved: the next --boot {arch} "
                     f"is a shell in about {_duration(restore)} (--fresh boots again, "
                     "--no-save never saves)")
    lines.append("leave the guest with 'poweroff -f', or Ctrl-A x")
    return lines


def _terminal(machine):
    """The chardev behind serial0 (-nographic: the stdio backend of serial0's mux)."""
    port = machine.serial_hds[0]
    mux = getattr(port, "mux", None)
    return mux.backend if mux is not None else port


class _Boot:
    """The on_start hook and the main-loop hook of one run."""

    def __init__(self, arch: str, slot: BootSlot, key: Dict[str, str], restore: bool,
                 save: bool, quiet: bool):
        self.arch, self.slot, self.key = arch, slot, key
        self.restore, self.save, self.quiet = restore, save, quiet
        self.started = time.monotonic()
        self.machine = None
        self.watch: Optional[ConsoleWatch] = None
        self.done = False
        self.outcome: Optional[str] = None      # the line printed when the emulator ends

    def on_start(self, machine, loop) -> None:
        from pysystem import snapshot
        self.machine = machine
        terminal = _terminal(machine)
        if self.restore:
            try:
                snapshot.load(machine, self.slot.tag)
            except snapshot.SnapshotError as e:
                _say(f"the saved boot was not restored ({e}); booting from scratch")
                self.slot.forget()
                if not self.quiet:
                    for line in explain_fresh(self.arch, self.save):
                        _say(line)
            else:
                terminal.write(self.slot.screen)
                return
        progress_fd = 1 if os.isatty(1) else None
        self.watch = ConsoleWatch(re.compile(PROFILES[self.arch].prompt, re.S),
                                  lambda: machine.clock.icount, progress_fd)
        terminal.on_output.append(self.watch.output)
        machine.serial_hds[0].on_input.append(self.watch.input)
        loop.add_poll_hook(self.poll)

    def poll(self) -> None:
        watch = self.watch
        watch.poll()
        if self.done or not watch.prompt_seen:
            return
        self.done = True
        elapsed = time.monotonic() - self.started
        if not self.save:
            return
        if watch.typed:
            self.outcome = self._not_saved()
            return
        from pysystem import snapshot
        try:
            info = snapshot.save(self.machine, self.slot.tag)
            self.slot.record(self.key, watch.screen(), info, elapsed)
        except (snapshot.SnapshotError, OSError) as e:
            self.outcome = f"the booted guest was not saved: {e}"
            return
        size = os.path.getsize(info.path) / 1e6
        self.outcome = (f"the shell came after {_duration(elapsed)}; the booted guest was saved "
                        f"({size:.0f} MB, {info.path}): the next --boot {self.arch} restores it")

    def _not_saved(self) -> str:
        why = ("it was given input before its prompt appeared" if self.watch.typed
               else "it ended as its prompt appeared")
        return f"the booted guest was not saved: {why} (the next --boot boots from scratch)"

    def finish(self) -> None:
        watch = self.watch
        if watch is not None:
            watch.close()
            if watch.prompt_seen and not self.done and self.save:   # it ended at once
                self.outcome = self._not_saved()
        if self.outcome:
            _say(self.outcome)


def boot(arch: str, args: List[str], files: Dict[str, Optional[str]],
         packages: Dict[str, str], fresh: bool = False, save: bool = True,
         quiet: bool = False) -> int:
    """Run the guest (see the module docstring); returns the emulator's exit status."""
    from pysystem import cli
    check_available(arch)
    kernel, dtb, initrd = files["kernel"], files.get("dtb"), files["initrd"]
    slot = BootSlot(Path(kernel).parent / "snapshots", Path(initrd))
    key = boot_key(args, kernel=kernel, dtb=dtb, initramfs=initrd)
    why = "--fresh" if fresh else slot.stale(key)
    restore = why is None
    kernel_pkg = ", ".join(f"{n} {v}" for n, v in sorted(packages.items())
                           if n.startswith("linux-"))
    machine = args[args.index("-M") + 1]
    if not quiet:
        _say(f"{kernel_pkg or Path(kernel).name} on {machine}, under {_interpreter()} "
             f"{platform.python_version()}")
    if restore:
        if not quiet:
            saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(slot.saved.get("saved", 0)))
            _say(f"restoring the booted guest saved {saved} (--fresh boots from scratch); "
                 "leave it with 'poweroff -f', or Ctrl-A x")
    else:
        if why and why != "--fresh":
            _say(f"the saved boot is out of date ({why}): booting from scratch")
        if not quiet:
            for line in explain_fresh(arch, save):
                _say(line)
    argv = list(args[1:])
    i = argv.index("-M")
    argv[i + 1] += ",snapshot-dir=" + str(slot.directory).replace(",", ",,")
    run = _Boot(arch, slot, key, restore, save, quiet)
    sys.stdout.flush()
    try:
        status = cli.main(args[0][len("pysystem-"):], argv, on_start=run.on_start)
    except SystemExit as e:             # Ctrl-A x, a signal
        status = e.code if isinstance(e.code, int) else 0
    run.finish()
    return status
