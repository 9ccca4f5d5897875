"""Breakpoints, watchpoints and exact single steps for a debugger (the gdb stub), at no
cost while none is set.

    cpu.insert_breakpoint(va) / remove_breakpoint(va)
    cpu.insert_watchpoint(va, length, kind) / remove_watchpoint(va, length, kind)
    cpu.on_debug_stop = fn          # fn(cpu) when a run stops for the debugger
    cpu.debug_event                 # what stopped it: DebugEvent
    cpu.debug_step()                # one instruction, interrupts and timers held off

Breakpoints: a block never contains an instruction at a breakpoint address after its
first (the builder ends the block before it), and a block is never made at one: the
run loop's lookup raises ``DebugExit`` there instead, every time, since nothing enters
the jump cache for that address.  Inserting a breakpoint drops only the blocks holding
its address.  ``resume_at(pc)`` lets the next lookup of ``pc`` run one instruction
there (continuing from a breakpoint, as QEMU does).

Watchpoints: a page holding a watched byte gets no soft-TLB entries, so every access
to it takes the slow path, where ``check_watch`` looks; other pages keep their fast
paths.  A hit raises ``DebugExit`` at the accessing instruction (state exact, as for a
fault); the run loop then executes that one instruction with watchpoints off and stops
after it, so the debugger sees the access done; or, for a CPU whose
``WATCH_STOPS_BEFORE`` is set (the default: ARM and MIPS under QEMU 7.2 behave so),
stops before it (gdb removes the watchpoint, steps over the access and inserts it again).

Addresses are virtual, as gdb gives them; ``kind`` is WATCH_WRITE, WATCH_READ or
WATCH_ACCESS (gdb's Z2, Z3, Z4).
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Set, Tuple

from .exceptions import GuestException

M32 = 0xFFFFFFFF
WATCH_WRITE, WATCH_READ, WATCH_ACCESS = 1, 2, 3


class DebugExit(GuestException):
    """Not architectural: the debugger stops here.  ``idx`` -1: before a block (a
    breakpoint); otherwise the instruction that touched a watchpoint."""

    def __init__(self, idx: int = -1, watch: Optional[Tuple[int, int, int]] = None):
        super().__init__(idx)
        self.watch = watch


class DebugEvent(NamedTuple):
    reason: str                 # "breakpoint", "watchpoint" or "step"
    pc: int
    watch: Optional[Tuple[int, int, int]] = None   # (address, length, kind) that fired


class Debug:
    """Mixed into ``TranslatedCPU``; see the module docstring."""

    #: a CPU seam: report a watchpoint before the access (gdb then steps over it itself,
    #: as it does with QEMU 7.2 on ARM and MIPS), or after it (False)
    WATCH_STOPS_BEFORE = True

    def init_debug(self) -> None:
        self.breakpoints: Set[int] = set()
        self.watchpoints: Dict[Tuple[int, int, int], None] = {}
        self.watch_pages: Set[int] = set()   # virtual page numbers with a watched byte
        self.debug_event: Optional[DebugEvent] = None
        self.on_debug_stop = None
        self._resume_pc: Optional[int] = None
        self._watch_off = False

    # --- breakpoints --------------------------------------------------------------------
    def insert_breakpoint(self, va: int) -> None:
        va &= M32
        if va not in self.breakpoints:
            self.breakpoints.add(va)
            self._drop_blocks_at(va)

    def remove_breakpoint(self, va: int) -> bool:
        va &= M32
        if va not in self.breakpoints:
            return False
        self.breakpoints.discard(va)
        self._drop_blocks_at(va)
        return True

    def _drop_blocks_at(self, va: int) -> None:
        """Forget the blocks that hold an instruction at ``va`` or end just before it."""
        for ck, blk in list(self.tbs.items()):
            pcs = blk.pcs
            if va in pcs or self.key_pc(blk.key) == va or \
                    (pcs and pcs[-1] < va <= pcs[-1] + 4):
                self._drop_block(ck)
        self.jc_clear()

    def breakpoint_in_page(self, va: int) -> bool:
        """Whether a breakpoint lies in ``va``'s page or the next (then a block there is
        not taken from the disk cache, whose blocks ignore breakpoints)."""
        page = va >> 12
        return any(b >> 12 in (page, page + 1) for b in self.breakpoints)

    def resume_at(self, pc: Optional[int]) -> None:
        """Let the next run execute the instruction at ``pc`` even if a breakpoint is
        there (continuing or stepping from it)."""
        self._resume_pc = pc

    def debug_lookup(self, pc: int) -> bool:
        """Called by the run loop's lookup for a breakpoint address: True to run one
        instruction there (the resume address, once), else raise the stop."""
        if self._resume_pc == pc:
            self._resume_pc = None
            return True
        raise DebugExit(-1)

    # --- watchpoints --------------------------------------------------------------------
    def insert_watchpoint(self, va: int, length: int, kind: int) -> None:
        self.watchpoints[(va & M32, max(length, 1), kind)] = None
        self._watch_pages_changed()

    def remove_watchpoint(self, va: int, length: int, kind: int) -> bool:
        key = (va & M32, max(length, 1), kind)
        if key not in self.watchpoints:
            return False
        del self.watchpoints[key]
        self._watch_pages_changed()
        return True

    def _watch_pages_changed(self) -> None:
        pages = set()
        for va, length, _ in self.watchpoints:
            pages.update(range(va >> 12, ((va + length - 1) >> 12) + 1))
        self.watch_pages = pages
        self.tlb_flush_all()   # watched pages must lose their fast-path entries

    def check_watch(self, va: int, size: int, write: bool, idx: int) -> None:
        """The slow path's check for an access to a watched page."""
        if self._watch_off:
            return
        end = va + size
        for wp in self.watchpoints:
            addr, length, kind = wp
            if addr < end and va < addr + length and \
                    (kind == WATCH_ACCESS or (kind == WATCH_WRITE) == write):
                raise DebugExit(idx, wp)

    # --- stepping -----------------------------------------------------------------------
    def debug_step(self) -> int:
        """Execute one instruction (a branch with its delay slot) with interrupts held
        off, as QEMU's default for gdb (timers do not run either: the caller does not
        run them); sets ``debug_event`` (a watchpoint, or "step")."""
        self.debug_event = None
        self.resume_at(self.key_pc(self.key()))
        n = self._execute(1, self.jc_step, 1, irqs=False)
        self._resume_pc = None
        if self.debug_event is None:
            self.debug_event = DebugEvent("step", self.key_pc(self.key()))
        return n

    def _debug_stopped(self, e: DebugExit, ent) -> None:
        """The run loop caught ``e``: the CPU's state is at the instruction it names.
        For a watchpoint, finish that instruction first; then tell the debugger."""
        watch = e.watch
        if watch is not None and not self.WATCH_STOPS_BEFORE:
            self._watch_off = True
            try:
                self.resume_at(self.key_pc(self.key()))
                self._execute(1, self.jc_step, 1, irqs=False)
            finally:
                self._watch_off = False
                self._resume_pc = None
        reason = "breakpoint" if watch is None else "watchpoint"
        self.debug_event = DebugEvent(reason, self.key_pc(self.key()), watch)
        if self.on_debug_stop is not None:
            self.on_debug_stop(self)
