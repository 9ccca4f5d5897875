"""The PCI bus and the Malta functions' configuration spaces, against QEMU 7.2's Malta.

QEMU (``-M malta -S -qtest``) is the oracle for every function's 256-byte reset
image, for which bits each register lets the guest write (all-ones then all-zeros
written to every dword), and for BAR sizing; the rest are black-box tests of BAR
mapping with COMMAND, INTx routing and fan-in, placement and ``info pci``.
"""
import pytest

from malta_pci_rig import GT_BASE, PLACES, Rig, bswap32
from qtest_malta import qemu_malta

from pysystem.memory import IORegion
from pysystem.pci import Bar, BAR_UNMAPPED, PCIDevice, parse_devfn
from pysystem.qom import QOMError, register

FUNCTIONS = ("piix4", "ide", "usb", "pm", "pcnet", "cirrus")
ALL = ("host",) + FUNCTIONS
DEVFN = dict({"host": 0}, **{n: PLACES[n][2] for n in FUNCTIONS})


def _qemu_ops_dump(devfn):
    ops = []
    for reg in range(0, 256, 4):
        ops += [("w", GT_BASE + 0xCF8, 0x80000000 | devfn << 8 | reg, 4),
                ("r", GT_BASE + 0xCFC, 4)]
    return ops


def _qemu_ops_masks(devfn):
    ops = []
    for reg in range(0, 256, 4):
        ops += [("w", GT_BASE + 0xCF8, 0x80000000 | devfn << 8 | reg, 4),
                ("w", GT_BASE + 0xCFC, 0xFFFFFFFF, 4), ("r", GT_BASE + 0xCFC, 4),
                ("w", GT_BASE + 0xCFC, 0, 4), ("r", GT_BASE + 0xCFC, 4)]
    return ops


def _our_masks(rig, devfn):
    out = []
    for reg in range(0, 256, 4):
        rig.cfg_write(devfn, reg, 0xFFFFFFFF)
        out.append(rig.cfg_read(devfn, reg))
        rig.cfg_write(devfn, reg, 0)
        out.append(rig.cfg_read(devfn, reg))
    return out


@pytest.mark.parametrize("name", ALL)
def test_reset_config_space_matches_qemu(name):
    devfn = DEVFN[name]
    want = qemu_malta(_qemu_ops_dump(devfn))
    rig = Rig(functions=FUNCTIONS)
    got = [rig.cfg_read(devfn, reg) for reg in range(0, 256, 4)]
    assert [f"{v:08x}" for v in got] == [f"{v:08x}" for v in want]


@pytest.mark.parametrize("name", ALL)
def test_writable_bits_match_qemu(name):
    """All-ones then all-zeros into every dword: same read-backs (wmask, BAR sizes)."""
    devfn = DEVFN[name]
    want = qemu_malta(_qemu_ops_masks(devfn))
    got = _our_masks(Rig(functions=FUNCTIONS), devfn)
    assert [f"{v:08x}" for v in got] == [f"{v:08x}" for v in want]


def test_big_endian_config_access_matches_qemu():
    """On a big-endian CPU, the GT swaps: config data of 00.0 reads swapped, others native."""
    ops = []
    for devfn in (0, DEVFN["piix4"], DEVFN["pm"], 11 << 3 | 7):
        ops += [("w", GT_BASE + 0xCF8, bswap32(0x80000000 | devfn << 8), 4),
                ("r", GT_BASE + 0xCFC, 4), ("r", GT_BASE + 0xCFC, 1), ("r", GT_BASE + 0xCFC, 2)]
    ops += [("w", GT_BASE + 0xCF8, 0x80000000 | DEVFN["piix4"] << 8, 4),   # enable bit clear
            ("r", GT_BASE + 0xCFC, 4)]
    want = qemu_malta(ops, big_endian=True)
    rig = Rig(big_endian=True, functions=FUNCTIONS)
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]
    assert want[0] == 0xAB112046 and want[3] == 0x71108086


