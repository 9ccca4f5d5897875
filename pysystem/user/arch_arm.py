"""ARM (EABI, little-endian) user mode: the CPU in USR mode over the flat guest space, the
system call convention, the kernel-provided user helpers and the private system calls.

* System calls: ``svc 0`` with the number in r7, arguments in r0-r6, the result (or
  -errno) in r0.  Private calls 0x0f0000+n: ``cacheflush`` (translated code follows
  stores by itself: nothing to do) and ``set_tls`` (TPIDRURO, which ``mrc p15, 0, rX,
  c13, c0, 3`` reads in user mode).
* The helper page at 0xffff0000 holds real ARM code, as the kernel's does:
  __kuser_memory_barrier (0xffff0fa0), __kuser_cmpxchg (0xffff0fc0, LDREX/STREX),
  __kuser_get_tls (0xffff0fe0) and __kuser_helper_version (0xffff0ffc) = 3; plus the
  signal return trampolines the signal frames point at.
* Faults: aborts become SIGSEGV (SIGBUS for alignment), undefined instructions SIGILL,
  BKPT SIGTRAP.
"""
from __future__ import annotations

import struct

from pysystem.cpu.arm import exceptions as aexc
from pysystem.cpu.arm import cp15, vfp
from pysystem import codecache
from pysystem.cpu.engine import translate as tr

from . import sigframe_arm, sysnums
from .abi import ABI, GENERIC_OPEN_FLAGS
from .elf import EM_ARM
from .memory import PAGE, PROT_EXEC, PROT_READ, GuestMemory
from .signals import SIGBUS, SIGILL, SIGSEGV, SIGTRAP

USR = 0x10
FPEXC_EN = 1 << 30
HELPER_PAGE = 0xFFFF0000
# (offset in the helper page, words): see the module docstring
_HELPERS = (
    (0xFA0, (0xF57FF05B, 0xE12FFF1E)),                              # dmb ish; bx lr
    (0xFC0, (0xE1923F9F, 0xE0533000, 0x01823F91, 0x03330001,        # ldrex/strex loop
             0x0AFFFFFA, 0xE2730000, 0xE12FFF1E)),
    (0xFE0, (0xEE1D0F70, 0xE12FFF1E)),                              # mrc TPIDRURO; bx lr
    (0xFFC, (3,)),                                                  # __kuser_helper_version
    (0x500, (0xE3A07077, 0xEF000000)),                              # mov r7, #119; svc 0
    (0x520, (0xE3A070AD, 0xEF000000)),                              # mov r7, #173; svc 0
)
SIGRETURN_TRAMPOLINE = HELPER_PAGE + 0x500
RT_SIGRETURN_TRAMPOLINE = HELPER_PAGE + 0x520

# HWCAP bits of a Cortex-A9 with VFPv3-D32 and NEON (asm/hwcap.h)
HWCAP_THUMBEE = 1 << 11
HWCAP = (1 << 0 | 1 << 1 | 1 << 2 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 12 | 1 << 13
         | 1 << 15 | 1 << 19)  # SWP HALF THUMB FAST_MULT VFP EDSP NEON VFPv3 TLS VFPD32
# ThumbEE as the CPU's ID_PFR0 (State3) says: QEMU 7.2's cortex-a9 has it, and its
# TEEHBR (cp15.py) is the user-accessible part of it
if cp15.lookup(15, 0, 0, 1, 0).reset >> 12 & 0xF:
    HWCAP |= HWCAP_THUMBEE


def _user_vfp_ok(cpu):
    """The VFP/NEON access check that translated code calls before each such
    instruction, for user mode: CPACR and FPEXC.EN stay as setup_cpu sets them (PL0
    cannot write either), so what remains of vfp.py's check is FPSCR's LEN/STRIDE, with
    which a double-precision operation is UNDEF.  (About 80 calls per iteration of the
    busybox awk loop; the full check reads five fields.)"""
    def ok(user: bool, need_en: bool, dp: bool) -> bool:
        if dp and cpu.fpscr & vfp.FPSCR_VEC:
            cpu.fpexc |= vfp.FPEXC_DEX
            return False
        return True
    return ok


class UserARM:
    """Mixed in before an ARM CPU model's class: see the module docstring."""

    process = None   # the Process the CPU runs for (set before running)

    def mmu_translate(self, va: int, access: int, level: int, idx: int) -> tuple:
        if self.process.mem.check(va, access):
            return va, self.process.mem.check(va, 1), PAGE, None
        if access == 2:
            raise aexc.PrefetchAbort(-1, aexc.FSR_TRANSLATION_PAGE, va)
        raise aexc.DataAbort(idx, aexc.FSR_TRANSLATION_PAGE | (aexc.FSR_WNR if access == 1 else 0), va)

    def debug_translate(self, va: int) -> int:
        if self.process.mem.check(va, 0):
            return va
        raise aexc.PrefetchAbort(-1, 0, va)

    def code_ident(self) -> bytes:
        got = self._code_ident
        if got is None:
            got = self._code_ident = codecache.ident(
                b"user", super().code_ident(), tr.source_ident(tr.package_folder(self)))
        return got

    def deliver(self, e, pc: int, size: int, in_slot: bool = False) -> None:
        proc = self.process
        if isinstance(e, aexc.SupervisorCall):
            self.regs[15] = (pc + size) & 0xFFFFFFFF
            proc.syscall()
        elif isinstance(e, aexc.Abort):
            fs = e.fsr & 0xF
            self.regs[15] = pc
            proc.fault(SIGBUS if fs == aexc.FSR_ALIGNMENT else SIGSEGV, e.far)
        elif isinstance(e, aexc.Breakpoint):
            self.regs[15] = pc
            proc.fault(SIGTRAP, pc)
        else:
            self.regs[15] = pc
            proc.fault(SIGILL, pc)

    def take_undefined(self, pc: int) -> None:
        self.regs[15] = pc
        self.process.fault(SIGILL, pc)


