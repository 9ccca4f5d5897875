"""Tests of unimplemented-device: reads zero, ignores writes, logs under -d unimp."""
import pytest

from pysystem import log
from pysystem.devices.unimplemented import UnimplementedDevice
from pysystem.memory import AddressSpace, ContainerRegion
from pysystem.qom import Container, QOMError


def make(name="vexpress.clcd", size=0x1000):
    dev = UnimplementedDevice(name=name, size=size)
    dev.realize()
    dev.reset()
    return dev


@pytest.fixture
def logfile(tmp_path):
    path = tmp_path / "log"
    log.set_mask("unimp")
    log.set_file(str(path))
    yield path
    log.set_file(None)
    log.set_mask("")


def test_reads_zero_writes_ignored_and_logged(logfile):
    dev = make()
    region = dev.mmio[0]
    assert region.name == "vexpress.clcd" and region.size == 0x1000
    assert region.dispatch_write(0x24, 0xDEADBEEF, 4, False)
    assert region.dispatch_read(0x24, 4, False) == 0
    assert region.dispatch_read(0x7, 1, False) == 0
    assert region.dispatch_read(0x10, 8, False) == 0
    lines = logfile.read_text().splitlines()
    assert lines == [
        "vexpress.clcd: unimplemented device write (size 4, offset 0x024, value 0xdeadbeef)",
        "vexpress.clcd: unimplemented device read (size 4, offset 0x024)",
        "vexpress.clcd: unimplemented device read (size 1, offset 0x007)",
        "vexpress.clcd: unimplemented device read (size 8, offset 0x010)",
    ]


def test_offset_width_follows_size(logfile):
    dev = make("big", 0x4000000)
    dev.mmio[0].dispatch_write(0x10, 0x5, 2, False)
    assert logfile.read_text() == \
        "big: unimplemented device write (size 2, offset 0x0000010, value 0x0005)\n"


def test_silent_without_unimp(tmp_path):
    path = tmp_path / "log"
    log.set_mask("guest_errors")
    log.set_file(str(path))
    try:
        make().mmio[0].dispatch_read(0, 4, False)
    finally:
        log.set_file(None)
        log.set_mask("")
    assert path.read_text() == ""


def test_through_an_address_space(logfile):
    root = ContainerRegion(None, "system", 1 << 32)
    dev = make("vexpress.kmi0")
    root.add_subregion(0x10006000, dev.mmio[0], priority=-1000)
    space = AddressSpace("memory", root)
    assert space.read(0x10006004, 4) == 0
    assert "vexpress.kmi0: unimplemented device read (size 4, offset 0x004)" in logfile.read_text()


def test_tree_name_and_property_are_separate():
    dev = make("vexpress.flash")
    Container().add_child("unimp0", dev)
    assert dev.name == "unimp0" and dev.get_prop("name") == "vexpress.flash"
    assert dev.mmio[0].name == "vexpress.flash"


def test_missing_properties_are_refused():
    with pytest.raises(QOMError):
        UnimplementedDevice(size=0x1000).realize()
    with pytest.raises(QOMError):
        UnimplementedDevice(name="x").realize()
    with pytest.raises(QOMError):
        UnimplementedDevice(name="x", size="lots")
