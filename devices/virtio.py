"""The virtio device core shared by every device behind a virtio transport.

A ``VirtIODevice`` (abstract type "virtio-device") holds what the virtio spec calls
the device: its status byte, negotiated features, interrupt status (ISR), its
queues (where they live in guest memory and how far the device has consumed
them) and its configuration space.  A transport (``virtio-mmio``) plugs it in
(``transport.plug(dev)`` sets ``dev.bus``), forwards register accesses, and
raises its IRQ line from ``dev.isr``.

Subclasses set ``DEVICE_ID`` and ``NUM_QUEUES``, add ``queue_fields(NUM_QUEUES)``
to their ``STATE``, and implement:

* ``device_features() -> int``  feature bits they implement (0..63),
* ``config_bytes() -> bytes``   their configuration space (little-endian),
* ``handle_element(index, elem) -> int``  serve one request, return bytes written;
  raise ``VirtQueueError`` for a malformed request.

A malformed queue or request never raises out of the device: it is logged under
``guest_errors``, the device is marked broken (status bit DEVICE_NEEDS_RESET 0x40,
and a configuration-change interrupt for virtio 1.x drivers, as QEMU's
virtio_error does) and ignores its queues until the driver resets it by writing
status 0.  Requests are processed synchronously when the driver notifies, so
runs are deterministic; the used-buffer interrupt follows unless the driver set
VRING_AVAIL_F_NO_INTERRUPT.
"""
from __future__ import annotations

from typing import Optional, Tuple

from pysystem import log
from pysystem.qdev import Device
from pysystem.qom import Field, register

from .virtqueue import (QUEUE_MAX_SIZE, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
                        Element, SplitQueue, VirtQueueError)

__all__ = ["VirtIODevice", "queue_fields", "VIRTIO_F_VERSION_1", "STATUS_NEEDS_RESET",
           "STATUS_FEATURES_OK", "STATUS_DRIVER_OK"]

STATUS_ACKNOWLEDGE = 1
STATUS_DRIVER = 2
STATUS_DRIVER_OK = 4
STATUS_FEATURES_OK = 8
STATUS_NEEDS_RESET = 0x40
STATUS_FAILED = 0x80
VIRTIO_F_VERSION_1 = 32
ISR_QUEUE = 1
ISR_CONFIG = 2


def queue_fields(n: int) -> Tuple[Field, ...]:
    """The declared state of ``n`` virtqueues (both transport layouts)."""
    return (
        Field("vq_num", f"u16[{n}]", 0, "queue size the driver chose"),
        Field("vq_align", f"u32[{n}]", 4096, "legacy used-ring alignment"),
        Field("vq_pfn", f"u32[{n}]", 0, "legacy queue page frame number"),
        Field("vq_ready", f"bool[{n}]", False, "queue enabled"),
        Field("vq_desc", f"u64[{n}]", 0, "descriptor table address"),
        Field("vq_avail", f"u64[{n}]", 0, "avail ring address"),
        Field("vq_used", f"u64[{n}]", 0, "used ring address"),
        Field("vq_last_avail", f"u16[{n}]", 0, "next avail entry the device reads"),
        Field("vq_used_idx", f"u16[{n}]", 0, "used index the device published"),
    )


