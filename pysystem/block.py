"""Block backends: raw disk images behind the storage devices (virtio-blk, SD cards).

    backend = open_drive(path, readonly=False, snapshot=False, format="raw")
    backend.size                      # bytes; also .path, .format ("raw"), .readonly, .snapshot
    backend.read(offset, n) -> bytes  # BlockError past the end
    backend.write(offset, data)       # BlockError if read-only or past the end
    backend.flush()                   # os.fsync: data is in the image file on return
    backend.close()                   # flush and close; every clean exit calls it

* Only the raw format exists (``format=None`` or ``"raw"``); anything else, and a
  missing, unreadable or unwritable file, raises ``BlockError`` with a one-line
  message in QEMU's words.
* ``snapshot=True`` (``-drive snapshot=on`` and the global ``-snapshot``) keeps every
  write in an overlay: an unlinked temporary file holding the written 512-byte
  sectors at their own offsets, and one bit per sector in memory.  The guest reads
  its own writes, the image file never changes, and the overlay disappears with the
  process.  ``flush()`` then has nothing to do.
* ``readonly=True`` opens the file read-only; ``write`` raises ``BlockError`` (the
  devices turn that into their I/O error status, or refuse writes before).
* ``size`` is the file's size rounded up to whole 512-byte sectors, as QEMU's raw
  driver reports it; the missing tail reads as zeros.
* Reads and writes go straight to the file descriptor (``os.pread``/``os.pwrite``);
  nothing is buffered in the process, so even an unclean exit loses no data the
  guest wrote.  ``close_all()`` closes every open backend (registered with atexit).

``size_to_str(n)`` formats a size as QEMU's messages do ("977 KiB", "1.5 GiB").
"""
from __future__ import annotations

import atexit
import math
import os
import stat
import tempfile
from typing import List, Optional

__all__ = ["BlockError", "BlockBackend", "open_drive", "close_all", "size_to_str",
           "SECTOR_SIZE"]

SECTOR_SIZE = 512


class BlockError(Exception):
    """A block backend problem; the message is one line (or QEMU's text) for the user."""


