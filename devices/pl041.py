"""ARM PrimeCell PL041 Advanced Audio Codec Interface (AACI) with an LM4549 codec; no sound.

Interface:
  * MMIO region 0: the registers, 0x1000 bytes (QEMU names it "pl041").
  * IRQ output 0: the channel 1 interrupt (ISR1 & IE1).
  * Property ``nc_fifo_depth`` (uint32, default 8 as QEMU's; vexpress sets 512):
    the non-compact FIFO depth, one of 8, 32, 64, ..., 2048; it shows in
    PeriphID3 (bits 5:3) next to the channel count (1).

Behaviour (QEMU 7.2's hw/audio/pl041.c and lm4549.c): the register file from
0x000 to 0x10c holds every value written (reads return it; ALLINTS reads ISR1's
low 7 bits); other offsets below 0xfe0 read as zero and ignore writes (logged
under ``-d unimp``).  After
every write the channel 1 FIFO may transmit and ISR1 and the IRQ are recomputed
(URINTR from SR1.TXUNDERRUN, TXINTR from SR1.TXHE, TXCINTR from SR1.TXFE with
TXBUSY clear).  Actions:
  * TXCR1 configures channel 1 (enable, slots, sample size, compact mode; compact
    is refused with 18/20-bit samples).
  * DR1 (the first four data registers) push one sample (non-compact, while the
    FIFO has room) or two 16-bit samples (compact, while level + 2 < depth), and
    update SR1 (TXFE, TXHE, TXFF clear or set).
  * With TX enabled on slot 3 or 4 and the FIFO at least half full, the codec takes
    every complete left/right pair: here the samples are discarded at once (QEMU
    hands them to its audio backend); SR1 then shows TXHE, and TXFE with
    TXUNDERRUN when empty.
  * SL2TX holds codec data (clears SLFR.SL2TXEMPTY); SL1TX sends a codec command:
    bit 19 set reads codec register (bits 18:12) into SL1RX/SL2RX (value << 4)
    and sets SL1RXVALID/SL2RXVALID, clear writes SL2TX's bits 19:4 to it.
  * INTCLR.TXUEC1 clears SR1.TXUNDERRUN; MAINCR without AACIFE resets the
    interface (registers zero, SLFR = the three TX-empty bits, SR1 = TXFE|RXFE|TXHE,
    FIFO empty).
The LM4549 codec: 64 16-bit registers at even addresses with the part's reset
values; writing Reset (0x00) resets them; the DAC rate takes any value (7.2;
later QEMUs ignore rates outside 4000-48000);
Powerdown keeps its 4 status bits; Ext Audio ID and the vendor IDs are read-only.

Not modelled: sound output, recording, channels 2-4, DMA, the codec's timing.
"""
from __future__ import annotations

from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

# SR bits
SR_RXFE, SR_TXFE, SR_TXHE, SR_TXFF, SR_TXBUSY, SR_TXUNDERRUN = 1, 2, 8, 0x20, 0x80, 0x200
# ISR/IE bits
TXCINTR, TXINTR, URINTR = 1 << 0, 1 << 2, 1 << 5
# TXCR bits
TXEN, TXSLOT3, TXSLOT4, TXCOMPACT = 1 << 0, 1 << 3, 1 << 4, 1 << 15
TSIZE_SHIFT = 13
# SLFR bits
SL1RXBUSY, SL2RXBUSY, SL1RXVALID, SL1TXEMPTY = 1 << 0, 1 << 2, 1 << 6, 1 << 7
SL2RXVALID, SL2TXEMPTY, SL12TXEMPTY = 1 << 8, 1 << 9, 1 << 11
SLOT1_READ = 1 << 19
MAINCR_AACIFE = 1 << 0
INTCLR_TXUEC1 = 1 << 5

FIFO_DEPTHS = (8, 32, 64, 128, 256, 512, 1024, 2048)

