"""The Cortex-A9 CPU object: architectural state, the execution loop, exceptions.

Interface (for boards, the main loop, the monitor and the gdb stub):

* ``ARMCPU`` (QOM type ``cortex-a9-arm-cpu``); properties ``mp-affinity``,
  ``reset-secure``, ``start-powered-off``, ``reset-cbar``, ``reset-hivecs``.
  Before ``realize()`` the board sets ``cpu.address_space`` (a
  ``pysystem.memory.AddressSpace``) and ``cpu.clock`` (a ``VirtualClock``).
* ``reset()``: secure SVC, CPSR 0x400001d3 (Z set, as QEMU 7.2: its zeroed flag state
  reads as Z), PC 0 (0xffff0000 with high vectors).
* ``run(max_insns) -> int``: runs translated blocks until at least ``max_insns``
  instructions ran (the last block may overshoot), the CPU halts (WFI) or
  ``exit_request`` is set; adds each block's count to ``clock.icount`` as it goes.
* ``set_irq_line(n, level)``: n=0 IRQ, n=1 FIQ.  ``halted``, ``exit_request``.
* ``regs`` (r0-r15; r15 is the PC while not running), ``cpsr`` (property),
  ``pc``, ``dump_registers()``, ``read_virt(addr, n)``, ``virt_to_phys(addr)``,
  ``single_step()``, ``save_state()``/``load_state()``.

The live representation: ``regs`` holds the current mode's view of r0-r15; the
other modes' r13/r14 (and FIQ's r8-r12) sit in the bank arrays.  The flags are
``NF ZF CF VF`` in the lazy form the translator uses (see translator.py), plus
``QF``, ``GE``, ``thumb``, ``itstate``, ``cpsr_e``, ``cpsr_aif`` (bits 8:6) and
``mode``; the ``cpsr`` property composes and decomposes them.

The engine (pysystem/cpu/engine/) runs it: ``TranslatedCPU`` holds the run loop, the soft
TLB and the block caches; this class supplies ARM's seams (cpu/README.md): the key
layout, privilege levels, exceptions and interrupts; memaccess.py the MMU hook and faults.
"""
from __future__ import annotations

from typing import Any, Optional

from pysystem import log
from pysystem.qom import Field, Property, register

from ..engine.cpu import TranslatedCPU, VirtualAccessError
from . import cp15, exceptions, helpers, isa, mmu, neon_helpers, translator, vfp
from .pmu import PMU, pmu_field
from .exceptions import (EXCP_DATA_ABORT, EXCP_FIQ, EXCP_IRQ, EXCP_NAMES, EXCP_PREFETCH_ABORT,
                         EXCP_SMC, EXCP_SWI, EXCP_UDEF, EXCP_BKPT, FSR_DEBUG, GuestException,
                         MMUFault, Undefined)
from .debug import ARMDebug
from .memaccess import ARMMemory

M32 = 0xFFFFFFFF

USR, FIQ, IRQ, SVC, MON, ABT, UND, SYS = 0x10, 0x11, 0x12, 0x13, 0x16, 0x17, 0x1B, 0x1F
BANK = {USR: 0, SYS: 0, FIQ: 1, IRQ: 2, SVC: 3, MON: 4, ABT: 5, UND: 6}
MODE_NAMES = {USR: "usr", FIQ: "fiq", IRQ: "irq", SVC: "svc", MON: "mon", ABT: "abt",
              UND: "und", SYS: "sys"}

CPSR_T = 1 << 5
CPSR_F = 1 << 6
CPSR_I = 1 << 7
CPSR_A = 1 << 8
CPSR_E = 1 << 9
CPSR_IT = 0x0600FC00
CPSR_J = 1 << 24
CPSR_EXEC = CPSR_T | CPSR_IT | CPSR_J
# QEMU 7.2 resets with Z set: its flag state is zeroed and ZF == 0 reads as Z
RESET_CPSR = 0x40000000 | CPSR_A | CPSR_I | CPSR_F | SVC

