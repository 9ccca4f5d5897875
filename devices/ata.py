"""One IDE channel: two ATA/ATAPI units behind a task file (QEMU hw/ide/core.c, atapi.c).

``IDEBus`` is what a controller (devices/piix4_ide.py) hangs off its command block
(8 ports: data, error/feature, sector count, LBA low/mid/high, device, status/command)
and its control block (alternate status / device control).  It has no regions of
its own; the controller calls:

  read(reg) / write(reg, value)          task-file registers 1-7 (reg 0: data, 8-bit: 0xff)
  data_read(size) / data_write(value, size)   the 16/32-bit data port (PIO)
  alt_status() / control_write(value)    the control block
  dma_pending() -> "read" | "write" | None, and dma_run(mover)   bus-master DMA (below)

``irq`` is the channel's interrupt output (raised at command completion and data
requests unless Device Control nIEN is set; reading Status lowers it); ``on_irq`` is
called whenever the channel raises it (the bus master's INT status bit).

Units: ``attach(unit, backend, kind)`` with kind "hd" (a BlockBackend) or "cd"
(a BlockBackend or None for an empty tray), ``serial`` QM0000n as QEMU numbers
them.  Identify data, status and signatures are QEMU 7.2's (model "QEMU HARDDISK" /
"QEMU DVD-ROM", firmware "2.5+", 16-sector multiple mode, LBA48, geometry from the
MBR's partition table or 16 heads x 63 sectors).

ATA commands: IDENTIFY (PACKET) DEVICE, READ/WRITE SECTORS (EXT), READ/WRITE MULTIPLE
(EXT), SET MULTIPLE MODE, READ/WRITE DMA (EXT), READ VERIFY (EXT), FLUSH CACHE (EXT),
SET FEATURES, INITIALIZE DEVICE PARAMETERS, RECALIBRATE, SEEK, CHECK POWER MODE,
IDLE/STANDBY (IMMEDIATE), SLEEP, READ NATIVE MAX ADDRESS (EXT), DEVICE RESET,
PACKET; anything else aborts.  ATAPI
packets (PIO and DMA): TEST UNIT READY, REQUEST SENSE, INQUIRY, MODE SENSE(10)
(error recovery, capabilities pages; MODE SENSE(6) fails as in QEMU), START STOP
UNIT, PREVENT ALLOW MEDIUM REMOVAL,
READ CAPACITY, READ(10/12), READ TOC (formats 0, 1), GET CONFIGURATION (the
profile list), GET EVENT STATUS NOTIFICATION, READ DISC INFORMATION,
MECHANISM STATUS, SET CD SPEED; others fail with ILLEGAL REQUEST / INVALID OPCODE.
Data transfers are immediate: a command's data is ready when the command is
written, DMA completes when the bus master starts.  Writes go straight to the
backend (so they reach the image on FLUSH CACHE, fsync, and on every clean exit).

IDENTIFY data is built at a unit's first IDENTIFY and returned unchanged after, as
QEMU caches it; READ NATIVE MAX ADDRESS (EXT) answers the last sector; IDLE, STANDBY
and SLEEP complete without SEEK in the status; an ATAPI unit aborts ATA-only
commands and its DEVICE RESET leaves status 0.  The task-file state after every
non-data command is checked against QEMU 7.2 (tests/test_dev_piix4_ide.py).

Not modelled: SMART (QEMU has it: here it aborts), security (0xf5 aborts), HPA, TRIM,
NCQ, 8-bit transfers, CHS addressing beyond the translation of an INITIALIZE DEVICE
PARAMETERS geometry, audio/CD-DA commands.
"""
from __future__ import annotations

import struct
from typing import Callable, Optional

from pysystem import log
from pysystem.block import BlockError
from pysystem.irq import IRQ
from pysystem.qom import Field, Object, register

from . import atapi

SECTOR = 512
MAX_MULT_SECTORS = 16
# status
ERR, DRQ, SEEK, READY, BUSY = 0x01, 0x08, 0x10, 0x40, 0x80
# error
ABRT = 0x04
# device control
NIEN, SRST, HOB = 0x02, 0x04, 0x80

