"""Intel PIIX4 function 1: the IDE controller (8086:7111; QEMU type "piix4-ide").

Interface:
  * PCI function (Malta: device 10, function 1), class 01:01 programming interface 0x80
    (legacy mode, bus mastering), config space as QEMU 7.2 resets it.
  * Legacy ports, mapped in the PCI I/O space when the function is plugged: primary
    channel 0x1f0-0x1f7 and 0x3f6, secondary 0x170-0x177 and 0x376 ("ide").  The data
    port takes 16- and 32-bit accesses; 8-bit reads of it give 0xff.
  * BAR4: 16 bytes of I/O, the bus-master IDE registers, 8 per channel: command (+0:
    START bit 0, direction bit 3), status (+2: ACTIVE 0, ERROR 1 and INTERRUPT 2 write
    one to clear, drive-capable bits 5-6) and the PRD table address (+4, 32 bits).
  * ``irqs``: two IRQ outputs, the primary and secondary channels (ISA IRQ 14 and 15).
  * ``attach(index, backend, kind)``: the ``-drive if=ide,index=N`` unit: N 0-3 is
    channel N // 2, unit N % 2; kind "hd" or "cd" (backend None: an empty CD-ROM).
A DMA command (ATA READ/WRITE DMA, or an ATAPI packet with the DMA feature bit) runs
when both the command is issued and the bus master is started, in either order, as one
synchronous transfer through the PRD table into ``bus.dma`` (the CPU's physical
memory on Malta).  A PRD table shorter than the transfer fails the command and sets
the bus master's ERROR bit.

Not modelled: native-mode (PCI IRQ) operation, the IDE timing registers' effects.
See devices/ata.py for the drives.
"""
from __future__ import annotations

import struct

from pysystem import log
from pysystem.memory import BusError, IORegion
from pysystem.pci import Bar, PCIDevice
from pysystem.qom import Field, register

from .ata import IDEBus

LEGACY = ((0x1F0, 0x3F6), (0x170, 0x376))
BM_START, BM_WRITE_TO_MEMORY = 0x01, 0x08
BM_ACTIVE, BM_ERROR, BM_INT = 0x01, 0x02, 0x04


class _PRDMover:
    """Walks a PRD table: the IDE bus moves its data through it.  A table or buffer
    where nothing answers ends the transfer there (the command then fails)."""

    def __init__(self, dev: PCIDevice, table: int):
        self.dev, self.table = dev, table

    def _entries(self):
        addr = self.table
        for _ in range(4096):
            try:
                base, count, flags = struct.unpack("<IHH", self.dev.dma_read(addr, 8))
            except BusError as e:
                log.log("guest_errors", f"piix4-ide: PRD table: {e}")
                return
            yield base & ~1, count or 0x10000
            if flags & 0x8000:
                return
            addr += 8

    def to_memory(self, data: bytes) -> int:
        done = 0
        for base, count in self._entries():
            if done >= len(data):
                break
            part = data[done:done + count]
            try:
                self.dev.dma_write(base, part)
            except BusError as e:
                log.log("guest_errors", f"piix4-ide: DMA: {e}")
                break
            done += len(part)
        return done

    def from_memory(self, n: int) -> bytes:
        out = bytearray()
        for base, count in self._entries():
            if len(out) >= n:
                break
            try:
                out += self.dev.dma_read(base, min(count, n - len(out)))
            except BusError as e:
                log.log("guest_errors", f"piix4-ide: DMA: {e}")
                break
        return bytes(out)


