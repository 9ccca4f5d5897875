"""Black-box tests of the i8042 keyboard controller: the probe Linux's i8042 driver makes."""
from pysystem.devices.i8042 import I8042

from isa_rig import IsaRig
from qtest_malta_oracle import qemu_malta

OBF, SELFTEST, MOUSE_OBF = 0x01, 0x04, 0x20


class Kbc:
    def __init__(self):
        self.rig = IsaRig()
        self.dev = self.rig.kbd
        self.resets = []
        self.dev.irqs[2].connect(lambda n, level: self.resets.append(level))

    def cmd(self, value, *params):
        self.rig.outb(0x64, value)
        for p in params:
            self.rig.outb(0x60, p)

    def status(self):
        return self.rig.inb(0x64)

    def data(self):
        return self.rig.inb(0x60)

    def drain(self):
        out = []
        while self.status() & OBF:
            out.append(self.data())
        return out


def test_reset_status_and_configuration():
    k = Kbc()
    assert k.status() == 0x18
    k.cmd(0x20)
    assert k.status() == 0x19 and k.data() == 0x03 and k.status() == 0x18


def test_self_test_and_interface_tests():
    k = Kbc()
    k.cmd(0xAA)
    assert k.status() & (OBF | SELFTEST) == OBF | SELFTEST and k.data() == 0x55
    k.cmd(0xAB)
    assert k.data() == 0x00
    k.cmd(0xA9)
    assert k.data() == 0x00


def test_keyboard_irq_follows_the_output_buffer():
    k = Kbc()
    k.cmd(0xAA)
    assert k.dev.irqs[0].level == 1 and k.rig.bus.levels[1] == 1
    k.data()
    assert k.dev.irqs[0].level == 0
    k.cmd(0x60, 0x00)                       # interrupts off
    k.cmd(0xAA)
    assert k.dev.irqs[0].level == 0 and k.status() & OBF
    k.data()


def test_aux_loop_raises_irq12():
    k = Kbc()
    k.cmd(0xD3, 0xA5)                       # what Linux's i8042_check_aux does
    assert k.status() & (OBF | MOUSE_OBF) == OBF | MOUSE_OBF
    assert k.dev.irqs[1].level == 1 and k.rig.bus.levels[12] == 1
    assert k.data() == 0xA5 and k.dev.irqs[1].level == 0


def test_aux_port_disable_enable_shows_in_the_configuration():
    k = Kbc()
    k.cmd(0xA7)
    k.cmd(0x20)
    assert k.data() & 0x20
    k.cmd(0xA8)
    k.cmd(0x20)
    assert not k.data() & 0x20


def test_keyboard_commands():
    k = Kbc()
    k.cmd(0x60, 0x47)                       # translation on, as Linux sets it
    k.rig.outb(0x60, 0xF2)
    assert k.drain() == [0xFA, 0xAB, 0x41]
    k.rig.outb(0x60, 0xFF)
    assert k.drain() == [0xFA, 0xAA]
    k.rig.outb(0x60, 0xED)
    k.rig.outb(0x60, 0x07)
    assert k.drain() == [0xFA, 0xFA] and k.dev.kbd_leds == 7
    k.rig.outb(0x60, 0xF0)
    k.rig.outb(0x60, 0x00)
    assert k.drain() == [0xFA, 0xFA, 0x41]
    k.rig.outb(0x60, 0xEE)
    assert k.drain() == [0xEE]
    k.rig.outb(0x60, 0x01)
    assert k.drain() == [0xFE]


def test_disabled_keyboard_holds_its_bytes():
    k = Kbc()
    k.cmd(0xAD)
    k.rig.outb(0x60, 0xF4)
    assert not k.status() & OBF
    k.cmd(0xAE)
    assert k.drain() == [0xFA]


def test_mouse_commands():
    k = Kbc()
    k.cmd(0xD4, 0xF3)
    k.cmd(0xD4, 0x28)
    k.cmd(0xD4, 0xE9)
    assert k.drain() == [0xFA, 0xFA, 0xFA, 0x00, 0x00, 0x28]
    k.cmd(0xD4, 0xFF)
    assert k.drain() == [0xFA, 0xAA, 0x00]
    k.cmd(0xD4, 0xF4)
    k.cmd(0xD4, 0xE9)
    assert k.drain() == [0xFA, 0xFA, 0x20, 0x02, 100]


def test_reset_line_and_output_port():
    k = Kbc()
    k.cmd(0xD0)
    assert k.data() == 0xCF
    k.cmd(0xFE)
    assert k.resets == [1, 0]
    k.cmd(0xD1, 0xCE)
    assert k.resets == [1, 0, 1, 0]
    k.cmd(0xD0)
    assert k.data() == 0xCE


def test_snapshot_round_trip_keeps_queued_bytes():
    k = Kbc()
    k.cmd(0xD4, 0xFF)
    blob = k.dev.state_bytes()
    other = I8042.example()
    other.load_state_bytes(blob)
    assert other.irqs[1].level == 1
    assert other.mmio[0].read(0, 1) == 0xFA and other.mmio[0].read(0, 1) == 0xAA


# --- against QEMU --------------------------------------------------------------------
def test_against_qemu():
    st, dt = ("inb", 0x64), ("inb", 0x60)
    ops = [st, ("outb", 0x64, 0xAA), st, dt, st, ("outb", 0x64, 0x20), dt,
           ("outb", 0x64, 0x60), ("outb", 0x60, 0x47), ("outb", 0x64, 0x20), dt,
           ("outb", 0x60, 0xF2), st, dt, dt, dt, st,
           ("outb", 0x64, 0xD4), ("outb", 0x60, 0xF2), st, dt, dt,
           ("outb", 0x64, 0xD3), ("outb", 0x60, 0x5A), st, dt,
           ("outb", 0x64, 0xD0), dt, ("outb", 0x60, 0xFF), dt, dt,
           ("outb", 0x64, 0xD4), ("outb", 0x60, 0xE9), dt, dt, dt, dt,
           ("outb", 0x64, 0xD4), ("outb", 0x60, 0xFF), dt, dt, dt,
           ("outb", 0x64, 0xD4), ("outb", 0x60, 0xE9), dt, dt, dt, dt,
           ("outb", 0x64, 0xA7), ("outb", 0x64, 0x20), dt, ("outb", 0x64, 0xA8),
           ("outb", 0x64, 0x20), dt, ("outb", 0x64, 0xA9), dt, ("outb", 0x64, 0xAB), dt,
           ("outb", 0x64, 0xC0), dt, ("outb", 0x60, 0xEE), dt, st]
    ours = IsaRig().replay(ops)
    assert ours == qemu_malta(ops)
