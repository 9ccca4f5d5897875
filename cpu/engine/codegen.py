"""Code generation for translated blocks: ``Block``, the ``Ctx`` base class, compiling.

A block is compiled to one Python function ``tb(R)`` that loads the guest registers it
uses from ``R`` (the CPU's register list) into locals ``r<n>``, and the other CPU state
it uses (ARM's flags, MIPS's HI/LO...) into the locals a CPU's ``Ctx`` subclass names in
``STATE_LOCALS``; runs straight-line code produced by the CPU's generators; writes back
what it changed and returns the *key* of the next block (its layout is the CPU's).

Guest exceptions raised inside (slow-path helpers, UNDEF, syscalls) pass through a
``finally`` clause that writes back the locals first, so registers are exact at the
faulting instruction; the exception's ``idx`` names that instruction.

Memory accesses go through the soft TLB inline::

    try: r2 = m32[(a + tr[a & 0xfffff003]) >> 2]
    except KeyError: r2 = ld32(a, IDX)

``tr``/``tw`` map an aligned virtual address's page (the low bits of the key keep
unaligned accesses out) to ``ram_offset - page_va``; ``m8/m16/m32`` are memoryviews of
guest RAM.  A miss calls the CPU's slow path (softmmu.py).  Guest data in the CPU's byte
order: little-endian blocks index the host-order memoryviews on CPython and use
``struct`` readers/writers ``"<..."`` on PyPy; big-endian blocks use ``">..."`` readers
and writers on both (bound under names ending in ``be``), chosen when the block is
translated, so that little-endian guests run the same code as before.

A CPU's ``Ctx`` subclass adds its register and flag API (ARM: ``r``/``w``/flags;
MIPS: its own); the generic API below (``emit, push, pop, tmp, helper, load, store,
load_words, store_words, exclusive_fast_path, exit, exit_raw, side_exit, loop_back, sync,
raise_exc, delay_slot, source``) is what every CPU's templates share.
"""
from __future__ import annotations

import platform
import re
import struct as _struct
from typing import Any, Callable, Dict, List, Optional, Tuple

PYPY = platform.python_implementation() == "PyPy"

M32 = 0xFFFFFFFF

_CODE_CACHE: Dict[str, Any] = {}


def _structs(order: str):
    """The struct readers and writers of one byte order, by the names blocks bind them
    under (one object per name, so that a name always binds the same one)."""
    unpack = {(size, signed): _struct.Struct(order + fmt).unpack_from for (size, signed), fmt in {
        (2, False): "H", (2, True): "h", (4, False): "I", (4, True): "i"}.items()}
    pack = {size: _struct.Struct(order + fmt).pack_into for size, fmt in {2: "H", 4: "I"}.items()}
    words_in = {n: _struct.Struct(f"{order}{n}I").unpack_from for n in range(2, 17)}
    words_out = {n: _struct.Struct(f"{order}{n}I").pack_into for n in range(2, 17)}
    return unpack, pack, words_in, words_out


# bytes have no order: one reader/writer for both
_BYTE_UNPACK = {False: _struct.Struct("B").unpack_from, True: _struct.Struct("b").unpack_from}
_BYTE_PACK = _struct.Struct("B").pack_into
# (little-endian, big-endian): loads and stores (PyPy; big-endian on both), and multi-word
# accesses of n words in one page (both interpreters)
_UNPACK, _PACK, _UNPACK_WORDS, _PACK_WORDS = zip(_structs("<"), _structs(">"))
# a TLB key of an access: the page, and the low bits that must be zero for it to hit (alignment)
_TLB_KEY_MASK = {4: "0xfffff003", 2: "0xfffff001", 1: "0xfffff000"}
# names of helpers that are a prefix and a number: temporaries must not look like them
_HELPER_PREFIXES = ("u", "s", "m", "pack")


def unpacker(size: int, signed: bool, big: bool) -> Callable:
    """The struct reader of a ``size``-byte access (1, 2 or 4)."""
    return _BYTE_UNPACK[signed] if size == 1 else _UNPACK[big][size, signed]


