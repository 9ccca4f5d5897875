"""``-netdev tap`` against the host kernel's own network stack (the oracle).

``helper=`` too: a bridge helper written here (the protocol QEMU's
qemu-bridge-helper speaks: ``--use-vnet --fd=N --br=BR``, the tap's descriptor sent
back with SCM_RIGHTS) makes a tap with IFF_VNET_HDR; the same ARP and ping go
through it, and qemu-system-arm takes the same helper and shows the netdev in
``info network`` as we do.  A missing or failing helper is QEMU's "bridge helper
failed", with the reason.  Through such a tap virtio-net offers CSUM and GUEST_CSUM:
the host kernel completes a guest's partial UDP checksum (and drops the frame when
nobody did), and leaves its own partial for a driver with GUEST_CSUM.

A tap interface made by ``TapNet`` (ifname=, and script= configuring its address
with iproute2 as QEMU's /etc/qemu-ifup would) is put up with 192.168.77.1/24; the
test plays the guest's NIC: an ARP request for 192.168.77.1 and an ICMP echo
request leave through the tap, and the Linux kernel's answers come back through
it (built and read with scapy).  The errors are QEMU's words.  A Debian guest
pinging a tap is in test_net_guest.py.  Needs root and /dev/net/tun (else a host
skip, tools.NO_TAP).
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import time

import pytest

import tools
from tools import module

module("scapy")
from scapy.layers.inet import ICMP, IP, UDP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402

from pysystem.main_loop import MainLoop  # noqa: E402
from pysystem.net.options import NetOptions  # noqa: E402

GUEST_MAC = "52:54:00:12:34:77"
HOST_IP, GUEST_IP = "192.168.77.1", "192.168.77.2"


def tap_available() -> bool:
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun")


def ifup_script(tmp_path, host_ip=HOST_IP) -> str:
    """An up script as QEMU's /etc/qemu-ifup: address the interface named by $1, up."""
    ip = tools.program("ip")
    path = tmp_path / "ifup"
    path.write_text(f"#!/bin/sh\n{ip} addr add {host_ip}/24 dev \"$1\" && "
                    f"{ip} link set \"$1\" up\n")
    path.chmod(0o755)
    return str(path)


class Wire:
    TYPE = "test-nic"
    mac = GUEST_MAC

    def __init__(self):
        self.frames = []

    def receive(self, frame):
        self.frames.append(Ether(frame))
        return True


def _take(loop, wire, layer, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in wire.frames:
            if p.haslayer(layer) and pred(p):
                return p
        loop.poll(0.05)
    raise AssertionError(f"no {layer.__name__} answer; got {wire.frames!r}")


def test_tap_frames_reach_the_host_kernel_and_back(tmp_path):
    if not tap_available():
        pytest.skip(tools.NO_TAP)
    opts = NetOptions()
    name = f"pst{os.getpid() % 100000}"
    tap = opts.netdev(f"tap,id=t0,ifname={name},script={ifup_script(tmp_path)},downscript=no")
    wire = Wire()
    tap.attach(wire)
    loop = MainLoop()
    tap.open(loop)
    try:
        assert tap.ifname == name
        assert tap.info() == f"t0: index=0,type=tap,ifname={name},script={tmp_path}/ifup," \
                             "downscript=no"
        tap.send(bytes(Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff") /
                       ARP(op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst=HOST_IP)))
        reply = _take(loop, wire, ARP, lambda p: p[ARP].op == 2)
        host_mac = reply[ARP].hwsrc
        assert reply[ARP].psrc == HOST_IP and reply[ARP].pdst == GUEST_IP
        tap.send(bytes(Ether(src=GUEST_MAC, dst=host_mac) /
                       IP(src=GUEST_IP, dst=HOST_IP) / ICMP(type=8, id=7, seq=1) / b"tap!"))
        echo = _take(loop, wire, ICMP, lambda p: p[ICMP].type == 0)
        assert echo[IP].src == HOST_IP and echo[ICMP].id == 7 and bytes(echo[ICMP].payload) == b"tap!"
    finally:
        tap.close()
    assert not os.path.exists(f"/sys/class/net/{name}")      # not persistent: gone


@pytest.mark.parametrize("text,msg", [
    ("tap,id=t,script=/nonexistent/qemu-ifup,ifname=pstbad0",
     "network script /nonexistent/qemu-ifup failed with status 256"),
    ("tap,id=t,helper=/nonexistent/helper", "bridge helper failed: /nonexistent/helper: "
                                             "No such file or directory"),
    ("tap,id=t,helper=/bin/false", "bridge helper failed: /bin/false exited with status 1"),
    ("tap,id=t,helper=/bin/true", "bridge helper failed: /bin/true sent no descriptor"),
    ("bridge,id=t,helper=/bin/false --quiet",
     "bridge helper failed: /bin/false --quiet exited with status 1"),
    ("tap,id=t,queues=4", "Parameter 'queues' is not supported with tap"),
])
def test_tap_errors_are_qemus_words(text, msg):
    if not tap_available():
        pytest.skip(tools.NO_TAP)
    with pytest.raises(ValueError) as e:
        NetOptions().netdev(text)
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)


