"""ATAPI packet commands of an IDE CD/DVD-ROM unit (QEMU hw/ide/atapi.c, as 7.2 answers).

Used by devices/ata.py: ``execute(bus, unit, packet)`` runs a 12-byte packet and
starts its data phase; ``pio_next`` continues a PIO data-in phase after the host read
a DRQ block; ``dma_run`` moves the whole reply through the bus master.  Replies are
truncated to the packet's allocation length; PIO blocks are at most the byte count
limit the host put in LBA mid/high (made even), each signalled with an interrupt,
interrupt reason IO (data in) then IO|CD (status).  See devices/ata.py for the list
of commands answered.  Media are 2048-byte blocks of the backend.
"""
from __future__ import annotations

import struct

from pysystem import log
from pysystem.block import BlockError

CD_SECTOR = 2048
REASON_CD, REASON_IO = 0x01, 0x02
NOT_READY, ILLEGAL_REQUEST, UNIT_ATTENTION = 2, 5, 6
ASC_ILLEGAL_OPCODE, ASC_LBA_OUT_OF_RANGE, ASC_INV_FIELD = 0x20, 0x21, 0x24
ASC_SAVING_NOT_SUPPORTED, ASC_MEDIUM_NOT_PRESENT = 0x39, 0x3A
CD_MAX_SECTORS = 80 * 60 * 75 * 2048 // CD_SECTOR     # more than this is a DVD (QEMU)
READY, SEEK, DRQ, ERR = 0x40, 0x10, 0x08, 0x01


def _padstr8(text: str, n: int) -> bytes:
    return text.encode()[:n].ljust(n, b" ")


def _media(bus, u):
    return bus.drives[u]


def _blocks(bus, u) -> int:
    media = _media(bus, u)
    return media.size // CD_SECTOR if media is not None else 0


class _Fail(Exception):
    def __init__(self, key: int, asc: int):
        super().__init__(f"sense {key}/{asc:02x}")
        self.key, self.asc = key, asc


def _need_media(bus, u) -> None:
    if _media(bus, u) is None:
        raise _Fail(NOT_READY, ASC_MEDIUM_NOT_PRESENT)


