"""MIPS o32 user mode (both byte orders): the CPU in user mode over the flat guest space,
the o32 system call convention and MIPS's own ABI numbers.

* System calls: ``syscall`` with the number (4000 + n) in v0, arguments in a0-a3 and
  the 5th-8th on the stack at sp+16..sp+28; the result in v0 with a3 = 0, or the
  (MIPS-numbered) errno in v0 with a3 = 1.  The old ``pipe`` returns its two
  descriptors in v0 and v1.
* TLS: ``set_thread_area`` sets the UserLocal value; ``rdhwr $29`` (RI on these cores,
  which have no UserLocal register) is emulated as the kernel does.
* Faults: address errors become SIGBUS (SIGSEGV above the user segment), TLB faults
  SIGSEGV, reserved instructions SIGILL, ``break`` SIGTRAP, ``teq ..., 7`` (the
  division-by-zero trap gcc emits) SIGFPE, overflow SIGFPE.
* MIPS numbers differently: errno values, open flags, fcntl commands, ioctls, termios
  (c_cc[23] in its own order, the IEXTEN/TOSTOP/FLUSHO bits), struct stat64, sigaction
  (flags first, 128-bit mask), signal numbers, MAP_ANONYMOUS.
"""
from __future__ import annotations

import struct
import termios

from pysystem import codecache
from pysystem.cpu.engine import translate as tr
from pysystem.cpu.mips import exceptions as mexc

from . import sysnums
from .abi import ABI, GENERIC_OPEN_FLAGS, MipsSignals
from .elf import EM_MIPS
from .memory import PAGE
from .signals import SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP

ST_CU1 = 1 << 29
KSU_USER = 2 << 3
SYSCALL_BASE = 4000
#: the o32 calls with more than four arguments and how many they take: only these read
#: arguments from the stack (as the kernel's table; the others see zeros there, which
#: -strace shows)
_FIVE = ("_llseek clone statx ppoll ppoll_time64 _newselect waitid fchownat linkat renameat2 "
         "mremap prctl setsockopt getsockopt mount preadv keyctl recvmmsg recvmmsg_time64")
_SIX = ("mmap mmap2 pread64 pwrite64 pselect6 pselect6_time64 sendto recvfrom splice futex "
        "futex_time64 ipc fallocate epoll_pwait pwritev process_vm_readv process_vm_writev "
        "move_pages mbind copy_file_range")
STACK_ARGS = dict([(n, 5) for n in _FIVE.split()] + [(n, 6) for n in _SIX.split()]
                  + [("sync_file_range", 7), ("fadvise64", 7)])
RDHWR_MASK, RDHWR_29 = 0xFFE0FFFF, 0x7C00E83B   # rdhwr rt, $29


class UserMIPS:
    """Mixed in before a MIPS CPU model's class: see the module docstring."""

    process = None

    def mmu_translate(self, va: int, access: int, level: int, idx: int) -> tuple:
        mem = self.process.mem
        if access == 2 and va & 3:
            raise mexc.AddressError(idx, va)
        if mem.check(va, access):
            return va, mem.check(va, 1), PAGE, None
        if va >= 0x80000000:
            raise mexc.AddressError(idx, va, access == 1)
        raise mexc.TLBRefill(idx, va, access == 1)

    def debug_translate(self, va: int) -> int:
        if self.process.mem.check(va, 0):
            return va
        raise mexc.TLBRefill(-1, va)

    def code_ident(self) -> bytes:
        got = self._code_ident
        if got is None:
            got = self._code_ident = codecache.ident(
                b"user", super().code_ident(), tr.source_ident(tr.package_folder(self)))
        return got

    def deliver(self, e, pc: int, size: int, in_slot: bool = False) -> None:
        proc = self.process
        self.regs[0] = 0
        self.pc_ = pc
        if isinstance(e, mexc.Syscall) and not in_slot:
            self.pc_ = (pc + 4) & 0xFFFFFFFF
            proc.syscall()
        elif isinstance(e, mexc.ReservedInstruction) and not in_slot and self._rdhwr(pc):
            self.clock.icount += 1
        elif isinstance(e, mexc.AddressError):
            proc.fault(SIGSEGV if e.badvaddr >= 0x80000000 else SIGBUS, e.badvaddr)
        elif isinstance(e, mexc.MemoryFault):
            proc.fault(SIGSEGV, e.badvaddr)
        elif isinstance(e, (mexc.Break, mexc.DebugBreakpoint)):
            proc.fault(SIGTRAP, pc)
        elif isinstance(e, mexc.Trap):
            proc.fault(SIGFPE if self._trap_code(pc) == 7 else SIGTRAP, pc)
        elif isinstance(e, (mexc.Overflow, mexc.FloatingPoint)):
            proc.fault(SIGFPE, pc)
        else:
            proc.fault(SIGILL, pc)

    def take_undefined(self, pc: int) -> None:
        self.pc_ = pc
        self.process.fault(SIGILL, pc)

    def _insn(self, pc: int) -> int:
        data = self.process.mem.peek(pc, 4)
        return int.from_bytes(data, "big" if self.big_endian else "little")

    def _rdhwr(self, pc: int) -> bool:
        insn = self._insn(pc)
        if insn & RDHWR_MASK != RDHWR_29:
            return False
        rt = (insn >> 16) & 31
        if rt:
            self.regs[rt] = self.process.tls
        self.pc_ = (pc + 4) & 0xFFFFFFFF
        return True

    def _trap_code(self, pc: int) -> int:
        insn = self._insn(pc)
        return (insn >> 6) & 0x3FF if insn >> 26 == 0 else 0


