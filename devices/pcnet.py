"""AMD PCnet-PCI II (Am79C970A) Ethernet controller (1022:2000; QEMU type "pcnet").

Interface:
  * PCI function (Malta: slot 11), config space as QEMU 7.2's: class 02:00 revision
    0x10, subsystem 0000:0000, INTA, MIN_GNT 6, MAX_LAT 0xff.
  * BAR0: 32 bytes of I/O; BAR1: the same 32 bytes as memory; ROM BAR: 256 KiB (QEMU
    loads its efi-pcnet.rom there; here it reads as zeros).  Bytes 0x00-0x0f are the
    address PROM (the MAC, 00 11 at 8-9, a checksum word at 12, "WW" at 14); in word
    I/O mode RDP is at 0x10, RAP 0x12, RESET 0x14, BDP 0x16; a 32-bit write to 0x10
    switches to dword I/O mode (RDP 0x10, RAP 0x14, RESET 0x18, BDP 0x1c).
  * CSRs and BCRs (128 and 36 registers, through RAP) with QEMU's reset values;
    CSR88/89 identify the chip (0x02621003: "PCnet/PCI II 79C970A" to Linux's pcnet32).
  * INTA: CSR0.INTR (any of BABL, MISS, MERR, RINT, TINT, IDON not masked in CSR3)
    while CSR0.INEA is set.
Property ``mac`` (default 52:54:00:12:34:56, QEMU's first NIC).

Behaviour: CSR0 INIT reads the initialization block (16- or 32-bit layout by
BCR20.SWSTYLE) from memory through the bus master, loads mode, address, filter,
ring lengths and counters and sets IDON; STRT sets TXON/RXON; STOP stops and
resets the status; interrupt bits are cleared by writing one.
Transmit (TDMD, or any CSR0 write while TXON): each descriptor the driver owns
is taken in ring order, its buffer gathered from STP to ENP, and the frame goes
to the ``netdev`` backend (pysystem/net/client.py; without one it is dropped);
OWN is cleared in each descriptor and TINT set after each frame.  Receive
(``receive(frame)``): frames shorter than 60 bytes are padded, the FCS appended,
and the bytes spread over the descriptors the driver owns from the current one
(STP on the first, ENP and the message length on the last); RINT is set.  With
no descriptor owned the frame is not taken (the backend offers it again at the
next CSR0 write or host poll).  Frames are accepted for the station address,
broadcast, any multicast, or all in promiscuous mode (CSR15 bit 15).
Link status: BCR4-7 read bit 15 set when their enable bits include LNKSTE (0x40) and
the backend's link is up (``set_link``), as QEMU's lnkst; Linux's pcnet32 polls BCR4.
Not modelled: the MII/PHY, the EEPROM, timers, loopback, the logical address
filter (multicast is accepted), descriptor error bits other than OWN.
"""
from __future__ import annotations

import re
import struct
import zlib

from pysystem import log
from pysystem.memory import BusError, IORegion, ROMRegion
from pysystem.pci import Bar, CfgReg, PCIDevice
from pysystem.qom import Field, Property, QOMError, register

CSR0_INIT, CSR0_STRT, CSR0_STOP, CSR0_TDMD = 0x0001, 0x0002, 0x0004, 0x0008
CSR0_TXON, CSR0_RXON, CSR0_INEA, CSR0_INTR = 0x0010, 0x0020, 0x0040, 0x0080
CSR0_IDON, CSR0_TINT, CSR0_RINT, CSR0_MERR = 0x0100, 0x0200, 0x0400, 0x0800
CSR0_MISS, CSR0_CERR, CSR0_BABL, CSR0_ERR = 0x1000, 0x2000, 0x4000, 0x8000
CSR0_W1C = CSR0_IDON | CSR0_TINT | CSR0_RINT | CSR0_MERR | CSR0_MISS | CSR0_CERR | CSR0_BABL
CSR0_SOURCES = CSR0_BABL | CSR0_MISS | CSR0_MERR | CSR0_RINT | CSR0_TINT | CSR0_IDON
BCR_DWIO_BIT, BCR_SWSTYLE = 18, 20
LNKST = 0x40                # the LED status bit that is link status (BCR4's LNKSTE)

