"""ARM PrimeCell PL011 UART, as QEMU models it (the part Linux's amba-pl011 driver uses).

Interface:
  * MMIO region 0: the registers, 0x1000 bytes (accesses of 1-4 bytes, handled as
    4-byte ones like QEMU's ``impl.min_access_size = 4``).
  * IRQ outputs: 0 UARTINTR (the combined line: boards connect this one),
    1 UARTRXINTR, 2 UARTTXINTR, 3 UARTRTINTR, 4 UARTMSINTR, 5 UARTEINTR.
  * Property ``chardev`` (any): the backend.  It must offer ``write(data: bytes)``
    and ``set_handlers(can_read, read, event)``; the UART registers
    ``can_read() -> int`` (bytes it can take now), ``read(data: bytes)`` and
    ``event(ev)`` (``"break"`` puts a break character into the RX FIFO).  If the
    backend has ``accept_input()`` it is called after the guest pops a character,
    so the backend can push more at once.  Without a chardev output is discarded.

Behaviour (QEMU 7.2's hw/char/pl011.c): transmission is instantaneous, so the TX
FIFO always reads empty (FR.TXFE set, TXFF and BUSY clear) and TXIS is raised on
every write to DR; the RX FIFO is 16 entries deep with LCR_H.FEN, one entry
without, and each entry carries the error bits (break in bit 10) that DR returns;
control registers keep all 32 bits written, as in QEMU; RXIS is raised when the first character arrives (QEMU uses a trigger level of
one whatever IFLS says, because Linux only drains the FIFO on an interrupt) and
dropped when the FIFO is read empty; writing LCR_H.FEN flushes the FIFO.  CR.LBE
loopback (as newer QEMU and the hardware do; QEMU 7.2 has none) sends
transmitted characters and breaks to the RX FIFO and the modem outputs to the
modem status bits.

Not modelled: baud rate timing, the receive timeout interrupt (never raised, as
in QEMU), overrun/parity/framing errors, DMA (DMACR is stored; enabling it is
logged under ``-d unimp``), IrDA, hardware flow control, sending a break on the
line (LCR_H.BRK only loops back).
"""
from __future__ import annotations

from pysystem import log
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, register
from pysystem.regbank import Reg, RegisterBank

FIFO_DEPTH = 16

# FR bits
FR_RI, FR_TXFE, FR_RXFF, FR_TXFF, FR_RXFE = 0x100, 0x80, 0x40, 0x20, 0x10
FR_DCD, FR_DSR, FR_CTS = 0x04, 0x02, 0x01
# interrupt bits (RIS, MIS, IMSC, ICR)
INT_OE, INT_BE, INT_PE, INT_FE = 1 << 10, 1 << 9, 1 << 8, 1 << 7
INT_RT, INT_TX, INT_RX = 1 << 6, 1 << 5, 1 << 4
INT_DSR, INT_DCD, INT_CTS, INT_RI = 1 << 3, 1 << 2, 1 << 1, 1 << 0
INT_E = INT_OE | INT_BE | INT_PE | INT_FE
INT_MS = INT_RI | INT_DSR | INT_DCD | INT_CTS
DR_BE = 1 << 10
LCR_FEN, LCR_BRK = 1 << 4, 1 << 0
CR_OUT2, CR_OUT1, CR_RTS, CR_DTR, CR_LBE = 1 << 13, 1 << 12, 1 << 11, 1 << 10, 1 << 7

# which interrupt bits drive each output line, in IRQ output order
IRQ_MASKS = (INT_E | INT_MS | INT_RT | INT_TX | INT_RX, INT_RX, INT_TX, INT_RT, INT_MS, INT_E)