def size_to_str(value: int) -> str:
    """A byte count as QEMU prints sizes: three significant digits and a binary suffix."""
    suffixes = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
    _, exp = math.frexp(value / (1000.0 / 1024.0))
    index = max(0, (exp - 1) // 10)
    index = min(index, len(suffixes) - 1)
    scaled = value / float(1 << (index * 10))
    return f"{scaled:0.3g} {suffixes[index]}B"


class BlockBackend:
    """An open raw image; see the module docstring."""

    def __init__(self, path: str, fd: int, size: int, readonly: bool, snapshot: bool):
        self.path = path
        self.format = "raw"
        self.size = size
        self.readonly = readonly
        self.snapshot = snapshot
        self._fd: Optional[int] = fd
        # snapshot mode: written sectors live in an unlinked temporary file at their own
        # offsets; one bit per sector says which
        self._overlay_fd: Optional[int] = None
        self._dirty = bytearray()

    def __repr__(self) -> str:
        mode = "ro" if self.readonly else ("snapshot" if self.snapshot else "rw")
        return f"<BlockBackend {self.path!r} {self.size} bytes {mode}>"

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _check(self, offset: int, n: int) -> None:
        if self._fd is None:
            raise BlockError(f"'{self.path}' is closed")
        if offset < 0 or n < 0 or offset + n > self.size:
            raise BlockError(f"access of {n} bytes at {offset} is outside '{self.path}' "
                             f"({self.size} bytes)")

    def _pread(self, fd: int, offset: int, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            try:
                chunk = os.pread(fd, n - len(out), offset + len(out))
            except OSError as e:
                raise BlockError(f"read error on '{self.path}': {e.strerror}") from None
            if not chunk:   # past the end of the file (or a shrunken file): zeros
                out += bytes(n - len(out))
                break
            out += chunk
        return bytes(out)

    def _pwrite(self, fd: int, offset: int, data: bytes) -> None:
        view = memoryview(bytes(data))
        done = 0
        while done < len(view):
            try:
                done += os.pwrite(fd, view[done:], offset + done)
            except OSError as e:
                raise BlockError(f"write error on '{self.path}': {e.strerror}") from None

    def _is_dirty(self, sector: int) -> bool:
        return bool(self._dirty[sector >> 3] >> (sector & 7) & 1)

    def read(self, offset: int, n: int) -> bytes:
        self._check(offset, n)
        if self._overlay_fd is None:
            return self._pread(self._fd, offset, n)
        out = bytearray()
        pos, end = offset, offset + n
        while pos < end:
            dirty = self._is_dirty(pos // SECTOR_SIZE)
            run_end = min(end, (pos // SECTOR_SIZE + 1) * SECTOR_SIZE)
            while run_end < end and self._is_dirty(run_end // SECTOR_SIZE) == dirty:
                run_end = min(end, run_end + SECTOR_SIZE)
            out += self._pread(self._overlay_fd if dirty else self._fd, pos, run_end - pos)
            pos = run_end
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        n = len(data)
        self._check(offset, n)
        if self.readonly:
            raise BlockError(f"'{self.path}' is read-only")
        if not self.snapshot:
            self._pwrite(self._fd, offset, data)
            return
        if n == 0:
            return
        if self._overlay_fd is None:
            self._open_overlay()
        first, last = offset // SECTOR_SIZE, (offset + n - 1) // SECTOR_SIZE
        for sector in {first, last}:   # partly written sectors start as the image's
            if not self._is_dirty(sector):
                start = sector * SECTOR_SIZE
                self._pwrite(self._overlay_fd, start, self._pread(self._fd, start, SECTOR_SIZE))
        self._pwrite(self._overlay_fd, offset, data)
        for sector in range(first, last + 1):
            self._dirty[sector >> 3] |= 1 << (sector & 7)

    def _open_overlay(self) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix="pysystem-snapshot-")
            os.unlink(name)
        except OSError as e:
            raise BlockError(f"cannot create the snapshot overlay for '{self.path}': "
                             f"{e.strerror}") from None
        self._overlay_fd = fd
        self._dirty = bytearray((self.size // SECTOR_SIZE + 7) // 8)

    def flush(self) -> None:
        if self._fd is None or self.readonly or self.snapshot:
            return
        try:
            os.fsync(self._fd)
        except OSError as e:
            raise BlockError(f"flush error on '{self.path}': {e.strerror}") from None

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = None
            if self._overlay_fd is not None:
                os.close(self._overlay_fd)
                self._overlay_fd = None
            self._dirty = bytearray()
            if self in _OPEN:
                _OPEN.remove(self)


_OPEN: List[BlockBackend] = []


def close_all() -> None:
    """Flush and close every open backend (clean exit)."""
    for backend in list(_OPEN):
        try:
            backend.close()
        except BlockError:
            pass


atexit.register(close_all)


def open_drive(file: str, readonly: bool = False, snapshot: bool = False,
               format: Optional[str] = "raw") -> BlockBackend:
    """Open a raw image; ``BlockError`` with a one-line message if that is not possible."""
    if format not in (None, "", "raw"):
        raise BlockError(f"Unknown driver '{format}' (only raw images are supported)")
    if not file:
        raise BlockError("A block device must be specified for \"file\"")
    flags = os.O_RDONLY if readonly else os.O_RDWR
    try:
        fd = os.open(file, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise BlockError(f"Could not open '{file}': {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise BlockError(f"Could not open '{file}': Is a directory")
        size = st.st_size if stat.S_ISREG(st.st_mode) else os.lseek(fd, 0, os.SEEK_END)
    except BlockError:
        os.close(fd)
        raise
    except OSError as e:
        os.close(fd)
        raise BlockError(f"Could not open '{file}': {e.strerror}") from None
    size = -(-size // SECTOR_SIZE) * SECTOR_SIZE   # QEMU counts whole sectors
    backend = BlockBackend(file, fd, size, bool(readonly), bool(snapshot))
    _OPEN.append(backend)
    return backend
