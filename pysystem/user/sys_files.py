"""System calls on files, directories and file descriptors (guest descriptors are the
host's), mixed into ``Process``.  Each ``sys_<name>`` takes the raw 32-bit arguments and
returns the result or -errno (``OSError`` from the host becomes -errno in process.py).

Flag values that differ between the guest and the host (open flags, fcntl commands,
ioctl numbers, struct stat64) come from the architecture object (``self.arch``).
"""
from __future__ import annotations

import fcntl
import os
import stat as _stat
import struct
import termios
from typing import Optional

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EMPTY_PATH = 0x1000
DT = {_stat.S_IFDIR: 4, _stat.S_IFREG: 8, _stat.S_IFLNK: 10, _stat.S_IFCHR: 2,
      _stat.S_IFBLK: 6, _stat.S_IFIFO: 1, _stat.S_IFSOCK: 12}
# fcntl commands passed to the host's fcntl by name; PyPy 3.9's fcntl module has no
# F_DUPFD_CLOEXEC (busybox sh saves fds with it), so the Linux numbers stand in for a
# missing constant
HOST_FCNTL = {name: getattr(fcntl, name, number) for name, number in (
    ("F_DUPFD", 0), ("F_GETFD", 1), ("F_SETFD", 2), ("F_SETOWN", 8), ("F_GETOWN", 9),
    ("F_DUPFD_CLOEXEC", 1030))}


def s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _dirfd(fd: int) -> Optional[int]:
    fd = s32(fd)
    return None if fd == AT_FDCWD else fd


