"""Black-box MMIO tests of the PL050 KMI with its PS/2 keyboard and mouse."""
from pysystem.devices.pl050 import PL050Keyboard, PL050Mouse

from qtest_oracle import qemu_vexpress

CR, STAT, DATA, CLKDIV, IR = 0x00, 0x04, 0x08, 0x0C, 0x10
RXINTREN, TXINTREN = 0x10, 0x08
TXEMPTY, RXFULL, RXPARITY = 0x40, 0x10, 0x04


class Rig:
    def __init__(self, cls):
        self.dev = cls()
        self.dev.realize()
        self.dev.reset()
        self.region = self.dev.mmio[0]

    def read(self, off):
        return self.region.dispatch_read(off, 4, False)

    def write(self, off, value):
        self.region.dispatch_write(off, value, 4, False)

    def irq(self):
        return self.dev.irqs[0].level

    def drain(self):
        out = []
        while self.read(STAT) & RXFULL:
            out.append(self.read(DATA))
        return out


def test_reset_values_and_ids():
    for cls in (PL050Keyboard, PL050Mouse):
        r = Rig(cls)
        assert [r.read(o) for o in (CR, STAT, DATA, CLKDIV, IR)] == [0, TXEMPTY, 0, 0, 2]
        assert [r.read(0xFE0 + 4 * i) for i in range(8)] == [0x50, 0x10, 0x04, 0x00,
                                                             0x0D, 0xF0, 0x05, 0xB1]
        assert r.irq() == 0


def test_interrupts_follow_rx_and_tx_enables():
    r = Rig(PL050Keyboard)
    r.write(DATA, 0xFF)                      # reset: ACK, POR waiting
    assert r.irq() == 0 and r.read(IR) == 3
    r.write(CR, RXINTREN)
    assert r.irq() == 1
    assert r.read(DATA) == 0xFA and r.irq() == 1
    assert r.read(DATA) == 0xAA and r.irq() == 0 and r.read(IR) == 2
    assert r.read(DATA) == 0xAA              # nothing new: the last byte again
    r.write(CR, TXINTREN)                    # the TX side is always ready
    assert r.irq() == 1
    r.write(CR, 0)
    assert r.irq() == 0
    r.write(CLKDIV, 0x2A)
    assert r.read(CLKDIV) == 0x2A


def test_status_parity_of_last_byte():
    r = Rig(PL050Keyboard)
    r.write(DATA, 0xF2)                      # get ID: FA AB 83
    assert r.read(STAT) == TXEMPTY | RXFULL
    assert r.read(DATA) == 0xFA              # 6 bits set: even
    assert r.read(STAT) == TXEMPTY | RXFULL
    assert r.read(DATA) == 0xAB              # 5 bits set: odd
    assert r.read(STAT) == TXEMPTY | RXFULL | RXPARITY
    assert r.read(DATA) == 0x83
    assert r.read(STAT) == TXEMPTY | RXPARITY


def test_keyboard_commands_as_atkbd_sends_them():
    r = Rig(PL050Keyboard)
    r.write(DATA, 0xFF)
    assert r.drain() == [0xFA, 0xAA]
    r.write(DATA, 0xF2)
    assert r.drain() == [0xFA, 0xAB, 0x83]
    r.write(DATA, 0xED)                      # set LEDs + parameter
    r.write(DATA, 0x07)
    assert r.drain() == [0xFA, 0xFA]
    r.write(DATA, 0xF0)                      # scancode set query
    r.write(DATA, 0x00)
    assert r.drain() == [0xFA, 0xFA, 0x02]
    r.write(DATA, 0xEE)
    assert r.drain() == [0xEE]
    r.write(DATA, 0x42)
    assert r.drain() == [0xFE]               # unknown: resend


def test_mouse_commands_as_psmouse_sends_them():
    r = Rig(PL050Mouse)
    r.write(DATA, 0xFF)
    assert r.drain() == [0xFA, 0xAA, 0x00]
    r.write(DATA, 0xF2)
    assert r.drain() == [0xFA, 0x00]
    r.write(DATA, 0xF3)                      # sample rate 200
    r.write(DATA, 200)
    r.write(DATA, 0xE8)                      # resolution 3
    r.write(DATA, 3)
    r.write(DATA, 0xF4)
    r.write(DATA, 0xE9)
    assert r.drain() == [0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0x20, 3, 200]
    r.write(DATA, 0x42)                      # unknown: no answer
    assert r.drain() == []


def test_host_bytes_raise_the_interrupt_and_snapshot():
    r = Rig(PL050Keyboard)
    r.write(CR, RXINTREN)
    r.dev.send(b"\x1c\xf0\x1c")
    assert r.irq() == 1
    state = r.dev.save_state()
    other = Rig(PL050Keyboard)
    other.dev.load_state(state)
    assert other.irq() == 1 and other.drain() == [0x1C, 0xF0, 0x1C] and other.irq() == 0


ORACLE_OPS = [
    ("r", CR), ("r", STAT), ("r", DATA), ("r", IR), *[("r", 0xFE0 + 4 * i) for i in range(8)],
    ("w", CR, RXINTREN), ("w", DATA, 0xFF), ("r", STAT), ("r", IR), ("r", DATA), ("r", STAT),
    ("r", DATA), ("r", DATA), ("r", STAT), ("r", IR),
    ("w", DATA, 0xE9), ("r", DATA), ("r", DATA), ("r", DATA), ("r", DATA),
    ("w", DATA, 0xF2), ("r", DATA), ("r", DATA),
    ("w", DATA, 0xF4), ("r", DATA), ("w", DATA, 0xE9), ("r", DATA), ("r", DATA),
    ("w", DATA, 0xEB), ("r", DATA), ("r", DATA), ("r", DATA), ("r", DATA),
    ("w", DATA, 0x42), ("r", STAT), ("w", CLKDIV, 0x123), ("r", CLKDIV), ("w", CR, 0x3F),
    ("r", CR),
]
KBD_OPS = [
    ("w", DATA, 0xFF), ("r", DATA), ("r", DATA), ("w", DATA, 0xF2), ("r", DATA), ("r", DATA),
    ("r", DATA), ("r", STAT), ("w", DATA, 0xED), ("r", DATA), ("w", DATA, 0x02), ("r", DATA),
    ("w", DATA, 0xF0), ("r", DATA), ("w", DATA, 0x00), ("r", DATA), ("r", DATA),
    ("w", DATA, 0x42), ("r", DATA), ("w", DATA, 0xEE), ("r", DATA), ("r", STAT),
]


def _mine(cls, ops):
    r = Rig(cls)
    got = []
    for op in ops:
        if op[0] == "r":
            got.append(r.read(op[1]))
        else:
            r.write(op[1], op[2])
    return got


def test_registers_match_qemu():
    mouse = [(op[0], 0x10007000 + op[1]) + op[2:] for op in ORACLE_OPS]
    kbd = [(op[0], 0x10006000 + op[1]) + op[2:] for op in KBD_OPS]
    expected = qemu_vexpress(mouse + kbd)
    got = _mine(PL050Mouse, ORACLE_OPS) + _mine(PL050Keyboard, KBD_OPS)
    assert [hex(v) for v in got] == [hex(v) for v in expected]
