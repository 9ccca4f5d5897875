"""Black-box MMIO tests of the PL011 UART, with a small recording character backend."""
from pysystem.devices.pl011 import PL011

from qtest_oracle import qemu_vexpress

DR, RSR, FR, IBRD, FBRD, LCR_H, CR, IFLS = 0x00, 0x04, 0x18, 0x24, 0x28, 0x2C, 0x30, 0x34
IMSC, RIS, MIS, ICR, DMACR = 0x38, 0x3C, 0x40, 0x44, 0x48
TXFE, RXFF, TXFF, RXFE, BUSY = 0x80, 0x40, 0x20, 0x10, 0x08
RXI, TXI, RTI = 1 << 4, 1 << 5, 1 << 6
FEN, LBE = 1 << 4, 1 << 7


class Recorder:
    """The backend side of a chardev: records output, offers input as the device accepts it."""

    def __init__(self):
        self.out = bytearray()
        self.pending = bytearray()
        self.handlers = None

    # the frontend API the UART uses
    def write(self, data: bytes) -> None:
        self.out += data

    def set_handlers(self, can_read, read, event) -> None:
        self.handlers = (can_read, read, event)

    def accept_input(self) -> None:
        self.pump()

    # test side
    def send(self, data: bytes) -> None:
        self.pending += data
        self.pump()

    def pump(self) -> None:
        can_read, read, _ = self.handlers
        n = min(can_read(), len(self.pending))
        if n:
            chunk = bytes(self.pending[:n])
            del self.pending[:n]
            read(chunk)

    def send_break(self) -> None:
        self.handlers[2]("break")


class Rig:
    def __init__(self, chardev=True):
        self.chr = Recorder() if chardev else None
        self.dev = PL011(chardev=self.chr)
        self.dev.realize()
        self.dev.reset()
        self.region = self.dev.mmio[0]

    def read(self, off, size=4):
        return self.region.dispatch_read(off, size, False)

    def write(self, off, value, size=4):
        assert self.region.dispatch_write(off, value, size, False)

    def line(self, n=0):
        return self.dev.irqs[n].level


def test_reset_values_and_ids():
    r = Rig()
    assert r.read(FR) == TXFE | RXFE
    assert r.read(CR) == 0x300 and r.read(IFLS) == 0x12 and r.read(LCR_H) == 0
    assert r.read(RIS) == 0 and r.read(IMSC) == 0
    assert [r.read(0xFE0 + 4 * i) for i in range(8)] == [0x11, 0x10, 0x14, 0x00,
                                                         0x0D, 0xF0, 0x05, 0xB1]
    assert len(r.dev.irqs) == 6 and r.dev.mmio[0].size == 0x1000


def test_transmit_goes_to_chardev_and_raises_txis():
    r = Rig()
    r.write(IMSC, TXI)
    for ch in b"hi\n":
        r.write(DR, ch)
    assert bytes(r.chr.out) == b"hi\n"
    assert r.read(RIS) & TXI and r.read(MIS) == TXI
    assert r.line(0) == 1 and r.line(2) == 1 and r.line(1) == 0
    r.write(ICR, TXI)
    assert r.line(0) == 0 and r.read(MIS) == 0
    # the TX FIFO is always empty: transmission is instantaneous
    assert r.read(FR) & (TXFE | TXFF | BUSY) == TXFE


def test_narrow_writes_to_dr_transmit_once():
    r = Rig()
    r.write(DR, 0x41, size=2)  # Linux's amba-pl011 uses 16-bit accesses
    r.write(DR, 0x42, size=1)
    assert bytes(r.chr.out) == b"AB"


def test_without_chardev_output_is_discarded():
    r = Rig(chardev=False)
    r.write(DR, 0x41)
    assert r.read(RIS) == TXI


def test_receive_without_fifo_holds_one_character():
    r = Rig()
    r.write(IMSC, RXI)
    r.chr.send(b"ab")
    assert r.chr.pending == b"b"  # the holding register takes one
    assert r.read(FR) & (RXFE | RXFF) == RXFF
    assert r.line(0) == 1 and r.line(1) == 1
    assert r.read(DR) == ord("a")
    # reading made room: the backend pushed the next one at once
    assert r.chr.pending == b"" and r.line(0) == 1
    assert r.read(DR) == ord("b")
    assert r.read(FR) & RXFE and r.line(0) == 0 and r.read(RIS) & RXI == 0


def test_fifo_fill_and_drain():
    r = Rig()
    r.write(LCR_H, FEN | 0x60)  # 8 bits, FIFO on
    r.write(IMSC, RXI)
    data = bytes(range(0x30, 0x30 + 20))
    r.chr.send(data)
    assert len(r.chr.pending) == 4  # 16 fit
    assert r.read(FR) & RXFF and not r.read(FR) & RXFE
    got = []
    r.chr.handlers = (lambda: 0,) + r.chr.handlers[1:]  # backend holds the rest back
    for _ in range(16):
        assert r.line(0) == 1
        got.append(r.read(DR))
        assert not r.read(FR) & RXFF
    assert bytes(got) == data[:16]
    assert r.read(FR) & RXFE and r.line(0) == 0


def test_rx_interrupt_is_raised_by_the_first_character_only():
    r = Rig()
    r.write(LCR_H, FEN)
    r.write(IMSC, RXI)
    r.chr.send(b"x")
    r.write(ICR, RXI)  # the guest acknowledges while data remains
    r.chr.send(b"y")
    assert r.line(0) == 0  # QEMU: the trigger is the 0 -> 1 transition
    assert r.read(DR) == ord("x") and r.read(DR) == ord("y")
    r.chr.send(b"z")
    assert r.line(0) == 1


