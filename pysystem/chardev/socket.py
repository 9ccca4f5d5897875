"""``socket``: tcp, telnet and unix sockets, as servers or clients.

    -chardev socket,id=ID,host=H,port=P[,server=on][,wait=off][,telnet=on][,reconnect=N]
    -chardev socket,id=ID,path=PATH[,server=on][,wait=off][,reconnect=N]
    -chardev socket,id=ID,fd=N     (an inherited socket: connected, or listening)
    -serial tcp:[HOST]:PORT[,server=on|server][,wait=off|nowait]    (and telnet:, unix:PATH)

A server listens for one client at a time (later clients wait in the
listen backlog until the current one leaves, as in QEMU).  With ``wait=on``,
QEMU's default for a server, ``open()`` blocks until the first client
connects and prints QEMU's line ("QEMU waiting for connection on: ...": the
same text, so scripts that wait for it keep working).  A client connects when
the chardev is created (an error if nobody listens) unless ``reconnect=N``
is given: then it retries every N seconds, also after the peer goes away.

Deliberate difference from QEMU: a tcp listener without a host (``tcp::4444``)
binds to loopback (127.0.0.1), not to every interface; give ``0.0.0.0`` to
listen on all of them.

Telnet (``telnet=on``, ``telnet:``) does QEMU's option negotiation on each new
connection (IAC WILL ECHO, WILL SUPPRESS-GO-AHEAD, WILL BINARY, DO BINARY),
strips the client's IAC sequences from the input, turns IAC IAC into one 0xFF
byte and IAC BREAK into a break event for the frontend.

Input is read in chunks of up to READ_CHUNK bytes whenever the frontend has
room for one; what it cannot take yet waits in the chardev and is handed on as
the guest takes bytes (the UART calls ``accept_input``), so a guest polling
a one-byte receive register gets a burst at its own pace, not one byte per
main-loop poll.  While input waits, the socket is not read (back-pressure).

Output while no peer is connected is dropped (QEMU does the same).  Output a
slow peer does not take is buffered and flushed from the main loop's poll hook;
nothing is ever dropped for a connected peer: when more than OUT_LIMIT bytes
wait, the writer (the guest's UART store) blocks until the peer has taken the
excess or gone, as QEMU's UARTs block in qemu_chr_fe_write_all.  While more than
OUT_PAUSE bytes wait, the peer's input is not read (so a QMP client that floods
requests gets every reply, and a monitor never blocks on its own output).  A
peer that hangs up while its input is not being read (a stopped guest, a full
receive FIFO) is noticed anyway, so the next client is taken; what it sent is
kept for the guest.  The frontend gets ``opened`` when a peer connects and
``closed`` when it leaves.
"""
from __future__ import annotations

import errno
import os
import select
import socket
import sys
import time
from typing import Any, Callable, Optional, Tuple

from ..qom import Property, register
from .base import EVENT_BREAK, EVENT_CLOSED, EVENT_OPENED, Chardev, ChardevError

IAC, SB, SE, BREAK = 255, 250, 240, 243
WILL, WONT, DO, DONT = 251, 252, 253, 254
OPT_BINARY, OPT_ECHO, OPT_SGA = 0, 1, 3
TELNET_INIT = bytes((IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA, IAC, WILL, OPT_BINARY,
                     IAC, DO, OPT_BINARY))
OUT_LIMIT = 1 << 20
OUT_PAUSE = 1 << 18     # stop reading the peer while this much output waits for it
READ_CHUNK = 4096       # read this much when the frontend has room at all: the rest
                        # waits in the chardev and follows as the guest takes bytes
DEFAULT_HOST = "127.0.0.1"
# a peer's hang-up seen without reading its data (Linux: POLLRDHUP; elsewhere none).
# PyPy 3.9's select module lacks the constant though Linux's poll() honours it: its
# value is 0x2000 there (asm-generic/poll.h), 0x800 on SPARC.
_POLLRDHUP = getattr(select, "POLLRDHUP", 0 if not sys.platform.startswith("linux") else
                     0x800 if os.uname().machine.startswith("sparc") else 0x2000)
_POLL_HUP = (_POLLRDHUP | select.POLLHUP | select.POLLERR
             if hasattr(select, "poll") else None)


def _bind(sock: socket.socket, addr: Any) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(addr)


def _connect(sock: socket.socket, addr: Any) -> None:
    sock.settimeout(5.0)
    sock.connect(addr)


class _PathProperty(Property):
    """``path`` is taken by the object tree (Object.path): keep the value as ``sock_path``."""

    __slots__ = ()

    @property
    def attr(self) -> str:
        return "sock_path"


