"""Standing fuzz campaign: malformed virtio descriptor chains for virtio-blk and
virtio-net over both transports (virtio-mmio as on vexpress-a9, virtio-pci as on
Malta), legacy and modern.

A guest driver (tests/virtio_driver.py, and the PCI one of test_dev_virtio_pci.py)
sets the device up as Linux does, then submits chains from a catalogue of what a broken
or hostile guest does (loops, chains longer than the queue, next indexes past the
queue, addresses outside RAM and past 4 GiB, zero and huge lengths, indirect tables
pointing at themselves or nested, rings placed in the device's own registers, runaway
avail indexes) and then seeded random chains over the same values.  After every kick:

* nothing raises out of the register write, and it returns in bounded time (a 4 GiB
  length is never allocated or walked);
* the request completed (the used index moved on) or the device set NEEDS_RESET;
* after a reset the same device serves a well-formed read correctly (it recovers).

virtio-net gets seeded random transmit requests, control commands and receive
buffers (each mutated like the chains above), a random frame from its user-mode network
after each receive kick; the transmit and control kicks must complete or break the
device, and after a reset it must carry an ARP exchange with the gateway.

CI size: ``PYSYSTEM_FUZZ_CHAINS`` (default 600) random chains per transport.
Long run (2026-12-07, CPython 3.11): PYSYSTEM_FUZZ_CHAINS=25000, 10^5 chains over the
four transports passed in 254 s.
"""
from __future__ import annotations

import os
import random
import struct
import time

import pytest

from pysystem.block import close_all, open_drive
from pysystem.devices.virtio_blk import VirtIOBlock
from pysystem.devices.virtio_mmio import VirtIOMMIO
from pysystem.devices.virtio_net import VirtIONet, VirtIONetPCI
from pysystem.devices.virtio_pci import VirtIOBlockPCI
from pysystem.memory import RAMRegion
from pysystem.net import UserNet
from malta_pci_rig import Rig
from test_dev_virtio_pci import DEVFN, MODERN, ModernDriver
from virtio_driver import F_INDIRECT, F_NEXT, F_WRITE, RAM_BASE, RAM_SIZE, Driver, make_bus

CHAINS = int(os.environ.get("PYSYSTEM_FUZZ_CHAINS", "600"))
SECTORS = 2048
NEEDS_RESET = 0x40
KICK_SECONDS = 2.0


class Target:
    """One virtio-blk behind one transport, driven through guest-visible registers."""

    ram: int            # guest RAM: [ram, ram + ram_size)
    ram_size: int
    own: int            # an address inside the device's own registers

    def setup(self) -> None:
        raise NotImplementedError

    def kick(self) -> None:
        raise NotImplementedError

    def status(self) -> int:
        raise NotImplementedError

    # the rings, as the driver laid them out
    def put_desc(self, i: int, addr: int, length: int, flags: int, nxt: int = 0,
                 table: int = None) -> None:
        base = self.desc if table is None else table
        self.mem.write_bytes(base + 16 * i, struct.pack("<QIHH", addr & (2**64 - 1),
                                                        length & 0xFFFFFFFF, flags, nxt & 0xFFFF))

    def submit(self, head: int, advance: int = 1) -> None:
        slot = self.avail + 4 + 2 * (self.avail_idx % self.num)
        self.mem.write_bytes(slot, struct.pack("<H", head & 0xFFFF))
        self.avail_idx = (self.avail_idx + advance) & 0xFFFF
        self.mem.write_bytes(self.avail + 2, struct.pack("<H", self.avail_idx))

    def used_idx(self) -> int:
        return struct.unpack("<H", self.mem.read_bytes(self.used + 2, 2))[0]

    @property
    def hdr(self) -> int:
        return self.ram + 0x40000

    @property
    def data(self) -> int:
        return self.ram + 0x41000

    @property
    def stat(self) -> int:
        return self.ram + 0x48000

    @property
    def table(self) -> int:
        return self.ram + 0x49000

    def good_read(self, sector: int) -> bytes:
        """A well-formed read of one sector; its data (asserts status OK)."""
        self.mem.write_bytes(self.hdr, struct.pack("<IIQ", 0, 0, sector))
        self.mem.write_bytes(self.stat, b"\xee")
        self.put_desc(0, self.hdr, 16, F_NEXT, 1)
        self.put_desc(1, self.data, 512, F_WRITE | F_NEXT, 2)
        self.put_desc(2, self.stat, 1, F_WRITE)
        before = self.used_idx()
        self.submit(0)
        self.kick()
        assert self.used_idx() == (before + 1) & 0xFFFF
        assert self.mem.read_bytes(self.stat, 1) == b"\x00"
        return self.mem.read_bytes(self.data, 512)


