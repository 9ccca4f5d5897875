"""virtio-net: an Ethernet NIC behind a virtio transport (QEMU types "virtio-net-device"
and "virtio-net-pci").

``-device virtio-net-device,netdev=ID`` plugs into a virtio-mmio transport (vexpress-a9
hands out its four slots, highest address first); ``-device virtio-net-pci,netdev=ID``
is the same device inside the transitional virtio-pci transport of devices/virtio_pci.py
(1af4:1000, class 02:00, subsystem 1af4:0001); Malta's ``-nic ...,model=virtio-net-pci``
(or ``model=virtio``, QEMU's alias) creates one in place of the on-board pcnet.
Properties:
  mac          str  - the MAC address; empty: the board gives QEMU's default,
                      52:54:00:12:34:56 plus the number of NICs created before it
  netdev       any  - the network backend (pysystem/net/client.py); none drops frames
  mrg_rxbuf, ctrl_vq, ctrl_rx, ctrl_rx_extra, ctrl_mac_addr
               bool (default on, as QEMU 7.2) - offer that feature bit (QEMU's
               "status" property is not there: the name is the device status byte's)
Queues: receive (0) and transmit (1) of 256 entries, control (2) of 64 with CTRL_VQ.
Features offered (what QEMU 7.2 offers a peer without a virtio-net header, i.e. no
checksum or segmentation offload): MAC, STATUS, MRG_RXBUF, CTRL_VQ, CTRL_RX,
CTRL_RX_EXTRA, CTRL_MAC_ADDR, and of the ring ANY_LAYOUT, INDIRECT_DESC and EVENT_IDX
(devices/virtqueue.py: interrupts when the used index passes used_event, kicks
asked for through avail_event only once a queue is drained).
With a backend that takes a virtio-net header itself (a tap from a bridge helper, with
IFF_VNET_HDR: ``netdev.vnet_hdr``) CSUM and GUEST_CSUM are offered too, as QEMU offers
them to such a peer: a transmitted frame with NEEDS_CSUM goes to the backend with its
header and the host kernel completes the checksum (a backend without one gets it
completed here); a received frame whose checksum the host left partial
(net.packet.PartialFrame) reaches a driver with GUEST_CSUM as it is, NEEDS_CSUM and
the checksum's place in its header (``accepts_partial_csum``), else completed.
Not offered (QEMU does): the GSO offloads, CTRL_VLAN (no VLAN filter), GUEST_ANNOUNCE,
CTRL_GUEST_OFFLOADS, NOTIFY_ON_EMPTY.  Config space (little-endian,
8 bytes as QEMU's for these features): the MAC, then the status word whose bit 0
(LINK_UP) follows ``set_link``; a change raises the configuration interrupt (ISR
bits 0 and 1, as QEMU's virtio_notify_config) once the driver is ready.

Transmit: each chain is a virtio-net header (10 bytes, 12 with MRG_RXBUF or
VERSION_1; only its NEEDS_CSUM flag and checksum place count, with CSUM) and the
frame, which goes to the backend.  Receive (``receive(frame)`` from the backend): frames pass the
filter QEMU applies (promiscuous after reset; with CTRL_RX the driver's unicast and
multicast tables, ALLMULTI, ALLUNI, NOMULTI, NOUNI, NOBCAST); an accepted frame is
written after a zero header into one receive chain, or with MRG_RXBUF into as many as
it needs (num_buffers in the first header).  Without room (queue not ready, driver
not DRIVER_OK, too few buffers) the frame is not taken and the backend offers it
again when the driver adds receive buffers.  A receive chain too small for a frame
without MRG_RXBUF, a chain with no writable part, a transmit chain shorter than the
header, and a control request without its two-byte header or ack byte break the
device (devices/virtio.py), as QEMU's virtio_error does.  Control commands: RX
(PROMISC, ALLMULTI, and the EXTRA four), MAC (TABLE_SET with up to 64 entries,
more set the overflow flags; ADDR_SET); other classes are answered ERR.
"""
from __future__ import annotations

import re
import struct
from typing import List, Tuple