KEY_USER = 1 << 32
KEY_BE = 1 << 33
KEY_IT_SHIFT = 40

_BYTEMASK = [0] * 16
for _m in range(16):
    _BYTEMASK[_m] = sum(0xFF << (8 * i) for i in range(4) if _m >> i & 1)


@register
class ARMCPU(ARMMemory, ARMDebug, TranslatedCPU):
    TYPE = "cortex-a9-arm-cpu"
    DESC = "ARM Cortex-A9 (ARMv7-A, A32/T32, VFPv3)"
    ARCH = "arm"
    MODEL = "cortex-a9"
    PRIVS = ("p", "u")   # PL1 and up, PL0 (user mode)
    USER_LEVEL = 1
    CTX = translator.Ctx
    EXCEPTIONS = exceptions
    PROPERTIES = (
        Property("mp-affinity", "uint32", 0, "MPIDR affinity bits (the CPU index in the cluster)"),
        Property("reset-secure", "bool", True, "reset into the Secure state"),
        Property("start-powered-off", "bool", False, "stay halted after reset until woken"),
        Property("reset-cbar", "uint32", 0, "value of the Configuration Base Address Register"),
        Property("reset-hivecs", "bool", False, "reset with high exception vectors (SCTLR.V)"),
    )
    STATE = (
        Field("regs", "u32[16]", 0, "r0-r15 of the current mode"),
        Field("cpsr", "u32", RESET_CPSR, "current program status register"),
        Field("spsr_bank", "u32[7]", 0, "SPSR per bank: -, fiq, irq, svc, mon, abt, und"),
        Field("r13_bank", "u32[7]", 0, "r13 per bank (usr/sys, fiq, irq, svc, mon, abt, und)"),
        Field("r14_bank", "u32[7]", 0, "r14 per bank"),
        Field("fiq_regs", "u32[5]", 0, "r8-r12 of FIQ mode (when not in FIQ mode)"),
        Field("usr_regs", "u32[5]", 0, "r8-r12 of the other modes (when in FIQ mode)"),
        Field("vfp_d", "u64[32]", 0, "VFP d0-d31"),
        Field("fpscr", "u32", 0, "VFP status and control"),
        Field("fpexc", "u32", 0, "VFP exception register"),
        Field("excl_addr", "u64", 0xFFFFFFFFFFFFFFFF, "exclusive monitor address (all ones: open)"),
        Field("excl_val", "u64", 0, "value loaded by the last LDREX"),
        Field("halted", "bool", False, "waiting for an interrupt (WFI)"),
        Field("irq_level", "u8[2]", 0, "levels of the IRQ and FIQ inputs"),
        Field("pmcr", "u32", 0x41093000, "PMU control (6 event counters)"),
        Field("pmcnten", "u32", 0, "PMU counter enables"),
        Field("pmovsr", "u32", 0, "PMU overflow status"),
        Field("pminten", "u32", 0, "PMU interrupt enables"),
        Field("pmevtyper", "u32[6]", 0, "PMU event types"),
        Field("pmevcntr", "u32[6]", 0, "PMU event counters"),
        Field("pmccntr_base", "u64", 0, "cycle counter value minus the instruction count"),
    )
    # the PMU's registers are fields of the CPU but live in self.pmu (pmu.py says why)
    pmcr = pmu_field("pmcr")
    pmcnten = pmu_field("pmcnten")
    pmovsr = pmu_field("pmovsr")
    pminten = pmu_field("pminten")
    pmevtyper = pmu_field("pmevtyper")
    pmevcntr = pmu_field("pmevcntr")
    pmccntr_base = pmu_field("pmccntr_base")

    def __init__(self, **props):
        super().__init__(**props)
        self.cp15 = self.add_child("cp15", cp15.CP15())
        self.pmu = PMU(lambda: self.clock.icount)
        self.NF = self.CF = self.VF = 0
        self.ZF = 1
        self.QF = self.GE = 0
        self.thumb = 0
        self.itstate = 0
        self.cpsr_e = 0
        self.cpsr_aif = CPSR_A | CPSR_I | CPSR_F
        self.mode = SVC
        self.regs = [0] * 16
        self.spsr_bank = [0] * 7
        self.r13_bank = [0] * 7
        self.r14_bank = [0] * 7
        self.fiq_regs = [0] * 5
        self.usr_regs = [0] * 5
        self.init_arm_memory()

    # --- lifecycle ------------------------------------------------------------------
    def realize(self) -> None:
        self.cpu_index = self.mp_affinity & 0xFF
        super().realize()
        self.cp15.realize()

    def reset(self) -> None:
        super().reset()
        self.cp15.reset()
        self.cp15.sctlr = 0x00C50078 | ((1 << 13) if self.reset_hivecs else 0)
        self.cpsr = RESET_CPSR
        self.regs[15] = 0xFFFF0000 if self.reset_hivecs else 0
        self.halted = bool(self.start_powered_off)
        self.exit_request = False
        self.flush_all()

    def post_load(self) -> None:
        self.flush_all()

    # --- CPSR ------------------------------------------------------------------------
    @property
    def cpsr(self) -> int:
        it = self.itstate
        return ((self.NF & 0x80000000) | (0 if self.ZF else 0x40000000) | ((self.CF & 1) << 29)
                | ((self.VF >> 3) & 0x10000000) | (self.QF << 27) | ((it & 3) << 25)
                | (self.GE << 16) | ((it >> 2) << 10) | (self.cpsr_e << 9) | self.cpsr_aif
                | (self.thumb << 5) | self.mode)

    @cpsr.setter
    def cpsr(self, v: int) -> None:
        """Set every CPSR bit without banking (reset, snapshots); see ``write_cpsr``."""
        self.NF = v & 0x80000000
        self.ZF = 0 if v & 0x40000000 else 1
        self.CF = (v >> 29) & 1
        self.VF = (v << 3) & 0x80000000
        self.QF = (v >> 27) & 1
        self.GE = (v >> 16) & 0xF
        self.itstate = ((v >> 25) & 3) | (((v >> 10) & 0x3F) << 2)
        self.cpsr_e = (v >> 9) & 1
        self.cpsr_aif = v & 0x1C0
        self.thumb = (v >> 5) & 1
        self.mode = v & 0x1F

    def write_cpsr(self, value: int, mask: int) -> None:
        """Write the CPSR bits in ``mask``, switching register banks on a mode change."""
        cur = self.cpsr
        new = (cur & ~mask) | (value & mask)
        new_mode = new & 0x1F
        if new_mode not in BANK:
            new = (new & ~0x1F) | self.mode
            new_mode = self.mode
        if new_mode != self.mode:
            self.switch_mode(new_mode)
        self.cpsr = new
        self.update_interrupt_request()

    def switch_mode(self, new: int) -> None:
        old = self.mode
        if old == new:
            return
        R = self.regs
        ob, nb = BANK[old], BANK[new]
        if ob != nb:
            self.r13_bank[ob] = R[13]
            self.r14_bank[ob] = R[14]
            R[13] = self.r13_bank[nb]
            R[14] = self.r14_bank[nb]
        if old == FIQ and new != FIQ:
            self.fiq_regs = R[8:13]
            R[8:13] = self.usr_regs
        elif new == FIQ and old != FIQ:
            self.usr_regs = R[8:13]
            R[8:13] = self.fiq_regs
        self.mode = new

    def key_hi(self) -> int:
        return ((KEY_USER if self.mode == USR else 0) | (KEY_BE if self.cpsr_e else 0)
                | (self.itstate << KEY_IT_SHIFT))

    def key(self) -> int:
        """The current block key: pc | thumb | state bits << 32."""
        pc = self.regs[15] & (~1 if self.thumb else ~3) & M32
        return pc | self.thumb | self.key_hi()

    def set_key(self, key: int) -> None:
        self.thumb = key & 1
        self.regs[15] = key & M32 & ~1
        self.itstate = (key >> KEY_IT_SHIFT) & 0xFF

    def key_pc(self, key: int) -> int:
        return key & 0xFFFFFFFE

    def key_level(self, key: int) -> int:
        return (key >> 32) & 1

    def key_big_endian(self, key: int) -> bool:
        return bool(key & KEY_BE)

    def key_with_pc(self, key: int, pc: int) -> int:
        return pc | (key & 1) | (key & ~M32)

    translate_insn = staticmethod(isa.translate_insn)

    def resolve_binding(self, name: str) -> Any:
        """The ARM names a block binds: CPU methods, CP15 accessors (``cp_``), helpers
        (``h_``), exception classes."""
        if name in _CPU_METHODS:
            return getattr(self, name)
        if name.startswith("cp_"):
            return getattr(self, name[3:], None)
        if name.startswith("h_"):
            return getattr(helpers, name[2:], None) or getattr(neon_helpers, name, None)
        if name == "vfpok":  # the VFP/NEON access check (trans_vfp._check)
            return vfp.unit(self).ok
        obj = getattr(exceptions, name, None)
        return obj if isinstance(obj, type) and issubclass(obj, GuestException) else None

    # --- helpers called from generated code ------------------------------------------
    def read_cpsr_mrs(self) -> int:
        return self.cpsr & ~CPSR_EXEC

    def read_spsr(self) -> int:
        return self.spsr_bank[BANK[self.mode]]

    def write_spsr(self, value: int, mask: int) -> None:
        b = BANK[self.mode]
        if b:
            m = _BYTEMASK[mask]
            self.spsr_bank[b] = (self.spsr_bank[b] & ~m) | (value & m)

    def msr_cpsr(self, value: int, mask: int, next_key: int) -> int:
        m = _BYTEMASK[mask]
        if self.mode == USR:
            m &= 0xF80F0000
        else:
            m &= ~CPSR_EXEC & M32
        self.write_cpsr(value, m)
        return (next_key & (M32 | 1)) | self.key_hi()

    def cps(self, imod: int, a: int, i: int, f: int, mode: int, next_key: int) -> int:
        bits = (CPSR_A if a else 0) | (CPSR_I if i else 0) | (CPSR_F if f else 0)
        value, mask = 0, 0
        if imod == 2:
            mask |= bits
        elif imod == 3:
            value |= bits
            mask |= bits
        if mode >= 0:
            value |= mode
            mask |= 0x1F
        self.write_cpsr(value, mask)
        return (next_key & (M32 | 1)) | self.key_hi()

    def exception_return(self, pc: int) -> int:
        """CPSR <- SPSR and branch (SUBS pc, lr / LDM ... ^ / RFE)."""
        b = BANK[self.mode]
        if b:
            self.write_cpsr(self.spsr_bank[b], M32)
        pc &= ~1 if self.thumb else ~3
        self.regs[15] = pc & M32
        return self.key()

    def setend(self, e: int, next_key: int) -> int:
        self.cpsr_e = e
        return (next_key & (M32 | 1)) | self.key_hi()

    #: WFE ends the CPU's turn (QEMU's yield), so that the other CPUs of an SMP board
    #: run while this one waits for a lock; the board sets it with several CPUs
    wfe_yields = False

    def wfe(self, next_key: int) -> int:
        if self.wfe_yields:
            self.exit_request = True
        return next_key

    def wfi(self, next_key: int) -> int:
        if not (self.irq_level[0] or self.irq_level[1]):
            self.halted = True
        self.exit_request = True
        return next_key

    def get_user_reg(self, r: int) -> int:
        if 8 <= r <= 12 and self.mode == FIQ:
            return self.usr_regs[r - 8]
        if r in (13, 14) and BANK[self.mode] != 0:
            return (self.r13_bank if r == 13 else self.r14_bank)[0]
        return self.regs[r]

    def set_user_reg(self, r: int, v: int) -> None:
        if 8 <= r <= 12 and self.mode == FIQ:
            self.usr_regs[r - 8] = v
        elif r in (13, 14) and BANK[self.mode] != 0:
            (self.r13_bank if r == 13 else self.r14_bank)[0] = v
        else:
            self.regs[r] = v

    def _banked_sp(self, mode: int) -> int:
        if mode == self.mode or BANK[mode] == BANK[self.mode]:
            return self.regs[13]
        return self.r13_bank[BANK[mode]]

    def _set_banked_sp(self, mode: int, v: int) -> None:
        if mode == self.mode or BANK[mode] == BANK[self.mode]:
            self.regs[13] = v
        else:
            self.r13_bank[BANK[mode]] = v

    def srs(self, mode: int, p: int, u: int, w: int, idx: int, next_key: int) -> int:
        if mode not in BANK or BANK[self.mode] == 0:
            raise Undefined(idx)
        sp = self._banked_sp(mode)
        start = (sp + (4 if p else 0)) if u else (sp - (8 if p else 4))
        start &= M32
        self.store_checked(start, self.regs[14], 4, idx)
        self.store_checked((start + 4) & M32, self.spsr_bank[BANK[self.mode]], 4, idx)
        if w:
            self._set_banked_sp(mode, (sp + 8 if u else sp - 8) & M32)
        return next_key

    def rfe(self, rn: int, p: int, u: int, w: int, idx: int) -> int:
        base = self.regs[rn]
        start = (base + (4 if p else 0)) if u else (base - (8 if p else 4))
        start &= M32
        pc = self.load_checked(start, 4, idx)
        psr = self.load_checked((start + 4) & M32, 4, idx)
        if w:
            self.regs[rn] = (base + 8 if u else base - 8) & M32
        self.write_cpsr(psr, M32)
        pc &= ~1 if self.thumb else ~3
        self.regs[15] = pc & M32
        return self.key()

    # --- CP15 helpers ---------------------------------------------------------------------
    def cp_nop(self, key, value=0) -> None:
        pass

    def read_mpidr(self, key) -> int:
        return 0x80000000 | (self.mp_affinity & 0xFFFFFF)

    def read_ccsidr(self, key) -> int:
        return 0x200FE019 if self.cp15.csselr & 1 else 0xE00FE019

    def read_cbar(self, key) -> int:
        return self.reset_cbar

    def read_isr(self, key) -> int:
        return (CPSR_I if self.irq_level[0] else 0) | (CPSR_F if self.irq_level[1] else 0)

    def sctlr_written(self, key, value) -> None:
        self.tlb_flush_all()

    def cpacr_written(self, key, value) -> None:
        pass

    def icache_invalidate(self, key, value) -> None:
        """Translated code is kept coherent with memory by write tracking already."""

    def _ats(self, va: int, access: int, user: bool) -> None:
        try:
            pa = mmu.translate(self, va, access, user)[0]
            self.cp15.par = pa & 0xFFFFF000
        except MMUFault as f:
            fsr = f.fsr()
            self.cp15.par = 1 | ((fsr & 0xF) << 1) | (((fsr >> 10) & 1) << 5)

    def ats_cpr(self, key, va) -> None:
        self._ats(va, mmu.READ, False)

    def ats_cpw(self, key, va) -> None:
        self._ats(va, mmu.WRITE, False)

    def ats_cur(self, key, va) -> None:
        self._ats(va, mmu.READ, True)

    def ats_cuw(self, key, va) -> None:
        self._ats(va, mmu.WRITE, True)

    # performance monitors (pmu.py)
    def pmu_read(self, key) -> int:
        return self.pmu.read(cp15.BY_KEY[key].name, self.cp15.pmselr)

    def pmu_write(self, key, v: int) -> None:
        self.pmu.write(cp15.BY_KEY[key].name, self.cp15.pmselr, v)

    # --- interrupts -------------------------------------------------------------------------
    def set_irq_line(self, n: int, level: int) -> None:
        self.irq_level[n] = 1 if level else 0
        if level:
            self.exit_request = True

    def update_interrupt_request(self) -> None:
        if (self.irq_level[0] and not self.cpsr_aif & CPSR_I) or \
                (self.irq_level[1] and not self.cpsr_aif & CPSR_F):
            self.exit_request = True

    def has_work(self) -> bool:
        return not self.halted or bool(self.irq_level[0] or self.irq_level[1])

    def check_interrupts(self, key: int) -> int:
        """Take a pending unmasked FIQ or IRQ; returns the (new) key."""
        if self.irq_level[1] and not self.cpsr_aif & CPSR_F:
            self.set_key(key)
            self.take_exception(EXCP_FIQ, self.regs[15])
            return self.key()
        if self.irq_level[0] and not self.cpsr_aif & CPSR_I:
            self.set_key(key)
            self.take_exception(EXCP_IRQ, self.regs[15])
            return self.key()
        return key

    # --- exceptions ---------------------------------------------------------------------------
    def take_exception(self, excp: int, pc: int, size: int = 0, fsr: int = 0, far: int = 0) -> None:
        """Enter the exception ``excp`` for the instruction at ``pc`` (``size`` bytes; for
        IRQ/FIQ ``pc`` is the next instruction to execute)."""
        thumb = self.thumb
        if excp == EXCP_UDEF:
            mode, offset, lr, mask = UND, 0x04, pc + (2 if thumb else 4), CPSR_I
        elif excp == EXCP_SWI:
            mode, offset, lr, mask = SVC, 0x08, pc + size, CPSR_I
        elif excp == EXCP_SMC:
            mode, offset, lr, mask = MON, 0x08, pc + size, CPSR_A | CPSR_I | CPSR_F
        elif excp in (EXCP_PREFETCH_ABORT, EXCP_BKPT):
            mode, offset, lr, mask = ABT, 0x0C, pc + 4, CPSR_A | CPSR_I
            self.cp15.ifsr = fsr if excp == EXCP_PREFETCH_ABORT else FSR_DEBUG
            if excp == EXCP_PREFETCH_ABORT:
                self.cp15.ifar = far
        elif excp == EXCP_DATA_ABORT:
            mode, offset, lr, mask = ABT, 0x10, pc + 8, CPSR_A | CPSR_I
            self.cp15.dfsr = fsr
            self.cp15.dfar = far
        elif excp == EXCP_IRQ:
            mode, offset, lr, mask = IRQ, 0x18, pc + 4, CPSR_A | CPSR_I
        elif excp == EXCP_FIQ:
            mode, offset, lr, mask = FIQ, 0x1C, pc + 4, CPSR_A | CPSR_I | CPSR_F
        else:
            raise ValueError(f"unknown exception {excp}")
        if log.enabled("int"):
            el = 0 if self.mode == USR else 1
            lines = [f"Taking exception {excp} [{EXCP_NAMES[excp]}] on CPU {self.cpu_index}",
                     f"...from EL{el} to EL{3 if mode == MON else 1}"]
            if excp == EXCP_DATA_ABORT:
                lines.append(f"...with DFSR 0x{fsr:x} DFAR 0x{far:x}")
            elif excp == EXCP_PREFETCH_ABORT:
                lines.append(f"...with IFSR 0x{fsr:x} IFAR 0x{far:x}")
            log.log("int", "\n".join(lines))
        old = self.cpsr
        self.switch_mode(mode)
        self.spsr_bank[BANK[mode]] = old
        self.regs[14] = lr & M32
        self.cpsr_aif |= mask
        self.itstate = 0
        sctlr = self.cp15.sctlr
        self.thumb = (sctlr >> 30) & 1
        self.cpsr_e = (sctlr >> 25) & 1
        if mode == MON:
            base = self.cp15.mvbar
        elif sctlr & (1 << 13):
            base = 0xFFFF0000
        else:
            base = self.cp15.vbar
        self.regs[15] = (base + offset) & M32
        self.halted = False

    def deliver(self, e: GuestException, pc: int, size: int, in_slot: bool = False) -> None:
        fsr = getattr(e, "fsr", 0)
        far = getattr(e, "far", 0)
        self.take_exception(e.excp, pc, size, fsr, far)

    def insn_size(self, pc: int) -> int:
        if not self.thumb:
            return 4
        try:
            hw = int.from_bytes(self.read_virt(pc, 2), "little")
        except VirtualAccessError:
            return 2
        return 4 if (hw >> 11) in (0x1D, 0x1E, 0x1F) else 2

    def take_undefined(self, pc: int) -> None:
        self.take_exception(EXCP_UDEF, pc & ~1)

    # --- debugger and monitor access ----------------------------------------------------------
    @property
    def pc(self) -> int:
        return self.regs[15]

    @pc.setter
    def pc(self, value: int) -> None:
        self.regs[15] = value & M32

    def dump_registers(self) -> str:
        R = self.regs
        lines = []
        for row in range(4):
            lines.append(" ".join(f"R{i:02d}={R[i]:08x}" for i in range(row * 4, row * 4 + 4)))
        psr = self.cpsr
        flags = "".join(c if psr & b else "-" for c, b in
                        (("N", 1 << 31), ("Z", 1 << 30), ("C", 1 << 29), ("V", 1 << 28)))
        mode = MODE_NAMES.get(psr & 0x1F, "???")
        lines.append(f"PSR={psr:08x} {flags} {'T' if psr & CPSR_T else 'A'} {mode}32")
        return "\n".join(lines) + "\n"

    def trace_block(self, pc: int, key: int) -> None:
        """-d exec / -d cpu: called at the start of each block when enabled."""
        if log.enabled("cpu"):
            log.write(self.dump_registers())
        if log.enabled("exec"):
            flags = (key >> 32) & 0xFFFFFFFF
            log.write(f"Trace {self.cpu_index}: 0x{key & 0xFFFFFFFFFFFF:012x} "
                      f"[00000000/{pc:08x}/{flags:08x}/00000000] \n")

    def disas(self, pc: int, insn: int, size: int, thumb: bool = False) -> str:
        """One line of ``-d in_asm``: address, encoding, capstone's disassembly."""
        code = insn.to_bytes(size, "little") if size == 4 and not thumb else \
            (insn.to_bytes(2, "little") if size == 2 else
             ((insn >> 16).to_bytes(2, "little") + (insn & 0xFFFF).to_bytes(2, "little")))
        text = "<unknown>"
        try:
            import capstone
            cs = getattr(self, "_cs", None)
            if cs is None:
                cs = self._cs = (capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM),
                                 capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB))
            for i in cs[1 if thumb else 0].disasm(code, pc):
                text = f"{i.mnemonic:<8} {i.op_str}"
                break
        except ImportError:
            pass
        enc = f"{insn:08x}" if size == 4 else f"{insn:04x}    "
        return f"0x{pc:08x}:  {enc}  {text}"


# CPU methods that generators bind under their own name
_CPU_METHODS = frozenset((
    "exception_return", "set_user_reg", "get_user_reg", "ldrex", "strex", "read_spsr",
    "read_cpsr_mrs", "write_spsr", "msr_cpsr", "cps", "wfi", "wfe", "setend", "srs", "rfe"))
