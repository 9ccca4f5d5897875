"""CFI parallel NOR flash with the Intel/Sharp command set (QEMU's ``cfi.pflash01``).

Interface:
  * MMIO region 0: a ROM device of ``num-blocks * sector-length`` bytes named
    ``name``.  In ROMD mode (read array) the CPU reads the contents directly;
    the first command written switches it to I/O mode, where reads answer with
    status, IDs or CFI data, until a command returns it to read array.
  * No IRQ outputs.
  * Properties (QEMU's): ``drive`` (a block backend from ``-drive if=pflash``,
    or none: the flash then starts as zeros, as QEMU's does), ``num-blocks``,
    ``sector-length``, ``width`` (bank width in bytes), ``device-width``,
    ``max-device-width`` (defaults to ``device-width``), ``big-endian``,
    ``secure`` (accepted, not modelled: every access is treated as secure),
    ``id0``-``id3``, ``name``, ``old-multiple-chip-handling``.
    vexpress: 256 blocks of 256 KiB, width 4, device-width 2, id0 0x89, id1 0x18.
  * A drive must be exactly the flash's size (QEMU's message otherwise); a
    read-only drive makes programming and erasing fail with the status error
    bits set.  Every program or erase is written through to the drive at once
    (whole 512-byte sectors), so the image holds what the guest wrote.

Commands (QEMU 7.2's hw/block/pflash_cfi01.c; ``cmd`` 0x00 is read array):
  0xff/0xf0/0x00 read array; 0x70 read status; 0x50 clear status; 0x90 read
  identifier (offset 0: manufacturer ``id0``, 1: device ``id1``, per device,
  replicated across the bank); 0x98 CFI query (the standard table: "QRY",
  Intel command set, size, one uniform erase region, "PRI" 1.0 extended table);
  0x20 block erase (the block is erased at once; 0xd0 confirms); 0x10/0x40
  word program; 0xe8 buffered program (count, data, 0xd0 confirm; the data is
  written as it arrives, as in QEMU); 0x60 block lock/unlock (accepted, nothing
  is ever locked).  Status reads return the status byte once per device in the
  bank (0x80 ready; 0x10 program error, 0x20 erase error on a read-only drive).
  Anything else is logged under ``-d unimp`` and returns to read array.

Not modelled: timing (everything completes at once), erase suspend, block
locking, protection registers, the write buffer's abort semantics.
"""
from __future__ import annotations

import mmap
import sys
from typing import Optional

from pysystem import log
from pysystem.block import BlockError, SECTOR_SIZE
from pysystem.memory import ROMDeviceRegion
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register

CMD_READ_ARRAY = 0x00     # QEMU's reset value for READ_ARRAY
STATUS_READY, STATUS_PROGRAM_ERROR, STATUS_ERASE_ERROR = 0x80, 0x10, 0x20
CFI_TABLE_SIZE = 0x52
STATUS_COMMANDS = (0x10, 0x20, 0x28, 0x40, 0x50, 0x60, 0x70, 0xE8)


def _ctz(v: int) -> int:
    return (v & -v).bit_length() - 1 if v else 32


def _deposit(value: int, shift: int, length: int, field: int) -> int:
    mask = ((1 << length) - 1) << shift
    return ((value & ~mask) | ((field << shift) & mask)) & 0xFFFFFFFF


class _NameProperty(Property):
    """The ``name`` property, kept in ``region_name``: ``Object.name`` is the node's tree name."""

    __slots__ = ()

    @property
    def attr(self) -> str:
        return "region_name"


