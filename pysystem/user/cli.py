"""The user-mode front ends: ``pysystem-user-arm``, ``pysystem-user-mipsel``,
``pysystem-user-mips`` (QEMU's qemu-arm, qemu-mipsel, qemu-mips).

    pysystem-user-arm [options] program [arguments...]

Options (QEMU's; the environment variable in brackets sets the default, as QEMU_*):

    -L path       the guest root for the ELF interpreter and absolute paths [PYSYSTEM_LD_PREFIX]
    -E var=value  set a variable of the guest's environment (repeatable)
    -U var        remove a variable from the guest's environment (repeatable)
    -0 argv0      the guest's argv[0] (default: the program as given)
    -cpu model    the CPU model (-cpu help lists them) [PYSYSTEM_CPU]
    -strace       trace system calls in QEMU's format [PYSYSTEM_STRACE]
    -d items      log items (-d help lists them); -D file: the log file
    -g port       wait for gdb on TCP port before the first instruction (user/gdb.py)
                  [PYSYSTEM_GDB]
    -one-insn-per-tb  translate one instruction per block (-singlestep: QEMU 7.2's name)
                  [PYSYSTEM_SINGLESTEP]
    -R size       reserve size bytes of guest address space (k/M/G suffixes; 0: all
                  of it): the program and every mapping stay below it; 4G or more is
                  an error, and so is less than the program's end plus 16M of heap
                  (QEMU 7.2's tests and messages) [PYSYSTEM_RESERVED_VA]
    -B address    QEMU's host address of guest address 0; it must be page-aligned, as
                  QEMU's, and is otherwise without effect here: the guest space is a
                  mapping of its own wherever the host puts it [PYSYSTEM_GUEST_BASE]
    -h, -version

The guest's environment starts as the emulator's; as in QEMU, the guest sees the variables
in the reverse order, the ones -E sets first.  Bad options and programs that cannot
be loaded give one line on stderr and exit status 1.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import List, Optional

from pysystem import log
from pysystem.cpu.models import CPUModelError, cpu_models

from .elf import ElfError
from .outcome import OWN_FDS_FROM, flush_all

USAGE = "\n\n".join(__doc__.split("\n\n")[2:]).rstrip()
WITH_ARG = {"L", "E", "U", "0", "cpu", "d", "D", "g", "R", "B"}


class UsageError(Exception):
    pass




@contextlib.contextmanager
def high_fds():
    """Files opened inside get descriptors >= OWN_FDS_FROM (the low ones are held)."""
    held = []
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            held.append(fd)
            if fd >= OWN_FDS_FROM - 1:
                break
        yield
    finally:
        for fd in held:
            os.close(fd)


def _arch(front_end: str):
    if front_end == "arm":
        from .arch_arm import ArchARM
        return ArchARM()
    from .arch_mips import ArchMIPS
    return ArchMIPS(big_endian=front_end == "mips")


def started_with_preserved_argv0() -> bool:
    """binfmt_misc's P flag: the kernel sets AT_FLAGS bit 0 in the interpreter's auxv
    and passes ``path argv0 args...``."""
    try:
        with open("/proc/self/auxv", "rb") as f:
            data = f.read()
    except OSError:
        return False
    import struct
    for i in range(0, len(data) - 15, 16):
        key, val = struct.unpack_from("=QQ", data, i)
        if key == 8:    # AT_FLAGS
            return bool(val & 1)
    return False


def _initial_env() -> dict:
    """The environment the emulator was started with, in its order.  Read from
    /proc/self/environ where there is one: CPython's C-locale coercion (PEP 538) adds
    LC_CTYPE to os.environ when the locale is C, which the guest must not see."""
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
        env = {}
        for item in raw.split(b"\0"):
            if b"=" in item:
                k, _, v = item.partition(b"=")
                env[os.fsdecode(k)] = os.fsdecode(v)
    except OSError:
        env = dict(os.environ)
    added = env.pop("PYSYSTEM_USER_ADDED", None)
    if added:
        for k in added.split(","):
            env.pop(k, None)
    return env


def _number(option: str, text: str, suffixes: bool = False) -> int:
    """A number as QEMU reads -R/-B/-g: decimal, 0x hex or 0 octal; -R takes k/M/G."""
    scale = 1
    if suffixes and text[-1:].lower() in ("k", "m", "g"):
        scale = 1 << {"k": 10, "m": 20, "g": 30}[text[-1].lower()]
        text = text[:-1]
    try:
        return int(text, 0) * scale
    except ValueError:
        raise UsageError(f"invalid argument for '-{option}': '{text}'") from None


def parse(front_end: str, argv: List[str]):
    from .process import Options
    opts = Options(front_end=front_end, env=_initial_env())
    opts.prefix = os.environ.get("PYSYSTEM_LD_PREFIX", "")
    opts.cpu_model = os.environ.get("PYSYSTEM_CPU", "")
    opts.strace = bool(os.environ.get("PYSYSTEM_STRACE"))
    gdb = os.environ.get("PYSYSTEM_GDB", "")
    reserved = os.environ.get("PYSYSTEM_RESERVED_VA", "")
    base = os.environ.get("PYSYSTEM_GUEST_BASE", "")
    opts.one_insn_per_tb = bool(os.environ.get("PYSYSTEM_SINGLESTEP"))
    argv0: Optional[str] = None
    log_items = log_file = None
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        name = argv[i].lstrip("-")
        i += 1
        if name in WITH_ARG:
            if i >= len(argv):
                raise UsageError(f"option '-{name}' needs an argument")
            val = argv[i]
            i += 1
            if name == "L":
                opts.prefix = val
            elif name == "E":
                k, _, v = val.partition("=")
                opts.env.pop(k, None)    # QEMU's list: a variable set moves to the head
                opts.env[k] = v
            elif name == "U":
                opts.env.pop(val, None)
            elif name == "0":
                argv0 = val
            elif name == "cpu":
                opts.cpu_model = val
            elif name == "d":
                log_items = val
            elif name == "D":
                log_file = val
            elif name == "g":
                gdb = val
            elif name == "R":
                reserved = val
            elif name == "B":
                base = val
            if name in ("L", "cpu", "d", "D", "R"):
                opts.extra_args += ["-" + name, val]
        elif name in ("one-insn-per-tb", "singlestep"):
            opts.one_insn_per_tb = True
            opts.extra_args.append("-" + name)
        elif name == "strace":
            opts.strace = True
            opts.extra_args.append("-strace")
        elif name in ("h", "help"):
            print(f"usage: pysystem-user-{front_end} [options] program [arguments...]\n\n{USAGE}")
            sys.exit(0)
        elif name == "version":
            from pysystem import __version__
            print(f"pysystem-user-{front_end} version {__version__}")
            sys.exit(0)
        else:
            raise UsageError(f"unknown option '-{name}'")
    if opts.cpu_model == "help":
        print("\n".join(cpu_models("mips" if front_end.startswith("mips") else front_end)))
        sys.exit(0)
    if log_items == "help":
        print(log.help_text())
        sys.exit(0)
    try:
        if log_items:
            log.set_mask(log_items)
        if log_file:
            with high_fds():
                log.set_file(log_file)
    except log.LogError as e:
        raise UsageError(str(e)) from None
    if gdb:
        opts.gdb_port = _number("g", gdb)
        if not 0 < opts.gdb_port < 65536:
            raise UsageError(f"invalid port for '-g': '{gdb}'")
    if reserved:
        size = _number("R", reserved, suffixes=True)
        if size < 0:
            raise UsageError(f"invalid argument for '-R': '{reserved}'")
        if size >= 1 << 32:
            raise UsageError("Reserved virtual address too big")
        opts.reserved_va = (size + 0xfff) & ~0xfff
    if base:
        address = _number("B", base)
        if address & 0xfff:
            raise UsageError(f"Requested guest base {address:#x} does not satisfy host "
                             f"minimum alignment (0x1000)")
    if i >= len(argv):
        raise UsageError("no program given (try -h)")
    opts.program = argv[i]
    rest = argv[i + 1:]
    if i == 0 and rest and started_with_preserved_argv0():
        argv0, rest = rest[0], rest[1:]
    opts.argv = [argv0 if argv0 is not None else argv[i]] + rest
    return opts


def _default_signals() -> None:
    """The guest starts with default dispositions, as a new program would: Python
    ignores SIGPIPE and SIGXFSZ and turns SIGINT into KeyboardInterrupt."""
    import signal
    for name in ("SIGPIPE", "SIGXFSZ", "SIGINT"):
        try:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        except (AttributeError, OSError, ValueError):
            pass


def main(front_end: str, argv: Optional[List[str]] = None) -> int:
    from .process import Process
    prog = f"pysystem-user-{front_end}"
    _default_signals()
    try:
        opts = parse(front_end, sys.argv[1:] if argv is None else argv)
        from pysystem import codecache
        with high_fds():
            codecache.shared().get(b"")   # opens the database
        proc = Process(_arch(front_end), opts)
    except (UsageError, ElfError, CPUModelError) as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"{prog}: {e.filename or ''}: {e.strerror}\n")
        return 1
    status = proc.run()
    sys.stdout.flush()
    log.active().out.flush()
    return status


def _exit(front_end: str) -> None:
    code = main(front_end)
    flush_all()
    os._exit(code)


def main_arm() -> None:
    _exit("arm")


def main_mipsel() -> None:
    _exit("mipsel")


def main_mips() -> None:
    _exit("mips")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("arm", "mipsel", "mips"):
        sys.stderr.write("usage: python -m pysystem.user.cli arm|mipsel|mips [options] program ...\n")
        sys.exit(1)
    fe = sys.argv.pop(1)
    _exit(fe)
