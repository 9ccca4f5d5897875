"""Two machines in one process: everything a machine owns stays its own.

Two vexpress-a9 boards (the ticker guest of arm_ticker.py: GIC, SP804, WFI, UART
output that depends on all of them) are built side by side and run interleaved; each
prints what the same guest prints on a machine run alone, and their object trees,
ROMs, chardevs and logs stay apart."""
from __future__ import annotations

import pytest

import arm_ticker
from tools import module

module("keystone")


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    from pysystem.cli import load_types
    load_types()
    return arm_ticker.write(tmp_path_factory.mktemp("two"), limit=3000)


def _machine(guest, ram="128M"):
    from pysystem.chardev import ChardevRegistry
    from pysystem.machine import find_machine
    kernel, dtb = guest
    m = find_machine("vexpress-a9", "arm")(**{"ram-size": ram, "kernel": kernel, "dtb": dtb})
    m.set_arch("arm")
    m.chardevs = ChardevRegistry()
    m.serial_hds.append(m.chardevs.create({"backend": "ringbuf", "id": "out", "size": "1M"}))
    m.realize()
    m.reset()
    m.start()
    return m


def _output(m) -> bytes:
    return m.serial_hds[0].read(1 << 20)


def test_two_machines_run_side_by_side_and_stay_apart(guest, tmp_path):
    from pysystem import log
    from pysystem.qom import resolve_path
    alone = _machine(guest)
    alone.run_for(300_000)
    expected_long = _output(alone)
    alone2 = _machine(guest)
    alone2.run_for(120_000)
    expected_short = _output(alone2)
    assert expected_long and expected_short and expected_long != expected_short

    a, b = _machine(guest), _machine(guest, ram="256M")
    a.log.set_mask("in_asm")
    a.log.set_file(str(tmp_path / "a.log"))
    b.log.set_file(str(tmp_path / "b.log"))
    a.cpus[0].flush_all()   # translated again, now that a's log wants in_asm
    for _ in range(10):     # interleaved: a gets 30k instructions a turn, b 12k
        a.run_for(30_000)
        b.run_for(12_000)
    assert _output(a) == expected_long
    assert _output(b) == expected_short
    log.activate(log.Log())

    # their object trees, devices, RAM, ROMs and chardevs are their own
    assert a.root is not b.root
    cpu_a = resolve_path("/machine/unattached/cpu[0]", a.root)
    cpu_b = resolve_path("/machine/unattached/cpu[0]", b.root)
    assert cpu_a is a.cpus[0] and cpu_b is b.cpus[0]
    assert a.dev["uart0"] is not b.dev["uart0"] and a.ram_size != b.ram_size
    assert {r.space for r in a.roms()} == {a.address_space}
    assert {r.space for r in b.roms()} == {b.address_space}
    assert [c.label for c in a.all_chardevs()] == ["out"] and a.all_chardevs() != b.all_chardevs()
    assert "IN: " in (tmp_path / "a.log").read_text()
    assert (tmp_path / "b.log").read_text() == ""
