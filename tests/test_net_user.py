"""The user-mode network (pysystem/net/user.py) driven with real frames.

The test plays the guest: frames are built and dissected with scapy (an independent
implementation of every header and checksum), fed to ``UserNet`` through a NIC
stand-in, and the far ends are real host sockets: an HTTP server on 127.0.0.1, a
UDP echo server, a DNS server, a host client of a hostfwd listener.  Host I/O is
serviced by the real main loop (``MainLoop.poll``), as in the emulator.
"""
from __future__ import annotations

import hashlib
import http.server
import os
import random
import socket
import struct
import threading
import time

import pytest

from tools import module  # noqa: E402

module("scapy")          # builds and dissects the test frames (pyproject's test extra)
from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

from pysystem import log  # noqa: E402
from pysystem.main_loop import MainLoop  # noqa: E402
from pysystem.net import UserConfig, UserNet, parse_hostfwd  # noqa: E402
from pysystem.net.hostfwd import ForwardError  # noqa: E402

GUEST_MAC = "52:54:00:12:34:56"
GUEST_IP, GW, DNS_IP = "10.0.2.15", "10.0.2.2", "10.0.2.3"


class Wire:
    """The guest's NIC as the network sees it: takes every frame (or none while
    ``full``), keeps them in order."""
    TYPE = "test-nic"
    mac = GUEST_MAC

    def __init__(self):
        self.frames = []
        self.full = False

    def can_receive(self):
        return not self.full

    def receive(self, frame):
        if self.full:
            return False
        self.frames.append(Ether(frame))
        return True


class Guest:
    def __init__(self, **kw):
        self.wire = Wire()
        self.net = UserNet("n0", **kw)
        self.net.attach(self.wire)
        self.loop = MainLoop()
        self.net.open(self.loop)

    def send(self, pkt):
        self.net.send(bytes(pkt))

    def ip(self, payload, dst=GW):
        return Ether(src=GUEST_MAC, dst="52:55:0a:00:02:02") / IP(src=GUEST_IP, dst=dst) / payload

    def take(self, layer, timeout=5.0, pred=lambda p: True):
        """The first queued frame with ``layer`` matching ``pred`` (servicing host I/O)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, p in enumerate(self.wire.frames):
                if p.haslayer(layer) and pred(p):
                    del self.wire.frames[i]
                    return p
            if time.monotonic() > deadline:
                raise AssertionError(f"no {layer.__name__} frame; got {self.wire.frames!r}")
            self.loop.poll(0.02)

    def close(self):
        self.net.close()


def checksums_ok(p) -> bool:
    """Rebuild with scapy's own checksums and compare (IP, ICMP, UDP, TCP)."""
    for layer in (IP, ICMP, UDP, TCP):
        if p.haslayer(layer):
            got = p[layer].chksum
            q = p[layer].copy()
            q.chksum = None
            if layer is not IP:
                q = IP(src=p[IP].src, dst=p[IP].dst, proto=p[IP].proto) / q
                want = IP(bytes(q))[layer].chksum
            else:
                want = IP(bytes(q)).chksum
            if got != want:
                return False
    return True


@pytest.fixture
def guest():
    g = Guest()
    yield g
    g.close()


# --- ARP, ICMP, DHCP ----------------------------------------------------------------------

def test_arp_for_gateway_and_dns(guest):
    for target in (GW, DNS_IP):
        guest.send(Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff") /
                   ARP(op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst=target))
        r = guest.take(ARP)
        assert r[ARP].op == 2 and r[ARP].psrc == target and r[ARP].pdst == GUEST_IP
        assert r[ARP].hwdst == GUEST_MAC and r[Ether].dst == GUEST_MAC
        assert r[ARP].hwsrc == "52:55:0a:00:02:0" + target[-1]      # slirp's virtual MACs
    guest.send(Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff") /
               ARP(op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst="10.0.2.99"))
    guest.loop.poll(0)
    assert not guest.wire.frames          # nobody lives there


