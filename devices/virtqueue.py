"""Split virtqueues (virtio 1.x section 2.7, and the legacy layout of 0.9.5) in guest memory.

Shared by every virtio device; the transport only tells a device where a queue's
three parts live.  A queue is seen through a short-lived ``SplitQueue`` built from
the device's declared state when the guest notifies:

    q = SplitQueue(mem, num, desc, avail, used, last_avail, used_idx, indirect=True)
    while True:
        elem = q.pop()              # None when the avail ring is drained
        if elem is None: break
        header = elem.read(mem, 0, 16)           # device-readable bytes, gathered
        elem.write(mem, 0, data)                 # device-writable bytes, scattered
        q.push(elem, written)
    q.last_avail, q.used_idx         # store back into the device state
    q.wants_interrupt()              # VRING_AVAIL_F_NO_INTERRUPT clear, or with
                                     # event_idx=True: used_event passed by this batch

``mem`` is an ``AddressSpace`` (``read_bytes``/``write_bytes``).  Everything the
guest controls is checked: a head index or ``next`` outside the table, a chain
longer than the queue (a loop), a nested or badly sized indirect table, a
readable descriptor after a writable one, more than 4 GiB in one direction (the
used ring's length is 32 bits), an avail index that runs more than the
queue size ahead, and addresses nothing answers (``BusError``) all raise
``VirtQueueError``; the device then marks itself broken instead of crashing.

``legacy_layout(pfn, page_size, num, align)`` gives the (desc, avail, used)
addresses of a legacy queue.  VIRTIO_RING_F_INDIRECT_DESC is implemented, and
VIRTIO_RING_F_EVENT_IDX for a device that offers it (``event_idx=True`` once
negotiated): an interrupt is wanted when the used index passed the driver's
used_event (the word after the avail ring) in this view's batch, and each pop
publishes avail_event (the word after the used ring) as the next entry the device
will read, so the driver kicks again only once the device has drained the ring.
Ring fields are little-endian.
"""
from __future__ import annotations

import struct
from typing import List, Optional, Tuple

from pysystem.memory import BusError

__all__ = ["VirtQueueError", "Element", "SplitQueue", "legacy_layout",
           "VRING_DESC_F_NEXT", "VRING_DESC_F_WRITE", "VRING_DESC_F_INDIRECT",
           "VIRTIO_RING_F_INDIRECT_DESC", "VIRTIO_RING_F_EVENT_IDX", "QUEUE_MAX_SIZE"]

VRING_DESC_F_NEXT = 1
VRING_DESC_F_WRITE = 2
VRING_DESC_F_INDIRECT = 4
VRING_AVAIL_F_NO_INTERRUPT = 1
VIRTIO_RING_F_INDIRECT_DESC = 28
VIRTIO_RING_F_EVENT_IDX = 29
QUEUE_MAX_SIZE = 1024          # the largest queue a device offers (QEMU's VIRTQUEUE_MAX_SIZE)

_DESC = struct.Struct("<QIHH")  # addr, len, flags, next
_U16 = struct.Struct("<H")
_USED_ELEM = struct.Struct("<II")


class VirtQueueError(Exception):
    """The guest handed the device something malformed; the message says what."""


def legacy_layout(pfn: int, page_size: int, num: int, align: int) -> Tuple[int, int, int]:
    """Descriptor table, avail ring and used ring addresses of a legacy (0.9.5) queue."""
    desc = pfn * page_size
    avail = desc + 16 * num
    used = avail + 4 + 2 * num + 2
    if align > 0:
        used = (used + align - 1) // align * align
    return desc, avail, used


class Element:
    """One popped request: its head index and the buffers of its chain."""

    __slots__ = ("head", "out", "in_", "out_len", "in_len")

    def __init__(self, head: int):
        self.head = head
        self.out: List[Tuple[int, int]] = []   # device-readable (addr, len)
        self.in_: List[Tuple[int, int]] = []   # device-writable (addr, len)
        self.out_len = 0
        self.in_len = 0

    @staticmethod
    def _walk(bufs: List[Tuple[int, int]], offset: int, n: int):
        """(addr, length) pieces covering [offset, offset+n) of a buffer list."""
        for addr, length in bufs:
            if n <= 0:
                return
            if offset >= length:
                offset -= length
                continue
            take = min(length - offset, n)
            yield addr + offset, take
            n -= take
            offset = 0

    def read(self, mem, offset: int, n: int) -> bytes:
        """``n`` device-readable bytes from ``offset`` (fewer if the chain is shorter)."""
        out = bytearray()
        try:
            for addr, take in self._walk(self.out, offset, n):
                out += mem.read_bytes(addr, take)
        except BusError as e:
            raise VirtQueueError(f"buffer outside RAM ({e})") from None
        return bytes(out)

    def write(self, mem, offset: int, data: bytes) -> int:
        """Scatter ``data`` into the device-writable buffers from ``offset``; bytes written."""
        pos = 0
        try:
            for addr, take in self._walk(self.in_, offset, len(data)):
                mem.write_bytes(addr, data[pos:pos + take])
                pos += take
        except BusError as e:
            raise VirtQueueError(f"buffer outside RAM ({e})") from None
        return pos


