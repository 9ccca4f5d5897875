"""Cirrus Logic CLGD-5446 PCI VGA (1013:00b8; QEMU type "cirrus-vga"), without a display.

Interface:
  * PCI function (Malta: slot 18), class 03:00, config space as QEMU 7.2's.
  * BAR0: 32 MiB prefetchable memory: the 4 MiB of video RAM at 0 (plain RAM, so the
    framebuffer costs nothing to draw into) and the BitBLT/VGA register window again at
    16 MiB.  BAR1: 4 KiB of memory, the register window: offsets 0x00-0xff are VGA ports
    0x3c0-0x3cf..., 0x100 up the BitBLT registers.  ROM BAR: 64 KiB (QEMU loads
    vgabios-cirrus.bin; here it reads as zeros).
  * VGA ports 0x3b0-0x3df in the PCI I/O space, mapped when the function is plugged:
    attribute controller (0x3c0/0x3c1 with its index/data flip-flop, reset by reading
    input status 1), misc output (0x3c2 write, 0x3cc read), sequencer (0x3c4/0x3c5),
    the hidden DAC register (the fifth consecutive read of 0x3c6, as QEMU's source has
    it; QEMU 7.2 under qtest did not return it reproducibly, so this one is not checked
    against it), DAC palette
    (0x3c7-0x3c9), graphics controller (0x3ce/0x3cf), CRTC at 0x3b4/0x3b5 or 0x3d4/0x3d5
    and input status 1 at 0x3ba or 0x3da as misc output bit 0 selects (the other pair
    reads 0xff), with QEMU's write masks and Cirrus extended registers: SR6 unlock
    (0x12), SR0F/SR15/SR17/SR1F memory configuration for 4 MiB, CR27 part id 0xb8,
    CR24/CR26 attribute controller readbacks.
That is what Linux's cirrusfb reads and writes to probe and set a mode.

Not modelled: any display output, the legacy 0xa0000 window, bank switching, the
BitBLT engine (GR31 START completes at once without drawing; logged under -d unimp),
the hardware cursor, vertical retrace timing (input status 1 toggles on every read, as
in QEMU).
"""
from __future__ import annotations

from pysystem import log
from pysystem.memory import ContainerRegion, IORegion, RAMRegion, ROMRegion
from pysystem.pci import Bar, PCIDevice
from pysystem.qom import Field, register

VRAM_SIZE = 4 << 20
DEVICE_ID_5446 = 0xB8
VGA_PORTS, VGA_PORTS_SIZE = 0x3B0, 0x30

# standard VGA write masks (QEMU vga.c sr_mask / gr_mask)
SR_MASK = (0x03, 0x3D, 0x0F, 0x3F, 0x0E, 0x00, 0x00, 0xFF)
GR_MASK = (0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF)
# attribute controller write masks for registers 0x10-0x14
AR_MASK = {0x10: 0xEF, 0x11: 0xFF, 0x12: 0x3F, 0x13: 0x0F, 0x14: 0x0F}
# Cirrus 5446 reset values (QEMU cirrus_init_common / cirrus_reset)
SR_RESET = {0x06: 0x0F, 0x0F: 0x98, 0x15: 0x04, 0x17: 0x20, 0x1F: 0x2D}
GR_RESET = {0x18: 0x0F}
CR_RESET = {0x27: DEVICE_ID_5446}
# extended GR registers the guest can write (others are dropped), and their masks
GR_EXT_MASK = {i: 0xFF for i in (0x09, 0x0A, 0x0B, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20,
                                  0x22, 0x24, 0x26, 0x28, 0x29, 0x2C, 0x2D, 0x2F, 0x30, 0x32,
                                  0x33, 0x34, 0x35, 0x38, 0x39)}
GR_EXT_MASK.update({0x21: 0x1F, 0x23: 0x1F, 0x25: 0x1F, 0x27: 0x1F, 0x2A: 0x3F, 0x2E: 0x3F})
CR_READABLE = set(range(0x19)) | {0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x22, 0x25, 0x27}
CR_WRITABLE = set(range(0x19)) | {0x19, 0x1A, 0x1B, 0x1C, 0x1D}
ST01_TOGGLE = 0x09


def _table(values: dict, n: int) -> list:
    return [values.get(i, 0) for i in range(n)]


