"""The memory API: region trees, flat views, guest accesses, listeners."""
from __future__ import annotations

from io import StringIO

import pytest

from pysystem import log
from pysystem.memory import (AddressSpace, AliasRegion, BusError, ContainerRegion, IORegion,
                             MemoryRegion, MemoryTreeError, RAMRegion, ROMDeviceRegion,
                             ROMRegion)


class Regs:
    """A register file that records every callback, for checking how accesses reach a device."""

    def __init__(self, values=None):
        self.values = dict(values or {})
        self.calls = []

    def read(self, offset, size):
        self.calls.append(("r", offset, size))
        return self.values.get(offset, 0)

    def write(self, offset, value, size):
        self.calls.append(("w", offset, value, size))
        self.values[offset] = value


def io(name, size, regs, **kw):
    return IORegion(None, name, size, regs.read, regs.write, **kw)


def names(space):
    return [(r.start, r.end, r.region.name, r.offset_in_region) for r in space.flat_ranges()]


# --- flattening -------------------------------------------------------------------------

def test_priority_and_insertion_order_decide_overlaps():
    root = ContainerRegion(None, "root", 0x10000)
    a = RAMRegion(None, "a", 0x1000)
    b = RAMRegion(None, "b", 0x1000)
    c = RAMRegion(None, "c", 0x1000)
    root.add_subregion(0x1000, a)
    root.add_subregion(0x1800, b)           # same priority, added later: wins the overlap
    root.add_subregion(0x1c00, c, priority=-1)
    space = AddressSpace("t", root)
    assert names(space) == [(0x1000, 0x1800, "a", 0), (0x1800, 0x2800, "b", 0),
                            (0x2800, 0x2c00, "c", 0xc00)]
    a.set_address(0x1000)                   # no move: nothing changes
    root.del_subregion(a)
    root.add_subregion(0x1000, a, priority=1)
    assert names(space) == [(0x1000, 0x2000, "a", 0), (0x2000, 0x2800, "b", 0x800),
                            (0x2800, 0x2c00, "c", 0xc00)]


def test_subregions_are_clipped_to_their_container():
    root = ContainerRegion(None, "root", 0x10000)
    box = ContainerRegion(None, "box", 0x100)
    ram = RAMRegion(None, "ram", 0x1000)
    box.add_subregion(0x80, ram)
    root.add_subregion(0x4000, box)
    space = AddressSpace("t", root)
    assert names(space) == [(0x4080, 0x4100, "ram", 0)]
    assert space.lookup(0x4100) is None
    with pytest.raises(BusError) as e:
        space.read(0x4100, 4)
    assert (e.value.addr, e.value.is_write, e.value.size) == (0x4100, False, 4)


def test_io_region_with_subregions_fills_the_gaps():
    regs = Regs()
    root = ContainerRegion(None, "root", 0x10000)
    outer = io("outer", 0x100, regs)
    inner = io("inner", 0x10, regs)
    outer.add_subregion(0x20, inner)
    root.add_subregion(0x100, outer)
    space = AddressSpace("t", root)
    assert names(space) == [(0x100, 0x120, "outer", 0), (0x120, 0x130, "inner", 0),
                            (0x130, 0x200, "outer", 0x30)]


def test_alias_with_offset_and_alias_of_a_container():
    root = ContainerRegion(None, "root", 1 << 32)
    ram = RAMRegion(None, "ram", 0x10000)
    root.add_subregion(0x60000000, ram)
    win = AliasRegion(None, "win", ram, 0x8000, 0x1000)
    root.add_subregion(0x1000, win)
    space = AddressSpace("t", root)
    space.write(0x60008010, 0xdeadbeef, 4)
    assert space.read(0x1010, 4) == 0xdeadbeef
    data, off, avail = space.ram_block(0x1010)
    assert data is ram.data and off == 0x8010 and avail == 0x1000 - 0x10
    # an alias of the whole tree, as the CPU address spaces of a board use
    view = ContainerRegion(None, "cpu-view", 1 << 32)
    view.add_subregion(0, AliasRegion(None, "sys", root, 0, 1 << 32))
    cpu = AddressSpace("cpu", view)
    assert cpu.read(0x60008010, 4) == 0xdeadbeef
    win.set_alias_offset(0)
    assert space.read(0x1010, 4) == 0


def test_disable_move_and_listeners():
    root = ContainerRegion(None, "root", 0x10000)
    ram = RAMRegion(None, "ram", 0x1000)
    other = RAMRegion(None, "unmapped", 0x1000)
    root.add_subregion(0, ram)
    space = AddressSpace("t", root)
    events = []
    space.add_topology_listener(lambda: events.append("flush"))
    assert space.lookup(0).region is ram
    ram.set_enabled(False)
    assert events == ["flush"]
    ram.set_address(0x2000)                 # the view is already stale: no second call
    assert events == ["flush"]
    assert space.lookup(0) is None and space.lookup(0x2000) is None
    ram.set_enabled(True)
    assert events == ["flush", "flush"]
    assert space.lookup(0x2000).region is ram
    other.set_enabled(False)                # not in this space's tree: no call
    assert events == ["flush", "flush"]


