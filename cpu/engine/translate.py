"""The block builder: guest code at a key -> a compiled ``Block``, and the disk cache.

``translate(cpu, key, phys, fetch, decode)`` runs the CPU's ``decode(ctx, f)`` once per
instruction (it emits the instruction's code through the ``Ctx`` API and returns its
size, 0 when it could not be fetched) until an instruction ends the block, the page
ends, or ``max_insns`` instructions are in.  It handles, for every CPU:

* predicated regions (a forward branch calls ``ctx.skip_to(target, k)`` inside its
  condition: the instructions up to ``target`` go under ``else:``; when the block ends
  inside the region, the skipping path's count is corrected and it exits to ``target``),
  and ``ctx.follow`` (continue at a branch target);
* delay slots: an instruction that calls ``ctx.delay_slot(then)`` owns the next; both go
  into the block whatever the limits, the slot's index is noted in ``Block.slots``;
* the disk cache (pysystem/codecache.py): a block's ident covers its key, its code
  page's bytes, the CPU's ``code_ident()`` (architecture, model, endianness, the sources
  of the engine and of the CPU's package) and the form of code (PyPy's or CPython's).
"""
from __future__ import annotations

import glob
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional

from pysystem import codecache, log

from . import codegen
from .codegen import M32, Block, compile_block, namespace
from .exceptions import GuestException

MAX_INSNS = 64

_SOURCES: Dict[str, bytes] = {}


def source_ident(*folders: str) -> bytes:
    """The ident of the Python sources in ``folders`` (computed once per folder set)."""
    key = "\0".join(folders)
    got = _SOURCES.get(key)
    if got is None:
        parts = [str(MAX_INSNS).encode()]
        for folder in folders:
            for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
                with open(path, "rb") as f:
                    parts.append(os.path.basename(path).encode())
                    parts.append(f.read())
        got = _SOURCES[key] = codecache.ident(*parts)
    return got


def package_folder(obj: Any) -> str:
    """The folder of the package defining ``obj``'s class (a CPU's own sources)."""
    return os.path.dirname(os.path.abspath(sys.modules[type(obj).__module__].__file__))


ENGINE_FOLDER = os.path.dirname(os.path.abspath(__file__))


# categories the translators write to as they translate (besides in_asm/exec/cpu): a
# block from the disk cache is not translated, so with any of them on it is translated
# afresh and says what it says (an unimplemented cp15 register, ...)
_LOGGED_WHEN_TRANSLATED = ("op", "nochain", "unimp", "guest_errors")


def _block_ident(cpu, key: int, phys: int, max_insns: int) -> Optional[bytes]:
    """The disk cache's ident of a block: its key, its code page's bytes (None when the
    page is not all RAM or ROM), the CPU's translator and the form of code it generates
    (PyPy's or CPython's)."""
    rb = cpu.address_space.ram_block(phys & ~0xFFF)
    if rb is None or rb[2] < 0x1000:
        return None
    data, off, _ = rb
    form = b"pypy" if codegen.PYPY else b"cpython"  # read here: tests switch it (harness.py)
    return codecache.ident(cpu.code_ident(), form, key.to_bytes(8, "little"),
                           max_insns.to_bytes(2, "little"), bytes(data[off:off + 0x1000]))


def block_name(cpu, key: int) -> str:
    return f"tb_{cpu.key_pc(key):08x}"


_ACCESS_NAME = re.compile(r"(ld|st)(8|16|32)([a-z])(a?)|(t[rw])([a-z])|([us])(8|16|32)(be)?"
                          r"|pack(8|16|32)(be)?")
_WORDS_NAME = re.compile(r"(u32x|p32x)(\d+)(be)?|(ldm|stm)([a-z])")


