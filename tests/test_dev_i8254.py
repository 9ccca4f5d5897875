"""Black-box tests of the i8254 PIT: program the ports, step the virtual clock, read back."""
import pytest

from pysystem.devices.i8254 import PIT_FREQ
from pysystem.irq import Splitter

from isa_rig import IsaRig
from qtest_malta_oracle import qemu_malta

NS = 1_000_000_000


def tick_ns(k):
    """Virtual ns at which k PIT ticks have elapsed (the first ns that shows them)."""
    return -(-k * NS // PIT_FREQ)


def program(r, ch, mode, count, access=3):
    r.outb(0x43, (ch << 6) | (access << 4) | (mode << 1))
    if access in (1, 3):
        r.outb(0x40 + ch, count & 0xFF)
    if access in (2, 3):
        r.outb(0x40 + ch, (count >> 8) & 0xFF)


def latch(r, ch):
    r.outb(0x43, ch << 6)
    return r.inb(0x40 + ch) | (r.inb(0x40 + ch) << 8)


def test_reset_state_channel0_square_wave_at_18hz():
    r = IsaRig()
    levels = []
    r.pit.irqs[0].connect(lambda n, level: levels.append((r.clock.now(), level)))
    assert r.pit.irqs[0].level == 1                  # mode 3, first half period high
    r.run(tick_ns(0x10000) + 10)
    assert [lv for _, lv in levels] == [1, 0, 1]
    assert levels[1][0] == tick_ns(0x8000) and levels[2][0] == tick_ns(0x10000)


def test_mode2_rate_generator_interrupts_each_period():
    r = IsaRig()
    r.replay([("outb", 0x21, 0xFE)])                 # only IRQ 0 unmasked (PIC in reset state)
    program(r, 0, 2, 1193)                           # about 1 kHz
    rises = []
    split = Splitter(2)                              # IRQ 0 to the bus and to a recorder
    r.pit.irqs[0].connect(split.set_input)
    split.outs[0].connect(r.bus.set_irq, 0)
    split.outs[1].connect(lambda n, level: rises.append(r.clock.now()) if level else None)
    r.run(10 * tick_ns(1193) + tick_ns(600))
    # QEMU's timing: OUT's one-tick pulse is seen (and IRQ 0 rises) as the tick after
    # each period's end begins, then once per period
    assert len(rises) == 10
    assert rises[0] == 1194 * NS // PIT_FREQ         # QEMU's muldiv64 rounds down
    assert all(abs((b - a) - tick_ns(1193)) <= 1 for a, b in zip(rises, rises[1:]))
    assert r.cpu_irq == 1                            # delivered through the PIC


def test_counting_down_and_latch():
    r = IsaRig()
    program(r, 0, 2, 10000)
    r.run(tick_ns(1234))
    assert latch(r, 0) == 10000 - 1234
    r.outb(0x43, 0x00)                               # latch, then time passes: value held
    r.run(tick_ns(500))
    assert r.inb(0x40) | (r.inb(0x40) << 8) == 10000 - 1234
    assert latch(r, 0) == 10000 - 1734


def test_mode0_interrupt_on_terminal_count_and_lsb_msb_access():
    r = IsaRig()
    program(r, 0, 0, 100, access=1)                  # LSB only
    assert r.pit.irqs[0].level == 0
    r.run(tick_ns(100) - 1)
    assert r.pit.irqs[0].level == 0
    r.run(1)
    assert r.pit.irqs[0].level == 1
    r.run(tick_ns(1000))
    assert r.pit.irqs[0].level == 1 and not r.pit.irq_timer.pending
    program(r, 1, 0, 0x3400, access=2)               # MSB only
    assert r.inb(0x41) == 0x34


def test_mode1_and_5_need_a_gate_edge_on_channel2():
    r = IsaRig(port61=True)
    program(r, 2, 1, 50)
    assert r.inb(0x61) & 0x20                       # one-shot: OUT high (counting from load)
    r.run(tick_ns(60))
    assert not r.inb(0x61) & 0x20
    r.outb(0x61, 0x01)                               # gate rises: restart
    assert r.inb(0x61) & 0x21 == 0x21
    r.run(tick_ns(50))
    assert not r.inb(0x61) & 0x20


def test_port61_refresh_toggle_and_speaker_bit():
    r = IsaRig(port61=True)
    a, b = r.inb(0x61), r.inb(0x61)
    assert (a ^ b) == 0x10                           # bit 4 toggles on every read
    r.outb(0x61, 0x03)
    assert r.inb(0x61) & 0x03 == 0x03


def test_mode3_channel2_out_via_port61():
    r = IsaRig(port61=True)
    r.outb(0x61, 0x01)
    program(r, 2, 3, 1000)
    assert r.inb(0x61) & 0x20
    r.run(tick_ns(500))
    assert not r.inb(0x61) & 0x20
    r.run(tick_ns(1000) - tick_ns(500))
    assert r.inb(0x61) & 0x20


def test_read_back_status_and_count():
    r = IsaRig()
    program(r, 1, 2, 0x1234)
    r2 = IsaRig()
    program(r2, 1, 2, 0x1234)
    r2.outb(0x43, 0xC4)
    status = r2.inb(0x41)
    assert status == 0x34                            # OUT low, word access, mode 2, binary
    assert r2.inb(0x41) | (r2.inb(0x41) << 8) == 0x1234


def test_control_port_reads_zero_and_snapshot_keeps_the_timer():
    r = IsaRig()
    assert r.inb(0x43) == 0
    program(r, 0, 2, 5000)
    r.run(tick_ns(100))
    blob = r.pit.state_bytes()
    other = IsaRig()
    other.clock.advance(r.clock.now())
    other.pit.load_state_bytes(blob)
    assert other.pit.irq_timer.deadline == r.pit.irq_timer.deadline
    assert latch(other, 0) == latch(r, 0)


# --- against QEMU (time stands still there: only time-independent reads) -----------------
def test_against_qemu():
    ops = []
    for ch in range(3):
        ops += [("outb", 0x43, 0xC2 | (2 << ch) & 0xE), ("inb", 0x40 + ch)]   # reset status
        ops[-2] = ("outb", 0x43, 0xE0 | (2 << ch))
    ops += [("outb", 0x43, 0x34), ("outb", 0x40, 0x9C), ("outb", 0x40, 0x2E),   # ch0 mode 2
            ("outb", 0x43, 0x00), ("inb", 0x40), ("inb", 0x40),
            ("outb", 0x43, 0xE2), ("inb", 0x40),
            ("outb", 0x43, 0x70), ("outb", 0x41, 0x34), ("outb", 0x41, 0x12),   # ch1 mode 0
            ("outb", 0x43, 0xC4), ("inb", 0x41), ("inb", 0x41), ("inb", 0x41),
            ("outb", 0x43, 0x96), ("outb", 0x42, 0x55), ("inb", 0x42), ("inb", 0x42),  # LSB
            ("outb", 0x43, 0xA6), ("outb", 0x42, 0x12), ("inb", 0x42),               # MSB
            ("outb", 0x43, 0xE8), ("inb", 0x42), ("inb", 0x42),
            ("outb", 0x43, 0x3A), ("outb", 0x40, 0x10), ("outb", 0x40, 0x00),  # ch0 mode 5
            ("outb", 0x43, 0xD2), ("inb", 0x40), ("inb", 0x40), ("inb", 0x43)]
    ours = IsaRig().replay(ops)
    assert ours == qemu_malta(ops)
