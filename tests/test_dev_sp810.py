"""Black-box MMIO tests of the minimal SP810 system controller."""
from pysystem.devices.sp810 import SP810

SCCTRL, SCSYSSTAT, SCPEREN, SCPERDIS, SCPERCLKEN, SCPERSTAT = 0x00, 0x04, 0x24, 0x28, 0x2C, 0x30
TIMEREN_SEL = (1 << 15) | (1 << 17) | (1 << 19) | (1 << 21)


def rig():
    dev = SP810()
    dev.realize()
    dev.reset()
    region = dev.mmio[0]
    return (dev, lambda off: region.dispatch_read(off, 4, False),
            lambda off, v: region.dispatch_write(off, v, 4, False))


def test_reset_values_and_ids():
    _, read, _ = rig()
    assert read(SCCTRL) == 0 and read(SCSYSSTAT) == 0
    assert read(SCPERCLKEN) == 0xFFFFFFFF and read(SCPERSTAT) == 0xFFFFFFFF
    assert [read(0xFE0 + 4 * i) for i in range(8)] == [0x10, 0x18, 0x04, 0x00,
                                                       0x0D, 0xF0, 0x05, 0xB1]


def test_timer_clock_selects_read_back_as_linux_clk_sp810_expects():
    dev, read, write = rig()
    # clk-sp810: read-modify-write of SCCTRL to pick TIMCLK (1 MHz) for each timer
    write(SCCTRL, read(SCCTRL) | TIMEREN_SEL)
    assert read(SCCTRL) == TIMEREN_SEL
    write(SCCTRL, read(SCCTRL) & ~(1 << 17))
    assert read(SCCTRL) == TIMEREN_SEL & ~(1 << 17)
    dev.reset()
    assert read(SCCTRL) == 0


def test_peripheral_clock_enable_and_disable():
    _, read, write = rig()
    write(SCPERDIS, 0x0000FF00)
    assert read(SCPERCLKEN) == 0xFFFF00FF and read(SCPERSTAT) == 0xFFFF00FF
    write(SCPEREN, 0x00000F00)
    assert read(SCPERCLKEN) == 0xFFFF0FFF
    assert read(SCPEREN) == 0  # write-only
    write(SCPERCLKEN, 0)  # read-only
    assert read(SCPERCLKEN) == 0xFFFF0FFF


def test_sysstat_write_clears():
    dev, read, write = rig()
    dev.scsysstat = 0x5
    write(SCSYSSTAT, 0x1234)
    assert read(SCSYSSTAT) == 0


def test_unmodelled_offsets_read_zero():
    _, read, write = rig()
    write(0xF00, 1)
    assert read(0xF00) == 0 and read(0x800) == 0
