"""virtio-net over virtio-mmio and virtio-pci, driven as Linux's virtio_net drives it,
with the user-mode network (pysystem/net/user.py) as the backend: the gateway's ARP
reply to a transmitted ARP request must land in the receive ring behind the
virtio-net header, ``set_link`` must flip the config status bit and raise the
configuration interrupt, the control queue must switch the receive filter, and a
malformed chain must break the device instead of the emulator."""
from __future__ import annotations

import struct

import pytest

from virtio_driver import RAM_BASE, Driver, device_on_mmio

from pysystem.net import UserNet
from pysystem.devices import virtio_mmio, virtio_net  # noqa: F401  (registers the types)

MAC = bytes.fromhex("525400123456")
GW_MAC = bytes.fromhex("52550a000202")   # the gateway: 52:55 and its IPv4 address, as slirp
F_MRG_RXBUF, F_STATUS, F_CTRL_VQ, F_CTRL_RX = 15, 16, 17, 18
RXBUF, TXBUF, CTRLBUF = RAM_BASE + 0x100000, RAM_BASE + 0x180000, RAM_BASE + 0x1C0000


def _arp_request(target=bytes((10, 0, 2, 2))) -> bytes:
    return (b"\xff" * 6 + MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC
            + bytes((10, 0, 2, 15)) + bytes(6) + target)


def _machine(legacy=True, **props):
    net = UserNet("n0")
    dev, transport, mem = device_on_mmio("virtio-net-device", legacy, netdev=net, **props)
    return net, dev, transport, mem


def _start(mem, features=0xFFFFFFFF, rx_buffers=4, rx_len=2048):
    rx = Driver(mem, queue_area=RAM_BASE + 0x10000, queue=0)
    tx = Driver(mem, queue_area=RAM_BASE + 0x20000, queue=1)
    accepted = rx.probe(features)       # queue 0, then DRIVER_OK
    tx.setup_queue()
    for k in range(rx_buffers):
        rx.chain([(RXBUF + 0x1000 * k, rx_len, True)], first=k)
        rx.submit(k, kick=k == rx_buffers - 1)
    return rx, tx, accepted


def _send(tx, frame: bytes, hdr_len: int) -> None:
    mem = tx.mem
    mem.write_bytes(TXBUF, bytes(hdr_len) + frame)
    head = tx.avail_idx % tx.num
    tx.chain([(TXBUF, hdr_len + len(frame), False)], first=head)
    tx.submit(head)


def test_arp_through_the_rings_with_merged_buffers():
    net, dev, transport, mem = _machine()
    rx, tx, accepted = _start(mem)
    assert accepted >> F_MRG_RXBUF & 1 and accepted >> F_STATUS & 1 and accepted >> 5 & 1
    assert mem.read_bytes(transport_base(0) + 0x100, 6) == MAC          # config: MAC
    assert mem.read(transport_base(0) + 0x106, 2) == 1                  # LINK_UP
    _send(tx, _arp_request(), 12)
    assert tx.used_idx() == 1 and tx.used_elem(0) == (0, 0)
    assert rx.used_idx() == 1
    head, written = rx.used_elem(0)
    reply = mem.read_bytes(RXBUF + 0x1000 * head, written)
    assert reply[:10] == bytes(10) and struct.unpack_from("<H", reply, 10)[0] == 1
    frame = reply[12:]
    assert frame[:6] == MAC and frame[6:12] == GW_MAC and frame[12:14] == b"\x08\x06"
    assert struct.unpack_from("!H", frame, 20)[0] == 2                  # ARP reply
    assert rx.ack() & 1 and not transport.irq.level


def test_frame_spreads_over_merged_buffers_and_waits_for_room():
    net, dev, transport, mem = _machine()
    rx, tx, _ = _start(mem, rx_buffers=0)
    frame = bytes(range(256)) * 4                     # 1024 bytes
    net.deliver(MAC + frame[6:])
    assert net.pending == 1 and rx.used_idx() == 0    # no buffers: kept by the backend
    for k in range(3):
        rx.chain([(RXBUF + 0x1000 * k, 400, True)], first=k)
        rx.submit(k, kick=k == 2)
    assert net.pending == 0 and rx.used_idx() == 3
    got = b"".join(mem.read_bytes(RXBUF + 0x1000 * rx.used_elem(k)[0], rx.used_elem(k)[1])
                   for k in range(3))
    assert [rx.used_elem(k)[1] for k in range(3)] == [400, 400, 236]
    assert struct.unpack_from("<H", got, 10)[0] == 3 and got[12:] == MAC + frame[6:]


