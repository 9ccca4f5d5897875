"""PIIX4 UHCI: the registers Linux's early handoff and uhci-hcd probe touch, against QEMU 7.2."""
import pytest

from malta_pci_rig import GT_BASE, PLACES, Rig
from qtest_malta import qemu_malta

from pysystem.clock import VirtualClock

DEVFN = PLACES["usb"][2]
IO = 0x10000000
BASE = 0x1040


def _setup():
    return [("w", GT_BASE + 0xCF8, 0x80000000 | DEVFN << 8 | 0x20, 4),
            ("w", GT_BASE + 0xCFC, BASE | 1, 4),
            ("w", GT_BASE + 0xCF8, 0x80000000 | DEVFN << 8 | 0x04, 4),
            ("w", GT_BASE + 0xCFC, 0x5, 4)]


def _regs():
    return [("r", IO + BASE + off, 2) for off in (0, 2, 4, 6, 8, 0xA, 0x10, 0x12)] + \
        [("r", IO + BASE + 0xC, 1), ("r", IO + BASE + 8, 4)]


SEQUENCES = {
    "reset": [],
    "run-stop": [("w", IO + BASE, 0x0001, 2)] + _regs() + [("w", IO + BASE, 0x0000, 2)],
    "frnum": [("w", IO + BASE + 6, 0x0123, 2)] + _regs() + [("w", IO + BASE, 0x41, 2),
                                                          ("w", IO + BASE + 6, 0x0456, 2)],
    "frbase-sof": [("w", IO + BASE + 8, 0x12345678, 4), ("w", IO + BASE + 0xC, 0x40, 1),
                   ("w", IO + BASE + 4, 0x000F, 2)],
    "ports": [("w", IO + BASE + 0x10, 0xFFFF, 2)] + _regs() + [("w", IO + BASE + 0x12, 0x0204, 2),
                                                             ("w", IO + BASE + 0x10, 0x000A, 2)],
    "hcreset": [("w", IO + BASE + 4, 0xF, 2), ("w", IO + BASE, 0x0041, 2),
                ("w", IO + BASE, 0x0002, 2)],
    "greset": [("w", IO + BASE + 0xC, 0x22, 1), ("w", IO + BASE, 0x0004, 2)],
    "status-w1c": [("w", IO + BASE, 0x0001, 2), ("w", IO + BASE + 2, 0x003F, 2)],
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_registers_match_qemu(name):
    ops = _setup() + SEQUENCES[name] + _regs()
    want = qemu_malta(ops)
    rig = Rig(functions=("piix4", "usb", "pm"))
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]


def test_frame_counter_runs_in_guest_time():
    clock = VirtualClock()
    rig = Rig(functions=("piix4", "usb", "pm"), props={"usb": {"clock": clock}})
    for op in _setup():
        rig.mem.write(op[1], op[2], op[3])
    rig.io_write(BASE, 0x0001, 2)
    clock.advance(125_000 * 5)                  # 5 ms at 8 ns per instruction
    assert rig.io_read(BASE + 6, 2) == 5
    rig.io_write(BASE, 0x0000, 2)
    clock.advance(125_000 * 5)
    assert rig.io_read(BASE + 6, 2) == 5 and rig.io_read(BASE + 2, 2) & 0x20


def test_interrupt_enable_and_status():
    rig = Rig(functions=("piix4", "usb", "pm"))
    usb = rig.dev["usb"]
    for op in _setup():
        rig.mem.write(op[1], op[2], op[3])
    usb.usbsts |= 0x08                          # host system error: always interrupts
    usb._update_irq()
    assert usb.intx_level == 1
    assert rig.dev["piix4"].isa_irqs[11].level == 1      # slot 10 -> PIRQD -> IRQ 11
    rig.io_write(BASE + 2, 0x08, 2)
    assert usb.intx_level == 0
