"""The MIPS code generator: the shared engine's ``Ctx`` (cpu/engine/codegen.py) with the
MIPS register API and branches with delay slots.

A block is a function ``tb(R)`` built by the engine (cpu/engine/translate.py): GPRs
live in locals ``r1..r31`` loaded from ``R`` (the CPU's ``regs``), HI and LO in ``r32``
and ``r33``; r0 reads as the constant 0 and writes to it vanish.  Loads and stores are
the engine's (inline soft-TLB fast paths in the block's byte order).

Branches: a generator calls ``ctx.branch(cond, target, likely, link)``.  The condition
and target are computed into locals before the delay slot runs and the link register
is written (pc + 8, also when a linking branch is not taken); the engine then
translates the next instruction as the slot and calls back to emit the exit.  A
conditional branch forward by at most ``MAX_SKIP`` instructions in the page keeps both
paths in the block (the skipped instructions are the not-taken path, as ARM's
predicated forward branches); another is a side exit: when not taken, the block goes
on after the slot;
an unconditional jump to a constant address in the block's page continues the block
there.  A branch-likely form puts the slot under the condition (nullified when not
taken).  A branch back to the block's start makes the block a loop (``loop_back``).

State changes inside a block (mtc0 Status, tlbr...) end it after the instruction
(``end_after``); its exit, or the exit of the branch whose slot it is, then reads the
CPU's current state bits (``cpu.khi``) instead of the block's.
"""
from __future__ import annotations

from typing import Optional

from pysystem.cpu.engine import codegen

M32 = 0xFFFFFFFF
MAX_SKIP = 24  # the longest forward branch (in instructions skipped) kept in the block


class Ctx(codegen.Ctx):
    """Generators see, besides the engine's API: ``model``, ``kernel``/``user`` (the
    block's privilege), ``be`` (its byte order), ``cu0``/``cu1`` (Status.CU0 outside
    kernel mode, Status.CU1: key bits) and the register API below."""

    def __init__(self, cpu, key: int):
        super().__init__(cpu, key)
        self.model = cpu.model
        self.kernel = self.level == 0
        self.user = self.level == 2
        self.be = self.big_endian
        self.cu0 = cpu.key_cu0(key)
        self.cu1 = cpu.key_cu1(key)
        self.key_hi = key & ~M32
        self.dyn = False  # an instruction changed the state bits: exits read cpu.khi

    # --- registers ---------------------------------------------------------------------
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
        return f"r{n}"

    # --- exceptions ----------------------------------------------------------------------
    def exc(self, cls_name: str, *args: str) -> str:
        """An expression constructing the guest exception ``cls_name`` at this instruction
        (for a conditional ``raise``)."""
        self.helper(cls_name, getattr(self.cpu.EXCEPTIONS, cls_name))
        return f"{cls_name}({', '.join((str(self.idx),) + args)})"

    def reserved(self) -> None:
        self.raise_exc("ReservedInstruction")

    # --- block ends --------------------------------------------------------------------------
    def key_of(self, pc_expr: str) -> str:
        """The key of guest address ``pc_expr`` in the block's state (or, after an
        instruction that changed it, the CPU's current state bits ``cpu.khi``)."""
        if self.dyn:
            return f"({pc_expr}) | cpu.khi"
        return f"({pc_expr}) | {hex(self.key_hi)}" if self.key_hi else pc_expr

    def end_after(self, state_changed: bool = False) -> None:
        """End the block after this instruction (in a delay slot: with the branch);
        ``state_changed``: it may have changed the mode, byte order or CU bits."""
        self.dyn = self.dyn or state_changed
        if not self.in_slot:
            self.exit(self.key_of(hex((self.pc + 4) & M32)))

    def skip_forward(self, cond: str, target: int) -> bool:
        """After a conditional branch's delay slot (``self.pc`` is the slot's): a branch
        forward in this page by at most ``MAX_SKIP`` instructions keeps both paths in
        the block, the instructions up to ``target`` as the path not taken (``if c:
        sk += k`` / ``else:`` ...).  False if not possible here."""
        first = (self.pc + 4) & M32
        k = (target - first) // 4
        if (k < 0 or k > MAX_SKIP or target & 3 or (target ^ self.pc) & ~0xFFF
                or (self.regions and target > self.regions[-1])):
            return False
        if k:
            self.emit(f"if {cond}:")
            self.push()
            self.skip_to(target, k)
            self.pop()
        return True

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
        after = hex((self.pc + 8) & M32)
        loop = target == hex(self.block_start)
        if likely:
            self.emit(f"if {c}:")
            self.push()

        def then(ctx: "Ctx") -> None:
            tgt, nxt = ctx.key_of(target), ctx.key_of(after)
            back = loop and not ctx.dyn
            # a conditional branch not taken goes on in this block (a side exit when taken)
            side = ctx.loop_ok and not ctx.dyn
            slot_raised = ctx.ended
            looped = False
            if likely:  # the slot sits under `if c:`
                if not slot_raised:
                    looped = back and ctx.loop_back()
                    if not looped:
                        if side:
                            ctx.side_exit(tgt)
                        else:
                            ctx.exit(tgt)
                ctx.pop()
                # a loop pass must run the whole block: the block ends after a loop branch
                if side and not looped:
                    ctx.ended = False
                else:
                    ctx.exit(nxt)
                return
            if slot_raised:
                return
            if c is None:
                if back and ctx.loop_back():
                    return
                dest = int(target, 16) if target.startswith("0x") else None
                if (dest is not None and ctx.loop_ok and not ctx.dyn and dest not in ctx.visited
                        and (dest ^ ctx.block_start) & ~0xFFF == 0 and not ctx.regions):
                    ctx.follow = dest  # a jump within the block's page: translation goes on there
                else:
                    ctx.exit(tgt)
            elif back and ctx.loop_ok:
                ctx.emit(f"if {c}:")
                ctx.push()
                ctx.loop_back()
                ctx.pop()
                ctx.exit(nxt)
            elif side and link is None and target.startswith("0x") \
                    and ctx.skip_forward(c, int(target, 16)):
                pass
            elif side:
                ctx.emit(f"if {c}:")
                ctx.push()
                ctx.side_exit(tgt)
                ctx.pop()
            else:
                ctx.exit(f"{tgt} if {c} else {nxt}")

        self.delay_slot(then)