#: asm/fcntl.h (ARM): four flags differ from asm-generic
ARM_OPEN_FLAGS = dict(GENERIC_OPEN_FLAGS, O_DIRECTORY=0o40000, O_NOFOLLOW=0o100000,
                      O_DIRECT=0o200000, O_LARGEFILE=0o400000)


class ArchARM(ABI):
    """The ARM EABI process conventions (see the module docstring)."""

    name = "arm"
    elf_machine = EM_ARM
    sigreturn_trampoline = SIGRETURN_TRAMPOLINE          # where sigframe_arm returns to
    rt_sigreturn_trampoline = RT_SIGRETURN_TRAMPOLINE
    big_endian = False
    order = "<"
    default_cpu = "cortex-a9"
    uname_machine = "armv7l"
    platform = b"v7l"
    hwcap = HWCAP
    hwcap2 = 0
    syscall_names = sysnums.ARM
    errno_map = None          # guest errno values are the host's (generic numbering)
    cpu_mixin = UserARM
    open_flags = ARM_OPEN_FLAGS
    can_deliver = True

    def setup_cpu(self, cpu, mem: GuestMemory, entry: int, sp: int) -> None:
        cpu.cpsr = USR
        cpu.cp15.cpacr = 0xF << 20   # cp10 and cp11: full access
        cpu.fpexc = FPEXC_EN
        vfp.unit(cpu).ok = _user_vfp_ok(cpu)
        cpu.regs[13] = sp
        cpu.thumb = entry & 1
        cpu.regs[15] = entry & ~1
        mem.map(HELPER_PAGE, PAGE, PROT_READ | PROT_EXEC)
        for off, words in _HELPERS:
            mem.poke(HELPER_PAGE + off, struct.pack("<%dI" % len(words), *words))

    # --- the system call convention -----------------------------------------------------
    def syscall_nr(self, cpu) -> int:
        return cpu.regs[7]

    def syscall_args(self, cpu, mem) -> list:
        return cpu.regs[0:7]

    def set_result(self, cpu, value: int) -> None:
        cpu.regs[0] = value & 0xFFFFFFFF

    def restart_syscall(self, cpu) -> None:
        """The system call runs again (its registers are as they were): back to the SVC."""
        cpu.regs[15] = (cpu.regs[15] - (2 if cpu.thumb else 4)) & 0xFFFFFFFF

    def private_syscall(self, proc, nr: int):
        """ARM's 0x0f0000 calls: the result, or None if ``nr`` is not one."""
        name = sysnums.ARM_PRIVATE.get(nr)
        if name is None:
            return None
        cpu = proc.cpu
        if name == "set_tls":
            cpu.cp15.tpidruro = cpu.regs[0]
            return 0
        if name == "get_tls":
            return cpu.cp15.tpidruro
        if name == "cacheflush":
            return 0
        return -proc.errno("ENOSYS")

    def save_state(self, proc) -> tuple:
        """A thread's registers (threads.py); the exclusive monitor is not kept."""
        cpu = proc.cpu
        return (list(cpu.regs), cpu.cpsr, list(cpu.vfp_d), cpu.fpscr, cpu.cp15.tpidruro)

    def load_state(self, proc, state: tuple) -> None:
        cpu = proc.cpu
        regs, cpsr, vfp_d, fpscr, tls = state
        cpu.regs[:] = regs
        cpu.cpsr = cpsr
        cpu.vfp_d[:] = vfp_d
        cpu.fpscr = fpscr
        cpu.cp15.tpidruro = tls
        cpu.excl_addr = 0xFFFFFFFFFFFFFFFF

    def setup_frame(self, proc, sig: int, action, fault: int) -> None:
        sigframe_arm.setup_frame(proc, sig, action, fault)

    def sigreturn(self, proc, rt: bool) -> None:
        sigframe_arm.sigreturn(proc, rt)

    def pc(self, cpu) -> int:
        return cpu.regs[15] | cpu.thumb

    def stack_pointer(self, cpu) -> int:
        return cpu.regs[13]

    def set_stack_pointer(self, cpu, sp: int) -> None:
        cpu.regs[13] = sp

    def set_tls(self, proc, value: int) -> None:
        proc.cpu.cp15.tpidruro = value

    def pipe_result(self, proc, fds: int, r: int, w: int) -> int:
        """The old pipe(fds): the two descriptors stored at ``fds``."""
        proc.mem.write(fds, struct.pack("<ii", r, w))
        return 0