from pysystem import log
from pysystem.memory import ROMRegion
from pysystem.net.packet import NEEDS_CSUM, PartialFrame, complete_checksum
from pysystem.pci import Bar
from pysystem.qom import Field, Property, QOMError, register

from .virtio import STATUS_DRIVER_OK, VIRTIO_F_VERSION_1, VirtIODevice, queue_fields
from .virtio_pci import VirtIOPCI
from .virtqueue import VIRTIO_RING_F_EVENT_IDX, Element, SplitQueue, VirtQueueError

VIRTIO_ID_NET = 1
RX, TX, CTRL = 0, 1, 2
QUEUE_SIZES = (256, 256, 64)
DEFAULT_MAC = "52:54:00:12:34:56"

F_CSUM, F_GUEST_CSUM = 0, 1
F_MAC = 5
F_MRG_RXBUF = 15
F_STATUS = 16
F_CTRL_VQ = 17
F_CTRL_RX = 18
F_CTRL_RX_EXTRA = 20
F_CTRL_MAC_ADDR = 23
F_ANY_LAYOUT = 27

# property name -> the feature bit it offers (QEMU's names, all on by default)
FEATURE_PROPS = (
    ("mrg_rxbuf", F_MRG_RXBUF, "merge receive buffers"),
    ("ctrl_vq", F_CTRL_VQ, "control virtqueue"),
    ("ctrl_rx", F_CTRL_RX, "control: RX mode (promiscuous, all-multicast)"),
    ("ctrl_rx_extra", F_CTRL_RX_EXTRA, "control: extra RX modes"),
    ("ctrl_mac_addr", F_CTRL_MAC_ADDR, "control: set the MAC address"),
)

S_LINK_UP = 1
HDR_LEGACY, HDR_MRG = 10, 12
MAC_TABLE_ENTRIES = 64
ETH_ALEN = 6
NET_BUFSIZE = 4096 + 65536      # QEMU's largest frame (longer ones are cut there)
BROADCAST = b"\xff" * ETH_ALEN

# control queue: classes and commands
CLASS_RX, CLASS_MAC = 0, 1
RX_MODES = ("promisc", "allmulti", "alluni", "nomulti", "nouni", "nobcast")   # commands 0..5
MAC_TABLE_SET, MAC_ADDR_SET = 0, 1
ACK_OK, ACK_ERR = 0, 1


def parse_mac(text: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text):
        raise QOMError(f"Property 'mac' doesn't take value '{text}'")
    return bytes(int(x, 16) for x in text.split(":"))


def default_mac(index: int) -> str:
    """QEMU's MAC for the ``index``-th NIC created without one (qemu_macaddr_default_if_unset)."""
    return f"52:54:00:12:34:{(0x56 + index) & 0xFF:02x}"


