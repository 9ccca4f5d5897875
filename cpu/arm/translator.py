"""The block translator: guest code -> Python source -> a compiled function.

A block is a run of guest instructions ending at a branch, a write to the PC,
a state-changing system instruction, a page boundary or ``MAX_INSNS``.  It is
compiled to one Python function ``tb(R)`` that

* loads the guest registers it uses from ``R`` (the CPU's ``regs`` list) into
  locals ``r0``..``r14`` and the flags it uses into ``nf zf cf vf`` (QEMU's
  lazy form: N is bit 31 of ``nf``, Z is ``zf == 0``, C is ``cf`` (0/1), V is
  bit 31 of ``vf``),
* runs straight-line code produced by one generator per instruction form,
* writes back what it changed and returns the *key* of the next block:
  ``pc | thumb | flags << 32`` (see ``ARMCPU.key``).

Guest exceptions raised inside (slow-path helpers, UNDEF, SVC) pass through a
``finally`` clause that writes back the locals first, so registers are exact at
the faulting instruction; the exception's ``idx`` names that instruction.

Memory accesses go through the soft TLB inline::

    try: r2 = m32[(a + tr[a & 0xfffff003]) >> 2]
    except KeyError: r2 = ld32(a, IDX)

``tr``/``tw`` map an aligned virtual address's page (the low bits of the
key keep unaligned accesses out) to ``ram_offset - page_va``; ``m8/m16/m32`` are
memoryviews of guest RAM.  A miss calls the CPU's slow path, which walks the
tables, checks permissions, fills the TLB or does an MMIO access.

Generators (``trans_*`` functions in the ``trans_*.py`` modules) receive a
``Ctx`` and the decoded ``Args``; they call the ``Ctx`` API below and return
``False`` to make the instruction UNDEFINED.  The same generators serve the A32
and T32 decoders.
"""
from __future__ import annotations

import platform
import re
import struct as _struct
from typing import Any, Callable, Dict, List, Optional, Tuple

from pysystem import codecache, log

PYPY = platform.python_implementation() == "PyPy"

M32 = 0xFFFFFFFF
MAX_INSNS = 64
MAX_SKIP = 24  # the longest forward branch (in instructions skipped) that is predicated

# condition code -> Python expression over nf/zf/cf/vf; (flags read)
COND_EXPR = {
    0x0: "zf == 0",
    0x1: "zf != 0",
    0x2: "cf",
    0x3: "not cf",
    0x4: "nf > 0x7fffffff",
    0x5: "nf < 0x80000000",
    0x6: "vf > 0x7fffffff",
    0x7: "vf < 0x80000000",
    0x8: "cf and zf != 0",
    0x9: "not cf or zf == 0",
    0xA: "(nf ^ vf) < 0x80000000",
    0xB: "(nf ^ vf) > 0x7fffffff",
    0xC: "zf != 0 and (nf ^ vf) < 0x80000000",
    0xD: "zf == 0 or (nf ^ vf) > 0x7fffffff",
}
COND_FLAGS = {0: "z", 1: "z", 2: "c", 3: "c", 4: "n", 5: "n", 6: "v", 7: "v",
              8: "cz", 9: "cz", 10: "nv", 11: "nv", 12: "znv", 13: "znv"}

_CODE_CACHE: Dict[str, Any] = {}
# PyPy's loads and stores (one object per format, so that a name always binds the same one)
_UNPACK = {(size, signed): _struct.Struct(fmt).unpack_from for (size, signed), fmt in {
    (1, False): "B", (1, True): "b", (2, False): "<H", (2, True): "<h",
    (4, False): "<I", (4, True): "<i"}.items()}
