"""execve for the guest: a program for this CPU (directly, or as the interpreter of a
``#!`` script) replaces the emulator with a new emulator running it, with the same
options (``-L``, ``-cpu``, ``-strace``, ``-d``, ``-D``); anything else is the host's
execve (a host binary runs natively).

The new emulator gets the guest's environment exactly: the variables the emulator itself
needs (``PYSYSTEM_*``, ``PYTHONPATH``) ride along only when the guest lacks them, listed
in ``PYSYSTEM_USER_ADDED`` so that cli.py takes them out again.
"""
from __future__ import annotations

import os
import struct
import sys
from typing import List, Optional

ADDED_VAR = "PYSYSTEM_USER_ADDED"


def _ptr_list(proc, addr: int) -> List[bytes]:
    out = []
    o = proc.arch.order
    while addr:
        (p,) = struct.unpack(o + "I", proc.mem.read(addr, 4))
        if not p:
            break
        out.append(proc.mem.read_cstr(p, 1 << 17))
        addr += 4
    return out


def is_guest_elf(arch, path: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 1:
        return False
    order = ">" if head[5] == 2 else "<"
    if (order == ">") != arch.big_endian:
        return False
    return struct.unpack(order + "H", head[18:20])[0] == arch.elf_machine


def _shebang(path: bytes) -> Optional[List[bytes]]:
    try:
        with open(path, "rb") as f:
            line = f.read(256).split(b"\n")[0]
    except OSError:
        return None
    if not line.startswith(b"#!"):
        return None
    parts = line[2:].strip().split(None, 1)
    return parts or None


def emulator_argv(front_end: str, extra: List[str], argv0: bytes, program: bytes,
                  args: List[bytes]) -> List[bytes]:
    return ([os.fsencode(sys.executable), b"-m", b"pysystem.user.cli", front_end.encode()]
            + [os.fsencode(a) for a in extra] + [b"-0", argv0, program] + args)


def guest_environment(envp: List[bytes]) -> dict:
    env = {}
    for e in envp:
        k, sep, v = e.partition(b"=")
        if sep:
            env[k] = v
    added = []
    for k, v in os.environb.items():
        if (k.startswith(b"PYSYSTEM_") or k == b"PYTHONPATH") and k not in env \
                and k != ADDED_VAR.encode():
            env[k] = v
            added.append(k)
    if added:
        env[ADDED_VAR.encode()] = b",".join(added)
    return env


def do_execve(proc, path_addr: int, argv_addr: int, envp_addr: int) -> int:
    path = proc.mem.read_cstr(path_addr)
    host = proc.path(path_addr)
    argv = _ptr_list(proc, argv_addr)
    envp = _ptr_list(proc, envp_addr)
    if not os.path.exists(host):
        return -proc.errno("ENOENT")
    if os.path.isdir(host) or not os.access(host, os.X_OK):
        return -proc.errno("EACCES")
    opts = proc.opts
    new = None
    if is_guest_elf(proc.arch, host):
        new = emulator_argv(opts.front_end, opts.extra_args, argv[0] if argv else path, host,
                            argv[1:])
    else:
        sb = _shebang(host)
        if sb is not None:
            interp = proc.paths.hostb(sb[0])
            if is_guest_elf(proc.arch, interp):
                new = emulator_argv(opts.front_end, opts.extra_args, sb[0], interp,
                                    sb[1:] + [path] + argv[1:])
    from .outcome import flush_all
    flush_all()
    if new is not None:
        os.execve(new[0], new, guest_environment(envp))
    os.execve(host, argv or [path], dict(e.partition(b"=")[::2] for e in envp if b"=" in e))
    return 0
