"""Black-box tests of the two i8257 DMA controllers' registers and the page registers."""
import pytest

from pysystem.devices.i8257 import I8257
from pysystem.qom import QOMError

from isa_rig import IsaRig
from qtest_malta_oracle import qemu_malta


def test_address_and_count_through_the_flip_flop():
    r = IsaRig()
    r.outb(0x0C, 0)                             # clear flip-flop
    r.outb(0x04, 0x34)
    r.outb(0x04, 0x12)                          # channel 2 address
    r.outb(0x05, 0xFF)
    r.outb(0x05, 0x01)                          # channel 2 count
    r.outb(0x0C, 0)
    assert [r.inb(0x04), r.inb(0x04), r.inb(0x05), r.inb(0x05)] == [0x34, 0x12, 0xFF, 0x01]


def test_16_bit_controller_uses_every_other_port():
    r = IsaRig()
    r.outb(0xD8, 0)
    r.outb(0xC4, 0x00)
    r.outb(0xC4, 0x10)                          # channel 5 address (in words)
    r.outb(0xD8, 0)
    assert r.inb(0xC4) == 0x00 and r.inb(0xC4) == 0x10
    assert r.dma2.now_addr[1] == 0x1000 << 1    # the byte address is twice the word one


def test_masks_mode_status_and_master_clear():
    r = IsaRig()
    assert r.inb(0x09) == 0xFF                  # all masked after reset
    r.outb(0x0A, 0x02)                          # unmask channel 2
    assert r.inb(0x09) == 0xFB
    r.outb(0x0F, 0x05)
    assert r.inb(0x09) == 0x05
    r.outb(0x0E, 0)
    assert r.inb(0x09) == 0x00
    r.outb(0x09, 0x06)                          # software request on channel 2
    assert r.inb(0x08) == 0x40
    r.outb(0x0B, 0x46)                          # mode of channel 2
    assert r.dma1.chan_mode[2] == 0x46
    r.outb(0x0D, 0)                             # master clear
    assert r.inb(0x09) == 0xFF and r.inb(0x08) == 0


def test_unsupported_commands_are_refused():
    r = IsaRig()
    r.outb(0x08, 0x04)
    assert r.dma1.command == 0x04
    r.outb(0x08, 0x01)                          # memory to memory: not supported
    assert r.dma1.command == 0x04


def test_page_registers_of_the_channels_only():
    r = IsaRig()
    for port in range(0x80, 0x90):
        r.outb(port, port ^ 0xA5)
    mapped = (0x81, 0x82, 0x83, 0x87, 0x89, 0x8A, 0x8B, 0x8F)
    assert [r.inb(p) for p in range(0x80, 0x90)] == \
        [p ^ 0xA5 if p in mapped else 0xFF for p in range(0x80, 0x90)]


def test_bad_dshift_is_refused():
    with pytest.raises(QOMError):
        I8257(dshift=2).realize()


# --- against QEMU (QEMU decodes only the channels' page registers: 0x81-0x83, 0x87, ...) ---
def test_against_qemu():
    ops = [("inb", 0x08), ("inb", 0x09), ("inb", 0xD0), ("inb", 0xD2)]
    for base, step in ((0x00, 1), (0xC0, 2)):
        ctl = base + 8 * step
        ops += [("outb", ctl + 4 * step, 0)]
        for ch in range(4):
            ops += [("outb", base + 2 * ch * step, 0x11 * ch + 1),
                    ("outb", base + 2 * ch * step, 0x20 + ch),
                    ("outb", base + (2 * ch + 1) * step, 0x80 + ch),
                    ("outb", base + (2 * ch + 1) * step, 0x02)]
        ops += [("outb", ctl + 4 * step, 0)]
        for ch in range(4):
            ops += [("inb", base + 2 * ch * step)] * 2 + [("inb", base + (2 * ch + 1) * step)] * 2
        ops += [("outb", ctl + 3 * step, 0x68), ("outb", ctl + 4 * step, 0),
                ("inb", base), ("inb", base)]               # decrement mode changes nothing yet
        ops += [("outb", ctl + 2 * step, 0x01), ("inb", ctl + step),
                ("outb", ctl + 7 * step, 0x0A), ("inb", ctl + step),
                ("outb", ctl + 6 * step, 0), ("inb", ctl + step),
                ("outb", ctl + step, 0x05), ("inb", ctl), ("inb", ctl),
                ("outb", ctl + 5 * step, 0), ("inb", ctl + step), ("inb", ctl)]
    for port in range(0x80, 0x90):             # the unmapped ones read as all ones
        ops += [("outb", port, port ^ 0x3C), ("inb", port)]
    ours = IsaRig().replay(ops)
    assert ours == qemu_malta(ops)
