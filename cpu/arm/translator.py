"""ARM's code generator: ``Ctx``, the engine's code buffer with A32/T32's registers and flags.

A block (see pysystem/cpu/engine/codegen.py for its shape) keeps the guest registers
it uses in locals ``r0``..``r14`` and the flags in ``nf zf cf vf`` (QEMU's lazy form:
N is bit 31 of ``nf``, Z is ``zf == 0``, C is ``cf`` (0/1), V is bit 31 of ``vf``), and
returns the key of the next block: ``pc | thumb | flags << 32`` (see ``ARMCPU.key``).

Generators (``trans_*`` functions in the ``trans_*.py`` modules) receive a ``Ctx`` and
the decoded ``Args``; they call the engine's ``Ctx`` API (``emit``, ``load``, ``store``,
``exit``...) and the ARM one below (``r``, ``w``, flags, conditions, ``write_pc``,
``skip_forward``) and return ``False`` to make the instruction UNDEFINED.  The same
generators serve the A32 and T32 decoders.
"""
from __future__ import annotations

from typing import Optional

from ..engine import codegen

M32 = 0xFFFFFFFF
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


class Ctx(codegen.Ctx):
    """What an ARM instruction generator sees (see ``codegen.Ctx`` for the engine's part).

    ARM's attributes: ``thumb``, ``size`` (2 or 4), ``user`` (unprivileged), ``key_hi``
    (the upper key bits for the exits this instruction emits: T32 moves the IT state
    on), ``cond`` (the instruction's condition, None: always), ``itstate_next`` (T32).
    """

    STATE_LOCALS = {"nf": "cpu.NF", "zf": "cpu.ZF", "cf": "cpu.CF", "vf": "cpu.VF"}

    def __init__(self, cpu, key: int):
        super().__init__(cpu, key)
        self.thumb = bool(key & 1)
        self.key_hi = key & ~M32
        self.user = self.level == 1
        self.cond: Optional[int] = None   # this instruction's condition (None: always)
        self.itstate_next = None  # T32: IT state for the following instruction

    def key_at(self, pc: int) -> str:
        return hex(pc | (1 if self.thumb else 0) | self.key_hi)

    def disas(self, pc: int, size: int) -> str:
        return self.cpu.disas(pc, self.insn, size, self.thumb)

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
        """The instruction reads these flags (letters of ``nzcv``)."""
        for f in which:
            self.state_read.add(f + "f")

    def set_flags(self, which: str) -> None:
        """The instruction assigns these flags (letters of ``nzcv``)."""
        for f in which:
            self.state_written.add(f + "f")

    def cond_expr(self, cond: int) -> Optional[str]:
        if cond >= 14:
            return None
        self.use_flags(COND_FLAGS[cond])
        return COND_EXPR[cond]

    def set_nz(self, value: str) -> None:
        self.set_flags("nz")
        self.emit(f"nf = zf = {value}")

    # --- control -----------------------------------------------------------------------
    def skip_forward(self, target: int) -> bool:
        """A conditional branch forward to ``target`` in this page: translate the
        instructions up to it as the not-taken path (``if cond: sk += k / else: ...``).
        Call inside the branch's condition; False if not possible here."""
        k = (target - self.pc) // self.size - 1
        if (not self.loop_ok or self.thumb or k < 0 or k > MAX_SKIP or (target ^ self.pc) & ~0xFFF
                or (self.regions and target > self.regions[-1])):
            return False
        if k:
            self.skip_to(target, k)
        return True

    def undef(self) -> None:
        self.raise_exc("Undefined")