@register
class SocketChardev(Chardev):
    TYPE = "chardev-socket"
    BACKEND = "socket"
    PROPERTIES = (
        Property("host", "str", None, "tcp: address to listen on or connect to"),
        Property("port", "str", None, "tcp: port number (or service name)"),
        _PathProperty("path", "str", None, "unix: socket file"),
        Property("server", "bool", False, "listen instead of connecting"),
        Property("wait", "bool", True, "server: wait for a client before starting"),
        Property("telnet", "bool", False, "speak telnet (option negotiation, IAC escapes)"),
        Property("tn3270", "bool", False, "tn3270 (not supported)"),
        Property("websocket", "bool", False, "websocket (not supported)"),
        Property("reconnect", "int", 0, "client: retry every N seconds when not connected"),
        Property("nodelay", "bool", False, "tcp: disable Nagle's algorithm"),
        Property("ipv4", "bool", False, "tcp: IPv4 only"),
        Property("ipv6", "bool", False, "tcp: IPv6 only"),
        Property("to", "int", None, "server: try ports up to this one"),
        Property("abstract", "bool", False, "unix: abstract namespace socket"),
        Property("tight", "bool", True, "unix abstract: address length as given"),
        Property("fd", "str", None, "an inherited socket (listening or connected)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        if self.tn3270 or self.websocket:
            raise ChardevError("chardev socket: tn3270 and websocket are not supported yet")
        if self.fd is not None:
            self._adopt_fd()
            return
        if self.sock_path is None and self.port is None:
            raise ChardevError("chardev: socket: no host given" if self.host is None
                               else "chardev: socket: no port given")
        if self.sock_path is not None and (self.host is not None or self.port is not None):
            raise ChardevError("chardev: socket: 'path' and 'host'/'port' are mutually exclusive")
        if self.reconnect < 0:
            raise ChardevError("chardev: socket: 'reconnect' must not be negative")
        if self.server and self.reconnect:
            raise ChardevError("'reconnect' option is incompatible with 'server' option")
        self.is_unix = self.sock_path is not None
        if not self.is_unix and not self.host:
            self.host = DEFAULT_HOST
        self.listener: Optional[socket.socket] = None
        self.conn: Optional[socket.socket] = None
        self.peer = ""
        self._out = bytearray()
        self._telnet_state = 0          # 0 data, 1 after IAC, 2 option byte, 3 in SB, 4 SB+IAC
        self._next_try = 0.0
        self._unlink = False
        if self.server:
            self._listen()
        else:
            try:
                self._connect()
            except OSError as e:
                if not self.reconnect:
                    raise ChardevError(f"Failed to connect to '{self.address_text()}': "
                                       f"{e.strerror or e}") from None
                self._next_try = time.monotonic() + self.reconnect

    def _adopt_fd(self) -> None:
        """``fd=N``: a socket the parent process made (socketpair, or a listener)."""
        try:
            fd = int(self.fd, 10)
            sock = socket.socket(fileno=fd)
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except (ValueError, OSError) as e:
            raise ChardevError(f"chardev: socket: fd={self.fd} is not a usable socket: "
                               f"{getattr(e, 'strerror', None) or e}") from None
        self.is_unix = sock.family == socket.AF_UNIX
        self.sock_path = None
        if not self.is_unix:
            self.host = self.host or DEFAULT_HOST
        self.listener = self.conn = None
        self.peer = ""
        self._out = bytearray()
        self._telnet_state = 0
        self._next_try = 0.0
        self._unlink = False
        if listening:
            sock.setblocking(False)
            self.server = True
            self.listener = sock
        else:
            self.server, self.reconnect = False, 0
            self._attach(sock)

    # --- addresses ------------------------------------------------------------------
    def address_text(self) -> str:
        if self.is_unix:
            return self.sock_path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _addrinfo(self):
        family = socket.AF_UNSPEC
        if self.ipv4:
            family = socket.AF_INET
        elif self.ipv6:
            family = socket.AF_INET6
        try:
            return socket.getaddrinfo(self.host, self.port, family, socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise ChardevError(f"address resolution failed for {self.address_text()}: "
                               f"{getattr(e, 'strerror', None) or e}") from None

    def _unix_address(self):
        if self.abstract:
            return "\0" + self.sock_path
        return self.sock_path

    def filename(self) -> str:
        """QEMU's filename: ``disconnected:tcp:H:P,server=on`` or ``tcp:H:P,server=on <-> PEER``."""
        if self.fd is not None:
            base = f"fd:{self.fd}"
        elif self.is_unix:
            base = f"unix:{self.sock_path}"
        else:
            base = f"{'telnet' if self.telnet else 'tcp'}:{self.address_text()}"
        if self.server:
            base += ",server=on"
        if self.conn is None:
            return "disconnected:" + base
        if self.is_unix or not self.peer:
            return base
        return f"{base} <-> {self.peer}"

    def _first_address(self, use: Callable[[socket.socket, Any], None]
                       ) -> Tuple[Optional[socket.socket], Optional[OSError]]:
        """A socket for the first of the address's resolutions that ``use(sock, addr)``
        (bind or connect) succeeds on, and the error of the last that failed; the
        sockets that failed are closed."""
        last: Optional[OSError] = None
        for family, kind, proto, _, addr in self._addrinfo():
            sock = socket.socket(family, kind, proto)
            try:
                use(sock, addr)
            except OSError as e:
                last = e
                sock.close()
                continue
            return sock, last
        return None, last

    # --- server ---------------------------------------------------------------------
    def _listen(self) -> None:
        if self.is_unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if not self.abstract and os.path.exists(self.sock_path):
                try:
                    os.unlink(self.sock_path)       # a stale socket from an earlier run
                except OSError:
                    pass
            try:
                sock.bind(self._unix_address())
            except OSError as e:
                sock.close()
                raise ChardevError(f"Failed to bind socket to {self.sock_path}: "
                                   f"{e.strerror}") from None
            self._unlink = not self.abstract
        else:
            sock = None
            last = None
            first = int(self.port) if str(self.port).isdigit() else None
            ports = [self.port]
            if self.to is not None and first is not None:
                ports = [str(p) for p in range(first, self.to + 1)]
            for port in ports:
                self.port = port
                sock, last = self._first_address(_bind)
                if sock is not None:
                    break
            if sock is None:
                why = last.strerror if last else "no address"
                raise ChardevError(f"Failed to bind socket: {why}")
            if str(self.port) == "0":
                self.port = str(sock.getsockname()[1])
        sock.listen(1)
        sock.setblocking(False)
        self.listener = sock

    def open(self, loop) -> None:
        """Start watching the socket; a ``wait=on`` server first waits for its client."""
        if self.loop is not None:
            return
        if self.server and self.wait and self.conn is None:
            where = f"{self.origin}: " if self.origin else ""
            sys.stderr.write(f"{self.program}: {where}info: QEMU waiting for connection on: "
                             f"{self.filename()}\n")
            sys.stderr.flush()
            while self.conn is None and self.listener is not None:
                select.select([self.listener], [], [], 1.0)
                self._accept()
        self.loop = loop
        if loop is not None:
            if self.listener is not None:
                loop.add_reader(self.listener.fileno(), self._accept,
                                lambda: self.conn is None)
            loop.add_poll_hook(self._poll_hook)
        if self.conn is not None:
            self.is_open = True
            self._watch_conn()
            self.send_event(EVENT_OPENED)

    def _accept(self) -> None:
        if self.conn is not None or self.listener is None:
            return
        try:
            conn, addr = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if isinstance(addr, tuple):
            host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
            self.peer = f"{host}:{addr[1]}"
        self._attach(conn)

    # --- client ---------------------------------------------------------------------
    def _connect(self) -> None:
        if self.is_unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5.0)
            try:
                sock.connect(self._unix_address())
            except OSError:
                sock.close()
                raise
        else:
            sock, last = self._first_address(_connect)
            if sock is None:
                raise last or OSError(errno.ECONNREFUSED, "Connection refused")
            peer = sock.getpeername()
            self.peer = f"{peer[0]}:{peer[1]}"
        self._attach(sock)

    def _poll_hook(self) -> None:
        if self._out:
            self._flush()
        if self.conn is not None and not self._ready():
            self._check_hangup()
        if (not self.server and self.reconnect and self.conn is None
                and time.monotonic() >= self._next_try):
            try:
                self._connect()
            except (OSError, ChardevError):
                self._next_try = time.monotonic() + self.reconnect

    # --- a connection ---------------------------------------------------------------
    def _attach(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if not self.is_unix and self.nodelay:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        self._telnet_state = 0
        self._out.clear()
        if self.telnet:
            self._send(TELNET_INIT)
        if self.loop is not None:
            self.is_open = True
            self._watch_conn()
            self.send_event(EVENT_OPENED)

    def _watch_conn(self) -> None:
        if self.loop is not None and self.conn is not None:
            self.loop.add_reader(self.conn.fileno(), self._readable, self._ready)

    def _ready(self) -> bool:
        # a peer that does not read what we send is not read from either (back-pressure:
        # a QMP client flooding requests waits for its replies instead of losing them)
        return (self.conn is not None and len(self._out) < OUT_PAUSE
                and self.can_accept() > 0)

    def _readable(self) -> None:
        if self.conn is None:
            return
        if self.can_accept() > 0:
            self._receive()

    def _receive(self) -> bool:
        """One read from the connection: what came is delivered (telnet commands taken
        out), an end of file or a broken connection disconnects.  False when there
        was nothing to read yet (the socket would block)."""
        try:
            data = self.conn.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:
            self._disconnect()
        elif self.telnet:
            data = self._strip_telnet(data)
        if data:
            self.deliver(data)              # kept as pending input if the frontend is full
        return True

    def _strip_telnet(self, data: bytes) -> bytes:
        out = bytearray()
        state = self._telnet_state
        for b in data:
            if state == 0:
                if b == IAC:
                    state = 1
                else:
                    out.append(b)
            elif state == 1:
                if b == IAC:
                    out.append(IAC)
                    state = 0
                elif b == BREAK:
                    if out:
                        self.deliver(bytes(out))
                        out.clear()
                    self.send_event(EVENT_BREAK)
                    state = 0
                elif b in (WILL, WONT, DO, DONT):
                    state = 2
                elif b == SB:
                    state = 3
                else:
                    state = 0           # NOP, GA, AYT, ...: nothing to do
            elif state == 2:
                state = 0               # the option byte of WILL/WONT/DO/DONT
            elif state == 3:
                if b == IAC:
                    state = 4
            else:                       # state 4: IAC inside a subnegotiation
                state = 0 if b == SE else 3
        self._telnet_state = state
        return bytes(out)

    def _check_hangup(self) -> None:
        """Notice a peer that hung up while its input is not being read (the guest
        is stopped or its receive FIFO full): what it sent before is kept as pending
        input (up to MAX_PENDING), and the listener can take the next client."""
        if _POLL_HUP is None:
            return
        poller = select.poll()
        poller.register(self.conn.fileno(), _POLL_HUP)
        if not poller.poll(0):
            return
        while self.conn is not None and self._receive():
            pass                    # until the hang-up (or, after all, no end yet)

    def _disconnect(self) -> None:
        conn, self.conn = self.conn, None
        self.peer = ""
        self.is_open = False
        self._out.clear()
        if conn is not None:
            if self.loop is not None:
                self.loop.remove_reader(conn.fileno())
            try:
                conn.close()
            except OSError:
                pass
            self.send_event(EVENT_CLOSED)
        if not self.server and self.reconnect:
            self._next_try = time.monotonic() + self.reconnect

    # --- output ---------------------------------------------------------------------
    def _write(self, data: bytes) -> int:
        if self.conn is None:
            return len(data)            # nobody connected: dropped, as QEMU does
        self._send(data)
        return len(data)

    def _send(self, data: bytes) -> None:
        self._out += data
        self._flush()
        if len(self._out) > OUT_LIMIT:
            self._wait_for_peer()

    def _wait_for_peer(self) -> None:
        """Block until the peer has taken all but OUT_LIMIT bytes (or has gone): what
        QEMU does to a UART writing to a socket nobody reads (qemu_chr_fe_write_all)."""
        while len(self._out) > OUT_LIMIT and self.conn is not None:
            try:
                select.select([], [self.conn], [], 1.0)
            except InterruptedError:
                pass
            self._flush()

    def _flush(self) -> None:
        while self._out and self.conn is not None:
            try:
                n = self.conn.send(self._out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._disconnect()
                return
            del self._out[:n]

    def flush(self, timeout: float = 1.0) -> None:
        """Push buffered output out, waiting at most ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while self._out and self.conn is not None:
            left = end - time.monotonic()
            if left <= 0:
                return
            select.select([], [self.conn], [], left)
            self._flush()

    def _close(self) -> None:
        if self.conn is not None:
            self.flush(0.5)
            if self.loop is not None:
                self.loop.remove_reader(self.conn.fileno())
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None
        if self.listener is not None:
            if self.loop is not None:
                self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
            self.listener = None
            if self._unlink:
                try:
                    os.unlink(self.sock_path)
                except OSError:
                    pass


def parse_socket_legacy(kind: str, rest: str) -> dict:
    """Options for ``tcp:[HOST]:PORT[,opts]``, ``telnet:...`` and ``unix:PATH[,opts]``.

    Accepts QEMU 7.2's ``server=on,wait=off`` and the older ``server,nowait``.
    """
    opts = {"backend": "socket"}
    parts = rest.split(",")
    addr, flags = parts[0], parts[1:]
    if kind == "unix":
        if not addr:
            raise ChardevError("chardev: unix: no path given")
        opts["path"] = addr
    else:
        host, sep, port = addr.rpartition(":")
        if not sep or not port:
            raise ChardevError(f"chardev: {kind}: expected [HOST]:PORT, got '{addr}'")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if host:
            opts["host"] = host
        opts["port"] = port
        if kind == "telnet":
            opts["telnet"] = "on"
    for flag in flags:
        if not flag:
            continue
        key, eq, value = flag.partition("=")
        if not eq:
            if key == "nowait":
                key, value = "wait", "off"
            elif key == "nodelay":
                value = "on"
            else:
                value = "on"
        opts[key] = value
    return opts
