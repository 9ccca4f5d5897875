"""The A9 MPCore private region and the L2C-310 register by register against
qemu-system-arm -M vexpress-a9 (through qtest; time stands still there, so only
time-independent behaviour is compared).

Where we follow the Cortex-A9 MPCore or L2C-310 TRM rather than QEMU's simplification,
the read says so: ``("r", addr, ours, reason)``; our value is checked, QEMU's ignored.
QEMU's qtest accesses are Non-secure, ours Secure-only, so the GIC is compared only
where the two views agree (type and identification).
"""
from pysystem.clock import VirtualClock
from pysystem.devices.a9mpcore import A9MPCorePriv
from pysystem.devices.l2x0 import L2x0
from pysystem.memory import AddressSpace, ContainerRegion

from qtest_oracle import qemu_vexpress

PRIV, L2 = 0x1E000000, 0x1E00A000
SCU, GICC, TWD, WDT, GICD = PRIV, PRIV + 0x100, PRIV + 0x600, PRIV + 0x620, PRIV + 0x1000
ONES = 0xFFFFFFFF
TRM_SCU = "stored as the A9 TRM describes (QEMU: RAZ/WI or all bits)"
TRM_L2 = "stored with the L2C-310 TRM's bits (QEMU: RAZ/WI or all bits)"
TRM_CTRL = "only the TRM's Control bits are kept (QEMU keeps all 32)"

OPS = [
    # SCU
    ("r", SCU + 0x00), ("r", SCU + 0x04), ("r", SCU + 0x08), ("r", SCU + 0x0C),
    ("r", SCU + 0x40), ("r", SCU + 0x44), ("r", SCU + 0x54),
    ("r", SCU + 0x50, 0xF, "SAC resets to 0xF: every CPU may access the SCU"),
    ("w", SCU + 0x00, 1), ("r", SCU + 0x00),
    ("w", SCU + 0x00, ONES), ("r", SCU + 0x00, 0x7D, TRM_SCU),
    ("w", SCU + 0x04, 0), ("r", SCU + 0x04),
    ("w", SCU + 0x08, 0x02), ("r", SCU + 0x08),
    ("w", SCU + 0x08, ONES), ("r", SCU + 0x08, 0x03030303, TRM_SCU),
    ("w", SCU + 0x40, ONES), ("r", SCU + 0x40, 0xFFF00000, TRM_SCU),
    # GIC: what the Secure and Non-secure views share
    ("r", GICD + 0x004), ("r", GICD + 0xFE0), ("r", GICD + 0xFE4), ("r", GICD + 0xFE8),
    ("r", GICD + 0xFEC), ("r", GICD + 0xFF0), ("r", GICD + 0xFF4), ("r", GICD + 0xFF8),
    ("r", GICD + 0xFFC), ("r", GICD + 0xFD0),
    ("r", GICD + 0x008, 0x0102043B, "the A9 TRM's ICDIIDR (QEMU: 0x43B)"),
    ("r", GICC + 0xFC, 0x3901243B, "the A9 TRM's ICCIIDR (QEMU: 0x1043B)"),
    # private timer and watchdog, timer mode, time standing still
    ("r", TWD + 0x00), ("r", TWD + 0x04), ("r", TWD + 0x08), ("r", TWD + 0x0C),
    ("w", TWD + 0x00, 1000), ("r", TWD + 0x00), ("r", TWD + 0x04),
    ("w", TWD + 0x04, 77), ("r", TWD + 0x04), ("r", TWD + 0x00),
    ("w", TWD + 0x08, 0x0906), ("r", TWD + 0x08),
    ("w", TWD + 0x08, 0), ("w", TWD + 0x04, 0), ("w", TWD + 0x00, 50),
    ("w", TWD + 0x04, 0), ("w", TWD + 0x08, 3), ("r", TWD + 0x04),
    ("w", TWD + 0x08, ONES), ("r", TWD + 0x08, 0xFF07, TRM_CTRL),
    ("w", TWD + 0x0C, ONES), ("r", TWD + 0x0C),
    ("r", WDT + 0x00), ("r", WDT + 0x08), ("r", WDT + 0x0C),
    ("w", WDT + 0x00, 1234), ("r", WDT + 0x00), ("r", WDT + 0x04), ("r", TWD + 0x00),
    # L2C-310
    ("r", L2 + 0x000), ("r", L2 + 0x004), ("r", L2 + 0x100), ("r", L2 + 0x104),
    ("r", L2 + 0x108), ("r", L2 + 0x10C), ("r", L2 + 0xC00), ("r", L2 + 0xC04),
    ("r", L2 + 0xF40), ("r", L2 + 0xF60), ("r", L2 + 0xF80),
    ("w", L2 + 0x100, ONES), ("r", L2 + 0x100),
    ("w", L2 + 0x000, 0), ("r", L2 + 0x000),
    ("w", L2 + 0x77C, 0xFF), ("r", L2 + 0x77C), ("w", L2 + 0x730, 0), ("r", L2 + 0x730),
    ("w", L2 + 0x7FC, 0xFF), ("r", L2 + 0x7FC), ("r", L2 + 0x218), ("r", L2 + 0x21C),
    ("w", L2 + 0x104, 0x02420000), ("r", L2 + 0x104), ("r", L2 + 0x004),
    ("w", L2 + 0x104, (3 << 17) | (1 << 16)), ("r", L2 + 0x004),
    ("w", L2 + 0x108, 0x111), ("r", L2 + 0x108),
    ("w", L2 + 0x108, ONES), ("r", L2 + 0x108, 0x777, TRM_L2),
    ("w", L2 + 0xC04, 0x40000000), ("r", L2 + 0xC04),
    ("w", L2 + 0xF80, 3), ("r", L2 + 0xF80),
]


def _ours():
    clock = VirtualClock()
    priv = A9MPCorePriv(num_cpu=1, num_irq=96)
    priv.clock = clock
    priv.realize()
    priv.reset()
    l2 = L2x0()
    l2.realize()
    l2.reset()
    root = ContainerRegion(None, "system", 1 << 32)
    root.add_subregion(PRIV, priv.mmio[0])
    root.add_subregion(L2, l2.mmio[0])
    space = AddressSpace("vs-qemu", root)
    out = []
    for op in OPS:
        if op[0] == "r":
            out.append(space.read(op[1], 4))
        else:
            space.write(op[1], op[2], 4)
    return out


def test_registers_match_qemu_vexpress_a9():
    qemu = qemu_vexpress([op[:2] if op[0] == "r" else op for op in OPS])
    ours = _ours()
    reads = [op for op in OPS if op[0] == "r"]
    assert len(qemu) == len(ours) == len(reads)
    for op, want, got in zip(reads, qemu, ours):
        if len(op) > 2:
            assert got == op[2], f"0x{op[1]:x}: 0x{got:x} (TRM: 0x{op[2]:x}; {op[3]})"
        else:
            assert got == want, f"0x{op[1]:x}: ours 0x{got:x}, QEMU 0x{want:x}"