def test_fifo_enable_change_flushes():
    r = Rig()
    r.write(LCR_H, FEN)
    r.chr.send(b"abc")
    r.write(LCR_H, 0)
    assert r.read(FR) & (RXFE | RXFF) == RXFE
    r.chr.send(b"de")  # back to a one-character holding register
    assert r.chr.pending == b"e" and r.read(DR) == ord("d")


def test_break_event():
    r = Rig()
    r.write(IMSC, RXI)
    r.chr.send_break()
    assert r.line(0) == 1
    assert r.read(DR) == 0x400  # BE with a NUL character
    assert r.read(RSR) == 0x4
    r.write(RSR, 0)  # ECR
    assert r.read(RSR) == 0


def test_loopback():
    r = Rig()
    r.write(CR, 0x301 | LBE)
    r.write(DR, 0x55)
    assert bytes(r.chr.out) == b"U"
    assert r.read(DR) == 0x55
    r.chr.send(b"q")  # the RX pin is disconnected in loopback
    assert r.read(FR) & RXFE
    r.write(CR, 0x301 | LBE | (1 << 11) | (1 << 10))  # RTS, DTR -> CTS, DSR
    assert r.read(FR) & 0x3 == 0x3


def test_registers_hold_values():
    r = Rig()
    for off, val in ((IBRD, 0x27), (FBRD, 0x4), (LCR_H, 0x70), (CR, 0x301), (IFLS, 0x9),
                     (DMACR, 0)):
        r.write(off, val)
        assert r.read(off) == val


def test_snapshot_keeps_fifo():
    a = Rig()
    a.write(LCR_H, FEN)
    a.write(IMSC, RXI)
    a.chr.send(b"hello")
    assert a.read(DR) == ord("h")
    b = Rig()
    b.dev.load_state_bytes(a.dev.state_bytes())
    assert b.line(0) == 1
    assert bytes(b.read(DR) for _ in range(4)) == b"ello"
    assert b.read(FR) & RXFE and b.line(0) == 0


# Register semantics compared with QEMU's UART0 at 0x10009000 (its output goes to null).
ORACLE_OPS = [
    ("r", FR), ("r", CR), ("r", IFLS), ("r", LCR_H), ("r", RIS), ("r", RSR),
    ("w", IBRD, 0xFFFFFFFF), ("r", IBRD), ("w", FBRD, 0xFFFFFFFF), ("r", FBRD),
    ("w", IMSC, 0xFFFFFFFF), ("r", IMSC), ("r", RIS), ("r", MIS),
    ("w", DR, 0x41), ("r", RIS), ("r", MIS), ("w", ICR, TXI), ("r", RIS),
    ("w", LCR_H, 0x70), ("r", LCR_H), ("r", FR), ("w", CR, 0x301), ("r", CR),
    ("w", IFLS, 0xFFFFFFFF), ("r", IFLS), ("w", 0x20, 0xFFFFFFFF), ("r", 0x20),
    ("r", DR), ("r", FR), ("r", RSR), ("w", DMACR, 0), ("r", DMACR),
    ("w", FR, 0), ("r", FR),
] + [("r", 0xFE0 + 4 * i) for i in range(8)]


def test_registers_match_qemu():
    expected = qemu_vexpress([(op[0], 0x10009000 + op[1]) + op[2:] for op in ORACLE_OPS])
    r = Rig()
    got = []
    for op in ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(op[1]))
        else:
            r.write(op[1], op[2])
    assert [hex(v) for v in got] == [hex(v) for v in expected]


# Receive path compared with QEMU: bytes and a break sent into UART0 over a socket.
RX_ORACLE_OPS = [
    ("w", IMSC, 0x7FF), ("send", b"A"), ("r", FR), ("r", RIS), ("r", MIS),
    ("r", DR), ("r", FR), ("r", RIS), ("r", RSR),
    ("w", LCR_H, 0x70), ("send", b"0123456789"), ("r", FR), ("r", RIS),
] + [op for _ in range(10) for op in (("r", DR), ("r", FR), ("r", RIS))] + [
    ("send", b"xy"), ("w", ICR, RXI), ("r", RIS), ("r", DR), ("r", RIS), ("r", DR), ("r", FR),
    ("send", b"ABCDEFGHIJKLMNOP"), ("r", FR),
] + [op for _ in range(16) for op in (("r", DR), ("r", FR))] + [
    ("break",), ("r", FR), ("r", RIS), ("r", DR), ("r", RSR), ("w", RSR, 0), ("r", RSR),
]
# Known difference: QEMU 7.2 empties the FIFO on a change of LCR_H.FEN but leaves FR's
# RXFF/RXFE as they were (fixed in later QEMU); here FR reads empty after the flush,
# see test_fifo_enable_change_flushes.


def test_receive_matches_qemu():
    qemu_ops = []
    for op in RX_ORACLE_OPS:
        qemu_ops.append((op[0], 0x10009000 + op[1]) + op[2:] if op[0] in ("r", "w") else op)
    expected = qemu_vexpress(qemu_ops, serial=True)
    r = Rig()
    got = []
    for op in RX_ORACLE_OPS:
        if op[0] == "r":
            got.append(r.read(op[1]))
        elif op[0] == "w":
            r.write(op[1], op[2])
        elif op[0] == "send":
            r.chr.send(op[1])
        else:
            r.chr.send_break()
    assert [hex(v) for v in got] == [hex(v) for v in expected]
