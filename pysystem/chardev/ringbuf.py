"""``ringbuf,size=N``: output kept in a ring buffer in memory; no host input.

``size`` (default 64 KiB) must be a power of two, as in QEMU; when the buffer
is full the oldest bytes are overwritten.  ``read(n)`` takes up to ``n`` bytes
out (what QMP ``ringbuf-read`` returns), ``contents()`` looks without taking.
QMP ``ringbuf-write`` appends to the buffer, as in QEMU (the guest does not see
it); ``inject(data)`` hands bytes to the frontend as input (for tests).
"""
from __future__ import annotations

from ..qom import Property, register
from .base import Chardev, ChardevError


@register
class RingbufChardev(Chardev):
    TYPE = "chardev-ringbuf"
    BACKEND = "ringbuf"
    PROPERTIES = (
        Property("size", "size", 65536, "buffer size in bytes (a power of two)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        if self.size <= 0 or self.size & (self.size - 1):
            raise ChardevError("size of ringbuf chardev must be power of two")
        self.buf = bytearray()

    def filename(self) -> str:
        return "ringbuf"

    def _write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) > self.size:
            del self.buf[:len(self.buf) - self.size]
        return len(data)

    def contents(self) -> bytes:
        return bytes(self.buf)

    def read(self, n: int) -> bytes:
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def inject(self, data: bytes) -> None:
        self.deliver(bytes(data))


@register
class MemoryChardev(RingbufChardev):
    """``memory``: QEMU's old name for ringbuf."""

    TYPE = "chardev-memory"
    BACKEND = "memory"