#: asm/fcntl.h (MIPS): the flags that differ from asm-generic
MIPS_OPEN_FLAGS = dict(GENERIC_OPEN_FLAGS, O_APPEND=0x8, O_DSYNC=0x10, O_NONBLOCK=0x80,
                       O_CREAT=0x100, O_TRUNC=0x200, O_EXCL=0x400, O_NOCTTY=0x800,
                       FASYNC=0x1000, O_LARGEFILE=0x2000, __O_SYNC=0x4000, O_DIRECT=0x8000)
MIPS_FCNTL = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL",
              14: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 24: "F_SETOWN", 23: "F_GETOWN",
              33: "F_GETLK64", 34: "F_SETLK64", 35: "F_SETLKW64", 1030: "F_DUPFD_CLOEXEC"}
#: asm/ioctls.h (MIPS)
MIPS_IOCTLS = {0x540D: "TCGETS", 0x540E: "TCSETS", 0x540F: "TCSETSW", 0x5410: "TCSETSF",
               0x40087468: "TIOCGWINSZ", 0x80087467: "TIOCSWINSZ", 0x40047477: "TIOCGPGRP",
               0x80047476: "TIOCSPGRP", 0x467F: "FIONREAD", 0x667E: "FIONBIO"}
#: asm/termbits.h (MIPS): c_cc indices and the c_lflag bits that MIPS numbers differently
#: (the host's come from Python's termios module by the same names)
MIPS_CC = {"VINTR": 0, "VQUIT": 1, "VERASE": 2, "VKILL": 3, "VMIN": 4, "VTIME": 5,
           "VEOL2": 6, "VSWTC": 7, "VSTART": 8, "VSTOP": 9, "VSUSP": 10, "VREPRINT": 12,
           "VDISCARD": 13, "VWERASE": 14, "VLNEXT": 15, "VEOF": 16, "VEOL": 17}
MIPS_LFLAG = {"IEXTEN": 0x100, "FLUSHO": 0x2000, "TOSTOP": 0x8000}


def _cc_map() -> list:
    """(host index, MIPS index) of each control character the host knows."""
    return [(getattr(termios, name), index) for name, index in MIPS_CC.items()
            if hasattr(termios, name)]


def _lflag_map() -> list:
    return [(getattr(termios, name), bit) for name, bit in MIPS_LFLAG.items()
            if hasattr(termios, name)]


def _remap(value: int, pairs: list, to_guest: bool) -> int:
    """Move the bits named in ``pairs`` (host bit, guest bit) from one numbering to the
    other; the bits not named are the same in both."""
    moved = 0
    for host, guest in pairs:
        moved |= host | guest
    out = value & ~moved
    for host, guest in pairs:
        src, dst = (host, guest) if to_guest else (guest, host)
        if value & src:
            out |= dst
    return out