def test_legacy_header_without_merged_buffers():
    net, dev, transport, mem = _machine(mrg_rxbuf=False)
    rx, tx, accepted = _start(mem)
    assert not accepted >> F_MRG_RXBUF & 1
    _send(tx, _arp_request(), 10)
    head, written = rx.used_elem(0)
    assert written == 10 + 42
    assert mem.read_bytes(RXBUF + 0x1000 * head + 10, 6) == MAC


def test_too_small_buffer_without_merging_breaks_the_device():
    net, dev, transport, mem = _machine(mrg_rxbuf=False)
    rx, tx, _ = _start(mem, rx_len=20)
    _send(tx, _arp_request(), 10)
    assert rx.status() & 0x40 and dev.broken          # DEVICE_NEEDS_RESET, no crash


def test_set_link_changes_status_and_raises_config_interrupt():
    net, dev, transport, mem = _machine()
    rx, tx, _ = _start(mem)
    rx.ack()
    dev.set_link_status(False)
    assert mem.read(transport_base(0) + 0x106, 2) == 0
    assert transport.irq.level and rx.r(0x060) == 3
    rx.ack()
    dev.set_link_status(False)                        # no change: no interrupt
    assert not transport.irq.level
    dev.set_link_status(True)
    assert mem.read(transport_base(0) + 0x106, 2) == 1 and rx.ack() == 3


def test_control_queue_switches_the_receive_filter():
    net, dev, transport, mem = _machine(legacy=False)
    rx, tx, accepted = _start(mem)
    assert accepted >> F_CTRL_VQ & 1 and accepted >> F_CTRL_RX & 1
    ctrl = Driver(mem, queue_area=RAM_BASE + 0x30000, queue=2)
    ctrl.setup_queue()

    def command(cls, cmd, data):
        mem.write_bytes(CTRLBUF, bytes((cls, cmd)) + data)
        mem.write_bytes(CTRLBUF + 0x100, b"\xee")
        head = 2 * (ctrl.avail_idx % 8)
        ctrl.chain([(CTRLBUF, 2 + len(data), False), (CTRLBUF + 0x100, 1, True)], first=head)
        ctrl.submit(head)
        return mem.read_bytes(CTRLBUF + 0x100, 1)[0]

    other = bytes.fromhex("525400aabbcc") + GW_MAC + b"\x08\x00" + bytes(50)
    mine = MAC + GW_MAC + b"\x08\x00" + bytes(50)
    net.deliver(other)
    assert rx.used_idx() == 1                          # promiscuous after reset, as QEMU
    assert command(0, 0, b"\x00") == 0                 # PROMISC off
    net.deliver(other)
    net.deliver(mine)
    assert rx.used_idx() == 2
    assert command(1, 0, struct.pack("<I", 1) + other[:6] + struct.pack("<I", 0)) == 0
    net.deliver(other)
    assert rx.used_idx() == 3
    assert command(0, 9, b"\x01") == 1                 # no such RX command: ERR
    assert command(7, 0, b"") == 1                     # no such class: ERR
    assert not dev.broken


def test_pci_function_identity_and_legacy_bar():
    dev = virtio_net.VirtIONetPCI.example()
    cfg = dev.config
    assert struct.unpack_from("<HH", cfg, 0) == (0x1AF4, 0x1000)
    assert cfg[0x0B] == 0x02 and cfg[0x0A] == 0x00                  # class 02:00
    assert struct.unpack_from("<HH", cfg, 0x2C) == (0x1AF4, 0x0001)
    assert dev.BARS[0].size == 32 and dev.vdev.mac == "52:54:00:12:34:56"


def transport_base(i: int) -> int:
    from virtio_driver import MMIO_BASE
    return MMIO_BASE + 0x200 * i