@register
class PFlashCFI01(SysBusDevice):
    TYPE = "cfi.pflash01"
    DESC = "CFI parallel flash, Intel command set"

    PROPERTIES = (
        Property("drive", "any", None, "block backend holding the contents (none: zeros)"),
        Property("num-blocks", "uint32", 0, "number of erase blocks visible to the guest"),
        Property("sector-length", "uint64", 0, "erase block size in bytes"),
        Property("width", "uint8", 0, "bank width in bytes (1, 2 or 4)"),
        Property("device-width", "uint8", 0, "width of each flash chip in the bank (0: legacy)"),
        Property("max-device-width", "uint8", 0, "chip's maximum width (0: device-width)"),
        Property("big-endian", "bool", False, "data byte order"),
        Property("secure", "bool", False, "secure-only access (not modelled)"),
        Property("id0", "uint16", 0, "manufacturer ID"),
        Property("id1", "uint16", 0, "device ID"),
        Property("id2", "uint16", 0, "extra ID (legacy mode)"),
        Property("id3", "uint16", 0, "extra ID (legacy mode)"),
        _NameProperty("name", "str", None, "memory region name"),
        Property("old-multiple-chip-handling", "bool", False, "QEMU <= 2.x CFI geometry"),
    )
    STATE = (
        Field("wcycle", "u8", 0, "write cycle of the command sequence (0: none under way)"),
        Field("cmd", "u8", CMD_READ_ARRAY, "current command"),
        Field("status", "u8", STATUS_READY, "status register"),
        Field("counter", "u64", 0, "buffered program: words still to come"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.region: Optional[ROMDeviceRegion] = None
        self.storage: Optional[mmap.mmap] = None
        self.ro = False
        self.cfi_table = bytearray(CFI_TABLE_SIZE)
        self.writeblock_size = 0

    # --- lifecycle --------------------------------------------------------------------
    def realize(self) -> None:
        if not self.sector_length:
            raise QOMError('attribute "sector-length" not specified or zero.')
        if not self.num_blocks:
            raise QOMError('attribute "num-blocks" not specified or zero.')
        if self.region_name is None:
            raise QOMError('attribute "name" not specified.')
        if self.width not in (1, 2, 4):
            raise QOMError(f"{self.region_name}: width must be 1, 2 or 4")
        total = self.sector_length * self.num_blocks
        self.region = ROMDeviceRegion(self, self.region_name, total, read=self._io_read,
                                      write=self._io_write, min_access=1, max_access=4,
                                      endianness="native")
        self.storage = self.region.data
        drive = self.drive
        if drive is not None:
            self.ro = bool(drive.readonly)
            if drive.size != total:
                raise QOMError(f"device requires {total} bytes, block backend provides "
                               f"{drive.size} bytes")
            try:
                self.storage[:] = drive.read(0, total)   # QEMU reads the whole image too
            except BlockError as e:
                raise QOMError(f"can't read block backend: {e}") from None
        if not self.max_device_width:
            self.max_device_width = self.device_width
        self._fill_cfi_table()
        self.init_mmio(self.region)
        super().realize()

    @classmethod
    def example(cls) -> "PFlashCFI01":
        dev = cls(name="example.flash", **{"num-blocks": 4, "sector-length": 0x1000,
                                           "width": 4, "device-width": 2, "id0": 0x89,
                                           "id1": 0x18})
        dev.realize()
        dev.reset()
        return dev

    def reset(self) -> None:
        super().reset()
        if self.region is not None:
            self.region.set_romd(True)

    def post_load(self) -> None:
        if self.region is not None:
            self.region.set_romd(self.cmd == CMD_READ_ARRAY)

    def _fill_cfi_table(self) -> None:
        t = self.cfi_table
        num_devices = self.width // self.device_width if self.device_width else 1
        if self.old_multiple_chip_handling:
            blocks = self.num_blocks // num_devices
            sector = self.sector_length
        else:
            blocks = self.num_blocks
            sector = self.sector_length // num_devices
        device_len = sector * blocks
        t[0x10:0x13] = b"QRY"
        t[0x13], t[0x14] = 0x01, 0x00            # Intel command set
        t[0x15], t[0x16] = 0x31, 0x00            # primary extended table at 0x31
        t[0x1B], t[0x1C] = 0x45, 0x55            # Vcc min/max
        t[0x1F], t[0x20], t[0x21] = 0x07, 0x07, 0x0A   # typical timeouts
        t[0x23], t[0x24], t[0x25] = 0x04, 0x04, 0x04   # maximum timeouts
        t[0x27] = _ctz(device_len) & 0xFF       # device size, log2
        t[0x28], t[0x29] = 0x02, 0x00            # x8/x16 interface
        t[0x2A] = 0x08 if self.width == 1 else 0x0B    # write buffer, log2
        self.writeblock_size = 1 << t[0x2A]
        if not self.old_multiple_chip_handling and num_devices > 1:
            self.writeblock_size *= num_devices
        t[0x2C] = 0x01                           # one erase block region
        t[0x2D] = (blocks - 1) & 0xFF
        t[0x2E] = ((blocks - 1) >> 8) & 0xFF
        t[0x2F] = (sector >> 8) & 0xFF
        t[0x30] = (sector >> 16) & 0xFF
        t[0x31:0x36] = b"PRI10"
        t[0x3F] = 0x01                           # protection fields

    # --- reads in I/O mode ------------------------------------------------------------
    def _data_read(self, offset: int, width: int) -> int:
        return int.from_bytes(self.storage[offset:offset + width],
                              "big" if self.big_endian else "little")

    def _replicate(self, resp: int) -> int:
        dw, bw = self.device_width, self.width
        if dw < bw:
            for i in range(dw, bw, dw):
                resp = _deposit(resp, 8 * i, 8 * dw, resp)
        return resp

    def _shift(self) -> int:
        return _ctz(self.width) + _ctz(self.max_device_width) - _ctz(self.device_width)

    def _cfi_query(self, offset: int) -> int:
        boff = offset >> self._shift()
        if boff >= CFI_TABLE_SIZE:
            return 0
        resp = self.cfi_table[boff]
        if self.device_width != self.max_device_width:
            if self.device_width != 1 or self.width > 4:
                return 0
            for i in range(1, self.max_device_width):   # x8 mode repeats the byte
                resp = _deposit(resp, 8 * i, 8, self.cfi_table[boff])
        return self._replicate(resp)

    def _devid_query(self, offset: int) -> int:
        boff = (offset >> self._shift()) & 0xFF
        if boff == 0:
            resp = self.id0
        elif boff == 1:
            resp = self.id1
        else:
            return 0
        return self._replicate(resp)

    def _legacy_boff(self, offset: int) -> int:
        boff = offset & 0xFF
        return boff >> {2: 1, 4: 2}.get(self.width, 0)

    def _io_read(self, offset: int, width: int) -> int:
        cmd = self.cmd
        if cmd in STATUS_COMMANDS:
            ret = self.status
            dw = self.device_width
            if dw and width > dw:
                shift = dw * 8
                while shift + dw * 8 <= width * 8:
                    ret |= self.status << shift
                    shift += dw * 8
            elif not dw and width > 2:
                ret |= self.status << 16
            return ret
        if cmd == 0x90:
            if not self.device_width:
                boff = self._legacy_boff(offset)
                if boff == 0:
                    return self.id0 << 8 | self.id1
                if boff == 1:
                    return self.id2 << 8 | self.id3
                return 0
            ret = 0xFFFFFFFF
            for i in range(0, width, self.width):
                ret = _deposit(ret, i * 8, self.width * 8,
                               self._devid_query(offset + i * self.width))
            return ret
        if cmd == 0x98:
            if not self.device_width:
                boff = self._legacy_boff(offset)
                return self.cfi_table[boff] if boff < CFI_TABLE_SIZE else 0
            ret = 0xFFFFFFFF
            for i in range(0, width, self.width):
                ret = _deposit(ret, i * 8, self.width * 8,
                               self._cfi_query(offset + i * self.width))
            return ret
        if cmd != CMD_READ_ARRAY:           # cannot happen: back to read array
            self.wcycle = 0
            self.cmd = CMD_READ_ARRAY
        return self._data_read(offset, width)

    # --- writes -----------------------------------------------------------------------
    def _data_write(self, offset: int, value: int, width: int) -> None:
        value &= (1 << (8 * width)) - 1
        self.storage[offset:offset + width] = value.to_bytes(
            width, "big" if self.big_endian else "little")

    def _update(self, offset: int, size: int) -> None:
        """Write the whole sectors holding ``[offset, offset + size)`` to the drive."""
        if self.drive is None:
            return
        start = offset - offset % SECTOR_SIZE
        end = min(len(self.storage), -(-(offset + size) // SECTOR_SIZE) * SECTOR_SIZE)
        try:
            self.drive.write(start, bytes(self.storage[start:end]))
        except BlockError as e:
            sys.stderr.write(f"Could not update PFLASH: {e}\n")

    def _io_write(self, offset: int, value: int, width: int) -> None:
        cmd = value & 0xFF
        if not self.wcycle:
            self.region.set_romd(False)
        wcycle = self.wcycle
        if wcycle == 0:
            if cmd in (0x00, 0xF0, 0xFF):       # read array (0xf0: AMD reset, harmless)
                self._read_array()
                return
            if cmd == 0x20:                     # block erase: done at once
                start = offset & ~(self.sector_length - 1)
                if not self.ro:
                    self.storage[start:start + self.sector_length] = \
                        b"\xff" * self.sector_length
                    self._update(start, self.sector_length)
                else:
                    self.status |= STATUS_ERASE_ERROR
                self.status |= STATUS_READY
            elif cmd == 0x50:                   # clear status
                self.status = 0
                self._read_array()
                return
            elif cmd in (0x70, 0x90):           # read status / identifier
                self.cmd = cmd
                return
            elif cmd == 0xE8:                   # write to buffer
                log.log("unimp", "pflash_cfi01: Write to buffer emulation is flawed")
                self.status |= STATUS_READY
            elif cmd not in (0x10, 0x40, 0x60, 0x98):
                self._error(offset, value)
                return
            self.wcycle = 1
            self.cmd = cmd
            return
        if wcycle == 1:
            cur = self.cmd
            if cur in (0x10, 0x40):             # word program
                if not self.ro:
                    self._data_write(offset, value, width)
                    self._update(offset, width)
                else:
                    self.status |= STATUS_PROGRAM_ERROR
                self.status |= STATUS_READY
                self.wcycle = 0
            elif cur in (0x20, 0x28):
                if cmd == 0xD0:
                    self.wcycle = 0
                    self.status |= STATUS_READY
                elif cmd == 0xFF:
                    self._read_array()
                else:
                    self._error(offset, value)
            elif cur == 0xE8:                   # the word count
                bits = 8 * (self.device_width or self.width)
                self.counter = value & ((1 << bits) - 1)
                self.wcycle = 2
            elif cur == 0x60:                   # lock/unlock confirm
                if cmd in (0xD0, 0x01):
                    self.wcycle = 0
                    self.status |= STATUS_READY
                else:
                    self._read_array()
            elif cur == 0x98:
                if cmd == 0xFF:
                    self._read_array()          # anything else stays in query mode
            else:
                self._error(offset, value)
            return
        if wcycle == 2:
            if self.cmd != 0xE8:
                self._error(offset, value)
                return
            if not self.ro:
                self._data_write(offset, value, width)
            else:
                self.status |= STATUS_PROGRAM_ERROR
            self.status |= STATUS_READY
            if not self.counter:
                self.wcycle = 3
                if not self.ro:
                    start = offset & ~(self.writeblock_size - 1)
                    self._update(start, self.writeblock_size)
                else:
                    self.status |= STATUS_PROGRAM_ERROR
            self.counter = (self.counter - 1) & 0xFFFFFFFFFFFFFFFF
            return
        if wcycle == 3 and self.cmd == 0xE8:
            if cmd == 0xD0:
                self.wcycle = 0
                self.status |= STATUS_READY
            else:
                log.log("unimp", "pflash_cfi01: Aborting write to buffer not implemented, "
                                 "the data is already written to storage!")
                self._read_array()
            return
        if wcycle == 3:
            self._error(offset, value)
            return
        self._read_array()                      # an impossible write cycle

    def _error(self, offset: int, value: int) -> None:
        log.log("unimp", f"pflash_cfi01: Unimplemented flash cmd sequence (offset 0x{offset:x}, "
                         f"wcycle 0x{self.wcycle:x} cmd 0x{self.cmd:x} value 0x{value:x})")
        self._read_array()

    def _read_array(self) -> None:
        self.region.set_romd(True)
        self.wcycle = 0
        self.cmd = CMD_READ_ARRAY