# LM4549 registers that are not zero at reset (address -> value)
CODEC_RESET = {
    0x00: 0x0D50, 0x02: 0x8008, 0x04: 0x8000, 0x06: 0x8000, 0x0C: 0x8008, 0x0E: 0x8008,
    0x10: 0x8808, 0x12: 0x8808, 0x14: 0x8808, 0x16: 0x8808, 0x18: 0x8808, 0x1C: 0x8000,
    0x22: 0x0101, 0x26: 0x000F, 0x28: 0x0001, 0x2C: 0xBB80, 0x32: 0xBB80,
    0x7C: 0x4E53, 0x7E: 0x4331,
}
CODEC_READ_ONLY = (0x28, 0x7C, 0x7E)
CODEC_POWERDOWN = 0x26


def _codec_reset_values():
    return [CODEC_RESET.get(i, 0) for i in range(128)]


def _plain(name: str, offset: int, doc: str, **kw) -> Reg:
    return Reg(name, offset, on_write="_after_write", doc=doc, **kw)


@register
class PL041(SysBusDevice):
    TYPE = "pl041"
    DESC = "ARM PrimeCell PL041 AACI with an LM4549 codec (no sound)"
    ID = (0x41, 0x10, 0x04, None, 0x0D, 0xF0, 0x05, 0xB1)   # PeriphID3 from the FIFO depth

    PROPERTIES = (
        Property("nc_fifo_depth", "uint32", 8,
                 "non-compact FIFO depth: 8, 32, 64, 128, 256, 512, 1024 or 2048"),
    )

    REGS = RegisterBank(
        "pl041",
        _plain("RXCR1", 0x00, "channel 1 receive control"),
        Reg("TXCR1", 0x04, on_write="_after_write", doc="channel 1 transmit control"),
        _plain("SR1", 0x08, "channel 1 status", reset=SR_TXFE | SR_RXFE | SR_TXHE),
        _plain("ISR1", 0x0C, "channel 1 interrupt status"),
        _plain("IE1", 0x10, "channel 1 interrupt enable"),
        _plain("CH234", 0x14, "channels 2-4 control/status/interrupts (stored only)",
               count=15),
        _plain("SL1RX", 0x50, "slot 1 receive (codec register address)"),
        Reg("SL1TX", 0x54, on_write="_write_sl1tx", doc="slot 1 transmit (codec command)"),
        _plain("SL2RX", 0x58, "slot 2 receive (codec data << 4)"),
        Reg("SL2TX", 0x5C, on_write="_write_sl2tx", doc="slot 2 transmit (codec data << 4)"),
        _plain("SL12RX", 0x60, "slot 12 receive"),
        _plain("SL12TX", 0x64, "slot 12 transmit"),
        _plain("SLFR", 0x68, "slot flags", reset=SL1TXEMPTY | SL2TXEMPTY | SL12TXEMPTY),
        _plain("SLISTAT", 0x6C, "slot interrupt status"),
        _plain("SLIEN", 0x70, "slot interrupt enable"),
        Reg("INTCLR", 0x74, on_write="_write_intclr", doc="interrupt clear"),
        Reg("MAINCR", 0x78, on_write="_write_maincr", doc="main control"),
        _plain("RESET", 0x7C, "reset", attr="reset_reg"),
        _plain("SYNC", 0x80, "sync control"),
        Reg("ALLINTS", 0x84, read="_read_allints", on_write="_after_write",
            doc="all interrupts (reads ISR1's bits)"),
        _plain("MAINFR", 0x88, "main flags"),
        _plain("UNUSED", 0x8C, "reserved"),
        Reg("DR1", 0x90, count=8, on_write="_write_dr1", doc="channel 1 data (FIFO)"),
        _plain("DR234", 0xB0, "channels 2-4 data (stored only)", count=24),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="AACIPeriphID0-3, AACIPCellID0-3"),
    )
    STATE = REGS.fields() + (
        Field("tx_level", "u32", 0, "samples in the channel 1 TX FIFO (their data is not kept)"),
        Field("codec", "u16[128]", _codec_reset_values(), "LM4549 registers by address"),
    )

    def realize(self) -> None:
        if self.nc_fifo_depth not in FIFO_DEPTHS:
            raise QOMError(f"pl041: unsupported non-compact fifo depth [{self.nc_fifo_depth}]")
        self.init_mmio(self.REGS.region(self, "pl041", 0x1000, impl_min=4))
        self.init_irq(1)
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        self.irqs[0].set(self.isr1 & self.ie1 & 0x7F)

    # --- after every write ----------------------------------------------------------
    def _after_write(self, index: int = 0) -> None:
        self._transmit()
        sr = self.sr1
        isr = self.isr1 & ~(URINTR | TXINTR | TXCINTR)
        if sr & SR_TXUNDERRUN:
            isr |= URINTR
        if sr & SR_TXHE:
            isr |= TXINTR
        if not sr & SR_TXBUSY and sr & SR_TXFE:
            isr |= TXCINTR
        self.isr1 = isr
        self._update_irq()

    def _transmit(self) -> None:
        """The codec takes every complete pair once the FIFO is half full (samples dropped)."""
        txcr = self.txcr1
        if not (txcr & TXEN and txcr & (TXSLOT3 | TXSLOT4)):
            return
        half = self.nc_fifo_depth // 2
        if self.tx_level < half or self.tx_level < 2:
            return
        self.tx_level -= self.tx_level & ~1
        self.sr1 &= ~SR_TXFF
        if self.tx_level <= half:
            self.sr1 |= SR_TXHE
        if self.tx_level == 0:
            self.sr1 |= SR_TXFE | SR_TXUNDERRUN

    # --- register actions -------------------------------------------------------------
    def _compact(self) -> bool:
        size = (self.txcr1 >> TSIZE_SHIFT) & 3
        return bool(self.txcr1 & TXCOMPACT) and size in (0, 3)   # 16 or 12 bits only

    def _write_dr1(self, index: int) -> None:
        if index < 4:
            depth = self.nc_fifo_depth
            if not self._compact():
                if self.tx_level < depth:
                    self.tx_level += 1
            elif self.tx_level + 2 < depth:
                self.tx_level += 2
            if self.tx_level > 0:
                self.sr1 &= ~(SR_TXUNDERRUN | SR_TXFE)
            if self.tx_level >= depth // 2:
                self.sr1 &= ~SR_TXHE
            if self.tx_level >= depth:
                self.sr1 |= SR_TXFF
        self._after_write()

    def _write_sl1tx(self) -> None:
        self.slfr &= ~SL1TXEMPTY
        address = (self.sl1tx >> 12) & 0x7F
        if self.sl1tx & SLOT1_READ:
            self.sl1rx = self.sl1tx & ~SLOT1_READ
            self.sl2rx = self.codec[address] << 4
            self.slfr = (self.slfr & ~(SL1RXBUSY | SL2RXBUSY)) | SL1RXVALID | SL2RXVALID
        else:
            self._codec_write(address, (self.sl2tx >> 4) & 0xFFFF)
        self._after_write()

    def _write_sl2tx(self) -> None:
        self.slfr &= ~SL2TXEMPTY
        self._after_write()

    def _write_intclr(self) -> None:
        if self.intclr & INTCLR_TXUEC1:
            self.sr1 &= ~SR_TXUNDERRUN
        self._after_write()

    def _write_maincr(self) -> None:
        if not self.maincr & MAINCR_AACIFE:
            self._reset_interface()
        self._after_write()

    def _reset_interface(self) -> None:
        codec = self.codec
        for f in self.REGS.fields():
            setattr(self, f.name, f.reset_value())
        self.sr1 = SR_TXFE | SR_RXFE | SR_TXHE
        self.slfr = SL1TXEMPTY | SL2TXEMPTY | SL12TXEMPTY
        self.isr1 = 0
        self.tx_level = 0
        self.codec = codec   # the codec is a separate chip: not reset with the interface

    def _codec_write(self, address: int, value: int) -> None:
        if address == 0x00:
            self.codec = _codec_reset_values()
        elif address == CODEC_POWERDOWN:
            self.codec[address] = (value & ~0xF) | (self.codec[address] & 0xF)
        elif address not in CODEC_READ_ONLY:
            self.codec[address] = value

    def _read_allints(self) -> int:
        return self.isr1 & 0x7F

    def _read_id(self, index: int) -> int:
        if index == 3:
            return 1 | (FIFO_DEPTHS.index(self.nc_fifo_depth) << 3)
        return self.ID[index]
