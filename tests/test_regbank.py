from pysystem import log
from pysystem.qom import Object, register
from pysystem.regbank import Reg, RegisterBank


@register
class _Dev(Object):
    TYPE = "test-regbank-dev"
    REGS = RegisterBank(
        "testdev",
        Reg("CTRL", 0x00, reset=0x300, mask=0xFF07, on_write="_changed"),
        Reg("DATA", 0x04, read="_read_data", write="_write_data", stored=False),
        Reg("STAT", 0x08, access="ro", reset=0x90),
        Reg("PRIO", 0x10, count=8, width=1, mask=0xF0),
    )
    STATE = REGS.fields()

    def __init__(self, **p):
        super().__init__(**p)
        self.log = []

    def _changed(self):
        self.log.append(("ctrl", self.ctrl))

    def _read_data(self):
        return 0x41

    def _write_data(self, v):
        self.log.append(("data", v))


def _dev():
    d = _Dev()
    d.realize()
    d.reset()
    return d


def test_reset_values_and_masked_write():
    d = _dev()
    assert _Dev.REGS.read(d, 0x00, 4) == 0x300
    _Dev.REGS.write(d, 0x00, 0xFFFFFFFF, 4)
    assert d.ctrl == 0xFF07 and d.log == [("ctrl", 0xFF07)]


def test_handlers_and_read_only():
    d = _dev()
    assert _Dev.REGS.read(d, 0x04, 4) == 0x41
    _Dev.REGS.write(d, 0x04, 0x55, 4)
    _Dev.REGS.write(d, 0x08, 0x1234, 4)
    assert d.log == [("data", 0x55)] and d.stat == 0x90


def test_byte_array_word_access():
    d = _dev()
    _Dev.REGS.write(d, 0x10, 0xA0B0C0D0, 4)
    assert d.prio[:4] == [0xD0, 0xC0, 0xB0, 0xA0]
    assert _Dev.REGS.read(d, 0x12, 1) == 0xB0
    assert _Dev.REGS.read(d, 0x10, 4) == 0xA0B0C0D0


def test_unimplemented_offsets_log_and_read_zero(capsys, tmp_path):
    d = _dev()
    path = tmp_path / "log"
    log.set_mask("unimp")
    log.set_file(str(path))
    try:
        assert _Dev.REGS.read(d, 0x40, 4) == 0
    finally:
        log.mask.clear()
        log.set_file(None)
    assert "testdev: read of unimplemented register 0x040" in path.read_text()


def test_state_fields_come_from_the_table():
    assert [f.name for f in _Dev.class_fields()] == ["ctrl", "stat", "prio"]


def _space(d, endianness, big_guest):
    from pysystem.memory import AddressSpace, ContainerRegion
    root = ContainerRegion(None, "system", 1 << 32)
    root.add_subregion(0x1000, d.REGS.region(d, "regs", 0x100, endianness=endianness))
    return AddressSpace("memory", root, big_endian=big_guest)


def test_narrow_accesses_address_a_big_endian_registers_bytes():
    """In a big-endian bank offset 0 is the register's most significant byte, whatever
    the guest's byte order; a little-endian bank is as before."""
    for big_guest in (False, True):
        d = _dev()
        d.ctrl = 0x1234
        space = _space(d, "big", big_guest)
        assert space.read(0x1000, 4) == (0x1234 if big_guest else 0x34120000)
        assert [space.read(0x1000 + i, 1) for i in range(4)] == [0, 0, 0x12, 0x34]
        assert space.read(0x1003, 1) == 0x34 and space.read(0x1002, 1) == 0x12
        assert space.read(0x1002, 2) == (0x1234 if big_guest else 0x3412)
        space.write(0x1003, 0x05, 1)            # the low byte (CTRL keeps bits 3-7: mask 0xff07)
        assert d.ctrl == 0x1235
        space.write(0x1002, 0xFF, 1)
        assert d.ctrl == 0xFF35
        d.prio = [0] * 8
        space.write(0x1010, 0x10203040, 4)      # byte-wide registers: addressed in order
        assert d.prio[:4] == ([0x10, 0x20, 0x30, 0x40] if big_guest else [0x40, 0x30, 0x20, 0x10])
        assert space.read(0x1010, 4) == 0x10203040
        assert space.read(0x1010, 1) == (0x10 if big_guest else 0x40)
    d = _dev()
    d.ctrl = 0x1234
    space = _space(d, "little", False)
    assert space.read(0x1000, 1) == 0x34 and space.read(0x1001, 1) == 0x12
