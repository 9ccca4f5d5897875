"""What the network guest tests share: the guest's udhcpc hook and helper scripts, the
HMP monitor on a TCP socket, the host's HTTP server, and the checks of a NIC's carrier
and of a virtio-net interface (DHCP lease, download, ``set_link``).

Not a test module (no test_ prefix); tests import it.
"""
from __future__ import annotations

import http.server
import re
import socket
import threading
import time

from guest_session import GuestSession

# the start of the network guests' init: mounts, modules, a DHCP lease on eth0, a ping of
# the gateway (each test's init goes on from there)
NET_INIT_HEAD = """#!/bin/sh
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
"""

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ifconfig "$interface" "$ip" netmask "$subnet" up
    route add default gw "$router"
    echo "nameserver $dns" > /etc/resolv.conf
    echo "LEASE $ip router $router dns $dns";;
esac
"""

# $1: the host's HTTP port.  Leave only the virtio-net interface up and use it.
VIRTIO_SCRIPT = """#!/bin/sh
for d in /sys/class/net/eth*; do
  case "$(readlink $d/device/driver)" in
    *virtio_net) vif=${d##*/};;
    *) ifconfig ${d##*/} down;;
  esac
done
echo "VIF $vif $(cat /sys/class/net/$vif/address)"
ifconfig $vif up
udhcpc -i $vif -s /udhcpc.script -q -n -t 5 -T 2
wget -q -O /tmp/v.bin "http://10.0.2.2:$1/file.bin" && echo "VWGET-OK"
echo "VSUM $(sha256sum /tmp/v.bin)"
"""

# print the carrier of interface $1 once it is $2, or after 10 tries a second apart
CARRIER_SCRIPT = """#!/bin/sh
for i in 1 2 3 4 5 6 7 8 9 10; do
  c=$(cat /sys/class/net/$1/carrier)
  [ "$c" = "$2" ] && break
  sleep 1
done
echo "CARRIER $1 $c"
"""

# the interface a driver ($1) drives
IFACE_SCRIPT = """#!/bin/sh
for d in /sys/class/net/eth*; do
  case "$(readlink $d/device/driver)" in *"/$1") echo "IFACE ${d##*/}";; esac