@register
class PL011(SysBusDevice):
    TYPE = "pl011"
    DESC = "ARM PrimeCell PL011 UART"
    ID = (0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    PROPERTIES = (
        Property("chardev", "any", None, "character backend (write/set_handlers); none discards output"),
    )

    REGS = RegisterBank(
        "pl011",
        Reg("DR", 0x000, read="_read_dr", write="_write_dr", stored=False,
            doc="data: read pops the RX FIFO (with error bits), write transmits"),
        Reg("RSR", 0x004, write="_write_ecr", doc="receive status; any write clears it (ECR)"),
        Reg("FR", 0x018, reset=FR_RXFE | FR_TXFE, access="ro", doc="flags"),
        Reg("ILPR", 0x020, doc="IrDA low-power counter"),
        Reg("IBRD", 0x024, doc="integer baud rate divisor"),
        Reg("FBRD", 0x028, doc="fractional baud rate divisor"),
        Reg("LCR_H", 0x02C, write="_write_lcr_h", doc="line control"),
        Reg("CR", 0x030, reset=0x300, on_write="_loopback_modem", doc="control"),
        Reg("IFLS", 0x034, reset=0x12, doc="FIFO interrupt levels (stored; trigger is always 1)"),
        Reg("IMSC", 0x038, on_write="_update_irq", doc="interrupt mask"),
        Reg("RIS", 0x03C, access="ro", doc="raw interrupt status"),
        Reg("MIS", 0x040, access="ro", read="_read_mis", stored=False, doc="masked interrupt status"),
        Reg("ICR", 0x044, access="wo", write="_write_icr", stored=False, doc="interrupt clear"),
        Reg("DMACR", 0x048, on_write="_dma_written", doc="DMA control (not modelled)"),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="PeriphID0-3, PCellID0-3"),
    )
    STATE = REGS.fields() + (
        Field("read_fifo", f"u32[{FIFO_DEPTH}]", 0, "RX FIFO entries (character | error bits << 8)"),
        Field("read_pos", "u8", 0, "index of the oldest RX entry"),
        Field("read_count", "u8", 0, "RX entries held"),
    )

    def realize(self) -> None:
        self.init_mmio(self.REGS.region(self, self.TYPE, 0x1000, impl_min=4))
        self.init_irq(len(IRQ_MASKS))
        if self.chardev is not None:
            self.chardev.set_handlers(self._can_receive, self._receive, self._event)
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    # --- interrupts -------------------------------------------------------------------
    def _update_irq(self) -> None:
        flags = self.ris & self.imsc
        for line, mask in zip(self.irqs, IRQ_MASKS):
            line.set(flags & mask)

    # --- FIFO -------------------------------------------------------------------------
    def _depth(self) -> int:
        return FIFO_DEPTH if self.lcr_h & LCR_FEN else 1

    def _reset_fifo(self) -> None:
        self.read_count = 0
        self.read_pos = 0
        self.fr = (self.fr & ~(FR_RXFF | FR_TXFF)) | FR_RXFE | FR_TXFE

    def _put_fifo(self, value: int) -> None:
        depth = self._depth()
        if self.read_count >= depth:
            return  # overrun: the character is lost (QEMU never offers more than fits)
        slot = (self.read_pos + self.read_count) & (depth - 1)
        self.read_fifo[slot] = value
        self.read_count += 1
        self.fr &= ~FR_RXFE
        if self.read_count == depth:
            self.fr |= FR_RXFF
        if self.read_count == 1:  # the RX trigger level is always one
            self.ris |= INT_RX
            self._update_irq()

    # --- register handlers ------------------------------------------------------------
    def _read_dr(self) -> int:
        self.fr &= ~FR_RXFF
        depth = self._depth()
        value = self.read_fifo[self.read_pos & (FIFO_DEPTH - 1)]
        if self.read_count > 0:
            self.read_count -= 1
            self.read_pos = (self.read_pos + 1) & (depth - 1)
        if self.read_count == 0:
            self.fr |= FR_RXFE
            self.ris &= ~INT_RX
        self.rsr = (value >> 8) & 0xF
        self._update_irq()
        accept = getattr(self.chardev, "accept_input", None)
        if accept is not None:
            accept()
        return value

    def _write_dr(self, value: int) -> None:
        ch = value & 0xFF
        if self.chardev is not None:
            self.chardev.write(bytes((ch,)))
        if self.cr & CR_LBE:
            self._put_fifo(ch)
        self.ris |= INT_TX
        self._update_irq()

    def _write_ecr(self, value: int) -> None:
        self.rsr = 0

    def _write_lcr_h(self, value: int) -> None:
        if (self.lcr_h ^ value) & LCR_FEN:
            self._reset_fifo()
        if (self.lcr_h ^ value) & LCR_BRK and value & LCR_BRK and self.cr & CR_LBE:
            self._put_fifo(DR_BE)
        self.lcr_h = value

    def _loopback_modem(self) -> None:
        """With CR.LBE the modem outputs drive the modem status inputs (QEMU's model)."""
        if not self.cr & CR_LBE:
            return
        cr = self.cr
        fr = self.fr & ~(FR_RI | FR_DCD | FR_DSR | FR_CTS)
        fr |= (FR_RI if cr & CR_OUT2 else 0) | (FR_DCD if cr & CR_OUT1 else 0)
        fr |= (FR_CTS if cr & CR_RTS else 0) | (FR_DSR if cr & CR_DTR else 0)
        ris = self.ris & ~INT_MS
        ris |= (INT_DSR if fr & FR_DSR else 0) | (INT_DCD if fr & FR_DCD else 0)
        ris |= (INT_CTS if fr & FR_CTS else 0) | (INT_RI if fr & FR_RI else 0)
        self.fr, self.ris = fr, ris
        self._update_irq()

    def _read_mis(self) -> int:
        return self.ris & self.imsc

    def _write_icr(self, value: int) -> None:
        self.ris &= ~value
        self._update_irq()

    def _dma_written(self) -> None:
        if self.dmacr & 3:
            log.log("unimp", "pl011: DMA not implemented")

    def _read_id(self, index: int) -> int:
        return self.ID[index]

    # --- the backend's side -----------------------------------------------------------
    def _can_receive(self) -> int:
        return max(0, self._depth() - self.read_count)

    def _receive(self, data: bytes) -> None:
        if self.cr & CR_LBE:  # in loopback the RX input is disconnected
            return
        for b in data:
            self._put_fifo(b)

    def _event(self, ev) -> None:
        if ev == "break" and not self.cr & CR_LBE:
            self._put_fifo(DR_BE)


@register
class PL011Luminary(PL011):
    """The Luminary Micro (Stellaris) variant: only its ID registers differ."""

    TYPE = "pl011_luminary"
    DESC = "Luminary Micro PL011 UART"
    ID = (0x11, 0x00, 0x18, 0x01, 0x0D, 0xF0, 0x05, 0xB1)