CMD_DEVICE_RESET = 0x08


class AtaCmd:
    """One ATA command: its handler method, which units take it, and its variant."""

    __slots__ = ("name", "handler", "units", "lba48", "arg", "dsc")

    def __init__(self, name: str, handler: str, units: str = "hd", lba48: bool = False,
                 arg=None, dsc: bool = True):
        self.name, self.handler, self.units, self.lba48 = name, handler, units, lba48
        self.arg = arg
        self.dsc = dsc          # completion sets SEEK (DSC) in the status, as QEMU's SET_DSC


# opcode -> command; ``units``: "hd", "cd" or "both" (a unit of another kind aborts it)
ATA_COMMANDS = {
    0x08: AtaCmd("DEVICE RESET", "_cmd_device_reset", "cd"),
    0x10: AtaCmd("RECALIBRATE", "_cmd_complete"),
    0x20: AtaCmd("READ SECTORS", "_cmd_read_pio", arg=False),
    0x21: AtaCmd("READ SECTORS (no retry)", "_cmd_read_pio", arg=False),
    0x24: AtaCmd("READ SECTORS EXT", "_cmd_read_pio", lba48=True, arg=False),
    0x25: AtaCmd("READ DMA EXT", "_cmd_dma", lba48=True, arg="dma-read"),
    0x29: AtaCmd("READ MULTIPLE EXT", "_cmd_read_pio", lba48=True, arg=True),
    0x30: AtaCmd("WRITE SECTORS", "_cmd_write_pio", arg=False),
    0x31: AtaCmd("WRITE SECTORS (no retry)", "_cmd_write_pio", arg=False),
    0x34: AtaCmd("WRITE SECTORS EXT", "_cmd_write_pio", lba48=True, arg=False),
    0x35: AtaCmd("WRITE DMA EXT", "_cmd_dma", lba48=True, arg="dma-write"),
    0x39: AtaCmd("WRITE MULTIPLE EXT", "_cmd_write_pio", lba48=True, arg=True),
    0x40: AtaCmd("READ VERIFY SECTORS", "_cmd_verify"),
    0x41: AtaCmd("READ VERIFY SECTORS (no retry)", "_cmd_verify"),
    0x42: AtaCmd("READ VERIFY SECTORS EXT", "_cmd_verify", lba48=True),
    0x70: AtaCmd("SEEK", "_cmd_complete"),
    0x91: AtaCmd("INITIALIZE DEVICE PARAMETERS", "_cmd_init_params"),
    0xA0: AtaCmd("PACKET", "_cmd_packet", "cd"),
    0xA1: AtaCmd("IDENTIFY PACKET DEVICE", "_cmd_identify", "cd"),
    0xC4: AtaCmd("READ MULTIPLE", "_cmd_read_pio", arg=True),
    0xC5: AtaCmd("WRITE MULTIPLE", "_cmd_write_pio", arg=True),
    0xC6: AtaCmd("SET MULTIPLE MODE", "_cmd_set_multiple"),
    0xC8: AtaCmd("READ DMA", "_cmd_dma", arg="dma-read"),
    0xC9: AtaCmd("READ DMA (no retry)", "_cmd_dma", arg="dma-read"),
    0xCA: AtaCmd("WRITE DMA", "_cmd_dma", arg="dma-write"),
    0xCB: AtaCmd("WRITE DMA (no retry)", "_cmd_dma", arg="dma-write"),
    0xE5: AtaCmd("CHECK POWER MODE", "_cmd_check_power"),
    0x27: AtaCmd("READ NATIVE MAX ADDRESS EXT", "_cmd_native_max", lba48=True),
    0xF8: AtaCmd("READ NATIVE MAX ADDRESS", "_cmd_native_max"),
    0xE7: AtaCmd("FLUSH CACHE", "_cmd_flush", "both"),
    0xEA: AtaCmd("FLUSH CACHE EXT", "_cmd_flush", "both"),
    0xEC: AtaCmd("IDENTIFY DEVICE", "_cmd_identify", "both"),
    0xEF: AtaCmd("SET FEATURES", "_cmd_set_features", "both"),
}
for _op, _name in ((0xE0, "STANDBY IMMEDIATE"), (0xE1, "IDLE IMMEDIATE"), (0xE2, "STANDBY"),
                   (0xE3, "IDLE"), (0xE6, "SLEEP"), (0x94, "STANDBY IMMEDIATE (old)"),
                   (0x95, "IDLE IMMEDIATE (old)"), (0x96, "STANDBY (old)"), (0x97, "IDLE (old)"),
                   (0x99, "SLEEP (old)")):
    ATA_COMMANDS[_op] = AtaCmd(_name, "_cmd_complete", dsc=False)