@register
class _TestDev(PCIDevice):
    TYPE = "test-pci-dev"
    VENDOR_ID, DEVICE_ID, CLASS_CODE, INTERRUPT_PIN = 0x1234, 0x5678, 0xFF0000, 1
    BARS = (Bar(0, 0x20, "io"), Bar(1, 0x1000, "mem"), Bar(6, 0x10000, "mem"))

    def realize(self):
        self.regs = {}
        for i, size in ((0, 0x20), (1, 0x1000), (6, 0x10000)):
            self.init_bar(i, IORegion(self, f"bar{i}", size, read=lambda o, s, i=i: 0xA0 + i,
                                      write=lambda o, v, s: None))
        super().realize()


def _rig_with_test_dev(slot=18, pin=1):
    rig = Rig(functions=("piix4", "pm"))
    dev = _TestDev(addr=f"{slot:x}")
    dev.realize()
    rig.bus.plug(dev)
    dev.reset()
    if pin != 1:
        dev.set_cfg(0x3D, pin)
    return rig, dev


def test_bar_maps_only_with_command_bits():
    rig, dev = _rig_with_test_dev()
    devfn = dev.devfn
    rig.cfg_write(devfn, 0x10, 0x1040)
    rig.cfg_write(devfn, 0x14, 0x12001000)
    assert dev.bar_addr[0] == BAR_UNMAPPED and dev.bar_addr[1] == BAR_UNMAPPED
    rig.cfg_write(devfn, 0x04, 0x1)                       # I/O only
    assert dev.bar_addr[0] == 0x1040 and dev.bar_addr[1] == BAR_UNMAPPED
    assert rig.io_read(0x1040, 1) == 0xA0
    rig.cfg_write(devfn, 0x04, 0x3)                       # memory too
    assert rig.mem.read(0x12001000, 4) == 0xA1            # through the pci0-mem0 window
    rig.cfg_write(devfn, 0x14, 0x12002000)                # moving the BAR moves the region
    assert dev.bar_addr[1] == 0x12002000 and rig.mem.read(0x12002000, 4) == 0xA1
    rig.cfg_write(devfn, 0x04, 0x0)
    assert dev.bar_addr[0] == BAR_UNMAPPED and dev.bar_addr[1] == BAR_UNMAPPED
    rig.cfg_write(devfn, 0x04, 0x3)
    rig.cfg_write(devfn, 0x10, 0x0)                       # address 0 stays unmapped
    assert dev.bar_addr[0] == BAR_UNMAPPED
    rig.cfg_write(devfn, 0x30, 0x12010000)                # ROM needs its enable bit
    assert dev.bar_addr[6] == BAR_UNMAPPED
    rig.cfg_write(devfn, 0x30, 0x12010001)
    assert dev.bar_addr[6] == 0x12010000


def test_bar_sizing():
    rig, dev = _rig_with_test_dev()
    for reg, want in ((0x10, 0xFFFFFFE1), (0x14, 0xFFFFF000), (0x30, 0xFFFF0001)):
        rig.cfg_write(dev.devfn, reg, 0xFFFFFFFF)
        assert rig.cfg_read(dev.devfn, reg) == want


def test_intx_routed_through_pirq_with_fan_in():
    """Two devices on lines routed to IRQ 11 (PIRQC/PIRQD); the ISA line is their OR."""
    rig = Rig(functions=FUNCTIONS)
    piix4 = rig.dev["piix4"]
    seen = []
    piix4.isa_irqs[11].connect(lambda n, level: seen.append(level))
    a = _TestDev(addr="14")     # slot 20, INTA -> PIRQC -> IRQ 11
    b = _TestDev(addr="15")     # slot 21, INTA -> PIRQD -> IRQ 11
    for d in (a, b):
        d.realize()
        rig.bus.plug(d)
        d.reset()
    a.set_irq(1)
    b.set_irq(1)
    a.set_irq(0)
    assert piix4.isa_irqs[11].level == 1
    b.set_irq(0)
    assert seen == [1, 0]
    assert rig.cfg_read(a.devfn, 0x04) >> 16 & 0x08 == 0
    a.set_irq(1)
    assert rig.cfg_read(a.devfn, 0x04) >> 16 & 0x08          # STATUS.INTERRUPT
    rig.cfg_write(a.devfn, 0x04, 0x400)                       # INTX_DISABLE masks the pin
    assert piix4.isa_irqs[11].level == 0
    rig.cfg_write(a.devfn, 0x04, 0)
    assert piix4.isa_irqs[11].level == 1
    rig.cfg_write(DEVFN["piix4"], 0x60, 0x0B0B0A80 | 0x0A)   # move PIRQC to IRQ 10
    rig.cfg_write(DEVFN["piix4"], 0x60, 0x0B0A0A0A)
    assert piix4.isa_irqs[10].level == 1 and piix4.isa_irqs[11].level == 0
    rig.cfg_write(DEVFN["piix4"], 0x60, 0x0B800A0A)           # bit 7: routed nowhere
    assert piix4.isa_irqs[10].level == 0 and piix4.isa_irqs[11].level == 0


