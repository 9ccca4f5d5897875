"""Black-box tests of the SBCon I2C bit-bang port, driven as Linux's i2c-algo-bit does."""
from pysystem.devices.arm_sbcon_i2c import ArmSbconI2C
from pysystem.devices.i2c import I2CSlave
from pysystem.devices.sii9022 import SII9022

from qtest_oracle import qemu_vexpress

CONTROL, CONTROLC = 0x0, 0x4
SCL, SDA = 1, 2
BASE = 0x10016000


class Ops:
    """Records register operations; ``run`` replays them on a device or on QEMU."""

    def __init__(self):
        self.ops = []

    def set(self, bits):
        self.ops.append(("w", CONTROL, bits))

    def clear(self, bits):
        self.ops.append(("w", CONTROLC, bits))

    def sample(self):
        self.ops.append(("r", CONTROL))

    # i2c-algo-bit's line sequences; each sample() reads SDA while SCL is high
    def start(self):
        self.set(SDA)
        self.set(SCL)
        self.clear(SDA)
        self.clear(SCL)

    def stop(self):
        self.clear(SDA)
        self.set(SCL)
        self.set(SDA)

    def write_byte(self, byte):
        for i in range(7, -1, -1):
            (self.set if byte >> i & 1 else self.clear)(SDA)
            self.set(SCL)
            self.clear(SCL)
        self.set(SDA)                  # release SDA for the ACK
        self.set(SCL)
        self.sample()                  # ACK bit: SDA low
        self.clear(SCL)

    def read_byte(self, ack):
        self.set(SDA)
        for _ in range(8):
            self.set(SCL)
            self.sample()
            self.clear(SCL)
        (self.clear if ack else self.set)(SDA)
        self.set(SCL)
        self.clear(SCL)
        self.set(SDA)


def run(dev, ops):
    region = dev.mmio[0]
    out = []
    for op in ops:
        if op[0] == "r":
            out.append(region.dispatch_read(op[1], 4, False))
        else:
            region.dispatch_write(op[1], op[2], 4, False)
    return out


def decode(samples):
    """Bits (SDA, bit 1 of each sample) grouped as the Ops sequence produced them."""
    return [(s >> 1) & 1 for s in samples]


def rig():
    dev = ArmSbconI2C()
    dev.realize()
    dev.reset()
    sii = SII9022(address=0x39)
    sii.realize()
    sii.reset()
    dev.bus.attach(sii)
    return dev, sii


def register_read(addr, reg, count):
    o = Ops()
    o.start()
    o.write_byte(addr << 1)
    o.write_byte(reg)
    o.start()                          # repeated START
    o.write_byte(addr << 1 | 1)
    for i in range(count):
        o.read_byte(ack=i < count - 1)
    o.stop()
    return o.ops


def bytes_read(samples, count):
    bits = decode(samples)
    acks, data = bits[:3], bits[3:]
    values = [int("".join(map(str, data[8 * i:8 * i + 8])), 2) for i in range(count)]
    return acks, values


def test_reset_and_line_readback():
    dev, _ = rig()
    region = dev.mmio[0]
    assert region.dispatch_read(CONTROL, 4, False) == 0
    assert region.dispatch_read(CONTROLC, 4, False) == 0xFFFFFFFF
    assert region.dispatch_read(0x8, 4, False) == 0xFFFFFFFF
    region.dispatch_write(CONTROL, SCL | SDA, 4, False)
    assert region.dispatch_read(CONTROL, 4, False) == SCL | SDA
    region.dispatch_write(CONTROLC, SCL, 4, False)
    assert region.dispatch_read(CONTROL, 4, False) == SDA


def test_read_sii9022_chip_id():
    dev, sii = rig()
    acks, values = bytes_read(run(dev, register_read(0x39, 0x1B, 1)), 1)
    assert acks == [0, 0, 0] and values == [0xB0]
    acks, values = bytes_read(run(dev, register_read(0x39, 0x3C, 2)), 2)
    assert values == [0x00, 0x04]          # interrupt enable, status: plugged
    assert not dev.bus.busy()


