"""The ISA bus: ports, IRQ lines, unassigned ports, byte order through a host window."""
import pytest

from pysystem.devices.i8259 import make_pair
from pysystem.devices.isa import ISABus
from pysystem.devices.serial_16550 import Serial16550
from pysystem.clock import VirtualClock
from pysystem.memory import AddressSpace, AliasRegion, ContainerRegion
from pysystem.qom import QOMError

from isa_rig import IsaRig
from qtest_malta_oracle import ISA_IO_BASE, qemu_malta


def uart(**props):
    dev = Serial16550(**props)
    dev.clock = VirtualClock()
    dev.realize()
    dev.reset()
    return dev


def test_attach_maps_ports_and_irqs():
    bus = ISABus()
    levels = []
    bus.connect_irqs(lambda n, level: levels.append((n, level)))
    dev = bus.attach(uart(), ports=(0x2F8,), irqs=(3,))
    io = AddressSpace("isa-io", bus.io)
    assert io.read(0x2FD, 1) == 0x60
    io.write(0x2F9, 0x02, 1)                       # THRE interrupt on
    assert levels == [(3, 1)] and bus.levels[3] == 1
    assert dev in bus.devices


def test_unassigned_ports_read_all_ones():
    bus = ISABus()
    io = AddressSpace("isa-io", bus.io)
    assert io.read(0x1234, 1) == 0xFF and io.read(0x1234, 2) == 0xFFFF
    io.write(0x1234, 0, 1)


def test_bad_ports_and_irqs_are_refused():
    bus = ISABus()
    with pytest.raises(QOMError):
        bus.attach(uart(), ports=(0xFFFC,))
    with pytest.raises(QOMError):
        bus.attach(uart(), irqs=(16,))
    with pytest.raises(QOMError):
        bus.attach(uart(), ports=(0x3F8, 0x2F8))


def test_irqs_raised_before_the_controller_is_connected_are_replayed():
    bus = ISABus()
    bus.set_irq(5, 1)
    pic = make_pair()
    bus.connect_irqs(pic.set_isa_irq)
    assert pic.irr == 0x20


def test_ports_are_little_endian_through_a_big_endian_host_window():
    """A big-endian CPU's 16-bit read through the host's I/O window sees ISA byte order."""
    rig = IsaRig()
    system = ContainerRegion(None, "system", 1 << 32)
    system.add_subregion(0x18000000, AliasRegion(None, "isa-window", rig.bus.io, 0, 0x10000))
    be = AddressSpace("memory", system, big_endian=True)
    le = AddressSpace("memory", system, big_endian=False)
    # COM1's MCR (0x3fc) is 0x08, LSR (0x3fd) 0x60
    assert le.read(0x180003FC, 2) == 0x6008
    assert be.read(0x180003FC, 2) == 0x0860
    assert be.read(0x180003FD, 1) == 0x60


def test_isa_space_seen_from_qemu_physical_window_matches():
    """At reset QEMU's GT-64120 maps PCI I/O at 0x10000000: the same bytes as inb."""
    ops = [("readb", ISA_IO_BASE + p) for p in (0x3FD, 0x3FE, 0x2FA, 0x64, 0x21, 0x4D1, 0x61)]
    ops_in = [("inb", p) for p in (0x3FD, 0x3FE, 0x2FA, 0x64, 0x21, 0x4D1, 0x61)]
    assert qemu_malta(ops) == qemu_malta(ops_in) == IsaRig().replay(ops_in)


def test_every_handler_named_in_the_register_tables_exists():
    from pysystem.devices.i8042 import I8042
    from pysystem.devices.i8254 import I8254
    from pysystem.devices.i8257 import I8257
    from pysystem.devices.i8259 import I8259
    from pysystem.devices.malta_fpga import MaltaFPGA
    from pysystem.devices.mc146818 import MC146818
    from pysystem.regbank import RegisterBank
    for cls in (I8042, I8254, I8257, I8259, MaltaFPGA, MC146818, Serial16550):
        banks = [v for v in vars(cls).values() if isinstance(v, RegisterBank)]
        assert banks, cls
        for bank in banks:
            for reg in bank.regs:
                for name in (reg.read, reg.write, reg.on_write):
                    assert name is None or callable(getattr(cls, name, None)), (cls, name)


def test_random_guest_accesses_never_crash_the_devices():
    """A misbehaving guest: random bytes to every device's ports, time passing between."""
    import random
    rng = random.Random(20)
    rig = IsaRig(port61=True)
    ports = ([*range(0x00, 0x10), *range(0x20, 0x22), *range(0x40, 0x44), 0x61, 0x60, 0x64,
              0x70, 0x71, *range(0x80, 0x90), *range(0xA0, 0xA2), *range(0xC0, 0xE0),
              *range(0x2F8, 0x300), *range(0x3F8, 0x400), 0x4D0, 0x4D1])
    for _ in range(6000):
        port = rng.choice(ports)
        if rng.random() < 0.5:
            rig.outb(port, rng.getrandbits(8))
        else:
            assert 0 <= rig.inb(port) <= 0xFF
        if rng.random() < 0.01:
            rig.run(rng.randrange(1, 2_000_000))   # a fast PIT fires every tick: keep it short
        if rng.random() < 0.01:
            rig.pic.ack()
