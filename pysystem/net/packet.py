"""Ethernet, ARP, IPv4, ICMP, UDP and TCP headers: parse what a guest sends, build replies.

    eth = parse_eth(frame)                 # Eth(dst, src, type, payload) or None
    ip = parse_ipv4(eth.payload)           # IPv4(...) or None (bad header, fragment)
    frame = eth_frame(dst, src, ETH_IP, ipv4_packet(src_ip, dst_ip, PROTO_UDP, udp))

Addresses are ``bytes`` (6 for MAC, 4 for IPv4).  Parsers return None for anything
malformed and put the reason in ``why`` (the caller counts and logs it); they never
raise on guest data.  Checksums are verified for IPv4 headers, ICMP, UDP (when not 0)
and TCP.
"""
from __future__ import annotations

import socket
import struct
from typing import List, NamedTuple, Optional

from pysystem import log

ETH_IP, ETH_ARP = 0x0800, 0x0806
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
BROADCAST_MAC = b"\xff" * 6
ETH_HLEN = 14

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

why: List[str] = [""]       # the reason the last parser returned None


def _bad(reason: str) -> None:
    why[0] = reason
    return None


def ip_str(addr: bytes) -> str:
    return socket.inet_ntoa(addr)


def ip_bytes(text: str) -> bytes:
    return socket.inet_aton(text)


def mac_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def checksum(data: bytes, initial: int = 0) -> int:
    """The Internet checksum (RFC 1071) of ``data``, folded, complemented."""
    if len(data) & 1:
        data += b"\0"
    total = initial + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> int:
    return sum(struct.unpack("!4H", src + dst)) + proto + length


class Eth(NamedTuple):
    dst: bytes
    src: bytes
    type: int
    payload: bytes


class IPv4(NamedTuple):
    src: bytes
    dst: bytes
    proto: int
    ttl: int
    ident: int
    payload: bytes


class UDP(NamedTuple):
    sport: int
    dport: int
    payload: bytes


class TCP(NamedTuple):
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    options: bytes
    payload: bytes


class ARP(NamedTuple):
    op: int
    sha: bytes
    spa: bytes
    tha: bytes
    tpa: bytes


def parse_eth(frame: bytes) -> Optional[Eth]:
    if len(frame) < ETH_HLEN:
        return _bad(f"runt frame of {len(frame)} bytes")
    etype = struct.unpack_from("!H", frame, 12)[0]
    return Eth(frame[0:6], frame[6:12], etype, frame[ETH_HLEN:])


def eth_frame(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", etype) + payload


def parse_arp(data: bytes) -> Optional[ARP]:
    if len(data) < 28:
        return _bad("short ARP packet")
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", data)
    if htype != 1 or ptype != ETH_IP or hlen != 6 or plen != 4:
        return _bad("ARP packet not Ethernet/IPv4")
    return ARP(op, data[8:14], data[14:18], data[18:24], data[24:28])


def arp_packet(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return struct.pack("!HHBBH", 1, ETH_IP, 6, 4, op) + sha + spa + tha + tpa


def parse_ipv4(data: bytes) -> Optional[IPv4]:
    if len(data) < 20:
        return _bad("short IPv4 header")
    vihl, _tos, total, ident, frag, ttl, proto = struct.unpack_from("!BBHHHBB", data)
    ihl = (vihl & 0xF) * 4
    if vihl >> 4 != 4 or ihl < 20 or total < ihl or total > len(data):
        return _bad(f"bad IPv4 header (version/ihl 0x{vihl:02x}, length {total} of {len(data)})")
    if checksum(data[:ihl]) != 0:
        return _bad("bad IPv4 header checksum")
    if frag & 0x3FFF:                  # more fragments, or an offset: not reassembled
        return _bad("IPv4 fragment (not reassembled)")
    return IPv4(data[12:16], data[16:20], proto, ttl, ident, data[ihl:total])


def ipv4_packet(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int = 0,
                ttl: int = 64) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF,
                         0x4000, ttl, proto, 0, src, dst)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def parse_udp(ip: IPv4) -> Optional[UDP]:
    data = ip.payload
    if len(data) < 8:
        return _bad("short UDP header")
    sport, dport, length, csum = struct.unpack_from("!HHHH", data)
    if length < 8 or length > len(data):
        return _bad(f"bad UDP length {length} of {len(data)}")
    if csum and checksum(data[:length], _pseudo(ip.src, ip.dst, PROTO_UDP, length)) != 0:
        return _bad("bad UDP checksum")
    return UDP(sport, dport, data[8:length])


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    csum = checksum(header + payload, _pseudo(src, dst, PROTO_UDP, length)) or 0xFFFF
    return header[:6] + struct.pack("!H", csum) + payload


def parse_tcp(ip: IPv4) -> Optional[TCP]:
    data = ip.payload
    if len(data) < 20:
        return _bad("short TCP header")
    sport, dport, seq, ack, off, flags, window = struct.unpack_from("!HHIIBBH", data)
    hlen = (off >> 4) * 4
    if hlen < 20 or hlen > len(data):
        return _bad(f"bad TCP data offset {hlen}")
    if checksum(data, _pseudo(ip.src, ip.dst, PROTO_TCP, len(data))) != 0:
        return _bad("bad TCP checksum")
    return TCP(sport, dport, seq, ack, flags, window, data[20:hlen], data[hlen:])


def tcp_segment(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int,
                flags: int, window: int, payload: bytes = b"", options: bytes = b"") -> bytes:
    options += bytes(-len(options) % 4)
    hlen = 20 + len(options)
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                         (hlen // 4) << 4, flags, min(window, 0xFFFF), 0, 0) + options
    csum = checksum(header + payload, _pseudo(src, dst, PROTO_TCP, hlen + len(payload)))
    return header[:16] + struct.pack("!H", csum) + header[18:] + payload


def tcp_mss(options: bytes) -> Optional[int]:
    """The MSS option of a SYN's options, if any."""
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            break
        if kind == 2 and options[i + 1] == 4 and i + 4 <= len(options):
            return struct.unpack_from("!H", options, i + 2)[0]
        i += options[i + 1]
    return None


def parse_icmp(ip: IPv4) -> Optional[bytes]:
    """The ICMP message (type, code, checksum, rest) if its checksum holds."""
    if len(ip.payload) < 8:
        return _bad("short ICMP message")
    if checksum(ip.payload) != 0:
        return _bad("bad ICMP checksum")
    return ip.payload


def icmp_message(icmp_type: int, code: int, rest: bytes) -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


NEEDS_CSUM = 1                  # virtio-net header flag: the checksum is left partial


class PartialFrame(bytes):
    """A frame whose checksum the host left partial (a tap's virtio-net header with
    NEEDS_CSUM): the 16 bits at csum_start+csum_offset hold the pseudo-header's sum,
    to be completed over frame[csum_start:]."""

    def __new__(cls, data: bytes, csum_start: int, csum_offset: int):
        frame = super().__new__(cls, data)
        frame.csum_start, frame.csum_offset = csum_start, csum_offset
        return frame


def complete_checksum(frame: bytes, start: int, offset: int) -> bytes:
    """``frame`` with the Internet checksum of frame[start:] folded into the 16 bits at
    start+offset (which hold the pseudo-header's sum); a place outside the frame leaves
    it as it is (logged under guest_errors)."""
    if start + offset + 2 > len(frame):
        log.log("guest_errors", f"net: checksum at {start}+{offset} is outside a "
                                f"{len(frame)}-byte frame")
        return bytes(frame)
    out = bytearray(frame)
    struct.pack_into("!H", out, start + offset, checksum(bytes(frame[start:])))
    return bytes(out)