def packer(size: int, big: bool) -> Callable:
    return _BYTE_PACK if size == 1 else _PACK[big][size]


def words_unpacker(n: int, big: bool) -> Optional[Callable]:
    return _UNPACK_WORDS[big].get(n)


def words_packer(n: int, big: bool) -> Optional[Callable]:
    return _PACK_WORDS[big].get(n)


def merge_conditions(lines: List[Tuple[int, str]], state_write: "re.Pattern") -> List[Tuple[int, str]]:
    """Peephole: consecutive instructions with the same condition share one ``if``
    when the first does not change the state it tests (``state_write`` finds an
    assignment to one of those locals) or leave the block."""
    out: List[Tuple[int, str]] = []
    i = 0
    n = len(lines)
    while i < n:
        indent, text = lines[i]
        out.append(lines[i])
        i += 1
        if not (text.startswith("if ") and text.endswith(":") and not text.startswith("if it ")):
            continue
        while True:
            j = i
            while j < n and lines[j][0] > indent:
                j += 1
            body = lines[i:j]
            out.extend(body)
            i = j
            if not (i < n and lines[i] == (indent, text)):
                break
            if any(t.startswith("\0") or state_write.search(t) for _, t in body):
                break
            i += 1  # drop the repeated `if`: the next body joins this one
    return out


class Block:
    """One translated block.

    ``pcs`` holds each instruction's address; ``slots`` the indices of instructions that
    are a delay slot (the instruction before owns them: a fault there is reported at the
    owner's address, flagged as in a slot)."""

    __slots__ = ("key", "phys", "func", "ninsns", "pcs", "slots", "source", "asm", "pages",
                 "used", "span")

    def __init__(self, key: int, phys: int):
        self.key, self.phys = key, phys
        self.used = -1  # the CPU's block generation when last looked up (see _evict_blocks)
        self.func: Optional[Callable] = None
        self.ninsns = 0
        self.pcs: List[int] = []
        self.slots: Tuple[int, ...] = ()
        self.source = ""
        self.asm: List[str] = []
        self.pages = [phys >> 12]  # physical pages holding its code
        self.span: Optional[tuple] = None  # its code's physical bytes (see tbcache)


