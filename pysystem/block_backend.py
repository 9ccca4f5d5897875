"""The block backends' lower layer: errors, the ``BlockBackend`` interface, raw images,
the snapshot overlay, format probing and the registry of open backends.

pysystem/block.py opens images (taking the locks of pysystem/block_lock.py, and making
pysystem/qcow2.py's images for qcow2) and documents the whole; the modules below it
(block_lock, qcow2) import from here, never from pysystem.block, so the layering has
no cycle.
"""
from __future__ import annotations

import atexit
import math
import os
import stat
import tempfile
from typing import List, Optional

SECTOR_SIZE = 512
PROBE_SIZE = 2048
FORMATS = ("raw", "qcow2")
# formats QEMU knows that we recognise but do not open
OTHER_FORMATS = ("qcow", "qed", "vmdk", "vdi", "vpc", "vhdx", "luks", "bochs", "cloop",
                 "dmg", "parallels", "vvfat", "nbd", "file", "host_device")


class BlockError(Exception):
    """A block backend problem; the message is one line for the user, ``hint`` an
    optional second line (as QEMU's error hints)."""

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.hint = hint


class LockError(BlockError):
    """Another user of the image holds a lock that conflicts with ours."""


def size_to_str(value: int) -> str:
    """A byte count as QEMU prints sizes: three significant digits and a binary suffix."""
    suffixes = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
    _, exp = math.frexp(value / (1000.0 / 1024.0))
    index = max(0, (exp - 1) // 10)
    index = min(index, len(suffixes) - 1)
    scaled = value / float(1 << (index * 10))
    return f"{scaled:0.3g} {suffixes[index]}B"


# --- file access shared by the formats ----------------------------------------------

def pread_exact(fd: int, offset: int, n: int, path: str) -> bytes:
    """``n`` bytes at ``offset``; zeros past the end of the file."""
    out = bytearray()
    while len(out) < n:
        try:
            chunk = os.pread(fd, n - len(out), offset + len(out))
        except OSError as e:
            raise BlockError(f"read error on '{path}': {e.strerror}") from None
        except OverflowError:
            raise BlockError(f"read error on '{path}': offset {offset:#x} out of range") from None
        if not chunk:
            out += bytes(n - len(out))
            break
        out += chunk
    return bytes(out)


def pwrite_all(fd: int, offset: int, data, path: str) -> None:
    view = memoryview(bytes(data))
    done = 0
    while done < len(view):
        try:
            done += os.pwrite(fd, view[done:], offset + done)
        except OSError as e:
            raise BlockError(f"write error on '{path}': {e.strerror}") from None
        except OverflowError:
            raise BlockError(f"write error on '{path}': offset {offset:#x} out of range") from None


def fsync(fd: int, path: str) -> None:
    try:
        os.fsync(fd)
    except OSError as e:
        raise BlockError(f"flush error on '{path}': {e.strerror}") from None


# --- probing --------------------------------------------------------------------------

# (offset, magic, format) for the formats QEMU probes by content
_MAGICS = (
    (0, b"QFI\xfb", "qcow"),            # qcow2 or qcow by the version that follows
    (0, b"QED\x00", "qed"),
    (0, b"KDMV", "vmdk"),
    (0, b"COWD", "vmdk"),
    (0, b"# Disk DescriptorFile", "vmdk"),
    (0x40, b"\x7f\x10\xda\xbe", "vdi"),
    (0, b"conectix", "vpc"),
    (0, b"vhdxfile", "vhdx"),
    (0, b"LUKS\xba\xbe", "luks"),
    (0, b"WithoutFreeSpace", "parallels"),
    (0, b"WithouFreSpacExt", "parallels"),
    (0, b"Bochs Virtual HD Image", "bochs"),
    (0, b"#!/bin/sh\n#V2.0 Format\nmodprobe cloop", "cloop"),
)


def probe_format(head: bytes) -> str:
    """The format an image's first bytes say it is; "raw" when nothing matches."""
    for offset, magic, name in _MAGICS:
        if head[offset:offset + len(magic)] == magic:
            if name == "qcow":
                version = int.from_bytes(head[4:8], "big")
                return "qcow2" if version >= 2 else "qcow"
            return name
    return "raw"


def check_format(fmt: Optional[str]) -> None:
    """``format=`` must be one we open (or absent: probed)."""
    if fmt is None or fmt in FORMATS:
        return
    if fmt in OTHER_FORMATS:
        raise BlockError(f"Image format '{fmt}' is not supported yet (only raw and qcow2)")
    raise BlockError(f"Unknown driver '{fmt}'")


def _open_fd(path: str, writable: bool) -> int:
    """Open without blocking (a FIFO would block); only files and devices pass."""
    flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise BlockError(f"Could not open '{path}': {e.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise BlockError(f"Could not open '{path}': Is a directory")
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISCHR(mode)):
            raise BlockError("A regular file was expected by the 'file' driver, "
                             "but something else was given")
    except OSError as e:
        os.close(fd)
        raise BlockError(f"Could not open '{path}': {e.strerror}") from None
    except BlockError:
        os.close(fd)
        raise
    return fd


def probe_file(path: str) -> str:
    """The format of the image at ``path`` as probing finds it (BlockError if unreadable)."""
    fd = _open_fd(path, False)
    try:
        return probe_format(os.pread(fd, PROBE_SIZE, 0))
    except OSError:
        return "raw"
    finally:
        os.close(fd)


def check_file(path: str) -> None:
    """The command line's early check: ``path`` exists, is readable and is a file or
    a device (QEMU's messages); never blocks."""
    if not path:
        raise BlockError("A block device must be specified for \"file\"")
    os.close(_open_fd(path, False))


# --- raw --------------------------------------------------------------------------------

class BlockBackend:
    """What every backend offers the devices; see the module docstring."""

    format = "?"

    def __init__(self, path: str, size: int, readonly: bool, snapshot: bool = False):
        self.path = path
        self.size = size
        self.readonly = readonly
        self.snapshot = snapshot

    def __repr__(self) -> str:
        mode = "ro" if self.readonly else ("snapshot" if self.snapshot else "rw")
        return f"<{type(self).__name__} {self.path!r} {self.format} {self.size} bytes {mode}>"

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    def check(self, offset: int, n: int) -> None:
        if self.closed:
            raise BlockError(f"'{self.path}' is closed")
        if offset < 0 or n < 0 or offset + n > self.size:
            raise BlockError(f"access of {n} bytes at {offset} is outside '{self.path}' "
                             f"({self.size} bytes)")

    def check_write(self, offset: int, n: int) -> None:
        self.check(offset, n)
        if self.readonly:
            raise BlockError(f"'{self.path}' is read-only")

    def read(self, offset: int, n: int) -> bytes:
        raise NotImplementedError

    def write(self, offset: int, data: bytes) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class HostFileBackend(BlockBackend):
    """A backend on one host file descriptor (``fd``, None once closed) and the image lock
    it holds (``lock``): raw and qcow2 images flush and close alike."""

    fd: Optional[int]
    lock = None

    @property
    def closed(self) -> bool:
        return self.fd is None

    def flush(self) -> None:
        if self.fd is not None and not self.readonly:
            fsync(self.fd, self.path)

    def close(self) -> None:
        if self.fd is None:
            return
        try:
            self.flush()
        finally:
            if self.lock is not None:
                self.lock.release()
            os.close(self.fd)
            self.fd = None
            _forget(self)


class RawImage(HostFileBackend):
    """A raw image file (or device) on one descriptor."""

    format = "raw"

    def __init__(self, path: str, fd: int, readonly: bool, probed: bool = False):
        st = os.fstat(fd)
        size = st.st_size if stat.S_ISREG(st.st_mode) else os.lseek(fd, 0, os.SEEK_END)
        super().__init__(path, -(-size // SECTOR_SIZE) * SECTOR_SIZE, readonly)
        self.fd = fd
        self.probed = probed        # format guessed: block 0 may not become another format

    def read(self, offset: int, n: int) -> bytes:
        self.check(offset, n)
        return pread_exact(self.fd, offset, n, self.path)

    def write(self, offset: int, data: bytes) -> None:
        self.check_write(offset, len(data))
        if self.probed and offset < SECTOR_SIZE and data:
            head = bytearray(pread_exact(self.fd, 0, PROBE_SIZE, self.path))
            head[offset:offset + len(data)] = data[:PROBE_SIZE - offset]
            guessed = probe_format(bytes(head))
            if guessed != "raw":
                raise BlockError(f"write to block 0 of '{self.path}' refused: it would make "
                                 f"the image probe as {guessed} (give format=raw)")
        pwrite_all(self.fd, offset, data, self.path)


class ErasedTail(BlockBackend):
    """An image seen as ``size`` bytes: its first ``length`` bytes, then erased flash
    (``fill``, 0xff) to the end.  A board's flash takes a smaller ``-drive if=mtd``
    image through it (``Machine.claim_flash``); ``length`` is the image file's own
    length (a raw image's ``size`` is rounded up to whole sectors).  Writes reach the
    image within its length; past it they are dropped (the image never grows: the
    flash keeps them in memory for the run, and snapshots keep the flash's memory)."""

    def __init__(self, base: BlockBackend, size: int, length: int, fill: int = 0xFF):
        super().__init__(base.path, size, base.readonly, base.snapshot)
        self.base, self.length, self.fill = base, min(length, base.size), fill
        self.format = base.format

    @property
    def closed(self) -> bool:
        return self.base.closed

    def _inside(self, offset: int, n: int) -> int:
        return max(0, min(offset + n, self.length) - offset)

    def read(self, offset: int, n: int) -> bytes:
        self.check(offset, n)
        inside = self._inside(offset, n)
        head = self.base.read(offset, inside) if inside else b""
        return head + bytes([self.fill]) * (n - inside)

    def write(self, offset: int, data: bytes) -> None:
        self.check_write(offset, len(data))
        inside = self._inside(offset, len(data))
        if inside:
            self.base.write(offset, data[:inside])

    def flush(self) -> None:
        self.base.flush()

    def close(self) -> None:
        self.base.close()


class SnapshotOverlay(BlockBackend):
    """snapshot=on: writes go to a temporary file, reads of unwritten sectors to the image."""

    def __init__(self, base: BlockBackend):
        super().__init__(base.path, base.size, False, snapshot=True)
        self.base = base
        self.format = base.format
        self._fd: Optional[int] = None      # the overlay, created at the first write
        self._dirty = bytearray()           # one bit per written sector

    @property
    def closed(self) -> bool:
        return self.base.closed

    def _is_dirty(self, sector: int) -> bool:
        return bool(self._dirty[sector >> 3] >> (sector & 7) & 1)

    def read(self, offset: int, n: int) -> bytes:
        self.check(offset, n)
        if self._fd is None:
            return self.base.read(offset, n)
        out = bytearray()
        pos, end = offset, offset + n
        while pos < end:
            dirty = self._is_dirty(pos // SECTOR_SIZE)
            run_end = min(end, (pos // SECTOR_SIZE + 1) * SECTOR_SIZE)
            while run_end < end and self._is_dirty(run_end // SECTOR_SIZE) == dirty:
                run_end = min(end, run_end + SECTOR_SIZE)
            if dirty:
                out += pread_exact(self._fd, pos, run_end - pos, self.path)
            else:
                out += self.base.read(pos, run_end - pos)
            pos = run_end
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        n = len(data)
        self.check_write(offset, n)
        if n == 0:
            return
        if self._fd is None:
            self._open_overlay()
        first, last = offset // SECTOR_SIZE, (offset + n - 1) // SECTOR_SIZE
        for sector in {first, last}:   # partly written sectors start as the image's
            if not self._is_dirty(sector):
                start = sector * SECTOR_SIZE
                pwrite_all(self._fd, start, self.base.read(start, SECTOR_SIZE), self.path)
        pwrite_all(self._fd, offset, data, self.path)
        for sector in range(first, last + 1):
            self._dirty[sector >> 3] |= 1 << (sector & 7)

    def _open_overlay(self) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix="pysystem-snapshot-")
            os.unlink(name)
        except OSError as e:
            raise BlockError(f"cannot create the snapshot overlay for '{self.path}': "
                             f"{e.strerror}") from None
        self._fd = fd
        self._dirty = bytearray((self.size // SECTOR_SIZE + 7) // 8)

    def close(self) -> None:
        if self.base.closed:
            return
        try:
            self.base.close()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._dirty = bytearray()
            _forget(self)



_OPEN: List[BlockBackend] = []


def _forget(backend: BlockBackend) -> None:
    if backend in _OPEN:
        _OPEN.remove(backend)


def close_all() -> None:
    """Flush and close every open backend (clean exit)."""
    for backend in list(_OPEN):
        try:
            backend.close()
        except BlockError:
            pass


atexit.register(close_all)