class ArchMIPS(MipsSignals, ABI):
    """The MIPS o32 process conventions (see the module docstring)."""

    name = "mips"
    elf_machine = EM_MIPS
    default_cpu = "24Kf"
    uname_machine = "mips"
    platform = None
    hwcap = 0
    hwcap2 = None
    errno_map = sysnums.MIPS_ERRNO
    open_flags = MIPS_OPEN_FLAGS
    fcntl_cmds = MIPS_FCNTL
    ioctl_names = MIPS_IOCTLS
    map_anonymous = 0x800
    mmap_flag_names = ((1, "MAP_SHARED"), (2, "MAP_PRIVATE"), (0x800, "MAP_ANONYMOUS"),
                       (0x2000, "MAP_DENYWRITE"), (0x10, "MAP_FIXED"), (0x1000, "MAP_GROWSDOWN"),
                       (0x4000, "MAP_EXECUTABLE"), (0x8000, "MAP_LOCKED"),
                       (0x400, "MAP_NORESERVE"), (0x10000, "MAP_POPULATE"),
                       (0x20000, "MAP_NONBLOCK"), (0x40000, "MAP_STACK"),
                       (0x80000, "MAP_HUGETLB"), (0x100000, "MAP_FIXED_NOREPLACE"))
    termios_size = 40          # 4 flags, c_line, c_cc[23]
    sigaction_size = 24        # flags, handler, mask (128 bits; the first 64 used)
    sigprocmask_how = {1: "SIG_BLOCK", 2: "SIG_UNBLOCK", 3: "SIG_SETMASK"}
    sock_types = {2: 1, 1: 2, 3: 3, 5: 5}    # asm/socket.h: SOCK_DGRAM 1, SOCK_STREAM 2
    sol_socket = 0xFFFF
    sockopt_names = {4: "SO_REUSEADDR", 0x1008: "SO_TYPE", 0x1007: "SO_ERROR",
                     0x20: "SO_BROADCAST", 0x1001: "SO_SNDBUF", 0x1002: "SO_RCVBUF",
                     8: "SO_KEEPALIVE", 0x80: "SO_LINGER", 0x200: "SO_REUSEPORT"}
    cpu_mixin = UserMIPS
    can_deliver = True

    def base_platform(self, cpu) -> bytes:
        """The ISA the model implements, as QEMU's get_elf_base_platform names it."""
        return b"mips32r2" if cpu.model.release >= 2 else b"mips32"

    def __init__(self, big_endian: bool) -> None:
        self.big_endian = big_endian
        self.order = ">" if big_endian else "<"
        self.name = "mips" if big_endian else "mipsel"
        self.syscall_names = {SYSCALL_BASE + n: name for n, name in sysnums.MIPS_O32.items()}
        super().__init__()

    def setup_cpu(self, cpu, mem, entry: int, sp: int) -> None:
        cpu.cp0.status = (cpu.cp0.status & ~0x1F & ~(1 << 22)) | KSU_USER | ST_CU1
        cpu._update_khi()
        cpu.flush_all()
        cpu.regs[29] = sp
        cpu.regs[25] = entry
        cpu.pc_ = entry
        from .sigframe_mips import map_trampolines
        map_trampolines(mem, self.order)

    def save_state(self, proc) -> tuple:
        """A thread's registers (threads.py); the LL link is not kept."""
        cpu = proc.cpu
        return (list(cpu.regs), cpu.pc_, list(cpu.fpr), cpu.fcsr, proc.tls)

    def load_state(self, proc, state: tuple) -> None:
        cpu = proc.cpu
        regs, pc, fpr, fcsr, tls = state
        cpu.regs[:] = regs
        cpu.pc_ = pc
        cpu.fpr[:] = fpr
        cpu.fcsr = fcsr
        proc.tls = tls
        cpu.excl_addr = 0xFFFFFFFFFFFFFFFF

    def setup_frame(self, proc, sig: int, action, fault: int) -> None:
        from . import sigframe_mips
        sigframe_mips.setup_frame(proc, sig, action, fault)

    def sigreturn(self, proc, rt: bool) -> None:
        from . import sigframe_mips
        sigframe_mips.sigreturn(proc, rt)

    # --- the system call convention -----------------------------------------------------
    def syscall_nr(self, cpu) -> int:
        return cpu.regs[2]

    def syscall_args(self, cpu, mem) -> list:
        r = cpu.regs
        sp = r[29]
        n = STACK_ARGS.get(self.syscall_names.get(r[2]), 4) - 4
        more = [0, 0, 0, 0]
        if n:
            try:
                more[:n] = struct.unpack(self.order + "%dI" % n, mem.read(sp + 16, 4 * n))
            except Exception:   # GuestFault: the call sees zeros, as -EFAULT would be worse
                pass
        return [r[4], r[5], r[6], r[7]] + more

    def set_result(self, cpu, value: int) -> None:
        if -4096 < value < 0:
            cpu.regs[2] = -value
            cpu.regs[7] = 1
        else:
            cpu.regs[2] = value & 0xFFFFFFFF
            cpu.regs[7] = 0

    def restart_syscall(self, cpu) -> None:
        """The system call runs again (v0 and a3 are as they were): back to SYSCALL."""
        cpu.pc_ = (cpu.pc_ - 4) & 0xFFFFFFFF

    def private_syscall(self, proc, nr: int):
        return None

    def pc(self, cpu) -> int:
        return cpu.pc_

    def stack_pointer(self, cpu) -> int:
        return cpu.regs[29]

    def set_stack_pointer(self, cpu, sp: int) -> None:
        cpu.regs[29] = sp

    def set_tls(self, proc, value: int) -> None:
        proc.tls = value

    def pipe_result(self, proc, fds: int, r: int, w: int) -> int:
        proc.cpu.regs[3] = w
        return r

    # --- structures ---------------------------------------------------------------------
    def pack_stat64(self, st) -> bytes:
        return struct.pack(
            self.order + "I12xQIIIII12xqIIIIIII4xq",
            st.st_dev & 0xFFFFFFFF, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid,
            st.st_rdev & 0xFFFFFFFF, st.st_size,
            int(st.st_atime), st.st_atime_ns % 10 ** 9, int(st.st_mtime),
            st.st_mtime_ns % 10 ** 9, int(st.st_ctime), st.st_ctime_ns % 10 ** 9,
            st.st_blksize, st.st_blocks)

    def pack_statfs64(self, v) -> bytes:
        """MIPS's struct statfs64: type, bsize, frsize, pad, then the 64-bit counts."""
        from .abi import statfs_fields
        t, bsize, blocks, bfree, bavail, files, ffree, namelen, frsize, flags = statfs_fields(v)
        return struct.pack(self.order + "IIIIQQQQQiiII5I4x", t, bsize, frsize, 0, blocks, bfree,
                           files, ffree, bavail, 0, 0, namelen, flags, 0, 0, 0, 0, 0)

    def unpack_sigaction(self, data: bytes):
        flags, handler, lo, hi = struct.unpack(self.order + "IIII", data[:16])
        return handler, flags, 0, lo | hi << 32

    def pack_sigaction(self, action) -> bytes:
        handler, flags, _restorer, mask = action
        return struct.pack(self.order + "IIIIII", flags, handler, mask & 0xFFFFFFFF,
                           mask >> 32, 0, 0)

    def termios_to_guest(self, host: bytes) -> bytes:
        iflag, oflag, cflag, lflag = struct.unpack("IIII", host[:16])
        lflag = _remap(lflag, _lflag_map(), to_guest=True)
        cc = bytearray(23)
        for h, g in _cc_map():
            cc[g] = host[17 + h]
        return (struct.pack(self.order + "IIII", iflag, oflag, cflag, lflag) + host[16:17]
                + bytes(cc))

    def termios_to_host(self, guest: bytes, cur: bytes) -> bytes:
        iflag, oflag, cflag, lflag = struct.unpack(self.order + "IIII", guest[:16])
        lflag = _remap(lflag, _lflag_map(), to_guest=False)
        cc = bytearray(cur[17:36])
        for h, g in _cc_map():
            cc[h] = guest[17 + g]
        return struct.pack("IIII", iflag, oflag, cflag, lflag) + guest[16:17] + bytes(cc) \
            + cur[36:]

