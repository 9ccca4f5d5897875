"""PCnet-PCI II: the register interface Linux's pcnet32 probes, against QEMU 7.2."""
import struct

import pytest

from malta_pci_rig import GT_BASE, Rig
from qtest_malta import qemu_malta

from pysystem.memory import RAMRegion

DEVFN = 11 << 3
IO = 0x10000000
BASE = 0x1000


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
    ops = [("w", IO + BASE + 0x12, n, 2)]
    ops.append(("r", IO + BASE + 0x16, 2) if value is None else ("w", IO + BASE + 0x16, value, 2))
    return ops


def _compare(ops, mac=None):
    args = ("-nic", f"user,model=pcnet,mac={mac}") if mac else ()
    want = qemu_malta(_setup_ops() + ops, extra_args=args)
    rig = Rig(functions=("piix4", "pm", "pcnet"),
              props={"pcnet": {"mac": mac}} if mac else None)
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
    got = []
    for op in _setup_ops() + ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]
    return rig


def test_probe_registers_match_qemu():
    """What pcnet32_probe1 reads: the PROM, reset, CSR0, RAP check, chip id, CSR12-14, BCRs."""
    ops = [("r", IO + BASE + i, 1) for i in range(16)] + [("r", IO + BASE + 0x14, 2)]
    ops += _csr(0) + [("w", IO + BASE + 0x12, 88, 2), ("r", IO + BASE + 0x12, 2)]
    for n in range(128):
        ops += _csr(n)
    for n in range(36):
        ops += _bcr(n)
    _compare(ops)
    _compare(ops[:16], mac="02:00:00:aa:bb:cc")


def test_init_block_and_interrupt_match_qemu():
    """SWSTYLE 2 init block at 0x8000 in RAM, INIT with INEA: IDON and INTR as QEMU."""
    block = struct.pack("<HBB6s2x8sII", 0x0000, 4 << 4, 4 << 4, bytes.fromhex("0200deadbeef"),
                        bytes(8), 0x9000, 0xA000)
    ops = [("w", 0x8000 + i, b, 1) for i, b in enumerate(block)]
    ops += _bcr(20, 2) + _bcr(20) + _csr(58)
    ops += _csr(1, 0x8000) + _csr(2, 0) + _csr(0, 0x41) + _csr(0)
    for n in (12, 13, 14, 15, 24, 25, 30, 31, 76, 78):
        ops += _csr(n)
    ops += _csr(0, 0x0100) + _csr(0) + _csr(0, 0x42) + _csr(0) + _csr(0, 0x04) + _csr(0)
    rig = _compare(ops)
    assert rig.dev["pcnet"].intx_level == 0


@pytest.mark.parametrize("style", (2, 0))
def test_transmit_hands_descriptors_back_as_qemu(style):
    """Two frames (three descriptors) through a 4-entry ring, no backend: QEMU with a
    hub port that goes nowhere clears OWN, sets TINT and moves XMTRC the same way."""
    if style == 2:
        block = struct.pack("<HBB6s2x8sII", 0, 2 << 4, 2 << 4, bytes(6), bytes(8), 0x9000, 0xA000)
        descs = [struct.pack("<IhHII", 0xB000, -60, 0x8200, 0, 0),      # OWN|STP
                 struct.pack("<IhHII", 0xB100, -40, 0x8100, 0, 0),      # OWN|ENP
                 struct.pack("<IhHII", 0xB200, -60, 0x8300, 0, 0)]      # OWN|STP|ENP
    else:
        block = struct.pack("<H6s8sII", 0, bytes(6), bytes(8), 0x9000 | 2 << 29,
                            0xA000 | 2 << 29)
        descs = [struct.pack("<HHhH", 0xB000, 0x8200, -60, 0),
                 struct.pack("<HHhH", 0xB100, 0x8100, -40, 0),
                 struct.pack("<HHhH", 0xB200, 0x8300, -60, 0)]
    table = b"".join(descs)
    ops = [("w", 0x8000 + i, b, 1) for i, b in enumerate(block)]
    ops += [("w", 0xA000 + i, b, 1) for i, b in enumerate(table)]
    ops += _bcr(20, style) + _csr(1, 0x8000) + _csr(2, 0) + _csr(0, 0x41) + _csr(0)
    ops += _csr(0, 0x0142) + _csr(0) + _csr(74) + _csr(0, 0x48) + _csr(0) + _csr(74)
    ops += [("r", 0xA000 + i, 1) for i in range(len(table) + 8)]
    ops += _csr(0, 0x0248) + _csr(0)                 # nothing owned any more: no TINT
    want = qemu_malta(_setup_ops() + ops,
                      extra_args=("-nodefaults", "-netdev", "hubport,id=n0,hubid=0",
                                  "-device", "pcnet,netdev=n0,addr=0b"))
    rig = Rig(functions=("piix4", "pm", "pcnet"))
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
    got = []
    for op in _setup_ops() + ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]


def test_interrupt_line():
    rig = Rig(functions=("piix4", "pm", "pcnet"))
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
    for op in _setup_ops():
        rig.mem.write(op[1], op[2], op[3])
    pcnet = rig.dev["pcnet"]
    irq11 = rig.dev["piix4"].isa_irqs[10]      # slot 11 -> PIRQB -> IRQ 10
    rig.io_write(BASE + 0x12, 0, 2)
    rig.io_write(BASE + 0x10, 0x41, 2)         # INIT + INEA (init block of zeros at 0)
    assert pcnet.intx_level == 1 and irq11.level == 1
    rig.io_write(BASE + 0x10, 0x0140, 2)       # clear IDON
    assert pcnet.intx_level == 0 and irq11.level == 0


def test_dword_io_mode():
    rig = Rig(functions=("piix4", "pm", "pcnet"))
    for op in _setup_ops():
        rig.mem.write(op[1], op[2], op[3])
    rig.io_write(BASE + 0x10, 0, 4)            # a dword write to RDP selects DWIO
    rig.io_write(BASE + 0x14, 88, 4)
    assert rig.io_read(BASE + 0x10, 4) == 0x1003
    rig.io_read(BASE + 0x18, 4)                # RESET (dword)
    rig.io_write(BASE + 0x12, 88, 2)
    assert rig.io_read(BASE + 0x10, 2) == 0x1003


def test_set_link_shows_in_bcr4():
    """pcnet32 reads BCR4 (LED0: LNKSTE enabled at reset) every 2 s: 0x80c0 with the
    link up (QEMU's value at reset, see test_probe_registers_match_qemu), 0x00c0 down."""
    from pysystem.net import UserNet
    net = UserNet("n0")
    rig = Rig(functions=("piix4", "pm", "pcnet"), props={"pcnet": {"netdev": net}})
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
    for op in _setup_ops():
        rig.mem.write(op[1], op[2], op[3])

    def bcr(n):
        rig.io_write(BASE + 0x12, n, 2)
        return rig.io_read(BASE + 0x16, 2)
    assert [bcr(n) for n in (4, 5, 6, 7)] == [0x80C0, 0x0084, 0x0088, 0x0090]
    net.link_up = False
    rig.dev["pcnet"].set_link_status(False)
    assert bcr(4) == 0x00C0
    net.link_up = True
    rig.dev["pcnet"].set_link_status(True)
    assert bcr(4) == 0x80C0
