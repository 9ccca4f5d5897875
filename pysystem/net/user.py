"""``-netdev user``: the user-mode network (QEMU's slirp), in Python, without root.

The guest sees a virtual Ethernet segment (default 10.0.2.0/24)::

    10.0.2.2   the gateway: answers ARP and ICMP echo, serves DHCP (10.0.2.15 up),
               and stands for the host: connections to it go to the host's 127.0.0.1
    10.0.2.3   the DNS server: UDP port 53 is forwarded to the host's resolver
               (/etc/resolv.conf's first nameserver, or ``resolver=(addr, port)``,
               or the environment's PYSYSTEM_DNS_SERVER=ADDR[:PORT]: QEMU has no
               option for slirp's upstream server, which reads resolv.conf too)

TCP and UDP to any other address leave through ordinary host sockets (tcp.py and
``UDPFlow`` here), non-blocking, serviced at the main loop's host I/O polls.
``hostfwd`` sockets (hostfwd.py) connect host clients to a guest port (TCP and
UDP); ``guestfwd`` rules (guestfwd.py) carry guest connections to a virtual address
to a host command or server.  With ``restrict=on`` the guest reaches nothing beyond
the gateway's own services (ARP, ICMP echo, DHCP); hostfwd and guestfwd still work.

Frames the guest sends that cannot be understood (runt, bad headers or checksums,
fragments, unknown protocols) are dropped and counted (``stats``), with a line
under ``-d guest_errors``.  With ``-d net`` each host packet that reaches the guest
is logged in order, so a run with traffic can be reasoned about.
"""
from __future__ import annotations

import errno
import os
import random
import select
import socket
import time
from typing import Dict, List, Optional, Tuple

from pysystem import log

from . import packet as P
from .client import NetBackend
from .dhcp import DHCPServer
from .guestfwd import GuestFwd
from .tcp import CLOSED, CONNECTING, TCPConn


def virtual_mac(addr: bytes) -> bytes:
    """The MAC of a virtual host (gateway, DNS): 52:55 and its IPv4 address, as slirp's."""
    return b"\x52\x55" + addr


MAX_TCP, MAX_UDP = 1024, 256                      # host sockets a guest may hold open
UDP_EXPIRE = 240.0                                # host seconds an idle UDP flow lives
DNS_EXPIRE = 10.0
ARP_WAIT = 16                                     # packets kept for a guest address until ARP
ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_ECHO = 0, 3, 8


class UserConfig:
    """The addresses of the virtual network (``-netdev user`` keys net/host/dns/dhcpstart)."""

    def __init__(self, net: str = "10.0.2.0/24", host: Optional[str] = None,
                 dns: Optional[str] = None, dhcpstart: Optional[str] = None,
                 hostname: str = "", restrict: bool = False):
        addr, _, bits = net.partition("/")
        prefix = int(bits) if bits else 24
        if not 0 < prefix <= 30:
            raise ValueError(f"invalid net prefix '{bits}'")
        mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
        base = int.from_bytes(P.ip_bytes(addr), "big") & mask
        self.network = base.to_bytes(4, "big")
        self.netmask = mask.to_bytes(4, "big")
        self.prefix = prefix
        self.host = self._inside(host, base + 2, "host")
        self.dns = self._inside(dns, base + 3, "dns")
        self.dhcp_start = self._inside(dhcpstart, base + 15, "dhcpstart")
        self.hostname = hostname
        self.restrict = restrict

    def _inside(self, text: Optional[str], default: int, what: str) -> bytes:
        value = P.ip_bytes(text) if text else default.to_bytes(4, "big")
        if not self.contains(value):
            raise ValueError(f"'{what}' address {P.ip_str(value)} is not in the network "
                             f"{P.ip_str(self.network)}/{self.prefix}")
        return value

    def contains(self, addr: bytes) -> bool:
        mask = int.from_bytes(self.netmask, "big")
        return int.from_bytes(addr, "big") & mask == int.from_bytes(self.network, "big")


