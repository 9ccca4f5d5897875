"""The minimal HMP monitor against a real (empty) machine: commands and QEMU's texts."""
from __future__ import annotations

import pytest

from pysystem import qom
from pysystem.chardev import Chardev
from pysystem.machines.none import NoneMachine
from pysystem.monitor.hmp import COMMANDS, INFO_COMMANDS, Monitor


@pytest.fixture
def machine():
    qom.reset_root()
    m = NoneMachine(**{"ram-size": 16 << 20})
    m.realize()
    m.reset()
    m.start()
    yield m
    qom.reset_root()


def test_help_lists_the_table(machine):
    mon = Monitor(machine)
    out = mon.execute("help")
    assert "info [subcommand] -- show various information about the system state\n" in out
    assert "quit|q  -- quit the emulator\n" in out
    assert len([l for l in out.splitlines() if not l.startswith("\t")]) == len(COMMANDS)
    info = mon.execute("help info")
    assert "info status  -- show the current VM status (running|paused)\n" in info
    assert len(info.splitlines()) == len(INFO_COMMANDS)
    assert mon.execute("info") == info
    assert mon.execute("help quit") == "quit|q  -- quit the emulator\n"


def test_status_stop_cont(machine):
    mon = Monitor(machine)
    assert mon.execute("info status") == "VM status: running\n"
    assert mon.execute("stop") == ""
    assert mon.execute("info status") == "VM status: paused\n"
    assert mon.execute("c") == ""
    assert mon.execute("info status") == "VM status: running\n"


def test_unknown_commands_keep_running(machine):
    mon = Monitor(machine)
    assert mon.execute("foo") == "unknown command: 'foo'\n"
    assert mon.execute("info foo") == "unknown command: 'info foo'\n"
    assert mon.execute("   ") == ""
    assert machine.run_state == "running"


def test_info_mtree(machine):
    mon = Monitor(machine)
    out = mon.execute("info mtree")
    assert out.startswith("address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n")
    assert "    0000000000000000-0000000000ffffff (prio 0, ram): ram\n" in out
    flat = mon.execute("info mtree -f")
    assert 'AS "memory", root: system' in flat
    assert "0000000000000000-0000000000ffffff (prio 0, ram): ram" in flat
    assert mon.execute("info mtree -z") == ("mtree: unsupported option -z\n"
                                            "Try \"help info mtree\" for more information\n")


def test_quit_and_reset_requests(machine):
    from pysystem.main_loop import MainLoop
    loop = MainLoop(machine)
    mon = Monitor(machine)
    mon.execute("system_reset")
    mon.execute("quit")
    assert loop.run() == 0
    assert machine.shutdown_reason == "host-qmp-quit"


class Terminal(Chardev):
    """What the monitor writes, and a way to type at it."""

    TYPE = "test-monitor-terminal"
    ABSTRACT = False

    def __init__(self, **props):
        super().__init__(**props)
        self.written = bytearray()

    def _write(self, data: bytes) -> int:
        self.written += data
        return len(data)


def test_line_editing_on_a_chardev(machine):
    term = Terminal(id="t")
    mon = Monitor(machine)
    mon.attach(term)
    term.open(None)
    assert bytes(term.written) == (b"pysystem 0.1.0 monitor - type 'help' for more information\r\n"
                                   b"(qemu) ")
    term.written.clear()
    term.deliver(b"info statux\x7fs\r\n")     # CR LF: two Enters, as in QEMU's monitor
    assert bytes(term.written) == (b"info statux\b \bs\r\nVM status: running\r\n(qemu) "
                                   b"\r\n(qemu) ")
    term.written.clear()
    term.deliver(b"bogus\x15info version\r")
    assert b"\r\n0.1.0 (pysystem" in term.written


def test_info_qom_tree(machine):
    mon = Monitor(machine)
    assert mon.execute("info qom-tree") == ("/machine (none-machine)\n  /peripheral (container)\n"
                                            "  /peripheral-anon (container)\n  /unattached (container)\n")
    assert mon.execute("info qom-tree /nope") == "Path '/nope' could not be resolved\n"


def test_a_failing_command_does_not_stop_the_vm(machine, monkeypatch):
    mon = Monitor(machine)
    monkeypatch.setattr(machine, "pause", lambda: 1 / 0)
    assert mon.execute("stop").startswith("internal error in 'stop': ZeroDivisionError")
    assert mon.execute("info status") == "VM status: running\n"


def test_info_chardev_and_registers(machine, tmp_path):
    from pysystem import chardev
    machine.chardevs = chardev.ChardevRegistry()    # the machine's own chardevs
    try:
        machine.chardevs.create({"backend": "file", "id": "log0", "path": str(tmp_path / "x")})
        machine.chardevs.create({"backend": "null", "id": "n0", "mux": "on"})
        out = Monitor(machine).execute("info chardev")
    finally:
        machine.chardevs.close_all()
    assert f"log0: filename=file:{tmp_path / 'x'}\n" in out
    assert "n0: filename=mux\n" in out
    assert Monitor(machine).execute("info registers") == "No CPU available\n"


@pytest.mark.parametrize("arch,order", [("mipsel", "little"), ("mips", "big")])
def test_xp_reads_items_in_the_guest_byte_order(arch, order):
    """The front end's byte order reaches the board's address space, and xp shows words
    as the guest stores them."""
    qom.reset_root()
    m = NoneMachine(**{"ram-size": 1 << 20})
    m.set_arch(arch)
    m.realize()
    try:
        assert m.address_space.big_endian == (order == "big")
        m.address_space.write_bytes(0x100, bytes([0x11, 0x22, 0x33, 0x44]))
        out = Monitor(m).execute("xp /1wx 0x100")
        assert out.split()[1] == "0x" + (0x11223344 if order == "big" else 0x44332211).to_bytes(4, "big").hex()
    finally:
        qom.reset_root()


def test_register_names_come_from_the_cpu():
    from pysystem.cpu.arm import ARMCPU
    from pysystem.monitor.hmp_complete import complete
    qom.reset_root()
    m = NoneMachine(**{"ram-size": 1 << 20})
    m.realize()
    try:
        m.cpus.append(ARMCPU.example())
        mon = Monitor(m)
        m.cpus[0].regs[3] = 0x1234
        assert mon.execute("p $r3") == "0x1234\n"
        assert complete(mon, "print $cp")[1] == ["$cpsr"]
    finally:
        qom.reset_root()
