"""PCnet-PCI II with a user-mode network behind it, against QEMU 7.2 with slirp.

The test is the driver: SWSTYLE 2 rings in RAM, an ARP request for the gateway
transmitted through the TX ring; the gateway's reply lands in the RX ring.  The
same register and memory operations run on QEMU (``-netdev user`` + ``-device
pcnet`` through qtest) and on our PCnet + UserNet.  The transmit side must read
back as QEMU's (CSR0, XMTRC, the TX descriptor); QEMU 7.2 keeps slirp's reply in
its net queue at that point, so the receive side is checked against the
descriptor format (STP|ENP, message length with FCS) and the ARP reply itself.
"""
from __future__ import annotations

import struct

from malta_pci_rig import GT_BASE, Rig
from qtest_malta import _CMD
from qtest_malta_oracle import need_qemu, run_ops

from pysystem.memory import RAMRegion
from pysystem.net import UserNet

DEVFN = 11 << 3
IO = 0x10000000
BASE = 0x1000
MAC = bytes.fromhex("525400123456")


def _setup_ops():
    return [("w", GT_BASE + 0xCF8, 0x80000000 | DEVFN << 8 | 0x10, 4),
            ("w", GT_BASE + 0xCFC, BASE | 1, 4),
            ("w", GT_BASE + 0xCF8, 0x80000000 | DEVFN << 8 | 0x04, 4),
            ("w", GT_BASE + 0xCFC, 0x7, 4)]


def _csr(n, value=None):
    ops = [("w", IO + BASE + 0x12, n, 2)]
    ops.append(("r", IO + BASE + 0x10, 2) if value is None else ("w", IO + BASE + 0x10, value, 2))
    return ops


def _bcr(n, value=None):
    return [("w", IO + BASE + 0x12, n, 2), ("w", IO + BASE + 0x16, value, 2)]


def _qemu(ops, extra_args):
    commands = []
    for op in ops:
        if op[0] == "r":
            commands.append((f"read{_CMD[op[2]]} 0x{op[1]:x}", True))
        else:
            commands.append((f"write{_CMD[op[3]]} 0x{op[1]:x} 0x{op[2]:x}", False))
    return run_ops(need_qemu(False), extra_args, commands)


def _arp_request() -> bytes:
    return (b"\xff" * 6 + MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC
            + bytes((10, 0, 2, 15)) + bytes(6) + bytes((10, 0, 2, 2)))


def test_arp_through_tx_and_rx_rings_matches_qemu():
    block = struct.pack("<HBB6s2x8sII", 0, 2 << 4, 2 << 4, MAC, bytes(8), 0x9000, 0xA000)
    rx = b"".join(struct.pack("<IhHII", 0xC000 + 0x100 * i, -256, 0x8000, 0, 0) for i in range(4))
    frame = _arp_request()
    tx = struct.pack("<IhHII", 0xB000, -len(frame), 0x8300, 0, 0)     # OWN|STP|ENP
    ops = [("w", 0x8000 + i, b, 1) for i, b in enumerate(block)]
    ops += [("w", 0x9000 + i, b, 1) for i, b in enumerate(rx)]
    ops += [("w", 0xA000 + i, b, 1) for i, b in enumerate(tx)]
    ops += [("w", 0xB000 + i, b, 1) for i, b in enumerate(frame)]
    ops += _bcr(20, 2) + _csr(1, 0x8000) + _csr(2, 0) + _csr(0, 0x41) + _csr(0)
    ops += _csr(0, 0x0142) + _csr(0) + _csr(0, 0x48)
    ops += _csr(0, 0x42)     # QEMU queues slirp's reply until pcnet_start flushes the queue
    ops += _csr(0) + _csr(72) + _csr(74)
    ops += [("r", 0x9000 + i, 1) for i in range(len(rx))]
    ops += [("r", 0xA000 + i, 1) for i in range(16)]
    ops += [("r", 0xC000 + i, 1) for i in range(42)]
    want = _qemu(_setup_ops() + ops, ("-nodefaults", "-netdev", "user,id=n0",
                                       "-device", "pcnet,netdev=n0,addr=0b"))
    net = UserNet("n0")
    rig = Rig(functions=("piix4", "pm", "pcnet"), props={"pcnet": {"netdev": net}})
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
    got = []
    for op in _setup_ops() + ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        elif op[0] == "r":
            got.append(rig.mem.read(op[1], op[2]))
    # as QEMU: INIT/IDON, the start, the transmit (TINT, XMTRC, OWN handed back)
    rx_at, tx_at = 5, 5 + len(rx)
    assert [hex(v) for v in got[:2]] == [hex(v) for v in want[:2]]
    assert got[4] == want[4] and got[tx_at:tx_at + 16] == want[tx_at:tx_at + 16]
    # QEMU 7.2 leaves slirp's reply in its net queue at this point; ours arrives at
    # once: RINT, one receive descriptor used (RCVRC), and the ARP reply in it
    assert got[2] == want[2] | 0x0400 and got[3] == want[3] - 1
    base, bcnt, status, msg_len = struct.unpack_from("<IhHI", bytes(got[rx_at:rx_at + 12]))
    assert (base, bcnt, status, msg_len) == (0xC000, -256, 0x0300, 64)     # STP|ENP, FCS
    assert bytes(got[rx_at + 16:rx_at + 64]) == bytes(want[rx_at + 16:rx_at + 64])  # still owned
    reply = bytes(got[-42:])
    assert reply[:6] == MAC and reply[6:12] == bytes.fromhex("52550a000202")
    assert reply[12:14] == b"\x08\x06" and reply[20:22] == b"\x00\x02"
    assert reply[28:32] == bytes((10, 0, 2, 2)) and reply[32:38] == MAC
