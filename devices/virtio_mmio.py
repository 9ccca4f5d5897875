"""virtio-mmio: the memory-mapped virtio transport (QEMU type "virtio-mmio").

MMIO: one 0x200-byte region: the registers of the virtio-mmio spec (virtio 1.x
section 4.2.2, and the legacy layout 4.2.4), device configuration space at 0x100.
IRQ: one output, high while the plugged device's interrupt status is non-zero.
Properties:
  force-legacy  bool (default on, as QEMU 7.2) - Version 1 (legacy) register
                interface: GuestPageSize, QueueAlign, QueuePFN.  Off: Version 2
                (QueueReady, QueueDesc/Driver/Device Low/High, ConfigGeneration,
                VIRTIO_F_VERSION_1 offered).
  memory        any - the AddressSpace the device DMAs through (the board's
                system memory).
Bus: one slot.  ``plug(dev)`` puts a virtio device (e.g. virtio-blk-device) in it;
``is_free()`` says whether it is empty.  An empty transport reads MagicValue,
Version and VendorID and DeviceID 0, ignores writes, and Linux skips it.
QEMU hands ``-device virtio-*-device`` to the free transport with the highest
address first (on vexpress-a9: 0x10013600, then 0x10013400, ...);
``pick_free_transport(transports)`` makes that choice for a board.

Not modelled: shared memory regions (SHMSel...), notification data, queue reset.
Registers accessed in the wrong mode (a legacy register in modern mode or the
reverse) read 0, ignore writes and log under guest_errors.
"""
from __future__ import annotations

from pysystem import log
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .virtio import VIRTIO_F_VERSION_1, STATUS_FEATURES_OK, VirtIODevice
from .virtqueue import legacy_layout

MAGIC = 0x74726976        # "virt"
VENDOR_ID = 0x554D4551    # "QEMU"
CONFIG_OFFSET = 0x100
REGION_SIZE = 0x200


