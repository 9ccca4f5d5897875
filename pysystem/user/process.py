"""One emulated Linux process: a CPU, its guest memory, and the kernel around them.

``Process(arch, options)`` creates the CPU (the ``-cpu`` model, with the architecture's
user-mode mixin in front of its class: see arch_arm.py / arch_mips.py), loads the
program (elf.py), builds the initial stack and ``run()``s until the guest exits.  A
system call comes here from the CPU's ``deliver`` (``syscall``): the architecture reads
its number and arguments, the ``sys_<name>`` method of the syscall mixins runs it with
the host's system calls, and the result (or -errno in the guest's numbering) goes back
to the guest.  An unknown call returns -ENOSYS and is logged under ``-d unimp``; an
error of the emulator while running one becomes -EFAULT/-EINVAL for the guest, never a
traceback.
"""
from __future__ import annotations

import errno as _errno
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List

from pysystem import log
from pysystem.clock import VirtualClock
from pysystem.cpu.models import cpu_class

from . import strace
from .elf import (AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_FLAGS, AT_GID, AT_HWCAP,
                  AT_HWCAP2, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_SECURE, AT_UID,
                  ElfError, build_stack, check_reserved, load_elf)
from .outcome import SIGRETURN, ProcessExit, flush_all
from .memory import PAGE, PROT_READ, PROT_WRITE, GuestFault, GuestMemory
from .paths import PathMap
from .signals import DEFAULT_IGNORED, SIG_DFL, SIG_IGN, SIGSEGV, SignalTable, describe
from .futex import FutexCalls
from .sys_files import FileCalls, s32
from .sys_memory import MemoryCalls
from .sys_poll import PollCalls
from .sys_process import ProcessCalls
from .sys_sockets import SocketCalls
from .threads import FD_WAITS, RESTART, SLICE, SWITCHED, ThreadCalls, WaitAgain

STACK_SIZE = 8 << 20


@dataclass
class Options:
    """What the command line says about the process (see cli.py)."""

    program: str = ""
    argv: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    prefix: str = ""          # -L
    cpu_model: str = ""       # -cpu
    strace: bool = False
    front_end: str = "arm"    # the executable's name suffix: arm, mipsel, mips
    extra_args: List[str] = field(default_factory=list)   # options an execve passes on
    gdb_port: int = 0         # -g
    one_insn_per_tb: bool = False
    reserved_va: int = 0      # -R