@register
class VirtIONet(VirtIODevice):
    TYPE = "virtio-net-device"
    DESC = "Virtio network device"
    USER_CREATABLE = True
    DEVICE_ID = VIRTIO_ID_NET
    NUM_QUEUES = 3
    PROPERTIES = (
        Property("mac", "str", "", "MAC address (empty: QEMU's default for the board)"),
        Property("netdev", "any", None, "network backend (pysystem/net); none drops frames"),
    ) + tuple(Property(name, "bool", True, doc) for name, _bit, doc in FEATURE_PROPS)
    STATE = queue_fields(NUM_QUEUES) + (
        Field("mac_addr", "bytes", bytes(ETH_ALEN), "the station address (ADDR_SET changes it)"),
        Field("net_status", "u16", S_LINK_UP, "config status word: bit 0 link up"),
        Field("promisc", "bool", True, "receive every frame (QEMU's state after reset)"),
        Field("allmulti", "bool", False, "receive every multicast frame"),
        Field("alluni", "bool", False, "receive every unicast frame"),
        Field("nomulti", "bool", False, "receive no multicast frame"),
        Field("nouni", "bool", False, "receive no unicast frame"),
        Field("nobcast", "bool", False, "receive no broadcast frame"),
        Field("mac_table", "bytes", b"", "the driver's address table, 6 bytes an entry"),
        Field("first_multi", "u8", 0, "entries before this one are unicast"),
        Field("uni_overflow", "bool", False, "the unicast table did not fit"),
        Field("multi_overflow", "bool", False, "the multicast table did not fit"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock = None          # the board's VirtualClock: the backend's timers
        self.nic_model = self.TYPE
        self._mac = b""
        self._receiving = False

    def realize(self) -> None:
        self._mac = parse_mac(self.mac or DEFAULT_MAC)
        self.mac = self.mac or DEFAULT_MAC
        super().realize()
        if self.netdev is not None:
            if not hasattr(self.netdev, "attach"):
                raise QOMError(f"{self.TYPE}: property 'netdev' expects a network backend")
            self.netdev.attach(self)

    @classmethod
    def example(cls) -> "VirtIONet":
        dev = cls()
        dev.realize()
        dev.reset()
        return dev

    # --- features and config --------------------------------------------------------
    def device_features(self) -> int:
        bits = (1 << F_MAC) | (1 << F_STATUS) | (1 << F_ANY_LAYOUT) | (1 << VIRTIO_RING_F_EVENT_IDX)
        if getattr(self.netdev, "vnet_hdr", 0):
            bits |= 1 << F_CSUM | 1 << F_GUEST_CSUM    # partial checksums both ways
        for name, bit, _doc in FEATURE_PROPS:
            if getattr(self, name):
                bits |= 1 << bit
        if not bits >> F_CTRL_VQ & 1:   # QEMU drops what needs the control queue
            bits &= ~((1 << F_CTRL_RX) | (1 << F_CTRL_RX_EXTRA) | (1 << F_CTRL_MAC_ADDR))
        return bits

    def config_bytes(self) -> bytes:
        return bytes(self.mac_addr) + struct.pack("<H", self.net_status)

    def _has(self, bit: int) -> bool:
        return bool(self.guest_features >> bit & 1)

    def _hdr_len(self) -> int:
        return HDR_MRG if self._has(F_MRG_RXBUF) or self._has(VIRTIO_F_VERSION_1) else HDR_LEGACY

    def queue_exists(self, index: int) -> bool:
        n = 3 if self.ctrl_vq else 2
        return 0 <= index < n

    def queue_max(self, index: int) -> int:
        return QUEUE_SIZES[index] if self.queue_exists(index) else 0

    def device_reset(self) -> None:
        self.mac_addr = bytearray(self._mac)
        self.net_status = S_LINK_UP if self._link_up() else 0

    def _link_up(self) -> bool:
        return self.netdev is None or getattr(self.netdev, "link_up", True)

    def write_status(self, value: int) -> None:
        super().write_status(value)
        if self.status & STATUS_DRIVER_OK:
            self._flush_backend()

    # --- link -----------------------------------------------------------------------
    def set_link_status(self, up: bool) -> None:
        """``set_link``: the STATUS bit, and a configuration interrupt when it changed."""
        old = self.net_status
        self.net_status = (old | S_LINK_UP) if up else (old & ~S_LINK_UP)
        if self.net_status != old and self.status & STATUS_DRIVER_OK:
            self.isr |= 3                   # QEMU's virtio_notify_config sets both bits
            self.update_irq()

    # --- queues -----------------------------------------------------------------------
    def notify(self, index: int) -> None:
        if index == RX:                     # new receive buffers: offer waiting frames
            self._flush_backend()
            return
        super().notify(index)

    def _flush_backend(self) -> None:
        if self.netdev is not None and not self.broken:
            self.netdev.flush()

    def handle_element(self, index: int, elem: Element) -> int:
        if index == TX:
            self._transmit(elem)
            return 0
        return self._control(elem)

    def _transmit(self, elem: Element) -> None:
        hdr = self._hdr_len()
        if elem.out_len < hdr:
            raise VirtQueueError(f"transmit chain of {elem.out_len} bytes has no "
                                 f"{hdr}-byte header")
        if elem.out_len - hdr > NET_BUFSIZE:   # QEMU's network layer cuts it there
            log.log("guest_errors", f"{self.TYPE}: {elem.out_len - hdr}-byte frame dropped "
                                    f"(more than {NET_BUFSIZE})")
            return
        frame = elem.read(self.bus.memory, hdr, elem.out_len - hdr)
        log.log("net", f"{self.TYPE}: transmit {len(frame)} bytes")
        if self.netdev is None:
            return
        flags, _gso, _hdr_len, _gso_size, start, offset = struct.unpack(
            "<BBHHHH", elem.read(self.bus.memory, 0, HDR_LEGACY))
        if flags & NEEDS_CSUM and self._has(F_CSUM):
            if getattr(self.netdev, "vnet_hdr", 0):
                self.netdev.send_vnet(struct.pack("<BBHHHH", NEEDS_CSUM, 0, 0, 0, start,
                                                  offset), frame)
                return
            frame = complete_checksum(frame, start, offset)
        self.netdev.send(frame)

    # --- receive ------------------------------------------------------------------------
    def accepts_partial_csum(self) -> bool:
        """The driver takes frames whose checksum is left to it (GUEST_CSUM)."""
        return self._has(F_GUEST_CSUM)

    def can_receive(self) -> bool:
        return bool(self.status & STATUS_DRIVER_OK and not self.broken and self.vq_ready[RX]
                    and self.vq_num[RX] and not self._receiving)

    def receive(self, frame: bytes) -> bool:
        """A frame from the network; False when the driver has no room for it now."""
        if not self.can_receive():
            return False
        if not self._accept(frame):
            log.log("net", f"{self.TYPE}: filtered a frame for {frame[:6].hex(':')}")
            return True
        mem = self.bus.memory if self.bus is not None else None
        if mem is None:
            return False
        self._receiving = True
        try:
            return self._store(mem, frame)
        except VirtQueueError as e:
            self.set_broken(f"queue {RX}: {e}")
            return True
        finally:
            self._receiving = False

    def _store(self, mem, frame: bytes) -> bool:
        q = self._queue(RX, mem)
        if q is None:
            return False
        hdr = self._hdr_len()
        header = bytes(hdr)
        if isinstance(frame, PartialFrame):
            if self._has(F_GUEST_CSUM):
                header = struct.pack("<BBHHHH", NEEDS_CSUM, 0, 0, 0, frame.csum_start,
                                     frame.csum_offset) + bytes(hdr - HDR_LEGACY)
            else:
                frame = complete_checksum(frame, frame.csum_start, frame.csum_offset)
        data = header + frame
        merge = self._has(F_MRG_RXBUF)
        taken: List[Tuple[Element, int]] = []
        pos = 0
        while pos < len(data):
            elem = q.pop()
            if elem is None:                # not enough buffers: leave the queue as it was
                return False
            if elem.in_len == 0:
                raise VirtQueueError("receive chain without a writable buffer")
            if taken and not merge:
                raise VirtQueueError(f"a {len(frame)}-byte frame does not fit one receive "
                                     f"chain of {taken[0][0].in_len} bytes")
            n = elem.write(mem, 0, data[pos:pos + elem.in_len])
            taken.append((elem, n))
            pos += n
        if merge:
            taken[0][0].write(mem, HDR_LEGACY, struct.pack("<H", len(taken)))
        for elem, n in taken:
            q.push(elem, n)
        self.vq_last_avail[RX], self.vq_used_idx[RX] = q.last_avail, q.used_idx
        log.log("net", f"{self.TYPE}: received {len(frame)} bytes in {len(taken)} buffer(s)")
        if q.wants_interrupt():
            self.isr |= 1
            self.update_irq()
        return True

    def _accept(self, frame: bytes) -> bool:
        """QEMU's receive_filter (without VLANs: CTRL_VLAN is not offered)."""
        if self.promisc:
            return True
        dest = bytes(frame[:ETH_ALEN])
        table = bytes(self.mac_table)
        entries = [table[i:i + ETH_ALEN] for i in range(0, len(table), ETH_ALEN)]
        if dest[:1] and dest[0] & 1:
            if dest == BROADCAST:
                return not self.nobcast
            if self.nomulti:
                return False
            if self.allmulti or self.multi_overflow:
                return True
            return dest in entries[self.first_multi:]
        if self.nouni:
            return False
        if self.alluni or self.uni_overflow or dest == bytes(self.mac_addr):
            return True
        return dest in entries[:self.first_multi]

    # --- the control queue ------------------------------------------------------------
    def _control(self, elem: Element) -> int:
        mem = self.bus.memory
        if elem.out_len < 2 or elem.in_len < 1:
            raise VirtQueueError("control request without its header or ack byte")
        cls, cmd = elem.read(mem, 0, 2)
        size = elem.out_len - 2             # the command's data, read only as far as needed
        if cls == CLASS_RX and self._has(F_CTRL_RX):
            ack = self._ctrl_rx(cmd, elem.read(mem, 2, 1) if size == 1 else b"")
        elif cls == CLASS_MAC:
            ack = self._ctrl_mac(cmd, elem, size)
        else:
            log.log("guest_errors", f"{self.TYPE}: control class {cls} command {cmd} "
                                    "not supported")
            ack = ACK_ERR
        elem.write(mem, 0, bytes((ack,)))
        return 1

    def _ctrl_rx(self, cmd: int, data: bytes) -> int:
        if len(data) != 1 or cmd >= len(RX_MODES):
            return ACK_ERR
        if cmd >= 2 and not self._has(F_CTRL_RX_EXTRA):
            return ACK_ERR
        setattr(self, RX_MODES[cmd], bool(data[0]))
        log.log("net", f"{self.TYPE}: {RX_MODES[cmd]} {'on' if data[0] else 'off'}")
        return ACK_OK

    def _ctrl_mac(self, cmd: int, elem: Element, size: int) -> int:
        mem = self.bus.memory
        if cmd == MAC_ADDR_SET:
            if size != ETH_ALEN or not self._has(F_CTRL_MAC_ADDR):
                return ACK_ERR
            self.mac_addr = bytearray(elem.read(mem, 2, ETH_ALEN))
            return ACK_OK
        if cmd != MAC_TABLE_SET:
            return ACK_ERR
        tables, overflow = [], []
        pos = 2
        end = 2 + size
        for room in (MAC_TABLE_ENTRIES, None):       # unicast, then multicast
            if pos + 4 > end:
                return ACK_ERR
            count = struct.unpack("<I", elem.read(mem, pos, 4))[0]
            pos += 4
            if count * ETH_ALEN > end - pos:
                return ACK_ERR
            if room is None:                  # multicast: what the unicast part left
                room = MAC_TABLE_ENTRIES - len(tables[0]) // ETH_ALEN
            fits = count <= room
            tables.append(elem.read(mem, pos, count * ETH_ALEN) if fits else b"")
            overflow.append(not fits)
            pos += count * ETH_ALEN
        if pos != end:
            return ACK_ERR
        self.uni_overflow, self.multi_overflow = overflow
        self.mac_table = bytearray(tables[0] + tables[1])
        self.first_multi = len(tables[0]) // ETH_ALEN
        return ACK_OK


@register
class VirtIONetPCI(VirtIOPCI):
    TYPE = "virtio-net-pci"
    DESC = "Virtio network device (PCI)"
    USER_CREATABLE = True
    DEVICE_ID = 0x1000
    CLASS_CODE = 0x020000
    SUBSYSTEM = (0x1AF4, 0x0001)
    # BAR0 holds the 20-byte legacy header and the 8-byte config: 32 bytes (QEMU's pow2ceil);
    # the ROM BAR is where QEMU loads efi-virtio.rom (here it reads as zeros)
    BARS = (Bar(0, 0x20, "io"), Bar(4, 0x4000, "mem", prefetch=True, mem64=True),
            Bar(6, 0x40000, "mem"))
    VDEV_TYPE = VirtIONet
    PROPERTIES = VirtIONet.PROPERTIES

    def realize(self) -> None:
        self.init_bar(6, ROMRegion(self, "virtio-net-pci.rom", 0x40000))
        super().realize()
        self.vdev.nic_model = self.TYPE
        self.vdev.clock = getattr(self, "clock", None)

    @classmethod
    def example(cls) -> "VirtIONetPCI":
        dev = cls()
        dev.realize()
        dev.reset()
        return dev