def _lba_to_msf(lba: int) -> bytes:
    lba += 150
    return bytes((lba // (75 * 60), (lba // 75) % 60, lba % 75))


def _is_dvd(bus, u) -> bool:
    return _blocks(bus, u) > CD_MAX_SECTORS


# --- commands: each returns the reply bytes (before allocation-length truncation) ---
def _test_unit_ready(bus, u, p):
    _need_media(bus, u)
    return b""


def _request_sense(bus, u, p):
    buf = bytearray(18)
    buf[0], buf[2], buf[7], buf[12] = 0xF0, bus.sense_key[u], 10, bus.asc[u]
    if bus.sense_key[u] == UNIT_ATTENTION:
        bus.sense_key[u] = 0
    return bytes(buf[:p[4]])


def _inquiry(bus, u, p):
    if p[1] & 1:
        raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
    buf = bytes((0x05, 0x80, 0x00, 0x21, 31, 0, 0, 0)) + _padstr8("QEMU", 8) + \
        _padstr8("QEMU DVD-ROM", 16) + _padstr8("2.5+", 4)
    return buf[:p[4]]


def _mode_sense(bus, u, p):
    if p[0] == 0x1A:
        raise _Fail(ILLEGAL_REQUEST, ASC_ILLEGAL_OPCODE)
    max_len = struct.unpack_from(">H", p, 7)[0]
    page, control = p[2] & 0x3F, p[2] >> 6
    if control == 3:
        raise _Fail(ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED)
    if control != 0:
        raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
    if page == 0x01:
        buf = struct.pack(">HB5x", 16 - 2, 0x70) + bytes((0x01, 6, 0x00, 0x05, 0, 0, 0, 0))
    elif page == 0x2A:
        buf = struct.pack(">HB5x", 28, 0x70) + bytes((0x2A, 28 - 8, 0x3B, 0x00, 0x71,
                                                          3 << 5, 0x29, 0x00)) + \
            struct.pack(">HBBHH6x", 704, 0, 2, 512, 704)
    else:
        raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
    return buf[:max_len]


def _ok(bus, u, p):
    return b""


def _read_capacity(bus, u, p):
    _need_media(bus, u)
    return struct.pack(">II", _blocks(bus, u) - 1, CD_SECTOR)


def _read(bus, u, p):
    _need_media(bus, u)
    lba = struct.unpack_from(">I", p, 2)[0]
    n = struct.unpack_from(">H", p, 7)[0] if p[0] == 0x28 else struct.unpack_from(">I", p, 6)[0]
    if lba + n > _blocks(bus, u):
        raise _Fail(ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE)
    try:
        return _media(bus, u).read(lba * CD_SECTOR, n * CD_SECTOR)
    except BlockError as e:
        log.log("guest_errors", f"atapi: {e}")
        raise _Fail(ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE) from None


def _read_toc(bus, u, p):
    _need_media(bus, u)
    max_len = struct.unpack_from(">H", p, 7)[0]
    fmt, msf, start = p[9] >> 6, p[1] & 2, p[6]
    total = _blocks(bus, u)
    if fmt == 0:
        if start > 1 and start != 0xAA:
            raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
        q = bytearray((1, 1))
        if start <= 1:
            q += bytes((0, 0x14, 1, 0)) + (b"\0" + _lba_to_msf(0) if msf else bytes(4))
        q += bytes((0, 0x16, 0xAA, 0)) + (b"\0" + _lba_to_msf(total) if msf
                                           else struct.pack(">I", total))
        buf = struct.pack(">H", len(q)) + bytes(q)
    elif fmt == 1:
        buf = bytes((0, 0x0A, 1, 1)) + bytes(8)
    else:
        raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
    return buf[:max_len]


def _get_configuration(bus, u, p):
    max_len = struct.unpack_from(">H", p, 7)[0]
    if _media(bus, u) is None:
        current = 0
    else:
        current = 0x0010 if _is_dvd(bus, u) else 0x0008
    profiles = bytes((0x00, 0x10, 1 if current == 0x10 else 0, 0,
                      0x00, 0x08, 1 if current == 0x08 else 0, 0))
    feature0 = struct.pack(">HBB", 0x0000, 0x03, len(profiles)) + profiles   # profile list
    body = struct.pack(">HH", 0, current) + feature0
    return (struct.pack(">I", len(body)) + body)[:max_len]


def _event_status(bus, u, p):
    if not p[1] & 1:
        raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
    max_len = struct.unpack_from(">H", p, 7)[0]
    if p[4] & 0x10:
        present = _media(bus, u) is not None
        buf = struct.pack(">HBB", 4, 4, 0x10) + bytes((0, 0x02 if present else 0, 0, 0))
    else:
        buf = struct.pack(">HBB", 2, 0x80, 0x10)
    return buf[:max_len]


def _read_disc_info(bus, u, p):
    _need_media(bus, u)
    if p[1] & 7:
        raise _Fail(ILLEGAL_REQUEST, ASC_INV_FIELD)
    max_len = struct.unpack_from(">H", p, 7)[0]
    buf = bytearray(34)
    buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7] = 32, 0x0E, 1, 1, 1, 1, 0x20
    return bytes(buf[:max_len])


def _mechanism_status(bus, u, p):
    max_len = struct.unpack_from(">H", p, 8)[0]
    return bytes((0, 0, 0, 0, 0, 1, 0, 0))[:max_len]


COMMANDS = {
    0x00: _test_unit_ready, 0x03: _request_sense, 0x12: _inquiry, 0x1A: _mode_sense,
    0x5A: _mode_sense, 0x1B: _ok, 0x1E: _ok, 0x25: _read_capacity, 0x28: _read, 0xA8: _read,
    0x43: _read_toc, 0x46: _get_configuration, 0x4A: _event_status, 0x51: _read_disc_info,
    0xBD: _mechanism_status, 0xBB: _ok, 0x2B: _ok,
}


# --- the protocol --------------------------------------------------------------------
def _finish(bus, u) -> None:
    bus.xfer, bus.buf, bus.pos = "", bytearray(), 0
    bus.status[u] = READY | SEEK
    bus.error[u] = 0
    bus.nsector[u] = (bus.nsector[u] & ~7) | REASON_IO | REASON_CD
    bus._raise()


def _fail(bus, u, key: int, asc: int) -> None:
    bus.sense_key[u], bus.asc[u] = key, asc
    bus.xfer, bus.buf, bus.pos = "", bytearray(), 0
    bus.status[u] = READY | ERR
    bus.error[u] = key << 4
    bus.nsector[u] = (bus.nsector[u] & ~7) | REASON_IO | REASON_CD
    bus._raise()


def execute(bus, u: int, packet: bytes) -> None:
    op = packet[0]
    if "trace" in log.mask:
        log.write(f"atapi: unit {u} packet {packet.hex()}\n")
    handler = COMMANDS.get(op)
    try:
        if handler is None:
            log.log("unimp", f"atapi: unsupported packet command 0x{op:02x}")
            raise _Fail(ILLEGAL_REQUEST, ASC_ILLEGAL_OPCODE)
        data = handler(bus, u, packet)
    except _Fail as f:
        _fail(bus, u, f.key, f.asc)
        return
    if op != 0x03:
        bus.sense_key[u], bus.asc[u] = 0, 0
    if not data:
        _finish(bus, u)
        return
    limit = bus.lcyl[u] | bus.hcyl[u] << 8
    if limit == 0xFFFF or limit == 0:
        limit = 0xFFFE
    bus.xfer_chunk = limit & ~1 or 2
    if bus.feature[u] & 1:                       # DMA
        bus.xfer, bus.buf, bus.pos = "atapi-dma", bytearray(data), 0
        bus.status[u] = READY | SEEK | DRQ
        return
    bus.xfer, bus.buf, bus.pos = "atapi", bytearray(data), 0
    _pio_block(bus, u)


def _pio_block(bus, u: int) -> None:
    """Offer the next DRQ block of the reply in ``bus.buf`` from ``bus.pos``."""
    n = min(bus.xfer_chunk, len(bus.buf) - bus.pos)
    bus.xfer_left = bus.pos + n                # where this block ends
    bus.lcyl[u], bus.hcyl[u] = n & 0xFF, n >> 8
    bus.nsector[u] = (bus.nsector[u] & ~7) | REASON_IO
    bus.status[u] = READY | SEEK | DRQ
    bus._raise()


def pio_next(bus, u: int) -> None:
    if bus.pos >= len(bus.buf):
        _finish(bus, u)
    else:
        _pio_block(bus, u)


def dma_run(bus, u: int, mover) -> bool:
    n = len(bus.buf)
    moved = mover.to_memory(bytes(bus.buf))
    _finish(bus, u)
    return moved == n
