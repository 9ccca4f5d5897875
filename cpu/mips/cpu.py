"""The MIPS32 CPU object: architectural state, CP0 behaviour, the execution loop.

Interface (for boards, the main loop, the monitor and the gdb stub), as ``ARMCPU``'s:

* QOM types ``<model>-mips-cpu`` (4Kc, 4KEc, 24Kc, 24Kf, 34Kf; ``MIPSCPU.MODEL``);
  properties ``big-endian`` (the byte order; Config0.BE follows it) and
  ``clock-frequency`` (CP0 Count runs at half of it).  Before ``realize()`` the board
  sets ``cpu.address_space`` (an ``AddressSpace`` of the same byte order) and
  ``cpu.clock``.
* ``reset()``: Status.BEV|ERL, PC 0xbfc00000 (``exceptions.reset``).
* ``run(max_insns)``, ``single_step()``, ``halted``, ``exit_request``,
  ``set_irq_line(n, level)`` for the six hardware interrupt lines (IP2-IP7);
  ``nmi()``, ``soft_reset()``.
* ``regs`` (r0-r31, then HI and LO), ``pc``, ``cp0`` (the CP0 registers by name),
  ``fpr``/``fcsr`` (FPU), ``dump_registers()``, ``read_virt``/``write_virt``/
  ``virt_to_phys``, ``save_state()``/``load_state()``.

Blocks are keyed by ``pc | khi`` where ``khi`` holds the state a block's code depends
on: the mode (kernel 0, supervisor 1, user 2: bits 32-33), big-endian (bit 34),
Status.CU0 outside kernel mode (bit 35) and Status.CU1 (bit 36).  The ASID is not a
key bit: it selects the soft TLB and jump cache (memaccess.py).
"""
from __future__ import annotations

from typing import Dict

from pysystem import log
from pysystem.qdev import Device
from pysystem.qom import Field, Property, QOMError, register

from . import cp0 as cp0regs
from . import exceptions as exc
from . import isa, models
from .cp0 import CA_TI, ST_CU0, ST_CU1, ST_ERL, ST_EXL, ST_IE
from .exceptions import GuestException
from .memaccess import MemoryAccessMixin
from .tlb import JTLB, legal_pagemask
from .translator import MAX_INSNS, translate

M32 = 0xFFFFFFFF
KEY_MODE_SHIFT = 32
KEY_BE = 1 << 34
KEY_CU0 = 1 << 35
KEY_CU1 = 1 << 36

REG_NAMES = ["zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4",
             "t5", "t6", "t7", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9",
             "k0", "k1", "gp", "sp", "s8", "ra"]


