"""A Debian guest booted to its shell once, saved, and restored by the tests that need a
shell but not a boot (``-loadvm``).

    shell = booted_shell("mipsel")
    args = shell.args + ["-machine", f"{shell.machine},snapshot-dir={shell.directory}",
                         "-loadvm", shell.tag]

It is the snapshot ``pysystem-images --boot ARCH`` keeps (images/boot_snapshot.py):
the same slot under the guest cache (``<cache>/ARCH/snapshots``), the same key (the
kernel's, the initramfs's and pysystem's source hashes, the command line).  When that
slot is missing or out of date, ``pysystem-images --boot ARCH`` of the guest
interpreter (PyPy in CI) boots it once, saves it at the shell prompt and is powered
off; tests in other xdist workers wait on a lock meanwhile, then restore the same
file.  A developer who ran ``--boot`` already pays nothing, and neither do later
runs until pysystem's source changes.

``args`` is that command line without the program name and without ``-nographic``
(the caller chooses its consoles: the serial port's backend is not part of a
snapshot); ``machine`` is the board's name.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List

from tools import guest_images, guest_script

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))


@dataclass(frozen=True)
class BootedShell:
    machine: str
    args: List[str]         # -M, -m, -kernel, -initrd, -append (no program, no consoles)
    directory: Path         # the snapshot store (-machine snapshot-dir=)
    tag: str                # -loadvm TAG


def booted_shell(arch: str) -> BootedShell:
    from pysystem.images.boot_snapshot import BootSlot, boot_key
    from pysystem.images.fetch import run_args
    g = guest_images(arch)
    entry = g.to_json()
    args = run_args(entry)
    slot = BootSlot(Path(entry["kernel"]).parent / "snapshots", Path(entry["initrd"]))
    key = boot_key(args, kernel=entry["kernel"], dtb=entry["dtb"], initramfs=entry["initrd"])
    slot.directory.mkdir(parents=True, exist_ok=True)
    with open(slot.directory / f".{slot.tag}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)            # one boot for every xdist worker
        if slot.stale(key) is not None:
            _boot_and_save(arch, slot, key)
    rest = [a for a in args[1:] if a != "-nographic"]
    return BootedShell(entry["machine"], rest, slot.directory, slot.tag)


def _boot_and_save(arch: str, slot, key) -> None:
    """``pysystem-images --boot ARCH --fresh``: wait for its save, then power it off."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([guest_script("pysystem-images"), "--boot", arch, "--fresh"],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        end = time.monotonic() + BOOT_TIMEOUT
        try:
            while slot.stale(key) is not None and proc.poll() is None \
                    and time.monotonic() < end:
                time.sleep(0.5)
            saved = slot.stale(key) is None
            if proc.poll() is None:
                proc.stdin.write(b"poweroff -f\n")
                proc.stdin.flush()
                proc.wait(300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    assert saved, f"pysystem-images --boot {arch} saved no booted shell:\n{text[-3000:]}"
