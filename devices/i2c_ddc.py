"""A DDC (display data channel) EEPROM on I2C: a monitor's EDID, as QEMU's ``i2c-ddc``.

Interface:
  * An ``I2CSlave`` (devices/i2c.py), normally at address 0x50; QEMU's vexpress
    puts one on the SBCon bus next to the SiI9022.
  * Properties ``xres``/``yres`` (uint32, default 1280x800): the preferred mode.
  * Transfers: the first byte written after a START sets the offset; reads return
    the 128-byte EDID from there on, wrapping; further writes are ignored (they
    only advance the offset).

The EDID (version 1.4) describes a digital "QEMU Monitor" (vendor RHT, product
0x1234) whose preferred mode is ``xres`` x ``yres`` at 75 Hz with QEMU's
blanking (horizontal front porch 25 %, sync 3 %, blanking 35 %; vertical 0.5 %,
0.5 %, 3.5 %), a physical size for 100 dpi, the usual VESA modes up to 2048x1152
(established, standard and established-III timings, as QEMU 7.2 lists them), a
range-limits descriptor (50-125 Hz, 30-160 kHz) and the monitor name.
"""
from __future__ import annotations

from typing import List

from pysystem.qom import Field, Property, QOMError, register

from .i2c import I2CSlave

EDID_SIZE = 128
DPI = 100
REFRESH = 75

# established timings (byte 0x23 + byte, bit) and standard timings (aspect code:
# 0 16:10, 1 4:3, 2 5:4, 3 16:9), all at 60 Hz
ESTABLISHED = ((640, 480, 0, 5), (800, 600, 0, 0), (1024, 768, 1, 3))
STANDARD = ((2048, 1152, 3), (1920, 1080, 3), (1920, 1200, 0), (1600, 1200, 1),
            (1680, 1050, 0), (1440, 900, 0), (1280, 1024, 2), (1280, 960, 1))
# established timings III (descriptor byte, bit)
ESTABLISHED_III = ((1280, 768, 7, 6), (1360, 768, 8, 7), (1400, 1050, 8, 1),
                   (1792, 1344, 10, 5), (1856, 1392, 10, 3), (1920, 1440, 11, 5))


def _vendor_id(letters: str) -> bytes:
    code = 0
    for ch in letters:
        code = (code << 5) | (ord(ch) - ord("A") + 1)
    return code.to_bytes(2, "big")


def _text_descriptor(tag: int, text: bytes) -> bytes:
    body = text[:13]
    if len(body) < 13:
        body += b"\n" + b" " * (12 - len(body))
    return bytes((0, 0, 0, tag, 0)) + body


def _timing_descriptor(xres: int, yres: int) -> bytes:
    xfront, xsync, xblank = xres * 25 // 100, xres * 3 // 100, xres * 35 // 100
    yfront, ysync, yblank = yres * 5 // 1000, yres * 5 // 1000, yres * 35 // 1000
    clock = REFRESH * (xres + xblank) * (yres + yblank) // 10000   # in 10 kHz
    xmm, ymm = xres * 254 // (DPI * 10), yres * 254 // (DPI * 10)
    return bytes((
        clock & 0xFF, clock >> 8,
        xres & 0xFF, xblank & 0xFF, (xres >> 8) << 4 | xblank >> 8,
        yres & 0xFF, yblank & 0xFF, (yres >> 8) << 4 | yblank >> 8,
        xfront & 0xFF, xsync & 0xFF, (yfront & 0xF) << 4 | (ysync & 0xF),
        (xfront >> 8) << 6 | (xsync >> 8) << 4 | (yfront >> 4) << 2 | (ysync >> 4),
        xmm & 0xFF, ymm & 0xFF, (xmm >> 8) << 4 | ymm >> 8,
        0, 0, 0x18,                      # no border; digital separate sync
    ))


def generate_edid(xres: int, yres: int) -> bytes:
    e = bytearray(EDID_SIZE)
    e[0:8] = b"\x00\xff\xff\xff\xff\xff\xff\x00"
    e[8:10] = _vendor_id("RHT")
    e[10:12] = (0x1234).to_bytes(2, "little")
    e[16], e[17] = 42, 2014 - 1990      # week, year of manufacture
    e[18], e[19] = 1, 4                 # EDID 1.4
    e[20] = 0xA5                        # digital, 8 bits per colour, DisplayPort
    e[21], e[22] = xres * 254 // (DPI * 100), yres * 254 // (DPI * 100)   # cm
    e[23] = 0x78                        # gamma 2.2
    e[24] = 0x06                        # sRGB, preferred timing is native
    e[25:35] = bytes.fromhex("ee91a3544c99260f5054")   # sRGB chromaticity
    for _, _, byte, bit in ESTABLISHED:
        e[0x23 + byte] |= 1 << bit
    std = bytearray(b"\x01\x01" * 8)
    for i, (x, _, aspect) in enumerate(STANDARD):
        std[2 * i:2 * i + 2] = bytes((x // 8 - 31, aspect << 6 | (60 - 60)))
    e[0x26:0x36] = std
    et3 = bytearray(18)
    et3[3], et3[5] = 0xF7, 0x0A
    for _, _, byte, bit in ESTABLISHED_III:
        et3[byte] |= 1 << bit
    ranges = bytes((0, 0, 0, 0xFD, 0, 50, 125, 30, 160, 0xFF, 0x01, 0x0A)) + b" " * 6
    e[0x36:0x48] = _timing_descriptor(xres, yres)
    e[0x48:0x5A] = et3
    e[0x5A:0x6C] = ranges
    e[0x6C:0x7E] = _text_descriptor(0xFC, b"QEMU Monitor")
    e[127] = (-sum(e[:127])) & 0xFF
    return bytes(e)


@register
class I2CDDC(I2CSlave):
    TYPE = "i2c-ddc"
    DESC = "DDC EEPROM holding a monitor's EDID"

    PROPERTIES = (
        Property("xres", "uint32", 1280, "preferred horizontal resolution"),
        Property("yres", "uint32", 800, "preferred vertical resolution"),
    )
    STATE = (
        Field("firstbyte", "bool", False, "the next byte written sets the offset"),
        Field("reg", "u8", 0, "EDID offset"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.edid = b""

    def realize(self) -> None:
        if not (0 < self.xres < 4096 and 0 < self.yres < 4096):
            raise QOMError("i2c-ddc: xres and yres must be between 1 and 4095")
        self.edid = generate_edid(self.xres, self.yres)
        super().realize()

    def event(self, ev: str) -> bool:
        if ev == "start_send":
            self.firstbyte = True
        return False

    def send(self, data: int) -> bool:
        if self.firstbyte:
            self.reg = data & 0xFF
            self.firstbyte = False
        else:
            self.reg = (self.reg + 1) & 0xFF
        return False

    def recv(self) -> int:
        value = self.edid[self.reg % EDID_SIZE]
        self.reg = (self.reg + 1) & 0xFF
        return value

    def modes(self) -> List[tuple]:
        """The modes the EDID lists, preferred first (for tests and the monitor)."""
        return ([(self.xres, self.yres)] + [m[:2] for m in ESTABLISHED] +
                [m[:2] for m in STANDARD] + [m[:2] for m in ESTABLISHED_III])