DNS_ENV = "PYSYSTEM_DNS_SERVER"


def env_resolver() -> Optional[Tuple[str, int]]:
    """``PYSYSTEM_DNS_SERVER=ADDR[:PORT]`` (ValueError when malformed), else None."""
    text = os.environ.get(DNS_ENV, "")
    if not text:
        return None
    addr, sep, port = text.partition(":")
    try:
        P.ip_bytes(addr)
        number = int(port, 10) if sep else 53
    except (OSError, ValueError):
        number = -1
    if addr.count(".") != 3 or not 0 < number <= 65535:
        raise ValueError(f"{DNS_ENV}='{text}' is not ADDR[:PORT] (an IPv4 address)")
    return addr, number


def host_resolver() -> Tuple[str, int]:
    """The host's DNS server: the first ``nameserver`` of /etc/resolv.conf (IPv4)."""
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver" and "." in words[1]:
                    return words[1], 53
    except OSError:
        pass
    return "127.0.0.1", 53


class UDPFlow:
    """One guest UDP conversation (guest address/port to a far address/port) carried
    by a connected host socket; replies come back from the far address."""

    def __init__(self, sock: socket.socket, key, expire: float):
        self.sock, self.key, self.expire = sock, key, expire
        self.last = time.monotonic()


class UserNet(NetBackend):
    KIND = "user"

    def __init__(self, netdev_id: str, config: Optional[UserConfig] = None,
                 resolver: Optional[Tuple[str, int]] = None):
        super().__init__(netdev_id)
        self.config = config or UserConfig()
        self.resolver = resolver or env_resolver()
        self.dhcp = DHCPServer(self.config)
        self.arp_table: Dict[bytes, bytes] = {}          # guest IP -> MAC
        self.tcp: Dict[tuple, TCPConn] = {}
        self.connecting: List[TCPConn] = []
        self.udp: Dict[tuple, UDPFlow] = {}
        self.forwards: list = []                        # hostfwd.Forward
        self.guestfwds: Dict[tuple, GuestFwd] = {}      # (server addr, port) -> rule
        self.udp_fwd: Dict[tuple, list] = {}            # flow key -> [Forward, peer, last]
        self.await_arp: Dict[bytes, List[bytes]] = {}   # guest IP -> IP packets for it
        self.stats = {"dropped": 0, "to_guest": 0, "from_guest": 0}
        self._ident = 0
        self._rand = random.Random(0x5EED)             # ISNs: reproducible runs

    # --- configuration --------------------------------------------------------------------
    def add_forward(self, fwd) -> None:
        fwd.net = self
        self.forwards.append(fwd)
        if self.loop is not None:
            fwd.open(self.loop)

    def remove_forward(self, fwd) -> None:
        fwd.close()
        self.forwards.remove(fwd)
        for key in [k for k, v in self.udp_fwd.items() if v[0] is fwd]:
            del self.udp_fwd[key]

    def add_guestfwd(self, gfwd: GuestFwd) -> None:
        """Place the rule in the network and open its chardev (GuestFwdError)."""
        gfwd.place(self.config, self.guestfwds)
        gfwd.setup()
        self.guestfwds[(gfwd.addr, gfwd.port)] = gfwd

    def open(self, loop) -> None:
        super().open(loop)
        for fwd in self.forwards:
            fwd.open(loop)

    def close(self) -> None:
        for conn in list(self.tcp.values()):
            conn.close()
        for flow in list(self.udp.values()):
            self._drop_udp(flow)
        for fwd in self.forwards:
            fwd.close()
        for gfwd in self.guestfwds.values():
            gfwd.close()
        super().close()

    def info(self) -> str:
        return (f"{self.id}: index=0,type=user,net={P.ip_str(self.config.network)},"
                f"restrict={'on' if self.config.restrict else 'off'}")

    # --- frames from the guest ------------------------------------------------------------
    def _drop(self, reason: str) -> None:
        self.stats["dropped"] += 1
        self.bad_frame(reason)

    def receive_from_guest(self, frame: bytes) -> None:
        self.stats["from_guest"] += 1
        eth = P.parse_eth(frame)
        if eth is None:
            return self._drop(P.why[0])
        if eth.type == P.ETH_ARP:
            arp = P.parse_arp(eth.payload)
            if arp is None:
                return self._drop(P.why[0])
            return self._arp(arp)
        if eth.type != P.ETH_IP:
            return None                                  # IPv6 and others: not served
        ip = P.parse_ipv4(eth.payload)
        if ip is None:
            return self._drop(P.why[0])
        if self.config.contains(ip.src) and ip.src != bytes(4):
            self._learn(ip.src, eth.src)
        if ip.proto == P.PROTO_UDP:
            udp = P.parse_udp(ip)
            if udp is None:
                return self._drop(P.why[0])
            return self._udp(eth, ip, udp)
        if ip.proto == P.PROTO_TCP:
            tcp = P.parse_tcp(ip)
            if tcp is None:
                return self._drop(P.why[0])
            return self._tcp(ip, tcp)
        if ip.proto == P.PROTO_ICMP:
            icmp = P.parse_icmp(ip)
            if icmp is None:
                return self._drop(P.why[0])
            return self._icmp(ip, icmp)
        return self._drop(f"IP protocol {ip.proto} not served")

    def _arp(self, arp: P.ARP) -> None:
        if arp.op == 2:                                  # a reply: learn
            self._learn(arp.spa, arp.sha)
            return
        if arp.op != 1:
            return
        if arp.spa != bytes(4):
            self._learn(arp.spa, arp.sha)
        cfg = self.config
        if arp.tpa in (cfg.host, cfg.dns) or any(a == arp.tpa for a, _ in self.guestfwds):
            mac = virtual_mac(arp.tpa)
            reply = P.arp_packet(2, mac, arp.tpa, arp.sha, arp.spa)
            self.deliver(P.eth_frame(arp.sha, mac, P.ETH_ARP, reply))

    def _icmp(self, ip: P.IPv4, msg: bytes) -> None:
        if msg[0] != ICMP_ECHO:
            return
        if ip.dst in (self.config.host, self.config.dns):
            self.send_ip(ip.src, ip.dst, P.PROTO_ICMP, P.icmp_message(ICMP_ECHO_REPLY, 0, msg[4:]))

    # --- UDP --------------------------------------------------------------------------------
    def _udp(self, eth: P.Eth, ip: P.IPv4, udp: P.UDP) -> None:
        cfg = self.config
        if udp.dport == 67 and (ip.dst in (cfg.host, b"\xff" * 4)):
            reply = self.dhcp.handle(udp.payload, eth.src)
            if reply is not None:
                self._dhcp_reply(eth.src, reply)
            return
        key = (ip.src, udp.sport, ip.dst, udp.dport)
        back = self.udp_fwd.get(key)
        if back is not None:                             # a reply to a hostfwd sender
            back[2] = time.monotonic()
            back[0].reply(udp.payload, back[1])
            return
        if cfg.restrict:
            return
        if ip.dst == cfg.dns and udp.dport == 53:
            far = self.resolver or host_resolver()
            expire = DNS_EXPIRE
        elif ip.dst == cfg.host:
            far, expire = ("127.0.0.1", udp.dport), UDP_EXPIRE
        elif cfg.contains(ip.dst) or ip.dst[0] >= 224 or ip.dst == b"\xff" * 4:
            return                                       # nobody else lives here
        else:
            far, expire = (P.ip_str(ip.dst), udp.dport), UDP_EXPIRE
        flow = self.udp.get(key)
        if flow is None:
            if len(self.udp) >= MAX_UDP:
                return self._drop(f"more than {MAX_UDP} UDP flows")
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.setblocking(False)
                sock.connect(far)
            except OSError as e:
                log.log("net", f"net {self.id}: udp to {far}: {e.strerror}")
                return
            flow = self.udp[key] = UDPFlow(sock, key, expire)
            if self.loop is not None:
                self.loop.add_reader(sock.fileno(), lambda f=flow: self._udp_readable(f))
        flow.last = time.monotonic()
        try:
            flow.sock.send(udp.payload)
        except OSError as e:
            log.log("net", f"net {self.id}: udp send to {far}: {e.strerror}")

    def _udp_readable(self, flow: UDPFlow) -> None:
        for _ in range(64):
            try:
                data = flow.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:                              # e.g. ICMP port unreachable
                return
            guest_ip, guest_port, far_ip, far_port = flow.key
            flow.last = time.monotonic()
            self._log_delivery(f"udp {P.ip_str(far_ip)}:{far_port} > "
                               f"{P.ip_str(guest_ip)}:{guest_port} len {len(data)}")
            self.send_ip(guest_ip, far_ip, P.PROTO_UDP,
                         P.udp_packet(far_ip, guest_ip, far_port, guest_port, data))

    def udp_forwarded(self, fwd, data: bytes, peer) -> None:
        """A datagram from ``peer`` to a ``hostfwd=udp:`` socket: to the guest port, from
        the gateway's address and the sender's port (the guest's replies go back)."""
        guest_ip, far_ip, far_port = fwd.guest_ip(self), self.config.host, peer[1]
        self.udp_fwd[(guest_ip, fwd.guest_port, far_ip, far_port)] = [fwd, peer, time.monotonic()]
        self._log_delivery(f"udp hostfwd {peer[0]}:{far_port} > "
                           f"{P.ip_str(guest_ip)}:{fwd.guest_port} len {len(data)}")
        self.send_ip(guest_ip, far_ip, P.PROTO_UDP,
                     P.udp_packet(far_ip, guest_ip, far_port, fwd.guest_port, data))

    def _drop_udp(self, flow: UDPFlow) -> None:
        if self.loop is not None:
            self.loop.remove_reader(flow.sock.fileno())
        flow.sock.close()
        self.udp.pop(flow.key, None)

    def _dhcp_reply(self, client_mac: bytes, reply: bytes) -> None:
        udp = P.udp_packet(self.config.host, b"\xff" * 4, 67, 68, reply)
        ip = P.ipv4_packet(self.config.host, b"\xff" * 4, P.PROTO_UDP, udp, self._next_ident())
        self.deliver(P.eth_frame(P.BROADCAST_MAC, virtual_mac(self.config.host), P.ETH_IP, ip))

    # --- TCP --------------------------------------------------------------------------------
    def _tcp(self, ip: P.IPv4, tcp: P.TCP) -> None:
        key = (ip.src, tcp.sport, ip.dst, tcp.dport)
        conn = self.tcp.get(key)
        if conn is not None:
            conn.segment(tcp)
            return
        if tcp.flags & P.TCP_RST:
            return
        if not (tcp.flags & P.TCP_SYN) or tcp.flags & P.TCP_ACK:
            self._reset(ip, tcp)
            return
        cfg = self.config
        gfwd = self.guestfwds.get((ip.dst, tcp.dport))
        if gfwd is not None:
            return self._guestfwd(ip, tcp, gfwd)
        if cfg.restrict:
            self._reset(ip, tcp)
            return
        if ip.dst == cfg.host:
            far = ("127.0.0.1", tcp.dport)
        elif cfg.contains(ip.dst) or ip.dst[0] >= 224:
            self._reset(ip, tcp)
            return
        else:
            far = (P.ip_str(ip.dst), tcp.dport)
        if len(self.tcp) >= MAX_TCP:
            self._drop(f"more than {MAX_TCP} TCP connections")
            self._reset(ip, tcp)
            return
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex(far)
        except OSError as e:
            err = e.errno
            sock = None
        conn = TCPConn(self, sock, ip.src, tcp.sport, ip.dst, tcp.dport, self._rand.getrandbits(32))
        conn.syn_from_guest(tcp)
        self.tcp[key] = conn
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            conn.reset_guest()
            return
        self.connecting.append(conn)
        self._check_connects()

    def _guestfwd(self, ip: P.IPv4, tcp: P.TCP, gfwd: GuestFwd) -> None:
        try:
            sock = gfwd.connect()
        except OSError as e:
            log.log("net", f"net {self.id}: guestfwd '{gfwd.text}': {e.strerror or e}")
            self._reset(ip, tcp)
            return
        conn = TCPConn(self, sock, ip.src, tcp.sport, ip.dst, tcp.dport, self._rand.getrandbits(32))
        conn.syn_from_guest(tcp)
        self.tcp[(ip.src, tcp.sport, ip.dst, tcp.dport)] = conn
        self.connecting.append(conn)                     # a socketpair is writable at once
        self._check_connects()

    def _reset(self, ip: P.IPv4, tcp: P.TCP) -> None:
        """RST for a segment that belongs to no connection (RFC 793's rules)."""
        if tcp.flags & P.TCP_ACK:
            seq, ack, flags = tcp.ack, 0, P.TCP_RST
        else:
            n = len(tcp.payload) + (1 if tcp.flags & P.TCP_SYN else 0) + \
                (1 if tcp.flags & P.TCP_FIN else 0)
            seq, ack, flags = 0, (tcp.seq + n) & 0xFFFFFFFF, P.TCP_RST | P.TCP_ACK
        seg = P.tcp_segment(ip.dst, ip.src, tcp.dport, tcp.sport, seq, ack, flags, 0)
        self.send_ip(ip.src, ip.dst, P.PROTO_TCP, seg)

    def _check_connects(self) -> None:
        if not self.connecting:
            return
        socks = [c.sock for c in self.connecting]
        try:
            _, writable, failed = select.select([], socks, socks, 0)
        except (OSError, ValueError):
            writable, failed = socks, []
        done = set(writable) | set(failed)
        for conn in [c for c in self.connecting if c.sock in done]:
            self.connecting.remove(conn)
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                log.log("net", f"net {self.id}: tcp {conn.describe()}: connect failed: "
                               f"{errno.errorcode.get(err, err)}")
                conn.reset_guest()
            else:
                conn.connected()

    def accept_forwarded(self, sock: socket.socket, peer_port: int, guest_ip: bytes,
                         guest_port: int) -> None:
        """A host client of a hostfwd listener: open a connection to the guest."""
        sock.setblocking(False)
        far_ip = self.config.host
        key = (guest_ip, guest_port, far_ip, peer_port)
        old = self.tcp.get(key)
        if old is not None:
            old.reset_guest()
        conn = TCPConn(self, sock, guest_ip, guest_port, far_ip, peer_port,
                       self._rand.getrandbits(32))
        self.tcp[key] = conn
        conn.send_syn()

    def send_tcp(self, conn: TCPConn, flags: int, seq: int, ack: int, window: int,
                 payload: bytes, options: bytes) -> None:
        seg = P.tcp_segment(conn.far_ip, conn.guest_ip, conn.far_port, conn.guest_port,
                            seq, ack, flags, window, payload, options)
        self.send_ip(conn.guest_ip, conn.far_ip, P.PROTO_TCP, seg)

    def watch(self, conn: TCPConn) -> None:
        if self.loop is not None and conn.sock is not None:
            self.loop.add_reader(conn.sock.fileno(), conn.readable, conn.wants_read)

    def forget(self, conn: TCPConn) -> None:
        if conn in self.connecting:
            self.connecting.remove(conn)
        if self.tcp.get(conn.key) is conn:
            del self.tcp[conn.key]
        if self.loop is not None and conn.sock is not None:
            self.loop.remove_reader(conn.sock.fileno())

    def log_host(self, conn: TCPConn, n: int) -> None:
        self._log_delivery(f"tcp {conn.describe()} " + (f"read {n}" if n else "eof"))

    # --- output -----------------------------------------------------------------------------
    def _next_ident(self) -> int:
        self._ident = (self._ident + 1) & 0xFFFF
        return self._ident

    def _learn(self, addr: bytes, mac: bytes) -> None:
        """A guest address's MAC: remember it, send what waited for it."""
        self.arp_table[addr] = mac
        for ip in self.await_arp.pop(addr, ()):
            self._send_eth(mac, ip)

    def send_ip(self, dst: bytes, src: bytes, proto: int, payload: bytes) -> None:
        ip = P.ipv4_packet(src, dst, proto, payload, self._next_ident())
        mac = self.arp_table.get(dst)
        if mac is None:                                  # ask; send when answered
            waiting = self.await_arp.setdefault(dst, [])
            if len(waiting) < ARP_WAIT:                  # (more: lost, TCP sends again)
                waiting.append(ip)
            gw = virtual_mac(self.config.host)
            req = P.arp_packet(1, gw, self.config.host, bytes(6), dst)
            self.deliver(P.eth_frame(P.BROADCAST_MAC, gw, P.ETH_ARP, req))
            return
        self._send_eth(mac, ip)

    def _send_eth(self, mac: bytes, ip: bytes) -> None:
        src = ip[12:16]
        self.stats["to_guest"] += 1
        self.deliver(P.eth_frame(mac, virtual_mac(src if self.config.contains(src)
                                                  else self.config.host), P.ETH_IP, ip))

    def _log_delivery(self, what: str) -> None:
        if log.enabled("net"):
            log.log("net", f"net {self.id}: host->guest #{self.stats['to_guest']}: {what}")

    # --- host I/O ---------------------------------------------------------------------------
    def poll(self) -> None:
        self._check_connects()
        now = self.now()
        for conn in list(self.tcp.values()):
            if conn.state not in (CLOSED, CONNECTING):
                conn.tick(now)
        host_now = time.monotonic()
        for flow in list(self.udp.values()):
            if host_now - flow.last > flow.expire:
                self._drop_udp(flow)
        for key in [k for k, v in self.udp_fwd.items() if host_now - v[2] > UDP_EXPIRE]:
            del self.udp_fwd[key]
        for gfwd in self.guestfwds.values():
            gfwd.reap()
        super().poll()

    def usernet_text(self) -> str:
        """``info usernet``: the connections, as slirp's connection_info lists them."""
        lines = [f"Hub -1 ({self.id}):",
                 "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ"]
        for fwd in self.forwards:
            lines.append(f"  {fwd.proto.upper()}[HOST_FORWARD] {fwd.fd:3d} {fwd.host_addr:>15} {fwd.host_port:5d} "
                         f"{P.ip_str(fwd.guest_ip(self)):>15} {fwd.guest_port:5d}     0     0")
        for conn in self.tcp.values():
            fd = conn.sock.fileno() if conn.sock is not None else -1
            lines.append(f"  TCP[{conn.state}] {fd:3d} {P.ip_str(conn.guest_ip):>15} "
                         f"{conn.guest_port:5d} {P.ip_str(conn.far_ip):>15} {conn.far_port:5d} "
                         f"{len(conn.to_host):5d} {len(conn.out):5d}")
        for flow in self.udp.values():
            gip, gport, fip, fport = flow.key
            lines.append(f"  UDP[{int(flow.expire - (time.monotonic() - flow.last))} sec] "
                         f"{flow.sock.fileno():3d} {P.ip_str(gip):>15} {gport:5d} "
                         f"{P.ip_str(fip):>15} {fport:5d}     0     0")
        return "\n".join(lines)