# SET FEATURES subcommands that succeed (write cache, transfer mode, look-ahead, ...)
SET_FEATURES_OK = (0x02, 0x82, 0x03, 0xAA, 0x55, 0x66, 0xCC, 0x42, 0xC2, 0x85, 0x05, 0x31)


def _padstr(text: str, n: int) -> bytes:
    """An ATA string: space padded, each 16-bit word byte-swapped."""
    raw = text.encode()[:n].ljust(n, b" ")
    return bytes(raw[i ^ 1] for i in range(n))


def guess_geometry(backend) -> tuple:
    """QEMU's hd_geometry_guess for IDE: the MBR's partition geometry, else 16/63."""
    nb = backend.size // SECTOR
    try:
        mbr = backend.read(0, SECTOR) if backend.size >= SECTOR else b""
    except BlockError:
        mbr = b""
    if len(mbr) == SECTOR and mbr[510:512] == b"\x55\xaa":
        for i in range(4):
            p = mbr[446 + 16 * i:446 + 16 * (i + 1)]
            nr_sects = struct.unpack_from("<I", p, 12)[0]
            end_head, end_sector = p[5], p[6]
            if nr_sects and end_head:
                heads, secs = end_head + 1, end_sector & 63
                if secs == 0:
                    continue
                cyls = nb // (heads * secs)
                if cyls < 1 or cyls > 16383:
                    continue
                if heads <= 16:
                    return cyls, heads, secs
                break
    cyls = nb // (16 * 63)
    return max(2, min(cyls, 16383)), 16, 63


