"""Black-box tests of the 16550A UART: on ISA ports and memory-mapped with regshift 3."""
import pytest

from pysystem.chardev.ringbuf import RingbufChardev
from pysystem.clock import VirtualClock
from pysystem.devices.serial_16550 import Serial16550
from pysystem.memory import AddressSpace, ContainerRegion
from pysystem.qom import QOMError

from isa_rig import IsaRig, run_clock
from qtest_malta_oracle import qemu_malta

RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)
NO_INT, THRI, RDI, RLSI, CTI = 0x01, 0x02, 0x04, 0x06, 0x0C


class Uart:
    """A UART on its own clock with a ring-buffer backend."""

    def __init__(self, shift=0, big_endian=False, **props):
        self.clock = VirtualClock(shift=0)
        self.chr = RingbufChardev()
        self.dev = Serial16550(chardev=self.chr, regshift=shift, **props)
        self.dev.clock = self.clock
        self.dev.realize()
        self.dev.reset()
        self.shift = shift
        top = ContainerRegion(None, "top", 0x1000)
        top.add_subregion(0, self.dev.mmio[0])
        self.mem = AddressSpace("uart", top, big_endian=big_endian)

    def rd(self, reg, size=1):
        return self.mem.read(reg << self.shift, size)

    def wr(self, reg, value, size=1):
        self.mem.write(reg << self.shift, value, size)

    @property
    def irq(self):
        return self.dev.irqs[0].level

    def run(self, ns):
        run_clock(self.clock, ns)


def test_reset_values():
    u = Uart()
    assert [u.rd(r) for r in range(8)] == [0, 0, NO_INT, 0, 0x08, 0x60, 0xB0, 0]
    u.wr(LCR, 0x80)
    assert u.rd(RBR) == 12 and u.rd(IER) == 0      # divisor 12: 9600 baud
    assert not u.irq


def test_transmit_to_chardev_and_thre_interrupt():
    u = Uart()
    u.wr(IER, 0x02)
    assert u.irq and u.rd(IIR) == THRI
    assert not u.irq and u.rd(IIR) == NO_INT       # reading IIR took the THRE interrupt
    for ch in b"hi\n":
        u.wr(RBR, ch)
    assert u.chr.contents() == b"hi\n"
    assert u.rd(LSR) == 0x60 and u.irq            # sent at once, THRE pending again
    u.wr(IER, 0x02)                                # IER unchanged: nothing new
    assert u.rd(IIR) == THRI and u.rd(IIR) == NO_INT
    u.wr(IER, 0x02)
    assert u.rd(IIR) == NO_INT
    u.wr(IER, 0x00)
    u.wr(IER, 0x02)                                # THRI set again: pending again
    assert u.rd(IIR) == THRI


def test_receive_without_fifo_and_overrun_in_loopback():
    u = Uart()
    u.chr.inject(b"ab")
    assert u.rd(LSR) & 0x01 and u.rd(RBR) == ord("a")
    assert u.rd(RBR) == ord("b")                   # the backend offered the next on the read
    assert not u.rd(LSR) & 0x01
    u.wr(MCR, 0x10)                                # loopback: two bytes overrun the holding reg
    u.wr(RBR, 0x31)
    u.wr(RBR, 0x32)
    assert u.rd(LSR) & 0x03 == 0x03 and u.rd(LSR) & 0x02 == 0
    assert u.rd(RBR) == 0x32
    assert u.chr.contents() == b""                 # nothing went out in loopback


def test_fifo_trigger_level_and_draining():
    u = Uart()
    u.wr(IER, 0x01)
    u.wr(IIR, 0x81)                                # FIFO on, trigger at 8
    u.chr.inject(bytes(range(0x41, 0x41 + 20)))
    assert u.irq and u.rd(IIR) == 0xC0 | RDI
    got = bytearray()
    while u.rd(LSR) & 0x01:
        got.append(u.rd(RBR))
    assert bytes(got) == bytes(range(0x41, 0x41 + 20))
    assert not u.irq


