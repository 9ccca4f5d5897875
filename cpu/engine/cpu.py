"""``TranslatedCPU``: the base of every CPU run by translating guest code to Python.

It holds the run loop, block lookup and the debugger's memory access; its mixins the
soft MMU (softmmu.py) and the block caches (tbcache.py).  A CPU subclass supplies the
seams listed in cpu/README.md (key layout, privilege levels, MMU hook, faults, register
write-back, interrupt check, disassembler) and nothing else of the engine.

``run(max_insns)`` is a loop ``key = jc[key][0](R)`` over a dict from keys to compiled
blocks (the jump cache); a miss translates (or finds in ``tbs``, keyed by key and
physical address) and fills it.  Each block returns the key of the next; the loop adds
the block's static length to ``clock.icount`` after each call (exits that ran fewer or
more instructions correct it themselves).  A guest exception carries the index of the
faulting instruction in its block, so state and count are exact when the CPU's
``deliver`` takes it.  Interrupts are taken at block boundaries (``exit_request``).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from pysystem import codecache, log
from pysystem.qdev import Device
from pysystem.qom import register

from . import translate as tr
from .debug import Debug, DebugExit
from .exceptions import GuestException
from .softmmu import READ, SoftMMU
from .tbcache import BlockCache
from .translate import MAX_INSNS, translate

try:
    # On PyPy, call blocks without letting the JIT trace through the call: each block then
    # gets compiled on its own, instead of the dispatch loop inlining whichever block it
    # saw and chaining a guard per target (slow with the thousands of blocks of a kernel).
    import pypyjit
    _residual_call = pypyjit.residual_call
    # Most kernel blocks run a few hundred times, short of the default 1619 calls after
    # which PyPy compiles a function; interpreted, they run slower than on CPython.
    pypyjit.set_param("function_threshold=150")
    # ...and most of them never run again: free compiled code unused for 100 generations
    # (default 1000).  A cold boot peaked at 452 MB instead of 501 (bench/RESULTS.md).
    pypyjit.set_param("loop_longevity=100")
except ImportError:
    _residual_call = None

M32 = 0xFFFFFFFF


class VirtualAccessError(Exception):
    """A debugger access to a virtual address that does not translate."""


@register
class TranslatedCPU(Debug, SoftMMU, BlockCache, Device):
    """See the module docstring and cpu/README.md (the seams)."""

    TYPE = "cpu"
    ABSTRACT = True
    #: the ``-cpu`` name of a concrete model (cpu/models.py)
    MODEL = ""
    #: the architecture's name (QMP's target arch, the disk cache's ident)
    ARCH = ""
    #: privilege levels, most privileged first: the letters helper names carry
    PRIVS: Tuple[str, ...] = ("p", "u")
    #: the level of unprivileged accesses (ARM's LDRT)
    USER_LEVEL = 1
    #: the ``Ctx`` subclass that generates this CPU's code
    CTX: type = type(None)
    #: the module holding this CPU's exception classes (``Ctx.raise_exc`` names them)
    EXCEPTIONS = None

    def __init__(self, **props):
        super().__init__(**props)
        self.address_space = None
        self.clock = None
        self.cpu_index = 0
        self.exit_request = False
        self.icount_end = 0  # the current run's end, read by blocks that loop
        self.big_endian = False  # the code's byte order (and the data's by default)
        self.init_block_cache()
        self.init_memory_access()
        self.init_debug()
        self._code_ident: Optional[bytes] = None

    def realize(self) -> None:
        if self.address_space is None:
            from pysystem.qom import QOMError
            raise QOMError(f"{self.TYPE}: no address space set before realize")
        if self.clock is None:
            from pysystem.clock import VirtualClock
            self.clock = VirtualClock()
        self.attach_address_space(self.address_space)
        super().realize()

    @classmethod
    def example(cls) -> "TranslatedCPU":
        """A realized, reset CPU on 1 MiB of RAM at 0 (for generic tests)."""
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

    # --- what the disk cache keys blocks by -----------------------------------------------
    def code_ident(self) -> bytes:
        """What a block's translation depends on besides its key and code: the
        architecture, the CPU model, the byte order and the sources of the engine and of
        the CPU's own package."""
        got = self._code_ident
        if got is None:
            got = self._code_ident = codecache.ident(
                self.ARCH.encode(), self.TYPE.encode(), b"be" if self.big_endian else b"le",
                tr.source_ident(tr.ENGINE_FOLDER, tr.package_folder(self)))
        return got

    def resolve_binding(self, name: str):
        """What a block from the disk cache binds under ``name`` that the engine does not
        know (the CPU's helpers, exception classes); None: not known."""
        return None

    # --- the execution loop -------------------------------------------------------------------
    def _lookup(self, key: int, jc: Dict[int, tuple], max_insns: int) -> tuple:
        pc = self.key_pc(key)
        stop_here = pc in self.breakpoints and self.debug_lookup(pc)  # debug.py
        if stop_here:
            max_insns = 1
        level = self.key_level(key)
        pa = self.translate_code(pc, level)
        ck = (key, pa, max_insns)
        blk = self.tbs.get(ck)
        if blk is not None:
            blk.used = self.tb_generation
        else:
            pages = []

            def fetch(va, size):
                return self.fetch_code(va, size, pc, pa, level, pages)

            blk = translate(self, key, pa, fetch, self.translate_insn, max_insns)
            for p in pages:
                if p not in blk.pages:
                    blk.pages.append(p)
            self.register_block(ck, blk)
            if log.enabled("in_asm"):
                log.write("----------------\nIN: \n" + "\n".join(blk.asm) + "\n\n")
            if log.enabled("op"):
                log.write(f"OP (python) for 0x{pc:08x}:\n{blk.source}\n")
        ent = (blk.func, blk.ninsns, blk)
        if not stop_here and not log.enabled("nochain"):
            last = blk.pcs[-1] if blk.pcs else pc
            self.jc_add(jc, key, ent, {pc >> 12, ((last + 3) & M32) >> 12})
        return ent

    def _execute(self, max_insns: int, jc: Dict[int, tuple], block_insns: int,
                 irqs: bool = True) -> int:
        if self.halted:
            if not self.has_work():
                return 0
            self.halted = False
        self.exit_request = False
        clock = self.clock
        start = clock.icount
        end = self.icount_end = start + max_insns
        key = self.check_interrupts(self.key()) if irqs else self.key()
        R = self.regs
        ent = None
        n = 0
        stuck_at, stuck = -1, 0
        lookup = self._lookup
        rcall = _residual_call
        while clock.icount < end:
            try:
                while clock.icount < end:
                    try:  # cheaper than jc.get() on CPython when the key is there
                        ent = jc[key]
                    except KeyError:
                        ent = lookup(key, jc, block_insns)
                    f, n, _ = ent
                    key = rcall(f, R) if rcall else f(R)
                    clock.icount += n
                    if self.exit_request:
                        break
            except DebugExit as e:  # a breakpoint or a watchpoint: see debug.py
                if e.idx >= 0:
                    blk = ent[2]
                    idx = e.idx - 1 if e.idx in blk.slots else e.idx
                    clock.icount += idx
                    self.set_key(self.key_with_pc(blk.key, blk.pcs[idx]))
                else:
                    self.set_key(key)
                self._debug_stopped(e, ent)
                key = self.key()
                break
            except GuestException as e:
                idx = e.idx
                if idx < 0:
                    pc = self.key_pc(key)
                    self.set_key(key)
                    size = 0
                    slot = e.in_slot
                else:
                    blk = ent[2]
                    slot = idx in blk.slots
                    if slot:  # reported at the instruction owning the slot
                        idx -= 1
                    clock.icount += idx + (1 if e.counted and not slot else 0)
                    pc = blk.pcs[idx]
                    self.set_key(blk.key)
                    size = self.insn_size(pc)
                self.deliver(e, pc, size, slot)
                key = self.key()
                if clock.icount == stuck_at:
                    stuck += 1
                    if stuck >= 64:  # exceptions without progress (e.g. a faulting vector)
                        log.log("guest_errors", f"CPU {self.cpu_index}: exception loop at 0x{pc:08x}")
                        break
                else:
                    stuck_at, stuck = clock.icount, 0
                continue
            except Exception as e:  # a bug in the translator must not kill the machine
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                self._internal_error(e, key, ent)
                key = self.key()
                break
            if self.exit_request:
                self.exit_request = False
                if self.halted:
                    break
                if irqs:
                    key = self.check_interrupts(key)
                break
        if ent is not None or clock.icount != start:
            self.set_key(key)
        return clock.icount - start

    #: tests set this so that translator bugs fail loudly instead of becoming UNDEF
    raise_internal_errors = False

    def _internal_error(self, e: Exception, key: int, ent) -> None:
        import traceback
        if self.raise_internal_errors:
            raise e
        pc = self.key_pc(key)
        log.log("guest_errors", f"internal error executing block at 0x{pc:08x}: {e!r}")
        log.log("unimp", "".join(traceback.format_exception(type(e), e, e.__traceback__)))
        self.flush_all()
        self.set_key(key)
        self.take_undefined(pc)

    def run(self, max_insns: int, one_insn_per_tb: bool = False) -> int:
        """Run blocks until at least ``max_insns`` instructions ran (the last block may
        overshoot), the CPU halts or ``exit_request`` is set; ``one_insn_per_tb``:
        blocks of one instruction each (QEMU's -one-insn-per-tb)."""
        if one_insn_per_tb:
            return self._execute(max_insns, self.jc_step, 1)
        return self._execute(max_insns, self.jc, MAX_INSNS)

    def single_step(self) -> int:
        """Execute exactly one instruction (or take one pending interrupt/exception; an
        instruction with a delay slot runs with its slot)."""
        return self._execute(1, self.jc_step, 1)

    # --- debugger and monitor access ----------------------------------------------------------
    def debug_translate(self, va: int) -> int:
        """The physical address of ``va`` as the debugger reads it (a privileged read);
        the CPU's fault if it does not translate."""
        return self.mmu_translate(va, READ, 0, -1)[0]

    def virt_to_phys(self, addr: int) -> Optional[int]:
        try:
            return self.debug_translate(addr & M32)
        except GuestException:
            return None

    def read_virt(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            pa = self.virt_to_phys(addr)
            if pa is None:
                raise VirtualAccessError(f"cannot access virtual address 0x{addr:08x}")
            chunk = min(n, 0x1000 - (addr & 0xFFF))
            try:
                out += self.address_space.read_bytes(pa, chunk)
            except Exception as e:
                raise VirtualAccessError(f"cannot access memory at 0x{addr:08x}: {e}") from None
            addr = (addr + chunk) & M32
            n -= chunk
        return bytes(out)

    def write_virt(self, addr: int, data: bytes) -> None:
        data = bytes(data)
        while data:
            pa = self.virt_to_phys(addr)
            if pa is None:
                raise VirtualAccessError(f"cannot access virtual address 0x{addr:08x}")
            chunk = min(len(data), 0x1000 - (addr & 0xFFF))
            try:
                self.address_space.write_bytes(pa, data[:chunk])
            except Exception as e:
                raise VirtualAccessError(f"cannot access memory at 0x{addr:08x}: {e}") from None
            data = data[chunk:]
            addr = (addr + chunk) & M32

    # --- the seams (cpu/README.md) -------------------------------------------------------------
    def key(self) -> int:
        """The key of the block to run next, from the CPU's state."""
        raise NotImplementedError

    def key_pc(self, key: int) -> int:
        """The virtual address of a key's first instruction."""
        raise NotImplementedError

    def key_level(self, key: int) -> int:
        """A key's privilege level (an index into ``PRIVS``)."""
        raise NotImplementedError

    def key_big_endian(self, key: int) -> bool:
        """Whether a key's block accesses data big-endian."""
        return self.big_endian

    def key_with_pc(self, key: int, pc: int) -> int:
        """``key`` with its address replaced by ``pc`` (the same state)."""
        raise NotImplementedError

    def set_key(self, key: int) -> None:
        """Write the state a key holds (the PC, ARM's Thumb and IT bits) back to the CPU."""
        raise NotImplementedError

    def current_level(self) -> int:
        """The privilege level the CPU runs at now."""
        raise NotImplementedError

    def data_big_endian(self) -> bool:
        """Whether data accesses are big-endian now."""
        return self.big_endian

    def mmu_translate(self, va: int, access: int, level: int, idx: int) -> tuple:
        """``(physical address, writable, mapping size, tag)`` for an access (READ, WRITE,
        EXEC) at ``level``; raises the CPU's fault (with ``idx``) when it is refused.
        ``writable``: the same level may also write the page (the TLB fills both);
        ``tag``: what the mapping depends on that ``tlb_flush_tags`` may drop (None)."""
        raise NotImplementedError

    def bus_fault(self, va: int, access: int, idx: int, error: Optional[Exception]) -> GuestException:
        """The CPU's fault for an access the bus refused (``error``: None for a fetch)."""
        raise NotImplementedError

    def unaligned_access(self, va: int, size: int, aligned: bool, write: bool, idx: int) -> None:
        """An unaligned access: raise the CPU's alignment fault, or return to allow it
        (``aligned``: the instruction requires alignment whatever the configuration)."""
        raise NotImplementedError

    def translate_insn(self, ctx, fetch) -> int:
        """Generate one instruction at ``ctx.pc`` (see translate.translate); its size."""
        raise NotImplementedError

    def has_work(self) -> bool:
        """Whether the CPU has something to run: it is not halted, or an interrupt that
        wakes it is pending (the main loop asks too)."""
        raise NotImplementedError

    def check_interrupts(self, key: int) -> int:
        """Take a pending, unmasked interrupt at a block boundary; the (new) key."""
        raise NotImplementedError

    def deliver(self, e: GuestException, pc: int, size: int, in_slot: bool) -> None:
        """Take the guest exception ``e`` raised by the instruction at ``pc`` (``size``
        bytes); ``in_slot``: it was raised in the delay slot of that instruction."""
        raise NotImplementedError

    def insn_size(self, pc: int) -> int:
        """The size of the instruction at ``pc`` (for an exception's return address)."""
        raise NotImplementedError

    def take_undefined(self, pc: int) -> None:
        """Enter the undefined-instruction exception at ``pc`` (a translator bug)."""
        raise NotImplementedError

    def disas(self, pc: int, insn: int, size: int) -> str:
        """One line of ``-d in_asm``."""
        return f"0x{pc:08x}:  {insn:0{2 * size}x}"

    def trace_block(self, pc: int, key: int) -> None:
        """``-d exec`` / ``-d cpu``: called at the start of each block when enabled."""

    # --- what the monitor and debuggers ask ---------------------------------------------------
    #: register names for ``$reg`` in monitor expressions and their completion
    REGISTER_NAMES: Tuple[str, ...] = ()

    def read_register(self, name: str) -> Optional[int]:
        """The value of register ``name``, None if there is no such register."""
        return None

    def registers_text(self) -> str:
        """``info registers``."""
        return "\n".join(f"{n}={self.read_register(n):08x}" for n in self.REGISTER_NAMES)

    def disassembler(self) -> Optional[Tuple[int, int, int]]:
        """capstone's (arch, mode) for the CPU's current state (code byte order
        included), and the unit an encoding is shown in; None: no disassembler."""
        return None
