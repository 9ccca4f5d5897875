"""Black-box tests of the Cortex-A9 Snoop Control Unit registers (a9-scu)."""
from pysystem.devices.a9scu import A9SCU


def _scu(n=1):
    d = A9SCU(num_cpu=n)
    d.realize()
    d.reset()
    return d, d.mmio[0]


def test_configuration_reports_the_cpus():
    assert _scu(1)[1].read(0x04, 4) == 0x10
    assert _scu(2)[1].read(0x04, 4) == 0x31
    assert _scu(4)[1].read(0x04, 4) == 0xF3
    _, r = _scu(4)
    r.write(0x04, 0, 4)                                  # read-only
    assert r.read(0x04, 4) == 0xF3
    assert r.read(0x04, 4) & 3 == 3                      # Linux's scu_get_core_count - 1


def test_control_as_linux_enables_it():
    _, r = _scu(2)
    assert r.read(0x00, 4) == 0
    ctrl = r.read(0x00, 4) | 1 | (1 << 5)                # enable + SCU standby
    r.write(0x00, ctrl, 4)
    assert r.read(0x00, 4) == 0x21
    r.write(0x00, 0xFFFFFFFF, 4)
    assert r.read(0x00, 4) == 0x7D                       # address filtering bit reads 0


def test_power_status_bytes_and_invalidate_all():
    _, r = _scu(4)
    r.write(0x09, 0x03, 1)                               # CPU1 off
    r.write(0x0A, 0xFF, 1)
    assert r.read(0x08, 4) == 0x00030300
    assert r.read(0x09, 1) == 0x03
    r.write(0x0C, 0xFFFF, 4)                             # invalidate all: no effect
    assert r.read(0x0C, 4) == 0


def test_filtering_and_access_control():
    d, r = _scu(1)
    assert r.read(0x50, 4) == 0xF and r.read(0x54, 4) == 0
    r.write(0x40, 0x123456FF, 4)
    assert r.read(0x40, 4) == 0x12300000
    r.write(0x54, 0xFFFFFFFF, 4)
    assert r.read(0x54, 4) == 0xFFF
    d.reset()
    assert r.read(0x40, 4) == 0 and r.read(0x50, 4) == 0xF
