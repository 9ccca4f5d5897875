"""What differs between the guest's Linux ABI and the host's, as data: open flags, fcntl
commands, ioctl numbers, termios, struct stat64, sigaction, signal numbers.

``ABI`` holds the generic (asm-generic) values, which ARM shares except for four open
flags; arch_mips.py overrides what MIPS numbers differently.  Host values come from
Python's ``os``/``fcntl``/``termios`` modules by name, so the host may be any Linux.
"""
from __future__ import annotations

import os
import struct
from typing import Dict, Optional, Tuple

from .signals import GENERIC_OF_MIPS, MIPS_OF_GENERIC


def _host_open(name: str) -> int:
    if name == "__O_SYNC":
        return os.O_SYNC & ~os.O_DSYNC
    if name == "__O_TMPFILE":
        return getattr(os, "O_TMPFILE", 0) & ~os.O_DIRECTORY
    if name == "FASYNC":
        return getattr(os, "O_ASYNC", 0)
    return getattr(os, name, 0)


#: asm-generic/fcntl.h
GENERIC_OPEN_FLAGS: Dict[str, int] = {
    "O_CREAT": 0o100, "O_EXCL": 0o200, "O_NOCTTY": 0o400, "O_TRUNC": 0o1000,
    "O_APPEND": 0o2000, "O_NONBLOCK": 0o4000, "O_DSYNC": 0o10000, "FASYNC": 0o20000,
    "O_DIRECT": 0o40000, "O_LARGEFILE": 0o100000, "O_DIRECTORY": 0o200000,
    "O_NOFOLLOW": 0o400000, "O_NOATIME": 0o1000000, "O_CLOEXEC": 0o2000000,
    "__O_SYNC": 0o4000000, "O_PATH": 0o10000000, "__O_TMPFILE": 0o20000000,
}
#: asm-generic fcntl commands (32-bit: the *64 lock commands are 12-14)
GENERIC_FCNTL = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL",
                 5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN",
                 12: "F_GETLK64", 13: "F_SETLK64", 14: "F_SETLKW64", 1030: "F_DUPFD_CLOEXEC"}
#: asm-generic/ioctls.h
GENERIC_IOCTLS = {0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
                  0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ", 0x540F: "TIOCGPGRP",
                  0x5410: "TIOCSPGRP", 0x541B: "FIONREAD", 0x5421: "FIONBIO"}