@register
class MIPSCPU(MemoryAccessMixin, Device):
    TYPE = "mips-cpu"
    ABSTRACT = True
    DESC = "MIPS32"
    MODEL = models.DEFAULT
    PROPERTIES = (
        Property("big-endian", "bool", False, "big-endian byte order (Config0.BE)"),
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
        Field("ll_addr", "i64", -1, "virtual address of the open LL link (-1: closed)"),
        Field("ll_val", "u32", 0, "the word LL read"),
        Field("compare_timer", "timer", None, "fires when Count reaches Compare"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.model = models.MODELS[self.MODEL]
        self.address_space = None
        self.clock = None
        self.cp0 = self.add_child("cp0", cp0regs.CP0())
        self.jtlb = self.add_child("jtlb", JTLB(self.model.tlb_entries))
        self.exit_request = False
        self.icount_end = 0
        self.regs = [0] * 34
        self.fpr = [0] * 32
        self.fcsr = 0
        self.pc_ = 0xBFC00000
        self.khi = 0
        self.hw_ip = 0
        self.ll_addr = -1
        self.ll_val = 0
        self.halted = False
        self.compare_timer = None
        from .fpu_ops import FPU
        self.fpu = FPU(self)
        self.jc_step: Dict[int, tuple] = {}
        self.init_memory_access()

    # --- lifecycle ---------------------------------------------------------------------
    def realize(self) -> None:
        if self.address_space is None:
            raise QOMError(f"{self.TYPE}: no address space set before realize")
        if bool(getattr(self.address_space, "big_endian", False)) != bool(self.big_endian):
            raise QOMError(f"{self.TYPE}: the address space's byte order differs from the CPU's")
        if self.clock is None:
            from pysystem.clock import VirtualClock
            self.clock = VirtualClock()
        from pysystem.clock import Timer
        self.compare_timer = Timer(self.clock, self._compare_fired, "mips-compare")
        self.attach_address_space(self.address_space)
        self.cp0.realize()
        self.jtlb.realize()
        super().realize()

    @classmethod
    def example(cls) -> "MIPSCPU":
        from pysystem.clock import VirtualClock
        from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion
        root = ContainerRegion(None, "system", 1 << 32)
        root.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
        cpu = cls()
        cpu.address_space = AddressSpace("memory", root)
        cpu.clock = VirtualClock()
        cpu.realize()
        cpu.reset()
        return cpu

    def reset(self) -> None:
        super().reset()
        self.cp0.reset_for(self.model, self.big_endian)
        self.cp0.ebase = 0x80000000 | (self.cpu_index & 0x3FF)
        self.cp0.random = self.model.tlb_entries - 1
        self.jtlb.reset()
        self.fcsr = 0
        self.exit_request = False
        self._write_count(1)
        self.flush_all()
        exc.reset(self, self.pc_, False)

    def post_load(self) -> None:
        self.flush_all()
        self._update_khi()
        self._schedule_compare()

    # --- state bits and keys -------------------------------------------------------------
    def mode_now(self) -> int:
        st = self.cp0.status
        if st & (ST_EXL | ST_ERL):
            return 0
        ksu = (st >> 3) & 3
        return ksu if ksu < 3 else 2

    def _update_khi(self) -> None:
        st = self.cp0.status
        mode = self.mode_now()
        khi = (mode << KEY_MODE_SHIFT) | (KEY_BE if self.big_endian else 0)
        if mode and st & ST_CU0:
            khi |= KEY_CU0
        if st & ST_CU1 and self.model.has_fpu:
            khi |= KEY_CU1
        self.khi = khi
        self.select_tlb_set()

    @staticmethod
    def key_mode(key: int) -> int:
        return (key >> KEY_MODE_SHIFT) & 3

    @staticmethod
    def key_be(key: int) -> bool:
        return bool(key & KEY_BE)

    @staticmethod
    def key_cu0(key: int) -> bool:
        return bool(key & KEY_CU0)

    @staticmethod
    def key_cu1(key: int) -> bool:
        return bool(key & KEY_CU1)

    def key(self) -> int:
        return self.pc_ | self.khi

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

    # --- CP0 ----------------------------------------------------------------------------------
    def mtc0(self, reg: int, sel: int, value: int, idx: int) -> None:
        """A CP0 write with a side effect (see cp0.REGS); blocks end after it."""
        r = cp0regs.lookup(reg, sel)
        self._icount_idx = idx
        if r.kind == "op":
            getattr(self, r.write)(value & M32)
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

    def cp0_write_count(self, value: int) -> None:
        self._write_count(value, getattr(self, "_icount_idx", 0))

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
        self._update_khi()
        self.update_interrupt_request()

    def cp0_entryhi_written(self, old: int) -> None:
        self.entryhi_changed()

    def entryhi_changed(self) -> None:
        self.select_tlb_set()

    def cp0_pagemask_written(self, old: int) -> None:
        self.cp0.pagemask = legal_pagemask(self.cp0.pagemask)

    def cp0_wired_written(self, old: int) -> None:
        self.cp0.random = self.model.tlb_entries - 1

    def cp0_read_config0(self, idx: int) -> int:
        return self.cp0.config0

    def cp0_write_config0(self, value: int) -> None:
        self.cp0.config0 = (self.cp0.config0 & ~7) | (value & 7)

    def cp0_read_lladdr(self, idx: int) -> int:
        pa = self.virt_to_phys(self.ll_addr & M32) if self.ll_addr >= 0 else 0
        return ((pa or 0) >> self.model.lladdr_shift) & M32

    def cp0_write_ignored(self, value: int) -> None:
        pass

    def cp0_watch_written(self, old: int) -> None:
        if log.enabled("unimp") and any(getattr(self.cp0, f"watchlo{i}") & 7 for i in range(8)):
            log.log("unimp", "CP0 watchpoints are stored but do not fire")

    def set_ie(self, ie: int) -> None:
        self.cp0.status = (self.cp0.status & ~ST_IE) | ie
        self.update_interrupt_request()

    def eret(self) -> int:
        """ERET: return to ErrorEPC (clearing ERL) or EPC (clearing EXL); closes the link."""
        cp0 = self.cp0
        if cp0.status & ST_ERL:
            pc = cp0.errorepc
            cp0.status &= ~ST_ERL
        else:
            pc = cp0.epc
            cp0.status &= ~ST_EXL
        self.ll_addr = -1
        self.pc_ = pc & M32
        self._update_khi()
        self.update_interrupt_request()
        if log.enabled("int"):
            log.log("int", f"ERET: PC {pc:08x} EPC {cp0.epc:08x} ErrorEPC {cp0.errorepc:08x}")
        return self.key()

    def deret(self, idx: int) -> int:
        cp0 = self.cp0
        if not cp0.debug & (1 << 30):
            raise exc.ReservedInstruction(idx)
        cp0.debug &= ~(1 << 30)
        self.pc_ = cp0.depc
        self._update_khi()
        return self.key()

    def has_work(self) -> bool:
        """The main loop runs this CPU unless it waits (WAIT) with no interrupt to take."""
        return not self.halted or self._interrupt_pending()

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
        self.cp0.entryhi, self.cp0.pagemask = hi, mask
        self.cp0.entrylo0, self.cp0.entrylo1 = lo0, lo1
        self.entryhi_changed()

    def _tlb_write(self, i: int) -> None:
        cp0 = self.cp0
        self.drop_tlb_entry(i)
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

    def _check_interrupts(self, key: int) -> int:
        if self._interrupt_pending():
            self.pc_ = key & M32
            exc.take(self, exc.Interrupt(), self.pc_, False)
            return self.key()
        return key

    def nmi(self) -> None:
        exc.reset(self, self.pc_, False, "nmi")

    def soft_reset(self) -> None:
        exc.reset(self, self.pc_, False, "soft")

    # --- the execution loop -----------------------------------------------------------------
    def raise_slot_fetch_fault(self, slot_pc: int) -> None:
        try:
            self.translate_code(slot_pc)
        except GuestException as e:
            e.in_slot = True
            raise
        raise exc.BusError(-1, slot_pc, fetch=True)

    def _lookup(self, key: int, jc: Dict[int, tuple], max_insns: int) -> tuple:
        pc = key & M32
        pa = self.translate_code(pc)
        ck = (key, pa, max_insns)
        blk = self.tbs.get(ck)
        if blk is None:
            pages = [pa >> 12]

            def fetch(va):
                if (va ^ pc) & 0xFFFFF000 == 0:
                    p = pa + (va - pc)
                else:
                    try:
                        p = self.translate_code(va)
                    except GuestException:
                        return None
                    if p >> 12 not in pages:
                        pages.append(p >> 12)
                try:
                    return self.address_space.read(p, 4)
                except Exception as e:
                    if type(e).__name__ == "BusError":
                        if va == pc:
                            raise exc.BusError(-1, va, fetch=True) from None
                        return None
                    raise

            blk = translate(self, key, pa, fetch, isa.translate_insn, max_insns)
            blk.pages = pages
            self.register_block(ck, blk)
            if log.enabled("in_asm"):
                log.write("----------------\nIN: \n" + "\n".join(blk.asm) + "\n\n")
            if log.enabled("op"):
                log.write(f"OP (python) for 0x{pc:08x}:\n{blk.source}\n")
        ent = (blk.func, blk.ninsns, blk)
        if not log.enabled("nochain"):
            if jc is self.jc:
                last = blk.pcs[-1] if blk.pcs else pc
                self.jc_add(key, ent, {pc >> 12, last >> 12})
            else:
                jc[key] = ent
        return ent

    def _execute(self, max_insns: int, step: bool) -> int:
        if self.halted:
            if not self._interrupt_pending():
                return 0
            self.halted = False
        self.exit_request = False
        clock = self.clock
        start = clock.icount
        end = self.icount_end = start + max_insns
        block_insns = 1 if step else MAX_INSNS
        key = self._check_interrupts(self.key())
        R = self.regs
        ent = None
        stuck_at, stuck = -1, 0
        while clock.icount < end:
            jc = self.jc_step if step else self.jc
            try:
                while clock.icount < end:
                    try:
                        ent = jc[key]
                    except KeyError:
                        ent = self._lookup(key, jc, block_insns)
                    key = ent[0](R)
                    clock.icount += ent[1]
                    if self.exit_request:
                        break
            except GuestException as e:
                idx = e.idx
                if idx < 0:
                    pc = key & M32
                    bd = getattr(e, "in_slot", False)
                    if bd:
                        pc = (pc + 4) & M32
                    if isinstance(e, exc.MemoryFault) and not bd and e.badvaddr != pc:
                        e.badvaddr = pc
                else:
                    blk = ent[2]
                    clock.icount += idx
                    pc = blk.pcs[idx]
                    bd = idx in blk.slots
                R[0] = 0
                exc.take(self, e, pc, bd)
                key = self.key()
                if clock.icount == stuck_at:
                    stuck += 1
                    if stuck >= 64:
                        log.log("guest_errors", f"CPU {self.cpu_index}: exception loop at 0x{pc:08x}")
                        break
                else:
                    stuck_at, stuck = clock.icount, 0
                continue
            except Exception as e:
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                self._internal_error(e, key)
                key = self.key()
                break
            if self.exit_request:
                self.exit_request = False
                if self.halted:
                    break
                key = self._check_interrupts(key)
                if step:
                    break
        self.pc_ = key & M32
        return clock.icount - start

    #: tests set this so that translator bugs fail loudly instead of becoming RI
    raise_internal_errors = False

    def _internal_error(self, e: Exception, key: int) -> None:
        import traceback
        if self.raise_internal_errors:
            raise e
        pc = key & M32
        log.log("guest_errors", f"internal error executing block at 0x{pc:08x}: {e!r}")
        log.log("unimp", "".join(traceback.format_exception(type(e), e, e.__traceback__)))
        self.flush_all()
        exc.take(self, exc.ReservedInstruction(), pc, False)

    def run(self, max_insns: int) -> int:
        return self._execute(max_insns, False)

    def single_step(self) -> int:
        return self._execute(1, True)

    # --- monitor, traces ------------------------------------------------------------------------
    def dump_registers(self) -> str:
        R = self.regs
        cp0 = self.cp0
        lines = [f"pc=0x{self.pc_:08x} HI=0x{R[32]:08x} LO=0x{R[33]:08x} ds 00ea B 0x{self.pc_:08x} 0"]
        for row in range(8):
            lines.append(" ".join(f"{REG_NAMES[i]:>4} {R[i]:08x}" if False else
                                  f"GPR{i:02d}: {REG_NAMES[i]} {R[i]:08x}"
                                  for i in range(row * 4, row * 4 + 4)))
        lines.append(f"CP0 Status  0x{cp0.status:08x} Cause   0x{cp0.cause:08x} EPC    0x{cp0.epc:08x}")
        lines.append(f"    Config0 0x{cp0.config0:08x} Config1 0x{self.model.config1:08x} "
                     f"LLAddr 0x{self.cp0_read_lladdr(0):016x}")
        return "\n".join(lines) + "\n"

    def trace_block(self, pc: int, key: int) -> None:
        if log.enabled("cpu"):
            log.write(self.dump_registers())
        if log.enabled("exec"):
            log.write(f"Trace {self.cpu_index}: 0x{key & 0xFFFFFFFFFFFF:012x} "
                      f"[00000000/{pc:08x}/{(key >> 32) & M32:08x}/00000000] \n")

    def disas(self, pc: int, insn: int) -> str:
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