def test_missing_device_nacks():
    dev, _ = rig()
    o = Ops()
    o.start()
    o.write_byte(0x20 << 1)
    o.stop()
    assert decode(run(dev, o.ops)) == [1]


def test_write_then_ddc_handshake():
    dev, sii = rig()
    o = Ops()
    o.start()
    o.write_byte(0x39 << 1)
    o.write_byte(0x1A)
    o.write_byte(0x04)                     # DDC bus request
    o.stop()
    assert decode(run(dev, o.ops)) == [0, 0, 0]
    assert sii.ddc_req and not sii.ddc
    _, values = bytes_read(run(dev, register_read(0x39, 0x1A, 1)), 1)
    assert values == [0x06]                # request granted


class Recorder(I2CSlave):
    TYPE = "test-i2c-recorder"
    ABSTRACT = False

    def __init__(self):
        super().__init__()
        self.log = []

    def event(self, ev):
        self.log.append(ev)
        return False

    def send(self, data):
        self.log.append(data)
        return data == 0xEE                # refuses 0xEE

    def recv(self):
        return 0x5A


def test_events_and_device_nack():
    dev, _ = rig()
    rec = Recorder()
    dev.bus.attach(rec, 0x10)
    o = Ops()
    o.start()
    o.write_byte(0x10 << 1)
    o.write_byte(0x12)
    o.write_byte(0xEE)
    o.stop()
    assert decode(run(dev, o.ops)) == [0, 0, 1]
    assert rec.log == ["start_send", 0x12, 0xEE, "finish"]
    rec.log.clear()
    run(dev, register_read(0x10, 0x01, 1))
    assert rec.log == ["start_send", 0x01, "start_recv", "nack", "finish"]


def test_matches_qemu():
    o = Ops()
    o.ops += register_read(0x39, 0x1B, 1)
    o.ops += register_read(0x39, 0x3C, 2)
    o.start()
    o.write_byte(0x20 << 1)
    o.stop()
    o.sample()
    o.ops.append(("r", CONTROLC))
    expected = qemu_vexpress([(op[0], BASE + op[1]) + op[2:] for op in o.ops])
    dev, _ = rig()
    assert [hex(v) for v in run(dev, o.ops)] == [hex(v) for v in expected]


def test_ddc_edid_through_the_bus_matches_qemu():
    from pysystem.devices.i2c_ddc import I2CDDC
    dev, _ = rig()
    ddc = I2CDDC(address=0x50)
    ddc.realize()
    ddc.reset()
    dev.bus.attach(ddc)
    ops = register_read(0x50, 0x00, 128) + register_read(0x50, 0xF0, 32)
    expected = qemu_vexpress([(op[0], BASE + op[1]) + op[2:] for op in ops])
    got = run(dev, ops)
    assert got == expected
    acks, edid = bytes_read(run(dev, register_read(0x50, 0x00, 128)), 128)
    assert acks == [0, 0, 0]
    assert bytes(edid[:8]) == b"\x00\xff\xff\xff\xff\xff\xff\x00" and sum(edid) % 256 == 0
    assert bytes(edid[0x71:0x7D]) == b"QEMU Monitor"
    # the preferred timing: 1280x800
    assert (edid[0x38] | (edid[0x3A] >> 4) << 8, edid[0x3B] | (edid[0x3D] >> 4) << 8) == (1280, 800)


def test_ddc_offset_and_wrap():
    from pysystem.devices.i2c_ddc import I2CDDC, generate_edid
    dev, _ = rig()
    ddc = I2CDDC(address=0x50, xres=1024, yres=768)
    ddc.realize()
    ddc.reset()
    dev.bus.attach(ddc)
    _, data = bytes_read(run(dev, register_read(0x50, 0x7E, 4)), 4)
    edid = generate_edid(1024, 768)
    assert data == [edid[0x7E], edid[0x7F], edid[0], edid[1]]