class Ctx:
    """What an instruction generator sees: the block's code buffer and its state.

    Attributes for generators: ``cpu``, ``key`` (the block's), ``pc`` (address of this
    instruction), ``size``, ``idx`` (index in the block), ``insn``, ``level`` (the
    block's privilege level, an index into ``cpu.PRIVS``), ``big_endian`` (the block's
    data byte order), ``in_slot`` (this instruction is a delay slot).  Set ``ended =
    True`` when the instruction must end the block (it then has emitted its own exit).

    Subclasses name the CPU state they keep in locals besides the registers in
    ``STATE_LOCALS`` (local name -> the expression it is loaded from and written back
    to), and add them to ``state_read`` / ``state_written`` as generators use them.
    """

    #: local name -> where it lives (e.g. ``{"nf": "cpu.NF"}``); loaded in the block's
    #: prologue when read, written back when assigned
    STATE_LOCALS: Dict[str, str] = {}
    _state_write_re: Optional["re.Pattern"] = None

    def __init__(self, cpu, key: int):
        self.cpu = cpu
        self.key = key
        self.level = cpu.key_level(key)
        self.big_endian = bool(cpu.key_big_endian(key))
        self.lines: List[Tuple[int, str]] = []
        self.indent = 1
        self.read: set = set()
        self.written: set = set()
        self.state_read: set = set()
        self.state_written: set = set()
        self.bind: Dict[str, Any] = {}
        self.ntmp = 0
        self.pc = 0
        self.size = 4
        self.idx = 0
        self.insn = 0
        self.ended = False
        self.follow: Optional[int] = None  # set by a generator: continue translating there
        self.visited: set = set()          # instruction addresses already in the block
        self.block_start = cpu.key_pc(key)
        self.loop_ok = True                # loops, side exits, predication allowed
        self.sk_used = False               # the block counts skipped instructions in `sk`
        self.regions: List[int] = []       # open predicated regions (their end addresses)
        self.pending_region: Optional[int] = None
        self.pending_skip = 0              # instructions the path around it skips (skip_to)
        self.in_slot = False               # this instruction is a delay slot
        self.slot_then: Optional[Callable[["Ctx"], None]] = None

    # --- code buffer ---------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append((self.indent, line))

    def push(self) -> None:
        self.indent += 1

    def pop(self) -> None:
        self.indent -= 1

    def tmp(self, prefix: str = "t") -> str:
        """A new local: ``prefix`` and a number.  Helpers are locals too (``u8``, ``s16``,
        ``pack32``...), so a prefix must not be one of theirs."""
        assert prefix not in _HELPER_PREFIXES, prefix
        self.ntmp += 1
        return f"{prefix}{self.ntmp}"

    def helper(self, name: str, obj: Any) -> str:
        """Make ``obj`` available to the block as the local ``name`` (a default arg)."""
        self.bind[name] = obj
        return name

    # --- block structure ----------------------------------------------------------------
    def key_at(self, pc: int) -> str:
        """The key (an expression) of a block starting at ``pc`` in this block's state:
        where the builder sends the block when it ends after an instruction."""
        return hex(self.cpu.key_with_pc(self.key, pc))

    def disas(self, pc: int, size: int) -> str:
        """One line of ``-d in_asm`` for this instruction."""
        return self.cpu.disas(pc, self.insn, size)

    def delay_slot(self, then: Callable[["Ctx"], None]) -> None:
        """This instruction owns the next one as its delay slot: the builder translates
        the slot right after it, in the same block whatever the page end, the block's size
        or single-stepping, then calls ``then(self)`` to emit what comes after the slot
        (typically the branch's exit, on a condition the branch computed into a local
        before the slot runs).  A fault in the slot is reported at this instruction's
        address, with the CPU's ``deliver`` told it was in a slot."""
        self.slot_then = then

    # --- control -----------------------------------------------------------------------
    def exit(self, key_expr: str) -> None:
        """Leave the block (write back, return the next key)."""
        self.lines.append((self.indent, "\0EXIT " + key_expr))
        self.ended = True

    def exit_raw(self, key_expr: str) -> None:
        """Return ``key_expr`` without writing back (after ``sync()`` and a helper that
        changed the CPU's mode: the locals are stale then)."""
        self.lines.append((self.indent, "\0RET " + key_expr))
        self.ended = True

    def loop_back(self) -> bool:
        """Branch to the start of this block as a loop inside the block function, if
        allowed (not while tracing, not in one-instruction blocks).  False: not done."""
        if not self.loop_ok:
            return False
        self.lines.append((self.indent, "\0LOOP"))
        self.ended = True
        return True

    def side_exit(self, key_expr: str) -> None:
        """Leave the block here (inside a condition) without ending the translation:
        the instructions after this one are not counted on this path."""
        self.lines.append((self.indent, f"\0SIDE {self.idx}|{key_expr}"))

    def skip_to(self, target: int, k: int) -> None:
        """Inside the condition of a forward branch taken: this path skips the next ``k``
        instructions (it counts them in ``sk``); the builder translates them as the other
        path, a predicated region that ends at ``target`` (after the instruction, or
        after its delay slot)."""
        self.emit(f"sk += {k}")
        self.sk_used = True
        self.pending_region = target
        self.pending_skip = k

    def sync(self) -> None:
        """Write back all registers and state locals (before a helper that reads or
        changes the CPU state as a whole, e.g. a mode change)."""
        self.lines.append((self.indent, "\0SYNC"))

    def raise_exc(self, cls_name: str, *args: str) -> None:
        """Raise the guest exception ``cls_name`` (a class of ``cpu.EXCEPTIONS``) at this
        instruction (ends the block)."""
        self.helper(cls_name, getattr(self.cpu.EXCEPTIONS, cls_name))
        extra = "".join(", " + a for a in args)
        self.emit(f"raise {cls_name}({self.idx}{extra})")
        self.ended = True

    # --- memory ------------------------------------------------------------------------
    def _priv(self, user: bool) -> Tuple[int, str]:
        """The privilege level of an access (the block's, or the least privileged one for
        LDRT-style accesses) and its letter in helper names."""
        cpu = self.cpu
        level = cpu.USER_LEVEL if user else self.level
        return level, cpu.PRIVS[level]

    def _struct_name(self, base: str) -> str:
        """The name a struct reader/writer is bound under in this block's byte order."""
        return base + "be" if self.big_endian else base

    def _fast_ref(self, size: int, a: str, tlb: str) -> str:
        """The host location of a guest access that hits the TLB (an expression): its
        offset in RAM where a struct reader/writer is used (PyPy; big-endian data of more
        than a byte), the element of a RAM view on CPython otherwise."""
        off = f"{a} + {tlb}[{a} & {_TLB_KEY_MASK[size]}]"
        self.helper("ram", self.cpu.ram_view(1))
        if self._uses_struct(size):  # struct on the mapping is what PyPy's JIT compiles best
            return off
        return self._view_at(size, off)

    def _uses_struct(self, size: int) -> bool:
        return PYPY or (self.big_endian and size > 1)

    def _view_at(self, size: int, off: str) -> str:
        """CPython: the element of the ``size``-byte RAM view at host offset ``off``."""
        if size == 1:
            return f"ram[{off}]"
        self.helper("m" + str(size * 8), self.cpu.ram_view(size))
        return f"m{size * 8}[({off}) >> {size.bit_length() - 1}]"

    def _unpack(self, size: int, signed: bool = False) -> str:
        """The bound name of the ``struct`` reader for a ``size``-byte access."""
        name = ("s" if signed else "u") + str(size * 8)
        if size > 1:
            name = self._struct_name(name)
        return self.helper(name, unpacker(size, signed, self.big_endian))

    def _pack(self, size: int) -> str:
        """The bound name of the ``struct`` writer for a ``size``-byte access."""
        name = "pack" + str(size * 8)
        if size > 1:
            name = self._struct_name(name)
        return self.helper(name, packer(size, self.big_endian))

    def _tlb(self, write: bool, priv: str, level: int) -> str:
        """The bound name of the read or write TLB of a privilege level."""
        tlbs = self.cpu.tlb_write if write else self.cpu.tlb_read
        return self.helper(("tw" if write else "tr") + priv, tlbs[level])

    @staticmethod
    def _narrow(size: int, value: str) -> str:
        """``value`` (a 32-bit value) truncated to a ``size``-byte store's width."""
        return value if size == 4 else f"{value} & {'0xffff' if size == 2 else '0xff'}"

    def load(self, size: int, addr: str, dest: str, signed: bool = False, user: bool = False,
             aligned: bool = False) -> None:
        """Emit ``dest = <size-byte load from addr>`` (addr: an expression, evaluated
        once; a signed load gives the 32-bit two's complement).  ``user``: an access at
        the least privileged level (ARM's LDRT).  ``aligned``: the access must be aligned
        whatever the CPU's alignment checking says (LDREX, LDRD...)."""
        cpu = self.cpu
        a = addr if addr.isidentifier() else None
        if a is None:
            a = self.tmp("a")
            self.emit(f"{a} = {addr}")
        level, priv = self._priv(user)
        tr = self._tlb(False, priv, level)
        slow = self.helper(f"ld{size * 8}{priv}{'a' if aligned else ''}",
                           cpu.slow_load_fn(size, level, aligned))
        bit = 1 << (size * 8 - 1)
        slow_call = f"{slow}({a}, {self.idx})"
        if signed:
            slow_call = f"(({slow_call} ^ {hex(bit)}) - {hex(bit)}) & 0xffffffff"
        ref = self._fast_ref(size, a, tr)
        if self._uses_struct(size):
            fast = f"{self._unpack(size, signed)}(ram, {ref})[0]"
            if signed:
                fast += " & 0xffffffff"
        elif signed:
            fast = f"(({ref} ^ {hex(bit)}) - {hex(bit)}) & 0xffffffff"
        else:
            fast = ref
        self.emit(f"try: {dest} = {fast}")
        self.emit(f"except KeyError: {dest} = {slow_call}")

    def store(self, size: int, addr: str, value: str, user: bool = False,
              aligned: bool = False) -> None:
        """Emit a ``size``-byte store of ``value`` (a 32-bit value; it is truncated)
        to ``addr``."""
        cpu = self.cpu
        a = addr if addr.isidentifier() else None
        if a is None:
            a = self.tmp("a")
            self.emit(f"{a} = {addr}")
        level, priv = self._priv(user)
        tw = self._tlb(True, priv, level)
        slow = self.helper(f"st{size * 8}{priv}{'a' if aligned else ''}",
                           cpu.slow_store_fn(size, level, aligned))
        if not (value.isidentifier() or re.fullmatch(r"0x[0-9a-f]+", value)):
            t = self.tmp("v")
            self.emit(f"{t} = {value}")
            value = t
        v = self._narrow(size, value)
        ref = self._fast_ref(size, a, tw)
        if self._uses_struct(size):
            self.emit(f"try: {self._pack(size)}(ram, {ref}, {v})")
        else:
            self.emit(f"try: {ref} = {v}")
        self.emit(f"except KeyError: {slow}({a}, {value}, {self.idx})")

    def exclusive_fast_path(self, size: int, a: str, value: str, dest: str, slow: str) -> bool:
        """Emit a store-exclusive (ARM's STREX, MIPS's SC) of ``size`` bytes (1, 2, 4) at
        ``a`` (an identifier) with its result in ``dest`` (0 stored, 1 not): when the
        monitor (``cpu.excl_addr``/``cpu.excl_val``) holds ``a`` and the write TLB maps its
        page (so the access is aligned and the page is RAM without code), compare and
        store in place; otherwise call ``slow(a, value, size, idx)``.  True when emitted."""
        cpu = self.cpu
        level, priv = self._priv(False)
        tw = self._tlb(True, priv, level)
        self.helper("ram", cpu.ram_view(1))
        o = self.tmp("o")
        v = self._narrow(size, value)
        if self._uses_struct(size):
            cur = f"{self._unpack(size)}(ram, {o})[0]"
            put = f"{self._pack(size)}(ram, {o}, {v})"
        else:
            cur = self._view_at(size, o)
            put = f"{cur} = {v}"
        self.emit(f"{o} = {tw}.get({a} & {_TLB_KEY_MASK[size]}) if {a} == cpu.excl_addr else None")
        self.emit(f"if {o} is None: {dest} = {slow}({a}, {value}, {size}, {self.idx})")
        self.emit("else:")
        self.push()
        self.emit(f"{o} += {a}; cpu.excl_addr = 0xffffffffffffffff")
        self.emit(f"if {cur} == cpu.excl_val: {put}; {dest} = 0")
        self.emit(f"else: {dest} = 1")
        self.pop()
        return True

    def load_words(self, addr: str, dests: List[str], user: bool = False) -> None:
        """Emit loads of consecutive words from ``addr`` (an identifier; word alignment
        required, as for LDM) into ``dests``.  When they all lie in one page that hits
        the TLB, one lookup and one unpack read them; otherwise the slow path loads
        them one by one, in order, and a fault leaves ``dests`` unassigned."""
        self._words(addr, dests, user, store=False)

    def store_words(self, addr: str, values: List[str], user: bool = False) -> None:
        """Emit stores of ``values`` (identifiers or constants) to consecutive words
        from ``addr`` (an identifier; word alignment required, as for STM); see
        ``load_words``.  A fault part way leaves the words before it written."""
        self._words(addr, values, user, store=True)

    def _words(self, addr: str, items: List[str], user: bool, store: bool) -> None:
        n = len(items)
        if n == 1:
            if store:
                self.store(4, addr, items[0], user=user, aligned=True)
            else:
                self.load(4, addr, items[0], user=user, aligned=True)
            return
        level, priv = self._priv(user)
        cpu = self.cpu
        big = self.big_endian
        self.helper("ram", cpu.ram_view(1))
        names = ", ".join(items)
        if store:
            tw = self._tlb(True, priv, level)
            slow = self.helper("stm" + priv, cpu.slow_store_words_fn(level))
            fn = self.helper(self._struct_name(f"p32x{n}"), words_packer(n, big))
            self.emit(f"try: {fn}(ram, {self._words_ref(addr, n, tw)}, {names})")
            self.emit(f"except KeyError: {slow}({addr}, ({names},), {self.idx})")
        else:
            tr = self._tlb(False, priv, level)
            slow = self.helper("ldm" + priv, cpu.slow_load_words_fn(level))
            fn = self.helper(self._struct_name(f"u32x{n}"), words_unpacker(n, big))
            self.emit(f"try: {names} = {fn}(ram, {self._words_ref(addr, n, tr)})")
            self.emit(f"except KeyError: {names} = {slow}({addr}, {n}, {self.idx})")

    @staticmethod
    def _words_ref(a: str, n: int, tlb: str) -> str:
        """The host offset of ``n`` words from ``a`` when the TLB maps its page and the
        words do not run past it: a key with bit 0 set is never in the TLB, so the
        lookup misses when they do (and when ``a`` is not word-aligned)."""
        return f"{a} + {tlb}[{a} & 0xfffff003 | (({a} & 0xfff) > {hex(0x1000 - 4 * n)})]"

    # --- assembling the function -----------------------------------------------------
    def _writeback(self, indent: int, out: List[str]) -> None:
        pad = "    " * indent
        regs = sorted(self.written)
        if regs:
            out.append(pad + "; ".join(f"R[{n}] = r{n}" for n in regs))
        self._write_state(sorted(self.state_written), pad, out)

    def _write_state(self, names: List[str], pad: str, out: List[str]) -> None:
        if names:
            where = self.STATE_LOCALS
            out.append(pad + "; ".join(f"{where[s]} = {s}" for s in names))

    @classmethod
    def _state_write(cls) -> "re.Pattern":
        """A pattern finding an assignment to one of the state locals."""
        pat = cls.__dict__.get("_state_write_re")
        if pat is None:
            names = "|".join(sorted(cls.STATE_LOCALS)) or "(?!)"
            pat = re.compile(rf"\b(?:{names})\s*=(?!=)")
            cls._state_write_re = pat
        return pat

    def source(self, name: str, ninsns: int = 0) -> str:
        """The block's Python source.

        The body sits in a ``while True`` whose exits set ``nk`` (the next key) and
        ``break`` to one epilogue that writes the changed registers and state back and
        corrects the instruction count, so that each exit does not repeat the writeback
        (it made code objects about a third larger).  The epilogue is a ``finally``
        clause, so a guest exception leaving the block writes back too; only blocks that
        return after a helper changed the mode (``exit_raw``) have it twice, in an
        ``except`` clause and after the loop.  A block whose last instruction
        branches back to its start (``loop_back``) uses the same loop for its passes:
        it runs as many as the run's budget allows (``cpu.icount_end``) and adds the
        extra ones to ``clock.icount`` itself."""
        regs = sorted(self.read | self.written)
        state = sorted(self.state_read | self.state_written)
        looping = any(t == "\0LOOP" for _, t in self.lines)
        sides = any(t.startswith("\0SIDE ") for _, t in self.lines)
        use_sk = self.sk_used or sides
        if looping or use_sk:
            self.helper("clock", self.cpu.clock)
        binds = sorted(self.bind)
        params = ", ".join(["R", "cpu=cpu"] + [f"{b}={b}" for b in binds])
        out = [f"def {name}({params}):"]
        if regs:
            out.append("    " + "; ".join(f"r{n} = R[{n}]" for n in regs))
        if state:
            where = self.STATE_LOCALS
            out.append("    " + "; ".join(f"{s} = {where[s]}" for s in state))
        if looping:
            count = f"clock.icount += it * {ninsns}" + (" - sk" if use_sk else "")
        else:
            count = "clock.icount -= sk" if use_sk else ""
        if use_sk:
            out.append("    sk = 0")
        if looping:
            out.append(f"    it = 0; lim = (cpu.icount_end - clock.icount) // {ninsns}")
        out.append("    try:")
        out.append("        while True:")
        start_key = hex(self.key)
        for indent, text in merge_conditions(self.lines, self._state_write()):
            pad = "    " * (indent + 2)
            if text.startswith("\0EXIT "):
                out.append(f"{pad}nk = {text[6:]}; break")
            elif text.startswith("\0SIDE "):
                idx, key_expr = text[6:].split("|", 1)
                unexecuted = ninsns - int(idx) - 1
                out.append(f"{pad}{f'sk += {unexecuted}; ' if unexecuted else ''}nk = {key_expr}; break")
            elif text == "\0LOOP":
                out.append(pad + "if it + 1 < lim and not cpu.exit_request:")
                out.append(pad + "    it += 1")
                out.append(pad + "    continue")
                out.append(f"{pad}nk = {start_key}; break")
            elif text.startswith("\0RET "):  # after a SYNC: state is written back already
                if count:
                    out.append(pad + count)
                out.append(pad + "return " + text[5:])
            elif text == "\0SYNC":
                self._writeback(indent + 2, out)
                self._write_state(sorted(self.state_read - self.state_written), pad, out)
            else:
                out.append(pad + text)
        out.append("            raise AssertionError('fell off the end of a block')")
        wb: List[str] = []
        self._writeback(2, wb)
        if count:
            wb.append("        " + count)
        # one writeback for both ways out (written once: compile() time goes with size),
        # unless a `return` after a mode-changing helper must skip the stale locals
        returns = any(t.startswith("\0RET ") for _, t in self.lines)
        out.append("    except GuestException:" if returns else "    finally:")
        out.extend(wb or ["        pass"])
        if returns:
            out.append("        raise")
            out.extend(line[4:] for line in wb)  # the same, one level out
        out.append("    return nk")
        return "\n".join(out) + "\n"


