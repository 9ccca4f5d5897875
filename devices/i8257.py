"""Intel 8257/8237 DMA controller: registers only, as QEMU 7.2's hw/dma/i8257.c with no transfers.

Interface (one controller; PIIX4 has two):
  * Region 0: the channel registers, ``8 << dshift`` bytes (ISA 0x00 for DMA1,
    channels 0-3; 0xc0 with ``dshift=1`` for DMA2, channels 4-7, one register
    every two ports): base address and count of each channel, through the
    byte flip-flop.
  * Region 1: the control registers, ``8 << dshift`` bytes right after (0x08 and
    0xd0): command/status, request, single mask, mode, clear flip-flop, master
    clear, clear mask, write all mask (reads: status, which clears its
    terminal-count bits, then the mask).
  * Regions 2 and 3: "dma-page", the page registers QEMU wires to channels, three at
    ISA 0x81-0x83 and one at 0x87 (0x89-0x8b and 0x8f for DMA2).  The other ports
    of 0x80-0x8f, the POST port 0x80 among them, are unassigned as in QEMU's Malta
    (they read as all ones).
  * Property ``dshift`` (uint8: 0 or 1).  No IRQ outputs.

Reading a channel's address gives the base address (the current address is
reset to it whenever a register is written, as QEMU's init_chan), the count
gives the base count; with mode bit 5 (decrement) as QEMU computes it.  The
command register takes only 0 or 0x04 (controller disable); other modes are
refused and logged under ``-d unimp``, as QEMU does.  Reset: master clear
(all channels masked, flip-flop, status and command cleared).

Not modelled: transfers (nothing on Malta uses ISA DMA: no floppy, no sound
card), DREQ lines, auto-initialisation, the PIIX4's extended registers.
"""
from __future__ import annotations

from pysystem import log
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .isa import ISADevice, port_region

ADDR, COUNT = 0, 1
DMA1_PORTS = (0x00, 0x08, 0x81, 0x87)   # channels 0-3, control, pages (with dshift=0)
DMA2_PORTS = (0xC0, 0xD0, 0x89, 0x8F)   # channels 4-7, control, pages (with dshift=1)
CMD_BLOCK_CONTROLLER = 0x04
# the channel behind each page register (QEMU's table; -1: none)
PAGE_CHANNEL = (-1, 2, 3, 1, -1, -1, -1, 0)


@register
class I8257(ISADevice):
    TYPE = "i8257"
    DESC = "Intel 8257 DMA controller (registers only)"
    ISA_PORTS = DMA1_PORTS

    PROPERTIES = (
        Property("dshift", "uint8", 0, "0 for the 8-bit controller, 1 for the 16-bit one"),
    )

    CHANNEL_REGS = RegisterBank(
        "i8257-chan",
        Reg("CHAN", 0, count=16, width=1, read="_read_chan", write="_write_chan", stored=False,
            doc="address (even) and count (odd) of each channel, one per 1 << dshift ports"),
    )
    CONTROL_REGS = RegisterBank(
        "i8257-cont",
        Reg("CONT", 0, count=16, width=1, read="_read_cont", write="_write_cont", stored=False,
            doc="command/status, request, single mask, mode, flip-flop, master clear, masks"),
    )
    PAGE_REGS = RegisterBank(
        "i8257-page",
        Reg("PAGE", 0, count=8, width=1, doc="page registers (1-3 and 7 are mapped)"),
    )
    STATE = PAGE_REGS.fields() + (
        Field("base_addr", "u16[4]", 0, "base address of each channel"),
        Field("base_count", "u16[4]", 0, "base count of each channel"),
        Field("now_addr", "u32[4]", 0, "current address"),
        Field("now_count", "u32[4]", 0, "transferred count"),
        Field("chan_mode", "u8[4]", 0, "mode register of each channel"),
        Field("status", "u8", 0, "status: terminal count (0-3), requests (4-7)"),
        Field("command", "u8", 0, "command register"),
        Field("mask", "u8", 0xFF, "channel masks"),
        Field("flip_flop", "bool", False, "next byte is the high one"),
    )

    def realize(self) -> None:
        if self.dshift > 1:
            raise QOMError(f"{self.TYPE}: dshift must be 0 or 1")
        size = 8 << self.dshift
        self.init_mmio(port_region(self.CHANNEL_REGS, self, "dma-chan", size))
        self.init_mmio(port_region(self.CONTROL_REGS, self, "dma-cont", size))
        self.init_mmio(port_region(self.PAGE_REGS, self, "dma-page", 3, base=1))
        self.init_mmio(port_region(self.PAGE_REGS, self, "dma-page", 1, base=7))
        super().realize()

    def _flip(self) -> bool:
        ff = self.flip_flop
        self.flip_flop = not ff
        return ff

    # --- channel registers --------------------------------------------------------
    def _chan_reg(self, port: int):
        iport = (port >> self.dshift) & 0x0F
        return iport >> 1, iport & 1

    def _write_chan(self, port: int, value: int) -> None:
        ch, reg = self._chan_reg(port)
        store = self.base_count if reg == COUNT else self.base_addr
        if self._flip():
            store[ch] = (store[ch] & 0xFF) | ((value << 8) & 0xFF00)
        else:
            store[ch] = (store[ch] & 0xFF00) | (value & 0xFF)
        self.now_addr[ch] = self.base_addr[ch] << self.dshift
        self.now_count[ch] = 0

    def _read_chan(self, port: int) -> int:
        ch, reg = self._chan_reg(port)
        direction = -1 if self.chan_mode[ch] & 0x20 else 1
        high = self._flip()
        if reg == COUNT:
            value = (self.base_count[ch] << self.dshift) - self.now_count[ch]
        else:
            value = self.now_addr[ch] + self.now_count[ch] * direction
        return (value >> (self.dshift + (8 if high else 0))) & 0xFF

    # --- control registers --------------------------------------------------------
    def _write_cont(self, port: int, value: int) -> None:
        iport = (port >> self.dshift) & 0x0F
        if iport == 0:
            if value and value & ~CMD_BLOCK_CONTROLLER:
                log.log("unimp", f"i8257: command 0x{value:02x} not supported")
                return
            self.command = value
        elif iport == 1:
            ch = value & 3
            if value & 4:
                self.status |= 1 << (ch + 4)
            else:
                self.status &= ~(1 << (ch + 4))
            self.status &= ~(1 << ch)
        elif iport == 2:
            if value & 4:
                self.mask |= 1 << (value & 3)
            else:
                self.mask &= ~(1 << (value & 3))
        elif iport == 3:
            self.chan_mode[value & 3] = value
        elif iport == 4:
            self.flip_flop = False
        elif iport == 5:
            self.flip_flop = False
            self.mask, self.status, self.command = 0xFF, 0, 0
        elif iport == 6:
            self.mask = 0
        elif iport == 7:
            self.mask = value
        else:
            log.log("guest_errors", f"i8257: write of unsupported port 0x{iport:02x}")

    def _read_cont(self, port: int) -> int:
        iport = (port >> self.dshift) & 0x0F
        if iport == 0:
            value = self.status
            self.status &= 0xF0
            return value
        if iport == 1:
            return self.mask
        return 0
