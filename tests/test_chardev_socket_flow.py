"""Socket chardev flow control: nothing a guest writes is lost to a slow client, and a
client that hangs up while the guest reads nothing is noticed.

The chardevs are real (``pysystem.chardev.create``) with real unix and tcp peers; a
frontend stands for a UART (one that takes no input models a stopped guest).
"""
from __future__ import annotations

import hashlib
import socket
import threading
import time

import pytest

from pysystem import chardev as chardevs
from pysystem.chardev.socket import OUT_LIMIT
from pysystem.main_loop import MainLoop

TOTAL = 3 * OUT_LIMIT + 12345


@pytest.fixture
def loop():
    lp = MainLoop()
    yield lp
    chardevs.close_all()


def _pump(lp, until, timeout=10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lp.poll(0.02)
        if until():
            return True
    return False


def _pattern(n: int) -> bytes:
    block = bytes(range(256)) + b"\n"
    return (block * (n // len(block) + 1))[:n]


def test_a_slow_client_gets_every_byte(loop, tmp_path):
    path = str(tmp_path / "s.sock")
    c = chardevs.create({"backend": "socket", "path": path, "server": "on", "wait": "off"})
    c.set_handlers(lambda: 16, lambda data: None, lambda ev: None)
    c.open(loop)
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(path)
    assert _pump(loop, lambda: c.conn is not None)
    got = bytearray()

    def slow_reader():
        time.sleep(1.0)                 # nothing read while 3 MiB are written
        peer.settimeout(10)
        while len(got) < TOTAL:
            data = peer.recv(65536)
            if not data:
                break
            got.extend(data)
            time.sleep(0.001)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    data = _pattern(TOTAL)
    start = time.monotonic()
    for i in range(0, TOTAL, 4096):     # as a UART's stores come, many small writes
        c.write(data[i:i + 4096])
    blocked = time.monotonic() - start
    c.flush(10.0)
    reader.join(20)
    peer.close()
    assert len(got) == TOTAL
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert blocked > 0.5                # the writer waited for the reader, as QEMU's does


def test_a_peer_that_goes_away_unblocks_the_writer(loop, tmp_path):
    path = str(tmp_path / "s.sock")
    c = chardevs.create({"backend": "socket", "path": path, "server": "on", "wait": "off"})
    c.open(loop)
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(path)
    assert _pump(loop, lambda: c.conn is not None)
    threading.Timer(0.5, peer.close).start()
    data = _pattern(TOTAL)
    for i in range(0, TOTAL, 65536):
        c.write(data[i:i + 65536])      # blocks until the peer leaves, then drops
    assert c.conn is None


@pytest.mark.parametrize("telnet", [False, True])
def test_hang_up_while_the_guest_reads_nothing_lets_the_next_client_in(loop, telnet):
    c = chardevs.create({"backend": "socket", "host": "127.0.0.1", "port": "0",
                         "server": "on", "wait": "off", "telnet": "on" if telnet else "off"})
    taken = bytearray()
    room = [0]                          # a stopped guest: its UART takes nothing

    def take(data):
        taken.extend(data)
        room[0] -= len(data)

    c.set_handlers(lambda: room[0], take, lambda ev: None)
    c.open(loop)
    port = int(c.port)
    first = socket.create_connection(("127.0.0.1", port))
    assert _pump(loop, lambda: c.conn is not None)
    first.sendall(b"typed before hanging up")
    _pump(loop, lambda: False, 0.2)
    first.close()
    assert _pump(loop, lambda: c.conn is None, 5.0), "the hang-up was not noticed"
    second = socket.create_connection(("127.0.0.1", port))
    assert _pump(loop, lambda: c.conn is not None)
    second.sendall(b"+second")
    room[0] = 1000                      # the guest runs again
    c.accept_input()
    assert _pump(loop, lambda: b"+second" in taken)
    assert bytes(taken) == b"typed before hanging up+second"
    second.close()
