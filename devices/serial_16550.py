"""National Semiconductor 16550A UART, as QEMU 7.2 models it (hw/char/serial.c).

Interface:
  * Region 0: the eight registers, one every ``1 << regshift`` bytes
    (``8 << regshift`` bytes).  On ISA (regshift 0: COM1 at 0x3f8 IRQ 4, COM2 at
    0x2f8 IRQ 3) a wider access is split into byte accesses of consecutive
    registers; as an MMIO device (regshift > 0, as the Malta CBUS UART at
    0x1f000900 with shift 3) an access of 1-8 bytes anywhere in a register's
    slot reaches that register and returns its byte zero-extended (QEMU's
    serial_mm).
  * IRQ output 0: INTR.
  * Properties: ``chardev`` (any: the backend, as for the PL011: ``write(data)``,
    ``set_handlers(can_read, read, event)``, optional ``accept_input()``; without
    one output is discarded), ``regshift`` (uint8), ``baudbase`` (uint32, the
    input clock / 16: 115200 on ISA, 230400 on the Malta CBUS), ``endianness``
    (little, big or native: the MMIO region's byte order; the CBUS UART is
    native, as QEMU maps it).
  * Attribute ``clock``: the board's ``VirtualClock`` (for the FIFO timeout).

Registers: RBR/THR, IER (DLL/DLM with LCR.DLAB), IIR/FCR, LCR, MCR, LSR, MSR, SCR.
Transmission is instantaneous: a THR write goes to the backend at once and
leaves THRE and TEMT set, with the THR-empty interrupt pending.  THRE interrupt
semantics as QEMU 7.2: reading IIR while it reports THRE clears the pending
THRE interrupt; setting IER.THRI while THRE is set makes it pending again
(writing IER with THRI unchanged does not); an FCR transmit reset makes it
pending.  The receive FIFO holds 16 bytes with FCR.FE (trigger levels 1, 4, 8,
14; the character timeout interrupt after four character times without a read,
on the virtual clock, from the divisor and LCR); without the FIFO one byte, and
a second one sets the overrun error.  A break from the backend puts a NUL with
LSR.BI.  MCR.LOOP loops transmitted bytes into the receiver and the modem
outputs into MSR (the backend's input is ignored meanwhile).  Reset values
as QEMU: IIR 0x01, LSR 0x60, MSR 0xb0 (DCD, DSR, CTS), MCR 0x08 (OUT2), divisor 12.

Not modelled: the modem lines of a real host serial port (MSR is fixed), line
parameters passed to the backend, transmit timing and backpressure, DMA modes.
"""
from __future__ import annotations

from typing import Optional

from pysystem.clock import NS_PER_SEC, Timer, VirtualClock
from pysystem.memory import IORegion
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .isa import ISADevice, port_region

FIFO_LENGTH = 16

IER_MSI, IER_RLSI, IER_THRI, IER_RDI = 0x08, 0x04, 0x02, 0x01
IIR_NO_INT, IIR_ID, IIR_MSI, IIR_THRI, IIR_RDI, IIR_RLSI, IIR_CTI = 0x01, 0x06, 0x00, 0x02, 0x04, 0x06, 0x0C
IIR_FE = 0xC0
LCR_DLAB, LCR_SBC = 0x80, 0x40
MCR_LOOP, MCR_OUT2, MCR_OUT1, MCR_RTS, MCR_DTR = 0x10, 0x08, 0x04, 0x02, 0x01
MSR_DCD, MSR_RI, MSR_DSR, MSR_CTS, MSR_ANY_DELTA = 0x80, 0x40, 0x20, 0x10, 0x0F
LSR_TEMT, LSR_THRE, LSR_BI, LSR_OE, LSR_DR, LSR_INT_ANY = 0x40, 0x20, 0x10, 0x02, 0x01, 0x1E
FCR_FE, FCR_RFR, FCR_XFR = 0x01, 0x02, 0x04
TRIGGER_LEVELS = (1, 4, 8, 14)
COM_PORTS = ((0x3F8, 4), (0x2F8, 3))    # (port, ISA IRQ) of serial 0 and 1 on the FDC37M81X


