"""What the network guest tests share: the guest's udhcpc hook and helper scripts, the
HMP monitor on a TCP socket, the host's HTTP and DNS servers, the checks of a NIC's
carrier, of a name resolved and a file fetched through it, and of a virtio-net
interface (DHCP lease, download, ``set_link``), and the malformed-frame flood (a guest
program built by the cross compiler, FLOOD_C) with its check.

Not a test module (no test_ prefix); tests import it.
"""
from __future__ import annotations

import http.server
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

from guest_session import GuestSession
from tools import program

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
echo "VFEATURES $(cat /sys/class/net/$vif/device/features)"
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

# $1 interface, $2 frames, $3 seed, $4 the host's HTTP port: the flood, then the
# gateway's ICMP echo and a download through the same interface
FLOOD_SCRIPT = """#!/bin/sh
/flood $1 $2 $3
ping -c 1 -W 5 10.0.2.2 >/dev/null && echo "AFTER-FLOOD-PING-OK"
wget -q -O /tmp/f.bin "http://10.0.2.2:$4/file.bin" && echo "AFTER-FLOOD-SUM $(sha256sum /tmp/f.bin)"
rm -f /tmp/f.bin
"""

GUEST_FILES = {"/udhcpc.script": UDHCPC_SCRIPT, "/virtio.sh": VIRTIO_SCRIPT,
               "/carrier.sh": CARRIER_SCRIPT, "/iface.sh": IFACE_SCRIPT,
               "/dnswget.sh": DNS_WGET_SCRIPT, "/flood.sh": FLOOD_SCRIPT}

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


# A guest program: FRAMES malformed frames out of interface IFACE through an AF_PACKET
# socket, from a seeded generator (random bytes and lengths; ARP with broken fields;
# IPv6, VLAN and unknown ethertypes; ICMP, UDP and TCP with wrong lengths, checksums,
# data offsets and flags; IPv4 fragments; IPv4 headers with a bad version, IHL, total
# length or protocol; truncated and padded frames).  What could reach a host service
# is aimed where nothing answers: UDP to ports 9/53/67/68 of the virtual hosts, SYNs
# only to TEST-NET-1 (192.0.2.1) port 9.  Prints "FLOOD IFACE sent N refused M".
FLOOD_C = r"""#include <arpa/inet.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t state;
static uint32_t rnd(void) { state = state * 1103515245u + 12345u; return state >> 8; }
static unsigned pick(unsigned n) { return rnd() % n; }

static uint16_t csum(const uint8_t *p, int n) {
    uint32_t s = 0;
    for (; n > 1; n -= 2, p += 2) s += p[0] << 8 | p[1];
    if (n) s += p[0] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return ~s;
}

static void put16(uint8_t *p, unsigned v) { p[0] = v >> 8; p[1] = v; }

static const uint8_t GATEWAY_MAC[6] = {0x52, 0x55, 10, 0, 2, 2};
static const uint8_t TARGETS[][4] = {{10, 0, 2, 2}, {10, 0, 2, 3}, {192, 0, 2, 1}, {10, 0, 2, 15}};

/* one frame of kind k into f; returns its length */
static int frame(uint8_t *f, const uint8_t *mac, int k) {
    int len, ihl, iplen, l4;
    uint8_t *ip = f + 14, *t;
    memcpy(f, pick(4) ? GATEWAY_MAC : (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 6);
    memcpy(f + 6, mac, 6);
    if (k == 0) {                                   /* random bytes, random length */
        len = pick(1515);
        for (int i = 12; i < len; i++) f[i] = rnd();
        return len;
    }
    if (k == 1) {                                   /* ARP with broken fields */
        put16(f + 12, 0x0806);
        for (int i = 14; i < 42; i++) f[i] = rnd();
        if (pick(2)) { put16(f + 14, 1); put16(f + 16, 0x0800); f[18] = 6; f[19] = 4; }
        memcpy(f + 38, TARGETS[0], pick(2) ? 4 : 0);
        return 14 + pick(29);
    }
    if (k == 2) {                                   /* other ethertypes: IPv6, VLAN, junk */
        static const unsigned types[] = {0x86dd, 0x8100, 0x88cc, 0x0000, 0xffff, 0x0801};
        put16(f + 12, types[pick(6)]);
        len = 14 + pick(200);
        for (int i = 14; i < len; i++) f[i] = rnd();
        return len;
    }
    /* IPv4: 3 ICMP, 4 UDP, 5 TCP, 6 fragments, 7 bad IP header */
    put16(f + 12, 0x0800);
    ihl = 5;
    static const uint8_t protos[] = {1, 17, 6};
    int proto = k == 6 || k == 7 ? protos[pick(3)] : protos[k - 3];
    l4 = pick(4) ? 8 + pick(80) : pick(8);
    if (proto == 6 && l4 >= 8 && pick(2)) l4 = 20 + pick(60);
    iplen = ihl * 4 + l4;
    ip[0] = 0x45; ip[1] = 0;
    put16(ip + 2, iplen);
    put16(ip + 4, rnd());
    put16(ip + 6, k == 6 ? (pick(2) ? 0x2000 : 0) | (pick(2) ? pick(0x2000) : 0) : 0x4000);
    ip[8] = 64; ip[9] = proto;
    put16(ip + 10, 0);
    memcpy(ip + 12, "\x0a\x00\x02\x0f", 4);
    memcpy(ip + 16, TARGETS[pick(4)], 4);
    t = ip + ihl * 4;
    for (int i = 0; i < l4; i++) t[i] = rnd();
    if (proto == 17 && l4 >= 8) {                   /* ports that reach nothing on the host */
        static const unsigned dports[] = {9, 53, 67, 68};
        put16(t + 2, dports[pick(4)]);
        put16(t + 4, pick(4) ? l4 : rnd());          /* UDP length: right or anything */
        put16(t + 6, pick(2) ? 0 : rnd());
        if (ip[16] == 192) put16(t + 2, 9);
    }
    if (proto == 6 && l4 >= 20) {
        t[12] = (pick(4) ? 5 + pick(11) : pick(16)) << 4;  /* data offset, sometimes < 5 */
        t[13] = rnd() & (pick(2) ? 0x3f : 0xed);    /* flags; half of them without SYN */
        if (t[13] & 0x02) { memcpy(ip + 16, TARGETS[2], 4); put16(t + 2, 9); }
    }
    if (proto == 1 && l4 >= 8 && pick(2)) { t[0] = 8; t[1] = 0; put16(t + 2, 0); put16(t + 2, csum(t, l4)); }
    if (k == 7) {                                   /* break the IP header itself */
        switch (pick(6)) {
        case 0: ip[0] = 0x40 | pick(5); break;       /* IHL < 5 */
        case 1: ip[0] = 0x40 | (5 + pick(11)); break; /* IHL beyond the data, maybe */
        case 2: ip[0] = pick(256); break;            /* any version */
        case 3: put16(ip + 2, rnd()); break;         /* total length: anything */
        case 4: put16(ip + 2, pick(20)); break;      /* total length below the header */
        case 5: ip[9] = pick(256); break;            /* any protocol */
        }
    }
    put16(ip + 10, pick(8) ? csum(ip, 20) : rnd()); /* header checksum: mostly right */
    len = 14 + iplen;
    if (pick(4) == 0) len = 14 + pick(iplen + 1);   /* truncated */
    else if (pick(4) == 0) { int more = pick(40); for (int i = 0; i < more; i++) f[len + i] = rnd(); len += more; }
    return len > 1514 ? 1514 : len;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: flood IFACE FRAMES SEED\n"); return 2; }
    int s = socket(AF_PACKET, SOCK_RAW, htons(0x0003));
    if (s < 0) { perror("socket"); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) { perror("SIOCGIFINDEX"); return 1; }
    int index = ifr.ifr_ifindex;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) { perror("SIOCGIFHWADDR"); return 1; }
    uint8_t mac[6];
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = index;
    to.sll_halen = 6;
    long frames = atol(argv[2]), sent = 0, refused = 0;
    state = (uint32_t)atol(argv[3]);
    static uint8_t f[2048];
    for (long n = 0; n < frames; n++) {
        int len = frame(f, mac, pick(8));
        memcpy(to.sll_addr, f, 6);
        if (sendto(s, f, len, 0, (struct sockaddr *)&to, sizeof to) == len) sent++;
        else refused++;
    }
    printf("FLOOD %s sent %ld refused %ld\n", argv[1], sent, refused);
    return 0;
}
"""