def test_tree_errors():
    root = ContainerRegion(None, "root", 0x1000)
    ram = RAMRegion(None, "ram", 0x100)
    root.add_subregion(0, ram)
    with pytest.raises(MemoryTreeError, match="already mapped"):
        root.add_subregion(0x100, ram)
    with pytest.raises(MemoryTreeError, match="not mapped"):
        ContainerRegion(None, "x", 1).del_subregion(ram)
    with pytest.raises(MemoryTreeError):
        IORegion(None, "bad", 4, lambda o, s: 0, lambda o, v, s: None, endianness="middle")


# --- RAM and ROM ---------------------------------------------------------------------

@pytest.mark.parametrize("big", [False, True])
def test_ram_byte_order_and_split_accesses(big):
    root = ContainerRegion(None, "root", 0x10000)
    a = RAMRegion(None, "a", 0x100)
    b = RAMRegion(None, "b", 0x100)
    root.add_subregion(0x1000, a)
    root.add_subregion(0x1100, b)
    space = AddressSpace("t", root, big_endian=big)
    space.write(0x1000, 0x1122334455667788, 8)
    expect = bytes.fromhex("1122334455667788")
    assert bytes(a.data[:8]) == (expect if big else expect[::-1])
    assert space.read(0x1000, 2) == (0x1122 if big else 0x7788)
    # a 4-byte access across the two regions
    space.write(0x10fe, 0xaabbccdd, 4)
    assert space.read(0x10fe, 4) == 0xaabbccdd
    assert bytes(a.data[0xfe:]) + bytes(b.data[:2]) == (0xaabbccdd).to_bytes(4, "big" if big else "little")
    with pytest.raises(BusError):
        space.read(0x11fe, 4)               # runs off the end of b


def test_rom_ignores_guest_writes_but_loaders_fill_it(monkeypatch):
    root = ContainerRegion(None, "root", 0x10000)
    rom = ROMRegion(None, "boot.rom", 0x100)
    root.add_subregion(0, rom)
    space = AddressSpace("t", root)
    space.write_bytes(0, b"\x01\x02\x03\x04")
    assert space.read(0, 4) == 0x04030201
    out = StringIO()
    monkeypatch.setattr(log, "_out", out)
    monkeypatch.setattr(log, "mask", {"guest_errors"})
    space.write(0, 0xffffffff, 4)
    assert space.read(0, 4) == 0x04030201
    assert "ROM 'boot.rom' at 0x0 ignored" in out.getvalue()
    assert space.ram_block(0) is not None
    assert space.ram_block(0, for_write=True) is None
    assert space.lookup(0).readonly


def test_write_listener_sees_ram_writes_only():
    root = ContainerRegion(None, "root", 0x10000)
    regs = Regs()
    root.add_subregion(0, RAMRegion(None, "ram", 0x1000))
    root.add_subregion(0x1000, io("dev", 0x100, regs))
    space = AddressSpace("t", root)
    seen = []
    space.add_write_listener(lambda addr, n: seen.append((addr, n)))
    space.write(0x10, 5, 4)
    space.write(0x1000, 5, 4)
    space.write_bytes(0x20, b"abc")
    space.read(0x10, 4)
    assert seen == [(0x10, 4), (0x20, 3)]


def test_bytes_interface_covers_ram_and_io_and_rejects_holes():
    root = ContainerRegion(None, "root", 0x10000)
    ram = RAMRegion(None, "ram", 0x100)
    regs = Regs({0: 0x44434241, 4: 0x48474645})
    root.add_subregion(0x100, ram)
    root.add_subregion(0x200, io("dev", 0x8, regs))
    space = AddressSpace("t", root)
    space.write_bytes(0x1f0, bytes(range(16)))
    assert space.read_bytes(0x1f0, 16) == bytes(range(16))
    assert space.read_bytes(0x200, 8) == b"ABCDEFGH"
    assert regs.calls == [("r", 0, 4), ("r", 4, 4)]
    with pytest.raises(BusError):
        space.write_bytes(0xf0, b"\xff" * 0x20)   # starts in a hole
    with pytest.raises(BusError):
        space.write_bytes(0x1f8, b"\xee" * 0x20)  # runs into a hole: nothing written
    assert space.read_bytes(0x1f8, 8) == bytes(range(8, 16))


# --- I/O -----------------------------------------------------------------------------