class MMIOTarget(Target):
    def __init__(self, image: str, legacy: bool):
        t = VirtIOMMIO(force_legacy=legacy)
        t.realize()
        self.mem, _ = make_bus([t])
        t.memory = self.mem
        blk = VirtIOBlock(drive=open_drive(image))
        blk.realize()
        t.plug(blk)
        t.reset()
        self.drv = Driver(self.mem, base=0x10013000)
        self.ram, self.ram_size, self.own = RAM_BASE, RAM_SIZE, 0x10013000

    def setup(self) -> None:
        self.drv.probe()
        self.desc, self.avail, self.used = self.drv.desc, self.drv.avail, self.drv.used
        self.num, self.avail_idx = self.drv.num, 0

    def kick(self) -> None:
        self.drv.w(0x050, 0)

    def status(self) -> int:
        return self.drv.r(0x070)


class PCITarget(Target):
    def __init__(self, image: str, legacy: bool):
        rig = Rig(functions=("piix4", "pm"))
        rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 8 << 20))
        dev = VirtIOBlockPCI(drive=open_drive(image))
        dev.realize()
        rig.bus.plug(dev)
        dev.reset()
        assert dev.devfn == DEVFN
        self.mem, self.legacy = rig.mem, legacy
        self.drv = ModernDriver(rig, legacy)
        self.ram, self.ram_size = 0x100000, (8 << 20) - 0x100000
        self.own = MODERN + 0x3000          # the notify region

    def setup(self) -> None:
        self.drv.avail_idx = 0
        self.drv.setup()
        self.desc, self.avail, self.used = self.drv.desc, self.drv.avail, self.drv.used
        self.num, self.avail_idx = self.drv.num, 0
        self.mem.write_bytes(self.desc, bytes(16 * self.num))
        self.mem.write_bytes(self.avail, bytes(6 + 2 * self.num))
        self.mem.write_bytes(self.used, bytes(6 + 8 * self.num))

    def kick(self) -> None:
        if self.legacy:
            self.drv.io(0x10, 2, 0)
        else:
            self.mem.write(MODERN + 0x3000, 0, 2)

    def status(self) -> int:
        return self.drv.io(0x12, 1) if self.legacy else self.drv.common(0x14, 1)


TARGETS = {
    "mmio-legacy": lambda img: MMIOTarget(img, True),
    "mmio-modern": lambda img: MMIOTarget(img, False),
    "pci-legacy": lambda img: PCITarget(img, True),
    "pci-modern": lambda img: PCITarget(img, False),
}


# --- the catalogue: each builds a chain (or several) and submits it ---------------------
def _header(t, rtype=0, sector=0):
    t.mem.write_bytes(t.hdr, struct.pack("<IIQ", rtype, 0, sector))


def loop(t):
    _header(t)
    t.put_desc(0, t.hdr, 16, F_NEXT, 1)
    t.put_desc(1, t.data, 512, F_WRITE | F_NEXT, 2)
    t.put_desc(2, t.stat, 1, F_WRITE | F_NEXT, 0)
    t.submit(0)


def self_loop(t):
    t.put_desc(0, t.hdr, 16, F_NEXT, 0)
    t.submit(0)


def longer_than_queue(t):
    _header(t)
    for i in range(t.num):                      # every descriptor, then round again
        t.put_desc(i, t.data + 16 * i, 16, F_WRITE | F_NEXT, (i + 1) % t.num)
    t.put_desc(0, t.hdr, 16, F_NEXT, 1)
    t.submit(0)


def next_past_queue(t):
    _header(t)
    t.put_desc(0, t.hdr, 16, F_NEXT, t.num + 5)
    t.submit(0)


def head_past_queue(t):
    t.submit(0xFFFF)


