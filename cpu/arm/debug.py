"""What the monitor and debuggers ask an ARM CPU: register names and values, ``info
registers`` in QEMU's layout, the disassembler for the current state.

Register names (``REGISTER_NAMES``, for ``$reg`` in monitor expressions and completion):
r0-r15, sp, lr, pc, fp, ip, sl, sb, cpsr, spsr.  QEMU 7.2 knows none of them for ARM
("unknown register"), so every one is an extension.
"""
from __future__ import annotations

from typing import Optional, Tuple

REGISTER_NAMES = tuple(f"r{i}" for i in range(16)) + (
    "sp", "lr", "pc", "fp", "ip", "sl", "sb", "cpsr", "spsr")
_ALIASES = {"sp": 13, "lr": 14, "pc": 15, "fp": 11, "ip": 12, "sl": 10, "sb": 9}
_MODES = {0x10: "usr", 0x11: "fiq", 0x12: "irq", 0x13: "svc", 0x16: "mon", 0x17: "abt",
          0x1A: "hyp", 0x1B: "und", 0x1F: "sys"}


class ARMDebug:
    """Mixed into ARMCPU: the monitor's seams (cpu/README.md)."""

    REGISTER_NAMES = REGISTER_NAMES

    def read_register(self, name: str) -> Optional[int]:
        """The value of register ``name``, None if there is no such register."""
        name = name.lower()
        if name in _ALIASES:
            return self.regs[_ALIASES[name]] & 0xFFFFFFFF
        if name.startswith("r") and name[1:].isdigit() and int(name[1:]) < 16 and \
                str(int(name[1:])) == name[1:]:
            return self.regs[int(name[1:])] & 0xFFFFFFFF
        if name == "cpsr":
            return self.cpsr & 0xFFFFFFFF
        if name == "spsr":
            return self.read_spsr() & 0xFFFFFFFF
        return None

    def registers_text(self) -> str:
        """The registers in QEMU's ``info registers`` layout for 32-bit ARM."""
        R = self.regs
        out = []
        for row in range(4):
            out.append(" ".join(f"R{i:02d}={R[i] & 0xFFFFFFFF:08x}" for i in range(row * 4, row * 4 + 4)))
        psr = self.cpsr & 0xFFFFFFFF
        flags = "".join(c if psr & b else "-" for c, b in
                        (("N", 1 << 31), ("Z", 1 << 30), ("C", 1 << 29), ("V", 1 << 28)))
        mode = psr & 0x1F
        ns = "NS " if (self.cp15.scr & 1) and mode != 0x16 else "S "
        out.append(f"PSR={psr:08x} {flags} {'T' if psr & 0x20 else 'A'} {ns}"
                   f"{_MODES.get(mode, '???')}{32 if psr & 0x10 else 26}")
        d = self.vfp_d
        for i in range(len(d)):
            lo, hi = d[i] & 0xFFFFFFFF, d[i] >> 32
            out.append(f"s{2 * i:02d}={lo:08x} s{2 * i + 1:02d}={hi:08x} d{i:02d}={d[i]:016x}")
        out.append(f"FPSCR: {self.fpscr:08x}")
        return "\n".join(out)

    def disassembler(self) -> Tuple[int, int, int]:
        """capstone's (arch, mode) for the current state, and the unit an encoding is
        shown in (Thumb: halfwords)."""
        import capstone
        if self.thumb:
            return capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB, 2
        return capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM, 4