# reset values (QEMU 7.2, read back through RAP/RDP/BDP)
CSR_RESET = {0: 0x0004, 4: 0x0115, 58: 0x0200, 72: 1, 74: 1, 76: 1, 78: 1, 80: 0x1410,
             88: 0x1003, 89: 0x0262, 100: 0x0200, 103: 0x0105}
BCR_RESET = {0: 0x0005, 1: 0x0005, 2: 0x0002, 4: 0x00C0, 5: 0x0084, 6: 0x0088, 7: 0x0090,
             18: 0x9001, 19: 0x0002, 20: 0x0200, 22: 0xFF06}


def _table(values: dict, n: int) -> list:
    return [values.get(i, 0) for i in range(n)]


def parse_mac(text: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text):
        raise QOMError(f"Property 'mac' doesn't take value '{text}'")
    return bytes(int(x, 16) for x in text.split(":"))


@register
class PCNet(PCIDevice):
    TYPE = "pcnet"
    DESC = "AMD PCnet-PCI II Ethernet"
    USER_CREATABLE = True
    VENDOR_ID, DEVICE_ID, REVISION = 0x1022, 0x2000, 0x10
    CLASS_CODE = 0x020000
    STATUS = 0x0280
    SUBSYSTEM = (0, 0)
    INTERRUPT_PIN = 1
    BARS = (Bar(0, 32, "io"), Bar(1, 32, "mem"), Bar(6, 0x40000, "mem"))
    CONFIG = (CfgReg("MIN_GNT", 0x3E, 1, 0x06, wmask=0), CfgReg("MAX_LAT", 0x3F, 1, 0xFF, wmask=0))
    PROPERTIES = (Property("mac", "str", "52:54:00:12:34:56", "MAC address"),
                  Property("netdev", "any", None, "network backend (pysystem/net); none drops frames"))
    STATE = (
        Field("rap", "u8", 0, "register address pointer"),
        Field("csr", "u16[128]", _table(CSR_RESET, 128), "control and status registers"),
        Field("bcr", "u16[36]", _table(BCR_RESET, 36), "bus configuration registers"),
        Field("prom", "u8[16]", 0, "the address PROM"),
        Field("rdra", "u32", 0, "receive ring base from the initialization block"),
        Field("tdra", "u32", 0, "transmit ring base from the initialization block"),
    )

    def realize(self) -> None:
        self._mac = parse_mac(self.mac)
        self.init_bar(0, IORegion(self, "pcnet-io", 32, read=self._read, write=self._write,
                                  min_access=1, max_access=4))
        self.init_bar(1, IORegion(self, "pcnet-mmio", 32, read=self._read, write=self._write,
                                  min_access=1, max_access=4))
        self.init_bar(6, ROMRegion(self, "pcnet.rom", 0x40000))
        super().realize()
        if self.netdev is not None and hasattr(self.netdev, "attach"):
            self.netdev.attach(self)

    def device_reset(self) -> None:
        prom = bytearray(self._mac + bytes((0, 0, 0, 0x11, 0, 0, 0, 0, 0x57, 0x57)))
        struct.pack_into("<H", prom, 12, sum(prom) & 0xFFFF)
        self.prom = list(prom)
        for i in range(3):
            self.csr[12 + i] = struct.unpack_from("<H", self._mac, 2 * i)[0]
        self._update_irq()

    # --- the register window ----------------------------------------------------------
    def _dwio(self) -> bool:
        return bool(self.bcr[BCR_DWIO_BIT] & 0x80)

    def _read(self, off: int, size: int) -> int:
        if off < 0x10:
            return int.from_bytes(bytes(self.prom[off:off + size]), "little")
        reg = self._which(off, size)
        if reg == "rdp":
            return self._read_csr(self.rap)
        if reg == "rap":
            return self.rap
        if reg == "reset":
            self._soft_reset()
            return 0
        if reg == "bdp":
            return self._read_bcr(self.rap)
        return 0xFFFFFFFF if size == 4 else (1 << (8 * size)) - 1

    def _write(self, off: int, value: int, size: int) -> None:
        if off < 0x10:
            return
        if size == 4 and off == 0x10 and not self._dwio():
            self.bcr[BCR_DWIO_BIT] |= 0x80     # a dword write to RDP selects 32-bit I/O
        reg = self._which(off, size)
        if reg == "rdp":
            self._write_csr(self.rap, value & 0xFFFF)
        elif reg == "rap":
            self.rap = value & 0x7F
        elif reg == "bdp":
            self._write_bcr(self.rap, value & 0xFFFF)

    def _which(self, off: int, size: int):
        if self._dwio():
            if size != 4:
                return None
            return {0x10: "rdp", 0x14: "rap", 0x18: "reset", 0x1C: "bdp"}.get(off)
        if size != 2:
            return None
        return {0x10: "rdp", 0x12: "rap", 0x14: "reset", 0x16: "bdp"}.get(off)

    def _soft_reset(self) -> None:
        self.csr[0] = CSR0_STOP
        self.csr[3] = 0
        self.csr[4] = CSR_RESET[4]
        self.csr[5] = 0
        self.csr[15] = 0
        self.csr[58] = CSR_RESET[58]
        self.bcr[BCR_DWIO_BIT] &= ~0x80
        self.bcr[BCR_SWSTYLE] = CSR_RESET[58]
        self._update_irq()

    # --- CSRs and BCRs ----------------------------------------------------------------
    def _read_csr(self, n: int) -> int:
        value = self.csr[n]
        if n == 0:
            value = self._csr0()
        return value

    def _csr0(self) -> int:
        value = self.csr[0] & ~(CSR0_INTR | CSR0_ERR)
        if value & (CSR0_BABL | CSR0_CERR | CSR0_MISS | CSR0_MERR):
            value |= CSR0_ERR
        if self._pending():
            value |= CSR0_INTR
        return value

    def _pending(self) -> bool:
        masked = 0
        csr3 = self.csr[3]
        for bit, mask in ((CSR0_IDON, 0x0100), (CSR0_TINT, 0x0200), (CSR0_RINT, 0x0400),
                          (CSR0_MERR, 0x0800), (CSR0_MISS, 0x1000), (CSR0_BABL, 0x4000)):
            if csr3 & mask:
                masked |= bit
        return bool(self.csr[0] & CSR0_SOURCES & ~masked)

    def _write_csr(self, n: int, value: int) -> None:
        if n == 0:
            self._write_csr0(value)
        elif n in (88, 89):
            pass                                     # chip id: read-only
        elif n == 58:
            self.csr[58] = value
            self.bcr[BCR_SWSTYLE] = value
        else:
            self.csr[n] = value
            if n == 3:
                self._update_irq()

    def _write_csr0(self, value: int) -> None:
        csr0 = self.csr[0]
        csr0 &= ~(value & CSR0_W1C)
        csr0 = (csr0 & ~CSR0_INEA) | (value & CSR0_INEA)
        self.csr[0] = csr0
        if value & CSR0_STOP:       # QEMU's pcnet_stop: everything but STOP and TXON cleared
            self.csr[0] = 0x0014
            self._update_irq()
            return
        if value & CSR0_INIT:
            self._init()
        if value & CSR0_STRT:           # TXON/RXON unless the mode disables them (DTX, DRX)
            on = (0 if self.csr[15] & 0x0002 else CSR0_TXON) | \
                (0 if self.csr[15] & 0x0001 else CSR0_RXON)
            self.csr[0] = (self.csr[0] & ~CSR0_STOP) | CSR0_STRT | on
        if value & CSR0_TDMD and not self.csr[0] & CSR0_STOP:
            self.csr[0] |= CSR0_TDMD        # stays set until a descriptor is found (QEMU)
            self._transmit()
        self._update_irq()
        if self.netdev is not None and self.csr[0] & CSR0_RXON:
            self.netdev.flush()             # descriptors may have been handed back

    def _desc(self, ring: int, count_reg: int, len_reg: int):
        """(address, 32-bit layout?) of the ring's current descriptor."""
        style = self.bcr[BCR_SWSTYLE] & 0xFF
        wide = style in (2, 3)
        index = self.csr[len_reg] - self.csr[count_reg]
        return ring + index * (16 if wide else 8), wide

    def _advance(self, count_reg: int, len_reg: int) -> None:
        n = self.csr[count_reg]
        self.csr[count_reg] = self.csr[len_reg] if n <= 1 else n - 1

    def _read_desc(self, addr: int, wide: bool):
        """(buffer address, byte count, status) of a descriptor."""
        if wide:
            base, bcnt, status = struct.unpack("<IhH", self.dma_read(addr, 8))
        else:
            lo, hi, status, bcnt = struct.unpack("<HBBh", self.dma_read(addr, 6))
            base, status = lo | hi << 16, status << 8
        return base, (-bcnt) & 0xFFF, status

    def _write_status(self, addr: int, wide: bool, status: int) -> None:
        if wide:
            self.dma_write(addr + 6, struct.pack("<H", status))
        else:
            self.dma_write(addr + 3, bytes((status >> 8,)))

    def _transmit(self) -> None:
        """Send every frame whose descriptors the driver owns (STP..ENP gathered)."""
        if not self.csr[0] & CSR0_TXON:
            self.csr[0] &= ~CSR0_TDMD
            return
        frame = bytearray()
        for _ in range(self.csr[78]):
            addr, wide = self._desc(self.tdra, 74, 78)
            try:
                base, count, status = self._read_desc(addr, wide)
                if not status & 0x8000:                   # OWN: not ours
                    return
                if status & 0x0200:                       # STP: a new frame
                    frame = bytearray()
                if len(frame) + count <= 4096:
                    frame += self.dma_read(base, count)
                self._write_status(addr, wide, status & ~0x8000)
            except BusError as e:           # an address nothing answers, or read-only
                log.log("guest_errors", f"pcnet: transmit descriptor at 0x{addr:x}: {e}")
                self.csr[0] |= CSR0_MERR
                return
            self.csr[0] &= ~CSR0_TDMD
            self._advance(74, 78)
            if status & 0x0100:                           # ENP: end of a frame
                if self.netdev is not None:
                    self.netdev.send(bytes(frame))
                else:
                    log.log("trace", "pcnet: frame dropped (no network backend)")
                frame = bytearray()
                self.csr[0] |= CSR0_TINT

    def _accept(self, dest: bytes) -> bool:
        return bool(self.csr[15] & 0x8000) or dest[0] & 1 or dest == self._station()

    def _station(self) -> bytes:
        return b"".join(struct.pack("<H", self.csr[12 + i]) for i in range(3))

    def receive(self, frame: bytes) -> bool:
        """A frame from the network: False when no receive descriptor is free."""
        if not self.csr[0] & CSR0_RXON or self.csr[0] & CSR0_STOP or len(frame) < 14:
            return False
        if not self._accept(frame[:6]):
            return True                                   # filtered out: consumed
        data = bytes(frame) + bytes(max(0, 60 - len(frame)))
        data += (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little")
        try:
            return self._store(data)
        except BusError as e:
            log.log("guest_errors", f"pcnet: receive descriptor: {e}")
            self.csr[0] |= CSR0_MERR
            self._update_irq()
            return True

    def _store(self, data: bytes) -> bool:
        first, wide = self._desc(self.rdra, 72, 76)
        if not self._read_desc(first, wide)[2] & 0x8000:
            return False
        # enough descriptors owned for the whole frame?
        need, saved = len(data), self.csr[72]
        owned = []
        for _ in range(self.csr[76]):
            addr, _ = self._desc(self.rdra, 72, 76)
            base, count, status = self._read_desc(addr, wide)
            if not status & 0x8000 or count == 0:
                break
            owned.append((addr, base, count))
            need -= count
            self._advance(72, 76)
            if need <= 0:
                break
        if need > 0:
            self.csr[72] = saved
            return False
        pos = 0
        for n, (addr, base, count) in enumerate(owned):
            chunk = data[pos:pos + count]
            self.dma_write(base, chunk)
            pos += len(chunk)
            status = (0x0200 if n == 0 else 0) | (0x0100 if n == len(owned) - 1 else 0)
            if n == len(owned) - 1:
                if wide:
                    self.dma_write(addr + 8, struct.pack("<I", len(data)))
                else:
                    self.dma_write(addr + 6, struct.pack("<H", len(data)))
            self._write_status(addr, wide, status)
        self.csr[0] |= CSR0_RINT
        self._update_irq()
        return True

    def _init(self) -> None:
        addr = self.csr[1] | self.csr[2] << 16
        try:
            if self.bcr[BCR_SWSTYLE] & 0xFF in (2, 3):
                mode, rlen, tlen = struct.unpack("<HBB", self.dma_read(addr, 4))
                padr = self.dma_read(addr + 4, 6)
                ladrf = self.dma_read(addr + 12, 8)
                rdra, tdra = struct.unpack("<II", self.dma_read(addr + 20, 8))
                rlen, tlen = rlen >> 4, tlen >> 4
            else:
                block = self.dma_read(addr, 24)
                mode = struct.unpack_from("<H", block, 0)[0]
                padr, ladrf = block[2:8], block[8:16]
                rdra, tdra = struct.unpack_from("<II", block, 16)
                rlen, tlen = rdra >> 29, tdra >> 29
                rdra &= 0xFFFFFF
                tdra &= 0xFFFFFF
        except BusError as e:            # an address nothing answers
            log.log("guest_errors", f"pcnet: initialization block at 0x{addr:x}: {e}")
            self.csr[0] |= CSR0_MERR
            return
        self.csr[15] = mode
        for i in range(3):
            self.csr[12 + i] = struct.unpack_from("<H", padr, 2 * i)[0]
        for i in range(4):
            self.csr[8 + i] = struct.unpack_from("<H", ladrf, 2 * i)[0]
        self.rdra, self.tdra = rdra, tdra
        self.csr[76] = (1 << rlen) if rlen < 9 else 512
        self.csr[78] = (1 << tlen) if tlen < 9 else 512
        self.csr[72], self.csr[74] = self.csr[76], self.csr[78]    # ring counters
        self.csr[0] = (self.csr[0] & ~CSR0_STOP) | CSR0_IDON | CSR0_INIT

    def _read_bcr(self, n: int) -> int:
        if 4 <= n <= 7:                     # LED registers: bit 15 shows their enabled status
            lnkst = LNKST if self.netdev is None or getattr(self.netdev, "link_up", True) else 0
            value = self.bcr[n] & ~0x8000
            return value | (0x8000 if value & 0x017F & lnkst else 0)
        return self.bcr[n] if n < len(self.bcr) else 0

    def set_link_status(self, up: bool) -> None:
        """``set_link``: BCR4 (LED0, link status) reads the backend's ``link_up``."""

    def _write_bcr(self, n: int, value: int) -> None:
        if n >= len(self.bcr) or n in (4, 5, 6, 7):
            return
        if n == BCR_SWSTYLE:
            value &= ~0x0300
            style = value & 0xFF
            if style in (2, 3):
                value |= 0x0300
            elif style == 1:
                value |= 0x0100
            elif style == 0:
                value |= 0x0200
            else:
                log.log("guest_errors", f"pcnet: bad software style {style}")
                value = 0x0200
            self.csr[58] = value
        self.bcr[n] = value

    def _update_irq(self) -> None:
        self.set_irq(1 if self.csr[0] & CSR0_INEA and self._pending() else 0)