@register
class CirrusVGA(PCIDevice):
    TYPE = "cirrus-vga"
    DESC = "Cirrus CLGD 54xx VGA (no display)"
    USER_CREATABLE = True
    VENDOR_ID, DEVICE_ID, REVISION = 0x1013, 0x00B8, 0x00
    CLASS_CODE = 0x030000
    BARS = (Bar(0, 32 << 20, "mem", prefetch=True), Bar(1, 0x1000, "mem"),
            Bar(6, 0x10000, "mem"))
    STATE = (
        Field("msr", "u8", 0, "misc output"),
        Field("fcr", "u8", 0, "feature control"),
        Field("st01", "u8", 0, "input status 1"),
        Field("sr_index", "u8", 0), Field("sr", "u8[256]", _table(SR_RESET, 256)),
        Field("gr_index", "u8", 0), Field("gr", "u8[256]", _table(GR_RESET, 256)),
        Field("cr_index", "u8", 0), Field("cr", "u8[256]", _table(CR_RESET, 256)),
        Field("ar_index", "u8", 0), Field("ar", "u8[21]", 0),
        Field("ar_flip_flop", "u8", 0, "0: next 0x3c0 write is an index"),
        Field("dac_state", "u8", 0), Field("dac_read_index", "u8", 0),
        Field("dac_write_index", "u8", 0), Field("dac_sub_index", "u8", 0),
        Field("dac_cache", "u8[3]", 0), Field("palette", "u8[768]", 0),
        Field("hidden_dac_lock", "u8", 0, "consecutive 0x3c6 reads"),
        Field("hidden_dac", "u8", 0, "the hidden DAC register"),
        Field("shadow_gr", "u8[2]", 0, "GR0/GR1 as written (they read back unmasked)"),
    )

    def realize(self) -> None:
        self.vram = RAMRegion(self, "vga.vram", VRAM_SIZE)
        bar0 = ContainerRegion(self, "cirrus-pci-bar0", 32 << 20)
        bar0.add_subregion(0, self.vram)
        bar0.add_subregion(0x1000000, self._mmio_region("cirrus-bitblt-mmio"))
        self.init_bar(0, bar0)
        self.init_bar(1, self._mmio_region("cirrus-mmio"))
        self.init_bar(6, ROMRegion(self, "cirrus-vga.rom", 0x10000))
        self.ports = IORegion(self, "cirrus-io", VGA_PORTS_SIZE, read=self._port_read,
                              write=self._port_write, min_access=1, max_access=2)
        super().realize()

    def plugged(self) -> None:
        self.map_fixed(VGA_PORTS, self.ports)

    def _mmio_region(self, name: str) -> IORegion:
        return IORegion(self, name, 0x1000, read=self._mmio_read, write=self._mmio_write,
                        min_access=1, max_access=4)

    # --- port access ------------------------------------------------------------------
    def _port_read(self, off: int, size: int) -> int:
        value = 0
        for i in range(size):
            value |= self.ioport_read(VGA_PORTS + off + i) << (8 * i)
        return value

    def _port_write(self, off: int, value: int, size: int) -> None:
        for i in range(size):
            self.ioport_write(VGA_PORTS + off + i, (value >> (8 * i)) & 0xFF)

    def _mmio_read(self, off: int, size: int) -> int:
        if off >= 0x100:
            log.log("unimp", f"cirrus-vga: BitBLT register read at 0x{off - 0x100:x}")
            return 0
        value = 0
        for i in range(size):
            value |= self.ioport_read(0x3C0 + off + i) << (8 * i)
        return value

    def _mmio_write(self, off: int, value: int, size: int) -> None:
        if off >= 0x100:
            log.log("unimp", f"cirrus-vga: BitBLT register write at 0x{off - 0x100:x}")
            return
        for i in range(size):
            self.ioport_write(0x3C0 + off + i, (value >> (8 * i)) & 0xFF)

    def _invalid(self, port: int) -> bool:
        """Ports of the mono (0x3bx) or colour (0x3dx) set that misc output deselects."""
        if 0x3B0 <= port <= 0x3BF:
            return bool(self.msr & 1)
        if 0x3D0 <= port <= 0x3DF:
            return not self.msr & 1
        return False

    def ioport_read(self, port: int) -> int:
        if self._invalid(port):
            return 0xFF
        if port == 0x3C0:
            return self.ar_index if self.ar_flip_flop == 0 else 0
        if port == 0x3C1:
            index = self.ar_index & 0x1F
            return self.ar[index] if index < 21 else 0
        if port == 0x3C2:
            return 0
        if port == 0x3C4:
            return self.sr_index
        if port == 0x3C5:
            return self._read_sr(self.sr_index)
        if port == 0x3C6:
            self.hidden_dac_lock += 1
            if self.hidden_dac_lock == 5:
                self.hidden_dac_lock = 0
                return self.hidden_dac
            return 0xFF
        if port == 0x3C7:
            return self.dac_state
        if port == 0x3C8:
            return self.dac_write_index
        if port == 0x3C9:
            value = self.palette[self.dac_read_index * 3 + self.dac_sub_index]
            self.dac_sub_index += 1
            if self.dac_sub_index == 3:
                self.dac_sub_index = 0
                self.dac_read_index = (self.dac_read_index + 1) & 0xFF
            return value
        if port == 0x3CA:
            return self.fcr
        if port == 0x3CC:
            return self.msr
        if port == 0x3CE:
            return self.gr_index
        if port == 0x3CF:
            if self.gr_index < 2:
                return self.shadow_gr[self.gr_index]
            return self.gr[self.gr_index] if self.gr_index < 0x3A else 0xFF
        if port in (0x3B4, 0x3D4):
            return self.cr_index
        if port in (0x3B5, 0x3D5):
            return self._read_cr(self.cr_index)
        if port in (0x3BA, 0x3DA):
            self.st01 ^= ST01_TOGGLE
            self.ar_flip_flop = 0
            return self.st01
        return 0xFF

    def ioport_write(self, port: int, value: int) -> None:
        if self._invalid(port):
            return
        if port == 0x3C0:
            if self.ar_flip_flop == 0:
                self.ar_index = value & 0x3F
            else:
                index = self.ar_index & 0x1F
                if index <= 0x0F:
                    self.ar[index] = value & 0x3F
                elif index in AR_MASK:
                    self.ar[index] = value & AR_MASK[index]
            self.ar_flip_flop ^= 1
        elif port == 0x3C2:
            self.msr = value & ~0x10
        elif port == 0x3C4:
            self.sr_index = value
        elif port == 0x3C5:
            self._write_sr(self.sr_index, value)
        elif port == 0x3C6:
            if self.hidden_dac_lock == 4:
                self.hidden_dac = value
            self.hidden_dac_lock = 0
        elif port == 0x3C7:
            self.dac_read_index, self.dac_sub_index, self.dac_state = value, 0, 3
        elif port == 0x3C8:
            self.dac_write_index, self.dac_sub_index, self.dac_state = value, 0, 0
        elif port == 0x3C9:
            self.dac_cache[self.dac_sub_index] = value
            self.dac_sub_index += 1
            if self.dac_sub_index == 3:
                base = self.dac_write_index * 3
                self.palette[base:base + 3] = list(self.dac_cache)
                self.dac_sub_index = 0
                self.dac_write_index = (self.dac_write_index + 1) & 0xFF
        elif port == 0x3CE:
            self.gr_index = value
        elif port == 0x3CF:
            self._write_gr(self.gr_index, value)
        elif port in (0x3B4, 0x3D4):
            self.cr_index = value
        elif port in (0x3B5, 0x3D5):
            self._write_cr(self.cr_index, value)
        elif port in (0x3BA, 0x3DA):
            self.fcr = value & 0x10

    # --- indexed registers ------------------------------------------------------------
    def _read_sr(self, index: int) -> int:
        if index <= 0x1F:
            return self.sr[index]
        if index & 0x1F == 0x10 or index & 0x1F == 0x11:
            return self.sr[index & 0x1F]          # cursor position aliases
        return 0xFF

    def _write_sr(self, index: int, value: int) -> None:
        if index < 8 and index != 6:
            self.sr[index] = value & SR_MASK[index]
        elif index == 6:
            self.sr[6] = 0x12 if value & 0x17 == 0x12 else 0x0F
        elif index == 0x17:
            self.sr[0x17] = (self.sr[0x17] & 0x38) | (value & 0xC7)
        elif index <= 0x1F:
            self.sr[index] = value
        elif index & 0x1F in (0x10, 0x11):
            self.sr[index & 0x1F] = value
        else:
            log.log("guest_errors", f"cirrus-vga: write to SR{index:02x}")

    def _write_gr(self, index: int, value: int) -> None:
        if index < 2:
            self.shadow_gr[index] = value
        if index < len(GR_MASK):
            self.gr[index] = value & (0x7F if index == 5 else GR_MASK[index])
        elif index == 0x31:
            if value & 0x02:
                log.log("unimp", "cirrus-vga: BitBLT start: the blitter is not modelled")
            self.gr[0x31] = value & ~0x03           # done at once: not busy, not started
        elif index in GR_EXT_MASK:
            self.gr[index] = value & GR_EXT_MASK[index]
        else:
            log.log("guest_errors", f"cirrus-vga: write to GR{index:02x} ignored")

    def _read_cr(self, index: int) -> int:
        if index == 0x24:
            return self.ar_flip_flop << 7
        if index == 0x26:
            return self.ar_index & 0x3F
        if index in CR_READABLE:
            return self.cr[index]
        return 0xFF

    def _write_cr(self, index: int, value: int) -> None:
        if self.cr[0x11] & 0x80 and index <= 7:   # CR0-7 write-protected (CR7 bit 4 not)
            if index == 7:
                self.cr[7] = (self.cr[7] & ~0x10) | (value & 0x10)
            return
        if index in CR_WRITABLE:
            self.cr[index] = value
        elif index not in (0x22, 0x24, 0x26, 0x27, 0x25):
            log.log("guest_errors", f"cirrus-vga: write to CR{index:02x}")
