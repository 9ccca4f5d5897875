"""Cortex-A9 MPCore Snoop Control Unit registers (QEMU ``a9-scu``).

MMIO region: mmio[0], 0x100 bytes (byte, halfword and word accesses).
  0x00 Control        bit 0 SCU enable, bits [6:2] parity, speculative linefills,
                      force-to-port-0, SCU and IC standby (stored; bit 1, address
                      filtering, reads as zero: filtering is not configured)
  0x04 Configuration  read-only: CPU count - 1 in [1:0], SMP bits [7:4] one per CPU,
                      tag RAM sizes [15:8] zero (as QEMU)
  0x08 CPU Power Status  one byte per CPU, bits [1:0] (0 normal, 2 dormant, 3 off)
  0x0C Invalidate All Registers in Secure State  write-only, no effect (no caches)
  0x40/0x44 Filtering Start/End  bits [31:20] stored, no effect
  0x50 SCU Access Control (reset 0xF), 0x54 Non-secure Access Control (reset 0)
IRQ outputs: none.  Properties: num-cpu (1..4).
Not modelled: coherency itself (there are no caches to keep coherent), the parity
error signals, and access restrictions from the access control registers.
"""
from __future__ import annotations

from pysystem.qdev import SysBusDevice
from pysystem.qom import Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

REGS = RegisterBank(
    "a9-scu",
    Reg("CTRL", 0x00, mask=0x7D, doc="SCU Control"),
    Reg("CONFIG", 0x04, access="ro", stored=False, read="_read_config"),
    Reg("POWER", 0x08, mask=0x03030303, doc="CPU Power Status"),
    Reg("INVALL", 0x0C, access="wo", stored=False, doc="Invalidate All (no caches: no effect)"),
    Reg("FILTER_START", 0x40, mask=0xFFF00000),
    Reg("FILTER_END", 0x44, mask=0xFFF00000),
    Reg("SAC", 0x50, reset=0xF, mask=0xF, doc="SCU Access Control"),
    Reg("SNSAC", 0x54, mask=0xFFF, doc="SCU Non-secure Access Control"),
)


@register
class A9SCU(SysBusDevice):
    TYPE = "a9-scu"
    DESC = "Cortex-A9 MPCore Snoop Control Unit"

    PROPERTIES = (Property("num-cpu", "uint32", 1, "number of CPUs in the cluster (1..4)"),)
    STATE = REGS.fields()

    def realize(self) -> None:
        if not 1 <= self.num_cpu <= 4:
            raise QOMError("a9-scu: num-cpu must be between 1 and 4")
        self.init_mmio(REGS.region(self, "a9-scu", 0x100))
        super().realize()

    def _read_config(self) -> int:
        n = self.num_cpu
        return (((1 << n) - 1) << 4) | (n - 1)