class FileCalls:
    """Mixed into Process (which supplies ``mem``, ``arch``, ``paths``)."""

    # --- helpers --------------------------------------------------------------------------
    def path(self, addr: int) -> bytes:
        p = self.mem.read_cstr(addr)
        if p in (b"/proc/self/exe", b"/proc/%d/exe" % self.pid):
            return os.fsencode(self.exe_path)
        return self.paths.hostb(p)

    def _stat(self, dirfd: int, addr: int, flags: int) -> os.stat_result:
        follow = not flags & AT_SYMLINK_NOFOLLOW
        if flags & AT_EMPTY_PATH and addr and not self.mem.read_cstr(addr):
            return os.stat(s32(dirfd))
        return os.stat(self.path(addr), dir_fd=_dirfd(dirfd), follow_symlinks=follow)

    # --- read/write -------------------------------------------------------------------------
    def sys_read(self, fd, buf, count, *_):
        data = os.read(s32(fd), min(count, 1 << 20))
        self.mem.write(buf, data)
        return len(data)

    def sys_write(self, fd, buf, count, *_):
        fd = s32(fd)
        return self.write_all(fd, self.mem.read(buf, count), lambda data: os.write(fd, data))

    def sys_pread64(self, fd, buf, count, _pad, lo, hi, *_):
        data = os.pread(s32(fd), count, self.arch.join64(lo, hi))
        self.mem.write(buf, data)
        return len(data)

    def sys_pwrite64(self, fd, buf, count, _pad, lo, hi, *_):
        return os.pwrite(s32(fd), self.mem.read(buf, count), self.arch.join64(lo, hi))

    def _iov(self, iov, n):
        o = self.arch.order
        return [struct.unpack(o + "II", self.mem.read(iov + 8 * i, 8)) for i in range(n)]

    def sys_readv(self, fd, iov, n, *_):
        total = 0
        for base, length in self._iov(iov, n):
            if not length:
                continue
            data = os.read(s32(fd), length)
            self.mem.write(base, data)
            total += len(data)
            if len(data) < length:
                break
        return total

    def sys_writev(self, fd, iov, n, *_):
        fd = s32(fd)
        data = b"".join(self.mem.read(b, ln) for b, ln in self._iov(iov, n))
        return self.write_all(fd, data, lambda piece: os.write(fd, piece))

    def sys_sendfile64(self, out_fd, in_fd, offp, count, *_):
        if offp:
            off = struct.unpack(self.arch.order + "q", self.mem.read(offp, 8))[0]
            n = os.sendfile(s32(out_fd), s32(in_fd), off, count)
            self.mem.write(offp, struct.pack(self.arch.order + "q", off + n))
            return n
        return os.sendfile(s32(out_fd), s32(in_fd), None, count)

    # --- open/close/seek --------------------------------------------------------------------
    def sys_openat(self, dirfd, path, flags, mode, *_):
        if self.mem.read_cstr(path) in (b"/proc/self/maps", b"/proc/%d/maps" % self.pid):
            return self._proc_maps()
        fd = os.open(self.path(path), self.arch.host_open_flags(flags), mode,
                     dir_fd=_dirfd(dirfd))
        if not flags & self.arch.o_cloexec:   # Python opens non-inheritable
            os.set_inheritable(fd, True)
        return fd

    def _proc_maps(self) -> int:
        """/proc/self/maps answering for the guest: its mappings, as a memory file."""
        text = self.mem.maps_text(self.brk_start, self.brk_cur)
        fd = os.memfd_create("maps", 0) if hasattr(os, "memfd_create") else None
        if fd is None:
            import tempfile
            fd, name = tempfile.mkstemp()
            os.unlink(name)
        os.write(fd, text.encode())
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)
        return fd

    def sys_open(self, path, flags, mode, *_):
        return self.sys_openat(AT_FDCWD & 0xFFFFFFFF, path, flags, mode)

    def sys_creat(self, path, mode, *_):
        fd = os.open(self.path(path), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
        os.set_inheritable(fd, True)
        return fd

    def sys_close(self, fd, *_):
        self.dir_cache.pop(s32(fd), None)
        os.close(s32(fd))
        return 0

    def sys_lseek(self, fd, off, whence, *_):
        return os.lseek(s32(fd), s32(off), whence)

    def sys__llseek(self, fd, hi, lo, result, whence, *_):
        pos = os.lseek(s32(fd), s32(hi) << 32 | lo, whence)
        self.mem.write(result, struct.pack(self.arch.order + "q", pos))
        return 0

    # --- metadata ---------------------------------------------------------------------------
    def sys_statx(self, dirfd, path, flags, mask, buf, *_):
        st = self._stat(dirfd, path, flags)
        o = self.arch.order

        def ts(t, ns):
            return struct.pack(o + "qIi", int(t), ns % 1000000000, 0)
        data = struct.pack(o + "IIQIIIHHQQQQ", 0x7FF, st.st_blksize, 0, st.st_nlink, st.st_uid,
                           st.st_gid, st.st_mode, 0, st.st_ino, st.st_size, st.st_blocks, 0)
        data += ts(st.st_atime, st.st_atime_ns) + ts(0, 0) + ts(st.st_ctime, st.st_ctime_ns) \
            + ts(st.st_mtime, st.st_mtime_ns)
        data += struct.pack(o + "IIII", os.major(st.st_rdev), os.minor(st.st_rdev),
                            os.major(st.st_dev), os.minor(st.st_dev))
        self.mem.write(buf, data + bytes(256 - len(data)))
        return 0

    def sys_fstatat64(self, dirfd, path, buf, flags, *_):
        self.mem.write(buf, self.arch.pack_stat64(self._stat(dirfd, path, flags)))
        return 0

    def sys_stat64(self, path, buf, *_):
        self.mem.write(buf, self.arch.pack_stat64(os.stat(self.path(path))))
        return 0

    def sys_lstat64(self, path, buf, *_):
        self.mem.write(buf, self.arch.pack_stat64(os.lstat(self.path(path))))
        return 0

    def sys_fstat64(self, fd, buf, *_):
        self.mem.write(buf, self.arch.pack_stat64(os.fstat(s32(fd))))
        return 0

    def sys_faccessat(self, dirfd, path, mode, *_):
        return 0 if os.access(self.path(path), mode, dir_fd=_dirfd(dirfd)) else -self.errno("EACCES")

    def sys_faccessat2(self, dirfd, path, mode, flags, *_):
        return self.sys_faccessat(dirfd, path, mode)

    def sys_access(self, path, mode, *_):
        if not os.path.lexists(self.path(path)):
            return -self.errno("ENOENT")
        return self.sys_faccessat(AT_FDCWD & 0xFFFFFFFF, path, mode)

    def sys_readlinkat(self, dirfd, path, buf, size, *_):
        if self.mem.read_cstr(path) in (b"/proc/self/exe", b"/proc/%d/exe" % self.pid):
            target = self.exe_path
        else:
            target = os.readlink(self.path(path), dir_fd=_dirfd(dirfd))
        data = os.fsencode(target)[:size]
        self.mem.write(buf, data)
        return len(data)

    def sys_readlink(self, path, buf, size, *_):
        return self.sys_readlinkat(AT_FDCWD & 0xFFFFFFFF, path, buf, size)

    def sys_getcwd(self, buf, size, *_):
        cwd = os.fsencode(os.getcwd()) + b"\0"
        if len(cwd) > size:
            return -self.errno("ERANGE")
        self.mem.write(buf, cwd)
        return len(cwd)

    def sys_chdir(self, path, *_):
        os.chdir(self.path(path))
        return 0

    def sys_fchdir(self, fd, *_):
        os.fchdir(s32(fd))
        return 0

    def sys_umask(self, mask, *_):
        return os.umask(mask & 0o777)

    def sys_utimensat(self, dirfd, path, times, flags, *_):
        ns = None
        if times:
            a, an, m, mn = struct.unpack(self.arch.order + "iiii", self.mem.read(times, 16))
            ns = (a * 10 ** 9 + an, m * 10 ** 9 + mn)
        target = self.path(path) if path else s32(dirfd)
        os.utime(target, ns=ns, dir_fd=_dirfd(dirfd) if path else None,
                 follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
        return 0

    # --- extended attributes and file systems ------------------------------------------------
    def _getxattr(self, target, name, value, size, follow=True):
        data = os.getxattr(target, self.mem.read_cstr(name), follow_symlinks=follow)
        if size:
            if len(data) > size:
                return -self.errno("ERANGE")
            self.mem.write(value, data)
        return len(data)

    def sys_getxattr(self, path, name, value, size, *_):
        return self._getxattr(self.path(path), name, value, size)

    def sys_lgetxattr(self, path, name, value, size, *_):
        return self._getxattr(self.path(path), name, value, size, False)

    def sys_fgetxattr(self, fd, name, value, size, *_):
        return self._getxattr(s32(fd), name, value, size)

    def _listxattr(self, target, buf, size, follow=True):
        data = b"".join(os.fsencode(n) + b"\0" for n in os.listxattr(target, follow_symlinks=follow))
        if size:
            if len(data) > size:
                return -self.errno("ERANGE")
            self.mem.write(buf, data)
        return len(data)

    def sys_listxattr(self, path, buf, size, *_):
        return self._listxattr(self.path(path), buf, size)

    def sys_llistxattr(self, path, buf, size, *_):
        return self._listxattr(self.path(path), buf, size, False)

    def sys_flistxattr(self, fd, buf, size, *_):
        return self._listxattr(s32(fd), buf, size)

    def sys_statfs64(self, path, size, buf, *_):
        self.mem.write(buf, self.arch.pack_statfs64(os.statvfs(self.path(path))))
        return 0

    def sys_fstatfs64(self, fd, size, buf, *_):
        self.mem.write(buf, self.arch.pack_statfs64(os.fstatvfs(s32(fd))))
        return 0

    # --- directory entries and names --------------------------------------------------------
    def sys_mkdirat(self, dirfd, path, mode, *_):
        os.mkdir(self.path(path), mode, dir_fd=_dirfd(dirfd))
        return 0

    def sys_mkdir(self, path, mode, *_):
        return self.sys_mkdirat(AT_FDCWD & 0xFFFFFFFF, path, mode)

    def sys_rmdir(self, path, *_):
        os.rmdir(self.path(path))
        return 0

    def sys_unlinkat(self, dirfd, path, flags, *_):
        if flags & AT_REMOVEDIR:
            os.rmdir(self.path(path), dir_fd=_dirfd(dirfd))
        else:
            os.unlink(self.path(path), dir_fd=_dirfd(dirfd))
        return 0

    def sys_unlink(self, path, *_):
        return self.sys_unlinkat(AT_FDCWD & 0xFFFFFFFF, path, 0)

    def sys_renameat(self, olddir, old, newdir, new, *_):
        os.rename(self.path(old), self.path(new), src_dir_fd=_dirfd(olddir),
                  dst_dir_fd=_dirfd(newdir))
        return 0

    def sys_renameat2(self, olddir, old, newdir, new, flags, *_):
        return self.sys_renameat(olddir, old, newdir, new)

    def sys_rename(self, old, new, *_):
        os.rename(self.path(old), self.path(new))
        return 0

    def sys_linkat(self, olddir, old, newdir, new, flags, *_):
        os.link(self.path(old), self.path(new), src_dir_fd=_dirfd(olddir),
                dst_dir_fd=_dirfd(newdir), follow_symlinks=bool(flags & 0x400))
        return 0

    def sys_link(self, old, new, *_):
        os.link(self.path(old), self.path(new))
        return 0

    def sys_symlinkat(self, target, newdir, new, *_):
        os.symlink(self.mem.read_cstr(target), self.path(new), dir_fd=_dirfd(newdir))
        return 0

    def sys_symlink(self, target, new, *_):
        os.symlink(self.mem.read_cstr(target), self.path(new))
        return 0

    def sys_fchmodat(self, dirfd, path, mode, *_):
        os.chmod(self.path(path), mode, dir_fd=_dirfd(dirfd))
        return 0

    def sys_chmod(self, path, mode, *_):
        os.chmod(self.path(path), mode)
        return 0

    def sys_fchmod(self, fd, mode, *_):
        os.fchmod(s32(fd), mode)
        return 0

    def sys_fchownat(self, dirfd, path, uid, gid, flags, *_):
        os.chown(self.path(path), s32(uid), s32(gid), dir_fd=_dirfd(dirfd),
                 follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
        return 0

    def sys_fchown32(self, fd, uid, gid, *_):
        os.fchown(s32(fd), s32(uid), s32(gid))
        return 0

    sys_fchown = sys_fchown32

    def sys_chown32(self, path, uid, gid, *_):
        os.chown(self.path(path), s32(uid), s32(gid))
        return 0

    sys_chown = sys_chown32

    def sys_lchown32(self, path, uid, gid, *_):
        os.lchown(self.path(path), s32(uid), s32(gid))
        return 0

    sys_lchown = sys_lchown32

    def sys_ftruncate64(self, fd, _pad, lo, hi, *_):
        os.ftruncate(s32(fd), self.arch.join64(lo, hi))
        return 0

    def sys_truncate64(self, path, _pad, lo, hi, *_):
        os.truncate(self.path(path), self.arch.join64(lo, hi))
        return 0

    def sys_fsync(self, fd, *_):
        os.fsync(s32(fd))
        return 0

    sys_fdatasync = sys_fsync

    def sys_getdents64(self, fd, buf, count, *_):
        fd = s32(fd)
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        entries = self.dir_cache.get(fd)
        if entries is None or pos == 0:
            st = os.fstat(fd)
            if not _stat.S_ISDIR(st.st_mode):
                return -self.errno("ENOTDIR")
            entries = [(b".", st.st_ino, 4), (b"..", st.st_ino, 4)]
            with os.scandir(fd) as it:
                for e in it:
                    try:
                        mode = e.stat(follow_symlinks=False).st_mode
                        dtype = DT.get(_stat.S_IFMT(mode), 0)
                    except OSError:
                        dtype = 0
                    entries.append((os.fsencode(e.name), e.inode(), dtype))
            self.dir_cache[fd] = entries
        out = bytearray()
        o = self.arch.order
        i = pos
        while i < len(entries):
            name, ino, dtype = entries[i]
            reclen = (19 + len(name) + 1 + 7) & ~7
            if len(out) + reclen > count:
                break
            rec = struct.pack(o + "QqHB", ino, i + 1, reclen, dtype) + name
            out += rec + bytes(reclen - len(rec))
            i += 1
        if i == pos and i < len(entries):
            return -self.errno("EINVAL")
        self.mem.write(buf, bytes(out))
        if i != pos:   # the directory offset counts entries (our listing's index)
            os.lseek(fd, i, os.SEEK_SET)
        return len(out)

    # --- descriptors ------------------------------------------------------------------------
    def sys_dup(self, fd, *_):
        new = os.dup(s32(fd))
        os.set_inheritable(new, True)
        return new

    def sys_dup2(self, fd, fd2, *_):
        if fd == fd2:
            os.fstat(s32(fd))
            return fd
        return os.dup2(s32(fd), s32(fd2))

    def sys_dup3(self, fd, fd2, flags, *_):
        return os.dup2(s32(fd), s32(fd2), inheritable=not flags & self.arch.o_cloexec)

    def _pipe(self, fds, flags):
        r, w = os.pipe2(self.arch.host_open_flags(flags) & (os.O_NONBLOCK | os.O_CLOEXEC))
        os.set_inheritable(r, not flags & self.arch.o_cloexec)
        os.set_inheritable(w, not flags & self.arch.o_cloexec)
        return r, w

    def sys_pipe2(self, fds, flags, *_):
        r, w = self._pipe(fds, flags)
        self.mem.write(fds, struct.pack(self.arch.order + "ii", r, w))
        return 0

    def sys_pipe(self, fds, *_):
        return self.arch.pipe_result(self, fds, *self._pipe(fds, 0))

    def sys_fcntl64(self, fd, cmd, arg, *_):
        fd = s32(fd)
        a = self.arch
        name = a.fcntl_cmds.get(cmd)
        if name == "F_GETFL":
            return a.guest_open_flags(fcntl.fcntl(fd, fcntl.F_GETFL))
        if name == "F_SETFL":
            return fcntl.fcntl(fd, fcntl.F_SETFL, a.host_open_flags(arg))
        if name in HOST_FCNTL:
            return fcntl.fcntl(fd, HOST_FCNTL[name], s32(arg))
        if name in ("F_SETLK", "F_SETLKW", "F_SETLK64", "F_SETLKW64"):
            return 0   # advisory locks between emulated processes are not modelled
        if name in ("F_GETLK", "F_GETLK64"):
            return 0
        return -self.errno("EINVAL")

    sys_fcntl = sys_fcntl64

    def sys_ioctl(self, fd, req, arg, *_):
        fd = s32(fd)
        name = self.arch.ioctl_names.get(req)
        if name in ("TCGETS",):
            buf = fcntl.ioctl(fd, termios.TCGETS, bytes(60))
            self.mem.write(arg, self.arch.termios_to_guest(buf))
            return 0
        if name in ("TCSETS", "TCSETSW", "TCSETSF"):
            cur = fcntl.ioctl(fd, termios.TCGETS, bytes(60))
            new = self.arch.termios_to_host(self.mem.read(arg, self.arch.termios_size), cur)
            fcntl.ioctl(fd, getattr(termios, name), new)
            return 0
        if name == "TIOCGWINSZ":
            buf = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))
            rows, cols, x, y = struct.unpack("HHHH", buf)
            self.mem.write(arg, struct.pack(self.arch.order + "HHHH", rows, cols, x, y))
            return 0
        if name == "TIOCSWINSZ":
            vals = struct.unpack(self.arch.order + "HHHH", self.mem.read(arg, 8))
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", *vals))
            return 0
        if name == "TIOCGPGRP":
            self.mem.write(arg, struct.pack(self.arch.order + "i", os.tcgetpgrp(fd)))
            return 0
        if name == "TIOCSPGRP":
            os.tcsetpgrp(fd, struct.unpack(self.arch.order + "i", self.mem.read(arg, 4))[0])
            return 0
        if name == "FIONREAD":
            buf = fcntl.ioctl(fd, termios.FIONREAD, bytes(4))
            self.mem.write(arg, struct.pack(self.arch.order + "i", struct.unpack("i", buf)[0]))
            return 0
        if name == "FIONBIO":
            on = struct.unpack(self.arch.order + "i", self.mem.read(arg, 4))[0]
            os.set_blocking(fd, not on)
            return 0
        os.fstat(fd)
        return -self.errno("ENOTTY")