def outside_ram(t):
    for i, addr in enumerate((0xFFFFFFF0, 1 << 32, 2**64 - 8, t.ram + t.ram_size - 4)):
        _header(t)
        t.put_desc(3 * i, t.hdr, 16, F_NEXT, 3 * i + 1)
        t.put_desc(3 * i + 1, addr, 512, F_WRITE | F_NEXT, 3 * i + 2)
        t.put_desc(3 * i + 2, t.stat, 1, F_WRITE)
        t.submit(3 * i)


def zero_lengths(t):
    _header(t)
    t.put_desc(0, t.hdr, 0, F_NEXT, 1)
    t.put_desc(1, t.data, 0, F_WRITE | F_NEXT, 2)
    t.put_desc(2, t.stat, 0, F_WRITE)
    t.submit(0)


def huge_lengths(t):
    for rtype in (0, 1):                        # a read into, a write from, 4 GiB
        _header(t, rtype)
        t.put_desc(0, t.hdr, 16, F_NEXT, 1)
        t.put_desc(1, t.data, 0xFFFFFFFF, (F_WRITE if rtype == 0 else 0) | F_NEXT, 2)
        t.put_desc(2, t.stat, 1, F_WRITE)
        t.submit(0)
        t.kick()
    _header(t)
    t.put_desc(0, t.hdr, 0xFFFFFFFF, F_NEXT, 1)
    t.put_desc(1, t.stat, 1, F_WRITE)
    t.submit(0)


def huge_sector(t):
    _header(t, 0, 2**64 - 1)
    t.put_desc(0, t.hdr, 16, F_NEXT, 1)
    t.put_desc(1, t.data, 4096, F_WRITE | F_NEXT, 2)
    t.put_desc(2, t.stat, 1, F_WRITE)
    t.submit(0)


def indirect_self(t):
    t.put_desc(0, t.table, 16 * 4, F_INDIRECT)
    t.put_desc(0, t.table, 16 * 4, F_INDIRECT, table=t.table)      # points at itself
    t.submit(0)


def indirect_loop(t):
    _header(t)
    t.put_desc(0, t.table, 16 * 3, F_INDIRECT)
    t.put_desc(0, t.hdr, 16, F_NEXT, 1, table=t.table)
    t.put_desc(1, t.data, 512, F_WRITE | F_NEXT, 2, table=t.table)
    t.put_desc(2, t.stat, 1, F_WRITE | F_NEXT, 0, table=t.table)
    t.submit(0)


def indirect_bad_sizes(t):
    for length in (0, 7, 0xFFFFFFF0, 16 * 70000):
        t.put_desc(0, t.table, length, F_INDIRECT)
        t.submit(0)
        t.kick()
    t.put_desc(0, 0xFFFFFFF0, 64, F_INDIRECT | F_NEXT, 1)
    t.submit(0)


def rings_in_registers(t):
    _header(t)
    t.put_desc(0, t.hdr, 16, F_NEXT, 1)
    t.put_desc(1, t.own, 512, F_WRITE | F_NEXT, 2)     # data lands on the notify register
    t.put_desc(2, t.stat, 1, F_WRITE)
    t.submit(0)
    t.kick()
    t.put_desc(0, t.own, 16 * 3, F_INDIRECT)          # a descriptor table in MMIO
    t.submit(0)


def runaway_avail(t):
    _header(t)
    t.put_desc(0, t.hdr, 16, F_NEXT, 1)
    t.put_desc(1, t.stat, 1, F_WRITE)
    t.submit(0, advance=40000)


CASES = [loop, self_loop, longer_than_queue, next_past_queue, head_past_queue, outside_ram,
         zero_lengths, huge_lengths, huge_sector, indirect_self, indirect_loop,
         indirect_bad_sizes, rings_in_registers, runaway_avail]