def test_malta_slot_to_pirq_map():
    from pysystem.devices.piix4 import malta_pirq
    assert [malta_pirq(10, p) for p in range(4)] == [3] * 4
    assert malta_pirq(11, 0) == 1 and malta_pirq(12, 0) == 2
    assert [malta_pirq(18 + s, 0) for s in range(4)] == [0, 1, 2, 3]
    assert malta_pirq(19, 3) == 0 and malta_pirq(5, 2) == 2


def test_placement():
    assert parse_devfn("0b") == 11 << 3 and parse_devfn("12.1") == (18 << 3) | 1
    assert parse_devfn("0x1f.7") == 0xFF
    for bad in ("20", "1.8", "x", ""):
        with pytest.raises(QOMError):
            parse_devfn(bad)
    rig = Rig(functions=("piix4", "pm"))
    first = _TestDev()
    first.realize()
    assert rig.bus.plug(first) == 18 << 3                     # first free from slot 18
    second = _TestDev()
    second.realize()
    assert rig.bus.plug(second) == 19 << 3
    clash = _TestDev(addr="0a.3")
    clash.realize()
    with pytest.raises(QOMError, match="slot 10 function 3 not available"):
        rig.bus.plug(clash)


def test_absent_devices_and_disabled_cycles_read_all_ones():
    rig = Rig(functions=FUNCTIONS)
    assert rig.cfg_read(5 << 3, 0) == 0xFFFFFFFF
    assert rig.bus.config_read(0x80010000, 4) == 0xFFFFFFFF   # bus 1 does not exist
    rig.gt_write(0xCF8, 0x00005000)
    assert rig.mem.read(GT_BASE + 0xCFC, 4) == 0xFFFFFFFF


def test_config_state_round_trip_restores_mappings():
    rig, dev = _rig_with_test_dev()
    rig.cfg_write(dev.devfn, 0x10, 0x1040)
    rig.cfg_write(dev.devfn, 0x04, 0x1)
    blob = dev.state_bytes()
    rig.cfg_write(dev.devfn, 0x04, 0x0)
    dev.load_state_bytes(blob)
    assert dev.bar_addr[0] == 0x1040 and rig.io_read(0x1040, 1) == 0xA0
    assert dev.state_bytes() == blob


def test_isa_ports_share_the_pci_io_space():
    """The board's ISA bus maps its devices into the PCI I/O space itself (QEMU's "io",
    whose unused ports read as all ones); PIIX4's own ports and BARs stay visible."""
    from pysystem.devices.i8257 import I8257
    from pysystem.devices.isa import ISABus
    rig = Rig(functions=("piix4", "ide", "pm"))
    isa = ISABus(io=rig.dev["piix4"].isa_io)
    dma = I8257()
    dma.realize()
    dma.reset()
    isa.attach(dma)
    assert rig.io_read(0x80, 1) == 0xFF                  # a port nobody decodes
    rig.io_write(0x81, 0x5A, 1)
    assert rig.io_read(0x81, 1) == 0x5A                  # an ISA device's port
    assert rig.io_read(0xCF9, 1) == 0                    # PIIX4 reset control
    assert rig.io_read(0x1F7, 1) == 0                    # IDE status (no drives)
    rig.cfg_write(DEVFN["pm"], 0x40, 0x1001)
    rig.cfg_write(DEVFN["pm"], 0x80, 1)
    rig.io_write(0x1002, 0x0100, 2)
    assert rig.io_read(0x1002, 2) == 0x0100              # the PM block at PMBA