@register
class VirtIOMMIO(SysBusDevice):
    TYPE = "virtio-mmio"
    DESC = "virtio-mmio transport"
    PROPERTIES = (
        Property("force-legacy", "bool", True, "legacy (version 1) register interface"),
        Property("memory", "any", None, "address space the plugged device DMAs through"),
    )
    REGS = RegisterBank(
        "virtio-mmio",
        Reg("MagicValue", 0x000, access="ro", read="_r_magic", stored=False),
        Reg("Version", 0x004, access="ro", read="_r_version", stored=False),
        Reg("DeviceID", 0x008, access="ro", read="_r_device_id", stored=False),
        Reg("VendorID", 0x00C, access="ro", read="_r_vendor", stored=False),
        Reg("HostFeatures", 0x010, access="ro", read="_r_host_features", stored=False),
        Reg("HostFeaturesSel", 0x014),
        Reg("GuestFeatures", 0x020, write="_w_guest_features", access="wo",
            stored=False),
        Reg("GuestFeaturesSel", 0x024),
        Reg("GuestPageSize", 0x028, write="_w_guest_page_size", access="wo", stored=False),
        Reg("QueueSel", 0x030),
        Reg("QueueNumMax", 0x034, access="ro", read="_r_queue_num_max", stored=False),
        Reg("QueueNum", 0x038, write="_w_queue_num", access="wo", stored=False),
        Reg("QueueAlign", 0x03C, write="_w_queue_align", access="wo", stored=False),
        Reg("QueuePFN", 0x040, read="_r_queue_pfn", write="_w_queue_pfn", stored=False),
        Reg("QueueReady", 0x044, read="_r_queue_ready", write="_w_queue_ready", stored=False),
        Reg("QueueNotify", 0x050, write="_w_queue_notify", access="wo", stored=False),
        Reg("InterruptStatus", 0x060, access="ro", read="_r_isr", stored=False),
        Reg("InterruptACK", 0x064, write="_w_isr_ack", access="wo", stored=False),
        Reg("Status", 0x070, read="_r_status", write="_w_status", stored=False),
        Reg("QueueDescLow", 0x080, write="_w_queuedesclow", access="wo", stored=False),
        Reg("QueueDescHigh", 0x084, write="_w_queuedeschigh", access="wo", stored=False),
        Reg("QueueDriverLow", 0x090, write="_w_queuedriverlow", access="wo", stored=False),
        Reg("QueueDriverHigh", 0x094, write="_w_queuedriverhigh", access="wo", stored=False),
        Reg("QueueDeviceLow", 0x0A0, write="_w_queuedevicelow", access="wo", stored=False),
        Reg("QueueDeviceHigh", 0x0A4, write="_w_queuedevicehigh", access="wo", stored=False),
        Reg("ConfigGeneration", 0x0FC, access="ro", read="_r_config_generation", stored=False),
        Reg("Config", CONFIG_OFFSET, count=(REGION_SIZE - CONFIG_OFFSET) // 4,
            read="_r_config", write="_w_config", stored=False),
    )
    STATE = REGS.fields() + (
        Field("guest_page_size", "u32", 4096, "legacy: the driver's page size for QueuePFN"),
    )

    # register offsets that are only legacy / only modern
    _LEGACY_ONLY = frozenset((0x028, 0x03C, 0x040))
    _MODERN_ONLY = frozenset((0x044, 0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4, 0x0FC))

    def __init__(self, **props):
        super().__init__(**props)
        self.vdev = None

    # --- the bus slot ---------------------------------------------------------------
    def is_free(self) -> bool:
        return self.vdev is None

    def plug(self, dev: VirtIODevice) -> None:
        if not isinstance(dev, VirtIODevice):
            raise QOMError(f"'{dev.TYPE}' is not a virtio device")
        if self.vdev is not None:
            raise QOMError("virtio-mmio transport already has a device")
        self.vdev = dev
        dev.bus = self
        self.update_irq()

    # --- lifecycle ------------------------------------------------------------------
    def realize(self) -> None:
        self.init_mmio(self.REGS.region(self, "virtio-mmio", REGION_SIZE))
        self.irq = self.init_irq(1)[0]
        super().realize()

    def reset(self) -> None:
        super().reset()
        if self.vdev is not None:
            self.vdev.reset()
        self.update_irq()

    def post_load(self) -> None:
        self.update_irq()

    def update_irq(self) -> None:
        irq = getattr(self, "irq", None)
        if irq is not None:
            irq.set(self.vdev is not None and getattr(self.vdev, "isr", 0) != 0)

    # --- helpers --------------------------------------------------------------------
    @property
    def legacy(self) -> bool:
        return bool(self.force_legacy)

    def _wrong_mode(self, offset: int, what: str) -> bool:
        if self.legacy and offset in self._MODERN_ONLY or \
                not self.legacy and offset in self._LEGACY_ONLY:
            log.log("guest_errors", f"virtio-mmio: {what} of {'modern' if self.legacy else 'legacy'}"
                                    f" register 0x{offset:03x} in "
                                    f"{'legacy' if self.legacy else 'modern'} mode")
            return True
        return False

    def _queue_ok(self) -> bool:
        return self.vdev is not None and self.vdev.queue_exists(self.queuesel)

    # --- reads ----------------------------------------------------------------------
    def _r_magic(self) -> int:
        return MAGIC

    def _r_version(self) -> int:
        return 1 if self.legacy else 2

    def _r_device_id(self) -> int:
        return self.vdev.DEVICE_ID if self.vdev is not None else 0

    def _r_vendor(self) -> int:
        return VENDOR_ID

    def _r_host_features(self) -> int:
        if self.vdev is None:
            return 0
        sel = self.hostfeaturessel
        if self.legacy and sel:
            return 0
        if sel > 1:
            return 0
        return (self.vdev.host_features(not self.legacy) >> (32 * sel)) & 0xFFFFFFFF

    def _r_queue_num_max(self) -> int:
        if self.vdev is None:
            return 0
        return self.vdev.queue_max(self.queuesel)

    def _r_queue_pfn(self) -> int:
        if self._wrong_mode(0x040, "read") or not self._queue_ok():
            return 0
        return self.vdev.vq_pfn[self.queuesel]

    def _r_queue_ready(self) -> int:
        if self._wrong_mode(0x044, "read") or not self._queue_ok():
            return 0
        return int(self.vdev.vq_ready[self.queuesel])

    def _r_isr(self) -> int:
        return self.vdev.isr if self.vdev is not None else 0

    def _r_status(self) -> int:
        return self.vdev.read_status() if self.vdev is not None else 0

    def _r_config_generation(self) -> int:
        return 0

    def _r_config(self, index: int) -> int:
        if self.vdev is None:
            return 0
        return self.vdev.config_read(4 * index, 4)

    # --- writes ---------------------------------------------------------------------
    def _w_guest_features(self, value: int) -> None:
        if self.vdev is None:
            return
        sel = self.guestfeaturessel
        if sel > 1 or (self.legacy and sel):
            return
        offered = self.vdev.host_features(not self.legacy)
        shift = 32 * sel
        accepted = (value << shift) & offered
        keep = self.vdev.guest_features & ~(0xFFFFFFFF << shift)
        self.vdev.guest_features = (keep | accepted) & 0xFFFFFFFFFFFFFFFF

    def _w_guest_page_size(self, value: int) -> None:
        if self._wrong_mode(0x028, "write"):
            return
        if value == 0 or value & (value - 1):
            log.log("guest_errors", f"virtio-mmio: guest page size 0x{value:x} is not a power of 2")
            value = (value & -value) or 4096
        self.guest_page_size = value

    def _relayout(self) -> None:
        """Legacy: recompute the queue's addresses from PFN, page size, size and alignment."""
        i, d = self.queuesel, self.vdev
        if d.vq_pfn[i]:
            d.vq_desc[i], d.vq_avail[i], d.vq_used[i] = legacy_layout(
                d.vq_pfn[i], self.guest_page_size, d.vq_num[i], d.vq_align[i])
            d.vq_ready[i] = True

    def _w_queue_num(self, value: int) -> None:
        if not self._queue_ok():
            return
        i = self.queuesel
        if value > self.vdev.queue_max(i):
            log.log("guest_errors", f"virtio-mmio: queue size {value} above the maximum")
            return
        self.vdev.vq_num[i] = value
        if self.legacy:
            self._relayout()

    def _w_queue_align(self, value: int) -> None:
        if self._wrong_mode(0x03C, "write") or not self._queue_ok():
            return
        if value & (value - 1):
            log.log("guest_errors", f"virtio-mmio: queue alignment 0x{value:x} is not a power of 2")
            return
        self.vdev.vq_align[self.queuesel] = value
        self._relayout()

    def _w_queue_pfn(self, value: int) -> None:
        if self._wrong_mode(0x040, "write") or self.vdev is None:
            return
        if not self._queue_ok():
            return
        i = self.queuesel
        if value == 0:
            self.vdev.reset_queue(i)
            return
        self.vdev.vq_pfn[i] = value
        self._relayout()

    def _w_queue_ready(self, value: int) -> None:
        if self._wrong_mode(0x044, "write") or not self._queue_ok():
            return
        i = self.queuesel
        if value & 1:
            self.vdev.vq_ready[i] = True
        else:
            self.vdev.reset_queue(i)

    def _set_queue_addr(self, offset: int, field: str, high: bool, value: int) -> None:
        if self._wrong_mode(offset, "write") or not self._queue_ok():
            return
        store, i = getattr(self.vdev, field), self.queuesel
        if high:
            store[i] = (store[i] & 0xFFFFFFFF) | (value << 32)
        else:
            store[i] = (store[i] & ~0xFFFFFFFF) | value

    def _w_queuedesclow(self, value: int) -> None:
        self._set_queue_addr(0x080, "vq_desc", False, value)

    def _w_queuedeschigh(self, value: int) -> None:
        self._set_queue_addr(0x084, "vq_desc", True, value)

    def _w_queuedriverlow(self, value: int) -> None:
        self._set_queue_addr(0x090, "vq_avail", False, value)

    def _w_queuedriverhigh(self, value: int) -> None:
        self._set_queue_addr(0x094, "vq_avail", True, value)

    def _w_queuedevicelow(self, value: int) -> None:
        self._set_queue_addr(0x0A0, "vq_used", False, value)

    def _w_queuedevicehigh(self, value: int) -> None:
        self._set_queue_addr(0x0A4, "vq_used", True, value)

    def _w_queue_notify(self, value: int) -> None:
        if self.vdev is None:
            return
        index = value & 0xFFFF
        if not self.vdev.queue_exists(index):
            log.log("guest_errors", f"virtio-mmio: notify of queue {index} that does not exist")
            return
        self.vdev.notify(index)

    def _w_isr_ack(self, value: int) -> None:
        if self.vdev is not None:
            self.vdev.ack_interrupt(value)

    def _w_status(self, value: int) -> None:
        if self.vdev is None:
            return
        if not self.legacy and value & STATUS_FEATURES_OK and \
                not self.vdev.guest_features >> VIRTIO_F_VERSION_1 & 1:
            log.log("guest_errors", "virtio-mmio: FEATURES_OK without VIRTIO_F_VERSION_1")
            value &= ~STATUS_FEATURES_OK
        self.vdev.write_status(value)
        if value == 0:
            self.update_irq()

    def _w_config(self, index: int, value: int) -> None:
        if self.vdev is not None:
            self.vdev.config_write(4 * index, value, 4)


def pick_free_transport(transports):
    """The transport QEMU would give the next ``-device virtio-*-device``.

    ``transports`` in increasing address order; the free one with the highest
    address wins (QEMU's bus list is in reverse creation order).  None if all are taken.
    """
    for t in reversed(list(transports)):
        if t.is_free():
            return t
    return None
