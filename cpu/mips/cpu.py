"""The MIPS32 CPU on the shared translation engine: state, CP0 behaviour, the seams.

Interface (for boards, the main loop, the monitor and the gdb stub), as ``ARMCPU``'s:

* QOM types ``<model>-mips-cpu`` (4Kc, 4KEc, 24Kc, 24Kf, 34Kf; ``MIPSCPU.MODEL``);
  properties ``endianness`` ("little" or "big": Config0.BE follows it; the address
  space must have the same byte order), ``clock-frequency`` (CP0 Count runs at half of
  it) and ``cpu-index``.  Before ``realize()`` the board sets ``cpu.address_space`` and
  ``cpu.clock``.
* ``reset()``: Status.BEV|ERL, PC 0xbfc00000 (``exceptions.reset``).
* ``run(max_insns)``, ``single_step()``, ``halted``, ``exit_request`` (the engine's),
  ``set_irq_line(n, level)`` for the six hardware interrupt lines (IP2-IP7);
  ``nmi()``, ``soft_reset()``.
* ``regs`` (r0-r31, then HI and LO), ``pc``, ``cp0`` (the CP0 registers by name),
  ``fpr``/``fcsr`` (FPU), ``dump_registers()``, ``read_virt``/``write_virt``/
  ``virt_to_phys``, ``save_state()``/``load_state()``.

The engine's seams (cpu/README.md): blocks are keyed by ``pc | khi`` where ``khi``
holds what a block's code depends on: the privilege level (kernel 0, supervisor 1,
user 2: bits 32-33), big-endian (bit 34), Status.CU0 outside kernel mode (bit 35) and
Status.CU1 (bit 36).  The ASID is not a key bit: the MMU hook tags each mapping with
(JTLB index, ASID or None for global entries), so tlbwi/tlbwr drop the pages of the
entry they replace and an ASID change drops only the old ASID's pages (kseg0/kseg1 and
global pages stay); a change of Status.ERL (kuseg unmapped) flushes the soft TLB.
"""
from __future__ import annotations

from pysystem import log
from pysystem.cpu.engine.cpu import TranslatedCPU
from pysystem.cpu.engine.softmmu import EXEC, WRITE
from pysystem.qom import Field, Property, register

from . import cp0 as cp0regs
from . import exceptions as exc
from . import isa, mmu, models, translator
from .debug import MIPSDebug
from .cp0 import CA_TI, ST_CU0, ST_CU1, ST_ERL, ST_EXL, ST_IE
from .exceptions import GuestException
from .tlb import JTLB, legal_pagemask

M32 = 0xFFFFFFFF
CLOSED = 0xFFFFFFFFFFFFFFFF  # the LL link is closed
KEY_MODE_SHIFT = 32
KEY_BE = 1 << 34
KEY_CU0 = 1 << 35
KEY_CU1 = 1 << 36