@register
class VirtIODevice(Device):
    TYPE = "virtio-device"
    ABSTRACT = True
    DEVICE_ID = 0
    NUM_QUEUES = 1
    STATE = (
        Field("status", "u8", 0, "device status byte as the driver wrote it"),
        Field("isr", "u8", 0, "interrupt status: bit 0 used buffer, bit 1 config change"),
        Field("guest_features", "u64", 0, "features the driver accepted"),
        Field("broken", "bool", False, "a malformed request was seen; reset needed"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.bus = None   # the transport, set by its plug()
        self._serving = False   # re-entrancy guard: a buffer may point at our own registers

    # --- for subclasses -----------------------------------------------------------
    def device_features(self) -> int:
        return 0

    def config_bytes(self) -> bytes:
        return b""

    def handle_element(self, index: int, elem: Element) -> int:
        raise VirtQueueError("device has no request handler")

    # --- features, status, config -------------------------------------------------
    def host_features(self, modern: bool) -> int:
        features = self.device_features() | (1 << VIRTIO_RING_F_INDIRECT_DESC)
        if modern:
            features |= 1 << VIRTIO_F_VERSION_1
        return features

    def read_status(self) -> int:
        return self.status | (STATUS_NEEDS_RESET if self.broken else 0)

    def write_status(self, value: int) -> None:
        self.status = value & 0xFF & ~STATUS_NEEDS_RESET
        if self.status == 0:
            self.virtio_reset()

    def virtio_reset(self) -> None:
        """Status 0 from the driver: back to the state after power-on."""
        Device.reset(self)
        self.device_reset()
        self.update_irq()

    def device_reset(self) -> None:
        """Device-specific part of a reset (subclasses extend)."""

    def reset(self) -> None:
        super().reset()
        self.device_reset()

    def config_read(self, offset: int, size: int) -> int:
        cfg = self.config_bytes()
        if offset < 0 or offset + size > len(cfg):
            return (1 << (8 * size)) - 1
        return int.from_bytes(cfg[offset:offset + size], "little")

    def config_write(self, offset: int, value: int, size: int) -> None:
        log.log("guest_errors", f"{self.TYPE}: write to read-only config space at "
                                f"0x{offset:x} ignored")

    # --- queues -------------------------------------------------------------------
    def queue_exists(self, index: int) -> bool:
        return 0 <= index < self.NUM_QUEUES

    def queue_max(self, index: int) -> int:
        return QUEUE_MAX_SIZE if self.queue_exists(index) else 0

    def reset_queue(self, index: int) -> None:
        for name, value in (("vq_num", 0), ("vq_pfn", 0), ("vq_ready", False), ("vq_desc", 0),
                            ("vq_avail", 0), ("vq_used", 0), ("vq_last_avail", 0),
                            ("vq_used_idx", 0)):
            getattr(self, name)[index] = value
        self.vq_align[index] = 4096

    def _queue(self, index: int, mem) -> Optional[SplitQueue]:
        if not self.queue_exists(index) or not self.vq_ready[index] or not self.vq_num[index]:
            return None
        return SplitQueue(mem, self.vq_num[index], self.vq_desc[index], self.vq_avail[index],
                          self.vq_used[index], self.vq_last_avail[index],
                          self.vq_used_idx[index],
                          indirect=bool(self.guest_features >> VIRTIO_RING_F_INDIRECT_DESC & 1),
                          event_idx=bool(self.guest_features >> VIRTIO_RING_F_EVENT_IDX & 1))

    def notify(self, index: int) -> None:
        """The driver kicked queue ``index``: serve everything available."""
        if self.broken or not self.queue_exists(index):
            return
        mem = getattr(self.bus, "memory", None)
        if mem is None:
            log.log("guest_errors", f"{self.TYPE}: no address space to reach queue {index}")
            return
        q = self._queue(index, mem)
        if q is None:
            log.log("guest_errors", f"{self.TYPE}: notify of queue {index} that is not set up")
            return
        if self._serving:
            log.log("guest_errors", f"{self.TYPE}: queue {index} notified from inside a request")
            return
        served = 0
        self._serving = True
        try:
            while True:
                elem = q.pop()
                if elem is None:
                    break
                written = self.handle_element(index, elem)
                q.push(elem, written)
                served += 1
            wants = served and q.wants_interrupt()
        except VirtQueueError as e:
            self.vq_last_avail[index], self.vq_used_idx[index] = q.last_avail, q.used_idx
            if served:   # what completed before the bad request is still signalled
                self.isr |= ISR_QUEUE
            self.set_broken(f"queue {index}: {e}")
            return
        finally:
            self._serving = False
        self.vq_last_avail[index], self.vq_used_idx[index] = q.last_avail, q.used_idx
        if wants:
            self.isr |= ISR_QUEUE
            self.update_irq()

    def set_broken(self, why: str) -> None:
        log.log("guest_errors", f"{self.TYPE}: {why}; device needs reset")
        self.broken = True
        if self.guest_features >> VIRTIO_F_VERSION_1 & 1:
            self.isr |= ISR_CONFIG
        self.update_irq()

    def ack_interrupt(self, bits: int) -> None:
        self.isr &= ~bits & 0xFF
        self.update_irq()

    def update_irq(self) -> None:
        if self.bus is not None:
            self.bus.update_irq()

    def post_load(self) -> None:
        self.update_irq()
