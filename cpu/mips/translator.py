"""The MIPS block translator: guest code -> Python source -> a compiled function.

This is the MIPS side of the ARM CPU's scheme (see cpu/arm/README.md), kept in this
package until the shared engine takes over blocks, caches and the run loop; the
generators only use the ``Ctx`` API below, whose names the shared engine keeps.

A block is compiled to ``tb(R)``: it loads the GPRs it uses from ``R`` (the CPU's
``regs``: r0-r31, then HI and LO at 32 and 33) into locals ``r1..r31``, ``hi``,
``lo`` (r0 reads as the constant 0 and writes to it vanish), runs the code of one
generator per instruction, and writes back what it changed in a ``finally`` clause,
so that the registers are exact when a guest exception leaves the block.  It returns
the key of the next block (``cpu.key()``: pc | state bits).

Delay slots: a branch generator calls ``ctx.branch(...)``; the translator computes
the condition and target first (from the registers before the slot runs), writes
the link register, translates the next instruction as the slot (``ctx.in_slot``) and
ends the block with the branch's exit.  Branch-likely forms put the slot under the
condition (nullified when not taken).  A fault in the slot is reported against the
branch (``Block.slots`` lists the slot indices; the CPU sets EPC and Cause.BD).

Memory: ``ctx.load``/``ctx.store`` index guest RAM through the soft TLB inline::

    try: r2 = u32(ram, a + tr[a & 0xfffff003])[0]
    except KeyError: r2 = ld32(a, IDX)

``tr``/``tw`` (bound at block entry from ``cpu.tr``/``cpu.tw``: the soft TLB of the
current mode and ASID) map a page's virtual base to ``ram_offset - page_va``; an
unaligned address never hits (its low bits stay in the key) and takes the slow path,
which raises the address error; ``u32`` is a ``struct`` reader in the guest's byte order.
"""
from __future__ import annotations

import platform
import struct as _struct
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from pysystem import log

M32 = 0xFFFFFFFF
MAX_INSNS = 64
PYPY = platform.python_implementation() == "PyPy"
# CPython indexes memoryviews of RAM when the guest's byte order is the host's; PyPy's
# JIT does best with struct on the buffer (as the ARM translator found)
_VIEWS_FOR = None if PYPY else (sys.byteorder == "big")

_KEY_MASK = {4: "0xfffff003", 2: "0xfffff001", 1: "0xfffff000"}
_FMT = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h", (4, False): "I",
        (4, True): "i"}
_READERS = {(be, size, signed): _struct.Struct((">" if be else "<") + f).unpack_from
            for be in (False, True) for (size, signed), f in _FMT.items()}
_WRITERS = {(be, size): _struct.Struct((">" if be else "<") + _FMT[size, False]).pack_into
            for be in (False, True) for size in (1, 2, 4)}
_CODE_CACHE: Dict[str, Any] = {}


class Block:
    __slots__ = ("key", "phys", "func", "ninsns", "pcs", "slots", "source", "asm", "pages")

    def __init__(self, key: int, phys: int):
        self.key, self.phys = key, phys
        self.func: Optional[Callable] = None
        self.ninsns = 0
        self.pcs: List[int] = []
        self.slots: set = set()   # indices of instructions in a delay slot
        self.source = ""
        self.asm: List[str] = []
        self.pages = [phys >> 12]


