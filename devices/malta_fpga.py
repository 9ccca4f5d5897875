"""The MIPS Malta board's FPGA (system controller registers), as QEMU 7.2's hw/mips/malta.c.

Interface:
  * The registers are a 1 MiB region (QEMU's "malta-fpga", offsets taken modulo
    1 MiB).  As in QEMU the board maps two windows of it, leaving a hole for the
    CBUS UART (a ``serial-16550a`` with ``regshift=3`` at FPGA + 0x900):
    ``mmio[0]`` is offsets 0-0x8ff (map it at the FPGA's base, 0x1f000000) and
    ``mmio[1]`` offsets 0xa00-0xfffff (map it at base + 0xa00).  Native-endian
    (QEMU's DEVICE_NATIVE_ENDIAN): a word read returns the value whatever the
    CPU's byte order.
  * IRQ output 0: reset request, pulsed when the guest writes 0x42 to SOFTRES
    (the board connects it to its reset, or exits under ``-no-reboot``).
  * Properties: ``big-endian`` (bool: STATUS reads 0x12, else 0x10, the
    board's endianness jumper), ``ram-size`` (size: what the SPD EEPROM on the
    I2C bit-bang bus describes), ``chardev`` (any, optional: the LED bar and
    ASCII display are drawn on it as QEMU draws them on its "fpga" console).
  * ``display_text()`` (the 8-character ASCII display), ``leds_text()`` (the
    LED bar, '#' for a lit LED, LED 0 leftmost) and ``leds`` for the monitor;
    every change is logged under ``-d trace``.

Registers (offset: name): 0x200 SWITCH (reads 0), 0x208 STATUS, 0x210 JMPRS
(reads 0), 0x408 LEDBAR (8 bits), 0x410 ASCIIWORD (write: the display shows
the value as eight hex digits), 0x418-0x450 ASCIIPOS0-7 (write: one
character each), 0x500 SOFTRES (0x42 resets), 0x508 BRKRES (8 bits, 0x0a at
reset), 0xa00 GPOUT (8 bits), 0xa08 GPINP (reads I2COUT while I2CSEL is set,
as QEMU: "IN = OUT"), 0xb00 I2CINP (bit 0 is the SDA line), 0xb08 I2COE,
0xb10 I2COUT (bit 1 SCL, bit 0 SDA), 0xb18 I2CSEL.  Other offsets read 0 and
ignore writes (logged under ``-d unimp``; QEMU says guest_errors); reads of
the write-only ones and writes of STATUS are logged under ``-d guest_errors``.
The board's revision register (0x1fc00010, board ID 0x420) is in the boot ROM,
which the board fills, not here.

I2C: a 24C02 serial EEPROM holding the SDRAM's SPD data (the bytes and the
bank/density encoding QEMU generates for the RAM size) answers on the
bit-banged lines: START (SDA falling while SCL high), the device/command byte,
ACK, the word address, ACK, then data bits shifted out on SCL rising edges,
with QEMU's protocol quirks (any device address is accepted; one byte is read
per addressed transfer), so readers that work on QEMU work here.

Not modelled: the real board's other FPGA registers (the PCI and memory
controller configuration, the interrupt-controller mode bits), writes to the
EEPROM.
"""
from __future__ import annotations

from typing import List

from pysystem import log
from pysystem.memory import AliasRegion, IORegion
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, register
from pysystem.regbank import Reg, RegisterBank

FPGA_SIZE = 0x100000
UART_HOLE = (0x900, 0xA00)
SOFTRES_MAGIC = 0x42
DISPLAY_CHARS = 8

# QEMU's SPD EEPROM contents before the RAM size is filled in (an SDRAM DIMM)
SPD_TEMPLATE = bytes((
    0x80, 0x08, 0xFF, 0x0D, 0x0A, 0xFF, 0x40, 0x00, 0x01, 0x75, 0x54, 0x00, 0x82, 0x08, 0x00, 0x01,
    0x8F, 0x04, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x0F, 0x14, 0x2D, 0xFF,
    0x15, 0x08, 0x15, 0x08)) + bytes(0x3E - 0x24) + bytes((0x12, 0xD0)) + bytes(0x7E - 0x40) \
    + bytes((0x64, 0xF4)) + bytes(0x80)
SPD_SDR, SPD_DDR2 = 0x04, 0x08