class ABI:
    """The generic ABI on a 32-bit guest; see the module docstring."""

    order = "<"
    open_flags = GENERIC_OPEN_FLAGS
    fcntl_cmds = GENERIC_FCNTL
    ioctl_names = GENERIC_IOCTLS
    map_anonymous = 0x20
    #: mmap flags as -strace names them, in QEMU's order
    mmap_flag_names = ((1, "MAP_SHARED"), (2, "MAP_PRIVATE"), (0x20, "MAP_ANONYMOUS"),
                       (0x800, "MAP_DENYWRITE"), (0x10, "MAP_FIXED"), (0x100, "MAP_GROWSDOWN"),
                       (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"),
                       (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"),
                       (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"),
                       (0x40000, "MAP_HUGETLB"), (0x100000, "MAP_FIXED_NOREPLACE"))
    termios_size = 36         # 4 flags, c_line, 19 c_cc (the host's layout)
    sigaction_size = 20       # handler, flags, restorer, mask (64 bits)
    sigprocmask_how = {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"}
    #: guest socket type -> host (SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET)
    sock_types = {1: 1, 2: 2, 3: 3, 5: 5}
    sol_socket = 1
    sockopt_names = {2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 6: "SO_BROADCAST",
                     7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 13: "SO_LINGER",
                     15: "SO_REUSEPORT"}

    hwcap2: Optional[int] = 0     # AT_HWCAP2 (None: no such entry, as on MIPS)

    def base_platform(self, cpu) -> Optional[bytes]:
        """AT_BASE_PLATFORM's string for ``cpu`` (None: no such entry)."""
        return None

    def __init__(self) -> None:
        pairs = [(g, _host_open(n)) for n, g in self.open_flags.items()]
        self._open_pairs = [(g, h) for g, h in pairs if h]
        self.o_cloexec = self.open_flags["O_CLOEXEC"]
        self.open_flag_names = sorted(((v, k) for k, v in self.open_flags.items()
                                       if not k.startswith("_")), key=lambda t: t[0])

    # --- open flags -----------------------------------------------------------------------
    def host_open_flags(self, g: int) -> int:
        h = g & 3
        for gb, hb in self._open_pairs:
            if g & gb:
                h |= hb
        return h

    def guest_open_flags(self, h: int) -> int:
        g = h & 3
        for gb, hb in self._open_pairs:
            if h & hb == hb:
                g |= gb
        return g

    # --- 64-bit arguments in register pairs ------------------------------------------------
    def join64(self, first: int, second: int) -> int:
        """A 64-bit value passed as two words in the ABI's order (low first on LE)."""
        if self.order == ">":
            return (first << 32) | second
        return (second << 32) | first

    # --- signals ----------------------------------------------------------------------------
    def host_signal(self, sig: int) -> int:
        return sig

    def guest_signal(self, sig: int) -> int:
        return sig

    def wait_status(self, st: int) -> int:
        return st

    def pack_sigset(self, mask: int) -> bytes:
        """A sigset_t's first 64 bits: two words, signals 1-32 in the first."""
        return struct.pack(self.order + "II", mask & 0xFFFFFFFF, mask >> 32)

    def unpack_sigset(self, data: bytes) -> int:
        lo, hi = struct.unpack(self.order + "II", data[:8])
        return lo | hi << 32

    def unpack_sigaction(self, data: bytes) -> Tuple[int, int, int, int]:
        handler, flags, restorer, lo, hi = struct.unpack(self.order + "IIIII", data[:20])
        return handler, flags, restorer, lo | hi << 32

    def pack_sigaction(self, action) -> bytes:
        handler, flags, restorer, mask = action
        return struct.pack(self.order + "IIIII", handler, flags, restorer, mask & 0xFFFFFFFF,
                           mask >> 32)

    # --- terminals ------------------------------------------------------------------------
    def termios_to_guest(self, host: bytes) -> bytes:
        iflag, oflag, cflag, lflag = struct.unpack("IIII", host[:16])
        return struct.pack(self.order + "IIII", iflag, oflag, cflag, lflag) + host[16:36]

    def termios_to_host(self, guest: bytes, cur: bytes) -> bytes:
        flags = struct.unpack(self.order + "IIII", guest[:16])
        return struct.pack("IIII", *flags) + guest[16:36] + cur[36:]

    # --- statfs64 (asm-generic/statfs.h, 8-aligned on EABI: 88 bytes) ------------------------
    def pack_statfs64(self, v) -> bytes:
        t, bsize, blocks, bfree, bavail, files, ffree, namelen, frsize, flags = statfs_fields(v)
        return struct.pack(self.order + "IIQQQQQiiIII4I4x", t, bsize, blocks, bfree, bavail,
                           files, ffree, 0, 0, namelen, frsize, flags, 0, 0, 0, 0)

    # --- stat64 (ARM EABI layout: asm/stat.h) ----------------------------------------------
    def pack_stat64(self, st) -> bytes:
        return struct.pack(
            self.order + "Q4xIIIIIQ4x4xqI4xQIIIIIIQ",
            st.st_dev, st.st_ino & 0xFFFFFFFF, st.st_mode, st.st_nlink, st.st_uid, st.st_gid,
            st.st_rdev, st.st_size, st.st_blksize, st.st_blocks,
            int(st.st_atime), st.st_atime_ns % 10 ** 9, int(st.st_mtime),
            st.st_mtime_ns % 10 ** 9, int(st.st_ctime), st.st_ctime_ns % 10 ** 9, st.st_ino)


def statfs_fields(v) -> tuple:
    """(type, bsize, blocks, bfree, bavail, files, ffree, namelen, frsize, flags) from a
    statvfs result (the file system's type number is not known to Python: 0)."""
    return (0, v.f_bsize, v.f_blocks, v.f_bfree, v.f_bavail, v.f_files, v.f_ffree,
            v.f_namemax, v.f_frsize, v.f_flag)


class MipsSignals:
    """MIPS's signal numbers (mixed into its ABI)."""

    def host_signal(self, sig: int) -> int:
        return GENERIC_OF_MIPS.get(sig, sig)

    def guest_signal(self, sig: int) -> int:
        return MIPS_OF_GENERIC.get(sig, sig)

    def wait_status(self, st: int) -> int:
        if os.WIFSIGNALED(st):
            return (st & ~0x7F) | self.guest_signal(os.WTERMSIG(st))
        if os.WIFSTOPPED(st):
            return (self.guest_signal(os.WSTOPSIG(st)) << 8) | 0x7F
        return st