@register
class PIIX4IDE(PCIDevice):
    TYPE = "piix4-ide"
    DESC = "PIIX4 IDE controller"
    VENDOR_ID, DEVICE_ID, REVISION = 0x8086, 0x7111, 0x00
    CLASS_CODE = 0x010180
    STATUS = 0x0280
    BARS = (Bar(4, 16, "io"),)
    STATE = (
        Field("bm_cmd", "u8[2]", 0, "bus-master command, per channel"),
        Field("bm_status", "u8[2]", 0, "bus-master status, per channel"),
        Field("bm_addr", "u32[2]", 0, "PRD table address, per channel"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.channels = [IDEBus("ide.0"), IDEBus("ide.1")]
        for n, ch in enumerate(self.channels):
            self.add_child(f"ide.{n}", ch)
            ch.on_irq = lambda n=n: self._channel_irq(n)
        self.irqs = [ch.irq for ch in self.channels]

    def realize(self) -> None:
        self.init_bar(4, IORegion(self, "bmdma", 16, read=self._bm_read, write=self._bm_write,
                                  min_access=1, max_access=4))
        self._legacy = []
        for n, (cmd, ctl) in enumerate(LEGACY):
            self._legacy.append((cmd, IORegion(self, "ide", 8, read=self._cmd_reader(n),
                                               write=self._cmd_writer(n), min_access=1,
                                               max_access=4)))
            self._legacy.append((ctl, IORegion(self, "ide", 1, read=self._ctl_reader(n),
                                               write=self._ctl_writer(n), min_access=1,
                                               max_access=1)))
        super().realize()

    def plugged(self) -> None:
        for port, region in self._legacy:
            self.map_fixed(port, region)

    def attach(self, index: int, backend, kind: str = "hd") -> None:
        if not 0 <= index < 4:
            raise ValueError(f"IDE index {index} out of range (0-3)")
        self.channels[index // 2].attach(index % 2, backend, kind, f"QM{index + 1:05d}")

    def device_reset(self) -> None:
        for ch in self.channels:
            ch.reset()

    # --- the legacy task-file ports -----------------------------------------------------
    def _cmd_reader(self, n: int):
        ch = self.channels[n]

        def read(off: int, size: int) -> int:
            if off == 0 and size > 1:
                return ch.data_read(size)
            return ch.read(off)
        return read

    def _cmd_writer(self, n: int):
        ch = self.channels[n]

        def write(off: int, value: int, size: int) -> None:
            if off == 0:
                if size > 1:
                    ch.data_write(value, size)
                return
            ch.write(off, value)
            if off == 7:
                self._maybe_dma(n)
        return write

    def _ctl_reader(self, n: int):
        return lambda off, size: self.channels[n].alt_status()

    def _ctl_writer(self, n: int):
        return lambda off, value, size: self.channels[n].control_write(value)

    # --- bus master ---------------------------------------------------------------------
    def _channel_irq(self, n: int) -> None:
        self.bm_status[n] |= BM_INT

    def _bm_read(self, off: int, size: int) -> int:
        value = 0
        for i in range(size):
            value |= self._bm_byte(off + i) << (8 * i)
        return value

    def _bm_byte(self, off: int) -> int:
        n, reg = off >> 3, off & 7
        if reg == 0:
            return self.bm_cmd[n]
        if reg == 2:
            return self.bm_status[n]
        if reg >= 4:
            return (self.bm_addr[n] >> (8 * (reg - 4))) & 0xFF
        return 0xFF

    def _bm_write(self, off: int, value: int, size: int) -> None:
        for i in range(size):
            self._bm_write_byte(off + i, (value >> (8 * i)) & 0xFF)

    def _bm_write_byte(self, off: int, value: int) -> None:
        n, reg = off >> 3, off & 7
        if reg == 0:
            self.bm_cmd[n] = value & (BM_START | BM_WRITE_TO_MEMORY)
            if not value & BM_START:
                self.bm_status[n] &= ~BM_ACTIVE
            elif not self.bm_status[n] & BM_ACTIVE:
                self.bm_status[n] |= BM_ACTIVE
                self._maybe_dma(n)
        elif reg == 2:
            s = self.bm_status[n]
            self.bm_status[n] = (value & 0x60) | (s & BM_ACTIVE) | (s & ~value & 0x06)
        elif reg >= 4:
            shift = 8 * (reg - 4)
            addr = (self.bm_addr[n] & ~(0xFF << shift)) | (value << shift)
            self.bm_addr[n] = addr & 0xFFFFFFFC

    def _maybe_dma(self, n: int) -> None:
        ch = self.channels[n]
        if not self.bm_status[n] & BM_ACTIVE or ch.dma_pending() is None:
            return
        if self.bus is None or self.bus.dma is None:
            log.log("guest_errors", "piix4-ide: bus-master DMA with no memory to reach")
            return
        ok = ch.dma_run(_PRDMover(self, self.bm_addr[n]))
        self.bm_status[n] &= ~BM_ACTIVE
        if not ok:
            self.bm_status[n] |= BM_ERROR
