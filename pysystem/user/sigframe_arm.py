"""ARM signal frames (the layout of Linux's arch/arm/kernel/signal.c) and sigreturn.

    struct sigframe    { struct ucontext uc; u32 retcode[2]; }          (752 bytes)
    struct rt_sigframe { siginfo_t info (128); struct sigframe sig; }
    struct ucontext    { u32 uc_flags, uc_link; stack_t uc_stack (12);
                         struct sigcontext uc_mcontext (21 words: trap_no, error_code,
                         oldmask, r0-r10, fp, ip, sp, lr, pc, cpsr, fault_address);
                         sigset_t uc_sigmask (128 bytes with padding);
                         u32 uc_regspace[128] (8-aligned: the VFP record) }

The handler runs with r0 = signal, r1 = &info and r2 = &uc (SA_SIGINFO), sp = the frame,
lr = the restorer (SA_RESTORER) or the trampoline in the helper page, in Thumb state if
the handler's address is odd.  sigreturn/rt_sigreturn restore the registers, the VFP
registers and the signal mask from the frame at sp.
"""
from __future__ import annotations

import struct

UC_MCONTEXT = 20
UC_SIGMASK = 104
UC_REGSPACE = 232
UCONTEXT_SIZE = 744
SIGFRAME_SIZE = UCONTEXT_SIZE + 8
SIGINFO_SIZE = 128
VFP_MAGIC, VFP_SIZE = 0x56465001, 288
SA_SIGINFO, SA_RESTORER, SA_NODEFER, SA_RESETHAND = 4, 0x04000000, 0x40000000, 0x80000000
UC_FLAGS_MAGIC = 0x5AC3C35A
CPSR_T = 1 << 5
CPSR_IT = 0x0600FC00


def _ucontext(proc, oldmask: int, fault: int) -> bytes:
    cpu = proc.cpu
    r = cpu.regs
    mctx = struct.pack("<21I", 0, 0, oldmask & 0xFFFFFFFF, *r[0:16], cpu.cpsr, fault)
    mask = proc.arch.pack_sigset(oldmask).ljust(128, b"\0")
    vfp = struct.pack("<II32QI", VFP_MAGIC, VFP_SIZE, *[cpu.vfp_d[i] for i in range(32)],
                      cpu.fpscr).ljust(8 + 264) + struct.pack("<III", cpu.fpexc, 0, 0)
    regspace = vfp.ljust(VFP_SIZE, b"\0").ljust(512, b"\0")
    head = struct.pack("<II", UC_FLAGS_MAGIC, 0) + struct.pack("<III", 0, 2, 0)   # SS_DISABLE
    return head + mctx + mask + regspace


def setup_frame(proc, sig: int, action, fault: int) -> None:
    """Enter the guest's handler for host signal ``sig`` (see the module docstring)."""
    handler, flags, restorer, mask = action
    cpu, mem, arch = proc.cpu, proc.mem, proc.arch
    gsig = arch.guest_signal(sig)
    current, oldmask = proc.signals.blocked, proc.signals.frame_mask()
    rt = bool(flags & SA_SIGINFO)
    size = SIGFRAME_SIZE + (SIGINFO_SIZE if rt else 0)
    sp = (cpu.regs[13] - size) & ~7
    uc = _ucontext(proc, oldmask, fault)
    if rt:
        code = 1 if fault else proc.signal_codes.pop(sig, 0)
        info = struct.pack("<iii", gsig, 0, code) + struct.pack("<I", fault)
        frame = info.ljust(SIGINFO_SIZE, b"\0") + uc
    else:
        frame = uc
    retcode = restorer if flags & SA_RESTORER else (arch.rt_sigreturn_trampoline if rt
                                                    else arch.sigreturn_trampoline)
    mem.write(sp, frame + bytes(8))   # GuestFault: the stack is gone (proc handles it)
    r = cpu.regs
    r[0] = gsig
    r[1] = sp if rt else 0
    r[2] = sp + SIGINFO_SIZE if rt else 0
    r[13] = sp
    r[14] = retcode
    r[15] = handler & ~1
    cpu.cpsr = (cpu.cpsr & ~(CPSR_T | CPSR_IT)) | (CPSR_T if handler & 1 else 0)
    blocked = current | mask
    if not flags & SA_NODEFER:
        blocked |= 1 << (gsig - 1)
    proc.signals.blocked = blocked
    if flags & SA_RESETHAND:
        proc.signals.set(sig, (0, 0, 0, 0))


def sigreturn(proc, rt: bool) -> None:
    """Restore the state the frame at sp saved (ucontext at sp, or after the siginfo)."""
    cpu, mem = proc.cpu, proc.mem
    uc = cpu.regs[13] + (SIGINFO_SIZE if rt else 0)
    data = mem.read(uc, UCONTEXT_SIZE)
    words = struct.unpack_from("<21I", data, UC_MCONTEXT)
    regs = list(words[3:19])
    cpsr = words[19]
    cpu.regs[0:16] = regs
    # user-writable CPSR bits only: flags, GE, E, T, IT; the mode stays USR
    cpu.cpsr = (cpsr & 0xFF0FFE20) | 0x10
    proc.signals.blocked = proc.arch.unpack_sigset(data[UC_SIGMASK:UC_SIGMASK + 8])
    magic, _size = struct.unpack_from("<II", data, UC_REGSPACE)
    if magic == VFP_MAGIC:
        vals = struct.unpack_from("<32QI", data, UC_REGSPACE + 8)
        for i in range(32):
            cpu.vfp_d[i] = vals[i]
        cpu.fpscr = vals[32]
    if cpu.thumb:
        cpu.regs[15] &= ~1