HELPER = """#!/usr/bin/env python3
# a bridge helper for the test: the tap named by $PST_TAP_NAME, addressed $PST_TAP_ADDR/24
import array, fcntl, os, socket, struct, subprocess, sys
args = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "") for a in sys.argv[1:])
fd = os.open("/dev/net/tun", os.O_RDWR)
flags = 0x0002 | 0x1000 | (0x4000 if "use-vnet" in args else 0)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", os.environ["PST_TAP_NAME"].encode(), flags))
name = os.environ["PST_TAP_NAME"]
subprocess.run(["ip", "addr", "add", os.environ["PST_TAP_ADDR"] + "/24", "dev", name], check=True)
subprocess.run(["ip", "link", "set", name, "up"], check=True)
with open(os.environ["PST_TAP_LOG"], "w") as log:
    log.write(" ".join(sys.argv[1:]))
sock = socket.socket(fileno=int(args["fd"]))
sock.sendmsg([b"\\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
"""


def test_tap_from_a_bridge_helper(tmp_path, monkeypatch):
    if not tap_available():
        pytest.skip(tools.NO_TAP)
    helper = tmp_path / "helper"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    name = f"psh{os.getpid() % 100000}"
    monkeypatch.setenv("PST_TAP_NAME", name)
    monkeypatch.setenv("PST_TAP_ADDR", HOST_IP)
    monkeypatch.setenv("PST_TAP_LOG", str(tmp_path / "args"))
    monkeypatch.setenv("PATH", os.path.dirname(tools.program("ip")) + os.pathsep + os.environ["PATH"])
    tap = NetOptions().netdev(f"bridge,id=b0,br=brtest,helper={helper}")
    wire = Wire()
    tap.attach(wire)
    loop = MainLoop()
    tap.open(loop)
    try:
        assert (tap.ifname, tap.vnet_hdr) == (name, 10)     # IFF_VNET_HDR: its header
        assert (tmp_path / "args").read_text().startswith("--use-vnet --fd=")
        assert (tmp_path / "args").read_text().endswith(" --br=brtest")
        ours = tap.info()
        assert ours == f"b0: index=0,type=tap,helper={helper},br=brtest"
        tap.send(bytes(Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff") /
                       ARP(op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst=HOST_IP)))
        reply = _take(loop, wire, ARP, lambda p: p[ARP].op == 2)
        assert reply[ARP].psrc == HOST_IP and reply[ARP].pdst == GUEST_IP
        tap.send(bytes(Ether(src=GUEST_MAC, dst=reply[ARP].hwsrc) /
                       IP(src=GUEST_IP, dst=HOST_IP) / ICMP(type=8, id=9, seq=1) / b"helper!"))
        echo = _take(loop, wire, ICMP, lambda p: p[ICMP].type == 0)
        assert echo[ICMP].id == 9 and bytes(echo[ICMP].payload) == b"helper!"
    finally:
        tap.close()
    assert not os.path.exists(f"/sys/class/net/{name}")
    # QEMU takes the same helper and shows the same netdev
    out = subprocess.run([tools.program("qemu-system-arm"), "-M", "vexpress-a9", "-S",
                          "-display", "none", "-serial", "none", "-monitor", "stdio",
                          "-netdev", f"bridge,id=b0,br=brtest,helper={helper}"],
                         input="info network\nquit\n", capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, QEMU_AUDIO_DRV="none")).stdout
    assert ours in out.replace("\r", ""), out


def _pseudo_sum(src: str, dst: str, length: int) -> int:
    """The folded (not inverted) sum of the UDP pseudo-header: what a driver leaves in
    the checksum field of a frame with NEEDS_CSUM."""
    import socket as s
    words = s.inet_aton(src) + s.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    total = sum(struct.unpack("!6H", words))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _virtio_on_helper_tap(tmp_path, monkeypatch, name, features):
    """A virtio-net-device on virtio-mmio, its backend a vnet-hdr tap from HELPER;
    (tap, mem, rx driver, tx driver, accepted features)."""
    from virtio_driver import RAM_BASE, Driver, device_on_mmio
    from pysystem.devices import virtio_net  # noqa: F401
    helper = tmp_path / "helper"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    for key, value in (("PST_TAP_NAME", name), ("PST_TAP_ADDR", HOST_IP),
                       ("PST_TAP_LOG", str(tmp_path / "args"))):
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", os.path.dirname(tools.program("ip")) + os.pathsep + os.environ["PATH"])
    tap = NetOptions().netdev(f"tap,id=t0,helper={helper}")
    _dev, _transport, mem = device_on_mmio("virtio-net-device", netdev=tap, mac=GUEST_MAC)
    rx = Driver(mem, queue_area=RAM_BASE + 0x10000, queue=0)
    tx = Driver(mem, queue_area=RAM_BASE + 0x20000, queue=1)
    accepted = rx.probe(features)
    tx.setup_queue()
    return tap, mem, rx, tx, accepted


