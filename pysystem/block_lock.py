"""Advisory image locks, byte for byte as QEMU's file-posix driver takes them.

QEMU (and libvirt, and every tool built on QEMU's block layer) coordinates the users of
one image file through byte-range locks on the file itself, so another QEMU holding an
image is refused by us and the other way round:

* permissions: bit 0 "consistent read", 1 "write", 2 "write unchanged", 3 "resize";
* a user that holds permission ``i`` takes a shared (read) lock on byte ``100 + i``;
* a user that does not let others have permission ``i`` takes a shared lock on byte
  ``200 + i``;
* before going ahead, a new user checks, with a test for an exclusive lock, that no one
  else locks ``200 + i`` for a permission it wants ("Failed to get "write" lock") or
  ``100 + i`` for a permission it will not share ("Failed to get shared "write" lock").

What a drive takes (checked against qemu-system-arm 7.2 in /proc/locks):

    raw, read-write            perm read+write            unshared write
    raw, share-rw=on           perm read+write            unshared -
    raw, read-only             perm read                  unshared write (none with share-rw)
    qcow2, read-write          perm read+write+resize     unshared write+resize
    qcow2 read-only, snapshot=on (any format), backing files
                               perm read                  unshared write+resize

Open file description (OFD) locks are used where the kernel has them (Linux >= 3.15):
they belong to the open file, so two drives of one process on one image conflict as two
processes do, and closing another descriptor of the file does not drop them.
``locking=auto`` (QEMU's default) locks only when OFD locks exist; ``locking=on`` falls
back to POSIX record locks with QEMU's warning; ``locking=off`` takes no lock.
Locks disappear with the descriptor, so a killed process leaves none behind.
"""
from __future__ import annotations

import errno
import fcntl
import os
import struct
import sys
from typing import Optional

from .block_backend import BlockError, LockError

__all__ = ["PERM_READ", "PERM_WRITE", "PERM_WRITE_UNCHANGED", "PERM_RESIZE", "PERM_ALL",
           "ImageLock", "LOCKING_MODES"]

PERM_READ = 1
PERM_WRITE = 2
PERM_WRITE_UNCHANGED = 4
PERM_RESIZE = 8
PERM_ALL = 0xF
PERM_NAMES = ("consistent read", "write", "write unchanged", "resize")
PERM_BASE = 100
SHARED_BASE = 200
LOCKING_MODES = ("auto", "on", "off")

# Linux's numbers; Python 3.9 (and PyPy) do not name them
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)
_FLOCK = struct.Struct("@hhqqi0q")      # struct flock: type, whence, start, len, pid


def _flock(fd: int, cmd: int, kind: int, offset: int) -> int:
    """One fcntl lock call on one byte; returns the l_type the kernel answers."""
    answer = fcntl.fcntl(fd, cmd, _FLOCK.pack(kind, os.SEEK_SET, offset, 1, 0))
    return _FLOCK.unpack(answer)[0]


_OFD: Optional[bool] = None


def has_ofd_locks() -> bool:
    """Whether the kernel has OFD locks (asked once, on /dev/null, as QEMU does)."""
    global _OFD
    if _OFD is None:
        if not sys.platform.startswith("linux"):
            _OFD = False
        else:
            try:
                fd = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return False
            try:
                _flock(fd, F_OFD_GETLK, fcntl.F_WRLCK, 0)
                _OFD = True
            except OSError:
                _OFD = False
            finally:
                os.close(fd)
    return _OFD


class ImageLock:
    """The lock bytes one open image file holds; see the module docstring."""

    def __init__(self, fd: int, filename: str, mode: str = "auto"):
        if mode not in LOCKING_MODES:
            raise BlockError(f"invalid parameter value: {mode}")
        self.fd, self.filename = fd, filename
        ofd = has_ofd_locks()
        if mode == "on" and not ofd:
            sys.stderr.write("WARNING: File lock requested but OFD locking syscall is "
                             "unavailable, falling back to POSIX file locks\n"
                             "Due to the implementation, locks can be lost unexpectedly.\n")
        self.enabled = mode == "on" or (mode == "auto" and ofd)
        self._set = F_OFD_SETLK if ofd else fcntl.F_SETLK
        self._get = F_OFD_GETLK if ofd else fcntl.F_GETLK
        self.perm = 0
        self.unshared = 0

    def acquire(self, perm: int, unshared: int) -> None:
        """Take the bytes for ``perm`` and ``unshared``, then check nobody conflicts;
        on a conflict release everything and raise QEMU's error (with its hint)."""
        if not self.enabled:
            return
        try:
            for i in range(len(PERM_NAMES)):
                if perm >> i & 1:
                    self._lock(PERM_BASE + i)
                    self.perm |= 1 << i
                if unshared >> i & 1:
                    self._lock(SHARED_BASE + i)
                    self.unshared |= 1 << i
            for i, name in enumerate(PERM_NAMES):
                if perm >> i & 1 and self._taken(SHARED_BASE + i):
                    self._refuse(f'Failed to get "{name}" lock')
            for i, name in enumerate(PERM_NAMES):
                if unshared >> i & 1 and self._taken(PERM_BASE + i):
                    self._refuse(f'Failed to get shared "{name}" lock')
        except BlockError:
            self.release()
            raise

    def release(self) -> None:
        if not self.enabled:
            return
        for i in range(len(PERM_NAMES)):
            for base, bits in ((PERM_BASE, self.perm), (SHARED_BASE, self.unshared)):
                if bits >> i & 1:
                    try:
                        _flock(self.fd, self._set, fcntl.F_UNLCK, base + i)
                    except OSError:
                        pass
        self.perm = self.unshared = 0

    def _lock(self, offset: int) -> None:
        try:
            _flock(self.fd, self._set, fcntl.F_RDLCK, offset)
        except OSError as e:
            text = f"Failed to lock byte {offset}"
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                text += f": {e.strerror}"
            self._refuse(text)

    def _taken(self, offset: int) -> bool:
        try:
            return _flock(self.fd, self._get, fcntl.F_WRLCK, offset) != fcntl.F_UNLCK
        except OSError:
            return False

    def _refuse(self, text: str) -> None:
        raise LockError(text, hint=f"Is another process using the image [{self.filename}]?")