def build_flood(arch: str, folder) -> bytes:
    """FLOOD_C built static by the cross compiler for ``arch`` ("arm", "mipsel")."""
    cc = program({"arm": "arm-linux-gnueabihf-gcc", "mipsel": "mipsel-linux-gnu-gcc"}[arch])
    src, out = Path(folder) / "flood.c", Path(folder) / f"flood-{arch}"
    src.write_text(FLOOD_C)
    subprocess.run([cc, "-static", "-O2", "-Wall", "-Werror", "-o", str(out), str(src)],
                   check=True, capture_output=True)
    return out.read_bytes()


def flood(s: GuestSession, name: str, frames: int, seed: int, http_port: int,
          want: str) -> str:
    """Run the flood out of interface ``name``; then the gateway must answer a ping
    and a download through it must have the SHA-256 ``want``.  Returns the flood's
    line with the host seconds it took."""
    started = time.monotonic()
    at = s.send(f"sh /flood.sh {name} {frames} {seed} {http_port}")
    line = s.expect(r"FLOOD (\S+) sent (\d+) refused (\d+)\r?\n", 1800, at)
    assert line.group(1).decode() == name and int(line.group(2)) > frames // 2, line.group(0)
    took = time.monotonic() - started
    ping = s.expect(r"AFTER-FLOOD-PING-OK", 300, line.end())
    got = s.expect(r"AFTER-FLOOD-SUM ([0-9a-f]{64})", 600, ping.end())
    assert got.group(1).decode() == want
    s.expect(r"/ # ", 120, got.end())
    return f"{line.group(0).decode().strip()} in {took:.1f} s host time"


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
    features = re.search(r"VFEATURES ([01]+)", out)       # bit 0 first, as sysfs has them
    assert features and features.group(1)[29] == "1", out  # VIRTIO_RING_F_EVENT_IDX in use
    assert "LEASE 10.0.2.15 router 10.0.2.2 dns 10.0.2.3" in out, out
    assert "VWGET-OK" in out and f"VSUM {want}" in out, out
    link_drop(s, mon, netdev, m.group(1))   # the STATUS bit and the config interrupt
    return m.group(1)
