"""virtio over PCI (QEMU's virtio-pci transport, transitional), and virtio-blk-pci.

``VirtIOBlockPCI`` (type "virtio-blk-pci", ``-device virtio-blk-pci,drive=ID``) is
the transport with a virtio-blk-device (devices/virtio_blk.py) inside it, as QEMU 7.2
builds it on a bus without MSI: vendor 1af4, device 1001 (transitional), class 01:00,
subsystem 1af4:0002 (the virtio device id), INTA, and:
  * BAR0, 128 bytes of I/O: the legacy interface (virtio 0.9.5): HOST_FEATURES,
    GUEST_FEATURES, QUEUE_PFN (4096-byte pages and alignment; writing 0 resets the
    device), QUEUE_NUM, QUEUE_SEL, QUEUE_NOTIFY, STATUS, ISR, device config from 20.
  * BAR4, 16 KiB of 64-bit prefetchable memory: the modern interface (virtio 1.x),
    described by vendor capabilities in config space exactly where QEMU puts them
    (common config at 0x0000, ISR at 0x1000, device config at 0x2000, notifications at
    0x3000 with a multiplier of 4 -- queue n is notified at 0x3000 + 4n -- and the
    PCI-configuration-access capability, whose window is not modelled).
The interrupt is INTx, high while ISR bit 0 is set (as QEMU without MSI-X); reading
ISR clears it.  MSI-X vectors read 0xffff (none).  Queues default to the device's
queue size (256 for virtio-blk) until the driver writes another.

The legacy interface keeps the device config and the rings little-endian, so it is
right for little-endian guests only; a big-endian guest must use the modern interface
(Linux 6.1's virtio_pci does: it takes the modern interface whenever the capabilities
are there).
"""
from __future__ import annotations

from pysystem import log
from pysystem.memory import ContainerRegion, IORegion
from pysystem.pci import Bar, CfgReg, PCIDevice
from pysystem.qom import Field, register
from pysystem.regbank import Reg, RegisterBank

from .virtio import VirtIODevice
from .virtio_blk import VirtIOBlock
from .virtqueue import legacy_layout

LEGACY_CONFIG = 20
NO_VECTOR = 0xFFFF
NOTIFY_MULT = 4
CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE, CAP_PCI = 1, 2, 3, 4, 5


def _cap(nxt: int, length: int, kind: int) -> int:
    """The first dword of a virtio vendor capability: id 9, next, length, cfg_type."""
    return 0x09 | nxt << 8 | length << 16 | kind << 24