@register
class MIPSCPU(MIPSDebug, TranslatedCPU):
    TYPE = "mips-cpu"
    ABSTRACT = True
    DESC = "MIPS32"
    ARCH = "mips"
    MODEL = ""  # each model's type sets it (the CPU factory offers them by this name)
    PRIVS = ("k", "s", "u")
    USER_LEVEL = 2
    CTX = translator.Ctx
    EXCEPTIONS = exc
    PROPERTIES = (
        Property("endianness", "str", "little", "byte order (Config0.BE)", choices=("little", "big")),
        Property("clock-frequency", "uint32", 200000000, "pipeline clock in Hz (Count runs at half)"),
        Property("cpu-index", "uint32", 0, "the CPU number (EBase.CPUNum)"),
    )
    STATE = (
        Field("regs", "u32[34]", 0, "r0-r31, HI, LO"),
        Field("pc_", "u32", 0xBFC00000, "the program counter while not running"),
        Field("fpr", "u32[32]", 0, "FPU registers f0-f31 (FR=0: doubles in even/odd pairs)"),
        Field("fcsr", "u32", 0, "FPU control and status (FCR31)"),
        Field("halted", "bool", False, "waiting for an interrupt (WAIT)"),
        Field("hw_ip", "u8", 0, "levels of the six hardware interrupt lines (IP2-IP7)"),
        Field("excl_addr", "u64", CLOSED, "virtual address of the open LL link (all ones: closed)"),
        Field("excl_val", "u32", 0, "the word LL read"),
        Field("compare_timer", "timer", None, "fires when Count reaches Compare"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.big_endian = self.endianness == "big"
        self.model = models.MODELS[self.MODEL]
        self.cp0 = self.add_child("cp0", cp0regs.CP0())
        self.jtlb = self.add_child("jtlb", JTLB(self.model.tlb_entries))
        self.regs = [0] * 34
        self.fpr = [0] * 32
        self.fcsr = 0
        self.pc_ = 0xBFC00000
        self.khi = 0
        self.hw_ip = 0
        self.excl_addr = CLOSED
        self.excl_val = 0
        self.halted = False
        self.compare_timer = None
        from .fpu_ops import FPU
        self.fpu = FPU(self)

    # --- lifecycle ---------------------------------------------------------------------
    def realize(self) -> None:
        from pysystem.qom import QOMError
        if self.address_space is not None and \
                bool(getattr(self.address_space, "big_endian", False)) != self.big_endian:
            raise QOMError(f"{self.TYPE}: the address space's byte order differs from the CPU's")
        super().realize()
        from pysystem.clock import Timer
        self.compare_timer = Timer(self.clock, self._compare_fired, "mips-compare")
        self.cp0.realize()
        self.jtlb.realize()

    def reset(self) -> None:
        super().reset()
        self.cp0.reset_for(self.model, self.big_endian)
        self.cp0.ebase = 0x80000000 | (self.cpu_index & 0x3FF)
        self.jtlb.reset()
        self.fcsr = 0
        self.exit_request = False
        self._write_count(1)
        self.flush_all()
        exc.reset(self, self.pc_, False)

    def post_load(self) -> None:
        # the Compare timer is state of its own (restored with its deadline, as QEMU's
        # vmstate_mips_cpu saves env.timer), not recomputed from Count/Compare here
        self.flush_all()
        self._update_khi()

    # --- state bits and keys (the engine's seams) -----------------------------------------
    def mode_now(self) -> int:
        st = self.cp0.status
        if st & (ST_EXL | ST_ERL):
            return 0
        ksu = (st >> 3) & 3
        return ksu if ksu < 3 else 2

    current_level = mode_now

    def _update_khi(self) -> None:
        st = self.cp0.status
        mode = self.mode_now()
        khi = (mode << KEY_MODE_SHIFT) | (KEY_BE if self.big_endian else 0)
        if mode and st & ST_CU0:
            khi |= KEY_CU0
        if st & ST_CU1 and self.model.has_fpu:
            khi |= KEY_CU1
        self.khi = khi

    def key(self) -> int:
        return self.pc_ | self.khi

    @staticmethod
    def key_pc(key: int) -> int:
        return key & M32

    @staticmethod
    def key_level(key: int) -> int:
        return (key >> KEY_MODE_SHIFT) & 3

    @staticmethod
    def key_big_endian(key: int) -> bool:
        return bool(key & KEY_BE)

    @staticmethod
    def key_with_pc(key: int, pc: int) -> int:
        return (key & ~M32) | (pc & M32)

    @staticmethod
    def key_cu0(key: int) -> bool:
        return bool(key & KEY_CU0)

    @staticmethod
    def key_cu1(key: int) -> bool:
        return bool(key & KEY_CU1)

    def set_key(self, key: int) -> None:
        self.pc_ = key & M32

    def data_big_endian(self) -> bool:
        return self.big_endian

    @property
    def pc(self) -> int:
        return self.pc_

    @pc.setter
    def pc(self, value: int) -> None:
        self.pc_ = value & M32

    def set_pc_after_exception(self, pc: int) -> None:
        self.pc_ = pc & M32
        self.halted = False
        self._update_khi()

    # --- the MMU hook and faults ------------------------------------------------------------
    def mmu_translate(self, va: int, access: int, level: int, idx: int) -> tuple:
        """Segments and the JTLB (mmu.py); the tag is (JTLB index, ASID or None for a
        global entry), None for the unmapped segments."""
        if access == EXEC and va & 3:
            raise exc.AddressError(idx, va)
        try:
            pa, writable, size, index = mmu.translate(self, va, access, level)
        except GuestException as e:
            e.idx = idx
            if log.enabled("mmu"):
                log.log("mmu", f"{type(e).__name__} at 0x{va:08x} "
                               f"({('load', 'store', 'fetch')[access]})")
            raise
        if index < 0:
            return pa, writable, size, None
        return pa, writable, size, (index, None if self.jtlb.glob[index] else self.cp0.entryhi & 0xFF)

    def bus_fault(self, va: int, access: int, idx: int, error) -> GuestException:
        if error is not None and log.enabled("guest_errors"):
            log.log("guest_errors", f"access at 0x{va:08x}: {error} -> bus error")
        return exc.BusError(idx, va, access == WRITE, access == EXEC)

    def unaligned_access(self, va: int, size: int, aligned: bool, write: bool, idx: int) -> None:
        raise exc.AddressError(idx, va, write)

    def translate_insn(self, ctx, fetch) -> int:
        insn = fetch(0, 4)
        if insn is None:
            return 0
        ctx.insn = insn
        ctx.size = 4
        isa.translate_insn(ctx)
        return 4

    def insn_size(self, pc: int) -> int:
        return 4

    def deliver(self, e: GuestException, pc: int, size: int, in_slot: bool) -> None:
        self.regs[0] = 0
        exc.take(self, e, pc, in_slot)

    def take_undefined(self, pc: int) -> None:
        exc.take(self, exc.ReservedInstruction(), pc, False)

    def has_work(self) -> bool:
        return not self.halted or self._interrupt_pending()

    def check_interrupts(self, key: int) -> int:
        if self._interrupt_pending():
            self.pc_ = key & M32
            exc.take(self, exc.Interrupt(), self.pc_, False)
            return self.key()
        return key

    def resolve_binding(self, name: str):
        """What a block from the disk cache binds under a MIPS name."""
        if name == "cp0":
            return self.cp0
        if name == "F":
            return self.fpr
        if name == "fpu":
            return self.fpu
        if name in ("mtc0", "eret", "deret", "wait", "set_ie", "swl", "swr") or \
                name.startswith("tlb_"):
            return getattr(self, name, None)
        if name == "sc":
            return self.store_conditional
        if name.startswith("cp0r_"):
            for r in cp0regs.REGS:
                if r.attr == name[5:] and r.read:
                    return getattr(self, r.read)
            return None
        if name in ("h_div", "h_divu"):
            from . import trans_alu
            return trans_alu._div if name == "h_div" else trans_alu._divu
        obj = getattr(exc, name, None)
        return obj if isinstance(obj, type) and issubclass(obj, GuestException) else None

    # --- memory helpers of generated code ------------------------------------------------------
    def _word_for_store(self, va: int, idx: int) -> tuple:
        """The physical address and value of the aligned word at ``va``, translated as a
        store (SWL/SWR/SC fault as stores)."""
        pa = self._translate_data(va, True, self.current_level(), idx)
        try:
            return pa, self.address_space.read(pa, 4)
        except Exception as e:
            if type(e).__name__ == "BusError":
                raise self.bus_fault(va, WRITE, idx, e) from None
            raise

    def _put_word(self, pa: int, va: int, value: int, idx: int) -> None:
        try:
            self.address_space.write(pa, value & M32, 4)
        except Exception as e:
            if type(e).__name__ == "BusError":
                raise self.bus_fault(va, WRITE, idx, e) from None
            raise

    def _partial(self, va: int, rt: int, idx: int, left: bool) -> None:
        al = va & ~3 & M32
        pa, w = self._word_for_store(al, idx)
        k = va & 3
        s = 8 * (k if self.big_endian == left else 3 - k)
        if left:
            w = (w & ~(M32 >> s) & M32) | (rt >> s)
        else:
            w = (w & ((1 << s) - 1)) | ((rt << s) & M32)
        self._put_word(pa, al, w, idx)

    def swl(self, va: int, rt: int, idx: int) -> None:
        self._partial(va, rt, idx, True)

    def swr(self, va: int, rt: int, idx: int) -> None:
        self._partial(va, rt, idx, False)

    def store_conditional(self, va: int, value: int, size: int, idx: int) -> int:
        """SC's slow path (the engine's exclusive contract: 0 stored, 1 not): stores when
        the link is open on ``va`` and memory still holds the word LL read, as QEMU's
        compare-and-exchange; a mismatched address does not access memory."""
        if va & 3:
            raise exc.AddressError(idx, va, True)
        ok = self.excl_addr == va
        self.excl_addr = CLOSED
        if not ok:
            return 1
        pa, cur = self._word_for_store(va, idx)
        if cur != self.excl_val:
            return 1
        self._put_word(pa, va, value, idx)
        return 0

    # --- CP0 ----------------------------------------------------------------------------------
    def mtc0(self, reg: int, sel: int, value: int, idx: int) -> None:
        """A CP0 write with a side effect (see cp0.REGS); blocks end after it."""
        r = cp0regs.lookup(reg, sel)
        if r.kind == "op":
            getattr(self, r.write)(value & M32, idx)
            return
        mask = r.mask_for(self.model)
        old = getattr(self.cp0, r.attr)
        setattr(self.cp0, r.attr, (old & ~mask) | (value & mask))
        getattr(self, r.write)(old)

    def cp0_read_random(self, idx: int) -> int:
        """Random counts down from the top entry to Wired, one step per instruction."""
        n = self.model.tlb_entries
        wired = self.cp0.wired
        if wired >= n:
            return n - 1
        return n - 1 - (self.clock.icount + idx) % (n - wired)

    def _ticks(self, idx: int = 0) -> int:
        ns = self.clock.now() + (idx << self.clock.shift)
        return ns * (self.clock_frequency // 2) // 1000000000

    def cp0_read_count(self, idx: int) -> int:
        return (self._ticks(idx) + self.cp0.count_offset) & M32

    def _write_count(self, value: int, idx: int = 0) -> None:
        self.cp0.count_offset = (value - self._ticks(idx)) & M32
        self._schedule_compare()

    def cp0_write_count(self, value: int, idx: int) -> None:
        self._write_count(value, idx)

    def _schedule_compare(self) -> None:
        if self.compare_timer is None:
            return
        now = self.clock.now()
        hz = self.clock_frequency // 2
        count = (now * hz // 1000000000 + self.cp0.count_offset) & M32
        delta = (self.cp0.compare - count) & M32 or (1 << 32)
        target_ticks = now * hz // 1000000000 + delta
        self.compare_timer.mod(-(-target_ticks * 1000000000 // hz))

    def _compare_fired(self) -> None:
        self.cp0.cause |= CA_TI
        self._update_ip()
        self._schedule_compare()

    def cp0_compare_written(self, old: int) -> None:
        self.cp0.cause &= ~CA_TI
        self._update_ip()
        self._schedule_compare()

    def _timer_ip(self) -> int:
        return (self.cp0.intctl >> 29) & 7 if self.model.release >= 2 else 7

    def _update_ip(self) -> None:
        """Cause.IP7-2 from the hardware lines and the timer (on IP[IntCtl.IPTI])."""
        ip = self.hw_ip << 2
        if self.cp0.cause & CA_TI:
            ip |= 1 << self._timer_ip()
        self.cp0.cause = (self.cp0.cause & ~0xFC00) | ((ip & 0xFC) << 8)
        self.update_interrupt_request()

    def cp0_cause_written(self, old: int) -> None:
        self.update_interrupt_request()

    def cp0_status_written(self, old: int) -> None:
        if (old ^ self.cp0.status) & ST_ERL:  # kuseg (un)mapped: every level's pages
            self.tlb_flush_all()
        self._update_khi()
        self.update_interrupt_request()

    def cp0_entryhi_written(self, old: int) -> None:
        self.entryhi_changed(old & 0xFF)

    def entryhi_changed(self, old_asid: int) -> None:
        """A new ASID: drop the pages mapped for the old one (global and unmapped pages stay)."""
        if (self.cp0.entryhi & 0xFF) != old_asid:
            self.tlb_flush_tags([t for t in self.tlb_tags if t[1] == old_asid])

    def cp0_pagemask_written(self, old: int) -> None:
        self.cp0.pagemask = legal_pagemask(self.cp0.pagemask)

    def cp0_wired_written(self, old: int) -> None:
        self.cp0.random = self.model.tlb_entries - 1

    def cp0_read_config0(self, idx: int) -> int:
        return self.cp0.config0

    def cp0_write_config0(self, value: int, idx: int) -> None:
        self.cp0.config0 = (self.cp0.config0 & ~7) | (value & 7)

    def cp0_read_lladdr(self, idx: int) -> int:
        pa = self.virt_to_phys(self.excl_addr & M32) if self.excl_addr != CLOSED else 0
        return ((pa or 0) >> self.model.lladdr_shift) & M32

    def cp0_write_ignored(self, value: int, idx: int) -> None:
        pass

    def cp0_watch_written(self, old: int) -> None:
        if log.enabled("unimp") and any(getattr(self.cp0, f"watchlo{i}") & 7 for i in range(8)):
            log.log("unimp", "CP0 watchpoints are stored but do not fire")

    def set_ie(self, ie: int) -> None:
        self.cp0.status = (self.cp0.status & ~ST_IE) | ie
        self.update_interrupt_request()

    def eret(self, at: int = 0) -> int:
        """ERET (at address ``at``): return to ErrorEPC (clearing ERL) or EPC (clearing
        EXL); closes the link."""
        cp0 = self.cp0
        if log.enabled("exec"):  # QEMU's debug_pre_eret
            log.log("exec", f"ERET: PC {at:08x} EPC {cp0.epc:08x}"
                            + (f" ErrorEPC {cp0.errorepc:08x}" if cp0.status & ST_ERL else ""))
        if cp0.status & ST_ERL:
            pc = cp0.errorepc
            cp0.status &= ~ST_ERL
        else:
            pc = cp0.epc
            cp0.status &= ~ST_EXL
        self.excl_addr = CLOSED
        self.pc_ = pc & M32
        self._update_khi()
        self.update_interrupt_request()
        if log.enabled("exec"):  # QEMU's debug_post_eret
            log.log("exec", f"  =>  PC {pc:08x} EPC {cp0.epc:08x}")
        return self.key()

    def deret(self, idx: int) -> int:
        cp0 = self.cp0
        if not cp0.debug & (1 << 30):
            raise exc.ReservedInstruction(idx)
        cp0.debug &= ~(1 << 30)
        self.pc_ = cp0.depc
        self._update_khi()
        return self.key()

    def wait(self) -> None:
        if not self._interrupt_pending():
            self.halted = True
        self.exit_request = True

    # --- TLB instructions -----------------------------------------------------------------------
    def tlb_tlbp(self) -> None:
        i = self.jtlb.probe(self.cp0.entryhi)
        self.cp0.index = i if i >= 0 else (self.cp0.index | 0x80000000)

    def tlb_tlbr(self) -> None:
        i = (self.cp0.index & 0x7FFFFFFF) % self.model.tlb_entries
        hi, mask, lo0, lo1 = self.jtlb.read(i)
        old = self.cp0.entryhi & 0xFF
        self.cp0.entryhi, self.cp0.pagemask = hi, mask
        self.cp0.entrylo0, self.cp0.entrylo1 = lo0, lo1
        self.entryhi_changed(old)

    def _tlb_write(self, i: int) -> None:
        """tlbwi/tlbwr at ``i``: the pages filled from the entry it replaces go."""
        cp0 = self.cp0
        self.tlb_flush_tags([t for t in self.tlb_tags if t[0] == i])
        self.jtlb.write(i, cp0.entryhi, cp0.pagemask, cp0.entrylo0, cp0.entrylo1)

    def tlb_tlbwi(self) -> None:
        self._tlb_write((self.cp0.index & 0x7FFFFFFF) % self.model.tlb_entries)

    def tlb_tlbwr(self) -> None:
        self._tlb_write(self.cp0_read_random(0))

    # --- interrupts --------------------------------------------------------------------------------
    def set_irq_line(self, n: int, level: int) -> None:
        """Hardware interrupt line ``n`` (0-5, to Cause.IP2-IP7)."""
        bit = 1 << n
        self.hw_ip = (self.hw_ip | bit) if level else (self.hw_ip & ~bit)
        self._update_ip()

    def _interrupt_pending(self) -> bool:
        cp0 = self.cp0
        st = cp0.status
        return bool(st & ST_IE and not st & (ST_EXL | ST_ERL) and not cp0.debug & (1 << 30)
                    and cp0.cause & st & 0xFF00)

    def update_interrupt_request(self) -> None:
        if self._interrupt_pending():
            self.exit_request = True

    def nmi(self) -> None:
        exc.reset(self, self.pc_, False, "nmi")

    def soft_reset(self) -> None:
        exc.reset(self, self.pc_, False, "soft")

    # --- monitor, traces ------------------------------------------------------------------------
    def trace_block(self, pc: int, key: int) -> None:
        if log.enabled("cpu"):
            log.write(self.dump_registers())
        if log.enabled("exec"):
            log.write(f"Trace {self.cpu_index}: 0x{key & 0xFFFFFFFFFFFF:012x} "
                      f"[00000000/{pc:08x}/{(key >> 32) & M32:08x}/00000000] \n")

    def disas(self, pc: int, insn: int, size: int = 4) -> str:
        code = insn.to_bytes(4, "big" if self.big_endian else "little")
        text = "<unknown>"
        try:
            import capstone
            cs = getattr(self, "_cs", None)
            if cs is None:
                mode = capstone.CS_MODE_MIPS32 | (capstone.CS_MODE_BIG_ENDIAN if self.big_endian
                                                  else capstone.CS_MODE_LITTLE_ENDIAN)
                cs = self._cs = capstone.Cs(capstone.CS_ARCH_MIPS, mode)
            for i in cs.disasm(code, pc):
                text = f"{i.mnemonic:<8} {i.op_str}"
                break
        except ImportError:
            pass
        return f"0x{pc:08x}:  {insn:08x}  {text}"


def _check_hooks() -> None:
    """Every CP0 hook named in the table is a MIPSCPU method (a typo fails at import)."""
    for r in cp0regs.REGS:
        for name in (r.read, r.write):
            if name is not None and not callable(getattr(MIPSCPU, name, None)):
                raise TypeError(f"CP0 register {r.name}: no MIPSCPU method {name!r}")


_check_hooks()


def _model_type(model: str):
    name = f"{model}-mips-cpu"
    cls = type(f"MIPSCPU_{model}", (MIPSCPU,), {"TYPE": name, "MODEL": model,
                                                "DESC": f"MIPS {model} (MIPS32 release "
                                                        f"{models.MODELS[model].release})"})
    return register(cls)


CPU_TYPES = {m: _model_type(m) for m in models.MODELS}