def test_icmp_echo_to_gateway(guest):
    guest.send(guest.ip(ICMP(type=8, id=0x1234, seq=7) / Raw(b"ping-payload" * 5)))
    r = guest.take(ICMP)
    assert r[ICMP].type == 0 and r[ICMP].id == 0x1234 and r[ICMP].seq == 7
    assert bytes(r[ICMP].payload) == b"ping-payload" * 5
    assert r[IP].src == GW and r[IP].dst == GUEST_IP and checksums_ok(r)


def _dhcp(guest, kind, xid, **extra):
    opts = [("message-type", kind)] + [(k, v) for k, v in extra.items()] + ["end"]
    guest.send(Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff") /
               IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67) /
               BOOTP(chaddr=bytes.fromhex(GUEST_MAC.replace(":", "")), xid=xid) / DHCP(options=opts))
    return guest.take(DHCP)


def _options(p):
    return {o[0]: o[1:] for o in p[DHCP].options if isinstance(o, tuple)}


def test_dhcp_discover_offer_request_ack(guest):
    offer = _dhcp(guest, "discover", 0x11223344)
    assert offer[BOOTP].op == 2 and offer[BOOTP].xid == 0x11223344
    assert offer[BOOTP].yiaddr == GUEST_IP and offer[UDP].dport == 68 and checksums_ok(offer)
    o = _options(offer)
    assert o["message-type"] == (2,) and o["server_id"] == (GW,)
    assert o["router"] == (GW,) and o["name_server"] == (DNS_IP,)
    assert o["subnet_mask"] == ("255.255.255.0",) and o["lease_time"][0] > 0
    ack = _dhcp(guest, "request", 0x55, requested_addr=GUEST_IP, server_id=GW)
    assert _options(ack)["message-type"] == (5,) and ack[BOOTP].yiaddr == GUEST_IP
    nak = _dhcp(guest, "request", 0x56, requested_addr="10.0.2.77", server_id=GW)
    assert _options(nak)["message-type"] == (6,)


def test_dhcp_second_client_gets_next_address():
    g = Guest(config=UserConfig(dhcpstart="10.0.2.20"))
    try:
        assert _dhcp(g, "discover", 1)[BOOTP].yiaddr == "10.0.2.20"
        Wire.mac, old = "52:54:00:00:00:99", Wire.mac
        g.send(Ether(src=Wire.mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") /
               UDP(sport=68, dport=67) / BOOTP(chaddr=bytes.fromhex("525400000099"), xid=2) /
               DHCP(options=[("message-type", "discover"), "end"]))
        Wire.mac = old
        assert g.take(DHCP)[BOOTP].yiaddr == "10.0.2.21"
    finally:
        g.close()


# --- TCP ------------------------------------------------------------------------------------

class GuestTCP:
    """A minimal TCP client on the guest side, advertising a small window."""

    def __init__(self, guest, dport, sport=40000, window=4096, dst=GW):
        self.g, self.dport, self.sport, self.window, self.dst = guest, dport, sport, window, dst
        self.seq = 1000
        self.rcv = None
        self.data = bytearray()
        self.fin = False

    def _seg(self, flags, payload=b"", seq=None):
        self.g.send(self.g.ip(TCP(sport=self.sport, dport=self.dport, flags=flags,
                                  seq=self.seq if seq is None else seq, ack=self.rcv or 0,
                                  window=self.window) / Raw(payload), dst=self.dst))

    def _mine(self, p):
        return p[TCP].dport == self.sport and p[TCP].sport == self.dport

    def connect(self):
        self.g.send(self.g.ip(TCP(sport=self.sport, dport=self.dport, flags="S", seq=self.seq,
                                  window=self.window, options=[("MSS", 1000)]), dst=self.dst))
        r = self.g.take(TCP, pred=self._mine)
        assert r[TCP].flags == "SA" and r[TCP].ack == self.seq + 1, r.show(dump=True)
        assert checksums_ok(r)
        self.seq += 1
        self.rcv = r[TCP].seq + 1
        self._seg("A")

    def send(self, payload):
        self._seg("PA", payload)
        self.seq += len(payload)

    def receive_all(self, timeout=20.0):
        """Read until the far end's FIN, checking every segment fits the window."""
        deadline = time.monotonic() + timeout
        while not self.fin:
            r = self.g.take(TCP, pred=self._mine, timeout=max(0.1, deadline - time.monotonic()))
            t = r[TCP]
            assert not t.flags & 0x04, "reset by the network"
            payload = bytes(t.payload)
            assert len(payload) <= 1000                         # our MSS
            assert (t.seq - self.rcv) % (1 << 32) + len(payload) <= self.window
            if t.seq == self.rcv:
                self.data += payload
                self.rcv += len(payload)
                if t.flags & 0x01:
                    self.rcv += 1
                    self.fin = True
            self._seg("A")
        return bytes(self.data)

    def close(self):
        self._seg("FA")
        self.seq += 1
        r = self.g.take(TCP, pred=self._mine)
        assert r[TCP].flags & 0x10 and r[TCP].ack == self.seq


@pytest.fixture
def http_server(tmp_path):
    body = random.Random(1).randbytes(300_000) if hasattr(random.Random, "randbytes") else \
        bytes(random.Random(1).getrandbits(8) for _ in range(300_000))
    (tmp_path / "file.bin").write_bytes(body)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], body
    server.shutdown()
    server.server_close()