@register
class Serial16550(ISADevice):
    TYPE = "serial-16550a"
    DESC = "16550A UART (ISA or memory-mapped)"
    ISA_PORTS = (0x3F8,)
    ISA_IRQS = (4,)

    PROPERTIES = (
        Property("chardev", "any", None, "character backend (write/set_handlers); none discards output"),
        Property("regshift", "uint8", 0, "registers are 1 << regshift bytes apart"),
        Property("baudbase", "uint32", 115200, "input clock / 16 in Hz (divisor 1 = this baud rate)"),
        Property("endianness", "str", "little", "byte order of the register region",
                 choices=("little", "big", "native")),
    )

    REGS = RegisterBank(
        "serial",
        Reg("RBR", 0, width=1, read="_read_rbr", write="_write_thr", stored=False,
            doc="receive buffer / transmit holding (DLL with DLAB)"),
        Reg("IER", 1, width=1, read="_read_ier", write="_write_ier",
            doc="interrupt enable (DLM with DLAB)"),
        Reg("IIR", 2, width=1, read="_read_iir", write="_write_fcr", reset=IIR_NO_INT,
            doc="interrupt identification / FIFO control"),
        Reg("LCR", 3, width=1, on_write="_lcr_written", doc="line control"),
        Reg("MCR", 4, width=1, write="_write_mcr", reset=MCR_OUT2, doc="modem control"),
        Reg("LSR", 5, width=1, read="_read_lsr", write="_write_ignored",
            reset=LSR_TEMT | LSR_THRE, doc="line status"),
        Reg("MSR", 6, width=1, read="_read_msr", write="_write_ignored",
            reset=MSR_DCD | MSR_DSR | MSR_CTS, doc="modem status"),
        Reg("SCR", 7, width=1, doc="scratch"),
    )
    STATE = REGS.fields() + (
        Field("rbr", "u8", 0, "received byte (FIFO off)"),
        Field("fcr", "u8", 0, "FIFO control bits that stick (0xc9)"),
        Field("divider", "u16", 12, "baud rate divisor"),
        Field("recv_fifo", f"u8[{FIFO_LENGTH}]", 0, "receive FIFO"),
        Field("recv_pos", "u8", 0, "oldest entry of the receive FIFO"),
        Field("recv_count", "u8", 0, "entries in the receive FIFO"),
        Field("recv_fifo_itl", "u8", 1, "receive trigger level"),
        Field("thr_ipending", "bool", False, "THR-empty interrupt pending"),
        Field("timeout_ipending", "bool", False, "character timeout interrupt pending"),
        Field("fifo_timeout", "timer", None, "character timeout"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.fifo_timeout: Optional[Timer] = None

    @classmethod
    def example(cls):
        dev = cls()
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        if self.clock is None:
            raise QOMError(f"{self.TYPE}: no clock (the board sets dev.clock before realize)")
        if self.regshift > 6:
            raise QOMError(f"{self.TYPE}: regshift {self.regshift} is out of range (0-6)")
        if self.baudbase == 0:
            raise QOMError(f"{self.TYPE}: baudbase must not be 0")
        if self.regshift == 0:
            region = port_region(self.REGS, self, "serial", 8, endianness=self.endianness)
        else:
            shift, bank = self.regshift, self.REGS
            region = IORegion(self, "serial", 8 << shift,
                              read=lambda off, sz: bank.read(self, off >> shift, 1),
                              write=lambda off, val, sz: bank.write(self, off >> shift, val & 0xFF, 1),
                              min_access=1, max_access=8, impl_min=1, impl_max=8,
                              endianness=self.endianness)
        self.init_mmio(region)
        self.init_irq(1)
        self.fifo_timeout = Timer(self.clock, self._fifo_timeout_expired, f"{self.TYPE}.timeout")
        if self.chardev is not None:
            self.chardev.set_handlers(self._can_receive, self._receive, self._event)
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self.irqs[0].set(not self.iir & IIR_NO_INT)

    # --- interrupts -------------------------------------------------------------------
    def _update_irq(self) -> None:
        ier, lsr = self.ier, self.lsr
        iid = IIR_NO_INT
        if ier & IER_RLSI and lsr & LSR_INT_ANY:
            iid = IIR_RLSI
        elif ier & IER_RDI and self.timeout_ipending:
            iid = IIR_CTI
        elif ier & IER_RDI and lsr & LSR_DR and (not self.fcr & FCR_FE
                                                 or self.recv_count >= self.recv_fifo_itl):
            iid = IIR_RDI
        elif ier & IER_THRI and self.thr_ipending:
            iid = IIR_THRI
        elif ier & IER_MSI and self.msr & MSR_ANY_DELTA:
            iid = IIR_MSI
        self.iir = iid | (self.iir & 0xF0)
        self.irqs[0].set(iid != IIR_NO_INT)

    def char_time_ns(self) -> int:
        """One character's time on the line at the programmed rate and format."""
        lcr = self.lcr
        bits = 1 + (lcr & 3) + 5 + (2 if lcr & 4 else 1) + (1 if lcr & 8 else 0)
        speed = max(1, self.baudbase // max(1, self.divider))
        return NS_PER_SEC // speed * bits

    # --- receive FIFO -----------------------------------------------------------------
    def _fifo_put(self, byte: int) -> None:
        if self.recv_count >= FIFO_LENGTH:
            self.lsr |= LSR_OE                       # overruns keep the FIFO's contents
            return
        self.recv_fifo[(self.recv_pos + self.recv_count) % FIFO_LENGTH] = byte
        self.recv_count += 1

    def _fifo_pop(self) -> int:
        if not self.recv_count:
            return 0
        byte = self.recv_fifo[self.recv_pos]
        self.recv_pos = (self.recv_pos + 1) % FIFO_LENGTH
        self.recv_count -= 1
        return byte

    def _fifo_reset(self) -> None:
        self.recv_pos = self.recv_count = 0

    def _receive_byte(self, byte: int) -> None:
        if self.fcr & FCR_FE:
            self._fifo_put(byte)
            self.lsr |= LSR_DR
            self.fifo_timeout.mod_in(4 * self.char_time_ns())
        else:
            if self.lsr & LSR_DR:
                self.lsr |= LSR_OE
            self.rbr = byte
            self.lsr |= LSR_DR
        self._update_irq()

    def _fifo_timeout_expired(self) -> None:
        if self.recv_count:
            self.timeout_ipending = True
            self._update_irq()

    # --- registers --------------------------------------------------------------------
    def _read_rbr(self) -> int:
        if self.lcr & LCR_DLAB:
            return self.divider & 0xFF
        if self.fcr & FCR_FE:
            value = self._fifo_pop()
            if self.recv_count == 0:
                self.lsr &= ~(LSR_DR | LSR_BI)
            else:
                self.fifo_timeout.mod_in(4 * self.char_time_ns())
            self.timeout_ipending = False
        else:
            value = self.rbr
            self.lsr &= ~(LSR_DR | LSR_BI)
        self._update_irq()
        if not self.mcr & MCR_LOOP:
            accept = getattr(self.chardev, "accept_input", None)
            if accept is not None:
                accept()
        return value

    def _write_thr(self, value: int) -> None:
        if self.lcr & LCR_DLAB:
            self.divider = (self.divider & 0xFF00) | value
            return
        self.thr_ipending = False
        self.lsr &= ~(LSR_THRE | LSR_TEMT)
        self._update_irq()
        if self.mcr & MCR_LOOP:                      # in loopback we receive what we send
            self._receive_byte(value)
        elif self.chardev is not None:
            self.chardev.write(bytes((value,)))
        self.lsr |= LSR_THRE | LSR_TEMT               # sent at once
        self.thr_ipending = True
        self._update_irq()

    def _read_ier(self) -> int:
        return (self.divider >> 8) if self.lcr & LCR_DLAB else self.ier

    def _write_ier(self, value: int) -> None:
        if self.lcr & LCR_DLAB:
            self.divider = (self.divider & 0x00FF) | (value << 8)
            return
        changed = (self.ier ^ value) & 0x0F
        self.ier = value & 0x0F
        if changed & IER_THRI:
            self.thr_ipending = bool(self.ier & IER_THRI and self.lsr & LSR_THRE)
        if changed:
            self._update_irq()

    def _read_iir(self) -> int:
        value = self.iir
        if value & IIR_ID == IIR_THRI and value & 0x0F == IIR_THRI:
            self.thr_ipending = False
            self._update_irq()
        return value

    def _write_fcr(self, value: int) -> None:
        if (value ^ self.fcr) & FCR_FE:              # enabling or disabling flushes both FIFOs
            value |= FCR_XFR | FCR_RFR
        if value & FCR_RFR:
            self.lsr &= ~(LSR_DR | LSR_BI)
            self.fifo_timeout.cancel()
            self.timeout_ipending = False
            self._fifo_reset()
        if value & FCR_XFR:
            self.lsr |= LSR_THRE
            self.thr_ipending = True
        self.fcr = value & 0xC9
        if value & FCR_FE:
            self.iir |= IIR_FE
            self.recv_fifo_itl = TRIGGER_LEVELS[value >> 6]
        else:
            self.iir &= ~IIR_FE
        self._update_irq()

    def _lcr_written(self) -> None:
        """Line parameters are not passed on (see "not modelled")."""

    def _write_mcr(self, value: int) -> None:
        self.mcr = value & 0x1F

    def _read_lsr(self) -> int:
        value = self.lsr
        if value & (LSR_BI | LSR_OE):
            self.lsr &= ~(LSR_BI | LSR_OE)
            self._update_irq()
        return value

    def _read_msr(self) -> int:
        if self.mcr & MCR_LOOP:                      # modem outputs wired to the inputs
            mcr = self.mcr
            return ((mcr & 0x0C) << 4) | ((mcr & 0x02) << 3) | ((mcr & 0x01) << 5)
        value = self.msr
        if value & MSR_ANY_DELTA:
            self.msr &= 0xF0
            self._update_irq()
        return value

    def _write_ignored(self, value: int) -> None:
        """LSR and MSR writes are ignored, as in QEMU."""

    # --- the backend's side -----------------------------------------------------------
    def _can_receive(self) -> int:
        if self.fcr & FCR_FE:
            if self.recv_count >= FIFO_LENGTH:
                return 0
            itl = self.recv_fifo_itl
            return itl - self.recv_count if self.recv_count <= itl else 1
        return 0 if self.lsr & LSR_DR else 1

    def _receive(self, data: bytes) -> None:
        if self.mcr & MCR_LOOP:
            return
        for byte in data:
            self._receive_byte(byte)

    def _event(self, ev) -> None:
        if ev == "break" and not self.mcr & MCR_LOOP:
            self.rbr = 0
            self._fifo_put(0)                        # a NUL goes into the FIFO with BI
            self.lsr |= LSR_BI | LSR_DR
            self._update_irq()