class Ctx:
    """What a generator sees.  Attributes: ``pc``, ``idx`` (index in the block),
    ``insn``, ``cpu``, ``model``, ``key``, ``kernel``/``user`` (privilege of the block),
    ``be`` (big-endian), ``in_slot``; set ``ended`` when the instruction left the
    block (it emitted its own exit)."""

    def __init__(self, cpu, key: int):
        self.cpu = cpu
        self.model = cpu.model
        self.key = key
        self.key_hi = key & ~M32
        self.mode = cpu.key_mode(key)
        self.kernel = self.mode == 0
        self.user = self.mode == 2
        self.be = cpu.key_be(key)
        self.cu0 = cpu.key_cu0(key)
        self.cu1 = cpu.key_cu1(key)
        self.lines: List[Tuple[int, str]] = []
        self.indent = 1
        self.read: set = set()
        self.written: set = set()
        self.bind: Dict[str, Any] = {}
        self.ntmp = 0
        self.pc = 0
        self.idx = 0
        self.insn = 0
        self.ended = False
        self.in_slot = False
        self.pending_branch: Optional[dict] = None
        self.uses_tlb = False
        self.loop_ok = False  # a branch back to the block's start may loop inside it
        self.block_start = key & M32
        self.stop = False   # end the block after this instruction
        self.dyn = False    # an instruction changed the state bits: exits read cpu.khi

    # --- code buffer ---------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append((self.indent, line))

    def push(self) -> None:
        self.indent += 1

    def pop(self) -> None:
        self.indent -= 1

    def tmp(self, prefix: str = "t") -> str:
        self.ntmp += 1
        return f"{prefix}{self.ntmp}"

    def helper(self, name: str, obj: Any) -> str:
        self.bind[name] = obj
        return name

    # --- registers -------------------------------------------------------------------------
    def r(self, n: int) -> str:
        if n == 0:
            return "0"
        self.read.add(n)
        return f"r{n}"

    def w(self, n: int, expr: str) -> None:
        if n == 0:
            return
        self.written.add(n)
        self.emit(f"r{n} = {expr}")

    def dest(self, n: int) -> str:
        """The local to assign register ``n`` to (``_`` for r0)."""
        if n == 0:
            return "_"
        self.written.add(n)
        return f"r{n}"

    def hilo(self, which: str, write: bool = False) -> str:
        n = 32 if which == "hi" else 33
        (self.written if write else self.read).add(n)
        return which

    def next_key(self, offset: int = 4) -> str:
        return hex(((self.pc + offset) & M32) | self.key_hi)

    # --- control -----------------------------------------------------------------------------
    def exit(self, key_expr: str) -> None:
        self.lines.append((self.indent, "\0EXIT " + key_expr))
        self.ended = True

    def key_of(self, pc_expr: str) -> str:
        """The key of guest address ``pc_expr`` in the block's state (or, after an
        instruction that changed it, the CPU's current state bits ``cpu.khi``)."""
        if self.dyn:
            return f"({pc_expr}) | cpu.khi"
        return f"({pc_expr}) | {hex(self.key_hi)}" if self.key_hi else pc_expr

    def loop_back(self) -> None:
        """Branch to the start of the block as a loop inside the block function: it runs
        as many passes as the run's budget allows (``cpu.icount_end``)."""
        self.lines.append((self.indent, "\0LOOP"))
        self.ended = True

    def exit_pc(self, pc_expr: str) -> None:
        """Leave the block for guest address ``pc_expr``."""
        self.exit(self.key_of(pc_expr))

    def end_after(self, state_changed: bool = False) -> None:
        """End the block after this instruction (in a delay slot: with the branch);
        ``state_changed``: it may have changed the mode, endianness or CU bits."""
        self.stop = True
        self.dyn = self.dyn or state_changed

    def sync(self) -> None:
        """Write back every register (before a helper that reads or writes them)."""
        self.lines.append((self.indent, "\0SYNC"))

    def exc(self, cls_name: str, *args: str) -> str:
        """An expression constructing the guest exception ``cls_name`` at this instruction."""
        from . import exceptions
        self.helper(cls_name, getattr(exceptions, cls_name))
        return f"{cls_name}({', '.join((str(self.idx),) + args)})"

    def raise_exc(self, cls_name: str, *args: str) -> None:
        """Raise a guest exception at this instruction (ends the block)."""
        self.emit(f"raise {self.exc(cls_name, *args)}")
        self.ended = True

    def reserved(self) -> None:
        self.raise_exc("ReservedInstruction")

    def branch(self, cond: Optional[str], target: str, likely: bool = False,
               link: Optional[int] = None) -> None:
        """A branch with a delay slot: ``cond`` (None: always) and ``target`` are
        evaluated now; ``link`` names the register that gets pc + 8."""
        if self.in_slot:  # a branch in a delay slot: UNPREDICTABLE; QEMU raises RI
            self.reserved()
            return
        c = None
        if cond is not None:
            c = self.tmp("c")
            self.emit(f"{c} = {cond}")
        if not target.startswith("0x"):
            t = self.tmp("j")
            self.emit(f"{t} = {target}")
            target = t
        if link is not None:
            self.w(link, hex((self.pc + 8) & M32))
        self.pending_branch = {"cond": c, "target": target, "likely": likely}

    # --- memory --------------------------------------------------------------------------------
    def _ram_ref(self, size: int, a: str, write: bool) -> str:
        self.uses_tlb = True
        self.helper("ram", self.cpu.ram_buffer())
        tlb = "tw" if write else "tr"
        return f"{a} + {tlb}[{a} & {_KEY_MASK[size]}]"

    def _view(self, size: int) -> Optional[str]:
        """CPython, guest order = host order: the bound name of the RAM view of ``size``."""
        if size != 1 and _VIEWS_FOR != self.be:
            return None
        return self.helper({1: "ram", 2: "m16", 4: "m32"}[size], self.cpu.ram_view(size))

    def load(self, size: int, addr: str, dest: str, signed: bool = False,
             for_store: bool = False) -> None:
        """``dest = <load of size bytes at addr>`` (addr: an expression, evaluated once;
        a signed load gives a negative int for negative values).  ``for_store``: the load
        of a read-modify-write store (SWL/SWR): it probes the write TLB and faults as a
        store."""
        a = addr
        if not a.isidentifier():
            a = self.tmp("a")
            self.emit(f"{a} = {addr}")
        view = None if PYPY else self._view(size)
        if view is not None:
            slow = self.helper(f"ld{size * 8}{'s' if signed else ''}{'w' if for_store else ''}",
                               self.cpu.slow_load_fn(size, signed, for_store))
            off = self._ram_ref(size, a, for_store)
            shift = {1: "", 2: " >> 1", 4: " >> 2"}[size]
            elem = f"{view}[({off}){shift}]" if shift else f"{view}[{off}]"
            if signed and size < 4:
                bit = hex(1 << (8 * size - 1))
                elem = f"(({elem} ^ {bit}) - {bit})"
            self.emit(f"try: {dest} = {elem}")
            self.emit(f"except KeyError: {dest} = {slow}({a}, {self.idx})")
            return
        rd = self.helper(f"{'s' if signed else 'u'}{size * 8}{'b' if self.be else 'l'}",
                         _READERS[self.be, size, signed])
        slow = self.helper(f"ld{size * 8}{'s' if signed else ''}{'w' if for_store else ''}",
                           self.cpu.slow_load_fn(size, signed, for_store))
        self.emit(f"try: {dest} = {rd}(ram, {self._ram_ref(size, a, for_store)})[0]")
        self.emit(f"except KeyError: {dest} = {slow}({a}, {self.idx})")

    def store(self, size: int, addr: str, value: str) -> None:
        a = addr
        if not a.isidentifier():
            a = self.tmp("a")
            self.emit(f"{a} = {addr}")
        if size < 4 and value != "0":
            value = f"{value} & {'0xffff' if size == 2 else '0xff'}"
        view = None if PYPY else self._view(size)
        if view is not None:
            slow = self.helper(f"st{size * 8}", self.cpu.slow_store_fn(size))
            off = self._ram_ref(size, a, True)
            shift = {1: "", 2: " >> 1", 4: " >> 2"}[size]
            elem = f"{view}[({off}){shift}]" if shift else f"{view}[{off}]"
            self.emit(f"try: {elem} = {value}")
            self.emit(f"except KeyError: {slow}({a}, {value}, {self.idx})")
            return
        wr = self.helper(f"p{size * 8}{'b' if self.be else 'l'}", _WRITERS[self.be, size])
        slow = self.helper(f"st{size * 8}", self.cpu.slow_store_fn(size))
        self.emit(f"try: {wr}(ram, {self._ram_ref(size, a, True)}, {value})")
        self.emit(f"except KeyError: {slow}({a}, {value}, {self.idx})")

    # --- the function ----------------------------------------------------------------------------
    def _writeback(self, pad: str, out: List[str]) -> None:
        regs = sorted(self.written)
        if regs:
            out.append(pad + "; ".join(f"R[{n}] = {_local(n)}" for n in regs))

    def source(self, name: str, ninsns: int = 0) -> str:
        regs = sorted(self.read | self.written)
        looping = any(t == "\0LOOP" for _, t in self.lines)
        if looping:
            self.helper("clock", self.cpu.clock)
        binds = sorted(self.bind)
        params = ", ".join(["R", "cpu=cpu"] + [f"{b}={b}" for b in binds])
        out = [f"def {name}({params}):"]
        if regs:
            out.append("    " + "; ".join(f"{_local(n)} = R[{n}]" for n in regs))
        if self.uses_tlb:
            out.append("    tr = cpu.tr; tw = cpu.tw")
        if looping:
            out.append(f"    it = 0; lim = (cpu.icount_end - clock.icount) // {ninsns}")
        out.append("    try:")
        out.append("        while True:")
        for indent, text in self.lines:
            pad = "    " * (indent + 2)
            if text.startswith("\0EXIT "):
                out.append(f"{pad}nk = {text[6:]}; break")
            elif text == "\0SYNC":
                self._writeback(pad, out)
            elif text == "\0LOOP":
                out.append(pad + "if it + 1 < lim and not cpu.exit_request:")
                out.append(pad + "    it += 1")
                out.append(pad + "    continue")
                out.append(f"{pad}nk = {hex(self.key)}; break")
            else:
                out.append(pad + text)
        out.append("            raise AssertionError('fell off the end of a block')")
        out.append("    finally:")
        wb: List[str] = []
        self._writeback("        ", wb)
        if looping:
            wb.append(f"        clock.icount += it * {ninsns}")
        out.extend(wb or ["        pass"])
        out.append("    return nk")
        return "\n".join(out) + "\n"


