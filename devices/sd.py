"""An SD memory card (QEMU type "sd-card"), as a host controller such as the PL181 drives it.

Interface to the controller (no MMIO of its own):
  do_command(cmd, arg) -> bytes   the response: b"" (none, or an illegal command:
                                  the controller reports a timeout), 4 bytes (R1, R1b,
                                  R3, R6, R7) or 16 bytes (R2: CID/CSD with CRC byte)
  data_ready() -> bool            the card has read data for the controller
  read_data(n) -> bytes           up to n bytes of it
  write_data(data)                bytes the controller sends for a write command
  inserted, readonly              card-detect and write-protect switch levels
Properties:
  drive  any - the BlockBackend holding the card's contents (required)
Capacity: the image size; QEMU 7.2 refuses sizes that are not a power of two and
realize() raises BlockError with QEMU's text.  Up to 2 GiB the card is SDSC
(byte addressing, CSD version 1.0; a 2 GiB card uses 1024-byte READ_BL_LEN),
above it SDHC (block addressing, CSD version 2.0, OCR CCS set).
Identity as QEMU's card: CID "QEMU!" by "XY" (MID 0xaa), serial 0xdeadbeef,
02/2006; SCR: physical spec 2.00, 1- and 4-bit bus; RCA 0x4567.
Commands: CMD0 2 3 6 7 8 9 10 12 13 15 16 17 18 23 24 25 55; ACMD6 13 22 23 41 42 51.
Illegal commands (CMD1, CMD5, CMD52, ... in SD mode; CMD55 in the ready and
identification states) give no response and set ILLEGAL_COMMAND for the next
response.  APP_CMD shows in the responses of CMD55 and of the ACMD after it; an
address beyond the card sets ADDRESS_ERROR; SWITCH_FUNC reports QEMU's function
groups and echoes the request.  All of this matches QEMU 7.2's card register for
register over a Linux-like session (tests/test_dev_pl181.py, through qtest).  Not modelled: erase,
write protection groups, locking, SPI mode, UHS switching, power-up delay.
"""
from __future__ import annotations

import struct
from typing import Callable, Dict, Optional, Tuple

from pysystem import log
from pysystem.block import BlockBackend, BlockError, size_to_str
from pysystem.qdev import Device
from pysystem.qom import Field, Property, QOMError, register

# card states (CURRENT_STATE in the card status register)
IDLE, READY, IDENT, STBY, TRAN, DATA, RCV, PRG, DIS = range(9)
INACTIVE = 15

# card status bits
OUT_OF_RANGE = 1 << 31
ADDRESS_ERROR = 1 << 30
BLOCK_LEN_ERROR = 1 << 29
WP_VIOLATION = 1 << 26
COM_CRC_ERROR = 1 << 23
ILLEGAL_COMMAND = 1 << 22
ERROR = 1 << 19
READY_FOR_DATA = 1 << 8
APP_CMD = 1 << 5
STATUS_CLEAR_ON_READ = 0xFDF9A028 & ~(ILLEGAL_COMMAND | COM_CRC_ERROR) | APP_CMD
STATUS_PREVIOUS_CMD = ILLEGAL_COMMAND | COM_CRC_ERROR

OCR_VOLTAGES = 0x00FFFF00      # 2.7-3.6 V window
OCR_CCS = 1 << 30
OCR_POWER_UP = 1 << 31
SDSC_MAX = 2 << 30
RCA_VALUE = 0x4567


def crc7(data: bytes) -> int:
    reg = 0
    for byte in data:
        for bit in range(7, -1, -1):
            reg <<= 1
            if ((reg >> 7) ^ (byte >> bit)) & 1:
                reg ^= 0x89
            reg &= 0xFF
    return reg & 0x7F


def _with_crc(first15: bytes) -> bytes:
    return first15 + bytes(((crc7(first15) << 1) | 1,))


