"""The user network's DHCP server (RFC 2131/2132, as much as Linux clients use).

    server = DHCPServer(config)
    reply = server.handle(payload, client_mac)   # BOOTP payload in, reply payload or None

DISCOVER gets an OFFER, REQUEST (for the offered address, or none named) an ACK,
anything else a NAK or nothing; RELEASE frees the lease.  Each client MAC gets an
address from ``dhcpstart`` up (10.0.2.15 first) and keeps it.  The options given:
subnet mask, router (the gateway), DNS server, lease time, server identifier,
and the host name when configured.
"""
from __future__ import annotations

import struct
from typing import Dict, Optional

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
OPT_MASK, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME = 1, 3, 6, 12
OPT_REQUESTED_IP, OPT_LEASE, OPT_TYPE, OPT_SERVER_ID, OPT_END = 50, 51, 53, 54, 255
LEASE_SECONDS = 86400
NUM_LEASES = 16


def parse_options(data: bytes) -> Dict[int, bytes]:
    opts: Dict[int, bytes] = {}
    i = 0
    while i < len(data):
        code = data[i]
        if code == OPT_END:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        n = data[i + 1]
        opts[code] = data[i + 2:i + 2 + n]
        i += 2 + n
    return opts


class DHCPServer:
    def __init__(self, config):
        self.config = config
        self.leases: Dict[bytes, bytes] = {}      # client MAC -> address

    def _address_for(self, mac: bytes) -> Optional[bytes]:
        if mac in self.leases:
            return self.leases[mac]
        start = int.from_bytes(self.config.dhcp_start, "big")
        used = set(self.leases.values())
        for n in range(NUM_LEASES):
            addr = (start + n).to_bytes(4, "big")
            if addr not in used:
                self.leases[mac] = addr
                return addr
        return None

    def handle(self, payload: bytes, client_mac: bytes) -> Optional[bytes]:
        """The reply to a BOOTP/DHCP request, or None (malformed, or nothing to say)."""
        if len(payload) < 240 or payload[0] != 1 or payload[236:240] != MAGIC:
            return None
        opts = parse_options(payload[240:])
        kind = opts.get(OPT_TYPE, b"\0")[:1]
        kind = kind[0] if kind else 0
        chaddr = payload[28:34]
        if kind == RELEASE:
            self.leases.pop(chaddr, None)
            return None
        if kind not in (DISCOVER, REQUEST):
            return None
        addr = self._address_for(chaddr)
        if addr is None:
            return None
        reply_type = OFFER if kind == DISCOVER else ACK
        if kind == REQUEST:
            wanted = opts.get(OPT_REQUESTED_IP) or (payload[12:16] if payload[12:16] != bytes(4) else None)
            server = opts.get(OPT_SERVER_ID)
            if server is not None and server != self.config.host:
                return None                 # the client chose another server
            if wanted is not None and wanted != addr:
                reply_type = NAK
        return self._reply(payload, reply_type, addr)

    def _reply(self, request: bytes, reply_type: int, addr: bytes) -> bytes:
        cfg = self.config
        yiaddr = addr if reply_type != NAK else bytes(4)
        header = struct.pack("!BBBB", 2, 1, 6, 0) + request[4:8] + b"\0\0" + request[10:12] \
            + bytes(4) + yiaddr + cfg.host + bytes(4) + request[28:44] + bytes(64 + 128)
        opts = bytearray(MAGIC)
        opts += bytes((OPT_TYPE, 1, reply_type, OPT_SERVER_ID, 4)) + cfg.host
        if reply_type != NAK:
            opts += bytes((OPT_MASK, 4)) + cfg.netmask
            opts += bytes((OPT_ROUTER, 4)) + cfg.host
            opts += bytes((OPT_DNS, 4)) + cfg.dns
            opts += bytes((OPT_LEASE, 4)) + struct.pack("!I", LEASE_SECONDS)
            if cfg.hostname:
                name = cfg.hostname.encode()[:255]
                opts += bytes((OPT_HOSTNAME, len(name))) + name
        opts.append(OPT_END)
        reply = header + bytes(opts)
        return reply + bytes(max(0, 300 - len(reply)))
