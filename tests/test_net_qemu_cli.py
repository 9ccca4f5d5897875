"""The network's command line against QEMU 7.2's: which NICs each board makes and
where (``-nodefaults``, ``-nic none``, ``-netdev`` alone, extra ``-nic``/``-net nic``/
``-device`` NICs on Malta's PCI bus), the names and order ``info network`` shows
them in, their default MACs, and ``info qtree``'s virtio bus under a virtio-net-pci.

Each command line runs on qemu-system-mipsel/-arm (``-S``, the monitor on stdio) and
on pysystem's own entry point; the monitors' answers must be equal, but for the
names QEMU gives anonymous netdevs (``#netNNN``, from a counter shared with other
objects), compared as ``#net``.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from pysystem.cli import main
from pysystem.monitor.hmp import Monitor
from tools import program

QEMU = {"mipsel": ("qemu-system-mipsel", "malta"), "arm": ("qemu-system-arm", "vexpress-a9")}


def _qemu(arch: str, argv, commands):
    """QEMU's answer to each of ``commands``."""
    binary, board = QEMU[arch]
    script = "".join(f"{c}\n" for c in commands) + "quit\n"
    out = subprocess.run([program(binary), "-M", board, "-S", "-display", "none",
                          "-monitor", "stdio", "-serial", "none", *argv],
                         input=script, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, QEMU_AUDIO_DRV="none")).stdout
    chunks = out.replace("\r\n", "\n").split("(qemu) ")[1:len(commands) + 1]
    # each chunk: QEMU's echo of the command (with its line editor's escapes), then the answer
    return [chunk.split("\n", 1)[1] if "\n" in chunk else "" for chunk in chunks]


def _ours(arch: str, argv, commands, capsys):
    seen = []

    def on_start(machine, loop):
        mon = Monitor(machine)
        seen.extend(mon.execute(c) for c in commands)
        loop.request_exit(0)

    status = main(arch, ["-M", QEMU[arch][1], "-S", "-display", "none", "-serial", "none",
                         *argv], on_start=on_start)
    err = capsys.readouterr().err
    assert status == 0, err
    return seen


def _anon(text: str) -> str:
    return re.sub(r"#net\d+", "#net", text)


def _pci(text: str) -> list:
    """``info pci`` reduced to what places a function: bus/slot/function, its class and
    ids, and its ``id`` (BAR addresses are unassigned under -S on both)."""
    return [l.strip() for l in text.splitlines()
            if re.match(r"\s*(Bus|Ethernet|VGA|Host|ISA|IDE|USB|Bridge|id )", l)]


MALTA = [
    (),
    ("-nodefaults",),
    ("-nic", "none"),
    ("-netdev", "user,id=n1"),
    ("-nic", "user"),
    ("-net", "nic", "-net", "user"),
    ("-nodefaults", "-nic", "user", "-nic", "user"),
    ("-nic", "user,model=virtio-net-pci", "-nic", "user", "-nic", "user,model=pcnet"),
    ("-nic", "user,model=virtio", "-device", "virtio-net-pci,id=mine", "-device", "pcnet"),
    ("-nodefaults", "-device", "virtio-net-pci,id=mine", "-device", "virtio-net-pci",
     "-netdev", "user,id=u9", "-nic", "user,model=virtio-net-pci"),
    ("-netdev", "user,id=n1", "-device", "pcnet,netdev=n1,mac=52:54:00:aa:bb:cc",
     "-device", "virtio-net-pci"),
]


@pytest.mark.parametrize("argv", MALTA, ids=" ".join)
def test_malta_nics_as_qemu(argv, capsys):
    commands = ["info network", "info pci"]
    want = _qemu("mipsel", argv, commands)
    got = _ours("mipsel", argv, commands, capsys)
    if argv in ((), ("-net", "nic", "-net", "user")):
        # QEMU's default network is -net nic -net user on its hub 0; ours is the same
        # pair without a hub
        assert "pcnet.0: index=0,type=nic,model=pcnet,macaddr=52:54:00:12:34:56" in want[0]
        assert "type=user,net=10.0.2.0,restrict=off" in want[0]
        assert got[0].splitlines() == [
            "pcnet.0: index=0,type=nic,model=pcnet,macaddr=52:54:00:12:34:56",
            " \\ #net0: index=0,type=user,net=10.0.2.0,restrict=off"]
    else:
        assert _anon(got[0]) == _anon(want[0])
    assert _pci(got[1]) == _pci(want[1])


VEXPRESS = [
    (),
    ("-nodefaults",),
    ("-nic", "none"),
    ("-netdev", "user,id=n0"),
    ("-nic", "user", "-device", "virtio-net-device", "-device", "virtio-net-device,id=vn"),
    ("-nodefaults", "-netdev", "user,id=n1", "-device", "virtio-net-device,netdev=n1"),
]


@pytest.mark.parametrize("argv", VEXPRESS, ids=" ".join)
def test_vexpress_nics_as_qemu(argv, capsys):
    commands = ["info network", "info qtree"]
    want = _qemu("arm", argv, commands)
    got = _ours("arm", argv, commands, capsys)
    if argv == ():
        assert "lan9118.0: index=0,type=nic,model=lan9118,macaddr=52:54:00:12:34:56" in want[0]
        assert "type=user,net=10.0.2.0,restrict=off" in want[0]    # on QEMU's hub 0
        assert got[0].splitlines() == [
            "lan9118.0: index=0,type=nic,model=lan9118,macaddr=52:54:00:12:34:56",
            " \\ #net0: index=0,type=user,net=10.0.2.0,restrict=off"]
    else:
        assert _anon(got[0]) == _anon(want[0])
    for text in want[1], got[1]:
        assert ("dev: lan9118," in text) == ("dev: lan9118," in want[1])


def _virtio_bus(qtree: str) -> list:
    """The lines of ``info qtree`` from a virtio-net-pci to the virtio-net-device on its
    bus, properties left out (QEMU has many we do not)."""
    lines = qtree.splitlines()
    start = next(i for i, l in enumerate(lines) if "dev: virtio-net-pci" in l)
    out = []
    for l in lines[start:]:
        if re.match(r"\s*(dev:|bus:|type |class )", l):
            out.append(l.rstrip())
        if "dev: virtio-net-device" in l:
            return out
    return out


def test_qtree_shows_the_virtio_bus_of_a_virtio_net_pci(capsys):
    argv = ("-nodefaults", "-netdev", "user,id=n1", "-device", "virtio-net-pci,netdev=n1")
    want = _qemu("mipsel", argv, ["info qtree"])[0]
    got = _ours("mipsel", argv, ["info qtree"], capsys)[0]
    assert _virtio_bus(want)[-3:] == ["        bus: virtio-bus", "          type virtio-pci-bus",
                                      "          dev: virtio-net-device, id \"\""]
    assert _virtio_bus(got) == _virtio_bus(want)