def _resolve(cpu, name: str) -> Any:
    """What a block binds under ``name`` on ``cpu``, for the engine's names and then the
    CPU's own (``cpu.resolve_binding``); None: not known here (the block is then
    translated, which binds it)."""
    privs = cpu.PRIVS
    m = _ACCESS_NAME.fullmatch(name)
    if m:
        op, bits, priv, aligned, tlb, tpriv, sign, sbits, sbe, pbits, pbe = m.groups()
        if op:
            if priv not in privs:
                return None
            make = cpu.slow_load_fn if op == "ld" else cpu.slow_store_fn
            return make(int(bits) // 8, privs.index(priv), aligned == "a")
        if tlb:
            if tpriv not in privs:
                return None
            return (cpu.tlb_read if tlb == "tr" else cpu.tlb_write)[privs.index(tpriv)]
        if sign:
            size = int(sbits) // 8
            if size == 1 and sbe:
                return None
            return codegen.unpacker(size, sign == "s", bool(sbe))
        size = int(pbits) // 8
        return None if size == 1 and pbe else codegen.packer(size, bool(pbe))
    m = _WORDS_NAME.fullmatch(name)
    if m:
        form, count, be, kind, priv = m.groups()
        if form:
            pick = codegen.words_unpacker if form == "u32x" else codegen.words_packer
            return pick(int(count), bool(be))
        if priv not in privs:
            return None
        make = cpu.slow_load_words_fn if kind == "ldm" else cpu.slow_store_words_fn
        return make(privs.index(priv))
    if name == "clock":
        return cpu.clock
    if name in ("ram", "m16", "m32"):
        return cpu.ram_view({"ram": 1, "m16": 2, "m32": 4}[name])
    return cpu.resolve_binding(name)


def _from_disk(cpu, ident: bytes, key: int, phys: int) -> Optional[Block]:
    """The block stored under ``ident``, bound to this CPU; None when not there, or when
    a name it binds has not been bound on this CPU yet (it is translated then)."""
    entry = codecache.shared().get(ident)
    if entry is None:
        return None
    try:
        code, names, ninsns, pcs, slots = entry
        ns = namespace(cpu)
        for n in names:
            if n not in ns:
                obj = _resolve(cpu, n)
                if obj is None:
                    return None
                ns[n] = obj
        name = block_name(cpu, key)
        exec(code, ns)
        blk = Block(key, phys)
        blk.func = ns.pop(name)
        blk.ninsns = ninsns
        blk.pcs = list(pcs)
        blk.slots = tuple(slots)
        return blk
    except Exception:  # not what we stored: translate instead
        return None


def translate(cpu, key: int, phys: int, fetch: Callable[[int, int], Optional[int]],
              decode: Callable, max_insns: int = MAX_INSNS) -> Block:
    """Translate the block at ``key`` (its first instruction at physical ``phys``).

    ``fetch(va, size)`` returns the instruction (halfword/word) at a virtual address in
    the CPU's code byte order (None on a fault); ``decode(ctx, f)`` translates one
    instruction at ``ctx.pc`` (``f(offset, size)`` fetches relative to it) and returns
    its size (0: could not fetch), setting ``ctx.ended`` when the block must end.
    """
    from .softmmu import EXEC
    asm_on = log.enabled("in_asm")
    trace = log.enabled("exec") or log.enabled("cpu")
    ident = None
    bps = cpu.breakpoints   # a block ends before one (debug.py); the disk's blocks do not
    if not (asm_on or trace or any(log.enabled(c) for c in _LOGGED_WHEN_TRANSLATED)) and \
            not (bps and cpu.breakpoint_in_page(cpu.key_pc(key))):
        ident = _block_ident(cpu, key, phys, max_insns)
        if ident is not None:
            hit = _from_disk(cpu, ident, key, phys)
            if hit is not None:
                return hit
    blk = Block(key, phys)
    ctx = cpu.CTX(cpu, key)
    start = cpu.key_pc(key)
    pc = start
    page_end = (pc | 0xFFF) + 1
    n = 0
    slots: List[int] = []
    ctx.loop_ok = not trace and max_insns > 1 and not log.enabled("nochain")
    if trace:
        ctx.helper("trace_block", cpu.trace_block)
        ctx.lines.append((1, f"trace_block({hex(start)}, {hex(key)})"))
    marks: List[int] = []  # line count when each open region started
    skips: List[tuple] = []  # each open region's (instructions skipped around it, first index)

    def one(pc: int) -> int:
        ctx.pc = pc
        ctx.idx = n
        ctx.ended = False
        ctx.follow = None
        ctx.pending_region = None
        ctx.visited.add(pc)
        return decode(ctx, lambda off, sz, _pc=pc: fetch((_pc + off) & M32, sz))

    while True:
        while ctx.regions and pc == ctx.regions[-1]:
            ctx.regions.pop()
            skips.pop()
            if len(ctx.lines) == marks.pop():
                ctx.emit("pass")
            ctx.pop()
        mark, indent = len(ctx.lines), ctx.indent
        size = one(pc)
        if size == 0:
            if n == 0:
                raise cpu.bus_fault(pc, EXEC, -1, None)
            ctx.exit(ctx.key_at(pc))
            break
        then = ctx.slot_then
        if then is not None:  # the next instruction is this one's delay slot
            ctx.slot_then = None
            slot_pc = (pc + size) & M32
            n += 1
            ctx.in_slot = True
            slot_size = one(slot_pc)
            ctx.in_slot = False
            ctx.slot_then = None  # a branch in a slot owns nothing
            n -= 1
            if slot_size == 0:  # the slot cannot be fetched: its fault is the branch's
                if n == 0:
                    try:
                        cpu.translate_code(slot_pc, ctx.level)
                        raise cpu.bus_fault(slot_pc, EXEC, -1, None)
                    except GuestException as e:
                        e.in_slot = True
                        raise
                del ctx.lines[mark:]  # the branch starts the next block instead
                ctx.indent = indent
                ctx.exit(ctx.key_at(pc))
                break
            then(ctx)
            blk.pcs.append(pc)
            if asm_on:
                blk.asm.append(ctx.disas(pc, size))
            n += 1
            slots.append(n)
            pc, size = slot_pc, slot_size
        blk.pcs.append(pc)
        if asm_on:
            blk.asm.append(ctx.disas(pc, size))
        n += 1
        pc = (pc + size) & M32
        if ctx.ended:
            break
        if ctx.pending_region is not None:
            ctx.emit("else:")
            ctx.push()
            ctx.regions.append(ctx.pending_region)
            marks.append(len(ctx.lines))
            skips.append((ctx.pending_skip, n))
        if ctx.follow is not None:
            pc = ctx.follow
            page_end = (pc | 0xFFF) + 1
        if n >= max_insns or pc >= page_end or pc == 0 or (bps and pc in bps):
            ctx.exit(ctx.key_at(pc))
            break
    while ctx.regions:  # the block ended inside predicated code: the skipping paths go on
        target = ctx.regions.pop()
        skipped, first = skips.pop()
        if len(ctx.lines) == marks.pop():
            ctx.emit("pass")
        ctx.pop()
        # the skipping path counted the region's whole length; of this block it skipped
        # what was translated from the region's start on (fewer when the block ended
        # inside the region, more when a delay slot ran past its end)
        if n - first != skipped:
            ctx.emit(f"sk += {n - first - skipped}")
        ctx.exit(ctx.key_at(target))
    blk.ninsns = n
    blk.slots = tuple(slots)
    func, src, code, consistent = compile_block(ctx, block_name(cpu, key), n)
    blk.func = func
    # only a block whose code lies in its first page is keyed by that page's bytes
    if ident is not None and consistent and all(p >> 12 == start >> 12 for p in blk.pcs) \
            and (pc - 1) >> 12 == start >> 12:
        codecache.shared().put(ident, (code, tuple(sorted(ctx.bind)), n, tuple(blk.pcs),
                                       blk.slots))
    if log.enabled("op"):  # kept only to be logged: 36k sources would take ~60 MB
        blk.source = src
    return blk