def _local(n: int) -> str:
    return "hi" if n == 32 else "lo" if n == 33 else f"r{n}"


def compile_block(ctx: Ctx, name: str, ninsns: int) -> Tuple[Callable, str]:
    src = ctx.source(name, ninsns)
    code = _CODE_CACHE.get(src)
    if code is None:
        code = compile(src, f"<tb {name}>", "exec")
        if len(_CODE_CACHE) > 4096:
            _CODE_CACHE.clear()
        _CODE_CACHE[src] = code
    from .exceptions import GuestException
    ns = {"cpu": ctx.cpu, "GuestException": GuestException}
    ns.update(ctx.bind)
    exec(code, ns)
    return ns[name], src


def translate(cpu, key: int, phys: int, fetch: Callable[[int], Optional[int]],
              decode: Callable, max_insns: int = MAX_INSNS) -> Block:
    """Translate the block at ``key`` (first instruction at physical ``phys``).

    ``fetch(va)`` returns the instruction word at a virtual address (None on a fault:
    the block then ends before it; a fetch fault of the block's first instruction, or
    of the delay slot of its first instruction, is raised by ``fetch`` itself).
    ``decode(ctx)`` emits one instruction (``ctx.insn``)."""
    asm_on = log.enabled("in_asm")
    trace = log.enabled("exec") or log.enabled("cpu")
    blk = Block(key, phys)
    ctx = Ctx(cpu, key)
    pc = key & M32
    page_end = (pc | 0xFFF) + 1
    n = 0
    ctx.loop_ok = not trace and max_insns > 1 and not log.enabled("nochain")
    if trace:
        ctx.helper("trace_block", cpu.trace_block)
        ctx.emit(f"trace_block({hex(pc)}, {hex(key)})")
    while True:
        insn = fetch(pc)
        if insn is None:
            ctx.exit_pc(hex(pc))
            break
        ctx.pc, ctx.idx, ctx.insn = pc, n, insn
        ctx.ended = False
        ctx.stop = False
        decode(ctx)
        blk.pcs.append(pc)
        if asm_on:
            blk.asm.append(cpu.disas(pc, insn))
        n += 1
        pc = (pc + 4) & M32
        if ctx.ended:
            break
        if ctx.stop:
            ctx.exit_pc(hex(pc))
            break
        br = ctx.pending_branch
        if br is not None:
            ctx.pending_branch = None
            slot = fetch(pc)
            if slot is None:  # the slot cannot be fetched: end before the branch
                if n == 1:
                    cpu.raise_slot_fetch_fault(pc)
                del blk.pcs[-1]
                if asm_on:
                    del blk.asm[-1]
                return _retranslate_shorter(cpu, key, phys, fetch, decode, n - 1)
            _emit_slot(ctx, blk, br, pc, n, slot, decode, asm_on)
            n += 1
            break
        if n >= max_insns or pc >= page_end or pc == 0:
            ctx.exit_pc(hex(pc))
            break
    blk.ninsns = n
    blk.func, src = compile_block(ctx, f"tb_{key & M32:08x}", n)
    if log.enabled("op"):
        blk.source = src
    return blk