def test_tcp_http_get_through_gateway(guest, http_server):
    port, body = http_server
    c = GuestTCP(guest, port)
    c.connect()
    c.send(b"GET /file.bin HTTP/1.0\r\nHost: x\r\n\r\n")
    reply = c.receive_all()
    head, _, data = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(body).hexdigest()
    c.close()
    guest.loop.poll(0)
    assert not guest.net.tcp                   # both FINs acknowledged: gone


def test_tcp_guest_upload_reaches_host_in_order(guest):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = bytearray()

    def serve():
        conn, _ = srv.accept()
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got.extend(chunk)
        conn.sendall(hashlib.sha256(bytes(got)).hexdigest().encode())
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    c = GuestTCP(guest, srv.getsockname()[1], sport=40001)
    c.connect()
    blob = os.urandom(50_000)
    for i in range(0, len(blob), 1000):
        c.send(blob[i:i + 1000])
        guest.loop.poll(0)
    c._seg("FA")
    c.seq += 1
    reply = c.receive_all()
    assert reply.decode() == hashlib.sha256(blob).hexdigest()
    t.join(5)
    srv.close()


def test_tcp_closed_port_gets_rst(guest):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                  # nobody listens there now
    guest.send(guest.ip(TCP(sport=40002, dport=port, flags="S", seq=5)))
    r = guest.take(TCP)
    assert r[TCP].flags & 0x04 and r[TCP].ack == 6 and checksums_ok(r)
    assert not guest.net.tcp


def test_tcp_host_reset_mid_transfer_resets_guest(guest):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.sendall(b"x" * 1000)
        time.sleep(0.3)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()                            # RST

    threading.Thread(target=serve, daemon=True).start()
    c = GuestTCP(guest, srv.getsockname()[1], sport=40003, window=500)
    c.connect()
    c.send(b"hello")                           # unread by the server: its close resets
    r = guest.take(TCP, pred=lambda p: p[TCP].flags & 0x04, timeout=10)
    assert r[TCP].dport == 40003
    srv.close()
    guest.loop.poll(0)
    assert not guest.net.tcp


def test_tcp_guest_rst_closes_host_socket(guest):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = GuestTCP(guest, srv.getsockname()[1], sport=40004)
    c.connect()
    conn, _ = srv.accept()
    c._seg("R")
    conn.settimeout(5)
    with pytest.raises((ConnectionResetError, OSError)) as e:
        if conn.recv(10) == b"":
            raise OSError("closed")
    assert e.value is not None
    conn.close()
    srv.close()
    assert not guest.net.tcp


