"""The booted guest that ``pysystem-images --boot`` saves once and restores after.

    key = boot_key(args, kernel=..., dtb=..., initramfs=...)   # what the boot depends on
    slot = BootSlot(directory, initramfs)         # <cache>/<arch>/snapshots, one per initramfs
    why = slot.stale(key)      # None: restore it; "": nothing saved; else why it is out of date
    slot.record(key, screen, snapshot_info)       # after snapshot.save(machine, slot.tag)
    slot.forget()                                 # a snapshot that would not load

The snapshot itself is an ordinary pysystem snapshot (``pysystem.snapshot``), tag
``slot.tag`` (``boot-`` and the initramfs's name), in the machine's snapshot
directory (``-machine snapshot-dir=``: the slot's directory).  Beside it,
``TAG.json`` records the key it was saved under and the last lines the guest had
printed (its shell prompt), which a restored run shows again.

The key holds the SHA-256 of the kernel, the device tree and the initramfs, the
machine's options (the command line without those files' paths) and pysystem's
version with a hash of its source (every ``.py`` file of the installed package),
so a change to any of them boots from scratch.  The JSON is written after the
snapshot, atomically, so a slot whose JSON matches has a complete snapshot unless
something damaged it later (then the snapshot's own checks refuse it).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pysystem

from .download import sha256_file

__all__ = ["BootSlot", "boot_key", "source_hash", "source_files", "KEY_WORDS", "PACKAGES"]

FORMAT = 1
#: the packages whose source shapes a booted machine (setup.py's folders)
PACKAGES = ("pysystem", "pysystem.cpu", "pysystem.devices", "pysystem.machines",
            "pysystem.memory", "pysystem.monitor", "pysystem.images")
#: each part of the key, as a note names it when it changed
KEY_WORDS = {
    "kernel": "the kernel",
    "dtb": "the device tree",
    "initramfs": "the initramfs",
    "machine": "the machine options",
    "pysystem": "pysystem (its version or source)",
}
_FILE_OPTIONS = {"-kernel": "kernel", "-dtb": "dtb", "-initrd": "initramfs"}

_source_hash: List[str] = []


def source_files() -> List[Tuple[str, str]]:
    """(name inside pysystem, path) of every .py file of the installed pysystem, by name."""
    files: Dict[str, str] = {}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(folder).rglob("*.py"):
                files.setdefault(str(path.resolve()),
                                 f"{package}/{path.relative_to(folder).as_posix()}")
    return sorted((name, real) for real, name in files.items())


def source_hash() -> str:
    """SHA-256 over the name and bytes of every .py file of pysystem, as installed."""
    if not _source_hash:
        digest = hashlib.sha256()
        for name, path in source_files():
            digest.update(name.encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
        _source_hash.append(digest.hexdigest())
    return _source_hash[0]


def boot_key(args: Sequence[str], kernel: str, initramfs: str,
             dtb: Optional[str] = None) -> Dict[str, str]:
    """What a booted machine depends on: ``args`` is the emulator's command line (the
    paths after -kernel/-dtb/-initrd stand for files hashed by content instead)."""
    options = []
    for i, word in enumerate(args):
        options.append(_FILE_OPTIONS.get(args[i - 1], word) if i else word)
    return {
        "kernel": sha256_file(kernel),
        "dtb": sha256_file(dtb) if dtb else "",
        "initramfs": sha256_file(initramfs),
        "machine": json.dumps(options),
        "pysystem": f"{pysystem.__version__} {source_hash()}",
    }


class BootSlot:
    def __init__(self, directory: Path, initramfs: Path):
        self.directory = Path(directory)
        self.tag = "boot-" + Path(initramfs).name.split(".")[0]
        self.record_path = self.directory / f"{self.tag}.json"
        self.saved: Dict = {}

    def stale(self, key: Dict[str, str]) -> Optional[str]:
        """None if a boot saved under ``key`` is here; "" if none is; else what changed."""
        try:
            data = json.loads(self.record_path.read_text())
            if data.get("format") != FORMAT or not isinstance(data.get("key"), dict):
                return "its record is unreadable"
        except FileNotFoundError:
            return ""
        except (OSError, ValueError) as e:
            return f"its record is unreadable ({getattr(e, 'strerror', None) or e})"
        changed = [KEY_WORDS.get(k, k) for k in KEY_WORDS if data["key"].get(k) != key.get(k)]
        if changed:
            return " and ".join(changed) + " changed"
        self.saved = data
        return None

    @property
    def screen(self) -> bytes:
        """The last lines the guest had printed when it was saved."""
        return str(self.saved.get("screen", "")).encode("utf-8", "replace")

    def record(self, key: Dict[str, str], screen: bytes, info, boot_seconds: float) -> None:
        """Note that the snapshot ``info`` (just saved under ``self.tag``) is for ``key``."""
        data = {"format": FORMAT, "key": key, "screen": screen.decode("utf-8", "replace"),
                "snapshot": os.path.basename(info.path), "icount": info.icount,
                "boot_seconds": round(boot_seconds, 1), "saved": info.date_sec}
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".json-", dir=str(self.directory))
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.record_path)
        self.saved = data

    def forget(self) -> None:
        """Drop the record (the snapshot file is replaced by the next save)."""
        try:
            self.record_path.unlink()
        except OSError:
            pass
        self.saved = {}
