"""End-to-end: Debian's armmp kernel on -M vexpress-a9 with ``-nic user`` and a
``-device virtio-net-device`` on a second user network (tests/test_net_guest.py has
DNS, guestfwd, 10 MiB transfers and machines joined by -netdev socket/tap).

One boot (CI cost): the guest's smsc911x driver drives the LAN9118 model, busybox
``udhcpc`` gets 10.0.2.15 from the user network's DHCP server, ``ping`` reaches the
gateway, ``wget`` fetches a file from an HTTP server this test runs on the host's
127.0.0.1 (through 10.0.2.2) and the guest prints its SHA-256; then busybox
``httpd`` in the guest serves the file back through ``hostfwd`` and the test
fetches it from 127.0.0.1 with urllib: both checksums must equal the original.
Then ``set_link`` through the monitor drops and restores the LAN9118's carrier (the
guest's phylib polls the PHY's basic status), the LAN9118 goes down, and the same
DHCP lease and download run again through virtio_net over virtio-mmio; ``set_link``
on that network flips the carrier through the STATUS bit and the configuration
interrupt, and ``info qtree`` shows the device on its transport.

Each NIC also takes a flood: a static guest program built here by the cross compiler
(net_guest_tools.FLOOD_C) sends malformed frames (random lengths and bytes, broken
ARP, IPv4, ICMP, UDP and TCP headers, fragments) out of it through an AF_PACKET
socket; afterwards the gateway answers a ping and a download through that NIC has
the right checksum, the emulator printed no traceback, and the user network logged
the frames it dropped under ``-d guest_errors``.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import time
import urllib.request

import pytest

from guest_session import GuestSession
from net_guest_tools import (GUEST_FILES, NET_INIT_HEAD, Monitor, build_flood, flood, free_port,
                             iface, link_drop, serve, virtio_net_checks)
from tools import guest_images

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
SIZE = 1 << 20
FLOOD_FRAMES = int(os.environ.get("PYSYSTEM_FLOOD_FRAMES", "3000"))   # per NIC

NET_INIT = NET_INIT_HEAD + """start=$(cat /proc/uptime)
wget -q -O /www/file.bin "http://10.0.2.2:$httpport/file.bin" && echo "WGET-OK"
echo "UPTIME $start $(cat /proc/uptime)"
echo "SUM $(sha256sum /www/file.bin)"
httpd -p 8080 -h /www
echo "HTTPD-READY"
setsid cttyhack sh
poweroff -f
"""


def test_virtio_net_and_set_link_on_vexpress(tmp_path):
    from pysystem.images import build_initramfs
    g = guest_images("arm")
    body = random.Random(25).getrandbits(SIZE * 8).to_bytes(SIZE, "little")
    want = hashlib.sha256(body).hexdigest()
    www = tmp_path / "www"
    www.mkdir()
    (www / "file.bin").write_bytes(body)
    server = serve(str(www))
    initrd = build_initramfs("arm", NET_INIT, modules=("smsc911x", "virtio_mmio", "virtio_net"),
                             extra_files=dict(GUEST_FILES,
                                              **{"/flood": (build_flood("arm", tmp_path), 0o755)}),
                             out=tmp_path / "initrd.cpio.gz")
    fwd_port, mon_port = free_port(), free_port()
    args = ["-M", "vexpress-a9", "-m", "256M", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
            "-initrd", str(initrd), "-nographic", "-rtc", "base=2026-01-01T00:00:00",
            "-append", f"console=ttyAMA0 rdinit=/init httpport={server.server_address[1]}",
            "-nic", f"user,id=n0,hostfwd=tcp:127.0.0.1:{fwd_port}-:8080",
            "-netdev", "user,id=n1", "-device", "virtio-net-device,netdev=n1",
            "-monitor", f"tcp:127.0.0.1:{mon_port},server=on,wait=off",
            "-d", "net,guest_errors", "-D", str(tmp_path / "net.log")]
    s = GuestSession("arm", args, log_path=str(tmp_path / "console.log"))
    try:
        # each pattern ends at the line's end: the console arrives a few bytes at a time,
        # and "dns (\S+)" alone matched "dns 1" of "dns 10.0.2.3" once
        lease = s.expect(r"LEASE (\S+) router (\S+) dns (\S+)\r?\n", BOOT_TIMEOUT)
        assert lease.groups() == (b"10.0.2.15", b"10.0.2.2", b"10.0.2.3")
        s.expect(r"PING-OK", 300)
        s.expect(r"WGET-OK", 600)
        up = s.expect(r"UPTIME (\S+) \S+ (\S+) \S+\r?\n", 60)   # two /proc/uptime
        got = s.expect(r"SUM ([0-9a-f]{64})", 60).group(1).decode()
        assert got == want
        s.expect(r"HTTPD-READY", 60)
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{fwd_port}/file.bin", timeout=600) as r:
            back = r.read()
        host_seconds = time.monotonic() - started
        assert hashlib.sha256(back).hexdigest() == want
        guest_seconds = float(up.group(2)) - float(up.group(1))
        print(f"wget {SIZE} bytes: {guest_seconds:.2f} s guest time; "
              f"hostfwd fetch: {host_seconds:.2f} s host time")
        mon = Monitor(mon_port)
        try:
            s.command("", timeout=60)       # a fresh prompt after httpd's start
            smsc = iface(s, "smsc911x")
            link_drop(s, mon, "n0", smsc)                   # phylib polls the PHY
            print(flood(s, smsc, FLOOD_FRAMES, 1, server.server_address[1], want))
            vif = virtio_net_checks(s, mon, server.server_address[1], want, "n1",
                                    "52:54:00:12:34:57")    # QEMU's second default MAC
            print(flood(s, vif, FLOOD_FRAMES, 2, server.server_address[1], want))
            qtree = mon.cmd("info qtree")
            assert re.search(r"mmio 0000000010013600/0000000000000200\r?\n"
                             r" +bus: virtio-mmio-bus\.3\r?\n +type virtio-mmio-bus\r?\n"
                             r" +dev: virtio-net-device, id \"\"", qtree), qtree
        finally:
            mon.close()
        s.send("poweroff -f")
        assert s.wait(300) == 0
    finally:
        s.close()
        server.shutdown()
        server.server_close()
    assert re.search(r"smsc911x", s.text), s.text[-2000:]
    assert "Traceback" not in s.text, s.text[-3000:]
    dropped = re.findall(r"net (n[01]): dropped a frame from the guest",
                         (tmp_path / "net.log").read_text(errors="replace"))
    assert set(dropped) == {"n0", "n1"}, "the user networks logged no dropped frame"

