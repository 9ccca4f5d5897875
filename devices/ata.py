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
IDLE/STANDBY (IMMEDIATE), SLEEP, DEVICE RESET, PACKET; anything else aborts.  ATAPI
packets (PIO and DMA): TEST UNIT READY, REQUEST SENSE, INQUIRY, MODE SENSE(6/10)
(error recovery, capabilities pages), START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL,
READ CAPACITY, READ(10/12), READ TOC (format 0), GET CONFIGURATION (header and
current profile), GET EVENT STATUS NOTIFICATION, READ DISC INFORMATION,
MECHANISM STATUS, SET CD SPEED; others fail with ILLEGAL REQUEST / INVALID OPCODE.
Data transfers are immediate: a command's data is ready when the command is
written, DMA completes when the bus master starts.  Writes go straight to the
backend (so they reach the image on FLUSH CACHE, fsync, and on every clean exit).

Not modelled: SMART, security, HPA, TRIM, NCQ, 8-bit transfers, CHS addressing beyond
the translation of an INITIALIZE DEVICE PARAMETERS geometry, audio/CD-DA commands.
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

CMD_DEVICE_RESET, CMD_RECALIBRATE = 0x08, 0x10
READ_PIO = {0x20: False, 0x21: False, 0x24: True}
WRITE_PIO = {0x30: False, 0x31: False, 0x34: True}
READ_MULTI = {0xC4: False, 0x29: True}
WRITE_MULTI = {0xC5: False, 0x39: True}
READ_DMA = {0xC8: False, 0xC9: False, 0x25: True}
WRITE_DMA = {0xCA: False, 0xCB: False, 0x35: True}
VERIFY = {0x40: False, 0x41: False, 0x42: True}
FLUSH = (0xE7, 0xEA)
IDLE_CMDS = (0xE0, 0xE1, 0xE2, 0xE3, 0xE6, 0x94, 0x95, 0x96, 0x97, 0x99)


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
            self._reset_unit(unit)
        self._lower()

    def _reset_unit(self, unit: int) -> None:
        self.mult_sectors[unit] = MAX_MULT_SECTORS
        self.feature[unit] = self.error[unit] = 0
        self._set_signature(unit)
        self.status[unit] = READY | SEEK
        if self.kinds[unit] == "hd":
            self.heads[unit], self.secs[unit] = self.geometry[unit][1], self.geometry[unit][2]
        self.xfer, self.buf, self.pos = "", bytearray(), 0

    def _set_signature(self, unit: int) -> None:
        self.select[unit] = 0xA0 | (unit << 4)
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
        if not self.dev_ctl & SRST and value & SRST:
            for u in (0, 1):
                if self.present(u):
                    self.status[u] = BUSY | SEEK
                self.error[u] = 0x01
        elif self.dev_ctl & SRST and not value & SRST:
            for u in (0, 1):
                self._reset_unit(u)
                self.error[u] = 0x01
            self.unit = 0
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
        self.hcyl[u], self.lcyl[u], self.sector[u] = (lba >> 16) & 0xFF, (lba >> 8) & 0xFF, lba & 0xFF

    def _abort(self, u: int) -> None:
        self.status[u] = READY | ERR
        self.error[u] = ABRT
        self.xfer, self.buf, self.pos = "", bytearray(), 0
        self._raise()

    def _done(self, u: int) -> None:
        self.status[u] = READY | SEEK
        self.error[u] = 0
        self._raise()

    def _command(self, cmd: int) -> None:
        u = self.unit
        if "trace" in log.mask:
            log.write(f"ide: unit {u} command 0x{cmd:02x}\n")
        self.error[u] = 0
        cd = self.is_cd(u)
        if cd and cmd not in (0xA1, 0xA0, CMD_DEVICE_RESET, 0xEF, 0xE5, 0xEC, 0x00) \
                and cmd not in IDLE_CMDS:
            self._abort(u)
            return
        if cmd == 0xEC:                                  # IDENTIFY DEVICE
            if cd:
                self._set_signature(u)
                self._abort(u)
                return
            self._start_pio_in(u, self.identify(u), "identify")
        elif cmd == 0xA1 and cd:                         # IDENTIFY PACKET DEVICE
            self._start_pio_in(u, self.identify(u), "identify")
        elif cmd in READ_PIO or cmd in READ_MULTI:
            lba48 = READ_PIO.get(cmd, READ_MULTI.get(cmd))
            chunk = 1 if cmd in READ_PIO else self.mult_sectors[u]
            if cmd in READ_MULTI and not chunk:
                self._abort(u)
                return
            self._start_sectors(u, "read", lba48, chunk)
        elif cmd in WRITE_PIO or cmd in WRITE_MULTI:
            lba48 = WRITE_PIO.get(cmd, WRITE_MULTI.get(cmd))
            chunk = 1 if cmd in WRITE_PIO else self.mult_sectors[u]
            if cmd in WRITE_MULTI and not chunk:
                self._abort(u)
                return
            self._start_sectors(u, "write", lba48, chunk)
        elif cmd in READ_DMA or cmd in WRITE_DMA:
            lba48 = READ_DMA.get(cmd, WRITE_DMA.get(cmd))
            lba, n = self._lba(u, lba48), self._count(u, lba48)
            if not self._check_range(u, lba, n):
                return
            self.xfer = "dma-read" if cmd in READ_DMA else "dma-write"
            self.xfer_lba, self.xfer_left = lba, n
            self.status[u] = READY | SEEK | DRQ
        elif cmd in VERIFY:
            lba48 = VERIFY[cmd]
            lba, n = self._lba(u, lba48), self._count(u, lba48)
            if self._check_range(u, lba, n):
                self._set_lba(u, lba + n - 1, lba48)
                self._done(u)
        elif cmd == 0xC6:                                # SET MULTIPLE MODE
            n = self.nsector[u]
            if n > MAX_MULT_SECTORS or (n & (n - 1)):
                self._abort(u)
            else:
                self.mult_sectors[u] = n
                self._done(u)
        elif cmd in FLUSH:
            try:
                self.drives[u].flush()
            except BlockError as e:
                log.log("guest_errors", f"ide: {e}")
                self._abort(u)
                return
            self._done(u)
        elif cmd == 0xEF:                                # SET FEATURES
            sub = self.feature[u]
            if sub in (0x02, 0x82, 0x03, 0xAA, 0x55, 0x66, 0xCC, 0x42, 0xC2, 0x85, 0x05, 0x31):
                self._done(u)
            else:
                self._abort(u)
        elif cmd == 0x91:                                # INITIALIZE DEVICE PARAMETERS
            self.heads[u] = (self.select[u] & 0x0F) + 1
            self.secs[u] = self.nsector[u]
            self._done(u)
        elif cmd == CMD_RECALIBRATE or cmd == 0x70:      # RECALIBRATE, SEEK
            self._done(u)
        elif cmd == 0xE5:                                # CHECK POWER MODE
            self.nsector[u] = 0xFF
            self._done(u)
        elif cmd in IDLE_CMDS:
            self._done(u)
        elif cmd == CMD_DEVICE_RESET and cd:
            self._reset_unit(u)
            self.error[u] = 0x01
        elif cmd == 0xA0 and cd:                         # PACKET
            self.xfer = "packet"
            self.buf, self.pos = bytearray(12), 0
            self.nsector[u] = (self.nsector[u] & ~7) | atapi.REASON_CD
            self.status[u] = READY | SEEK | DRQ
        else:
            log.log("unimp", f"ide: unsupported command 0x{cmd:02x}")
            self._abort(u)

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
    def identify(self, u: int) -> bytes:
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
            cyls, heads, secs = self.geometry[u]
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
