"""Black-box tests of the Malta FPGA: registers, display, reset, the SPD EEPROM on I2C."""
import pytest

from pysystem import log
from pysystem.chardev.ringbuf import RingbufChardev
from pysystem.devices.malta_fpga import MaltaFPGA, spd_eeprom
from pysystem.memory import AddressSpace, ContainerRegion

from qtest_malta_oracle import qemu_malta

FPGA = 0x1F000000
STATUS, LEDBAR, ASCIIWORD, ASCIIPOS, SOFTRES, BRKRES = 0x208, 0x408, 0x410, 0x418, 0x500, 0x508
GPOUT, GPINP, I2CINP, I2COE, I2COUT, I2CSEL = 0xA00, 0xA08, 0xB00, 0xB08, 0xB10, 0xB18


class Board:
    """The FPGA's two windows mapped as QEMU's Malta maps them."""

    def __init__(self, big_endian=False, **props):
        self.dev = MaltaFPGA(**{"big-endian": big_endian, **props})
        self.dev.realize()
        self.dev.reset()
        self.resets = []
        self.dev.irqs[0].connect(lambda n, level: self.resets.append(level))
        top = ContainerRegion(None, "system", 1 << 32)
        top.add_subregion(FPGA, self.dev.mmio[0])
        top.add_subregion(FPGA + 0xA00, self.dev.mmio[1])
        self.mem = AddressSpace("memory", top, big_endian=big_endian)

    def replay(self, ops):
        out = []
        for op in ops:
            size = {"b": 1, "w": 2, "l": 4}[op[0][-1]]
            if op[0].startswith("read"):
                out.append(self.mem.read(op[1], size))
            else:
                self.mem.write(op[1], op[2], size)
        return out


def test_status_reports_the_endianness():
    assert Board().replay([("readl", FPGA + STATUS)]) == [0x10]
    assert Board(big_endian=True).replay([("readl", FPGA + STATUS)]) == [0x12]


def test_leds_and_ascii_display():
    b = Board()
    b.mem.write(FPGA + LEDBAR, 0x1A5, 4)
    assert b.mem.read(FPGA + LEDBAR, 4) == 0xA5 and b.dev.leds_text() == "# #  # #"
    b.mem.write(FPGA + ASCIIWORD, 0x1234ABCD, 4)
    assert b.dev.display_text() == "1234ABCD"
    for i, ch in enumerate(b"pysystem"):
        b.mem.write(FPGA + ASCIIPOS + 8 * i, ch, 4)
    assert b.dev.display_text() == "pysystem"
    b.dev.reset()
    assert b.dev.display_text() == " " * 8 and b.dev.leds == 0


def test_display_changes_are_logged_and_drawn(tmp_path):
    chr_ = RingbufChardev()
    b = Board(chardev=chr_)
    assert chr_.contents().startswith(b"\x1b[HMalta LEDBAR")
    old = set(log.mask)
    log.set_mask("trace")
    log.set_file(str(tmp_path / "log"))
    try:
        b.mem.write(FPGA + ASCIIPOS, ord("Y"), 4)
    finally:
        log.set_file(None)
        log.mask.clear()
        log.mask.update(old)
    assert "malta-fpga: ASCII display |Y       |" in (tmp_path / "log").read_text()
    assert chr_.contents().endswith(b"\n\n\n\n|\x1b[31mY       \x1b[00m|")


def test_softres_requests_a_reset_only_for_0x42():
    b = Board()
    b.mem.write(FPGA + SOFTRES, 0x41, 4)
    assert b.resets == []
    b.mem.write(FPGA + SOFTRES, 0x42, 4)
    assert b.resets == [1, 0]


def test_uart_hole_is_left_for_the_cbus_uart():
    b = Board()
    from pysystem.memory import BusError
    with pytest.raises(BusError):
        b.mem.read(FPGA + 0x900, 1)
    assert b.mem.read(FPGA + GPOUT, 4) == 0