@register
class IDEBus(Object):
    TYPE = "ide-bus"
    STATE = (
        Field("unit", "u8", 0, "selected unit"),
        Field("dev_ctl", "u8", 0, "device control register"),
        Field("feature", "u8[2]", 0), Field("hob_feature", "u8[2]", 0),
        Field("nsector", "u8[2]", 1), Field("hob_nsector", "u8[2]", 0),
        Field("sector", "u8[2]", 1), Field("hob_sector", "u8[2]", 0),
        Field("lcyl", "u8[2]", 0), Field("hob_lcyl", "u8[2]", 0),
        Field("hcyl", "u8[2]", 0), Field("hob_hcyl", "u8[2]", 0),
        Field("select", "u8[2]", [0xA0, 0xB0]),
        Field("status", "u8[2]", 0), Field("error", "u8[2]", 0),
        Field("mult_sectors", "u8[2]", MAX_MULT_SECTORS),
        Field("heads", "u8[2]", 16, "current translation heads (INITIALIZE DEVICE PARAMETERS)"),
        Field("secs", "u8[2]", 63, "current translation sectors per track"),
        Field("sense_key", "u8[2]", 0, "ATAPI sense key"),
        Field("asc", "u8[2]", 0, "ATAPI additional sense code"),
        Field("media_changed", "bool[2]", False, "ATAPI: unit attention pending"),
        Field("buf", "bytes", b"", "PIO data buffer of the current transfer"),
        Field("pos", "u32", 0, "next byte of buf the host reads or writes"),
        Field("xfer", "str", "", "transfer in progress: read, write, packet, atapi, dma-read, ..."),
        Field("xfer_lba", "u64", 0, "next sector of a multi-block transfer"),
        Field("xfer_left", "u32", 0, "ATA: sectors still to move; ATAPI: end of the DRQ block"),
        Field("xfer_chunk", "u32", 1, "sectors per DRQ block (ATA) / byte count limit (ATAPI)"),
        Field("xfer_lba48", "bool", False, "the PIO transfer's command is an EXT one"),
        Field("irq_level", "u8", 0, "the channel's interrupt output"),
        Field("ident0", "bytes", b"", "unit 0's IDENTIFY data, built at its first IDENTIFY"),
        Field("ident1", "bytes", b"", "unit 1's IDENTIFY data, built at its first IDENTIFY"),
    )

    def __init__(self, name: str = "ide", **props):
        super().__init__(**props)
        self.irq = IRQ(f"{name}.irq")
        self.on_irq: Optional[Callable[[], None]] = None
        self.drives = [None, None]
        self.kinds = ["", ""]
        self.serials = ["", ""]
        self.geometry = [(0, 0, 0), (0, 0, 0)]
        self.reset()

    # --- units ------------------------------------------------------------------------
    def attach(self, unit: int, backend, kind: str = "hd", serial: str = "") -> None:
        if kind not in ("hd", "cd"):
            raise ValueError("IDE unit kind must be hd or cd")
        if kind == "hd" and backend is None:
            raise ValueError("an IDE disk needs a block backend")
        self.drives[unit], self.kinds[unit], self.serials[unit] = backend, kind, serial
        self.geometry[unit] = guess_geometry(backend) if kind == "hd" else (0, 0, 0)
        setattr(self, f"ident{unit}", bytearray())
        self._default_geometry(unit)
        self._reset_unit(unit)

    def present(self, unit: int) -> bool:
        return bool(self.kinds[unit])

    def is_cd(self, unit: int) -> bool:
        return self.kinds[unit] == "cd"

    def nb_sectors(self, unit: int) -> int:
        drive = self.drives[unit]
        return drive.size // SECTOR if drive is not None else 0

    # --- reset and signatures ---------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        for unit in (0, 1):
            self._default_geometry(unit)
            self._reset_unit(unit)
        self._lower()

    def _reset_unit(self, unit: int) -> None:
        self.mult_sectors[unit] = MAX_MULT_SECTORS
        self.feature[unit] = self.error[unit] = 0
        self.select[unit] = 0xA0           # both units: the slave's DEV bit is not kept
        self._set_signature(unit)
        self.status[unit] = READY | SEEK
        self.xfer, self.buf, self.pos = "", bytearray(), 0

    def _default_geometry(self, unit: int) -> None:
        """The translation INITIALIZE DEVICE PARAMETERS changes (reset keeps it)."""
        if self.kinds[unit] == "hd":
            self.heads[unit], self.secs[unit] = self.geometry[unit][1], self.geometry[unit][2]

    def _set_signature(self, unit: int) -> None:
        self.select[unit] &= ~0x0F             # head bits cleared
        self.nsector[unit] = self.sector[unit] = 1
        if self.is_cd(unit):
            self.lcyl[unit], self.hcyl[unit] = 0x14, 0xEB
        elif self.present(unit):
            self.lcyl[unit] = self.hcyl[unit] = 0
        else:
            self.lcyl[unit] = self.hcyl[unit] = 0xFF

    # --- interrupts -------------------------------------------------------------------
    def _raise(self) -> None:
        if not self.dev_ctl & NIEN:
            if self.on_irq is not None:
                self.on_irq()
            self.irq_level = 1
            self.irq.set(1)

    def _lower(self) -> None:
        self.irq_level = 0
        self.irq.set(0)

    def post_load(self) -> None:
        self.irq.set(self.irq_level)

    # --- task file --------------------------------------------------------------------
    def _none(self) -> bool:
        return not self.present(0) and not self.present(1)

    def read(self, reg: int) -> int:
        u = self.unit
        hob = self.dev_ctl & HOB
        absent = self._none() or (u == 1 and not self.present(1))
        if reg == 0:
            return 0xFF
        if reg == 1:
            return 0 if absent else (self.hob_feature[u] if hob else self.error[u])
        if reg == 7:
            self._lower()
            return 0 if absent else self.status[u]
        if self._none():
            return 0
        if reg == 6:
            return self.select[u]
        names = {2: "nsector", 3: "sector", 4: "lcyl", 5: "hcyl"}
        return getattr(self, ("hob_" if hob else "") + names[reg])[u]

    def alt_status(self) -> int:
        u = self.unit
        if self._none() or (u == 1 and not self.present(1)):
            return 0
        return self.status[u]

    def write(self, reg: int, value: int) -> None:
        value &= 0xFF
        if 1 <= reg <= 5:
            self.dev_ctl &= ~HOB
            name = {1: "feature", 2: "nsector", 3: "sector", 4: "lcyl", 5: "hcyl"}[reg]
            cur, hob = getattr(self, name), getattr(self, "hob_" + name)
            for u in (0, 1):
                hob[u] = cur[u]
                cur[u] = value
        elif reg == 6:
            self.dev_ctl &= ~HOB
            self.select[0] = (value & ~0x10) | 0xA0
            self.select[1] = value | 0x10 | 0xA0
            self.unit = (value >> 4) & 1
        elif reg == 7:
            self.dev_ctl &= ~HOB
            if self.unit == 1 and not self.present(1):
                return
            if self.status[self.unit] & BUSY and value != CMD_DEVICE_RESET:
                return
            self._command(value)

    def control_write(self, value: int) -> None:
        """Device control.  SRST's rising edge resets both units at once, as QEMU 7.2
        does (its bottom half runs before the guest's next access): signatures, select
        0xa0, error 0x01 (diagnostics passed), status READY|SEEK for a disk and 0 for
        an ATAPI unit; the selected unit stays selected.  Its falling edge does nothing."""
        if not self.dev_ctl & SRST and value & SRST:
            for u in (0, 1):
                self._reset_unit(u)
                self.error[u] = 0x01
                if self.is_cd(u):
                    self.status[u] = 0
            self._lower()
        self.dev_ctl = value & 0xFF

    # --- the data port ----------------------------------------------------------------
    def data_read(self, size: int) -> int:
        u = self.unit
        if not self.status[u] & DRQ or self.xfer not in ("read", "atapi", "identify"):
            return 0
        chunk = bytes(self.buf[self.pos:self.pos + size]).ljust(size, b"\0")
        self.pos += size
        end = self.xfer_left if self.xfer == "atapi" else len(self.buf)
        if self.pos >= end:
            self._pio_done()
        return int.from_bytes(chunk, "little")

    def data_write(self, value: int, size: int) -> None:
        u = self.unit
        if not self.status[u] & DRQ or self.xfer not in ("write", "packet"):
            return
        end = self.pos + size
        self.buf[self.pos:end] = value.to_bytes(size, "little")[:max(0, len(self.buf) - self.pos)]
        self.pos = end
        if self.pos >= len(self.buf):
            self._pio_done()

    # --- commands ---------------------------------------------------------------------
    def _lba(self, u: int, lba48: bool) -> int:
        if lba48:
            return (self.hob_hcyl[u] << 40 | self.hob_lcyl[u] << 32 | self.hob_sector[u] << 24 |
                    self.hcyl[u] << 16 | self.lcyl[u] << 8 | self.sector[u])
        if self.select[u] & 0x40:
            return ((self.select[u] & 0x0F) << 24 | self.hcyl[u] << 16 | self.lcyl[u] << 8 |
                    self.sector[u])
        cyl = self.hcyl[u] << 8 | self.lcyl[u]
        return ((cyl * self.heads[u] + (self.select[u] & 0x0F)) * self.secs[u] +
                self.sector[u] - 1)

    def _count(self, u: int, lba48: bool) -> int:
        if lba48:
            n = self.hob_nsector[u] << 8 | self.nsector[u]
            return n or 65536
        return self.nsector[u] or 256

    def _set_lba(self, u: int, lba: int, lba48: bool) -> None:
        if lba48:
            self.hob_hcyl[u], self.hob_lcyl[u] = (lba >> 40) & 0xFF, (lba >> 32) & 0xFF
            self.hob_sector[u] = (lba >> 24) & 0xFF
        elif self.select[u] & 0x40:
            self.select[u] = (self.select[u] & 0xF0) | ((lba >> 24) & 0x0F)
        else:
            cyl, rest = divmod(lba, self.heads[u] * self.secs[u])
            head, sec = divmod(rest, self.secs[u])
            self.hcyl[u], self.lcyl[u] = (cyl >> 8) & 0xFF, cyl & 0xFF
            self.select[u] = (self.select[u] & 0xF0) | head
            self.sector[u] = sec + 1
            return
        self.hcyl[u], self.lcyl[u] = (lba >> 16) & 0xFF, (lba >> 8) & 0xFF
        self.sector[u] = lba & 0xFF

    def _abort(self, u: int) -> None:
        self.status[u] = READY | ERR
        self.error[u] = ABRT
        self.xfer, self.buf, self.pos = "", bytearray(), 0
        self._raise()

    def _done(self, u: int, dsc: bool = True) -> None:
        self.status[u] = READY | (SEEK if dsc else 0)
        self.error[u] = 0
        self._raise()

    def _command(self, cmd: int) -> None:
        u = self.unit
        self.error[u] = 0
        entry = ATA_COMMANDS.get(cmd)
        if "trace" in log.mask:
            log.write(f"ide: unit {u} command 0x{cmd:02x} "
                      f"{entry.name if entry else '(unknown)'}\n")
        if entry is None:
            log.log("unimp", f"ide: unsupported command 0x{cmd:02x}")
            self._abort(u)
            return
        if entry.units != "both" and entry.units != self.kinds[u]:
            if cmd == 0xEC:
                self._set_signature(u)
            self._abort(u)
            return
        getattr(self, entry.handler)(u, entry)

    # --- command handlers (see ATA_COMMANDS) ----------------------------------------------
    def _cmd_identify(self, u: int, entry: AtaCmd) -> None:
        if self.is_cd(u) and entry.units == "both":   # IDENTIFY DEVICE to an ATAPI unit
            self._set_signature(u)
            self._abort(u)
            return
        self._start_pio_in(u, self.identify_data(u), "identify")

    def _cmd_read_pio(self, u: int, entry: AtaCmd) -> None:
        chunk = self.mult_sectors[u] if entry.arg else 1
        if not chunk:
            self._abort(u)
            return
        self._start_sectors(u, "read", entry.lba48, chunk)

    def _cmd_write_pio(self, u: int, entry: AtaCmd) -> None:
        chunk = self.mult_sectors[u] if entry.arg else 1
        if not chunk:
            self._abort(u)
            return
        self._start_sectors(u, "write", entry.lba48, chunk)

    def _cmd_dma(self, u: int, entry: AtaCmd) -> None:
        lba, n = self._lba(u, entry.lba48), self._count(u, entry.lba48)
        if not self._check_range(u, lba, n):
            return
        self.xfer = entry.arg
        self.xfer_lba, self.xfer_left = lba, n
        self.status[u] = READY | SEEK | DRQ

    def _cmd_verify(self, u: int, entry: AtaCmd) -> None:
        lba, n = self._lba(u, entry.lba48), self._count(u, entry.lba48)
        if self._check_range(u, lba, n):      # the LBA registers are left as written
            self._done(u)

    def _cmd_native_max(self, u: int, entry: AtaCmd) -> None:
        self._set_lba(u, self.nb_sectors(u) - 1, entry.lba48)
        self._done(u)

    def _cmd_set_multiple(self, u: int, entry: AtaCmd) -> None:
        n = self.nsector[u]
        if n > MAX_MULT_SECTORS or (n & (n - 1)):
            self._abort(u)
        else:
            self.mult_sectors[u] = n
            self._done(u)

    def _cmd_flush(self, u: int, entry: AtaCmd) -> None:
        try:
            if self.drives[u] is not None:
                self.drives[u].flush()
        except BlockError as e:
            log.log("guest_errors", f"ide: {e}")
            self._abort(u)
            return
        self._done(u)

    def _cmd_set_features(self, u: int, entry: AtaCmd) -> None:
        if self.feature[u] in SET_FEATURES_OK:
            self._done(u)
        else:
            self._abort(u)

    def _cmd_init_params(self, u: int, entry: AtaCmd) -> None:
        self.heads[u] = (self.select[u] & 0x0F) + 1
        self.secs[u] = self.nsector[u]
        self._done(u)

    def _cmd_complete(self, u: int, entry: AtaCmd) -> None:
        self._done(u, entry.dsc)

    def _cmd_check_power(self, u: int, entry: AtaCmd) -> None:
        self.nsector[u] = 0xFF
        self._done(u)

    def _cmd_device_reset(self, u: int, entry: AtaCmd) -> None:
        """ATAPI DEVICE RESET: the unit's reset, status 0 (not READY), no interrupt."""
        self._reset_unit(u)
        self.status[u] = 0

    def _cmd_packet(self, u: int, entry: AtaCmd) -> None:
        self.xfer = "packet"
        self.buf, self.pos = bytearray(12), 0
        self.nsector[u] = (self.nsector[u] & ~7) | atapi.REASON_CD
        self.status[u] = READY | SEEK | DRQ

    def _check_range(self, u: int, lba: int, n: int) -> bool:
        if lba + n > self.nb_sectors(u):
            log.log("guest_errors", f"ide: sectors {lba}+{n} beyond the end of the disk")
            self.status[u] = READY | ERR
            self.error[u] = 0x10            # IDNF
            self._raise()
            return False
        return True

    def _start_pio_in(self, u: int, data: bytes, kind: str) -> None:
        self.xfer, self.buf, self.pos = kind, bytearray(data), 0
        self.status[u] = READY | SEEK | DRQ
        self._raise()

    def _start_sectors(self, u: int, kind: str, lba48: bool, chunk: int) -> None:
        lba, n = self._lba(u, lba48), self._count(u, lba48)
        if not self._check_range(u, lba, n):
            return
        self.xfer_lba, self.xfer_left, self.xfer_chunk = lba, n, chunk
        self.xfer_lba48 = lba48
        self._next_block(u, kind)

    def _next_block(self, u: int, kind: str) -> None:
        n = min(self.xfer_chunk, self.xfer_left)
        if kind == "read":
            try:
                data = self.drives[u].read(self.xfer_lba * SECTOR, n * SECTOR)
            except BlockError as e:
                log.log("guest_errors", f"ide: {e}")
                self._abort(u)
                return
            self.xfer, self.buf, self.pos = "read", bytearray(data), 0
            self.status[u] = READY | SEEK | DRQ
            self._raise()
        else:
            self.xfer, self.buf, self.pos = "write", bytearray(n * SECTOR), 0
            self.status[u] = READY | SEEK | DRQ

    def _pio_done(self) -> None:
        u = self.unit
        kind = self.xfer
        if kind == "identify":
            self.xfer = ""
            self.status[u] = READY | SEEK
            return
        if kind == "packet":
            atapi.execute(self, u, bytes(self.buf))
            return
        if kind == "atapi":
            atapi.pio_next(self, u)
            return
        n = len(self.buf) // SECTOR
        lba48 = self.xfer_lba48
        if kind == "write":
            try:
                self.drives[u].write(self.xfer_lba * SECTOR, bytes(self.buf))
            except BlockError as e:
                log.log("guest_errors", f"ide: {e}")
                self._abort(u)
                return
        self.xfer_lba += n
        self.xfer_left -= n
        self._set_lba(u, self.xfer_lba - 1, lba48)
        if self.xfer_left:
            self._next_block(u, kind)
            if kind == "write":
                self._raise()
        else:
            self.xfer, self.buf, self.pos = "", bytearray(), 0
            if kind == "write":
                self._done(u)
            else:
                self.status[u] = READY | SEEK

    # --- bus-master DMA ---------------------------------------------------------------
    def dma_pending(self) -> Optional[str]:
        if self.xfer in ("dma-read", "atapi-dma"):
            return "read"
        if self.xfer == "dma-write":
            return "write"
        return None

    def dma_run(self, mover) -> bool:
        """Move the pending DMA transfer: ``mover.to_memory(data) -> bytes moved`` for reads,
        ``mover.from_memory(n) -> bytes`` for writes.  Returns False if the PRD table ended
        before the transfer did (the command then fails)."""
        u = self.unit
        if self.xfer == "atapi-dma":
            return atapi.dma_run(self, u, mover)
        n = self.xfer_left * SECTOR
        ok = True
        try:
            if self.xfer == "dma-read":
                data = self.drives[u].read(self.xfer_lba * SECTOR, n)
                ok = mover.to_memory(data) == n
            else:
                data = mover.from_memory(n)
                ok = len(data) == n
                self.drives[u].write(self.xfer_lba * SECTOR, data[:n - n % SECTOR]
                                     if not ok else data)
        except BlockError as e:
            log.log("guest_errors", f"ide: {e}")
            ok = False
        self.xfer = ""
        if ok:
            self._done(u)
        else:
            self._abort(u)
        return ok

    # --- identify ---------------------------------------------------------------------
    def identify_data(self, u: int) -> bytes:
        """What IDENTIFY returns: built once, at the first IDENTIFY after the drive was
        attached, and returned unchanged after (QEMU caches it the same way, so a later
        SET MULTIPLE MODE or INITIALIZE DEVICE PARAMETERS does not show)."""
        name = f"ident{u}"
        if not getattr(self, name):
            setattr(self, name, bytearray(self.identify(u)))
        return bytes(getattr(self, name))

    def identify(self, u: int) -> bytes:
        """The IDENTIFY (PACKET) DEVICE words from the unit's present settings."""
        w = [0] * 256
        serial = _padstr(self.serials[u], 20)
        fw, model = _padstr("2.5+", 8), _padstr("QEMU DVD-ROM" if self.is_cd(u)
                                                 else "QEMU HARDDISK", 40)
        if self.is_cd(u):
            w[0] = 0x85C0
            w[20], w[21], w[22] = 3, 512, 4
            w[48], w[49], w[53] = 1, 0x0300, 7
            w[62], w[63], w[64] = 7, 7, 3
            w[65], w[66], w[67], w[68] = 0xB4, 0xB4, 0x12C, 0xB4
            w[71], w[72], w[80] = 30, 30, 0x1E
            w[88] = 0x203F
        else:
            cyls, heads, secs = self.geometry[u][0], self.heads[u], self.secs[u]
            nb = self.nb_sectors(u)
            w[0], w[1], w[3], w[4], w[5], w[6] = 0x0040, cyls, heads, 512 * secs, 512, secs
            w[20], w[21], w[22] = 3, 512, 4
            w[47], w[48], w[49] = 0x8000 | MAX_MULT_SECTORS, 1, 0x0B00
            w[51], w[52], w[53] = 0x200, 0x200, 7
            w[54], w[55], w[56] = cyls, heads, secs
            old = cyls * heads * secs
            w[57], w[58] = old & 0xFFFF, (old >> 16) & 0xFFFF
            if self.mult_sectors[u]:
                w[59] = 0x100 | self.mult_sectors[u]
            small = min(nb, 0x0FFFFFFF)
            w[60], w[61] = small & 0xFFFF, small >> 16
            w[62], w[63], w[64] = 7, 7, 3
            w[65] = w[66] = w[67] = w[68] = 120
            w[69] = 0x4000
            w[80], w[81] = 0xF0, 0x16
            w[82], w[83], w[84] = 0x4021, 0x7400, 0x4000
            w[85], w[86], w[87] = 0x4021, 0x3400, 0x4000
            w[88], w[93] = 0x203F, 0x6001
            for i in range(4):
                w[100 + i] = (nb >> (16 * i)) & 0xFFFF
            w[106], w[169] = 0x6000, 1
        data = bytearray(struct.pack("<256H", *w))
        data[20:40], data[46:54], data[54:94] = serial, fw, model
        return bytes(data)
