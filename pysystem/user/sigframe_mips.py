"""MIPS o32 signal frames (the layout of Linux's arch/mips/kernel/signal.c) and sigreturn.

    struct sigframe    { u32 sf_ass[4], sf_pad[2]; struct sigcontext sf_sc (at 24);
                         sigset_t sf_mask (128 bits, at 616) }
    struct rt_sigframe { u32 rs_ass[4], rs_pad[2]; siginfo_t rs_info (at 24, 128 bytes);
                         struct ucontext rs_uc (at 152: flags, link, stack_t (12),
                         pad to 8, sigcontext at +24, sigset_t at +616) }
    struct sigcontext  { u32 sc_regmask, sc_status; u64 sc_pc, sc_regs[32],
                         sc_fpregs[32]; u32 sc_acx, sc_fpc_csr, sc_fpc_eir, sc_used_math,
                         sc_dsp; u64 sc_mdhi, sc_mdlo; u32 hi1..lo3 }      (592 bytes)

The handler runs with a0 = signal, a1 = &info / 0, a2 = &uc / &sc, sp = the frame,
ra = the trampoline page's sigreturn or rt_sigreturn, pc = t9 = the handler.  MIPS's
siginfo puts si_code before si_errno.
"""
from __future__ import annotations

import struct

SC_SIZE = 592
SIGFRAME_SC, SIGFRAME_MASK, SIGFRAME_SIZE = 24, 616, 632
RT_INFO, RT_UC = 24, 152
UC_SC, UC_MASK = 24, 616
RT_SIZE = RT_UC + UC_MASK + 16
SA_SIGINFO, SA_NODEFER, SA_RESETHAND = 8, 0x40000000, 0x80000000
TRAMPOLINE_PAGE = 0x7FFFF000
SIGRETURN, RT_SIGRETURN = TRAMPOLINE_PAGE, TRAMPOLINE_PAGE + 8
#: addiu v0, zero, 4119; syscall; addiu v0, zero, 4193; syscall
TRAMPOLINE_WORDS = (0x24021017, 0x0000000C, 0x24021061, 0x0000000C)


def map_trampolines(mem, order: str) -> None:
    from .memory import PAGE, PROT_EXEC, PROT_READ
    mem.map(TRAMPOLINE_PAGE, PAGE, PROT_READ | PROT_EXEC)
    mem.poke(TRAMPOLINE_PAGE, struct.pack(order + "4I", *TRAMPOLINE_WORDS))


def _sigcontext(proc, o: str) -> bytes:
    cpu = proc.cpu
    r = cpu.regs
    sc = struct.pack(o + "IIQ", 0, 0, cpu.pc_) + struct.pack(o + "32Q", *r[0:32])
    sc += struct.pack(o + "32Q", *cpu.fpr[0:32])
    sc += struct.pack(o + "IIIII4xQQ6I", 0, cpu.fcsr, 0, 1, 0, r[32], r[33], 0, 0, 0, 0, 0, 0)
    return sc


def setup_frame(proc, sig: int, action, fault: int) -> None:
    handler, flags, _restorer, mask = action
    cpu, mem, arch = proc.cpu, proc.mem, proc.arch
    o = arch.order
    gsig = arch.guest_signal(sig)
    current, oldmask = proc.signals.blocked, proc.signals.frame_mask()
    rt = bool(flags & SA_SIGINFO)
    size = RT_SIZE if rt else SIGFRAME_SIZE
    sp = (cpu.regs[29] - 32 - size) & ~7
    sc = _sigcontext(proc, o)
    masks = arch.pack_sigset(oldmask).ljust(16, b"\0")
    if rt:
        code = 1 if fault else proc.signal_codes.pop(sig, 0)
        info = struct.pack(o + "iiiI", gsig, code, 0, fault).ljust(128, b"\0")
        uc = struct.pack(o + "II", 0, 0) + struct.pack(o + "III", 0, 0, 2) + bytes(4)
        frame = bytes(24) + info + uc + sc + masks
    else:
        frame = bytes(24) + sc + masks
    mem.write(sp, frame)
    r = cpu.regs
    r[4] = gsig
    r[5] = sp + RT_INFO if rt else 0
    r[6] = sp + RT_UC if rt else sp + SIGFRAME_SC
    r[29] = sp
    r[31] = RT_SIGRETURN if rt else SIGRETURN
    r[25] = handler
    cpu.pc_ = handler
    blocked = current | mask
    if not flags & SA_NODEFER:
        blocked |= 1 << (gsig - 1)
    proc.signals.blocked = blocked
    if flags & SA_RESETHAND:
        proc.signals.set(sig, (0, 0, 0, 0))


def sigreturn(proc, rt: bool) -> None:
    cpu, mem, arch = proc.cpu, proc.mem, proc.arch
    o = arch.order
    sp = cpu.regs[29]
    sc_at = sp + (RT_UC + UC_SC if rt else SIGFRAME_SC)
    mask_at = sp + (RT_UC + UC_MASK if rt else SIGFRAME_MASK)
    data = mem.read(sc_at, SC_SIZE)
    pc = struct.unpack_from(o + "Q", data, 8)[0]
    regs = struct.unpack_from(o + "32Q", data, 16)
    fpregs = struct.unpack_from(o + "32Q", data, 272)
    fcsr = struct.unpack_from(o + "I", data, 532)[0]
    hi, lo = struct.unpack_from(o + "QQ", data, 552)
    for i in range(1, 32):
        cpu.regs[i] = regs[i] & 0xFFFFFFFF
    cpu.regs[32], cpu.regs[33] = hi & 0xFFFFFFFF, lo & 0xFFFFFFFF
    for i in range(32):
        cpu.fpr[i] = fpregs[i] & 0xFFFFFFFF
    cpu.fcsr = fcsr
    cpu.pc_ = pc & 0xFFFFFFFF
    proc.signals.blocked = arch.unpack_sigset(mem.read(mask_at, 8))