class Process(FileCalls, PollCalls, MemoryCalls, ProcessCalls, SocketCalls, ThreadCalls,
              FutexCalls):
    """See the module docstring."""

    def __init__(self, arch, opts: Options):
        self.arch = arch
        self.opts = opts
        self.paths = PathMap(opts.prefix)
        self.mem = GuestMemory(arch.big_endian)
        if opts.reserved_va:
            self.mem.limit = opts.reserved_va
        self.signals = SignalTable()
        self.pending_signals: set = set()
        self.signal_codes: Dict[int, int] = {}   # si_code of a pending signal sent to self
        self.pid = os.getpid()
        self.init_threads()
        model = opts.cpu_model or arch.default_cpu
        base = cpu_class(model, "mips" if arch.name.startswith("mips") else arch.name)
        cls = type("User" + base.__name__, (arch.cpu_mixin, base), {"TYPE": base.TYPE})
        props = {"endianness": "big" if arch.big_endian else "little"} \
            if arch.name.startswith("mips") else {}
        cpu = self.cpu = cls(**props)
        cpu.process = self
        cpu.address_space = self.mem.space
        cpu.clock = VirtualClock()
        cpu.realize()
        cpu.reset()
        self.mem.cpu = cpu
        self.exe_path = os.path.abspath(opts.program)
        self.brk_start = self.brk_cur = 0
        self.tls = 0
        self.dir_cache: Dict[int, list] = {}
        self.gdb = None
        self._load()
        if opts.gdb_port:
            from .gdb import UserGdb, listen
            self.gdb = UserGdb(listen(opts.gdb_port))

    # --- loading ------------------------------------------------------------------------
    def _load(self) -> None:
        arch, mem, opts = self.arch, self.mem, self.opts
        host_path = self.paths.host(opts.program)
        if opts.reserved_va:
            check_reserved(host_path, opts.program, arch.elf_machine, arch.big_endian,
                           mem.limit)
        # the stack, with a guard page below it (QEMU's layout: its top is 0x40801000)
        guard = mem.find_free(STACK_SIZE + PAGE)
        if guard is None:
            raise ElfError(f"{opts.program}: no room for the stack below -R's limit")
        mem.map(guard, PAGE, 0)
        stack = guard + PAGE
        mem.map(stack, STACK_SIZE, PROT_READ | PROT_WRITE)
        mem.stack_top = stack + STACK_SIZE
        img = load_elf(mem, host_path, arch.elf_machine, arch.big_endian)
        entry, base = img.entry, 0
        if img.interp:
            interp = load_elf(mem, self.paths.host(img.interp), arch.elf_machine,
                              arch.big_endian, is_interp=True)
            entry, base = interp.entry, interp.load_bias
        self.brk_start = self.brk_cur = img.brk
        mem.mmap_next = max(mem.mmap_next, stack + STACK_SIZE)
        aux = {AT_PHDR: img.phdr, AT_PHENT: img.phent, AT_PHNUM: img.phnum, AT_PAGESZ: PAGE,
               AT_BASE: base, AT_FLAGS: 0, AT_ENTRY: img.entry, AT_UID: os.getuid(),
               AT_EUID: os.geteuid(), AT_GID: os.getgid(), AT_EGID: os.getegid(),
               AT_HWCAP: arch.hwcap, AT_CLKTCK: 100, AT_SECURE: 0, AT_HWCAP2: arch.hwcap2}
        enc = os.fsencode
        # QEMU's environment list puts each variable it adds or sets at its head: the
        # guest sees the variables in the reverse of the order they were added
        sp = build_stack(mem, stack + STACK_SIZE, arch.order, [enc(a) for a in opts.argv],
                         [enc(f"{k}={v}") for k, v in reversed(list(opts.env.items()))],
                         aux, enc(opts.program), arch.platform, arch.base_platform(self.cpu))
        arch.setup_cpu(self.cpu, mem, entry, sp)
        if log.enabled("page"):
            log.write(f"start_brk   0x{img.brk:08x}\nentry       0x{img.entry:08x}\n"
                      f"start_stack 0x{sp:08x}\n")

    # --- running ------------------------------------------------------------------------
    def run(self) -> int:
        """Run until the guest exits; returns the exit status."""
        try:
            if self.gdb is not None:
                return self.gdb.run(self, self._run_slice)
            while True:
                self._run_slice()
        except ProcessExit as e:
            return e.status

    def _run_slice(self) -> None:
        """Run the CPU for a while (one thread's slice), then signals and threads."""
        many = len(self.threads) > 1 or self.gdb is not None   # gdb: look at its socket
        self.cpu.run(SLICE if many else 1 << 30, self.opts.one_insn_per_tb)
        self.check_signals()
        self.rotate_threads()

    # --- system calls -------------------------------------------------------------------
    def errno(self, name: str) -> int:
        """The guest's value of the errno called ``name``."""
        m = self.arch.errno_map
        return m[name] if m else getattr(_errno, name)

    def host_errno(self, guest: int) -> int:
        m = self.arch.errno_map
        if not m:
            return guest
        for name, v in m.items():
            if v == guest:
                return getattr(_errno, name, guest)
        return guest

    def guest_errno(self, host: int) -> int:
        m = self.arch.errno_map
        if not m:
            return host
        return m.get(_errno.errorcode.get(host, ""), host)

    def syscall(self) -> None:
        arch, cpu = self.arch, self.cpu
        nr = arch.syscall_nr(cpu)
        args = arch.syscall_args(cpu, self.mem)
        name = arch.syscall_names.get(nr)
        if name is None:
            result = arch.private_syscall(self, nr)
            if result is None:
                if self.opts.strace:
                    strace.unknown(self.pid, nr)
                log.log("unimp", f"Unsupported syscall: {nr}")
                result = -self.errno("ENOSYS")
            arch.set_result(cpu, result)
            return
        fn = getattr(self, "sys_" + name, None)
        if self.opts.strace:
            strace.enter(self, name, args)
            self.strace_call = (name, args)   # a wait prints the result when it ends
        if fn is None:
            log.log("unimp", f"Unsupported syscall: {nr} ({name})")
            result = -self.errno("ENOSYS")
        elif name in FD_WAITS and self.would_block(s32(args[0]), FD_WAITS[name]):
            # wait in the scheduler: other threads run, signals interrupt it
            wait = [(s32(args[0]), FD_WAITS[name])]

            def complete():
                if self.would_block(*wait[0]):   # another thread took what was there
                    return WaitAgain(wait)
                return self._call(name, fn, args)
            result = self.wait_in_host(wait, None, complete)
        else:
            result = self._call(name, fn, args)
        if result is SWITCHED:   # this thread blocked or ended; another one runs now
            if self.opts.strace and self.strace_call is not None:
                strace.leave(self, name, args, 0)
        elif result is SIGRETURN or result is RESTART:   # RESTART: after the handler
            if self.opts.strace:
                strace.leave(self, name, args, -513 if result is SIGRETURN else -512)
            if result is RESTART:
                arch.restart_syscall(cpu)
        else:
            if self.opts.strace:
                strace.leave(self, name, args, result)
            arch.set_result(cpu, result)
        if self.pending_signals:
            self.check_signals()

    def _call(self, name: str, fn, args) -> object:
        """Run the system call's method; an error becomes -errno for the guest."""
        try:
            return fn(*args)
        except ProcessExit:
            raise
        except GuestFault:
            return -self.errno("EFAULT")
        except OSError as e:
            return -self.guest_errno(e.errno or _errno.EIO)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:   # an emulator bug must not end the guest's process
            log.log("unimp", f"{name}: internal error {e!r}")
            return -self.errno("EINVAL")

    # --- signals --------------------------------------------------------------------------
    def fault(self, sig: int, addr: int) -> None:
        """A synchronous signal from the CPU (SIGSEGV for a bad access...): the guest's
        handler if it has one, else the process dies of it (ignoring it is not possible)."""
        if self.gdb is not None:     # gdb hears of it first (0: the instruction runs again)
            sig = self.gdb.report_signal(self, sig)
            if not sig:
                return
        action = self.signals.get(sig)
        if action[0] in (SIG_DFL, SIG_IGN) or not self.arch.can_deliver \
                or self.signals.blocked >> (self.arch.guest_signal(sig) - 1) & 1:
            self.die_of_signal(sig)
        self._enter_handler(sig, action, addr)

    def _enter_handler(self, sig: int, action: tuple, addr: int) -> None:
        try:
            self.arch.setup_frame(self, sig, action, addr)
        except GuestFault:   # no stack to put the frame on: the kernel's SIGSEGV
            self.die_of_signal(SIGSEGV)

    def check_signals(self) -> None:
        """Deliver the host signals that arrived for guest handlers (not blocked)."""
        for sig in sorted(self.pending_signals):
            if self.signals.blocked >> (self.arch.guest_signal(sig) - 1) & 1:
                continue
            self.pending_signals.discard(sig)
            if self.gdb is not None:     # QEMU's gdb_handlesig: gdb may change or drop it
                sig = self.gdb.report_signal(self, sig)
                if not sig:
                    continue
            action = self.signals.get(sig)
            if action[0] == SIG_IGN or (action[0] == SIG_DFL and sig in DEFAULT_IGNORED):
                continue
            if action[0] == SIG_DFL:
                self.die_of_signal(sig)
            if self.arch.can_deliver:
                self._enter_handler(sig, action, 0)
            else:
                log.log("unimp", f"signal {sig}: delivery to a guest handler not supported")

    def die_of_signal(self, sig: int) -> None:
        """End the process as killed by ``sig`` (QEMU's message, then the signal itself)."""
        import resource
        import signal
        if self.gdb is not None:
            self.gdb.signalled(self.arch.guest_signal(sig))
        sys.stderr.write(f"qemu: uncaught target signal {self.arch.guest_signal(sig)} "
                         f"({describe(sig)}) - core dumped\n")
        flush_all()
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(os.getpid(), sig)
        except (OSError, ValueError):
            pass
        raise ProcessExit(128 + sig)

    @property
    def pc(self) -> int:
        return self.arch.pc(self.cpu)