# --- UDP and DNS ------------------------------------------------------------------------------

def test_udp_to_gateway_reaches_host_loopback(guest):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    guest.send(guest.ip(UDP(sport=5000, dport=srv.getsockname()[1]) / Raw(b"hello udp")))
    guest.loop.poll(0)
    srv.settimeout(5)
    data, addr = srv.recvfrom(100)
    assert data == b"hello udp"
    srv.sendto(b"HELLO BACK", addr)
    r = guest.take(UDP)
    assert r[IP].src == GW and r[UDP].sport == srv.getsockname()[1] and r[UDP].dport == 5000
    assert bytes(r[UDP].payload) == b"HELLO BACK" and checksums_ok(r)
    srv.close()


def test_dns_forwarder_uses_host_resolver():
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))

    def serve():
        data, addr = srv.recvfrom(512)
        q = DNS(data)
        srv.sendto(bytes(DNS(id=q.id, qr=1, qd=q.qd, an=DNSRR(rrname=q.qd[0].qname, rdata="192.0.2.7"))), addr)

    threading.Thread(target=serve, daemon=True).start()
    g = Guest(resolver=srv.getsockname())
    try:
        g.send(g.ip(UDP(sport=5353, dport=53) / DNS(id=77, rd=1, qd=DNSQR(qname="files.test")),
                    dst=DNS_IP))
        r = g.take(DNS, timeout=5)
        assert r[IP].src == DNS_IP and r[UDP].sport == 53 and r[DNS].id == 77
        assert r[DNS].an[0].rdata == "192.0.2.7"
    finally:
        g.close()
        srv.close()


def test_restrict_on_blocks_outside_but_serves_dhcp(http_server):
    port, _ = http_server
    g = Guest(config=UserConfig(restrict=True))
    try:
        assert _dhcp(g, "discover", 9)[BOOTP].yiaddr == GUEST_IP
        g.send(g.ip(TCP(sport=40005, dport=port, flags="S", seq=1)))
        assert g.take(TCP)[TCP].flags & 0x04
        g.send(g.ip(UDP(sport=5001, dport=53) / Raw(b"q"), dst=DNS_IP))
        g.loop.poll(0.05)
        assert not g.wire.frames and not g.net.udp
    finally:
        g.close()


# --- hostfwd -----------------------------------------------------------------------------------

def test_hostfwd_connects_host_client_to_guest_port(guest):
    guest.send(guest.ip(ICMP(type=8), dst=GW))          # the network learns the guest's MAC
    guest.take(ICMP)
    fwd = parse_hostfwd("tcp::0-:8080")
    guest.net.add_forward(fwd)
    assert fwd.sock.getsockname()[0] == "127.0.0.1"      # loopback unless written
    client = socket.create_connection(("127.0.0.1", fwd.host_port))
    syn = guest.take(TCP, pred=lambda p: p[TCP].flags == "S")
    assert syn[IP].dst == GUEST_IP and syn[TCP].dport == 8080 and checksums_ok(syn)
    c = GuestTCP(guest, syn[TCP].sport, sport=8080, dst=GW)
    c.rcv = syn[TCP].seq + 1
    guest.send(guest.ip(TCP(sport=8080, dport=syn[TCP].sport, flags="SA", seq=c.seq,
                            ack=c.rcv, window=4096)))
    c.seq += 1
    guest.take(TCP, pred=lambda p: p[TCP].flags == "A")
    client.sendall(b"from the host")
    r = guest.take(TCP, pred=lambda p: len(p[TCP].payload) > 0)
    assert bytes(r[TCP].payload) == b"from the host"
    c.rcv += len(b"from the host")
    c.send(b"from the guest")
    guest.loop.poll(0)
    client.settimeout(5)
    assert client.recv(100) == b"from the guest"
    client.close()
    assert c.receive_all() == b""
    c.close()
    guest.loop.poll(0)
    assert not guest.net.tcp
    guest.net.remove_forward(fwd)


