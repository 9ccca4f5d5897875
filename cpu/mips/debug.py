"""What the monitor and debuggers ask a MIPS CPU: register names and values, ``info
registers`` / ``-d cpu`` in QEMU's layout (mips_cpu_dump_state), the disassembler.

Register names (``REGISTER_NAMES``, for ``$reg`` in monitor expressions and completion):
r0-r31, the ABI names (zero, at, v0... ra; s8 and fp are r30), pc, hi, lo, and the CP0
registers the monitor is most asked for (status, cause, epc, badvaddr, entryhi).
"""
from __future__ import annotations

from typing import Optional, Tuple

M32 = 0xFFFFFFFF
ABI = ("zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4", "t5",
       "t6", "t7", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9", "k0", "k1",
       "gp", "sp", "s8", "ra")
# QEMU's names in its register dump (r0 for register 0)
QEMU_NAMES = ("r0",) + ABI[1:]
CP0_NAMES = ("status", "cause", "epc", "badvaddr", "entryhi")
REGISTER_NAMES = tuple(f"r{i}" for i in range(32)) + ABI + ("fp", "pc", "hi", "lo") + CP0_NAMES
_INDEX = {n: i for i, n in enumerate(ABI)}
_INDEX.update({f"r{i}": i for i in range(32)})
_INDEX.update({"fp": 30, "hi": 32, "lo": 33})


class MIPSDebug:
    """Mixed into MIPSCPU: the monitor's seams (cpu/README.md)."""

    REGISTER_NAMES = REGISTER_NAMES

    def read_register(self, name: str) -> Optional[int]:
        name = name.lower()
        i = _INDEX.get(name)
        if i is not None:
            return self.regs[i] & M32
        if name == "pc":
            return self.pc_
        if name in CP0_NAMES:
            return getattr(self.cp0, name) & M32
        return None

    def registers_text(self) -> str:
        """QEMU's ``info registers`` for a 32-bit MIPS CPU (the ``ds`` field shows the
        privilege level and the delay-slot state QEMU keeps in hflags: 0 here, between
        blocks no branch is pending)."""
        R = self.regs
        cp0 = self.cp0
        out = [f"pc=0x{self.pc_:08x} HI=0x{R[32]:08x} LO=0x{R[33]:08x} "
               f"ds {self.current_level() << 3:04x} 0x00000000 0"]
        for row in range(8):
            out.append(f"GPR{row * 4:02d}:" + "".join(
                f" {QEMU_NAMES[i]} {R[i]:08x}" for i in range(row * 4, row * 4 + 4)))
        m = self.model
        out.append(f"CP0 Status  0x{cp0.status:08x} Cause   0x{cp0.cause:08x} EPC    0x{cp0.epc:08x}")
        out.append(f"    Config0 0x{cp0.config0:08x} Config1 0x{m.config1:08x} "
                   f"LLAddr 0x{self.cp0_read_lladdr(0):016x}")
        out.append(f"    Config2 0x{m.config2:08x} Config3 0x{m.config3:08x}")
        out.append("    Config4 0x00000000 Config5 0x00000000")
        return "\n".join(out) + "\n"

    dump_registers = registers_text

    def disassembler(self) -> Tuple[int, int, int]:
        import capstone
        mode = capstone.CS_MODE_MIPS32 | (capstone.CS_MODE_BIG_ENDIAN if self.big_endian
                                          else capstone.CS_MODE_LITTLE_ENDIAN)
        return capstone.CS_ARCH_MIPS, mode, 4