def _random_chain(t, rng: random.Random) -> None:
    """A well-formed request (possibly through an indirect table) with 0-3 mutations."""
    addrs = (t.hdr, t.data, t.stat, t.table, t.own, 0, 0xFFFFFFF0, 1 << 40,
             t.ram + t.ram_size - rng.randrange(1, 600), t.desc, t.used)
    lengths = (0, 1, 15, 16, 17, 512, 513, 4096, 0xFFFFFFFF, 0x80000000)
    rtype = rng.choice((0, 0, 1, 1, 4, 8, rng.choice((11, 13, rng.getrandbits(32)))))
    _header(t, rtype, rng.choice((0, 1, SECTORS - 1, SECTORS, rng.getrandbits(64))))
    nbytes = 512 * rng.randrange(0, 9)
    descs = [[t.hdr, 16, F_NEXT, 1], [t.data, nbytes, (F_WRITE if rtype != 1 else 0) | F_NEXT, 2],
             [t.stat, 1, F_WRITE, 0]]
    if rng.random() < 0.2:
        descs += [[rng.choice(addrs), rng.randrange(0, 5000), rng.randrange(8),
                   rng.randrange(0, t.num + 3)] for _ in range(rng.randrange(1, 5))]
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        d = rng.choice(descs)
        field = rng.randrange(4)
        d[field] = (rng.choice(addrs), rng.choice(lengths), rng.randrange(8),
                    rng.randrange(0, t.num + 3))[field]
    table = None
    if rng.random() < 0.3:
        table = t.table
        t.put_desc(0, table, 16 * len(descs) + rng.choice((0, 0, 0, 16, -16, 8)),
                   F_INDIRECT | (F_NEXT if rng.random() < 0.1 else 0))
    for i, (addr, length, flags, nxt) in enumerate(descs):
        t.put_desc(i, addr, length, flags, nxt, table=table)
    t.submit(0, advance=rng.choice((1,) * 8 + (2, t.num + 1)))


def _kick_and_check(t, before: int) -> None:
    start = time.monotonic()
    t.kick()
    assert time.monotonic() - start < KICK_SECONDS
    assert t.status() & NEEDS_RESET or t.used_idx() != before or t.avail_idx == before, \
        "the request neither completed nor broke the device"


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(random.Random(7).randbytes(SECTORS * 512))
    yield str(path)
    close_all()


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
@pytest.mark.parametrize("transport", sorted(TARGETS))
def test_malformed_chain_breaks_or_completes_and_device_recovers(image, transport, case):
    t = TARGETS[transport](image)
    t.setup()
    before = t.used_idx()
    case(t)
    _kick_and_check(t, before)
    t.setup()                       # reset (status 0) and set up again
    with open(image, "rb") as f:
        f.seek(5 * 512)
        assert t.good_read(5) == f.read(512)


@pytest.mark.parametrize("transport", sorted(TARGETS))
def test_random_chains(image, transport):
    rng = random.Random(f"virtio-{transport}")
    t = TARGETS[transport](image)
    broken = 0
    for _ in range(CHAINS):
        t.setup()
        before = t.used_idx()
        _random_chain(t, rng)
        _kick_and_check(t, before)
        broken += bool(t.status() & NEEDS_RESET)
    assert 0 < broken < CHAINS          # both outcomes happened
    t.setup()
    data = t.good_read(9)
    with open(image, "rb") as f:        # as random writes left it
        f.seek(9 * 512)
        assert data == f.read(512)


# --- virtio-net: the same campaign over its three queues ---------------------------------
NET_QUEUES = (0, 1, 2)                  # receive, transmit, control
NET_MAC = bytes.fromhex("525400123456")


