"""End-to-end: Debian's armmp kernel on -M vexpress-a9 with ``-nic user``.

One boot (CI cost): the guest's smsc911x driver drives the LAN9118 model, busybox
``udhcpc`` gets 10.0.2.15 from the user network's DHCP server, ``ping`` reaches the
gateway, busybox ``nslookup`` and ``ping NAME`` resolve a name through the DNS
forwarder (10.0.2.3) against a DNS server this test runs on 127.0.0.1 (named by
PYSYSTEM_DNS_SERVER), ``nc`` reaches a ``guestfwd=...-cmd:`` command, ``wget``
fetches a 10 MiB file from an HTTP server this test runs on the host's 127.0.0.1
(through 10.0.2.2) and the guest prints its SHA-256; then busybox ``httpd`` in the
guest serves the file back through ``hostfwd`` and the test fetches it from
127.0.0.1 with urllib: both checksums must equal the original.  Both transfers'
throughputs are printed (bench/RESULTS.md records them).
"""
from __future__ import annotations

import hashlib
import http.server
import os
import random
import re
import socket
import threading
import time
import urllib.request

import pytest

from guest_session import GuestSession
from tools import guest_images, module

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
SIZE = 10 << 20
NAME = "files.pysystem.test"

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ifconfig "$interface" "$ip" netmask "$subnet" up
    route add default gw "$router"
    echo "nameserver $dns" > /etc/resolv.conf
    echo "LEASE $ip router $router dns $dns";;
esac
"""

NET_INIT = """#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /etc /tmp /www
/bin/load-modules
ifconfig lo 127.0.0.1 up
ifconfig eth0 up
udhcpc -i eth0 -s /udhcpc.script -q -n -t 5 -T 2
ping -c 1 -W 5 10.0.2.2 >/dev/null && echo "PING-OK"
echo "NS-BEGIN"
nslookup files.pysystem.test
echo "NS-END"
if ping -c 1 -W 5 files.pysystem.test >/dev/null; then echo "PING-NAME-OK"; else echo "PING-NAME-FAILED"; fi
echo "GFWD <$(echo hello guestfwd | nc 10.0.2.100 1234)>"
echo "WGET-START"
start=$(cat /proc/uptime)
wget -q -O /www/file.bin "http://10.0.2.2:$httpport/file.bin" && echo "WGET-OK"
echo "UPTIME $start $(cat /proc/uptime)"
echo "SUM $(sha256sum /www/file.bin)"
httpd -p 8080 -h /www
echo "HTTPD-READY"
setsid cttyhack sh
poweroff -f
"""


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class DNSServer:
    """A DNS server on 127.0.0.1 (scapy builds the answers): ``NAME`` is 10.0.2.2 (so the
    name reaches the test's HTTP server), every other name does not exist."""

    def __init__(self):
        from scapy.layers.dns import DNS, DNSRR
        self.DNS, self.DNSRR = DNS, DNSRR
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.asked = []
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            q = self.DNS(data)
            name, qtype = q.qd[0].qname.decode().rstrip("."), q.qd[0].qtype
            self.asked.append((name, qtype))
            if name != NAME:
                reply = self.DNS(id=q.id, qr=1, aa=1, rd=q.rd, ra=1, rcode=3, qd=q.qd)
            elif qtype == 1:
                reply = self.DNS(id=q.id, qr=1, aa=1, rd=q.rd, ra=1, qd=q.qd,
                                 an=self.DNSRR(rrname=q.qd[0].qname, type="A", ttl=60,
                                               rdata="10.0.2.2"))
            else:
                reply = self.DNS(id=q.id, qr=1, aa=1, rd=q.rd, ra=1, qd=q.qd)
            self.sock.sendto(bytes(reply), addr)

    def close(self):
        self.running = False
        self.sock.close()


def test_dhcp_dns_wget_and_hostfwd_on_vexpress(tmp_path, monkeypatch):
    module("scapy")
    from pysystem.images import build_initramfs
    g = guest_images("arm")
    body = random.Random(25).getrandbits(SIZE * 8).to_bytes(SIZE, "little")
    want = hashlib.sha256(body).hexdigest()
    www = tmp_path / "www"
    www.mkdir()
    (www / "file.bin").write_bytes(body)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dns = DNSServer()
    monkeypatch.setenv("PYSYSTEM_DNS_SERVER", f"127.0.0.1:{dns.sock.getsockname()[1]}")
    initrd = build_initramfs("arm", NET_INIT, modules=("smsc911x",),
                             extra_files={"/udhcpc.script": UDHCPC_SCRIPT},
                             out=tmp_path / "initrd.cpio.gz")
    fwd_port = _free_port()
    args = ["-M", "vexpress-a9", "-m", "256M", "-kernel", str(g.kernel), "-dtb", str(g.dtb),
            "-initrd", str(initrd), "-nographic", "-rtc", "base=2026-01-01T00:00:00",
            "-append", f"console=ttyAMA0 rdinit=/init httpport={server.server_address[1]}",
            "-nic", f"user,hostfwd=tcp:127.0.0.1:{fwd_port}-:8080,"
                    "guestfwd=tcp:10.0.2.100:1234-cmd:head -n 1 | tr a-z A-Z",
            "-d", "net,guest_errors", "-D", str(tmp_path / "net.log")]
    s = GuestSession("arm", args, log_path=str(tmp_path / "console.log"))
    try:
        # each pattern ends at the line's end: the console arrives a few bytes at a time,
        # and "dns (\S+)" alone matched "dns 1" of "dns 10.0.2.3" once
        lease = s.expect(r"LEASE (\S+) router (\S+) dns (\S+)\r?\n", BOOT_TIMEOUT)
        assert lease.groups() == (b"10.0.2.15", b"10.0.2.2", b"10.0.2.3")
        s.expect(r"PING-OK", 300)
        ns = s.expect(r"NS-BEGIN(.*?)NS-END", 300).group(1).decode()
        assert re.search(NAME.replace(".", r"\.") + r"\s+Address:\s*10\.0\.2\.2\b", ns), ns
        assert (NAME, 1) in dns.asked
        s.expect(r"PING-NAME-OK", 120)
        assert s.expect(r"GFWD <(.*)>", 120).group(1) == b"HELLO GUESTFWD"
        s.expect(r"WGET-START", 60)
        started = time.monotonic()
        s.expect(r"WGET-OK", 1800)
        wget_host_seconds = time.monotonic() - started
        up = s.expect(r"UPTIME (\S+) \S+ (\S+) \S+\r?\n", 60)   # two /proc/uptime
        got = s.expect(r"SUM ([0-9a-f]{64})", 60).group(1).decode()
        assert got == want
        s.expect(r"HTTPD-READY", 60)
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{fwd_port}/file.bin", timeout=1800) as r:
            back = r.read()
        host_seconds = time.monotonic() - started
        assert hashlib.sha256(back).hexdigest() == want
        guest_seconds = float(up.group(2)) - float(up.group(1))
        mib = SIZE / (1 << 20)
        print(f"guest wget {mib:.0f} MiB: {guest_seconds:.2f} s guest time, "
              f"{wget_host_seconds:.1f} s host time ({mib / wget_host_seconds:.2f} MiB/s); "
              f"host fetch through hostfwd: {host_seconds:.1f} s host time "
              f"({mib / host_seconds:.2f} MiB/s)")
        s.send("poweroff -f")
        assert s.wait(300) == 0
    finally:
        s.close()
        dns.close()
        server.shutdown()
        server.server_close()
    assert re.search(r"smsc911x", s.text), s.text[-2000:]
