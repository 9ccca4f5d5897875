"""The gdb remote protocol's framing: ``$payload#cs`` packets, acks, the interrupt byte.

    reader = PacketReader(max_size)
    for kind, data in reader.feed(chunk):   # kind: "packet", "interrupt", "bad"
        ...
    frame(payload) -> bytes                 # "$payload#cs"
    escape_binary(data) / unescape_binary(data)     # '}' escapes of binary data

A packet whose checksum does not match, or that grows past ``max_size``, is reported
as "bad" (the stub answers '-'); bytes outside a packet other than the interrupt byte
0x03 (acks '+'/'-', noise) are dropped.  The parser keeps its state across chunks, so
a packet may arrive byte by byte; ``reset()`` forgets a half-received one (the peer
went away).
"""
from __future__ import annotations

from typing import Iterator, Tuple

INTERRUPT = 0x03


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % checksum(payload)


def escape_binary(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in (0x23, 0x24, 0x7D, 0x2A):   # # $ } *
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape_binary(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                break
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


class PacketReader:
    IDLE, DATA, CS1, CS2 = range(4)

    def __init__(self, max_size: int):
        self.max_size = max_size
        self.reset()

    def reset(self) -> None:
        self.state = self.IDLE
        self.buf = bytearray()
        self.cs = b""
        self.overflow = False

    def feed(self, chunk: bytes) -> Iterator[Tuple[str, bytes]]:
        for b in chunk:
            st = self.state
            if st == self.IDLE:
                if b == 0x24:       # $
                    self.state = self.DATA
                    self.buf = bytearray()
                    self.overflow = False
                elif b == INTERRUPT:
                    yield "interrupt", b""
            elif st == self.DATA:
                if b == 0x23:       # #
                    self.state = self.CS1
                elif b == 0x24:     # a new packet starts: the broken one is dropped
                    self.buf = bytearray()
                    self.overflow = False
                elif len(self.buf) < self.max_size:
                    self.buf.append(b)
                else:
                    self.overflow = True
            elif st == self.CS1:
                self.cs = bytes((b,))
                self.state = self.CS2
            else:
                self.state = self.IDLE
                try:
                    want = int((self.cs + bytes((b,))).decode("ascii"), 16)
                except (ValueError, UnicodeDecodeError):
                    want = -1
                if self.overflow or want != checksum(self.buf):
                    yield "bad", bytes(self.buf)
                else:
                    yield "packet", bytes(self.buf)