def spd_eeprom(ram_size: int) -> bytes:
    """The 256-byte SPD EEPROM QEMU's Malta generates for ``ram_size`` bytes of RAM."""
    spd = bytearray(SPD_TEMPLATE)
    mib = ram_size >> 20
    banks, density = 0, 0
    while mib >= 4 and banks <= 2:
        size_log2 = min(mib.bit_length() - 1, 14)
        banks += 1
        density |= 1 << (size_log2 - 2)
        mib -= 1 << size_log2
    if banks == 1 and density > 1:               # split into two banks if possible
        banks += 1
        density >>= 1
    if density & 0xFF00:
        density = (density & 0xE0) | ((density >> 8) & 0x1F)
        kind = SPD_DDR2
    elif not density & 0x1F:
        kind = SPD_DDR2
    else:
        kind = SPD_SDR
    spd[2], spd[5], spd[31] = kind, banks, density & 0xFF
    spd[63] = sum(spd[:63]) & 0xFF
    return bytes(spd)


@register
class MaltaFPGA(SysBusDevice):
    TYPE = "malta-fpga"
    DESC = "MIPS Malta FPGA (LEDs, ASCII display, reset, I2C)"

    PROPERTIES = (
        Property("big-endian", "bool", False, "STATUS reports a big-endian board (0x12, else 0x10)"),
        Property("ram-size", "size", 128 << 20, "RAM size the SPD EEPROM describes"),
        Property("chardev", "any", None, "optional backend the LED bar and display are drawn on"),
    )

    REGS = RegisterBank(
        "malta-fpga",
        Reg("SWITCH", 0x200, read="_read_zero", write="_write_ignored", stored=False,
            doc="switches (read 0)"),
        Reg("STATUS", 0x208, access="ro", read="_read_status", stored=False,
            doc="board status: 0x12 big-endian, 0x10 little-endian"),
        Reg("JMPRS", 0x210, read="_read_zero", write="_write_ignored", stored=False,
            doc="jumpers (read 0)"),
        Reg("LEDBAR", 0x408, mask=0xFF, on_write="_leds_changed", attr="leds", doc="LED bar"),
        Reg("ASCIIWORD", 0x410, access="wo", write="_write_asciiword", stored=False,
            doc="display the value as 8 hex digits"),
        Reg("ASCIIPOS", 0x418, count=DISPLAY_CHARS, stride=8, access="wo", write="_write_asciipos",
            stored=False, doc="one character of the display"),
        Reg("SOFTRES", 0x500, access="wo", write="_write_softres", stored=False,
            doc="0x42 resets the board"),
        Reg("BRKRES", 0x508, mask=0xFF, reset=0x0A, attr="brk", doc="break/reset control"),
        Reg("GPOUT", 0xA00, mask=0xFF, doc="general-purpose outputs"),
        Reg("GPINP", 0xA08, access="ro", read="_read_gpinp", stored=False,
            doc="general-purpose inputs (I2COUT while I2CSEL)"),
        Reg("I2CINP", 0xB00, access="ro", read="_read_i2cinp", stored=False,
            doc="I2C inputs: bit 0 SDA"),
        Reg("I2COE", 0xB08, mask=0x03, doc="I2C output enables"),
        Reg("I2COUT", 0xB10, read="_read_i2cout", write="_write_i2cout", stored=False,
            doc="I2C outputs: bit 1 SCL, bit 0 SDA"),
        Reg("I2CSEL", 0xB18, mask=0x01, reset=0x01, doc="I2C select"),
    )
    STATE = REGS.fields() + (
        Field("i2cin", "u32", 0x3, "I2C input register (bit 0 comes from the SDA line)"),
        Field("i2cout", "u32", 0x3, "I2C output register as written"),
        Field("display", "bytes", b" " * DISPLAY_CHARS, "the ASCII display's characters"),
        Field("ee_tick", "u8", 0, "EEPROM: bit position in the transfer (0: idle)"),
        Field("ee_address", "u8", 0, "EEPROM: word address"),
        Field("ee_command", "u8", 0, "EEPROM: device/command byte"),
        Field("ee_ack", "bool", False, "EEPROM: acknowledge at the next SCL rise"),
        Field("ee_scl", "bool", False, "EEPROM: SCL last seen"),
        Field("ee_sda", "u8", 0, "EEPROM: SDA line level"),
        Field("ee_data", "u8", 0, "EEPROM: byte being shifted out"),
    )

    def realize(self) -> None:
        self.spd = spd_eeprom(self.ram_size)
        bank = self.REGS
        self.iomem = IORegion(self, "malta-fpga", FPGA_SIZE,
                              read=lambda off, sz: bank.read(self, off, sz),
                              write=lambda off, val, sz: bank.write(self, off, val, sz),
                              endianness="native")
        lo, hi = UART_HOLE
        self.init_mmio(AliasRegion(self, "malta-fpga", self.iomem, 0, lo))
        self.init_mmio(AliasRegion(self, "malta-fpga", self.iomem, hi, FPGA_SIZE - hi))
        self.init_irq(1, "reset")
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._draw_frame()

    # --- what the monitor shows ---------------------------------------------------
    def display_text(self) -> str:
        return self.display.decode("latin-1")

    def leds_text(self) -> str:
        return "".join("#" if self.leds & (1 << i) else " " for i in range(8))

    def _draw_frame(self) -> None:
        if self.chardev is not None:
            self.chardev.write(b"\x1b[HMalta LEDBAR\r\n+--------+\r\n+        +\r\n"
                               b"+--------+\r\n\nMalta ASCII\r\n+--------+\r\n"
                               b"+        +\r\n+--------+\r\n")

    def _leds_changed(self) -> None:
        text = self.leds_text()
        log.log("trace", f"malta-fpga: LED bar |{text}|")
        if self.chardev is not None:
            self.chardev.write(f"\x1b[H\n\n|\x1b[32m{text}\x1b[00m|\r\n".encode("latin-1"))

    def _display_changed(self) -> None:
        text = self.display_text()
        log.log("trace", f"malta-fpga: ASCII display |{text}|")
        if self.chardev is not None:
            self.chardev.write(f"\n\n\n\n|\x1b[31m{text}\x1b[00m|".encode("latin-1"))

    # --- registers ----------------------------------------------------------------
    def _read_zero(self) -> int:
        return 0

    def _write_ignored(self, value: int) -> None:
        """SWITCH and JMPRS ignore writes, as in QEMU."""

    def _read_status(self) -> int:
        return 0x12 if self.big_endian else 0x10

    def _write_asciiword(self, value: int) -> None:
        self.display = bytearray(f"{value & 0xFFFFFFFF:08X}".encode())
        self._display_changed()

    def _write_asciipos(self, index: int, value: int) -> None:
        self.display[index] = value & 0xFF
        self._display_changed()

    def _write_softres(self, value: int) -> None:
        if value == SOFTRES_MAGIC:
            self.irqs[0].pulse()

    def _read_gpinp(self) -> int:
        return self.i2cout if self.i2csel else 0

    def _read_i2cinp(self) -> int:
        return (self.i2cin & ~1) | self.ee_sda

    def _read_i2cout(self) -> int:
        return self.i2cout

    def _write_i2cout(self, value: int) -> None:
        self._eeprom_lines(bool(value & 2), value & 1)
        self.i2cout = value

    # --- the SPD EEPROM on the bit-banged lines (QEMU's eeprom24c0x protocol) -------
    def _eeprom_lines(self, scl: bool, sda: int) -> None:
        if self.ee_scl and scl and self.ee_sda != sda:
            if not sda:                              # START: a transfer begins
                self.ee_tick = 1
                self.ee_command = 0
            # STOP: nothing to do
        elif self.ee_tick == 0 and not self.ee_ack:
            pass                                     # idle until START
        elif not self.ee_scl and scl:                # SCL rising: a bit
            if self.ee_ack:
                sda = 0                              # we acknowledge
                self.ee_ack = False
            elif self.ee_sda == sda:
                bit = 1 if sda else 0
                tick = self.ee_tick
                if tick < 9:                         # device/command byte
                    self.ee_command = ((self.ee_command << 1) + bit) & 0xFF
                    self.ee_tick = tick + 1
                    if self.ee_tick == 9:
                        self.ee_ack = True
                elif tick < 17:                      # word address (or data out)
                    if self.ee_command & 1:
                        sda = 1 if self.ee_data & 0x80 else 0
                    self.ee_address = ((self.ee_address << 1) + bit) & 0xFF
                    self.ee_tick = tick + 1
                    self.ee_data = (self.ee_data << 1) & 0xFF
                    if self.ee_tick == 17:
                        self.ee_data = self.spd[self.ee_address]
                        self.ee_ack = True
                        self.ee_tick = 0
                else:
                    sda = 0
            # SDA changing together with a rising SCL: ignored
        self.ee_scl = scl
        self.ee_sda = sda

    def eeprom_contents(self) -> List[int]:
        return list(self.spd)
