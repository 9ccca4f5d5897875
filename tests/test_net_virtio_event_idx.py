"""virtio-net's VIRTIO_RING_F_EVENT_IDX (devices/virtqueue.py), driven as the virtio
spec's driver side does it (tests/virtio_driver.py): with used_event set, the device
interrupts only when its used index passes it; after each drained notify it publishes
avail_event as the next entry it will read; without the feature every completed
batch interrupts.  Debian's virtio_net negotiates it in tests/test_net_guest_virtio.py
and tests/test_boot_malta.py (virtio-mmio and virtio-pci), the guest-side oracle."""
from __future__ import annotations

import struct

from test_dev_virtio_net import _machine, _send, _start

EVENT_IDX = 29
JUNK = b"\xff" * 6 + bytes.fromhex("525400123456") + b"\x88\xb5" + bytes(46)   # no answer


def _u16(mem, addr: int) -> int:
    return struct.unpack("<H", mem.read_bytes(addr, 2))[0]


def _interrupts(event_idx: bool):
    net, dev, transport, mem = _machine()
    features = 0xFFFFFFFF if event_idx else 0xFFFFFFFF & ~(1 << EVENT_IDX)
    rx, tx, accepted = _start(mem, features=features, rx_buffers=0)
    assert bool(accepted >> EVENT_IDX & 1) == event_idx
    mem.write_bytes(tx.avail + 4 + 2 * tx.num, struct.pack("<H", 2))    # used_event = 2
    rx.ack()
    levels, avail_events = [], []
    for _ in range(4):
        _send(tx, JUNK, 12)
        levels.append(bool(transport.irq.level))
        avail_events.append(_u16(mem, tx.used + 4 + 8 * tx.num))
        rx.ack()
    assert tx.used_idx() == 4 and not dev.broken
    return levels, avail_events


def test_interrupt_only_when_the_used_index_passes_used_event():
    levels, avail_events = _interrupts(True)
    assert levels == [False, False, True, False]      # used index 3 passed used_event 2
    assert avail_events == [1, 2, 3, 4]               # kick me at the next entry


def test_without_event_idx_every_batch_interrupts():
    levels, avail_events = _interrupts(False)
    assert levels == [True, True, True, True]
    assert avail_events == [0, 0, 0, 0]               # the device leaves the word alone