done
"""

# $1: an interface, $2: the host's HTTP port.  A DHCP lease on that interface alone, then
# DNS_NAME resolved through the forwarder (nslookup, ping) and big.bin fetched by that
# name, timed in guest seconds (two /proc/uptime), and its SHA-256
DNS_WGET_SCRIPT = """#!/bin/sh
udhcpc -i $1 -s /udhcpc.script -q -n -t 5 -T 2
echo "NS-BEGIN"
nslookup files.pysystem.test
echo "NS-END"
if ping -c 1 -W 5 files.pysystem.test >/dev/null; then echo "PING-NAME-OK"; else echo "PING-NAME-FAILED"; fi
start=$(cat /proc/uptime)
wget -q -O /tmp/big.bin "http://files.pysystem.test:$2/big.bin" && echo "BIGWGET-OK"
echo "UPTIME $start $(cat /proc/uptime)"
echo "BIGSUM $(sha256sum /tmp/big.bin)"
rm -f /tmp/big.bin
"""

GUEST_FILES = {"/udhcpc.script": UDHCPC_SCRIPT, "/virtio.sh": VIRTIO_SCRIPT,
               "/carrier.sh": CARRIER_SCRIPT, "/iface.sh": IFACE_SCRIPT,
               "/dnswget.sh": DNS_WGET_SCRIPT}

DNS_NAME = "files.pysystem.test"


class DNSServer:
    """A DNS server on 127.0.0.1 (scapy builds the answers): ``DNS_NAME`` is 10.0.2.2 (so the
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
            if name != DNS_NAME:
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


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve(directory: str) -> http.server.ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 for ``directory`` (``shutdown()`` and
    ``server_close()`` it)."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=directory, **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Monitor:
    """The HMP monitor on a TCP socket (``-monitor tcp:127.0.0.1:PORT,server=on,wait=off``)."""

    def __init__(self, port: int, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.buf = b""
        self._until(b"(qemu) ")

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"monitor closed; got {self.buf!r}")
            self.buf += chunk
        out, _, self.buf = self.buf.partition(marker)
        return out

    def cmd(self, line: str) -> str:
        """Run ``line``; what the monitor printed after echoing it."""
        self.sock.sendall(line.encode() + b"\n")
        out = self._until(b"(qemu) ").decode("utf-8", "replace")
        return out.split("\n", 1)[1] if out.startswith(line) and "\n" in out else out

    def close(self) -> None:
        self.sock.close()


def iface(s: GuestSession, driver: str) -> str:
    """The guest's interface that ``driver`` drives."""
    out = s.command(f"sh /iface.sh {driver}", timeout=120)
    m = re.search(r"IFACE (eth\d+)", out)
    assert m, out
    return m.group(1)


def carrier(s: GuestSession, name: str, want: str) -> None:
    out = s.command(f"sh /carrier.sh {name} {want}", timeout=300)
    assert f"CARRIER {name} {want}" in out, out


def link_drop(s: GuestSession, mon: Monitor, netdev: str, name: str) -> None:
    """``set_link netdev off`` then ``on``: the guest's carrier of ``name`` follows."""
    carrier(s, name, "1")
    mon.cmd(f"set_link {netdev} off")
    carrier(s, name, "0")
    mon.cmd(f"set_link {netdev} on")
    carrier(s, name, "1")


def dns_and_wget(s: GuestSession, dns: DNSServer, name: str, http_port: int, want: str,
                 size: int) -> str:
    """Through interface ``name``: a DHCP lease, DNS_NAME resolved by the user network's
    forwarder against ``dns`` (nslookup and ping), and big.bin (``size`` bytes) fetched
    by that name with busybox wget, its SHA-256 ``want``; returns the throughput line."""
    started = time.monotonic()
    at = s.send(f"sh /dnswget.sh {name} {http_port}")
    lease = s.expect(r"LEASE (\S+) router (\S+) dns (\S+)\r?\n", 300, at)
    assert lease.groups() == (b"10.0.2.15", b"10.0.2.2", b"10.0.2.3")
    ns = s.expect(r"(?s)NS-BEGIN(.*?)NS-END", 300, lease.end())
    text = ns.group(1).decode()
    assert re.search(DNS_NAME.replace(".", r"\.") + r"\s+Address:\s*10\.0\.2\.2\b", text), text
    assert (DNS_NAME, 1) in dns.asked
    at = s.expect(r"PING-NAME-OK", 120, ns.end()).end()
    wget_started = time.monotonic()
    at = s.expect(r"BIGWGET-OK", 1800, at).end()
    host_seconds = time.monotonic() - wget_started
    up = s.expect(r"UPTIME (\S+) \S+ (\S+) \S+\r?\n", 60, at)
    got = s.expect(r"BIGSUM ([0-9a-f]{64})", 120, up.end())
    assert got.group(1).decode() == want
    s.expect(r"/ # ", 120, got.end())
    guest_seconds = float(up.group(2)) - float(up.group(1))
    mib = size / (1 << 20)
    return (f"{name}: wget {mib:.0f} MiB by name: {guest_seconds:.2f} s guest time, "
            f"{host_seconds:.1f} s host time ({mib / host_seconds:.2f} MiB/s); "
            f"lease to checksum {time.monotonic() - started:.1f} s")


def virtio_net_checks(s: GuestSession, mon: Monitor, http_port: int, want: str,
                      netdev: str, mac: str) -> str:
    """Through the guest's virtio-net interface alone: the DHCP lease, a download whose
    SHA-256 must be ``want``, and its carrier following ``set_link``; returns its name."""
    out = s.command(f"sh /virtio.sh {http_port}", timeout=900)
    m = re.search(r"VIF (eth\d+) (\S+)", out)
    assert m and m.group(2) == mac, out
    assert "LEASE 10.0.2.15 router 10.0.2.2 dns 10.0.2.3" in out, out
    assert "VWGET-OK" in out and f"VSUM {want}" in out, out
    link_drop(s, mon, netdev, m.group(1))   # the STATUS bit and the config interrupt
    return m.group(1)