def namespace(cpu) -> Dict[str, Any]:
    """The globals of a CPU's blocks, which also hold every name a block has bound.

    Every block takes what it uses as default arguments, evaluated once when its `def`
    runs, so the blocks of one CPU can share one dict (a dict per block cost about 1 KB
    each).  A name always binds the same object on one CPU (``compile_block`` checks),
    which lets a block from the disk cache find its bindings here by name.
    ``flush_code`` starts it afresh (the RAM view may have changed)."""
    ns = getattr(cpu, "_tb_globals", None)
    if ns is None:
        from .exceptions import GuestException
        ns = cpu._tb_globals = {"cpu": cpu, "GuestException": GuestException}
    return ns


def compile_block(ctx: Ctx, name: str, ninsns: int = 0) -> Tuple[Callable, str, Any, bool]:
    """Compile the block's source (identical sources share one code object).

    Returns the function, its source, its code object, and whether its bindings agree
    with the names already bound on this CPU (only then may it go to the disk cache)."""
    src = ctx.source(name, ninsns)
    code = _CODE_CACHE.get(src)
    if code is None:
        code = compile(src, f"<tb {name}>", "exec")
        if len(_CODE_CACHE) > 4096:
            _CODE_CACHE.clear()
        _CODE_CACHE[src] = code
    ns = namespace(ctx.cpu)
    consistent = True
    for k, v in ctx.bind.items():
        old = ns.get(k, v)
        if old is not v and old != v:
            consistent = False
            if ctx.cpu.raise_internal_errors:
                raise AssertionError(f"block binding {k!r} names two objects: {old!r}, {v!r}")
    ns.update(ctx.bind)
    exec(code, ns)  # the function itself is taken out again
    return ns.pop(name), src, code, consistent