class NetTarget:
    """One virtio-net (with a user-mode network behind it) behind one transport; its
    three queues laid out 4 pages apart from ``ram``, 16 entries each where the
    transport lets the driver choose."""

    def __init__(self):
        self.net = UserNet("n0")
        self.vdev = None
        self.rings = {}                 # queue -> [desc, avail, used, num, avail_idx]

    def ring(self, q: int) -> int:
        return self.ram + 0x4000 * q

    @property
    def buf(self) -> int:
        return self.ram + 0x20000

    def put_desc(self, q: int, i: int, addr: int, length: int, flags: int, nxt: int = 0) -> None:
        self.mem.write_bytes(self.rings[q][0] + 16 * i, struct.pack(
            "<QIHH", addr & (2**64 - 1), length & 0xFFFFFFFF, flags, nxt & 0xFFFF))

    def submit(self, q: int, head: int) -> None:
        desc, avail, used, num, idx = self.rings[q]
        self.mem.write_bytes(avail + 4 + 2 * (idx % num), struct.pack("<H", head & 0xFFFF))
        self.rings[q][4] = idx = (idx + 1) & 0xFFFF
        self.mem.write_bytes(avail + 2, struct.pack("<H", idx))

    def used_idx(self, q: int) -> int:
        return struct.unpack("<H", self.mem.read_bytes(self.rings[q][2] + 2, 2))[0]

    def layout(self, q: int, num: int, align: int) -> None:
        desc = self.ring(q)
        self.mem.write_bytes(desc, bytes(0x4000))
        avail = desc + 16 * num
        used = (avail + 6 + 2 * num + align - 1) // align * align
        self.rings[q] = [desc, avail, used, num, 0]

    def arp_exchange(self) -> bytes:
        """A well-formed ARP request out; the gateway's reply from the receive ring."""
        frame = (b"\xff" * 6 + NET_MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
                 + NET_MAC + bytes((10, 0, 2, 15)) + bytes(6) + bytes((10, 0, 2, 2)))
        self.mem.write_bytes(self.buf, bytes(12) + frame)
        rx_before, tx_before = self.used_idx(0), self.used_idx(1)
        self.put_desc(0, 0, self.buf + 0x1000, 2048, F_WRITE)
        self.submit(0, 0)
        self.kick(0)
        self.put_desc(1, 0, self.buf, 12 + len(frame), 0)
        self.submit(1, 0)
        self.kick(1)
        assert self.used_idx(1) == (tx_before + 1) & 0xFFFF
        assert self.used_idx(0) == (rx_before + 1) & 0xFFFF
        return self.mem.read_bytes(self.buf + 0x1000 + 12, 42)


class NetMMIOTarget(NetTarget):
    def __init__(self, legacy: bool):
        super().__init__()
        t = VirtIOMMIO(force_legacy=legacy)
        t.realize()
        self.mem, _ = make_bus([t])
        t.memory = self.mem
        self.vdev = VirtIONet(netdev=self.net)
        self.vdev.realize()
        t.plug(self.vdev)
        t.reset()
        self.drv = Driver(self.mem, base=0x10013000)
        self.legacy = legacy
        self.ram, self.ram_size, self.own = RAM_BASE, RAM_SIZE, 0x10013000

    def setup(self) -> None:
        d = self.drv
        d.w(0x070, 0)
        d.w(0x070, 3)
        d.w(0x014, 0)
        d.w(0x024, 0)
        d.w(0x020, d.r(0x010))
        if not self.legacy:
            d.w(0x024, 1)
            d.w(0x020, 1)
            d.w(0x070, 0xB)
        else:
            d.w(0x028, 4096)
        for q in NET_QUEUES:
            d.w(0x030, q)
            d.w(0x038, 16)
            self.layout(q, 16, 4096 if self.legacy else 4)
            desc, avail, used = self.rings[q][:3]
            if self.legacy:
                d.w(0x03C, 4096)
                d.w(0x040, desc // 4096)
            else:
                for off, addr in ((0x080, desc), (0x090, avail), (0x0A0, used)):
                    d.w(off, addr)
                    d.w(off + 4, 0)
                d.w(0x044, 1)
        d.w(0x070, d.r(0x070) | 4)

    def kick(self, q: int) -> None:
        self.drv.w(0x050, q)

    def status(self) -> int:
        return self.drv.r(0x070)


class NetPCITarget(NetTarget):
    def __init__(self, legacy: bool):
        super().__init__()
        rig = Rig(functions=("piix4", "pm"))
        rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 8 << 20))
        dev = VirtIONetPCI(netdev=self.net)
        dev.realize()
        rig.bus.plug(dev)
        dev.reset()
        assert dev.devfn == DEVFN
        self.vdev = dev.vdev
        self.mem, self.legacy = rig.mem, legacy
        self.drv = ModernDriver(rig, legacy)
        self.ram, self.ram_size = 0x100000, (8 << 20) - 0x100000
        self.own = MODERN + 0x3000

    def setup(self) -> None:
        d = self.drv
        if self.legacy:
            d.io(0x12, 1, 0)
            d.io(0x12, 1, 3)
            d.io(0x04, 4, d.io(0x00))
            for q in NET_QUEUES:
                d.io(0x0E, 2, q)
                self.layout(q, d.io(0x0C, 2), 4096)   # legacy queues keep their size
                d.io(0x08, 4, self.rings[q][0] >> 12)
            d.io(0x12, 1, 7)
            return
        d.common(0x14, 1, 0)
        d.common(0x14, 1, 3)
        d.common(0x00, 4, 0)
        d.common(0x08, 4, 0)
        d.common(0x0C, 4, d.common(0x04))
        d.common(0x08, 4, 1)
        d.common(0x0C, 4, 1)
        d.common(0x14, 1, 0x0B)
        for q in NET_QUEUES:
            d.common(0x16, 2, q)
            d.common(0x18, 2, 16)
            self.layout(q, 16, 4)
            for off, addr in zip((0x20, 0x28, 0x30), self.rings[q][:3]):
                d.common(off, 4, addr)
                d.common(off + 4, 4, 0)
            d.common(0x1C, 2, 1)
        d.common(0x14, 1, 0x0F)

    def kick(self, q: int) -> None:
        if self.legacy:
            self.drv.io(0x10, 2, q)
        else:
            self.mem.write(MODERN + 0x3000 + 4 * q, 0, 2)

    def status(self) -> int:
        return self.drv.io(0x12, 1) if self.legacy else self.drv.common(0x14, 1)


