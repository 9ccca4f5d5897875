"""TCP connections of the user network: the guest's segments on one side, a
non-blocking host socket on the other (what slirp's tcp_input/tcp_output do).

The user network plays the far end of every guest connection.  A guest SYN starts
a non-blocking ``connect`` on the host; its outcome answers the guest with SYN-ACK
or RST.  A host connection accepted by a ``hostfwd`` listener sends the guest a
SYN (``TCPConn.forwarded``).  Then:

  * guest -> host: in-order data is buffered (at most RCV_BUF bytes, which is the
    window advertised to the guest) and written to the host socket as it takes it;
    a slow host peer closes the window, never blocks the emulator.  Out-of-order
    segments are dropped and the expected sequence number ACKed again.
  * host -> guest: the socket is read only while fewer than SND_BUF bytes wait for
    the guest's ACK; segments of at most the guest's MSS are sent inside the window
    the guest advertised (no window scaling is negotiated).  Unacknowledged data is
    sent again, go-back-N, after RTO seconds of the guest's virtual time without
    progress, doubling each time (not counting time in which frames still wait in
    the queue towards the NIC): the link itself never loses a frame, so this only
    covers frames the guest dropped, and a slow host never causes it.
  * closing: a guest FIN half-closes the host socket once the buffered data is
    written; host EOF becomes a FIN to the guest after the data; the connection
    ends when both FINs are acknowledged.  A guest RST closes the host socket with
    a reset (SO_LINGER 0); a host reset or error sends the guest RST.

Not modelled: window scaling, SACK, timestamps, urgent data, TIME_WAIT, a zero
window probe from our side (the guest's window update reopens the flow).
"""
from __future__ import annotations

import errno
import socket
import struct

from pysystem import log

from .packet import TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, ip_str, tcp_mss

RCV_BUF = 65535             # guest -> host bytes buffered: our advertised window
SND_BUF = 256 * 1024        # host -> guest bytes read ahead of the guest's ACKs
DEFAULT_MSS, MAX_MSS = 536, 1460
RTO = 1.0                   # guest seconds without progress before resending (doubling)
MAX_RETRIES = 8
RECV_CHUNK = 65536