@register
class VirtIOPCI(PCIDevice):
    """The transport; subclasses name the device inside (``VDEV_TYPE``)."""

    TYPE = "virtio-pci"
    ABSTRACT = True
    VENDOR_ID, REVISION = 0x1AF4, 0x00
    STATUS = 0x0010            # capabilities list
    INTERRUPT_PIN = 1
    BARS = (Bar(0, 0x80, "io"), Bar(4, 0x4000, "mem", prefetch=True, mem64=True))
    CONFIG = (
        CfgReg("CAP_PTR", 0x34, 1, 0x84, wmask=0),
        CfgReg("CAP_COMMON", 0x40, 4, _cap(0x00, 0x10, CAP_COMMON), wmask=0),
        CfgReg("CAP_COMMON_LOC", 0x44, 4, 4, wmask=0, doc="BAR 4"),
        CfgReg("CAP_COMMON_OFF", 0x48, 4, 0x0000, wmask=0),
        CfgReg("CAP_COMMON_LEN", 0x4C, 4, 0x1000, wmask=0),
        CfgReg("CAP_ISR", 0x50, 4, _cap(0x40, 0x10, CAP_ISR), wmask=0),
        CfgReg("CAP_ISR_LOC", 0x54, 4, 4, wmask=0),
        CfgReg("CAP_ISR_OFF", 0x58, 4, 0x1000, wmask=0),
        CfgReg("CAP_ISR_LEN", 0x5C, 4, 0x1000, wmask=0),
        CfgReg("CAP_DEVICE", 0x60, 4, _cap(0x50, 0x10, CAP_DEVICE), wmask=0),
        CfgReg("CAP_DEVICE_LOC", 0x64, 4, 4, wmask=0),
        CfgReg("CAP_DEVICE_OFF", 0x68, 4, 0x2000, wmask=0),
        CfgReg("CAP_DEVICE_LEN", 0x6C, 4, 0x1000, wmask=0),
        CfgReg("CAP_NOTIFY", 0x70, 4, _cap(0x60, 0x14, CAP_NOTIFY), wmask=0),
        CfgReg("CAP_NOTIFY_LOC", 0x74, 4, 4, wmask=0),
        CfgReg("CAP_NOTIFY_OFF", 0x78, 4, 0x3000, wmask=0),
        CfgReg("CAP_NOTIFY_LEN", 0x7C, 4, 0x1000, wmask=0),
        CfgReg("CAP_NOTIFY_MULT", 0x80, 4, NOTIFY_MULT, wmask=0),
        CfgReg("CAP_PCI", 0x84, 4, _cap(0x70, 0x14, CAP_PCI), wmask=0),
        CfgReg("CAP_PCI_BAR", 0x88, 1, 0, wmask=0xFF, doc="window: stored, not modelled"),
        CfgReg("CAP_PCI_PAD", 0x89, 1, 0, wmask=0),
        CfgReg("CAP_PCI_PAD2", 0x8A, 2, 0, wmask=0),
        CfgReg("CAP_PCI_OFF", 0x8C, 4, 0, wmask=0xFFFFFFFF),
        CfgReg("CAP_PCI_LEN", 0x90, 4, 0, wmask=0xFFFFFFFF),
        CfgReg("CAP_PCI_DATA", 0x94, 4, 0, wmask=0xFFFFFFFF),
    )

    LEGACY_REGS = RegisterBank(
        "virtio-pci-legacy",
        Reg("HOST_FEATURES", 0x00, access="ro", read="_r_host_features_legacy", stored=False),
        Reg("GUEST_FEATURES", 0x04, read="_r_guest_features_legacy",
            write="_w_guest_features_legacy", stored=False),
        Reg("QUEUE_PFN", 0x08, read="_r_queue_pfn", write="_w_queue_pfn", stored=False),
        Reg("QUEUE_NUM", 0x0C, width=2, access="ro", read="_r_queue_size", stored=False),
        Reg("QUEUE_SEL", 0x0E, width=2, write="_w_queue_sel", read="_r_queue_sel",
            stored=False),
        Reg("QUEUE_NOTIFY", 0x10, width=2, write="_w_notify", read="_r_zero", stored=False),
        Reg("STATUS", 0x12, width=1, read="_r_status", write="_w_status", stored=False),
        Reg("ISR", 0x13, width=1, access="ro", read="_r_isr", stored=False),
    )
    COMMON_REGS = RegisterBank(
        "virtio-pci-common",
        Reg("DEVICE_FEATURE_SELECT", 0x00, attr="dfselect"),
        Reg("DEVICE_FEATURE", 0x04, access="ro", read="_r_device_feature", stored=False),
        Reg("DRIVER_FEATURE_SELECT", 0x08, attr="gfselect"),
        Reg("DRIVER_FEATURE", 0x0C, read="_r_driver_feature", write="_w_driver_feature",
            stored=False),
        Reg("MSIX_CONFIG", 0x10, width=2, read="_r_no_vector", write="_w_ignore",
            stored=False),
        Reg("NUM_QUEUES", 0x12, width=2, access="ro", read="_r_num_queues", stored=False),
        Reg("DEVICE_STATUS", 0x14, width=1, read="_r_status", write="_w_status",
            stored=False),
        Reg("CONFIG_GENERATION", 0x15, width=1, access="ro", read="_r_zero", stored=False),
        Reg("QUEUE_SELECT", 0x16, width=2, read="_r_queue_sel", write="_w_queue_sel",
            stored=False),
        Reg("QUEUE_SIZE", 0x18, width=2, read="_r_queue_size", write="_w_queue_size",
            stored=False),
        Reg("QUEUE_MSIX_VECTOR", 0x1A, width=2, read="_r_no_vector", write="_w_ignore",
            stored=False),
        Reg("QUEUE_ENABLE", 0x1C, width=2, read="_r_queue_enable", write="_w_queue_enable",
            stored=False),
        Reg("QUEUE_NOTIFY_OFF", 0x1E, width=2, access="ro", read="_r_queue_sel",
            stored=False),
        Reg("QUEUE_DESC", 0x20, count=2, read="_r_qdesc", write="_w_qdesc", stored=False),
        Reg("QUEUE_DRIVER", 0x28, count=2, read="_r_qdriver", write="_w_qdriver",
            stored=False),
        Reg("QUEUE_DEVICE", 0x30, count=2, read="_r_qdevice", write="_w_qdevice",
            stored=False),
    )
    STATE = COMMON_REGS.fields() + (
        Field("queue_sel", "u16", 0, "selected queue (both interfaces)"),
        Field("driver_features", "u32[2]", 0, "modern: the driver's feature words"),
    )
    VDEV_TYPE = VirtIODevice

    def __init__(self, **props):
        super().__init__(**props)
        self.vdev = None

    def realize(self) -> None:
        """Create the virtio device from the properties it shares with this type."""
        shared = {p.name: self.get_prop(p.name) for p in self.VDEV_TYPE.PROPERTIES}
        self.vdev = self.VDEV_TYPE(**shared)
        self.add_child("virtio-backend", self.vdev)
        self.vdev.bus = self
        self.vdev.realize()
        self.init_bar(0, self._legacy_region())
        modern = ContainerRegion(self, "virtio-pci", 0x4000)
        modern.add_subregion(0x0000, self.COMMON_REGS.region(self, "virtio-pci-common", 0x1000))
        modern.add_subregion(0x1000, IORegion(self, "virtio-pci-isr", 0x1000,
                                              read=lambda o, s: self._r_isr(),
                                              write=lambda o, v, s: None))
        vdev = self.vdev
        modern.add_subregion(0x2000, IORegion(self, "virtio-pci-device", 0x1000,
                                              read=vdev.config_read, write=vdev.config_write))
        modern.add_subregion(0x3000, IORegion(
            self, "virtio-pci-notify", 0x1000, read=lambda o, s: 0,
            write=lambda o, v, s: self._w_notify(o // NOTIFY_MULT), min_access=1, max_access=4))
        self.init_bar(4, modern)
        super().realize()

    def _legacy_region(self) -> IORegion:
        def read(off: int, size: int) -> int:
            if off >= LEGACY_CONFIG:
                return self.vdev.config_read(off - LEGACY_CONFIG, size)
            return self.LEGACY_REGS.read(self, off, size)

        def write(off: int, value: int, size: int) -> None:
            if off >= LEGACY_CONFIG:
                self.vdev.config_write(off - LEGACY_CONFIG, value, size)
            else:
                self.LEGACY_REGS.write(self, off, value, size)
        return IORegion(self, "virtio-pci-legacy", self.BARS[0].size, read=read, write=write)

    def device_reset(self) -> None:
        self.vdev.reset()
        self.update_irq()

    # --- what the virtio device sees of its transport ----------------------------------
    @property
    def memory(self):
        return self.bus.dma if self.bus is not None else None

    @memory.setter
    def memory(self, _space) -> None:
        """A board offers its address space; a PCI function masters through its bus."""

    def update_irq(self) -> None:
        self.set_irq(self.vdev.isr & 1)

    # --- queues -------------------------------------------------------------------------
    def _qmax(self, i: int) -> int:
        if not self.vdev.queue_exists(i):
            return 0
        return getattr(self.vdev, "queue_size", 0) or self.vdev.queue_max(i)

    def _qnum(self, i: int) -> int:
        return self.vdev.vq_num[i] or self._qmax(i)

    def _qok(self) -> bool:
        return self.vdev.queue_exists(self.queue_sel)

    def _r_queue_sel(self) -> int:
        return self.queue_sel

    def _w_queue_sel(self, value: int) -> None:
        if value < 1024:
            self.queue_sel = value

    def _r_queue_size(self) -> int:
        return self._qnum(self.queue_sel) if self._qok() else 0

    def _w_queue_size(self, value: int) -> None:
        if not self._qok():
            return
        if value > self._qmax(self.queue_sel) or value & (value - 1):
            log.log("guest_errors", f"virtio-pci: bad queue size {value}")
            return
        self.vdev.vq_num[self.queue_sel] = value

    def _r_queue_enable(self) -> int:
        return int(self._qok() and self.vdev.vq_ready[self.queue_sel])

    def _w_queue_enable(self, value: int) -> None:
        if not self._qok():
            return
        if value != 1:
            log.log("guest_errors", f"virtio-pci: wrong value for queue_enable {value:x}")
            return
        i = self.queue_sel
        self.vdev.vq_num[i] = self._qnum(i)
        self.vdev.vq_ready[i] = True

    # queue addresses: low (index 0) and high (index 1) words of the selected queue's
    def _get_qaddr(self, field: str, index: int) -> int:
        if not self._qok():
            return 0
        return (getattr(self.vdev, field)[self.queue_sel] >> (32 * index)) & 0xFFFFFFFF

    def _set_qaddr(self, field: str, index: int, value: int) -> None:
        if not self._qok():
            return
        store, i, shift = getattr(self.vdev, field), self.queue_sel, 32 * index
        store[i] = (store[i] & ~(0xFFFFFFFF << shift)) | (value << shift)

    def _r_qdesc(self, index: int) -> int:
        return self._get_qaddr("vq_desc", index)

    def _w_qdesc(self, index: int, value: int) -> None:
        self._set_qaddr("vq_desc", index, value)

    def _r_qdriver(self, index: int) -> int:
        return self._get_qaddr("vq_avail", index)

    def _w_qdriver(self, index: int, value: int) -> None:
        self._set_qaddr("vq_avail", index, value)

    def _r_qdevice(self, index: int) -> int:
        return self._get_qaddr("vq_used", index)

    def _w_qdevice(self, index: int, value: int) -> None:
        self._set_qaddr("vq_used", index, value)

    def _r_queue_pfn(self) -> int:
        return self.vdev.vq_pfn[self.queue_sel] if self._qok() else 0

    def _w_queue_pfn(self, value: int) -> None:
        if value == 0:
            self.vdev.write_status(0)
            self._reset_transport()
            return
        if not self._qok():
            return
        i, d = self.queue_sel, self.vdev
        d.vq_num[i] = self._qnum(i)
        d.vq_pfn[i] = value
        d.vq_desc[i], d.vq_avail[i], d.vq_used[i] = legacy_layout(value, 4096, d.vq_num[i], 4096)
        d.vq_ready[i] = True

    def _w_notify(self, index: int) -> None:
        if self.vdev.queue_exists(index):
            self.vdev.notify(index)
        else:
            log.log("guest_errors", f"virtio-pci: notify of queue {index} that does not exist")

    # --- features, status, ISR ------------------------------------------------------------
    def _r_host_features_legacy(self) -> int:
        return self.vdev.host_features(False) & 0xFFFFFFFF

    def _r_guest_features_legacy(self) -> int:
        return self.vdev.guest_features & 0xFFFFFFFF

    def _w_guest_features_legacy(self, value: int) -> None:
        self.vdev.guest_features = value & self.vdev.host_features(False) & 0xFFFFFFFF

    def _r_device_feature(self) -> int:
        if self.dfselect > 1:
            return 0
        return (self.vdev.host_features(True) >> (32 * self.dfselect)) & 0xFFFFFFFF

    def _r_driver_feature(self) -> int:
        return self.driver_features[self.gfselect] if self.gfselect <= 1 else 0

    def _w_driver_feature(self, value: int) -> None:
        if self.gfselect > 1:
            return
        self.driver_features[self.gfselect] = value
        wanted = self.driver_features[0] | self.driver_features[1] << 32
        self.vdev.guest_features = wanted & self.vdev.host_features(True)

    def _r_status(self) -> int:
        return self.vdev.read_status()

    def _w_status(self, value: int) -> None:
        self.vdev.write_status(value & 0xFF)
        if value & 0xFF == 0:
            self._reset_transport()

    def _reset_transport(self) -> None:
        self.dfselect = self.gfselect = self.queue_sel = 0
        self.driver_features = [0, 0]
        self.update_irq()

    def _r_isr(self) -> int:
        value = self.vdev.isr
        self.vdev.isr = 0
        self.update_irq()
        return value

    def _r_num_queues(self) -> int:
        return self.vdev.NUM_QUEUES

    def _r_no_vector(self) -> int:
        return NO_VECTOR

    def _r_zero(self) -> int:
        return 0

    def _w_ignore(self, value: int) -> None:
        pass


@register
class VirtIOBlockPCI(VirtIOPCI):
    TYPE = "virtio-blk-pci"
    DESC = "Virtio block device (PCI)"
    USER_CREATABLE = True
    DEVICE_ID = 0x1001
    CLASS_CODE = 0x010000
    SUBSYSTEM = (0x1AF4, 0x0002)
    VDEV_TYPE = VirtIOBlock
    PROPERTIES = VirtIOBlock.PROPERTIES

    @classmethod
    def example(cls) -> "VirtIOBlockPCI":
        probe = VirtIOBlock.example()
        dev = cls(drive=probe.drive)
        dev.realize()
        dev.reset()
        return dev