@pytest.mark.parametrize("rule,msg", [
    ("tcp:5555-:22", "Invalid host forwarding rule"),
    ("tcp::99999-:22", "bad port"),
    ("tcp::5555-:0", "bad guest port"),
    ("sctp::5555-:22", "bad protocol"),
    ("tcp:1.2.3:5555-:22", "bad address"),
])
def test_hostfwd_bad_rules(rule, msg):
    with pytest.raises(ForwardError, match=msg):
        parse_hostfwd(rule)


def test_hostfwd_address_written_is_used():
    fwd = parse_hostfwd("tcp:0.0.0.0:2222-10.0.2.16:22")
    assert (fwd.host_addr, fwd.host_port, fwd.guest_addr, fwd.guest_port) == \
        ("0.0.0.0", 2222, "10.0.2.16", 22)


# --- flow control towards the NIC, malformed frames ---------------------------------------------

def test_frames_wait_while_the_nic_is_full(guest):
    guest.wire.full = True
    guest.send(guest.ip(ICMP(type=8, id=1)))
    assert guest.net.pending == 1 and not guest.wire.frames
    guest.wire.full = False
    guest.net.flush()
    assert guest.take(ICMP)[ICMP].type == 0 and guest.net.pending == 0


def test_malformed_frames_are_dropped_and_counted(guest, capsys):
    lg = log.Log()
    lg.set_mask("guest_errors")
    old = log.active()
    log.activate(lg)
    try:
        good = bytes(guest.ip(ICMP(type=8)))
        bad_csum = bytearray(good)
        bad_csum[14 + 10] ^= 0xFF                        # IPv4 header checksum
        frag = bytes(Ether(src=GUEST_MAC) / IP(src=GUEST_IP, dst=GW, flags="MF") / ICMP())
        for frame in (b"\x00" * 5, good[:20], bytes(bad_csum), frag,
                      bytes(guest.ip(TCP(dataofs=15) / Raw(b"x")))):
            guest.send(frame)
        rng = random.Random(25)
        for _ in range(300):                             # random junk: never an exception
            n = rng.randrange(0, 200)
            junk = bytearray(rng.getrandbits(8) for _ in range(n))
            if n > 14 and rng.random() < 0.7:
                junk[12:14] = b"\x08\x00"
                if n > 15:
                    junk[14] = 0x45
            guest.send(bytes(junk))
    finally:
        log.activate(old)
    assert guest.net.stats["dropped"] >= 5
    err = capsys.readouterr().err
    assert "runt frame" in err and "bad IPv4 header checksum" in err and "fragment" in err
    guest.send(guest.ip(ICMP(type=8, id=99)))            # and it still answers
    assert guest.take(ICMP, pred=lambda p: p[ICMP].id == 99)


def test_hostfwd_100_connections_in_a_row_guest_closes_first(guest):
    guest.send(guest.ip(ICMP(type=8), dst=GW))
    guest.take(ICMP)
    fwd = parse_hostfwd("tcp::0-:23")
    guest.net.add_forward(fwd)
    for n in range(100):
        client = socket.create_connection(("127.0.0.1", fwd.host_port), timeout=5)
        syn = guest.take(TCP, pred=lambda p: p[TCP].flags == "S")
        far = syn[TCP].sport
        c = GuestTCP(guest, far, sport=23)
        c.rcv = syn[TCP].seq + 1
        guest.send(guest.ip(TCP(sport=23, dport=far, flags="SA", seq=c.seq, ack=c.rcv,
                                window=4096)))
        c.seq += 1
        guest.take(TCP, pred=lambda p: p[TCP].flags == "A" and p[TCP].dport == 23)
        client.sendall(b"echo %d\n" % n)
        r = guest.take(TCP, pred=lambda p: len(p[TCP].payload) > 0)
        assert bytes(r[TCP].payload) == b"echo %d\n" % n
        c.rcv += len(r[TCP].payload)
        c.send(b"%d\n" % n)
        c._seg("FA")                                  # the guest closes first
        c.seq += 1
        guest.take(TCP, pred=lambda p: p[TCP].ack == c.seq)
        got = b""
        while True:
            chunk = client.recv(100)
            if not chunk:
                break
            got += chunk
        assert got == b"%d\n" % n                     # then EOF: the guest's FIN
        client.close()
        fin = guest.take(TCP, pred=lambda p: p[TCP].flags & 0x01)
        guest.send(guest.ip(TCP(sport=23, dport=far, flags="A", seq=c.seq,
                                ack=fin[TCP].seq + 1, window=4096)))
        guest.loop.poll(0)
        assert not guest.net.tcp, n                   # nothing left behind
    guest.net.remove_forward(fwd)