CONNECTING, SYN_SENT, SYN_RCVD, ESTABLISHED, CLOSED = (
    "CONNECTING", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSED")


def seq_lt(a: int, b: int) -> bool:
    return ((a - b) & 0xFFFFFFFF) >= 0x80000000


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


class TCPConn:
    """One guest connection.  ``net`` is the UserNet: it sends segments
    (``net.send_tcp``) and watches the socket (``net.watch``/``unwatch``)."""

    def __init__(self, net, sock: socket.socket, guest_ip: bytes, guest_port: int,
                 far_ip: bytes, far_port: int, iss: int):
        self.net = net
        self.sock = sock
        self.guest_ip, self.guest_port = guest_ip, guest_port
        self.far_ip, self.far_port = far_ip, far_port
        self.state = CONNECTING
        self.iss = iss & 0xFFFFFFFF
        self.snd_una = self.snd_nxt = self.iss
        self.snd_wnd = 0
        self.rcv_nxt = 0
        self.mss = DEFAULT_MSS
        self.out = bytearray()          # host data from snd_una on (unacked + unsent)
        self.to_host = bytearray()      # guest data not yet written to the host
        self.host_eof = False           # the host closed its side (all read)
        self.host_shut = False          # we half-closed the host socket
        self.guest_fin = False          # the guest's FIN arrived (in order)
        self.fin_sent = False
        self.fin_acked = False
        self.last_progress = self.net.now()
        self.retries = 0
        self.adv_wnd = RCV_BUF
        self.forwarded = False

    @property
    def key(self):
        return (self.guest_ip, self.guest_port, self.far_ip, self.far_port)

    def describe(self) -> str:
        return (f"{ip_str(self.far_ip)}:{self.far_port} <-> "
                f"{ip_str(self.guest_ip)}:{self.guest_port}")

    # --- sending to the guest ---------------------------------------------------------------
    def _rcv_window(self) -> int:
        return max(0, RCV_BUF - len(self.to_host))

    def _emit(self, flags: int, seq: int, payload: bytes = b"", options: bytes = b"") -> None:
        window = self._rcv_window()
        self.adv_wnd = window
        self.net.send_tcp(self, flags, seq, self.rcv_nxt if flags & TCP_ACK else 0,
                          window, payload, options)

    def _ack(self) -> None:
        self._emit(TCP_ACK, self.snd_nxt)

    def _syn_options(self) -> bytes:
        return struct.pack("!BBH", 2, 4, MAX_MSS)

    def send_syn(self) -> None:
        """hostfwd: open the connection towards the guest."""
        self.state = SYN_SENT
        self.forwarded = True
        self.snd_nxt = (self.iss + 1) & 0xFFFFFFFF
        self.last_progress = self.net.now()
        self.net.send_tcp(self, TCP_SYN, self.iss, 0, RCV_BUF, b"", self._syn_options())

    def connected(self) -> None:
        """The host connect() succeeded: answer the guest's SYN."""
        self.state = SYN_RCVD
        self.snd_nxt = (self.iss + 1) & 0xFFFFFFFF
        self.last_progress = self.net.now()
        self._emit(TCP_SYN | TCP_ACK, self.iss, b"", self._syn_options())

    def reset_guest(self) -> None:
        """Abort towards the guest (host refused or reset the connection)."""
        seq = self.snd_nxt if self.state != CONNECTING else 0
        self.net.send_tcp(self, TCP_RST | TCP_ACK, seq, self.rcv_nxt, 0, b"", b"")
        self.close()

    def push(self) -> None:
        """Send what the guest's window allows, then a FIN after the host's EOF."""
        if self.state != ESTABLISHED:
            return
        in_flight = (self.snd_nxt - self.snd_una) & 0xFFFFFFFF
        if self.fin_sent:
            return
        while True:
            room = self.snd_wnd - in_flight
            unsent = len(self.out) - in_flight
            if unsent <= 0 or room <= 0:
                break
            n = min(unsent, room, self.mss)
            data = bytes(self.out[in_flight:in_flight + n])
            flags = TCP_ACK | (TCP_PSH if n == unsent else 0)
            self._emit(flags, self.snd_nxt, data)
            self.snd_nxt = (self.snd_nxt + n) & 0xFFFFFFFF
            in_flight += n
        if self.host_eof and in_flight == len(self.out) and not self.fin_sent:
            self._emit(TCP_FIN | TCP_ACK, self.snd_nxt)
            self.snd_nxt = (self.snd_nxt + 1) & 0xFFFFFFFF
            self.fin_sent = True

    # --- segments from the guest ------------------------------------------------------------
    def segment(self, tcp: TCP) -> None:
        flags = tcp.flags
        if flags & TCP_RST:
            self._abort_host()
            return
        if self.state == CONNECTING:
            return                      # a repeated SYN while the host connects
        if self.state == SYN_SENT:
            if flags & TCP_SYN and flags & TCP_ACK and tcp.ack == self.snd_nxt:
                self.rcv_nxt = (tcp.seq + 1) & 0xFFFFFFFF
                self.snd_una = tcp.ack
                self._opened(tcp)
                self._ack()
                self.push()
            elif flags & TCP_ACK:
                self.net.send_tcp(self, TCP_RST, tcp.ack, 0, 0, b"", b"")
            return
        if flags & TCP_SYN:
            if self.state == SYN_RCVD:  # our SYN-ACK went unanswered: again
                self._emit(TCP_SYN | TCP_ACK, self.iss, b"", self._syn_options())
            else:
                self._ack()
            return
        if not flags & TCP_ACK:
            return
        if self.state == SYN_RCVD:
            if tcp.ack != self.snd_nxt:
                self.net.send_tcp(self, TCP_RST, tcp.ack, 0, 0, b"", b"")
                return
            self.snd_una = tcp.ack
            self._opened(tcp)
        self._take_ack(tcp)
        need_ack = False
        if tcp.payload or flags & TCP_FIN:
            need_ack = True
            if tcp.seq == self.rcv_nxt and not self.guest_fin:
                take = min(len(tcp.payload), self._rcv_window())
                if take:
                    self.to_host += tcp.payload[:take]
                    self.rcv_nxt = (self.rcv_nxt + take) & 0xFFFFFFFF
                if flags & TCP_FIN and take == len(tcp.payload):
                    self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
                    self.guest_fin = True
        self.write_host()
        if need_ack:
            self._ack()
        self.push()
        self._maybe_done()

    def _opened(self, tcp: TCP) -> None:
        self.state = ESTABLISHED
        self.snd_wnd = tcp.window
        mss = tcp_mss(tcp.options) if tcp.flags & TCP_SYN else None
        if mss:
            self.mss = max(64, min(mss, MAX_MSS))
        self.last_progress = self.net.now()
        self.retries = 0
        self.net.watch(self)

    def syn_from_guest(self, tcp: TCP) -> None:
        self.rcv_nxt = (tcp.seq + 1) & 0xFFFFFFFF
        mss = tcp_mss(tcp.options)
        if mss:
            self.mss = max(64, min(mss, MAX_MSS))
        self.snd_wnd = tcp.window

    def _take_ack(self, tcp: TCP) -> None:
        ack = tcp.ack
        if seq_lt(self.snd_una, ack) and seq_le(ack, self.snd_nxt):
            acked = (ack - self.snd_una) & 0xFFFFFFFF
            if self.fin_sent and ack == self.snd_nxt:
                self.fin_acked = True
                acked -= 1
            del self.out[:acked]
            self.snd_una = ack
            self.last_progress = self.net.now()
            self.retries = 0
        if seq_le(self.snd_una, ack):
            self.snd_wnd = tcp.window

    # --- the host side ------------------------------------------------------------------------
    def wants_read(self) -> bool:
        return (self.state == ESTABLISHED and not self.host_eof and self.sock is not None
                and len(self.out) < SND_BUF)

    def readable(self) -> None:
        """The host socket has data (or EOF, or an error)."""
        if not self.wants_read():
            return
        try:
            data = self.sock.recv(min(RECV_CHUNK, SND_BUF - len(self.out)))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._host_failed(e)
            return
        if data:
            self.out += data
            self.net.log_host(self, len(data))
        else:
            self.host_eof = True
            self.net.log_host(self, 0)
        self.push()
        self._maybe_done()

    def write_host(self) -> None:
        if self.sock is None or self.state not in (ESTABLISHED,):
            return
        if self.to_host:
            try:
                n = self.sock.send(self.to_host)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as e:
                self._host_failed(e)
                return
            del self.to_host[:n]
        if self.guest_fin and not self.to_host and not self.host_shut:
            self.host_shut = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _host_failed(self, e: OSError) -> None:
        log.log("net", f"net {self.net.id}: tcp {self.describe()}: host error "
                       f"{errno.errorcode.get(e.errno, e.errno)}: resetting the guest")
        self.reset_guest()

    def _abort_host(self) -> None:
        if self.sock is not None:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.close()

    def _maybe_done(self) -> None:
        if self.state == ESTABLISHED and self.guest_fin and self.fin_acked and self.host_shut:
            self.close()

    def close(self) -> None:
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self.net.forget(self)
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # --- timers (host time, at each poll) -----------------------------------------------------
    def tick(self, now: float) -> None:
        if self.state == ESTABLISHED:
            self.write_host()
            if self.state != ESTABLISHED:
                return
            window = self._rcv_window()
            if window >= self.adv_wnd + min(self.mss, RCV_BUF // 2) or (window and not self.adv_wnd):
                self._ack()             # the window reopened: tell the guest
            self.push()
            self._maybe_done()
        if self.state in (SYN_SENT, SYN_RCVD, ESTABLISHED) and self.snd_una != self.snd_nxt:
            if self.net.pending:        # frames still wait for the NIC: the guest is
                self.last_progress = now    # slow, nothing was lost
            elif now - self.last_progress > RTO * (1 << min(self.retries, 6)):
                self._retransmit(now)

    def _retransmit(self, now: float) -> None:
        self.retries += 1
        if self.retries > MAX_RETRIES:
            log.log("net", f"net {self.net.id}: tcp {self.describe()}: the guest acknowledges "
                           "nothing: resetting it")
            self.reset_guest()
            return
        self.last_progress = now
        if self.state == SYN_SENT:
            self.net.send_tcp(self, TCP_SYN, self.iss, 0, RCV_BUF, b"", self._syn_options())
        elif self.state == SYN_RCVD:
            self._emit(TCP_SYN | TCP_ACK, self.iss, b"", self._syn_options())
        else:
            self.snd_nxt = self.snd_una
            self.fin_sent = False
            self.push()
