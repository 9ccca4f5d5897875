"""The GT-64120: register reset values and write masks against QEMU 7.2, ISD moves,
PCI windows, interrupt acknowledge, both CPU byte orders."""
import pytest

from malta_pci_rig import GT_BASE, Rig, bswap32
from qtest_malta import qemu_malta

# every register QEMU 7.2 implements (0xcf8/0xcfc and IACK are tested separately)
OFFSETS = sorted(set(range(0x000, 0x140, 8)) | set(range(0x400, 0x494, 4)) |
                 set(range(0x800, 0x880, 4)) | set(range(0xC00, 0xCF8, 4)) - {0xC34})


@pytest.mark.parametrize("big_endian", (False, True))
def test_register_reset_values_match_qemu(big_endian):
    want = qemu_malta([("r", GT_BASE + off, 4) for off in OFFSETS], big_endian=big_endian)
    rig = Rig(big_endian=big_endian)
    got = [rig.mem.read(GT_BASE + off, 4) for off in OFFSETS]
    assert {hex(o): hex(v) for o, v in zip(OFFSETS, got)} == \
        {hex(o): hex(v) for o, v in zip(OFFSETS, want)}


@pytest.mark.parametrize("big_endian", (False, True))
def test_register_write_masks_match_qemu(big_endian):
    """Write a pattern then all-zeros to each register (skipping those that move the
    ISD or the windows) and compare what reads back."""
    skip = {0x048, 0x050, 0x058, 0x060, 0x068, 0x080, 0x088, 0x000, 0xC00}
    offs = [o for o in OFFSETS if o not in skip]
    ops = []
    for off in offs:
        ops += [("w", GT_BASE + off, 0xFFFFFFFF, 4), ("r", GT_BASE + off, 4),
                ("w", GT_BASE + off, 0x12345678, 4), ("r", GT_BASE + off, 4),
                ("w", GT_BASE + off, 0, 4), ("r", GT_BASE + off, 4)]
    want = qemu_malta(ops, big_endian=big_endian)
    rig = Rig(big_endian=big_endian)
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert {hex(o): [hex(v) for v in got[3 * i:3 * i + 3]] for i, o in enumerate(offs)} == \
        {hex(o): [hex(v) for v in want[3 * i:3 * i + 3]] for i, o in enumerate(offs)}


@pytest.mark.parametrize("big_endian", (False, True))
def test_boot_code_sequence_matches_qemu(big_endian):
    """What QEMU's generated boot code writes (values as the CPU stores them), then the
    moved registers, the windows' first bytes and a config cycle through the new ISD."""
    def gt(v):
        return bswap32(v) if big_endian else v
    new = 0x1BE00000
    ops = [("w", GT_BASE + 0x68, gt(0xDF), 4)]
    for off, value in ((0x48, 0xC0), (0x50, 0x40), (0x58, 0x80), (0x60, 0x3F), (0x80, 0xC1),
                       (0x88, 0x5E)):
        ops.append(("w", new + off, gt(value), 4))
    ops += [("r", new + off, 4) for off in (0x48, 0x50, 0x58, 0x60, 0x68, 0x80, 0x88, 0xF0,
                                            0xF8, 0x100)]
    ops += [("r", GT_BASE + 0x68, 4), ("r", 0x18000CF9, 1), ("r", 0x10000CF9, 1)]
    ops += [("w", new + 0xCF8, gt(0x80005000), 4), ("r", new + 0xCFC, 4),
            ("w", new + 0xCF8, gt(0x80000000), 4), ("r", new + 0xCFC, 4)]
    want = qemu_malta(ops, big_endian=big_endian)
    rig = Rig(big_endian=big_endian)
    got = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            got.append(rig.mem.read(op[1], op[2]))
    assert [hex(v) for v in got] == [hex(v) for v in want]


@pytest.mark.parametrize("big_endian", (False, True))
def test_isd_moves_as_the_boot_code_does(big_endian):
    rig = Rig(big_endian=big_endian)
    assert rig.gt_read(0x68) == 0xA0
    rig.gt_write(0x68, 0xDF)                      # 0xdf << 21 = 0x1be00000
    assert rig.mem.read(0x1BE00068, 4) == (bswap32(0xDF) if big_endian else 0xDF)
    assert rig.mem.read(GT_BASE + 0x68, 4) == 0   # the empty slot answers there now
    rig.mem.write(GT_BASE + 0x68, 0, 4)           # a write there goes nowhere
    assert rig.gt.isd.addr == 0x1BE00000


