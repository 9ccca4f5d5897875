"""virtio-blk: a block device behind a virtio transport (QEMU type "virtio-blk-device").

Created with ``-device virtio-blk-device,drive=ID`` (user-creatable) or by the
board for ``-drive if=virtio``; it plugs into a virtio-mmio transport.
Properties:
  drive       any  - the BlockBackend (pysystem.block.open_drive); required
  serial      str  - the string GET_ID returns (with its NUL, at most 20 bytes)
  queue-size  uint16 (default 256) - sets seg_max = queue-size - 2, as QEMU does
  share-rw    bool - other writers of the image are allowed (pysystem/block_lock.py)
Features offered: SEG_MAX, BLK_SIZE, FLUSH, TOPOLOGY, RO (read-only drive) and the
ring's INDIRECT_DESC.  Config space (little-endian): capacity in 512-byte
sectors, size_max 0, seg_max, geometry 0, blk_size 512, topology (1:1,
alignment 0, min/opt I/O 0), writeback 0, num_queues 1.
Requests IN, OUT, FLUSH and GET_ID; others complete with UNSUPP.  A request is
served synchronously when the driver notifies: data goes to the backend (which
writes straight to the image file), FLUSH fsyncs the image before the status is
returned.  Out-of-range sectors, data not a multiple of 512 bytes, writes to a
read-only drive and backend errors complete with IOERR.  A request whose header
is shorter than 16 bytes or that has no status byte breaks the device
(see devices/virtio.py).  One queue; no DISCARD / WRITE_ZEROES / MQ / EVENT_IDX.
"""
from __future__ import annotations

import os
import struct
import tempfile

from pysystem import log
from pysystem.block import BlockBackend, BlockError, open_drive
from pysystem.qom import Property, QOMError, register

from .virtio import VirtIODevice, queue_fields
from .virtqueue import Element, VirtQueueError

VIRTIO_ID_BLOCK = 2

F_SIZE_MAX = 1
F_SEG_MAX = 2
F_RO = 5
F_BLK_SIZE = 6
F_FLUSH = 9
F_TOPOLOGY = 10

T_IN = 0
T_OUT = 1
T_FLUSH = 4
T_GET_ID = 8
T_BARRIER = 0x80000000

S_OK = 0
S_IOERR = 1
S_UNSUPP = 2

SECTOR = 512
ID_BYTES = 20
_HEADER = struct.Struct("<IIQ")


@register
class VirtIOBlock(VirtIODevice):
    TYPE = "virtio-blk-device"
    DESC = "Virtio block device"
    USER_CREATABLE = True
    DEVICE_ID = VIRTIO_ID_BLOCK
    NUM_QUEUES = 1
    PROPERTIES = (
        Property("drive", "any", None, "block backend (the -drive id=...)"),
        Property("serial", "str", "", "disk serial number returned by GET_ID"),
        Property("queue-size", "uint16", 256, "virtqueue size; seg_max is two less"),
        Property("share-rw", "bool", False, "let other users write the image (its locks)"),
    )
    STATE = queue_fields(NUM_QUEUES)

    def realize(self) -> None:
        if self.drive is None:
            raise QOMError("virtio-blk-device: drive property not set")
        if not isinstance(self.drive, BlockBackend):
            raise QOMError("virtio-blk-device: property 'drive' expects a block backend")
        if not 4 < self.queue_size <= 1024 or self.queue_size & (self.queue_size - 1):
            raise QOMError("virtio-blk-device: queue-size must be a power of 2 in 8..1024")
        super().realize()

    @classmethod
    def example(cls) -> "VirtIOBlock":
        fd, path = tempfile.mkstemp(suffix=".img")
        os.ftruncate(fd, 64 * 1024)
        os.close(fd)
        try:
            dev = cls(drive=open_drive(path))
        finally:
            os.unlink(path)   # the open descriptor keeps the file alive
        dev.realize()
        dev.reset()
        return dev

    # --- features and config --------------------------------------------------------
    def device_features(self) -> int:
        bits = (1 << F_SEG_MAX) | (1 << F_BLK_SIZE) | (1 << F_FLUSH) | (1 << F_TOPOLOGY)
        if self.drive.readonly:
            bits |= 1 << F_RO
        return bits

    def config_bytes(self) -> bytes:
        return struct.pack(
            "<QIIHBBIBBHIBBH",
            self.drive.size // SECTOR,      # capacity
            0,                              # size_max
            self.queue_size - 2,            # seg_max
            0, 0, 0,                        # geometry: cylinders, heads, sectors
            SECTOR,                         # blk_size
            0, 0, 0, 0,                     # topology: phys exp, align, min_io, opt_io
            0, 0, 1,                        # writeback, unused, num_queues
        )

    # --- requests -------------------------------------------------------------------
    def handle_element(self, index: int, elem: Element) -> int:
        mem = self.bus.memory
        if elem.out_len < _HEADER.size:
            raise VirtQueueError(f"request header of {elem.out_len} bytes (needs 16)")
        if elem.in_len < 1:
            raise VirtQueueError("request without a status byte")
        rtype, _prio, sector = _HEADER.unpack(elem.read(mem, 0, _HEADER.size))
        rtype &= ~T_BARRIER
        data_in = elem.in_len - 1          # device-writable bytes before the status
        try:
            if rtype == T_IN:
                status = self._read(mem, elem, sector, data_in)
            elif rtype == T_OUT:
                status = self._write(mem, elem, sector, elem.out_len - _HEADER.size)
            elif rtype == T_FLUSH:
                self.drive.flush()
                status = S_OK
            elif rtype == T_GET_ID:   # the serial and its NUL, at most 20 bytes (as QEMU)
                ident = self.serial.encode() + b"\x00"
                elem.write(mem, 0, ident[:min(ID_BYTES, data_in)])
                status = S_OK
            else:
                log.log("guest_errors", f"virtio-blk: unsupported request type {rtype}")
                status = S_UNSUPP
        except BlockError as e:
            log.log("guest_errors", f"virtio-blk: {e}")
            status = S_IOERR
        elem.write(mem, data_in, bytes((status,)))
        return elem.in_len

    def _in_range(self, sector: int, n: int) -> bool:
        if n % SECTOR:
            log.log("guest_errors", f"virtio-blk: transfer of {n} bytes is not whole sectors")
            return False
        if sector * SECTOR + n > self.drive.size:
            log.log("guest_errors", f"virtio-blk: sector {sector} + {n // SECTOR} is beyond the "
                                    f"end of the disk ({self.drive.size // SECTOR} sectors)")
            return False
        return True

    def _read(self, mem, elem: Element, sector: int, n: int) -> int:
        if not self._in_range(sector, n):
            return S_IOERR
        elem.write(mem, 0, self.drive.read(sector * SECTOR, n))
        return S_OK

    def _write(self, mem, elem: Element, sector: int, n: int) -> int:
        if self.drive.readonly:
            log.log("guest_errors", "virtio-blk: write to a read-only drive")
            return S_IOERR
        if not self._in_range(sector, n):
            return S_IOERR
        self.drive.write(sector * SECTOR, elem.read(mem, _HEADER.size, n))
        return S_OK
