"""Cirrus CLGD-5446: the VGA/Cirrus registers cirrusfb probes and programs, against QEMU 7.2."""
import pytest

from malta_pci_rig import Rig
from qtest_malta import qemu_malta

IO = 0x10000000
DEVFN = 18 << 3


def _idx(index_port, data_port, n, value=None):
    ops = []
    for i in range(n):
        ops.append(("w", IO + index_port, i, 1))
        if value is not None:
            ops.append(("w", IO + data_port, value, 1))
        ops.append(("r", IO + data_port, 1))
    return ops


def _compare(ops):
    want = qemu_malta(ops)
    rig = Rig(functions=("piix4", "pm", "cirrus"))
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]
    return rig


def test_reset_registers_mono_and_colour_match_qemu():
    ops = _idx(0x3C4, 0x3C5, 0x40) + _idx(0x3CE, 0x3CF, 0x40) + _idx(0x3B4, 0x3B5, 0x40)
    ops += _idx(0x3D4, 0x3D5, 4) + [("r", IO + p, 1) for p in (0x3CC, 0x3CA, 0x3C2, 0x3C7,
                                                                 0x3C8, 0x3BA, 0x3BA, 0x3DA)]
    ops += [("w", IO + 0x3C2, 0xC3, 1)]                  # colour: CRTC at 0x3d4
    ops += _idx(0x3D4, 0x3D5, 0x40) + _idx(0x3B4, 0x3B5, 2)
    ops += [("r", IO + p, 1) for p in (0x3CC, 0x3DA, 0x3DA, 0x3BA)]
    _compare(ops)


@pytest.mark.parametrize("value", (0xFF, 0x00, 0x5A))
def test_write_masks_match_qemu(value):
    ops = [("w", IO + 0x3C2, 0x01, 1)]
    ops += [("w", IO + 0x3C4, 6, 1), ("w", IO + 0x3C5, 0x12, 1)]   # unlock extensions
    regs = [i for i in range(0x20) if i != 6]
    for i in regs:
        ops += [("w", IO + 0x3C4, i, 1), ("w", IO + 0x3C5, value, 1), ("r", IO + 0x3C5, 1)]
    for i in [g for g in range(0x3A) if g != 0x31]:
        ops += [("w", IO + 0x3CE, i, 1), ("w", IO + 0x3CF, value, 1), ("r", IO + 0x3CF, 1)]
    ops += [("w", IO + 0x3D4, 0x11, 1), ("w", IO + 0x3D5, 0, 1)]   # unprotect CR0-7
    for i in range(0x30):
        ops += [("w", IO + 0x3D4, i, 1), ("w", IO + 0x3D5, value, 1), ("r", IO + 0x3D5, 1)]
    ops.append(("r", IO + 0x3DA, 1))
    for i in range(0x15):
        ops += [("w", IO + 0x3C0, i, 1), ("w", IO + 0x3C0, value, 1),
                ("w", IO + 0x3C0, i, 1), ("r", IO + 0x3C1, 1), ("r", IO + 0x3DA, 1)]
    _compare(ops)


def test_sr6_unlock_and_palette_match_qemu():
    ops = [("w", IO + 0x3C4, 6, 1), ("w", IO + 0x3C5, 0x12, 1), ("r", IO + 0x3C5, 1),
           ("w", IO + 0x3C5, 0x13, 1), ("r", IO + 0x3C5, 1)]
    ops += [("w", IO + 0x3C8, 5, 1)] + [("w", IO + 0x3C9, v, 1) for v in (1, 2, 3, 4, 5, 6)]
    ops += [("w", IO + 0x3C7, 5, 1)] + [("r", IO + 0x3C9, 1)] * 6
    ops += [("r", IO + 0x3C7, 1), ("r", IO + 0x3C8, 1)]
    _compare(ops)


def test_bar1_mirrors_the_ports():
    rig = Rig(functions=("piix4", "pm", "cirrus"))
    rig.cfg_write(DEVFN, 0x14, 0x12000000)
    rig.cfg_write(DEVFN, 0x04, 0x02)
    rig.mem.write(0x12000000 + 0x04, 0x0F, 1)            # 0x3c4
    assert rig.mem.read(0x12000000 + 0x05, 1) == 0x98    # 0x3c5: SR0F
    rig.cfg_write(DEVFN, 0x10, 0xF2000000)               # in the GT's pci0-mem1 window
    rig.mem.write(0xF2000000 + 0x1234, 0xA5, 1)          # VRAM
    assert rig.dev["cirrus"].vram.data[0x1234] == 0xA5