def test_isd_avoids_flash_and_boot_rom():
    rig = Rig()
    rig.gt_write(0x68, 0xF0)                      # 0x1e000000: moved past the flash
    assert rig.gt.isd.addr == 0x1F100000
    rig.mem.write(0x1F100068, 0xFE, 4)            # 0x1fc00000: moved past the boot ROM
    assert rig.gt.isd.addr == 0x1FD00000


def test_pci_windows_follow_decode_registers():
    rig = Rig()
    io, m0, m1 = (rig.gt.window(n) for n in ("pci0-io", "pci0-mem0", "pci0-mem1"))
    assert (io.addr, io.size) == (0x10000000, 0x2000000)
    assert (m0.addr, m0.size, m0.alias_offset) == (0x12000000, 0x2000000, 0x12000000)
    assert (m1.addr, m1.size) == (0xF2000000, 0x2000000)
    # what QEMU's generated boot code writes (as a little-endian CPU sees the values)
    rig.gt_write(0x48, 0xC0)         # PCI0IOLD: 0x18000000
    rig.gt_write(0x50, 0x40)         # PCI0IOHD
    rig.gt_write(0x58, 0x80)         # PCI0M0LD: 0x10000000
    rig.gt_write(0x60, 0x3F)         # PCI0M0HD
    rig.gt_write(0x80, 0xC1)         # PCI0M1LD
    rig.gt_write(0x88, 0x5E)         # PCI0M1HD
    io, m0, m1 = (rig.gt.window(n) for n in ("pci0-io", "pci0-mem0", "pci0-mem1"))
    assert (io.addr, io.size) == (0x18000000, 0x200000)
    assert (m0.addr, m0.size) == (0x10000000, 0x8000000)
    assert (m1.addr, m1.size) == (0x18200000, 0x3C00000)   # (0x5e + 1 - 0x41) << 21
    assert rig.gt_read(0xF0) == 0xC0 and rig.gt_read(0xF8) == 0x80   # remap follows LD
    # PIIX4's reset control register is reached at its port through the window
    assert rig.mem.read(0x18000CF9, 1) == 0
    rig.gt_write(0x50, 0x3F)                       # low > high: the window stays as it was
    rig.gt_write(0x48, 0x7F)
    assert rig.gt.window("pci0-io").addr == 0x18000000


def test_interrupt_acknowledge_calls_the_board_hook():
    rig = Rig()
    vectors = iter((0x0E, 0x07))
    rig.gt.iack = lambda: next(vectors)
    assert rig.gt_read(0xC34) == 0x0E
    assert rig.gt_read(0xC34) == 0x07


def test_intrcause_clears_on_zero_bits():
    rig = Rig()
    rig.gt.intrcause = 0x0C000001
    rig.gt_write(0xC18, ~0x04000000 & 0xFFFFFFFF)
    assert rig.gt_read(0xC18) == 0x08000001
    rig.gt_write(0xC18, 0)
    assert rig.gt_read(0xC18) == 0


def test_unaligned_and_byte_accesses_read_the_whole_register():
    """QEMU widens narrower accesses to the register: a byte at +1 gives the first byte."""
    ops = [("r", GT_BASE + 0x68, 1), ("r", GT_BASE + 0x69, 1), ("r", GT_BASE + 0x6A, 2)]
    for be in (False, True):
        want = qemu_malta(ops, big_endian=be)
        rig = Rig(big_endian=be)
        assert [rig.mem.read(a, s) for _, a, s in ops] == want


def test_state_round_trip_restores_mappings():
    rig = Rig()
    rig.gt_write(0x68, 0xDF)
    rig.gt_write(0x50, 0x40)
    rig.gt_write(0x48, 0xC0)
    blob = rig.gt.state_bytes()
    rig.gt_write(0x68, 0xA0)
    rig.gt.load_state_bytes(blob)
    assert rig.gt.isd.addr == 0x1BE00000 and rig.gt.window("pci0-io").addr == 0x18000000
    assert rig.gt.state_bytes() == blob
