"""``-strace``: system calls in QEMU's format, one line per call, on the log (stderr or
``-D``): ``PID name(args) = result``; the call is written before it runs and the
result after, so a guest's own output lands in between (as QEMU's).

Argument formats per call are data (``FORMATS``): ``d`` signed decimal, ``u`` unsigned,
``x`` ``%#x``, ``p`` a pointer (``0x%08x``, NULL for 0), ``s`` a string, ``o`` octal, ``S`` a signal by name,
``f`` the AT_FDCWD-aware directory fd, and flag sets by name (``prot``, ``atflags``,
``statxmask``, ``openflags``, ``mmapflags``).  A call without an entry prints its six
raw arguments as signed decimals; an unknown number prints ``Unknown syscall N``.
Results: ``= N``, ``= 0x%08x`` for address results, ``= -1 errno=E (text)``.
"""
from __future__ import annotations

import os
from typing import Dict, List, Tuple

from pysystem import log

FORMATS: Dict[str, str] = {
    "brk": "p", "close": "d", "exit": "d\n", "exit_group": "d\n", "read": "dxu",
    "write": "dxd", "readlink": "spu", "readlinkat": "fspu", "getrandom": "xuu",
    "mprotect": "pu,prot", "munmap": "pu", "mmap2": "pu,prot,mmapflags,dx",
    "openat": "fs,openflags", "open": "s,openflags", "statx": "fs,atflags,statxmask,p",
    "fstat64": "dp", "stat64": "sp", "lstat64": "sp", "fstatat64": "fsp,atflags",
    "getpid": "", "getppid": "", "getuid32": "", "geteuid32": "", "getgid32": "",
    "getegid32": "", "getuid": "", "geteuid": "", "getgid": "", "getegid": "",
    "fork": "", "vfork": "", "chdir": "s", "getcwd": "pd", "dup": "d", "dup2": "dd",
    "dup3": "ddd", "pipe": "p", "pipe2": "pd", "wait4": "dpdp", "kill": "dS",
    "unlink": "s", "unlinkat": "fsd", "mkdir": "so", "mkdirat": "fso", "rmdir": "s",
    "access": "s,access", "faccessat": "fs,access", "set_thread_area": "p", "execve": "s",
    "getdents64": "dpu", "lseek": "ddd", "_llseek": "dddpd", "fcntl64": "ddd",
    "ioctl": "dxx", "uname": "p", "rt_sigaction": "Spp", "rt_sigprocmask": "dpp",
}
ADDRESS_RESULTS = {"brk", "mmap2", "mmap"}
#: calls QEMU 7.2's strace does not know by name: it prints "Unknown syscall N"
UNLISTED = {"rseq", "clone3", "statmount", "listmount"}

_PROT = ((4, "PROT_EXEC"), (1, "PROT_READ"), (2, "PROT_WRITE"))
_ACCESS = ((4, "R_OK"), (2, "W_OK"), (1, "X_OK"))
_AT = ((0x1000, "AT_EMPTY_PATH"), (0x800, "AT_NO_AUTOMOUNT"), (0x200, "AT_REMOVEDIR"),
       (0x400, "AT_SYMLINK_FOLLOW"), (0x100, "AT_SYMLINK_NOFOLLOW"))
_STATX_BASIC = 0x7FF

_OPEN_ACC = ("O_RDONLY", "O_WRONLY", "O_RDWR")


def _flags(value: int, table, zero: str) -> str:
    names = [n for bit, n in table if value & bit]
    rest = value & ~sum(b for b, _ in table)
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names) if names else zero


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _string(proc, addr: int) -> str:
    if not addr:
        return "NULL"
    try:
        s = proc.mem.read_cstr(addr, 4096)
    except Exception:
        return f"0x{addr:08x}"
    return '"' + s.decode("latin-1") + '"'


def _arg(proc, kind: str, v: int) -> str:
    if kind == "d":
        return str(_s32(v))
    if kind == "u":
        return str(v)
    if kind == "x":
        return f"{v:#x}" if v else "0"
    if kind == "o":
        return f"{v:#o}"
    if kind == "p":
        return "NULL" if not v else f"0x{v:08x}"
    if kind == "s":
        return _string(proc, v)
    if kind == "S":
        import signal
        try:
            return signal.Signals(proc.arch.host_signal(v)).name
        except ValueError:
            return str(v)
    if kind == "f":
        return "AT_FDCWD" if _s32(v) == -100 else str(_s32(v))
    if kind == "prot":
        return _flags(v, _PROT, "PROT_NONE")
    if kind == "atflags":
        return _flags(v, _AT, "0")
    if kind == "statxmask":
        return "STATX_BASIC_STATS" if v == _STATX_BASIC else f"{v:#x}"
    if kind == "mmapflags":
        return _flags(v, proc.arch.mmap_flag_names, "0")
    if kind == "access":
        return _flags(v, _ACCESS, "F_OK")
    if kind == "openflags":
        acc = _OPEN_ACC[v & 3] if v & 3 < 3 else str(v & 3)
        names = [acc] + [n for bit, n in proc.arch.open_flag_names if v & bit]
        return "|".join(names)
    return str(v)


def _kinds(fmt: str) -> Tuple[List[str], bool]:
    newline = fmt.endswith("\n")
    fmt = fmt.rstrip("\n")
    out: List[str] = []
    for part in fmt.split(","):
        if part in ("prot", "atflags", "statxmask", "mmapflags", "openflags", "access"):
            out.append(part)
        else:
            out.extend(part)
    return out, newline


def _out(text: str) -> None:
    log.active().out.write(text)
    log.active().out.flush()


def enter(proc, name: str, args: list) -> None:
    if name in UNLISTED:
        unknown(proc.pid, proc.arch.syscall_nr(proc.cpu))
        return
    fmt = FORMATS.get(name)
    if fmt is None:
        text = ",".join(str(_s32(a)) for a in args[:6])
        newline = False
    else:
        kinds, newline = _kinds(fmt)
        text = ",".join(_arg(proc, k, a) for k, a in zip(kinds, args))
        if name in ("openat", "open") and args[len(kinds) - 1] & proc.arch.open_flags["O_CREAT"]:
            text += f",{args[len(kinds)]:#o}"   # the mode, with O_CREAT only
    _out(f"{proc.pid} {name}({text})" + ("\n" if newline else ""))


def leave(proc, name: str, args: list, result: int) -> None:
    if FORMATS.get(name, "").endswith("\n") or name in UNLISTED:
        return
    if -4096 < result < 0:
        err = -result
        text = {513: "Successful exit from sigreturn", 512: "To be restarted"}.get(err) \
            or os.strerror(proc.host_errno(err))
        _out(f" = -1 errno={err} ({text})\n")
    elif name in ADDRESS_RESULTS:
        _out(f" = 0x{result & 0xFFFFFFFF:08x}\n")
    else:
        _out(f" = {result}\n")


def unknown(pid: int, nr: int) -> None:
    _out(f"{pid} Unknown syscall {nr}\n")