# --- UDP hostfwd, guestfwd, the DNS server from the environment ---------------------------------

def test_udp_hostfwd_carries_datagrams_both_ways(guest):
    guest.send(guest.ip(ICMP(type=8), dst=GW))          # the network learns the guest's MAC
    guest.take(ICMP)
    fwd = parse_hostfwd("udp::0-:7777")
    guest.net.add_forward(fwd)
    assert fwd.sock.type == socket.SOCK_DGRAM and fwd.sock.getsockname()[0] == "127.0.0.1"
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(5)
    client.sendto(b"ping over udp", ("127.0.0.1", fwd.host_port))
    r = guest.take(UDP)
    assert r[IP].dst == GUEST_IP and r[IP].src == GW and r[UDP].dport == 7777
    assert r[UDP].sport == client.getsockname()[1] and checksums_ok(r)
    assert bytes(r[UDP].payload) == b"ping over udp"
    guest.send(guest.ip(UDP(sport=7777, dport=r[UDP].sport) / Raw(b"pong over udp")))
    guest.loop.poll(0)
    data, addr = client.recvfrom(100)
    assert data == b"pong over udp" and addr == ("127.0.0.1", fwd.host_port)
    assert "UDP[HOST_FORWARD]" in guest.net.usernet_text()
    guest.net.remove_forward(fwd)
    assert not guest.net.udp_fwd
    client.close()


def _guestfwd_exchange(g, dst, dport, request):
    """A guest connection to a guestfwd address: send ``request``, half-close, read all."""
    g.send(Ether(src=GUEST_MAC, dst="ff:ff:ff:ff:ff:ff") /
           ARP(op=1, hwsrc=GUEST_MAC, psrc=GUEST_IP, pdst=dst))
    assert g.take(ARP)[ARP].hwsrc == "52:55:" + ":".join(f"{int(b):02x}" for b in dst.split("."))
    c = GuestTCP(g, dport, sport=41000, dst=dst, window=8192)
    c.connect()
    c.send(request)
    c._seg("FA")
    c.seq += 1
    return c.receive_all()


def test_guestfwd_cmd_runs_a_command_per_connection():
    from pysystem.net.options import make_user
    net = make_user("n0", [("guestfwd", "tcp:10.0.2.100:1234-cmd:tr a-z A-Z")])
    g = Guest()
    g.net.close()
    g.net = net
    net.attach(g.wire)
    net.open(g.loop)
    try:
        for _ in range(2):
            assert _guestfwd_exchange(g, "10.0.2.100", 1234, b"hello guestfwd\n") == \
                b"HELLO GUESTFWD\n"
    finally:
        net.close()


