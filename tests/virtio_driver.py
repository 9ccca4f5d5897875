"""A tiny virtio-mmio guest driver for tests: lays out queues in RAM as Linux would.

Not a test module (no test_ prefix); tests import it.
"""
from __future__ import annotations

import struct

from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion

RAM_BASE = 0x60000000
RAM_SIZE = 4 << 20
MMIO_BASE = 0x10013000

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def make_bus(transports):
    """System memory with RAM at RAM_BASE and ``transports`` mapped 0x200 apart."""
    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "ram", RAM_SIZE)
    root.add_subregion(RAM_BASE, ram)
    for i, t in enumerate(transports):
        root.add_subregion(MMIO_BASE + 0x200 * i, t.mmio[0])
    return AddressSpace("memory", root), ram


def device_on_mmio(type_name: str, legacy: bool = True, **props):
    """A realized ``type_name`` device plugged into a virtio-mmio transport on its own bus,
    reset; returns (device, transport, address space)."""
    from pysystem.devices import virtio_mmio  # noqa: F401 - registers the transport
    from pysystem.qom import new_object
    dev = new_object(type_name, **props)
    dev.realize()
    transport = new_object("virtio-mmio", **{"force-legacy": legacy})
    transport.realize()
    mem, _ram = make_bus([transport])
    transport.memory = mem
    transport.plug(dev)
    transport.reset()
    return dev, transport, mem


class Driver:
    """Drives one transport at ``base`` through the address space, legacy or modern."""

    def __init__(self, mem: AddressSpace, base: int = MMIO_BASE, num: int = 16,
                 queue_area: int = RAM_BASE + 0x10000, queue: int = 0):
        self.mem, self.base, self.num, self.queue = mem, base, num, queue
        self.area = queue_area
        self.desc = self.avail = self.used = 0
        self.avail_idx = 0
        self.used_seen = 0
        self.next_free = 0

    def r(self, off: int, size: int = 4) -> int:
        return self.mem.read(self.base + off, size)

    def w(self, off: int, value: int, size: int = 4) -> None:
        self.mem.write(self.base + off, value, size)

    # --- set-up as Linux's virtio_mmio does it ---------------------------------------
    def probe(self, features_wanted: int = 0xFFFFFFFF) -> int:
        """Reset, ACK, DRIVER, features, queue 0; returns the accepted low feature bits."""
        legacy = self.r(0x004) == 1
        self.w(0x070, 0)
        self.w(0x070, 1)
        self.w(0x070, 1 | 2)
        self.w(0x014, 0)
        low = self.r(0x010)
        self.w(0x014, 1)
        high = self.r(0x010)
        accept = low & features_wanted
        self.w(0x024, 0)
        self.w(0x020, accept)
        if not legacy:
            self.w(0x024, 1)
            self.w(0x020, high & 1)          # VIRTIO_F_VERSION_1
            self.w(0x070, 1 | 2 | 8)
        self.setup_queue()
        self.w(0x070, self.r(0x070) | 4)     # DRIVER_OK
        return accept

    def setup_queue(self) -> None:
        """Lay out and enable queue ``self.queue`` (after the features are negotiated)."""
        legacy = self.r(0x004) == 1
        self.w(0x030, self.queue)
        assert self.r(0x034) >= self.num
        self.w(0x038, self.num)
        self.mem.write_bytes(self.area, bytes(3 * 4096))   # fresh rings, as Linux allocates
        self.desc = self.area
        self.avail = self.desc + 16 * self.num
        if legacy:
            self.w(0x028, 4096)
            self.w(0x03C, 4096)
            used = self.avail + 6 + 2 * self.num
            self.used = (used + 4095) // 4096 * 4096
            assert self.area % 4096 == 0
            self.w(0x040, self.area // 4096)
        else:
            self.used = (self.avail + 6 + 2 * self.num + 3) // 4 * 4
            for off, addr in ((0x080, self.desc), (0x090, self.avail), (0x0A0, self.used)):
                self.w(off, addr & 0xFFFFFFFF)
                self.w(off + 4, addr >> 32)
            self.w(0x044, 1)

    # --- descriptors --------------------------------------------------------------------
    def put_desc(self, i: int, addr: int, length: int, flags: int, nxt: int = 0,
                 table: int = None) -> None:
        base = self.desc if table is None else table
        self.mem.write_bytes(base + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, bufs, first: int = 0) -> int:
        """Write descriptors first.. for [(addr, len, writable)], linked; returns the head."""
        for k, (addr, length, writable) in enumerate(bufs):
            flags = (F_WRITE if writable else 0) | (F_NEXT if k + 1 < len(bufs) else 0)
            self.put_desc(first + k, addr, length, flags, first + k + 1)
        return first

    def submit(self, head: int, kick: bool = True) -> None:
        slot = self.avail + 4 + 2 * (self.avail_idx % self.num)
        self.mem.write_bytes(slot, struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.mem.write_bytes(self.avail + 2, struct.pack("<H", self.avail_idx))
        if kick:
            self.w(0x050, self.queue)

    def used_idx(self) -> int:
        return struct.unpack("<H", self.mem.read_bytes(self.used + 2, 2))[0]

    def used_elem(self, k: int):
        return struct.unpack("<II", self.mem.read_bytes(self.used + 4 + 8 * (k % self.num), 8))

    def status(self) -> int:
        return self.r(0x070)

    def ack(self) -> int:
        isr = self.r(0x060)
        self.w(0x064, isr)
        return isr
