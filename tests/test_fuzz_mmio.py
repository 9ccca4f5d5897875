"""Standing fuzz campaign: random MMIO over every device region of both boards.

Each board is built from a command line (``pysystem.cli.main``, as ``pysystem-arm``
builds it) with disks on every controller it has (virtio-blk, SD or IDE), its RAM
filled with random bytes (so whatever a device fetches by DMA is garbage: virtio
rings, PCnet and LAN9118 descriptors, PL181 and IDE transfers), and ``-d
guest_errors,unimp`` logging to a file.  Then, from a seeded generator, reads and
writes of 1, 2 and 4 bytes with random and boundary values go to random offsets of
every I/O range of the flat memory view (``info mtree -f``: re-read as the guest's
writes move PCI BARs and windows), with guest time advancing between bursts so that
device timers fire.  The only exception allowed out of an access is ``BusError``
(what a CPU turns into a data abort); reset and shutdown requests the guest makes
are carried out as the main loop would.

CI size: ``PYSYSTEM_FUZZ_ACCESSES`` (default 12,000) accesses per board and seed.
Long run (2026-12-07, CPython 3.11, a loaded 2-core machine): PYSYSTEM_FUZZ_ACCESSES=
1000000, seed 0: 10^6 accesses per board passed, vexpress-a9 in 72 s, Malta in 48 s.
"""
from __future__ import annotations

import os
import random
import sys

import pytest

from pysystem import chardev as chardevs, cli, log, qom
from pysystem.block import close_all
from pysystem.memory import BusError

ACCESSES = int(os.environ.get("PYSYSTEM_FUZZ_ACCESSES", "12000"))
REBOOT_EVERY = 3000
VALUES = (0, 1, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x42, 0x100)

BOARDS = {
    "vexpress-a9": ("arm", ["-M", "vexpress-a9", "-m", "64",
                            "-drive", "if=none,id=v0,file={d}/v0.img,format=raw",
                            "-device", "virtio-blk-device,drive=v0",
                            "-drive", "if=sd,file={d}/sd.img,format=raw"]),
    "malta": ("mipsel", ["-M", "malta", "-m", "64",
                         "-drive", "if=ide,file={d}/hd.img,format=raw",
                         "-drive", "if=none,id=v0,file={d}/v0.img,format=raw",
                         "-device", "virtio-blk-pci,drive=v0"]),
}

# regions that must be among those reached (the disk controllers and DMA-capable parts)
DEVICES = {
    "vexpress-a9": ("virtio-mmio", "pl181", "lan9118-mmio", "gic_dist", "sp804", "pl011"),
    "malta": ("virtio-pci-legacy", "ide", "bmdma", "pcnet-io", "uhci", "gt64120-isd", "pit", "serial"),
}


def _io_ranges(space):
    return [(r.start, r.end - r.start, r.region.name) for r in space.flat_ranges()
            if r.data is None]


def _ram(space):
    return [(r.start, r.end - r.start) for r in space.flat_ranges() if r.writable]


def _assign_bars(machine) -> None:
    """Give every PCI function's BARs addresses and enable it, as firmware would."""
    io, mem = 0x1000, 0x12000000
    for bus in getattr(machine, "pci_buses", ()):
        for dev in bus.functions():
            for bar in dev.BARS:
                offset = 0x30 if bar.index == 6 else 0x10 + 4 * bar.index
                if bar.kind == "io":
                    dev.config_write(offset, io, 4)
                    io += max(bar.size, 0x100)
                else:
                    mem = -(-mem // bar.size) * bar.size
                    dev.config_write(offset, mem | (1 if bar.index == 6 else 0), 4)
                    mem += max(bar.size, 0x100000)
            dev.config_write(0x04, 0x7, 2)


def _fuzz(machine, rng: random.Random, accesses: int) -> dict:
    space = machine.address_space
    _assign_bars(machine)
    for start, size in _ram(space):
        n = min(size, 2 << 20)
        space.write_bytes(start, rng.randbytes(n))
    ranges = _io_ranges(space)
    touched, seen = set(), set()
    bus_errors = 0
    for i in range(accesses):
        if i % REBOOT_EVERY == 0 and i:
            machine.reset()                     # random GT/BAR writes move windows away:
            _assign_bars(machine)               # reboot now and then (a reset mid-flight)
        if i % 500 == 0:
            ranges = _io_ranges(space)          # BARs and windows move
            seen.update(name for _, _, name in ranges)
            machine.clock.advance(rng.randrange(1, 50_000))
            machine.clock.run_timers()
            if rng.random() < 0.3:
                machine.clock.warp_to_next_deadline()
                machine.clock.run_timers()
            machine.handle_requests()
        start, length, name = rng.choice(ranges)
        size = rng.choice((1, 2, 4, 4, 4))
        if rng.random() < 0.7:
            off = rng.randrange(0, min(length, 0x400), size)     # where registers are
        else:
            off = rng.randrange(0, max(1, length - size + 1))
        addr = start + off
        touched.add(name)
        try:
            if rng.random() < 0.45:
                space.read(addr, size)
            else:
                value = rng.choice(VALUES) if rng.random() < 0.3 else rng.getrandbits(32)
                space.write(addr, value & ((1 << (8 * size)) - 1), size)
        except BusError:
            bus_errors += 1
    machine.handle_requests()
    return {"touched": touched, "seen": seen, "bus_errors": bus_errors}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_random_mmio_over_every_device_never_raises(tmp_path, board, seed):
    arch, args = BOARDS[board]
    for name in ("v0.img", "sd.img", "hd.img"):
        (tmp_path / name).write_bytes(random.Random(seed).randbytes(1 << 20))
    logfile = tmp_path / "guest_errors.log"
    argv = [a.format(d=tmp_path) for a in args] + [
        "-display", "none", "-monitor", "none", "-serial", "null", "-nodefaults",
        "-net", "nic",                  # the board's NIC, without a backend (-nodefaults has none)
        "-d", "guest_errors,unimp", "-D", str(logfile)]
    result = {}

    def on_start(machine, loop):
        result.update(_fuzz(machine, random.Random(seed), ACCESSES))
        loop.request_exit(0)

    qom.reset_root()
    previous, program = log.active(), chardevs.registry().program
    log.activate(log.Log())             # -d/-D of this run stay out of later tests
    try:
        status = cli.main(arch, argv, on_start=on_start)
    finally:
        close_all()
        qom.reset_root()
        used = log.active()
        log.activate(previous)
        chardevs.registry().program = program
        if used.out is not sys.stderr:
            used.out.close()
    assert status == 0 and result, "the fuzz did not run to its end"
    # every device region was reached (the flat view's I/O ranges of the last pass)
    names = result["seen"]
    assert len(names) >= 25
    missed = names - result["touched"]
    assert len(missed) <= len(names) // 10, sorted(missed)
    for device in DEVICES[board]:
        assert device in result["touched"], device
    text = logfile.read_text(errors="replace")
    assert "Traceback" not in text and "internal error" not in text