_PACK = {size: _struct.Struct(fmt).pack_into for size, fmt in {1: "B", 2: "<H", 4: "<I"}.items()}
# LDM/STM of n registers in one page: n words at once (both interpreters)
_UNPACK_WORDS = {n: _struct.Struct(f"<{n}I").unpack_from for n in range(2, 17)}
_PACK_WORDS = {n: _struct.Struct(f"<{n}I").pack_into for n in range(2, 17)}
# a TLB key of an access: the page, and the low bits that must be zero for it to hit (alignment)
_TLB_KEY_MASK = {4: "0xfffff003", 2: "0xfffff001", 1: "0xfffff000"}
# names of helpers that are a prefix and a number: temporaries must not look like them
_HELPER_PREFIXES = ("u", "s", "m", "pack")
_FLAG_WRITE = re.compile(r"\b[nzcv]f\s*=(?!=)")


def merge_conditions(lines: List[Tuple[int, str]]) -> List[Tuple[int, str]]:
    """Peephole: consecutive instructions with the same condition share one ``if``
    when the first does not change the flags or leave the block."""
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
            if any(t.startswith("\0") or _FLAG_WRITE.search(t) for _, t in body):
                break
            i += 1  # drop the repeated `if`: the next body joins this one
    return out


class Block:
    """One translated block."""

    __slots__ = ("key", "phys", "func", "ninsns", "pcs", "source", "asm", "pages", "used", "span")

    def __init__(self, key: int, phys: int):
        self.key, self.phys = key, phys
        self.used = -1  # the CPU's block generation when last looked up (see _evict_blocks)
        self.func: Optional[Callable] = None
        self.ninsns = 0
        self.pcs: List[int] = []
        self.source = ""
        self.asm: List[str] = []
        self.pages = [phys >> 12]  # physical pages holding its code
        self.span: Optional[tuple] = None  # its code's physical bytes (see memaccess)


