"""A writer for the cpio "newc" format that Linux unpacks as an initramfs.

Interface:

* ``CpioWriter()`` collects entries: ``directory(path)``, ``file(path, data,
  mode)``, ``symlink(path, target)``, ``char_device(path, major, minor)``;
  parent directories are added on demand, so no root is needed for device
  nodes.  ``to_bytes()`` returns the archive (entries in path order, parents
  first, then the ``TRAILER!!!`` entry); ``write_gz(path)`` writes it gzip'ed
  atomically.  Output is reproducible: mtimes are ``mtime`` (default 0),
  owners root, inode numbers counted from 1.

Format (per entry): the ASCII magic ``070701``, thirteen 8-digit hex fields
(ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
rdevminor, namesize including its NUL, check), the name and NUL padded to a
multiple of 4, then the data padded to a multiple of 4.
"""
from __future__ import annotations

import gzip
import os
import stat
import tempfile
from typing import Dict, Tuple

__all__ = ["CpioWriter"]

_Entry = Tuple[int, bytes, int, int]       # mode, data, rdev major, rdev minor


class CpioWriter:
    def __init__(self, mtime: int = 0):
        self.mtime = mtime
        self.entries: Dict[str, _Entry] = {}

    @staticmethod
    def _norm(path: str) -> str:
        path = os.path.normpath("/" + path.strip()).lstrip("/")
        if not path or path.startswith(".."):
            raise ValueError(f"bad path in initramfs: {path!r}")
        return path

    def _parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent and parent not in self.entries:
            self.directory(parent)

    def directory(self, path: str, mode: int = 0o755) -> None:
        path = self._norm(path)
        self._parents(path)
        self.entries[path] = (stat.S_IFDIR | mode, b"", 0, 0)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = self._norm(path)
        self._parents(path)
        self.entries[path] = (stat.S_IFREG | (mode & 0o7777), bytes(data), 0, 0)

    def symlink(self, path: str, target: str) -> None:
        path = self._norm(path)
        self._parents(path)
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode(), 0, 0)

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = self._norm(path)
        self._parents(path)
        self.entries[path] = (stat.S_IFCHR | mode, b"", major, minor)

    def _header(self, ino: int, name: bytes, mode: int, size: int, nlink: int,
                rmaj: int, rmin: int) -> bytes:
        fields = (ino, mode, 0, 0, nlink, self.mtime, size, 0, 0, rmaj, rmin, len(name) + 1, 0)
        return b"070701" + b"".join(b"%08X" % f for f in fields)

    @staticmethod
    def _pad(n: int) -> bytes:
        return b"\0" * (-n & 3)

    def to_bytes(self) -> bytes:
        out = []
        ino = 1
        # sorting the split path puts every directory before what it holds
        for path in sorted(self.entries, key=lambda p: p.split("/")):
            mode, data, rmaj, rmin = self.entries[path]
            name = path.encode()
            nlink = 2 if stat.S_ISDIR(mode) else 1
            head = self._header(ino, name, mode, len(data), nlink, rmaj, rmin) + name + b"\0"
            out += [head, self._pad(len(head)), data, self._pad(len(data))]
            ino += 1
        head = self._header(0, b"TRAILER!!!", 0, 0, 1, 0, 0) + b"TRAILER!!!\0"
        out += [head, self._pad(len(head))]
        return b"".join(out)

    def write_gz(self, path: str, level: int = 9) -> str:
        """Write the gzip'ed archive to ``path`` (via a temporary file and rename)."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".initramfs-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level,
                                   mtime=self.mtime) as gz:
                    gz.write(self.to_bytes())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path
