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

import re
from typing import Iterator, Tuple

INTERRUPT = 0x03


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % checksum(payload)


_SPECIAL = re.compile(rb"[#$}*]")


def escape_binary(data: bytes) -> bytes:
    """'}' escapes for # $ } * (each byte XOR 0x20 after the '}')."""
    return _SPECIAL.sub(lambda m: bytes((0x7D, m.group()[0] ^ 0x20)), bytes(data))


def unescape_binary(data: bytes) -> bytes:
    """Undo escape_binary; a '}' at the very end escapes nothing and is dropped."""
    data = bytes(data)
    if b"}" not in data:
        return data
    if b"}}" in data:                   # never in escaped data: byte by byte, as written
        out, it = bytearray(), iter(data)
        for b in it:
            if b == 0x7D:
                nxt = next(it, None)
                if nxt is None:
                    break
                b = nxt ^ 0x20
            out.append(b)
        return bytes(out)
    parts = data.split(b"}")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part:                    # only the last: the trailing '}'
            break
        out.append(part[0] ^ 0x20)
        out += part[1:]
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
        i, n = 0, len(chunk)
        while i < n:
            st = self.state
            if st == self.DATA:         # copy up to the next '#' or '$' in one go
                ends = [j for j in (chunk.find(b"#", i), chunk.find(b"$", i)) if j >= 0]
                j = min(ends) if ends else n
                room = self.max_size - len(self.buf)
                if j - i > room:
                    self.overflow = True
                self.buf += chunk[i:i + max(0, min(j - i, room))]
                i = j
                if i == n:
                    break
            b = chunk[i]
            i += 1
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
                else:               # '$': a new packet starts, the broken one is dropped
                    self.buf = bytearray()
                    self.overflow = False
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