def test_guestfwd_tcp_chardev_reaches_a_host_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(2)
    got = []

    def serve():
        for _ in range(2):
            conn, _ = srv.accept()
            data = b""
            while True:
                chunk = conn.recv(100)
                if not chunk:
                    break
                data += chunk
            got.append(data)
            conn.sendall(b"served " + data)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    from pysystem.net.options import make_user
    net = make_user("n0", [("guestfwd", f":10.0.2.77:99-tcp:127.0.0.1:{srv.getsockname()[1]}")])
    g = Guest()
    g.net.close()
    g.net = net
    net.attach(g.wire)
    net.open(g.loop)
    try:
        assert _guestfwd_exchange(g, "10.0.2.77", 99, b"one") == b"served one"
        assert _guestfwd_exchange(g, "10.0.2.77", 99, b"two") == b"served two"
        assert got == [b"one", b"two"]
    finally:
        net.close()
        srv.close()


@pytest.mark.parametrize("rule,msg", [
    ("udp:10.0.2.100:1234-cmd:cat", "Invalid guest forwarding rule 'udp:10.0.2.100:1234-cmd:cat'"),
    ("tcp:10.0.2.100:0-cmd:cat", "Invalid guest forwarding rule"),
    ("tcp:10.0.2.100:1234", "Invalid guest forwarding rule"),
    ("tcp:10.0.2:1234-cmd:cat", "Invalid guest forwarding rule"),
    ("tcp:10.0.3.1:1234-cmd:cat", "Conflicting/invalid host:port in guest forwarding rule"),
    ("tcp:10.0.2.2:1234-cmd:cat", "Conflicting/invalid host:port in guest forwarding rule"),
    ("tcp:10.0.2.100:1234-stdio", "Could not open guest forwarding device 'guestfwd.tcp.1234'"),
    ("tcp:10.0.2.100:1234-tcp:127.0.0.1:1", "Could not open guest forwarding device"),
])
def test_guestfwd_bad_rules(rule, msg):
    from pysystem.net.options import make_user
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(".", r"\.")):
        make_user("n0", [("guestfwd", rule)])


def test_dns_server_from_the_environment(monkeypatch):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))

    def serve():
        data, addr = srv.recvfrom(512)
        q = DNS(data)
        srv.sendto(bytes(DNS(id=q.id, qr=1, qd=q.qd, an=DNSRR(rrname=q.qd[0].qname,
                                                            rdata="192.0.2.9"))), addr)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setenv("PYSYSTEM_DNS_SERVER", f"127.0.0.1:{srv.getsockname()[1]}")
    g = Guest()
    try:
        g.send(g.ip(UDP(sport=5353, dport=53) / DNS(id=78, rd=1, qd=DNSQR(qname="env.test")),
                    dst=DNS_IP))
        r = g.take(DNS, timeout=5)
        assert r[DNS].id == 78 and r[DNS].an[0].rdata == "192.0.2.9"
    finally:
        g.close()
        srv.close()
    from pysystem.net.options import make_user
    monkeypatch.setenv("PYSYSTEM_DNS_SERVER", "localhost:53")
    with pytest.raises(ValueError, match="PYSYSTEM_DNS_SERVER='localhost:53' is not ADDR"):
        make_user("n0", [])


def test_udp_hostfwd_waits_for_arp_instead_of_losing_the_datagram(guest):
    """The guest's MAC is not known yet: the gateway asks by ARP, and the datagram
    follows the answer (slirp keeps it too)."""
    fwd = parse_hostfwd("udp::0-:7778")
    guest.net.add_forward(fwd)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.sendto(b"first", ("127.0.0.1", fwd.host_port))
    req = guest.take(ARP)
    assert req[ARP].op == 1 and req[ARP].pdst == GUEST_IP and not guest.wire.frames
    guest.send(Ether(src=GUEST_MAC, dst=req[Ether].src) /
               ARP(op=2, hwsrc=GUEST_MAC, psrc=GUEST_IP, hwdst=req[ARP].hwsrc, pdst=GW))
    r = guest.take(UDP)
    assert r[Ether].dst == GUEST_MAC and bytes(r[UDP].payload) == b"first" and checksums_ok(r)
    guest.net.remove_forward(fwd)
    client.close()