class Ctx:
    """What an instruction generator sees: the block's code buffer and its state.

    Attributes for generators: ``pc`` (address of this instruction), ``thumb``,
    ``size`` (2 or 4), ``idx`` (index in the block), ``user`` (unprivileged),
    ``key_hi`` (constant upper key bits), ``cpu``.  Set ``ended = True`` when the
    instruction must end the block (it then has emitted its own exit).
    """

    def __init__(self, cpu, key: int):
        self.cpu = cpu
        self.key = key
        self.thumb = bool(key & 1)
        self.key_hi = key & ~M32
        self.user = bool((key >> 32) & 1)
        self.lines: List[Tuple[int, str]] = []
        self.indent = 1
        self.read: set = set()
        self.written: set = set()
        self.flags_read: set = set()
        self.flags_written: set = set()
        self.bind: Dict[str, Any] = {}
        self.ntmp = 0
        self.pc = 0
        self.size = 4
        self.idx = 0
        self.insn = 0
        self.ended = False
        self.cond: Optional[int] = None   # this instruction's condition (None: always)
        self.follow: Optional[int] = None  # set by a generator: continue translating there
        self.visited: set = set()          # instruction addresses already in the block
        self.block_start = key & M32 & ~1
        self.loop_ok = True                # loops, side exits, predication allowed
        self.sk_used = False               # the block counts skipped instructions in `sk`
        self.regions: List[int] = []       # open predicated regions (their end addresses)
        self.pending_region: Optional[int] = None
        self.itstate_next = None  # T32: IT state for the following instruction

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

    # --- registers -------------------------------------------------------------------
    @property
    def pc_read(self) -> int:
        """The value reading r15 gives: this instruction + 8 (ARM) or + 4 (Thumb)."""
        return (self.pc + (4 if self.thumb else 8)) & M32

    def r(self, n: int) -> str:
        """An expression for register ``n`` (r15 reads as a constant)."""
        if n == 15:
            return hex(self.pc_read)
        self.read.add(n)
        return f"r{n}"

    def w(self, n: int, expr: str, pc_mode: str = "alu") -> None:
        """Emit ``rN = expr``; writing r15 branches (see ``write_pc``)."""
        if n == 15:
            self.write_pc(expr, pc_mode)
            return
        self.written.add(n)
        self.emit(f"r{n} = {expr}")

    def dest(self, n: int) -> str:
        """The local of register ``n`` (not r15), to assign as a load's destination."""
        self.written.add(n)
        return f"r{n}"

    def next_key(self) -> str:
        return hex((self.pc + self.size) | (1 if self.thumb else 0) | self.key_hi)

    def write_pc(self, expr: str, mode: str = "alu") -> None:
        """Branch to ``expr``.

        ``mode``: "branch" (stay in the current state), "bx" (bit 0 selects Thumb:
        BX, BLX, loads to the PC), "alu" (ARM ALU writes interwork like BX in ARMv7;
        Thumb ALU writes to the PC do not).
        """
        hi = self.key_hi
        if mode == "alu":
            mode = "branch" if self.thumb else "bx"
        if mode == "branch":
            if self.thumb:
                self.exit(f"(({expr}) & 0xfffffffe) | {hex(hi | 1)}")
            else:
                self.exit(f"(({expr}) & 0xfffffffc) | {hex(hi)}" if hi else f"({expr}) & 0xfffffffc")
        else:
            t = self.tmp("b")
            self.emit(f"{t} = {expr}")
            self.exit(f"({t} | {hex(hi)}) if {t} & 1 else ({t} & 0xfffffffc) | {hex(hi)}")

    # --- flags -----------------------------------------------------------------------
    def use_flags(self, which: str) -> None:
        for f in which:
            self.flags_read.add(f)

    def set_flags(self, which: str) -> None:
        for f in which:
            self.flags_written.add(f)

    def cond_expr(self, cond: int) -> Optional[str]:
        if cond >= 14:
            return None
        self.use_flags(COND_FLAGS[cond])
        return COND_EXPR[cond]

    def set_nz(self, value: str) -> None:
        self.set_flags("nz")
        self.emit(f"nf = zf = {value}")

    # --- control -----------------------------------------------------------------------
    def exit(self, key_expr: str) -> None:
        """Leave the block (write back, return the next key)."""
        self.lines.append((self.indent, "\0EXIT " + key_expr))
        self.ended = True

    def exit_raw(self, key_expr: str) -> None:
        """Return ``key_expr`` without writing back (after ``sync()`` and a helper that
        changed the mode: the locals are stale then)."""
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

    def skip_forward(self, target: int) -> bool:
        """A conditional branch forward to ``target`` in this page: translate the
        instructions up to it as the not-taken path (``if cond: sk += k / else: ...``).
        Call inside the branch's condition; False if not possible here."""
        k = (target - self.pc) // self.size - 1
        if (not self.loop_ok or self.thumb or k < 0 or k > MAX_SKIP or (target ^ self.pc) & ~0xFFF
                or (self.regions and target > self.regions[-1])):
            return False
        if k:
            self.emit(f"sk += {k}")
            self.sk_used = True
            self.pending_region = target
        return True

    def sync(self) -> None:
        """Write back all registers and flags (before a helper that reads or changes
        the CPU state as a whole, e.g. a mode change)."""
        self.lines.append((self.indent, "\0SYNC"))

    def raise_exc(self, cls_name: str, *args: str) -> None:
        """Raise a guest exception at this instruction (ends the block)."""
        from . import exceptions
        self.helper(cls_name, getattr(exceptions, cls_name))
        extra = "".join(", " + a for a in args)
        self.emit(f"raise {cls_name}({self.idx}{extra})")
        self.ended = True

    def undef(self) -> None:
        self.raise_exc("Undefined")

    # --- memory ------------------------------------------------------------------------
    def _fast_ref(self, size: int, a: str, tlb: str) -> str:
        """The host location of a guest access that hits the TLB (an expression): its
        offset in RAM on PyPy, the element of a RAM view on CPython."""
        off = f"{a} + {tlb}[{a} & {_TLB_KEY_MASK[size]}]"
        self.helper("ram", self.cpu.ram_view(1))
        if PYPY:  # struct on the mapping is what PyPy's JIT compiles best
            return off
        return self._view_at(size, off)

    def _view_at(self, size: int, off: str) -> str:
        """CPython: the element of the ``size``-byte RAM view at host offset ``off``."""
        if size == 1:
            return f"ram[{off}]"
        self.helper("m" + str(size * 8), self.cpu.ram_view(size))
        return f"m{size * 8}[({off}) >> {size.bit_length() - 1}]"

    def _unpack(self, size: int, signed: bool = False) -> str:
        """PyPy: the bound name of the ``struct`` reader for a ``size``-byte access."""
        return self.helper(("s" if signed else "u") + str(size * 8), _UNPACK[size, signed])

    def _pack(self, size: int) -> str:
        """PyPy: the bound name of the ``struct`` writer for a ``size``-byte access."""
        return self.helper("pack" + str(size * 8), _PACK[size])

    def _tlb(self, write: bool, priv: str) -> str:
        """The bound name of the read or write TLB of privilege ``priv`` ("u" or "p")."""
        tlbs = self.cpu.tlb_write if write else self.cpu.tlb_read
        return self.helper(("tw" if write else "tr") + priv, tlbs[priv == "u"])

    @staticmethod
    def _narrow(size: int, value: str) -> str:
        """``value`` (a 32-bit value) truncated to a ``size``-byte store's width."""
        return value if size == 4 else f"{value} & {'0xffff' if size == 2 else '0xff'}"

    def load(self, size: int, addr: str, dest: str, signed: bool = False, user: bool = False,
             aligned: bool = False) -> None:
        """Emit ``dest = <size-byte load from addr>`` (addr: an expression, evaluated
        once).  ``user``: LDRT-style unprivileged access.  ``aligned``: the access
        must be aligned whatever SCTLR.A says (LDREX, LDRD...)."""
        cpu = self.cpu
        a = addr if addr.isidentifier() else None
        if a is None:
            a = self.tmp("a")
            self.emit(f"{a} = {addr}")
        priv = "u" if (user or self.user) else "p"
        tr = self._tlb(False, priv)
        slow = self.helper(f"ld{size * 8}{priv}{'a' if aligned else ''}",
                           cpu.slow_load_fn(size, priv == "u", aligned))
        bit = 1 << (size * 8 - 1)
        slow_call = f"{slow}({a}, {self.idx})"
        if signed:
            slow_call = f"(({slow_call} ^ {hex(bit)}) - {hex(bit)}) & 0xffffffff"
        if self.key_hi & (1 << 33):  # big-endian data (SETEND BE): always the slow path
            self.emit(f"{dest} = {slow_call}")
            return
        ref = self._fast_ref(size, a, tr)
        if PYPY:
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
        priv = "u" if (user or self.user) else "p"
        tw = self._tlb(True, priv)
        slow = self.helper(f"st{size * 8}{priv}{'a' if aligned else ''}",
                           cpu.slow_store_fn(size, priv == "u", aligned))
        if not (value.isidentifier() or re.fullmatch(r"0x[0-9a-f]+", value)):
            t = self.tmp("v")
            self.emit(f"{t} = {value}")
            value = t
        if self.key_hi & (1 << 33):
            self.emit(f"{slow}({a}, {value}, {self.idx})")
            return
        v = self._narrow(size, value)
        ref = self._fast_ref(size, a, tw)
        if PYPY:
            self.emit(f"try: {self._pack(size)}(ram, {ref}, {v})")
        else:
            self.emit(f"try: {ref} = {v}")
        self.emit(f"except KeyError: {slow}({a}, {value}, {self.idx})")

    def exclusive_fast_path(self, size: int, a: str, value: str, dest: str, slow: str) -> bool:
        """Emit STREX of ``size`` bytes (1, 2, 4) at ``a`` (an identifier) with its result
        in ``dest``: when the monitor holds ``a`` and the write TLB maps its page (so the
        access is aligned and the page is RAM without code), compare and store in place,
        as ``cpu.strex`` would; otherwise call ``slow`` (``cpu.strex``).  False when this
        block's data is big-endian (the caller calls ``slow`` then)."""
        if self.key_hi & (1 << 33):
            return False
        cpu = self.cpu
        priv = "u" if self.user else "p"
        tw = self._tlb(True, priv)
        self.helper("ram", cpu.ram_view(1))
        o = self.tmp("o")
        v = self._narrow(size, value)
        if PYPY:
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
        if n == 1 or self.key_hi & (1 << 33):  # big-endian data: the word at a time
            for i, item in enumerate(items):
                ai = addr if i == 0 else self.tmp("a")
                if i:
                    self.emit(f"{ai} = ({addr} + {4 * i}) & 0xffffffff")
                if store:
                    self.store(4, ai, item, user=user, aligned=True)
                else:
                    self.load(4, ai, item, user=user, aligned=True)
            return
        priv = "u" if (user or self.user) else "p"
        cpu = self.cpu
        self.helper("ram", cpu.ram_view(1))
        names = ", ".join(items)
        if store:
            tw = self._tlb(True, priv)
            slow = self.helper("stm" + priv, cpu.slow_store_words_fn(priv == "u"))
            fn = self.helper(f"p32x{n}", _PACK_WORDS[n])
            self.emit(f"try: {fn}(ram, {self._words_ref(addr, n, tw)}, {names})")
            self.emit(f"except KeyError: {slow}({addr}, ({names},), {self.idx})")
        else:
            tr = self._tlb(False, priv)
            slow = self.helper("ldm" + priv, cpu.slow_load_words_fn(priv == "u"))
            fn = self.helper(f"u32x{n}", _UNPACK_WORDS[n])
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
        fl = sorted(self.flags_written)
        if fl:
            out.append(pad + "; ".join(f"cpu.{f.upper()}F = {f}f" for f in fl))

    def source(self, name: str, ninsns: int = 0) -> str:
        """The block's Python source.

        The body sits in a ``while True`` whose exits set ``nk`` (the next key) and
        ``break`` to one epilogue that writes the changed registers and flags back and
        corrects the instruction count, so that each exit does not repeat the writeback
        (it made code objects about a third larger).  The epilogue is a ``finally``
        clause, so a guest exception leaving the block writes back too; only blocks that
        return after a helper changed the mode (``exit_raw``) have it twice, in an
        ``except`` clause and after the loop.  A block whose last instruction
        branches back to its start (``loop_back``) uses the same loop for its passes:
        it runs as many as the run's budget allows (``cpu.icount_end``) and adds the
        extra ones to ``clock.icount`` itself."""
        regs = sorted(self.read | self.written)
        flags = sorted(self.flags_read | self.flags_written)
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
        if flags:
            out.append("    " + "; ".join(f"{f}f = cpu.{f.upper()}F" for f in flags))
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
        for indent, text in merge_conditions(self.lines):
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
                fl = sorted(self.flags_read - self.flags_written)
                if fl:
                    out.append(pad + "; ".join(f"cpu.{f.upper()}F = {f}f" for f in fl))
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