def test_io_sizes_and_alignment_are_checked(monkeypatch):
    regs = Regs({0: 0x12345678})
    root = ContainerRegion(None, "root", 0x10000)
    root.add_subregion(0x1000, io("dev", 0x100, regs, min_access=4, max_access=4))
    space = AddressSpace("t", root)
    assert space.read(0x1000, 4) == 0x12345678
    out = StringIO()
    monkeypatch.setattr(log, "_out", out)
    monkeypatch.setattr(log, "mask", {"guest_errors"})
    for addr, size in ((0x1000, 1), (0x1000, 2), (0x1000, 8), (0x1002, 4)):
        with pytest.raises(BusError):
            space.read(addr, size)
        with pytest.raises(BusError):
            space.write(addr, 0, size)
    assert regs.calls == [("r", 0, 4)]
    lines = out.getvalue().splitlines()
    assert lines[0] == ("Invalid access at addr 0x0, size 1, region 'dev', reason: invalid size "
                        "(min:4 max:4)")
    assert lines[-1] == "Invalid access at addr 0x2, size 4, region 'dev', reason: unaligned"


@pytest.mark.parametrize("endian,big_as", [("little", False), ("big", False),
                                           ("native", True), ("little", True)])
def test_io_split_into_implemented_sizes(endian, big_as):
    regs = Regs({0: 0x11, 1: 0x22, 2: 0x33, 3: 0x44})
    root = ContainerRegion(None, "root", 0x10000)
    root.add_subregion(0, io("dev", 0x10, regs, impl_max=1, endianness=endian))
    space = AddressSpace("t", root, big_endian=big_as)
    value = space.read(0, 4)
    assert [c[1] for c in regs.calls] == [0, 1, 2, 3]
    # the device's byte order decides which byte is most significant
    dev_big = endian == "big" or (endian == "native" and big_as)
    dev_value = 0x11223344 if dev_big else 0x44332211
    # the value reaches the CPU swapped when the device's order is not the target's
    swap = endian != "native" and dev_big != big_as
    expect = int.from_bytes(dev_value.to_bytes(4, "little"), "big") if swap else dev_value
    assert value == expect
    regs.calls.clear()
    space.write(0, value, 4)
    assert regs.calls == [("w", i, v, 1) for i, v in enumerate((0x11, 0x22, 0x33, 0x44))]


def test_io_widened_to_the_minimum_implemented_size():
    regs = Regs({2: 0xaabbccdd})
    root = ContainerRegion(None, "root", 0x10000)
    root.add_subregion(0, io("dev", 0x10, regs, impl_min=4, unaligned=True))
    space = AddressSpace("t", root)
    assert space.read(2, 1) == 0xdd          # QEMU: one 4-byte call at the same offset, masked
    assert regs.calls == [("r", 2, 4)]


def test_big_endian_device_on_little_endian_bus_is_swapped():
    regs = Regs({0: 0x11223344})
    root = ContainerRegion(None, "root", 0x10000)
    root.add_subregion(0, io("dev", 0x10, regs, endianness="big"))
    space = AddressSpace("t", root)
    assert space.read(0, 4) == 0x44332211
    space.write(4, 0x44332211, 4)
    assert regs.values[4] == 0x11223344
    assert space.read(0, 1) == 0x44        # byte accesses are not swapped


def test_rom_device_reads_direct_in_romd_mode_and_writes_reach_the_device():
    regs = Regs({0: 0x98})
    root = ContainerRegion(None, "root", 0x10000)
    flash = ROMDeviceRegion(None, "flash", 0x100, regs.read, regs.write)
    root.add_subregion(0, flash)
    space = AddressSpace("t", root)
    space.write_bytes(0, b"\x01\x02\x03\x04")
    assert space.read(0, 4) == 0x04030201 and regs.calls == []
    assert space.ram_block(0, for_write=True) is None
    space.write(0, 0xff, 1)
    assert regs.calls == [("w", 0, 0xff, 1)] and flash.data[0] == 1
    flash.set_romd(False)
    assert space.read(0, 1) == 0xff and space.ram_block(0) is None
    flash.set_romd(True)
    assert space.read(0, 1) == 1


def test_plain_memory_region_is_a_container():
    root = MemoryRegion(None, "system", 1 << 64)
    space = AddressSpace("t", root)
    assert space.flat_ranges() == []
    with pytest.raises(BusError):
        space.write(0x1234, 1, 4)


def _resident_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_ram_costs_host_memory_only_where_touched():
    """A 1 GiB RAM region is an anonymous mapping: creating it and writing two pages
    leaves the process's resident size nearly unchanged (as QEMU's RAM)."""
    before = _resident_kib()
    ram = RAMRegion(None, "big", 1 << 30)
    space = AddressSpace("mem", ram)
    space.write(0x1000, 0x11223344, 4)
    space.write_bytes(0x3FFF_F000, b"\xaa" * 16)
    assert space.read(0x1000, 4) == 0x11223344
    assert space.read_bytes(0x3FFF_F00E, 4) == b"\xaa\xaa\x00\x00"
    assert _resident_kib() - before < 32 * 1024
