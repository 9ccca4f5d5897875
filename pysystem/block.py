"""Block backends: the disk images behind the storage devices (virtio-blk, SD cards).

    backend = open_drive(path, readonly=False, snapshot=False, format=None,
                         locking="off", share_rw=False)
    backend.size                      # bytes; also .path, .format ("raw" or "qcow2"),
                                      # .readonly, .snapshot
    backend.read(offset, n) -> bytes  # BlockError past the end
    backend.write(offset, data)       # BlockError if read-only or past the end
    backend.flush()                   # os.fsync: data is in the image file on return
    backend.close()                   # flush, unlock and close; every clean exit calls it

Every backend is a ``BlockBackend``; the devices and the snapshot code see only the
interface above, whatever the format.

* Formats: ``raw`` (this module) and ``qcow2`` (pysystem/qcow2.py).  Without
  ``format=`` the format is probed as QEMU probes it, from the image's first bytes:
  a qcow2 image is opened as qcow2; other known formats (qcow, vmdk, vdi, vhdx, ...)
  are refused by name; anything else is raw, and a writable raw image then gets QEMU's
  three-line warning (through ``warn``: the command line's stderr; the Python API is
  silent by default), and, as in QEMU, writes that would make block 0 look like
  another format fail (the guest sees an I/O error).
* ``file=`` must be a regular file, a block device or a character device.  A FIFO or a
  socket is refused with QEMU's message (QEMU 7.2 hangs opening a FIFO); the file is
  opened without blocking.
* Locks: the image (and each backing file) takes QEMU's advisory lock bytes
  (pysystem/block_lock.py), so a second writer, ours or QEMU's, is refused with
  QEMU's message and hint.  ``locking`` is QEMU's ``file.locking`` (auto, on, off):
  the command line's drives take QEMU's default, auto; the Python API takes no lock
  unless asked (tests and scripts open one image several times).  ``share_rw`` is
  the device's ``share-rw`` property.
* ``snapshot=True`` (``-drive snapshot=on`` and the global ``-snapshot``) opens the
  image read-only (so an immutable or read-only image works) and keeps every write in
  an overlay: an unlinked temporary file holding the written 512-byte sectors at their
  own offsets, and one bit per sector in memory.  The guest reads its own writes, the
  image file never changes, and the overlay disappears with the process.
* ``readonly=True`` opens the file read-only; ``write`` raises ``BlockError``.
* A raw image's ``size`` is the file's size rounded up to whole 512-byte sectors, as
  QEMU's raw driver reports it; the missing tail reads as zeros.
* Reads and writes go straight to the file descriptor (``os.pread``/``os.pwrite``);
  nothing is buffered in the process, so even a killed process loses no data the
  guest wrote, and ``flush()`` (the guest's FLUSH) fsyncs.  ``close_all()`` closes
  every open backend (registered with atexit).

Errors are ``BlockError``: one line in QEMU's words; ``.hint`` holds the second line
QEMU prints after some of them (the lock conflicts' "Is another process using...").

``size_to_str(n)`` formats a size as QEMU's messages do ("977 KiB", "1.5 GiB").
"""
from __future__ import annotations

import atexit
import math
import os
import stat
import tempfile
from typing import Callable, List, Optional

__all__ = ["BlockError", "LockError", "BlockBackend", "open_drive", "open_image", "close_all",
           "size_to_str", "check_file", "check_format", "probe_format", "probe_file", "SECTOR_SIZE",
           "FORMATS"]

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


class RawImage(BlockBackend):
    """A raw image file (or device) on one descriptor."""

    format = "raw"

    def __init__(self, path: str, fd: int, readonly: bool, probed: bool = False):
        st = os.fstat(fd)
        size = st.st_size if stat.S_ISREG(st.st_mode) else os.lseek(fd, 0, os.SEEK_END)
        super().__init__(path, -(-size // SECTOR_SIZE) * SECTOR_SIZE, readonly)
        self.fd: Optional[int] = fd
        self.probed = probed        # format guessed: block 0 may not become another format
        self.lock = None

    @property
    def closed(self) -> bool:
        return self.fd is None

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


# --- opening ----------------------------------------------------------------------------

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


def open_image(path: str, writable: bool, format: Optional[str], perm: int, unshared: int,
               locking: str = "auto", warn: Optional[Callable[[str], None]] = None
               ) -> BlockBackend:
    """Open one image (and, for qcow2, its backing chain) with its locks taken."""
    from .block_lock import ImageLock
    check_format(format)
    fd = _open_fd(path, writable)
    try:
        lock = ImageLock(fd, path, locking)
        probed = format is None
        if probed:
            try:
                head = os.pread(fd, PROBE_SIZE, 0)
            except BlockingIOError:       # a character device with nothing to read
                head = b""
            except OSError as e:
                raise BlockError(f"Could not read image for determining its format: "
                                 f"{e.strerror}") from None
            format = probe_format(head)
            if format not in FORMATS:
                raise BlockError(f"'{path}' is a {format} image: image format '{format}' "
                                 f"is not supported yet (only raw and qcow2)")
        os.set_blocking(fd, True)
        lock.acquire(perm, unshared)
        if format == "qcow2":
            from .qcow2 import Qcow2Image
            image: BlockBackend = Qcow2Image(path, fd, not writable, locking)
        else:
            image = RawImage(path, fd, not writable, probed=probed)
            if probed and writable and warn is not None:
                warn(
                    f"WARNING: Image format was not specified for '{path}' and probing "
                    "guessed raw.\n"
                    "         Automatically detecting the format is dangerous for raw "
                    "images, write operations on block 0 will be restricted.\n"
                    "         Specify the 'raw' format explicitly to remove the restrictions.")
        image.lock = lock
    except BlockError:
        os.close(fd)
        raise
    except OSError as e:
        os.close(fd)
        raise BlockError(f"Could not open '{path}': {e.strerror}") from None
    _OPEN.append(image)
    return image


def open_drive(file: str, readonly: bool = False, snapshot: bool = False,
               format: Optional[str] = None, locking: str = "off", share_rw: bool = False,
               warn: Optional[Callable[[str], None]] = None) -> BlockBackend:
    """Open a drive's image as a device uses it: locks as QEMU's for that use; with
    ``snapshot`` the image only needs to be readable.  ``BlockError`` if not possible."""
    from .block_lock import PERM_READ, PERM_RESIZE, PERM_WRITE
    if not file:
        raise BlockError("A block device must be specified for \"file\"")
    if format == "":
        format = None
    writable = not readonly and not snapshot
    perm = PERM_READ
    if snapshot:
        unshared = PERM_WRITE | PERM_RESIZE
    else:
        unshared = 0 if share_rw else PERM_WRITE
    if writable:
        perm |= PERM_WRITE
    # the locks depend on the format: qcow2 also holds "resize"
    if (format or probe_file(file)) == "qcow2":
        unshared = PERM_WRITE | PERM_RESIZE
        if writable:
            perm |= PERM_RESIZE
    image = open_image(file, writable, format, perm, unshared, locking, warn)
    if not snapshot:
        return image
    overlay = SnapshotOverlay(image)
    _forget(image)
    _OPEN.append(overlay)
    return overlay
