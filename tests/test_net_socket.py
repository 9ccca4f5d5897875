"""``-netdev socket``: frames between two backends over a real TCP connection, and
QEMU's stream format (a 32-bit big-endian length before each frame) seen from a raw
host socket."""
from __future__ import annotations

import socket
import struct
import time

import pytest

from pysystem.main_loop import MainLoop
from pysystem.net.options import NetOptions
from pysystem.net.socket_net import SocketNet


class Wire:
    TYPE = "test-nic"
    mac = "52:54:00:12:34:56"

    def __init__(self):
        self.frames = []

    def receive(self, frame):
        self.frames.append(bytes(frame))
        return True


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _until(loop, cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        loop.poll(0.02)


def _frame(n: int) -> bytes:
    return b"\xff" * 6 + b"\x52\x54\x00\x00\x00" + bytes((n,)) + b"\x08\x00" + bytes([n]) * (40 + n)


def test_two_backends_exchange_frames_both_ways():
    port = _free_port()
    loop = MainLoop()
    a = SocketNet("a", listen=f":{port}")
    b = SocketNet("b", connect=f"127.0.0.1:{port}")
    wa, wb = Wire(), Wire()
    a.attach(wa)
    b.attach(wb)
    a.open(loop)
    b.open(loop)
    try:
        _until(loop, lambda: a.sock is not None)
        for n in range(20):
            b.send(_frame(n))
            a.send(_frame(100 + n))
        _until(loop, lambda: len(wa.frames) == 20 and len(wb.frames) == 20)
        assert wa.frames == [_frame(n) for n in range(20)]
        assert wb.frames == [_frame(100 + n) for n in range(20)]
        assert "listen=127.0.0.1" in a.info() and "connect=127.0.0.1" in b.info()
    finally:
        a.close()
        b.close()


def test_stream_format_is_qemus():
    port = _free_port()
    loop = MainLoop()
    a = SocketNet("a", listen=f"127.0.0.1:{port}")
    w = Wire()
    a.attach(w)
    a.open(loop)
    peer = socket.create_connection(("127.0.0.1", port))
    try:
        _until(loop, lambda: a.sock is not None)
        f1, f2 = _frame(1), _frame(2)
        data = struct.pack("!I", len(f1)) + f1 + struct.pack("!I", len(f2)) + f2
        peer.sendall(data[:7])                      # frames split anywhere
        loop.poll(0.05)
        peer.sendall(data[7:])
        _until(loop, lambda: len(w.frames) == 2)
        assert w.frames == [f1, f2]
        a.send(_frame(3))
        peer.settimeout(5)
        got = b""
        while len(got) < 4 + len(_frame(3)):
            got += peer.recv(4096)
        assert got == struct.pack("!I", len(_frame(3))) + _frame(3)
        peer.sendall(struct.pack("!I", 1 << 30))    # nonsense length: the peer is dropped
        _until(loop, lambda: a.sock is None)
    finally:
        peer.close()
        a.close()


@pytest.mark.parametrize("text,msg", [
    ("socket,id=s", "exactly one of listen="),
    ("socket,id=s,listen=:99999", "expects host:port"),
    ("socket,id=s,udp=127.0.0.1:5000", "udp= needs localaddr="),
    ("socket,id=s,fd=3", "Invalid parameter 'fd'"),
])
def test_bad_socket_options(text, msg):
    with pytest.raises(ValueError, match=msg):
        NetOptions().netdev(text)