def make_cid() -> bytes:
    year, month = 2006, 2
    body = bytes((0xAA,)) + b"XY" + b"QEMU!" + bytes((0x01,)) + struct.pack(">I", 0xDEADBEEF) \
        + bytes(((year - 2000) // 10, ((year % 10) << 4) | month))
    return _with_crc(body)


def make_csd(size: int) -> bytes:
    """CSD 1.0 up to 2 GiB, CSD 2.0 above (the fields QEMU's card reports)."""
    if size > SDSC_MAX:
        c_size = size // (512 * 1024) - 1
        body = bytes((0x40, 0x0E, 0x00, 0x32, 0x5B, 0x59, 0x00)) + c_size.to_bytes(3, "big") \
            + bytes((0x7F, 0x80, 0x0A, 0x40, 0x00))
        return _with_crc(body)
    bl_len = 10 if size == SDSC_MAX else 9     # 2 GiB needs 1024-byte blocks to fit C_SIZE
    c_size_mult = 7                             # multiplier 512
    c_size = (size >> (bl_len + c_size_mult + 2)) - 1
    sector_size, wp_grp_size = 0x3F, 0x7F
    body = bytes((
        0x00, 0x26, 0x00, 0x32, 0x5F,
        0x50 | bl_len,
        0xE0 | ((c_size >> 10) & 0x03),
        (c_size >> 2) & 0xFF,
        0x3F | ((c_size << 6) & 0xC0),
        0xFC | (c_size_mult >> 1),
        0x40 | ((c_size_mult << 7) & 0x80) | (sector_size >> 1),
        ((sector_size << 7) & 0x80) | wp_grp_size,
        0x90 | (bl_len >> 2),
        0x20 | ((bl_len << 6) & 0xC0),
        0x00,
    ))
    return _with_crc(body)


# SWITCH_FUNC support bits of groups 1..6, as QEMU's card reports them
SWITCH_GROUPS = (0x8003, 0x8043, 0x8001, 0x8001, 0x8001, 0x8001)
SCR = bytes((0x02, 0x25, 0x00, 0x00, 0, 0, 0, 0))   # spec 2.00, security 2, 1/4-bit bus

# R1 status bits as they go into an R6 response (bits 23, 22, 19, 12:0)
def _r6_status(status: int) -> int:
    return ((status >> 8) & 0xC000) | ((status >> 6) & 0x2000) | (status & 0x1FFF)


@register
class SDCard(Device):
    TYPE = "sd-card"
    DESC = "SD memory card"
    PROPERTIES = (
        Property("drive", "any", None, "block backend with the card's contents"),
    )
    STATE = (
        Field("state", "u8", IDLE, "card state (0 idle .. 8 disconnect, 15 inactive)"),
        Field("rca", "u16", 0, "relative card address"),
        Field("ocr", "u32", OCR_VOLTAGES, "operation conditions register"),
        Field("card_status", "u32", READY_FOR_DATA, "card status register"),
        Field("blk_len", "u32", 512, "block length for SDSC transfers"),
        Field("expecting_acmd", "bool", False, "the previous command was CMD55"),
        Field("cur_cmd", "u8", 0, "the data command in progress"),
        Field("data_start", "u64", 0, "card address of the current block"),
        Field("data_offset", "u32", 0, "bytes of the current block transferred"),
        Field("data", "bytes", b"", "the block (or register) being transferred"),
        Field("blocks_left", "u32", 0, "CMD23 block count (0: until CMD12)"),
        Field("bus_width", "u8", 1, "data bus width set by ACMD6"),
        Field("blocks_written", "u32", 0, "blocks of the last write command (ACMD22)"),
    )

    # cmd -> (name, handler); app commands separately
    COMMANDS: Dict[int, Tuple[str, str]] = {
        0: ("GO_IDLE_STATE", "_cmd_go_idle"),
        2: ("ALL_SEND_CID", "_cmd_all_send_cid"),
        3: ("SEND_RELATIVE_ADDR", "_cmd_send_rca"),
        6: ("SWITCH_FUNC", "_cmd_switch"),
        7: ("SELECT_CARD", "_cmd_select"),
        8: ("SEND_IF_COND", "_cmd_if_cond"),
        9: ("SEND_CSD", "_cmd_send_csd"),
        10: ("SEND_CID", "_cmd_send_cid"),
        12: ("STOP_TRANSMISSION", "_cmd_stop"),
        13: ("SEND_STATUS", "_cmd_status"),
        15: ("GO_INACTIVE_STATE", "_cmd_inactive"),
        16: ("SET_BLOCKLEN", "_cmd_blocklen"),
        17: ("READ_SINGLE_BLOCK", "_cmd_read"),
        18: ("READ_MULTIPLE_BLOCK", "_cmd_read"),
        23: ("SET_BLOCK_COUNT", "_cmd_block_count"),
        24: ("WRITE_BLOCK", "_cmd_write"),
        25: ("WRITE_MULTIPLE_BLOCK", "_cmd_write"),
        55: ("APP_CMD", "_cmd_app"),
    }
    APP_COMMANDS: Dict[int, Tuple[str, str]] = {
        6: ("SET_BUS_WIDTH", "_acmd_bus_width"),
        13: ("SD_STATUS", "_acmd_sd_status"),
        22: ("SEND_NUM_WR_BLOCKS", "_acmd_num_wr_blocks"),
        23: ("SET_WR_BLK_ERASE_COUNT", "_acmd_r1_in_tran"),
        41: ("SD_SEND_OP_COND", "_acmd_op_cond"),
        42: ("SET_CLR_CARD_DETECT", "_acmd_r1_in_tran"),
        51: ("SEND_SCR", "_acmd_send_scr"),
    }

    def __init__(self, **props):
        super().__init__(**props)
        self.size = 0
        self.cid = make_cid()
        self.csd = b""

    @classmethod
    def check_size(cls, size: int) -> None:
        """QEMU 7.2's rule for SD images, with its message."""
        if size & (size - 1):
            raise BlockError(
                f"Invalid SD card size: {size_to_str(size)}\n"
                f"SD card size has to be a power of 2, e.g. {size_to_str(1 << size.bit_length())}.\n"
                "You can resize disk images with 'qemu-img resize <imagefile> <new-size>'\n"
                "(note that this will lose data if you make the image smaller than it currently is).")

    def realize(self) -> None:
        if self.drive is None:
            raise QOMError("sd-card: drive property not set")
        if not isinstance(self.drive, BlockBackend):
            raise QOMError("sd-card: property 'drive' expects a block backend")
        self.check_size(self.drive.size)
        self.size = self.drive.size
        self.csd = make_csd(self.size)
        super().realize()

    @classmethod
    def example(cls) -> "SDCard":
        import os
        import tempfile
        from pysystem.block import open_drive
        fd, path = tempfile.mkstemp(suffix=".img")
        os.ftruncate(fd, 64 * 1024)
        os.close(fd)
        try:
            card = cls(drive=open_drive(path))
        finally:
            os.unlink(path)
        card.realize()
        card.reset()
        return card

    # --- switches -------------------------------------------------------------------
    @property
    def inserted(self) -> bool:
        return self.drive is not None

    @property
    def readonly(self) -> bool:
        return bool(self.drive is not None and self.drive.readonly)

    @property
    def high_capacity(self) -> bool:
        return self.size > SDSC_MAX

    # --- commands -------------------------------------------------------------------
    def do_command(self, cmd: int, arg: int) -> bytes:
        cmd &= 0x3F
        arg &= 0xFFFFFFFF
        app = self.expecting_acmd
        self.expecting_acmd = False
        if self.state == INACTIVE:
            return b""
        entry = (self.APP_COMMANDS if app else self.COMMANDS).get(cmd)
        if not app:
            self.card_status &= ~APP_CMD            # CMD55 sets it again
        else:
            if entry is None:
                entry = self.COMMANDS.get(cmd)   # an ACMD number without one is the plain CMD
            else:
                self.card_status |= APP_CMD     # reported in the ACMD's response too
        response: Optional[bytes] = None
        before = self.state
        if entry is not None:
            handler: Callable[[int, int, int], Optional[bytes]] = getattr(self, entry[1])
            response = handler(cmd, arg, before)
        if response is None:
            log.log("guest_errors", f"sd-card: illegal {'ACMD' if app else 'CMD'}{cmd} "
                                    f"(arg 0x{arg:08x}) in state {before}")
            self.card_status |= ILLEGAL_COMMAND
            return b""
        self.card_status &= ~STATUS_PREVIOUS_CMD    # reported in this response, if any
        return response

    def _r1(self, state_before: int) -> bytes:
        status = (self.card_status & ~(0xF << 9)) | (state_before << 9) | READY_FOR_DATA
        self.card_status &= ~STATUS_CLEAR_ON_READ
        return struct.pack(">I", status)

    def _rca_matches(self, arg: int) -> bool:
        return (arg >> 16) == self.rca

    # Handlers return the response (b"" for a legal command without one), or None (illegal).
    def _cmd_go_idle(self, cmd, arg, st):
        self.reset()
        return b""

    def _cmd_all_send_cid(self, cmd, arg, st):
        if st != READY:
            return None
        self.state = IDENT
        return self.cid

    def _cmd_send_rca(self, cmd, arg, st):
        if st not in (IDENT, STBY):
            return None
        self.rca = RCA_VALUE
        self.state = STBY
        status = _r6_status(self.card_status & ~(0xF << 9) | (st << 9) | READY_FOR_DATA)
        self.card_status &= ~(STATUS_CLEAR_ON_READ & 0xC81FFF)
        return struct.pack(">HH", self.rca, status)

    def _cmd_switch(self, cmd, arg, st):
        if st != TRAN:
            return None
        status = bytearray(64)
        status[0:2] = b"\x00\x01"                       # max current 1 mA
        for g, supported in enumerate(SWITCH_GROUPS):      # groups 1..6 at bytes 12..2
            struct.pack_into(">H", status, 12 - 2 * g, supported)
        for g in range(6):                                 # the functions asked for, echoed
            status[16 - g // 2] |= ((arg >> (4 * g)) & 0xF) << (4 * (g % 2))
        if arg >> 31:
            log.log("unimp", f"sd-card: SWITCH_FUNC set 0x{arg:08x} has no effect")
        self._start_read_buffer(cmd, bytes(status))
        return self._r1(st)

    def _cmd_select(self, cmd, arg, st):
        """CMD7: the matching card goes stand-by -> transfer; the others deselect."""
        mine = self._rca_matches(arg)
        if st in (STBY, DIS):
            if not mine:
                return b""
            self.state = TRAN if st == STBY else PRG
            return self._r1(st)
        if st in (TRAN, DATA, PRG) and not mine:
            self.state = DIS if st == PRG else STBY
            return self._r1(st)
        return None

    def _cmd_if_cond(self, cmd, arg, st):
        if st != IDLE:
            return None
        if ((arg >> 8) & 0xF) != 1:
            return b""           # voltage not supported: no response
        return struct.pack(">I", arg & 0xFFF)

    def _cmd_send_csd(self, cmd, arg, st):
        if st != STBY or not self._rca_matches(arg):
            return None if st != STBY else b""
        return self.csd

    def _cmd_send_cid(self, cmd, arg, st):
        if st != STBY or not self._rca_matches(arg):
            return None if st != STBY else b""
        return self.cid

    def _cmd_stop(self, cmd, arg, st):
        if st not in (DATA, RCV):
            return None
        self.state = TRAN
        self.data = bytearray()
        self.data_offset = 0
        self.blocks_left = 0
        return self._r1(st)

    def _cmd_status(self, cmd, arg, st):
        if st in (IDLE, READY, IDENT):
            return None
        if not self._rca_matches(arg):
            return b""
        return self._r1(st)

    def _cmd_inactive(self, cmd, arg, st):
        if self._rca_matches(arg) and st not in (IDLE, READY, IDENT):
            self.state = INACTIVE
        return b""

    def _cmd_blocklen(self, cmd, arg, st):
        if st != TRAN:
            return None
        if arg == 0 or arg > 512:
            self.card_status |= BLOCK_LEN_ERROR
        elif not self.high_capacity:
            self.blk_len = arg
        return self._r1(st)

    def _cmd_block_count(self, cmd, arg, st):
        if st != TRAN:
            return None
        self.blocks_left = arg & 0xFFFF
        return self._r1(st)

    def _address(self, arg: int) -> int:
        return arg * 512 if self.high_capacity else arg

    def _xfer_len(self) -> int:
        return 512 if self.high_capacity else self.blk_len

    def _check_range(self, addr: int) -> bool:
        if addr + self._xfer_len() > self.size:
            log.log("guest_errors", f"sd-card: access at 0x{addr:x} beyond the card "
                                    f"({self.size} bytes)")
            self.card_status |= ADDRESS_ERROR     # QEMU 7.2 reports this bit alone
            return False
        return True

    def _cmd_read(self, cmd, arg, st):
        if st != TRAN:
            return None
        addr = self._address(arg)
        if self._check_range(addr):
            self.cur_cmd = cmd
            self.data_start = addr
            if self._load_block():
                self.state = DATA
        return self._r1(st)

    def _load_block(self) -> bool:
        try:
            self.data = bytearray(self.drive.read(self.data_start, self._xfer_len()))
        except BlockError as e:
            log.log("guest_errors", f"sd-card: {e}")
            self.card_status |= ERROR
            return False
        self.data_offset = 0
        return True

    def _cmd_write(self, cmd, arg, st):
        if st != TRAN:
            return None
        addr = self._address(arg)
        if self._check_range(addr):
            if self.readonly:
                self.card_status |= WP_VIOLATION
            else:
                self.cur_cmd = cmd
                self.data_start = addr
                self.data = bytearray()
                self.data_offset = 0
                self.blocks_written = 0
                self.state = RCV
        return self._r1(st)

    def _cmd_app(self, cmd, arg, st):
        if st in (READY, IDENT):
            return None
        if st != IDLE and not self._rca_matches(arg):
            return b""
        self.expecting_acmd = True
        self.card_status |= APP_CMD
        return self._r1(st)

    # --- application commands -----------------------------------------------------
    def _acmd_bus_width(self, cmd, arg, st):
        if st != TRAN:
            return None
        self.bus_width = 4 if arg & 3 == 2 else 1
        return self._r1(st)

    def _acmd_sd_status(self, cmd, arg, st):
        if st != TRAN:
            return None
        status = bytearray(64)
        status[0] = 0x80 if self.bus_width == 4 else 0x00
        self._start_read_buffer(cmd, bytes(status))
        return self._r1(st)

    def _acmd_num_wr_blocks(self, cmd, arg, st):
        if st != TRAN:
            return None
        self._start_read_buffer(cmd, struct.pack(">I", self.blocks_written))
        return self._r1(st)

    def _acmd_r1_in_tran(self, cmd, arg, st):
        if st != TRAN:
            return None
        return self._r1(st)

    def _acmd_op_cond(self, cmd, arg, st):
        if st != IDLE:
            return None
        if arg & 0x00FFFFFF and not self.ocr & OCR_POWER_UP:
            self.ocr |= OCR_POWER_UP | (OCR_CCS if self.high_capacity else 0)
        if self.ocr & arg & 0x00FFFFFF and self.ocr & OCR_POWER_UP:
            self.state = READY
        return struct.pack(">I", self.ocr & (OCR_VOLTAGES | OCR_CCS | OCR_POWER_UP))

    def _acmd_send_scr(self, cmd, arg, st):
        if st != TRAN:
            return None
        self._start_read_buffer(cmd, SCR)
        return self._r1(st)

    def _start_read_buffer(self, cmd: int, content: bytes) -> None:
        """A register read (SCR, SD status, switch status) through the data lines."""
        self.cur_cmd = cmd
        self.data = bytearray(content)
        self.data_offset = 0
        self.state = DATA

    # --- the data lines ---------------------------------------------------------------
    def data_ready(self) -> bool:
        return self.state == DATA and self.data_offset < len(self.data)

    def read_data(self, n: int) -> bytes:
        """Up to ``n`` bytes of read data; fewer when the transfer ends."""
        out = bytearray()
        while len(out) < n and self.data_ready():
            take = min(n - len(out), len(self.data) - self.data_offset)
            out += self.data[self.data_offset:self.data_offset + take]
            self.data_offset += take
            if self.data_offset >= len(self.data):
                self._read_block_done()
        return bytes(out)

    def _read_block_done(self) -> None:
        if self.cur_cmd != 18:
            self.state = TRAN
            return
        if self.blocks_left:
            self.blocks_left -= 1
            if self.blocks_left == 0:
                self.state = TRAN
                return
        self.data_start += self._xfer_len()
        if self.data_start + self._xfer_len() > self.size:
            self.card_status |= OUT_OF_RANGE
            self.data = bytearray()     # nothing more to send; CMD12 ends it
            self.data_offset = 0
            return
        self._load_block()

    def write_data(self, data: bytes) -> None:
        if self.state != RCV:
            log.log("guest_errors", "sd-card: data written while not receiving")
            return
        pos = 0
        block = self._xfer_len()
        while pos < len(data) and self.state == RCV:
            take = min(block - len(self.data), len(data) - pos)
            self.data += data[pos:pos + take]
            pos += take
            if len(self.data) == block:
                self._write_block_done()

    def _write_block_done(self) -> None:
        block = self._xfer_len()
        if self.data_start + block > self.size:
            self.card_status |= OUT_OF_RANGE
        else:
            try:
                self.drive.write(self.data_start, bytes(self.data))
                self.blocks_written += 1
            except BlockError as e:
                log.log("guest_errors", f"sd-card: {e}")
                self.card_status |= ERROR
        self.data = bytearray()
        if self.cur_cmd != 25:
            self.state = TRAN
            return
        if self.blocks_left:
            self.blocks_left -= 1
            if self.blocks_left == 0:
                self.state = TRAN
                return
        self.data_start += block