def test_character_timeout_interrupt():
    u = Uart()
    u.wr(LCR, 0x03)                                # 8N1
    u.wr(IER, 0x01)
    u.wr(IIR, 0xC1)                                # trigger at 14
    u.chr.inject(b"xyz")
    assert not u.irq
    char_ns = u.dev.char_time_ns()
    assert char_ns == 10 * (1_000_000_000 // 9600)  # 8N1 at 9600 baud
    u.run(4 * char_ns - 1)
    assert not u.irq
    u.run(1)
    assert u.irq and u.rd(IIR) == 0xC0 | CTI
    assert u.rd(RBR) == ord("x") and not u.irq     # a read takes the timeout
    u.run(4 * char_ns)
    assert u.irq and u.rd(IIR) == 0xC0 | CTI


def test_fifo_enable_flushes_and_sets_thre_pending():
    u = Uart()
    u.wr(IER, 0x02)
    u.rd(IIR)
    u.chr.inject(b"q")
    u.wr(IIR, 0x01)
    assert not u.rd(LSR) & 0x01                    # flushed
    assert u.rd(IIR) == 0xC0 | THRI
    u.wr(IIR, 0x00)
    assert u.rd(IIR) & 0xC0 == 0


def test_break_and_line_status_interrupt():
    u = Uart()
    u.wr(IER, 0x04)
    u.chr.send_event("break")
    assert u.irq and u.rd(IIR) == RLSI
    assert u.rd(LSR) & 0x11 == 0x11
    assert not u.irq and u.rd(RBR) == 0


def test_loopback_modem_lines_and_scratch():
    u = Uart()
    u.wr(MCR, 0x1F)
    assert u.rd(MSR) == 0xF0
    u.wr(MCR, 0x11)
    assert u.rd(MSR) == 0x20
    u.wr(SCR, 0xA5)
    assert u.rd(SCR) == 0xA5
    u.wr(LCR, 0x83)
    u.wr(RBR, 0x01)
    u.wr(IER, 0x00)
    assert u.rd(RBR) == 1 and u.rd(IER) == 0
    u.wr(LCR, 0x03)
    assert u.dev.divider == 1


def test_mmio_with_regshift_3_native_endian_on_a_big_endian_bus():
    u = Uart(shift=3, big_endian=True, endianness="native", baudbase=230400)
    assert u.dev.mmio[0].size == 64
    assert u.rd(LSR, 4) == 0x60 and u.rd(MSR, 4) == 0xB0   # UPIO_MEM32 reads: the value
    assert u.mem.read((LSR << 3) + 1, 1) == 0x60           # any byte of the slot
    u.wr(RBR, 0x4142, 4)
    assert u.chr.contents() == b"B"
    u.wr(LCR, 0x80, 4)
    assert u.rd(RBR, 4) == 12


def test_isa_uart_is_little_endian_on_a_big_endian_bus():
    u = Uart(big_endian=True)
    assert u.mem.read(MCR, 2) == (0x08 << 8) | 0x60   # LSR is the higher port: swapped


def test_bad_properties_are_refused():
    dev = Serial16550(regshift=9)
    dev.clock = VirtualClock()
    with pytest.raises(QOMError):
        dev.realize()
    with pytest.raises(QOMError):
        Serial16550(endianness="middle")


def test_snapshot_keeps_the_fifo():
    u = Uart()
    u.wr(IIR, 0xC1)
    u.chr.inject(b"abc")
    blob = u.dev.state_bytes()
    v = Uart()
    v.dev.load_state_bytes(blob)
    assert bytes(v.rd(RBR) for _ in range(3)) == b"abc"


# --- against QEMU (COM1 and COM2 with null backends) -------------------------------------
def test_against_qemu():
    ops = []
    for base in (0x3F8, 0x2F8):
        ops += [("inb", base + r) for r in range(8)]
        ops += [("outb", base + IER, 0x02), ("inb", base + IIR), ("inb", base + IIR),
                ("outb", base + IER, 0x02), ("inb", base + IIR),
                ("outb", base + IER, 0x00), ("outb", base + IER, 0x02), ("inb", base + IIR),
                ("outb", base + IIR, 0x01), ("inb", base + IIR), ("outb", base + IIR, 0xC7),
                ("inb", base + IIR), ("outb", base + MCR, 0x10), ("inb", base + MSR),
                ("outb", base + MCR, 0x1F), ("inb", base + MSR), ("outb", base + RBR, 0x41),
                ("inb", base + LSR), ("inb", base + IIR), ("outb", base + IER, 0x0F),
                ("inb", base + IIR), ("inb", base + RBR), ("inb", base + LSR),
                ("inb", base + IIR), ("outb", base + LCR, 0x83), ("outb", base, 0x01),
                ("outb", base + 1, 0x00), ("inb", base), ("inb", base + 1),
                ("outb", base + LCR, 0x03), ("inb", base + LCR), ("outb", base + SCR, 0x5A),
                ("inb", base + SCR), ("outb", base + IIR, 0x00), ("inb", base + IIR),
                ("outb", base + MCR, 0x10)]
        for ch in b"0123456789abcdefXY":                # overrun the loopback FIFO
            ops += [("outb", base + IIR, 0x01)] if ch == ord("0") else []
            ops += [("outb", base + RBR, ch)]
        ops += [("inb", base + LSR), ("inb", base + LSR), ("inb", base + IIR)]
        ops += [("inb", base + RBR) for _ in range(17)] + [("inb", base + LSR)]
    ours = IsaRig().replay(ops)
    assert ours == qemu_malta(ops)
