"""The PCI side wired to the ISA bus and the i8259 pair as pysystem/pci.py's recipe says,
checked end to end against QEMU 7.2's Malta: an IDE interrupt (ISA IRQ 14) and a pcnet
INTA (slot 11 -> PIRQB -> IRQ 10, level-triggered through ELCR) reach the i8259s, and
the GT-64120's interrupt-acknowledge register returns their vectors."""
import os

import pytest

from malta_pci_rig import GT_BASE, PLACES, Rig
from qtest_malta import qemu_malta

from pysystem.block import open_drive
from pysystem.devices import i8259
from pysystem.devices.isa import ISABus
from pysystem.memory import RAMRegion

IO = 0x10000000
IACK = GT_BASE + 0xC34
PCNET = PLACES["pcnet"][2]


def _wired_rig(image, big_endian=False):
    rig = Rig(big_endian=big_endian, functions=("piix4", "ide", "usb", "pm", "pcnet", "cirrus"))
    rig.sysmem.add_subregion(0, RAMRegion(None, "ram", 1 << 20))
    piix4, ide, pm = rig.dev["piix4"], rig.dev["ide"], rig.dev["pm"]
    bus = ISABus(io=piix4.isa_io)           # ISA ports beside PIIX4's, as the board has them
    pic = i8259.make_pair(bus)
    rig.gt.iack = pic.ack
    for n in (10, 11):
        piix4.isa_irqs[n].connect(bus.set_irq, n)
    ide.irqs[0].connect(bus.set_irq, 14)
    ide.irqs[1].connect(bus.set_irq, 15)
    pm.sci.connect(bus.set_irq, 9)
    ide.attach(0, open_drive(image), "hd")
    ide.attach(2, None, "cd")
    ide.reset()
    return rig, pic


def _pic_init():
    """Linux's init_8259A: vectors 0-15, cascade on IRQ 2, ELCR for IRQ 10/11, unmasked."""
    ops = []
    for base, icw2, icw3 in ((0x20, 0x00, 0x04), (0xA0, 0x08, 0x02)):
        ops += [("w", IO + base, 0x11, 1), ("w", IO + base + 1, icw2, 1),
                ("w", IO + base + 1, icw3, 1), ("w", IO + base + 1, 0x01, 1),
                ("w", IO + base + 1, 0x00, 1)]
    ops += [("w", IO + 0x4D1, 0x0C, 1)]
    return ops


def _irr():
    return [("w", IO + 0x20, 0x0A, 1), ("r", IO + 0x20, 1),
            ("w", IO + 0xA0, 0x0A, 1), ("r", IO + 0xA0, 1)]


def _eoi():
    return [("w", IO + 0xA0, 0x20, 1), ("w", IO + 0x20, 0x20, 1)]


@pytest.mark.parametrize("big_endian", (False, True))
def test_interrupts_reach_the_i8259_and_iack_matches_qemu(tmp_path, big_endian):
    image = str(tmp_path / "d.img")
    with open(image, "wb") as f:
        f.write(os.urandom(1 << 20))
    ops = _pic_init() + _irr() + [("r", IACK, 4)]                  # nothing: spurious 7
    ops += [("w", IO + 0x1F6, 0xA0, 1), ("w", IO + 0x1F7, 0xEC, 1)]   # IDENTIFY: IRQ 14
    ops += _irr() + [("r", IACK, 4)] + _irr()
    ops += [("r", IO + 0x1F7, 1)] + _eoi() + _irr() + [("r", IACK, 4)]
    # pcnet: I/O BAR at 0x1000, INIT with INEA (the init block at 0 is zeros)
    cfg = lambda reg, value: [("w", GT_BASE + 0xCF8, _le(0x80000000 | PCNET << 8 | reg,
                                                         big_endian), 4),
                              ("w", GT_BASE + 0xCFC, value, 4)]
    ops += cfg(0x10, 0x1001) + cfg(0x04, 0x7)
    ops += [("w", IO + 0x1012, 0, 2), ("w", IO + 0x1010, _le16(0x41, big_endian), 2)]
    ops += _irr() + [("r", IACK, 4)] + _irr()
    ops += [("w", IO + 0x1010, _le16(0x0140, big_endian), 2)] + _eoi() + _irr() + \
        [("r", IACK, 4)]
    want = qemu_malta(ops, big_endian=big_endian,
                      extra_args=("-drive", f"file={image},if=ide,format=raw"))
    rig, pic = _wired_rig(image, big_endian)
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]
    vectors = [v for op, v in zip([o for o in ops if o[0] == "r"], got) if op[1] == IACK]
    assert [_le(v, big_endian) & 0xFF for v in vectors] == [7, 14, 7, 10, 7]


def _le(v, big_endian):
    """A GT register value as the CPU of that byte order writes or reads it."""
    return int.from_bytes(v.to_bytes(4, "little"), "big") if big_endian else v


def _le16(v, big_endian):
    """A 16-bit PCI I/O value as a CPU of that byte order writes it (the bus is LE)."""
    return int.from_bytes(v.to_bytes(2, "little"), "big") if big_endian else v
