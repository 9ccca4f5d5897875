"""Silicon Image SiI9022 HDMI/DVI transmitter on I2C: just enough for a driver to find it.

Interface:
  * An ``I2CSlave`` (devices/i2c.py); vexpress puts it at address 0x39 on the
    SBCon bus (QEMU's vexpress does; it also adds an EDID source at 0x50).
  * No properties besides ``address``, no MMIO, no IRQ.

Behaviour (QEMU 7.2's hw/display/sii9022.c): the first byte written after a
START selects a register, further bytes and reads go to consecutive registers.
Reads: 0x1b (chip ID) is 0xb0; 0x3d (interrupt status) reports a display plugged
in (0x04); 0x1a (system control) shows DDC bus request + grant (0x06) once a DDC
request was written; everything else reads zero.  Writing 0x1a with the DDC
request bit records it (with the grant bit too it switches to DDC mode); without
it the request and DDC mode end.  Other writes are accepted and ignored.

Not modelled: video, audio, interrupts, the DDC pass-through itself.
"""
from __future__ import annotations

from pysystem.qom import Field, register

from .i2c import I2CSlave

SYS_CTRL, CHIP_ID, INT_STATUS = 0x1A, 0x1B, 0x3D
DDC_BUS_REQ, DDC_BUS_GRTD = 0x04, 0x02


@register
class SII9022(I2CSlave):
    TYPE = "sii9022"
    DESC = "Silicon Image SiI9022 HDMI transmitter (ID and DDC handshake only)"

    STATE = (
        Field("ptr", "u8", 0, "register pointer"),
        Field("addr_byte", "bool", False, "the next byte written selects the register"),
        Field("ddc_req", "bool", False, "the host requested the DDC bus"),
        Field("ddc_skip_finish", "bool", False, "the STOP after switching to DDC is ignored"),
        Field("ddc", "bool", False, "DDC pass-through mode"),
    )

    def event(self, ev: str) -> bool:
        if ev == "start_send":
            self.addr_byte = True
        return False

    def recv(self) -> int:
        ptr = self.ptr
        if ptr == SYS_CTRL:
            value = DDC_BUS_GRTD | DDC_BUS_REQ if self.ddc_req else 0
        elif ptr == CHIP_ID:
            value = 0xB0
        elif ptr == INT_STATUS:
            value = 0x04
        else:
            value = 0
        self.ptr = (ptr + 1) & 0xFF
        return value

    def send(self, data: int) -> bool:
        if self.addr_byte:
            self.ptr = data
            self.addr_byte = False
            return False
        if self.ptr == SYS_CTRL:
            if data & DDC_BUS_REQ:
                self.ddc_req = True
                if data & DDC_BUS_GRTD:
                    self.ddc = True
                    self.ddc_skip_finish = True
            else:
                self.ddc_req = False
                self.ddc = False
        self.ptr = (self.ptr + 1) & 0xFF
        return False