_VERSION: Optional[bytes] = None


def _version() -> bytes:
    """What identifies this translator: the source of every module of the package (a
    change to any generator must not reuse blocks translated before it)."""
    global _VERSION
    if _VERSION is None:
        import glob
        import os
        h = [str(MAX_INSNS).encode(), str(MAX_SKIP).encode()]
        for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "*.py"))):
            with open(path, "rb") as f:
                h.append(f.read())
        _VERSION = codecache.ident(*h)
    return _VERSION


def _block_ident(cpu, key: int, phys: int, max_insns: int) -> Optional[bytes]:
    """The disk cache's ident of a block: its key, its code page's bytes (None when the
    page is not all RAM or ROM), the translator and the form of code it generates (PyPy's
    or CPython's)."""
    rb = cpu.address_space.ram_block(phys & ~0xFFF)
    if rb is None or rb[2] < 0x1000:
        return None
    data, off, _ = rb
    form = b"pypy" if PYPY else b"cpython"  # read here: tests switch it (harness.py)
    return codecache.ident(_version(), form, key.to_bytes(8, "little"),
                           max_insns.to_bytes(2, "little"), bytes(data[off:off + 0x1000]))


def _block_name(key: int) -> str:
    return f"tb_{key & M32 & ~1:08x}"


# CPU methods that generators bind under their own name
_CPU_METHODS = frozenset((
    "exception_return", "set_user_reg", "get_user_reg", "ldrex", "strex", "read_spsr",
    "read_cpsr_mrs", "write_spsr", "msr_cpsr", "cps", "wfi", "setend", "srs", "rfe"))