class SplitQueue:
    """A view of one split virtqueue; see the module docstring."""

    def __init__(self, mem, num: int, desc: int, avail: int, used: int,
                 last_avail: int, used_idx: int, indirect: bool = True,
                 event_idx: bool = False):
        self.mem = mem
        self.num = num
        self.desc = desc
        self.avail = avail
        self.used = used
        self.last_avail = last_avail & 0xFFFF
        self.used_idx = used_idx & 0xFFFF
        self.indirect = indirect
        self.event_idx = event_idx
        self.batch_start = self.used_idx     # the used index before this view's pushes

    # --- guest memory, with bus errors turned into queue errors -------------------
    def _read(self, addr: int, n: int) -> bytes:
        try:
            return self.mem.read_bytes(addr, n)
        except BusError as e:
            raise VirtQueueError(f"ring outside RAM ({e})") from None

    def _write(self, addr: int, data: bytes) -> None:
        try:
            self.mem.write_bytes(addr, data)
        except BusError as e:
            raise VirtQueueError(f"ring outside RAM ({e})") from None

    def avail_idx(self) -> int:
        return _U16.unpack(self._read(self.avail + 2, 2))[0]

    def wants_interrupt(self) -> bool:
        """False when the driver set VRING_AVAIL_F_NO_INTERRUPT; with EVENT_IDX, True
        when the used index went past used_event since this view was made (the
        virtio spec's vring_need_event)."""
        if self.event_idx:
            event = _U16.unpack(self._read(self.avail + 4 + 2 * self.num, 2))[0]
            new, old = self.used_idx, self.batch_start
            return (new - event - 1) & 0xFFFF < (new - old) & 0xFFFF
        return not (_U16.unpack(self._read(self.avail, 2))[0] & VRING_AVAIL_F_NO_INTERRUPT)

    def _publish_avail_event(self) -> None:
        self._write(self.used + 4 + 8 * self.num, _U16.pack(self.last_avail))

    # --- the device side ------------------------------------------------------------
    def pop(self) -> Optional[Element]:
        """The next available chain, or None; ``VirtQueueError`` if it is malformed."""
        if self.num == 0:
            return None
        idx = self.avail_idx()
        pending = (idx - self.last_avail) & 0xFFFF
        if pending == 0:
            if self.event_idx:              # drained: the next entry made must kick
                self._publish_avail_event()
            return None
        if pending > self.num:
            raise VirtQueueError(f"avail index {idx} is {pending} entries ahead of "
                                 f"{self.last_avail} in a queue of {self.num}")
        slot = self.avail + 4 + 2 * (self.last_avail % self.num)
        head = _U16.unpack(self._read(slot, 2))[0]
        if head >= self.num:
            raise VirtQueueError(f"head descriptor {head} is outside a queue of {self.num}")
        elem = Element(head)
        self._collect(elem, head)
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        if self.event_idx:
            self._publish_avail_event()
        return elem

    def _collect(self, elem: Element, head: int) -> None:
        table, size, i, seen = self.desc, self.num, head, 0
        in_indirect = False
        while True:
            seen += 1
            if seen > size:
                raise VirtQueueError(f"descriptor chain from {head} loops or is longer "
                                     f"than its table ({size})")
            addr, length, flags, nxt = _DESC.unpack(self._read(table + 16 * i, 16))
            if flags & VRING_DESC_F_INDIRECT:
                if not self.indirect:
                    raise VirtQueueError("indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC")
                if in_indirect:
                    raise VirtQueueError("nested indirect descriptor table")
                if flags & VRING_DESC_F_NEXT:
                    raise VirtQueueError("indirect descriptor with the NEXT flag")
                if length == 0 or length % 16:
                    raise VirtQueueError(f"indirect table of {length} bytes is not a "
                                         f"multiple of 16")
                table, size, i, seen, in_indirect = addr, length // 16, 0, 0, True
                continue
            if flags & VRING_DESC_F_WRITE:
                elem.in_.append((addr, length))
                elem.in_len += length
            else:
                if elem.in_:
                    raise VirtQueueError("device-readable descriptor after a writable one")
                elem.out.append((addr, length))
                elem.out_len += length
            if elem.in_len > 0xFFFFFFFF or elem.out_len > 0xFFFFFFFF:
                # the used ring's length is 32 bits (QEMU refuses such chains too)
                raise VirtQueueError(f"descriptor chain from {head} holds more than 4 GiB")
            if not flags & VRING_DESC_F_NEXT:
                return
            if nxt >= size:
                raise VirtQueueError(f"next descriptor {nxt} is outside a table of {size}")
            i = nxt

    def push(self, elem: Element, written: int) -> None:
        """Put ``elem`` on the used ring with ``written`` bytes written into it."""
        slot = self.used + 4 + 8 * (self.used_idx % self.num)
        self._write(slot, _USED_ELEM.pack(elem.head, written))
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        self._write(self.used + 2, _U16.pack(self.used_idx))