def test_spd_eeprom_generation():
    spd = spd_eeprom(128 << 20)
    assert spd[2] == 0x04 and spd[5] == 2 and spd[31] == 16   # SDR, two banks of 64 MiB
    assert spd[63] == sum(spd[:63]) & 0xFF and len(spd) == 256
    assert spd_eeprom(256 << 20)[2] == 0x08                   # QEMU's encoding turns to DDR2
    assert spd_eeprom(2048 << 20)[2] == 0x08


# --- I2C bit-bang, as a YAMON-style reader drives it ----------------------------------
def _lines(scl, sda):
    return ("writel", FPGA + I2COUT, (scl << 1) | sda)


def _byte_out(value):
    ops = []
    for bit in range(7, -1, -1):
        b = (value >> bit) & 1
        ops += [_lines(0, b), _lines(1, b), _lines(0, b)]
    ops += [_lines(0, 1), _lines(1, 1), ("readl", FPGA + I2CINP), _lines(0, 1)]   # ACK clock
    return ops


def _read_byte_ops(address):
    ops = [_lines(1, 1), _lines(1, 0), _lines(0, 0)]                 # START
    ops += _byte_out(0xA0) + _byte_out(address)
    ops += [_lines(0, 1), _lines(1, 1), _lines(1, 0), _lines(0, 0)]  # repeated START
    ops += _byte_out(0xA1)
    for _ in range(8):
        ops += [_lines(0, 1), _lines(1, 1), ("readl", FPGA + I2CINP), _lines(0, 1)]
    ops += [_lines(0, 0), _lines(1, 0), _lines(1, 1)]                # STOP
    return ops


def _bits_to_byte(bits):
    value = 0
    for bit in bits:
        value = (value << 1) | (bit & 1)
    return value


def test_spd_byte_read_over_bitbang():
    b = Board(**{"ram-size": 128 << 20})
    for address in (0, 2, 31, 63):
        out = b.replay(_read_byte_ops(address))
        acks, data = out[:3], out[3:]
        assert [a & 1 for a in acks] == [0, 0, 0]
        assert _bits_to_byte(data) == spd_eeprom(128 << 20)[address]


# --- against QEMU ------------------------------------------------------------------------
def _register_ops():
    ops = [("readl", FPGA + off) for off in (0x200, STATUS, 0x210, LEDBAR, BRKRES, GPOUT,
                                             GPINP, I2CINP, I2COE, I2COUT, I2CSEL)]
    ops += [("writel", FPGA + LEDBAR, 0x1FF), ("readl", FPGA + LEDBAR),
            ("writel", FPGA + BRKRES, 0x1234), ("readl", FPGA + BRKRES),
            ("writel", FPGA + GPOUT, 0x3C3), ("readl", FPGA + GPOUT),
            ("writel", FPGA + I2COE, 0xFF), ("readl", FPGA + I2COE),
            ("writel", FPGA + I2CSEL, 0x02), ("readl", FPGA + I2CSEL), ("readl", FPGA + GPINP),
            ("writel", FPGA + I2CSEL, 0x03), ("readl", FPGA + GPINP),
            ("writel", FPGA + STATUS, 0), ("readl", FPGA + STATUS),
            ("readb", FPGA + STATUS), ("readw", FPGA + STATUS),
            ("readl", FPGA + ASCIIWORD), ("readl", FPGA + 0x1000)]
    return ops


@pytest.mark.parametrize("big_endian", [False, True], ids=["mipsel", "mips"])
def test_registers_against_qemu(big_endian):
    ops = _register_ops()
    assert Board(big_endian=big_endian).replay(ops) == qemu_malta(ops, big_endian=big_endian)


def test_spd_over_bitbang_against_qemu():
    ops = []
    for address in (0, 1, 2, 5, 31, 62, 63, 64, 127):
        ops += _read_byte_ops(address)
    assert Board().replay(ops) == qemu_malta(ops)