NET_TARGETS = {
    "mmio-legacy": lambda: NetMMIOTarget(True),
    "mmio-modern": lambda: NetMMIOTarget(False),
    "pci-legacy": lambda: NetPCITarget(True),
    "pci-modern": lambda: NetPCITarget(False),
}


def _net_chain(t, q: int, rng: random.Random) -> None:
    """A well-formed transmit or control request, or receive buffers, with mutations."""
    b = t.buf
    addrs = (b, b + 0x1000, t.own, 0, 0xFFFFFFF0, 1 << 40, t.ram + t.ram_size - rng.randrange(1, 600),
             t.rings[q][0], t.rings[q][2])
    lengths = (0, 1, 2, 11, 12, 13, 60, 1514, 4096, 0xFFFFFFFF, 0x80000000)
    if q == 1:
        n = rng.choice((0, 14, 42, 60, 1514, rng.randrange(0, 3000)))
        t.mem.write_bytes(b, bytes(12) + rng.randbytes(n))
        descs = [[b, 12 + n, 0, 0]]
    elif q == 2:
        data = rng.randbytes(rng.choice((0, 1, 6, 8, 20, rng.randrange(0, 500))))
        t.mem.write_bytes(b, bytes((rng.randrange(6), rng.randrange(7))) + data)
        descs = [[b, 2 + len(data), F_NEXT, 1], [b + 0x1000, 1, F_WRITE, 0]]
    else:
        descs = [[b + 0x1000 * k, rng.choice((64, 1526, 2048)), F_WRITE, 0] for k in range(1)]
    for _ in range(rng.choice((0, 1, 1, 2))):
        d = rng.choice(descs)
        field = rng.randrange(4)
        d[field] = (rng.choice(addrs), rng.choice(lengths), rng.randrange(8),
                    rng.randrange(0, t.rings[q][3] + 3))[field]
    for i, (addr, length, flags, nxt) in enumerate(descs):
        t.put_desc(q, i, addr, length, flags, nxt)
    t.submit(q, 0)


@pytest.mark.parametrize("transport", sorted(NET_TARGETS))
def test_virtio_net_random_chains(transport):
    rng = random.Random(f"virtio-net-{transport}")
    t = NET_TARGETS[transport]()
    t.setup()
    broken = 0
    for _ in range(CHAINS):
        if t.status() & NEEDS_RESET:
            t.setup()
        q = rng.choice((0, 1, 1, 2, 2))
        before = t.used_idx(q)
        _net_chain(t, q, rng)
        start = time.monotonic()
        t.kick(q)
        if q == 0:              # a frame from the network into whatever the buffers are
            t.net.deliver(NET_MAC + rng.randbytes(rng.choice((8, 54, 1508, rng.randrange(0, 4000)))))
        assert time.monotonic() - start < KICK_SECONDS
        if q != 0:
            assert t.status() & NEEDS_RESET or t.used_idx(q) != before, \
                "the request neither completed nor broke the device"
        broken += bool(t.status() & NEEDS_RESET)
    assert 0 < broken < CHAINS
    t.net._queue.clear()
    t.setup()                   # a reset device serves a well-formed exchange
    reply = t.arp_exchange()
    assert reply[:6] == NET_MAC and reply[12:14] == b"\x08\x06" and reply[20:22] == b"\x00\x02"
