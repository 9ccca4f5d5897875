"""Standing fuzz campaign: malformed virtio descriptor chains for virtio-blk over both
transports (virtio-mmio as on vexpress-a9, virtio-pci as on Malta), legacy and modern.

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
from pysystem.devices.virtio_pci import VirtIOBlockPCI
from pysystem.memory import RAMRegion
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