# --- the boards, against QEMU 7.2 ------------------------------------------------------
def _strip_net_ids(text: str) -> str:
    """QEMU names an anonymous -nic backend #netNNN with a counter of its own."""
    import re
    return re.sub(r"#net\d+", "#net", text)


@pytest.mark.parametrize("args", [
    ["-nic", "user,model=virtio-net-pci"],
    ["-nic", "user,model=virtio,mac=52:54:00:ab:cd:ef"],
    ["-nic", "user,id=n0", "-netdev", "user,id=n1", "-device", "virtio-net-pci,netdev=n1"],
], ids=["model-virtio-net-pci", "model-virtio", "device"])
def test_malta_info_pci_as_qemu(args):
    from malta_qemu import monitor
    theirs = monitor("qemu", "mipsel", args, ["info pci"])["info pci"]
    ours = monitor("pysystem", "mipsel", args, ["info pci"])["info pci"]
    assert ours == theirs


def test_malta_info_network_names_the_model_and_mac():
    from malta_qemu import monitor
    args = ["-nic", "user,model=virtio"]
    theirs = monitor("qemu", "mipsel", args, ["info network"])["info network"]
    ours = monitor("pysystem", "mipsel", args, ["info network"])["info network"]
    # QEMU calls the NIC virtio-net-pci.0; pysystem's NICs have no instance number yet
    assert _strip_net_ids(ours).splitlines()[1:] == _strip_net_ids(theirs).splitlines()[1:]
    assert ours.splitlines()[0].split(":", 1)[1] == theirs.splitlines()[0].split(":", 1)[1]


def test_vexpress_qtree_as_qemu():
    import subprocess
    from tools import program, script
    args = ["-M", "vexpress-a9", "-S", "-display", "none", "-serial", "null", "-monitor",
            "stdio", "-nic", "user", "-netdev", "user,id=n1", "-device",
            "virtio-net-device,netdev=n1"]

    def qtree(binary):
        out = subprocess.run([binary, *args], input=b"info qtree\nquit\n", capture_output=True,
                             timeout=120).stdout.decode(errors="replace").replace("\r", "")
        lines = out.splitlines()
        start = next(i for i, l in enumerate(lines) if "bus: virtio-mmio-bus.3" in l)
        block = lines[start:start + 4]
        mac = next(l.strip() for l in lines[start:] if l.strip().startswith("mac = "))
        return block[:3] + [mac]
    theirs = qtree(program("qemu-system-arm"))
    ours = qtree(script("pysystem-arm"))
    # the bus, its type, the device on it, and QEMU's second default MAC (after lan9118's)
    assert ours == theirs and ours[-1] == 'mac = "52:54:00:12:34:57"'


def test_set_link_through_hmp_and_bad_options(capsys):
    """``set_link`` from the monitor reaches the device; bad -device options are one line."""
    from pysystem.cli import main
    from pysystem.monitor.hmp import Monitor
    seen = {}

    def on_start(machine, loop):
        mon = Monitor(machine)
        vdev = machine.net_options.backends[0].nic
        seen["off"] = (mon.execute("set_link n1 off"), vdev.net_status)
        seen["on"] = (mon.execute("set_link n1 on"), vdev.net_status)
        seen["network"] = mon.execute("info network")
        loop.request_exit(0)

    argv = ["-M", "vexpress-a9", "-display", "none", "-S"]
    status = main("arm", argv + ["-netdev", "user,id=n1", "-device",
                                 "virtio-net-device,netdev=n1,mac=52:54:00:00:00:01"],
                  on_start=on_start)
    assert status == 0, capsys.readouterr().err
    assert seen["off"] == ("", 0) and seen["on"] == ("", 1)
    assert "model=virtio-net-device,macaddr=52:54:00:00:00:01" in seen["network"]
    for bad, msg in ((["-device", "virtio-net-device,mac=zz"], "doesn't take value 'zz'"),
                     (["-device", "virtio-net-device,netdev=nosuch"], "can't find value"),
                     (["-device", "virtio-net-pci,bogus=1"], "bogus"),
                     (["-nic", "user,model=virtio-net-device"], "Unsupported NIC model")):
        capsys.readouterr()
        status = main("arm", argv + bad)
        err = capsys.readouterr().err
        assert status == 1 and msg in err and err.count("\n") == 1, err