def test_virtio_net_checksum_offload_through_a_vnet_hdr_tap(tmp_path, monkeypatch):
    """A driver that negotiates CSUM sends UDP with NEEDS_CSUM and only the pseudo-header
    sum in place: the host kernel completes it (a socket on the host gets the datagram);
    the same frame without the flag is dropped there for its bad checksum."""
    if not tap_available():
        pytest.skip(tools.NO_TAP)
    from virtio_driver import RAM_BASE
    name = f"psc{os.getpid() % 100000}"
    tap, mem, rx, tx, accepted = _virtio_on_helper_tap(tmp_path, monkeypatch, name, 0xFFFFFFFF)
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        host.bind((HOST_IP, 0))
        host.settimeout(2)
        port = host.getsockname()[1]
        assert accepted & 3 == 3                # CSUM and GUEST_CSUM offered and taken
        host_mac = open(f"/sys/class/net/{name}/address").read().strip()
        for n, flags in enumerate((1, 0, 1)):
            payload = b"offloaded %d" % n
            frame = bytearray(bytes(Ether(src=GUEST_MAC, dst=host_mac) /
                                    IP(src=GUEST_IP, dst=HOST_IP) /
                                    UDP(sport=4000 + n, dport=port, chksum=0x1234) / payload))
            struct.pack_into("!H", frame, 40, _pseudo_sum(GUEST_IP, HOST_IP, 8 + len(payload)))
            header = struct.pack("<BBHHHHH", flags, 0, 0, 0, 34, 6, 0)   # csum at 34+6
            mem.write_bytes(RAM_BASE + 0x180000, header + bytes(frame))
            tx.chain([(RAM_BASE + 0x180000, len(header) + len(frame), False)], first=n)
            tx.submit(n)
            try:
                got = host.recvfrom(100)
            except socket.timeout:
                got = None
            if flags:
                assert got is not None and got[0] == payload and got[1][1] == 4000 + n, got
            else:
                assert got is None, got             # the pseudo sum alone is a bad checksum
    finally:
        host.close()
        tap.close()


def test_checksum_completed_as_scapy_computes_it():
    from pysystem.net.packet import complete_checksum
    for payload in (b"", b"x", b"odd length!", bytes(range(200))):
        want = bytes(Ether() / IP(src=GUEST_IP, dst=HOST_IP) / UDP(sport=1, dport=2) / payload)
        partial = bytearray(want)
        struct.pack_into("!H", partial, 40, _pseudo_sum(GUEST_IP, HOST_IP, 8 + len(payload)))
        assert complete_checksum(bytes(partial), 34, 6) == want


@pytest.mark.parametrize("guest_csum", [True, False])
def test_partial_checksums_from_the_host_reach_the_driver(tmp_path, monkeypatch, guest_csum):
    """The host kernel sends UDP through a tap with TUN_F_CSUM and leaves the checksum
    partial (NEEDS_CSUM): a driver with GUEST_CSUM gets the frame so, the checksum's
    place in its header; one without gets it completed (scapy checks it)."""
    if not tap_available():
        pytest.skip(tools.NO_TAP)
    from virtio_driver import RAM_BASE
    name = f"psg{os.getpid() % 10000}{int(guest_csum)}"
    features = 0xFFFFFFFF if guest_csum else 0xFFFFFFFF & ~2
    tap, mem, rx, tx, accepted = _virtio_on_helper_tap(tmp_path, monkeypatch, name, features)
    assert bool(accepted & 2) == guest_csum
    loop = MainLoop()
    tap.open(loop)
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        subprocess.run([tools.program("ip"), "neigh", "replace", GUEST_IP, "lladdr", GUEST_MAC,
                        "dev", name, "nud", "permanent"], check=True)
        for k in range(8):
            rx.chain([(RAM_BASE + 0x100000 + 0x1000 * k, 2048, True)], first=k)
            rx.submit(k, kick=k == 7)
        host.bind((HOST_IP, 0))
        host.sendto(b"from the host kernel", (GUEST_IP, 5555))
        found = None
        deadline = time.monotonic() + 10
        while found is None and time.monotonic() < deadline:
            loop.poll(0.05)
            for k in range(rx.used_idx()):
                head, written = rx.used_elem(k)
                data = mem.read_bytes(RAM_BASE + 0x100000 + 0x1000 * head, written)
                p = Ether(data[12:])
                if p.haslayer(UDP) and p[UDP].dport == 5555:
                    found = data
        assert found is not None, "the datagram did not reach the driver"
        flags, _, _, _, start, offset = struct.unpack_from("<BBHHHH", found)
        frame = found[12:]
        p = Ether(frame)
        del p[UDP].chksum
        correct = bytes(p)                                   # scapy computes it again
        if guest_csum:
            assert (flags, start, offset) == (1, 34, 6)      # NEEDS_CSUM, UDP checksum
            assert frame != correct                          # left partial by the host
            from pysystem.net.packet import complete_checksum
            assert complete_checksum(frame, start, offset) == correct
        else:
            assert flags == 0 and frame == correct
    finally:
        host.close()
        tap.close()
