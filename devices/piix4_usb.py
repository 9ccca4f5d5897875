"""Intel PIIX4 function 2: the USB UHCI host controller (8086:7112; QEMU "piix4-usb-uhci").

Interface:
  * PCI function (Malta: device 10, function 2), class 0c:03:00 revision 1, INTD, SBRN
    (0x60) 0x10, config space as QEMU 7.2 resets it.
  * BAR4: 32 bytes of I/O, the UHCI registers: USBCMD (+0), USBSTS (+2, write one to
    clear), USBINTR (+4), FRNUM (+6, writable while halted), FRBASEADD (+8, 4 KiB
    aligned), SOFMOD (+0xc), PORTSC1/2 (+0x10, +0x12).  Word and dword accesses.
  * INTD: USBSTS & (USBINT | ERROR | RESUME | HSERR | HCPERR) with the matching
    USBINTR enables (QEMU's uhci_update_irq).
Property ``clock``: with it, FRNUM counts 1 ms frames of guest time while USBCMD.RS is set.

Behaviour (QEMU 7.2's register semantics): RS clears HCHALTED, stopping sets it;
HCRESET resets the controller, GRESET the ports; both ports are empty (no device ever
connects), so their enable bit cannot be set and they read 0x0080.  The frame list is
never walked: no transfers, no interrupts from the schedule, no root-hub devices.
"""
from __future__ import annotations

from pysystem.pci import Bar, CfgReg, PCIDevice
from pysystem.memory import IORegion
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

CMD_RS, CMD_HCRESET, CMD_GRESET = 0x01, 0x02, 0x04
STS_USBINT, STS_ERROR, STS_RD, STS_HSERR, STS_HCPERR, STS_HCHALTED = 1, 2, 4, 8, 16, 32
INTR_TIMEOUT_CRC, INTR_RESUME, INTR_IOC, INTR_SPD = 1, 2, 4, 8
PORT_RESERVED = 0x0080
PORT_CCS, PORT_CSC, PORT_EN, PORT_ENC = 0x0001, 0x0002, 0x0004, 0x0008
PORT_READ_ONLY, PORT_WRITE_CLEAR = 0x01BB, PORT_CSC | PORT_ENC
FRAME_NS = 1_000_000


@register
class PIIX4USB(PCIDevice):
    TYPE = "piix4-usb-uhci"
    DESC = "UHCI USB Controller (no devices)"
    VENDOR_ID, DEVICE_ID, REVISION = 0x8086, 0x7112, 0x01
    CLASS_CODE = 0x0C0300
    INTERRUPT_PIN = 4
    BARS = (Bar(4, 32, "io"),)
    CONFIG = (
        CfgReg("SBRN", 0x60, 1, 0x10, doc="serial bus release number: USB 1.0"),
        CfgReg("MISC", 0x6A, 1, 0x01),
    )
    PROPERTIES = (Property("clock", "any", None, "VirtualClock that FRNUM counts frames of"),)

    REGS = RegisterBank(
        "uhci",
        Reg("USBCMD", 0x00, width=2, write="_w_cmd", attr="usbcmd"),
        Reg("USBSTS", 0x02, width=2, write="_w_sts", attr="usbsts"),
        Reg("USBINTR", 0x04, width=2, on_write="_update_irq", attr="usbintr"),
        Reg("FRNUM", 0x06, width=2, read="_r_frnum", write="_w_frnum", attr="frnum_base"),
        Reg("FRBASEADD", 0x08, width=4, mask=0xFFFFF000, attr="fl_base"),
        Reg("SOFMOD", 0x0C, width=1, reset=64, attr="sof_timing"),
        Reg("PORTSC", 0x10, width=2, count=2, reset=PORT_RESERVED, write="_w_portsc",
            attr="portsc"),
    )
    STATE = REGS.fields() + (
        Field("run_start_ns", "u64", 0, "guest time when RS was last set"),
    )

    def realize(self) -> None:
        if self.clock is not None and not hasattr(self.clock, "now"):
            raise QOMError("piix4-usb-uhci: property 'clock' expects a virtual clock")
        self.init_bar(4, IORegion(self, "uhci", 32, read=lambda o, s: self.REGS.read(self, o, s),
                                  write=lambda o, v, s: self.REGS.write(self, o, v, s),
                                  min_access=1, max_access=4))
        super().realize()

    def device_reset(self) -> None:
        self._hc_reset()

    def _hc_reset(self) -> None:
        for f in self.REGS.fields():
            setattr(self, f.name, f.reset_value())
        self.usbsts = STS_HCHALTED
        self._update_irq()

    def _now(self) -> int:
        return self.clock.now() if self.clock is not None else 0

    # --- registers --------------------------------------------------------------------
    def _frames(self) -> int:
        if not self.usbcmd & CMD_RS or self.clock is None:
            return 0
        return (self._now() - self.run_start_ns) // FRAME_NS

    def _r_frnum(self) -> int:
        return (self.frnum_base + self._frames()) & 0x7FF

    def _w_frnum(self, value: int) -> None:
        if self.usbsts & STS_HCHALTED:
            self.frnum_base = value & 0x7FF

    def _w_cmd(self, value: int) -> None:
        if value & CMD_RS and not self.usbcmd & CMD_RS:
            self.run_start_ns = self._now()
            self.usbsts &= ~STS_HCHALTED
        elif not value & CMD_RS:
            if self.usbcmd & CMD_RS:
                self.frnum_base = self._r_frnum()
            self.usbsts |= STS_HCHALTED
        if value & (CMD_GRESET | CMD_HCRESET):     # QEMU resets the controller for both
            self._hc_reset()
            return
        self.usbcmd = value & 0xFFFF

    def _w_sts(self, value: int) -> None:
        self.usbsts &= ~value & 0xFFFF
        self._update_irq()

    def _w_portsc(self, index: int, value: int) -> None:
        ctrl = self.portsc[index] & PORT_READ_ONLY
        if not ctrl & PORT_CCS:
            value &= ~PORT_EN
        ctrl |= value & ~PORT_READ_ONLY
        ctrl &= ~(value & PORT_WRITE_CLEAR)
        self.portsc[index] = ctrl & 0xFFFF

    def _update_irq(self) -> None:
        level = ((self.usbsts & STS_USBINT and self.usbintr & (INTR_IOC | INTR_SPD)) or
                 (self.usbsts & STS_ERROR and self.usbintr & INTR_TIMEOUT_CRC) or
                 (self.usbsts & STS_RD and self.usbintr & INTR_RESUME) or
                 self.usbsts & (STS_HSERR | STS_HCPERR))
        self.set_irq(1 if level else 0)
