"""``-netdev tap``: the guest's frames on a host TAP interface (Linux /dev/net/tun).

    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no
    -netdev tap,id=n0[,ifname=NAME][,script=FILE][,downscript=FILE]

The interface is made (or attached, if it exists and we may) with TUNSETIFF and
IFF_TAP|IFF_NO_PI: each read is one Ethernet frame, each write sends one.  As
QEMU, ``script`` (default /etc/qemu-ifup) runs with the interface's name as its
argument after the interface is made, ``downscript`` (default /etc/qemu-ifdown)
when the network closes; ``no`` runs nothing.  Errors use QEMU 7.2's words:
"could not open /dev/net/tun: ...", "could not configure /dev/net/tun (NAME): ...",
"network script FILE failed with status N".  ``helper=``/``br=`` (the setuid
qemu-bridge-helper), ``fd=``/``fds=``, ``vhost=`` and ``queues=`` are refused with
one line.  Reads are non-blocking, in the main loop's host I/O polls.
"""
from __future__ import annotations

import fcntl
import os
import struct
import subprocess
from typing import Optional

from pysystem import log

from .client import NetBackend

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
IFNAMSIZ = 16
MAX_FRAME = 65536 + 14
DEFAULT_SCRIPT, DEFAULT_DOWNSCRIPT = "/etc/qemu-ifup", "/etc/qemu-ifdown"
TAP_KEYS = ("id", "ifname", "script", "downscript", "br", "helper", "fd", "fds", "vhost",
            "vhostfd", "vhostfds", "vhostforce", "queues", "sndbuf", "vnet_hdr", "poll-us")


def run_script(script: str, ifname: str) -> None:
    """Run an up/down script as QEMU's launch_script (ValueError on failure)."""
    try:
        done = subprocess.run([script, ifname], stdin=subprocess.DEVNULL)
        status = done.returncode << 8 if done.returncode >= 0 else -done.returncode
    except OSError:
        status = 1 << 8                 # QEMU's child exits 1 when exec fails
    if status:
        raise ValueError(f"network script {script} failed with status {status}")


class TapNet(NetBackend):
    KIND = "tap"

    def __init__(self, netdev_id: str, ifname: str = "", script: Optional[str] = None,
                 downscript: Optional[str] = None, **other: str):
        super().__init__(netdev_id)
        if "helper" in other or "br" in other:
            raise ValueError("helper= and br= (qemu-bridge-helper) are not supported: "
                             "make the tap and bridge it on the host, then use ifname=")
        if other:
            raise ValueError(f"Parameter '{sorted(other)[0]}' is not supported with tap")
        if len(ifname.encode()) >= IFNAMSIZ:
            raise ValueError(f"Parameter 'ifname' expects a name of at most {IFNAMSIZ - 1} "
                             "characters")
        try:
            fd = os.open(TUN_PATH, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            raise ValueError(f"could not open {TUN_PATH}: {e.strerror}") from None
        try:
            req = struct.pack(f"{IFNAMSIZ}sH", ifname.encode(), IFF_TAP | IFF_NO_PI)
            got = fcntl.ioctl(fd, TUNSETIFF, req)
        except OSError as e:
            os.close(fd)
            raise ValueError(f"could not configure {TUN_PATH} ({ifname or 'tap%d'}): "
                             f"{e.strerror}") from None
        self.fd = fd
        self.ifname = got[:IFNAMSIZ].split(b"\0", 1)[0].decode()
        os.set_blocking(fd, False)
        self.script = DEFAULT_SCRIPT if script is None else script
        self.downscript = DEFAULT_DOWNSCRIPT if downscript is None else downscript
        if self.script != "no":
            try:
                run_script(self.script, self.ifname)
            except ValueError:
                os.close(fd)
                self.fd = -1
                raise
        self.dropped_to_host = 0

    def info(self) -> str:
        return (f"{self.id}: index=0,type=tap,ifname={self.ifname},script={self.script},"
                f"downscript={self.downscript}")

    def open(self, loop) -> None:
        super().open(loop)
        if self.fd >= 0:
            loop.add_reader(self.fd, self._readable)

    def close(self) -> None:
        if self.fd >= 0:
            if self.loop is not None:
                self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
            if self.downscript != "no":
                try:
                    run_script(self.downscript, self.ifname)
                except ValueError as e:
                    log.log("net", f"net {self.id}: {e}")
        super().close()

    def _readable(self) -> None:
        for _ in range(64):
            try:
                frame = os.read(self.fd, MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.log("net", f"net {self.id}: read from {self.ifname}: {e.strerror}")
                return
            if not frame:
                return
            self.deliver(frame)

    def receive_from_guest(self, frame: bytes) -> None:
        if self.fd < 0:
            return
        try:
            os.write(self.fd, frame)
        except OSError:                 # a full queue (or the interface is down): lost
            self.dropped_to_host += 1
