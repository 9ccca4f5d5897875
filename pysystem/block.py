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

import os
from typing import Callable, Optional

from .block_backend import (FORMATS, OTHER_FORMATS, PROBE_SIZE, SECTOR_SIZE, BlockBackend,
                            BlockError, ErasedTail, LockError, RawImage, SnapshotOverlay, _OPEN,
                            _forget, _open_fd, check_file, check_format, close_all, probe_file,
                            probe_format, size_to_str)
from .block_lock import PERM_READ, PERM_RESIZE, PERM_WRITE, ImageLock
from .qcow2 import Qcow2Image

__all__ = ["BlockError", "LockError", "BlockBackend", "open_drive", "open_image", "close_all",
           "size_to_str", "check_file", "check_format", "probe_format", "probe_file", "SECTOR_SIZE",
           "FORMATS", "OTHER_FORMATS", "RawImage", "SnapshotOverlay", "ErasedTail"]


def open_image(path: str, writable: bool, format: Optional[str], perm: int, unshared: int,
               locking: str = "auto", warn: Optional[Callable[[str], None]] = None
               ) -> BlockBackend:
    """Open one image (and, for qcow2, its backing chain) with its locks taken."""
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
            image: BlockBackend = Qcow2Image(path, fd, not writable, locking, open_image)
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
