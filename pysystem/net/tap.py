"""``-netdev tap``: the guest's frames on a host TAP interface (Linux /dev/net/tun).

    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no
    -netdev tap,id=n0[,ifname=NAME][,script=FILE][,downscript=FILE]
    -netdev tap,id=n0,helper=/usr/lib/qemu/qemu-bridge-helper[,br=br0]
    -netdev bridge,id=n0[,br=br0][,helper=...]

The interface is made (or attached, if it exists and we may) with TUNSETIFF and
IFF_TAP|IFF_NO_PI: each read is one Ethernet frame, each write sends one.  As
QEMU, ``script`` (default /etc/qemu-ifup) runs with the interface's name as its
argument after the interface is made, ``downscript`` (default /etc/qemu-ifdown)
when the network closes; ``no`` runs nothing.  Errors use QEMU 7.2's words:
"could not open /dev/net/tun: ...", "could not configure /dev/net/tun (NAME): ...",
"network script FILE failed with status N".  ``fd=``/``fds=``, ``vhost=`` and
``queues=`` are refused with one line.  Reads are non-blocking, in the main loop's
host I/O polls.

With ``helper=`` (``-netdev bridge``: QEMU's qemu-bridge-helper by default) the tap
comes from that program, as QEMU gets it: the helper runs as ``HELPER --use-vnet
--fd=N --br=BR`` (through ``sh -c`` when HELPER holds a space, e.g. extra options),
N one end of a socketpair on which it sends the tap's descriptor (SCM_RIGHTS, with
one byte), and must exit 0; no scripts run.  Anything else is QEMU's "bridge helper
failed", with the reason (the helper missing or not executable, its exit status, no
descriptor).  A descriptor with IFF_VNET_HDR (``--use-vnet``) carries a virtio-net
header before each frame and is given TUN_F_CSUM: a frame read with NEEDS_CSUM reaches
a NIC that takes partial checksums (virtio-net with GUEST_CSUM) as a
packet.PartialFrame, any other NIC completed; frames written carry a zero header, or
virtio-net's own with NEEDS_CSUM (``send_vnet``).  ``br=`` without ``helper=`` is ignored, as QEMU
does.
"""
from __future__ import annotations

import array
import fcntl
import os
import socket
import struct
import subprocess
from typing import Optional, Tuple

from pysystem import log

from .client import NetBackend
from .packet import NEEDS_CSUM, PartialFrame, complete_checksum

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
TUNGETIFF = 0x800454D2
TUNGETVNETHDRSZ = 0x800454D7
TUNSETOFFLOAD, TUN_F_CSUM = 0x400454D0, 0x01
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
DEFAULT_HELPER, DEFAULT_BRIDGE = "/usr/lib/qemu/qemu-bridge-helper", "br0"
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


def run_helper(helper: str, bridge: str) -> int:
    """The tap descriptor a bridge helper hands over (QEMU's net_bridge_run_helper);
    ValueError "bridge helper failed: WHY" otherwise."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    args = ["--use-vnet", f"--fd={theirs.fileno()}", f"--br={bridge}"]
    if " " in helper or "\t" in helper:
        argv = ["/bin/sh", "-c", " ".join([helper] + args)]
    else:
        argv = [helper] + args
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),))
    except OSError as e:
        ours.close()
        theirs.close()
        raise ValueError(f"bridge helper failed: {helper}: {e.strerror}") from None
    theirs.close()
    fd = -1
    try:
        fds = array.array("i")
        _, ancillary, _, _ = ours.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        fd = fds[0] if fds else -1
    except OSError:
        pass
    finally:
        ours.close()
    status = child.wait()
    if status != 0 or fd < 0:
        if fd >= 0:
            os.close(fd)
        why = f"exited with status {status}" if status else "sent no descriptor"
        raise ValueError(f"bridge helper failed: {helper} {why}")
    return fd


def tap_identity(fd: int) -> Tuple[str, int]:
    """(interface name, virtio-net header bytes before each frame: 0 without IFF_VNET_HDR)."""
    got = fcntl.ioctl(fd, TUNGETIFF, bytes(IFNAMSIZ + 2))
    name = got[:IFNAMSIZ].split(b"\0", 1)[0].decode()
    flags = struct.unpack_from("H", got, IFNAMSIZ)[0]
    if not flags & IFF_VNET_HDR:
        return name, 0
    size = struct.unpack("i", fcntl.ioctl(fd, TUNGETVNETHDRSZ, bytes(4)))[0]
    return name, size


class TapNet(NetBackend):
    KIND = "tap"

    def __init__(self, netdev_id: str, ifname: str = "", script: Optional[str] = None,
                 downscript: Optional[str] = None, helper: Optional[str] = None,
                 br: Optional[str] = None, **other: str):
        super().__init__(netdev_id)
        self.helper, self.bridge, self.vnet_hdr = helper, br or DEFAULT_BRIDGE, 0
        self.dropped_to_host = 0
        if other:
            raise ValueError(f"Parameter '{sorted(other)[0]}' is not supported with tap")
        if helper is not None:
            self.fd = run_helper(helper, self.bridge)
            self.ifname, self.vnet_hdr = tap_identity(self.fd)
            if self.vnet_hdr:           # the host may leave checksums to us (NEEDS_CSUM)
                fcntl.ioctl(self.fd, TUNSETOFFLOAD, TUN_F_CSUM)
            os.set_blocking(self.fd, False)
            self.script = self.downscript = "no"
            return
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

    def info(self) -> str:
        if self.helper is not None:
            return f"{self.id}: index=0,type=tap,helper={self.helper},br={self.bridge}"
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
            if self.vnet_hdr:
                frame = self._from_vnet(frame)
            self.deliver(frame)

    def _from_vnet(self, data: bytes) -> bytes:
        """A frame read with its virtio-net header: a partial checksum stays partial
        for a NIC that takes it (``accepts_partial_csum``), else it is completed."""
        flags, _gso, _hlen, _gso_size, start, offset = struct.unpack_from("<BBHHHH", data)
        frame = data[self.vnet_hdr:]
        if not flags & NEEDS_CSUM:
            return frame
        takes = getattr(self.nic, "accepts_partial_csum", None)
        if takes is not None and takes():
            return PartialFrame(frame, start, offset)
        return complete_checksum(frame, start, offset)

    def send_vnet(self, header: bytes, frame: bytes) -> None:
        """A frame from the guest with its 10-byte virtio-net header (NEEDS_CSUM: the
        host kernel completes the checksum); only for a tap with ``vnet_hdr``."""
        if self.link_up and self.fd >= 0:
            self._write(header + bytes(self.vnet_hdr - len(header)) + frame)
        self.flush()

    def receive_from_guest(self, frame: bytes) -> None:
        if self.fd < 0:
            return
        if self.vnet_hdr:
            frame = bytes(self.vnet_hdr) + frame     # no offload: flags 0, GSO none
        self._write(frame)

    def _write(self, frame: bytes) -> None:
        try:
            os.write(self.fd, frame)
        except OSError:                 # a full queue (or the interface is down): lost
            self.dropped_to_host += 1