def _retranslate_shorter(cpu, key, phys, fetch, decode, n):
    return translate(cpu, key, phys, fetch, decode, max_insns=n)


def _emit_slot(ctx: Ctx, blk: Block, br: dict, pc: int, n: int, insn: int, decode,
               asm_on: bool) -> None:
    """The delay slot at ``pc`` (index ``n``) and the branch's exit."""
    cond, target, likely = br["cond"], br["target"], br["likely"]
    ctx.pc, ctx.idx, ctx.insn = pc, n, insn
    ctx.in_slot = True
    ctx.ended = False
    ctx.stop = False
    blk.slots.add(n)
    blk.pcs.append(pc)
    if asm_on:
        blk.asm.append(ctx.cpu.disas(pc, insn))
    loop = (ctx.loop_ok and target == hex(ctx.block_start)) and not ctx.dyn
    if likely:
        ctx.emit(f"if {cond}:")
        ctx.push()
        decode(ctx)
        if not ctx.ended and not ctx.stop and loop:
            ctx.loop_back()
        elif not ctx.ended:
            ctx.exit(ctx.key_of(target))
        ctx.pop()
        ctx.exit(ctx.key_of(hex((pc + 4) & M32)))
        return
    decode(ctx)
    if ctx.ended:  # the slot raised
        return
    after = ctx.key_of(hex((pc + 4) & M32))
    tgt = ctx.key_of(target)
    if loop and not ctx.stop:
        if cond is None:
            ctx.loop_back()
        else:
            ctx.emit(f"if {cond}:")
            ctx.push()
            ctx.loop_back()
            ctx.pop()
            ctx.exit(after)
        return
    if cond is None:
        ctx.exit(tgt)
    else:
        ctx.exit(f"{tgt} if {cond} else {after}")