_WORDS_NAME = re.compile(r"(u32x|p32x)(\d+)|(ldm|stm)([pu])")
_ACCESS_NAME = re.compile(r"(ld|st)(8|16|32)([pu])(a?)|(t[rw])([pu])|([us])(8|16|32)|pack(8|16|32)")


def _resolve(cpu, name: str) -> Any:
    """What a block binds under ``name`` on ``cpu``, for the common names (None: not
    known here; the block is then translated, which binds it)."""
    from . import exceptions, helpers
    m = _ACCESS_NAME.fullmatch(name)
    if m:
        op, bits, priv, aligned, tlb, tpriv, sign, sbits, pbits = m.groups()
        if op:
            make = cpu.slow_load_fn if op == "ld" else cpu.slow_store_fn
            return make(int(bits) // 8, priv == "u", aligned == "a")
        if tlb:
            return (cpu.tlb_read if tlb == "tr" else cpu.tlb_write)[tpriv == "u"]
        if sign:
            return _UNPACK[int(sbits) // 8, sign == "s"] if PYPY else None
        return _PACK[int(pbits) // 8] if PYPY else None
    m = _WORDS_NAME.fullmatch(name)
    if m:
        form, count, kind, priv = m.groups()
        if form:
            return (_UNPACK_WORDS if form == "u32x" else _PACK_WORDS).get(int(count))
        make = cpu.slow_load_words_fn if kind == "ldm" else cpu.slow_store_words_fn
        return make(priv == "u")
    if name == "clock":
        return cpu.clock
    if name in ("ram", "m16", "m32"):
        return cpu.ram_view({"ram": 1, "m16": 2, "m32": 4}[name])
    if name in _CPU_METHODS:
        return getattr(cpu, name)
    if name.startswith("cp_"):
        return getattr(cpu, name[3:], None)
    if name.startswith("h_"):
        return getattr(helpers, name[2:], None)
    obj = getattr(exceptions, name, None)
    return obj if isinstance(obj, type) and issubclass(obj, exceptions.GuestException) else None


def _from_disk(cpu, ident: bytes, key: int, phys: int) -> Optional[Block]:
    """The block stored under ``ident``, bound to this CPU; None when not there, or when
    a name it binds has not been bound on this CPU yet (it is translated then)."""
    entry = codecache.shared().get(ident)
    if entry is None:
        return None
    try:
        code, names, ninsns, pcs = entry
        ns = namespace(cpu)
        for n in names:
            if n not in ns:
                obj = _resolve(cpu, n)
                if obj is None:
                    return None
                ns[n] = obj
        name = _block_name(key)
        exec(code, ns)
        blk = Block(key, phys)
        blk.func = ns.pop(name)
        blk.ninsns = ninsns
        blk.pcs = list(pcs)
        return blk
    except Exception:  # not what we stored: translate instead
        return None


def translate(cpu, key: int, phys: int, fetch: Callable[[int, int], Optional[int]],
              decode: Callable, max_insns: int = MAX_INSNS) -> Block:
    """Translate the block at ``key`` (its first instruction at physical ``phys``).

    ``fetch(va, size)`` returns the instruction halfword/word at a virtual
    address (None on a fault); ``decode(ctx, f)`` translates one instruction
    at ``ctx.pc`` (``f(offset, size)`` fetches relative to it) and returns its
    size (0: could not fetch), setting ``ctx.ended`` when the block must end.
    """
    from .exceptions import FSR_EXT, FSR_SYNC_EXTERNAL, PrefetchAbort
    asm_on = log.enabled("in_asm")
    trace = log.enabled("exec") or log.enabled("cpu")
    ident = None
    if not (asm_on or trace or log.enabled("op") or log.enabled("nochain")):
        ident = _block_ident(cpu, key, phys, max_insns)
        if ident is not None:
            hit = _from_disk(cpu, ident, key, phys)
            if hit is not None:
                return hit
    blk = Block(key, phys)
    ctx = Ctx(cpu, key)
    start = key & M32 & ~1
    pc = start
    page_end = (pc | 0xFFF) + 1
    n = 0
    ctx.loop_ok = not trace and max_insns > 1 and not log.enabled("nochain")
    if trace:
        ctx.helper("trace_block", cpu.trace_block)
        ctx.lines.append((1, f"trace_block({hex(start)}, {hex(key)})"))
    marks: List[int] = []  # line count when each open region started
    while True:
        while ctx.regions and pc == ctx.regions[-1]:
            ctx.regions.pop()
            if len(ctx.lines) == marks.pop():
                ctx.emit("pass")
            ctx.pop()
        ctx.pc = pc
        ctx.idx = n
        ctx.ended = False
        ctx.follow = None
        ctx.pending_region = None
        ctx.visited.add(pc)
        size = decode(ctx, lambda off, sz, _pc=pc: fetch((_pc + off) & M32, sz))
        if size == 0:
            if n == 0:
                raise PrefetchAbort(-1, FSR_SYNC_EXTERNAL | FSR_EXT, pc)
            ctx.exit(hex(pc | (1 if ctx.thumb else 0) | ctx.key_hi))
            break
        blk.pcs.append(pc)
        if asm_on:
            blk.asm.append(cpu.disas(pc, ctx.insn, size, ctx.thumb))
        n += 1
        pc = (pc + size) & M32
        if ctx.ended:
            break
        if ctx.pending_region is not None:
            ctx.emit("else:")
            ctx.push()
            ctx.regions.append(ctx.pending_region)
            marks.append(len(ctx.lines))
        if ctx.follow is not None:
            pc = ctx.follow
            page_end = (pc | 0xFFF) + 1
        if n >= max_insns or pc >= page_end or pc == 0:
            ctx.exit(hex(pc | (1 if ctx.thumb else 0) | ctx.key_hi))
            break
    while ctx.regions:  # the block ended inside predicated code: the skipping paths go on
        target = ctx.regions.pop()
        if len(ctx.lines) == marks.pop():
            ctx.emit("pass")
        ctx.pop()
        ctx.exit(hex(target | (1 if ctx.thumb else 0) | ctx.key_hi))
    blk.ninsns = n
    func, src, code, consistent = compile_block(ctx, _block_name(key), n)
    blk.func = func
    # only a block whose code lies in its first page is keyed by that page's bytes
    if ident is not None and consistent and all(p >> 12 == start >> 12 for p in blk.pcs) \
            and (pc - 1) >> 12 == start >> 12:
        codecache.shared().put(ident, (code, tuple(sorted(ctx.bind)), n, tuple(blk.pcs)))
    if log.enabled("op"):  # kept only to be logged: 36k sources would take ~60 MB
        blk.source = src
    return blk
