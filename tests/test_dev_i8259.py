"""Black-box tests of the i8259 pair on the ISA bus: program the ports, raise lines, acknowledge."""
import subprocess

import pytest

from pysystem.devices import i8259
from pysystem.devices.isa import ISABus
from pysystem.memory import AddressSpace

from isa_rig import IsaRig, linux_pic_init
from qtest_malta_oracle import need_qemu, qemu_malta


class Pic:
    """A PIC pair alone on an ISA bus, its CPU line recorded."""

    def __init__(self):
        self.bus = ISABus()
        self.master = i8259.make_pair(self.bus)
        self.slave = self.master.slave
        self.io = AddressSpace("isa-io", self.bus.io)
        self.levels = []
        self.master.irqs[0].connect(lambda n, level: self.levels.append(level))

    def out(self, port, value):
        self.io.write(port, value, 1)

    def inb(self, port):
        return self.io.read(port, 1)

    def linux_init(self, master_icw4=0x01):
        ops = linux_pic_init()
        ops[5] = ("outb", 0x21, master_icw4)
        for _, port, value in ops:
            self.out(port, value)

    def irq(self, n, level):
        self.bus.set_irq(n, level)

    @property
    def cpu(self):
        return self.master.irqs[0].level

    def irr(self, port=0x20):
        self.out(port, 0x0A)
        return self.inb(port)

    def isr(self, port=0x20):
        self.out(port, 0x0B)
        return self.inb(port)


def test_reset_state_and_info_text():
    p = Pic()
    assert p.inb(0x20) == 0 and p.inb(0x21) == 0 and p.inb(0xA1) == 0
    assert p.master.describe() == ("pic0: irr=00 imr=00 isr=00 hprio=0 irq_base=00 rr_sel=0 "
                                   "elcr=00 fnm=0")
    p.linux_init()
    p.irq(9, 1)
    assert p.slave.describe() == ("pic1: irr=02 imr=00 isr=00 hprio=0 irq_base=08 rr_sel=0 "
                                  "elcr=00 fnm=0")


def test_edge_interrupt_acknowledge_and_eoi():
    p = Pic()
    p.linux_init()
    p.irq(4, 1)
    assert p.cpu == 1 and p.irr() == 0x10
    assert p.master.ack() == 4
    assert p.cpu == 0 and p.irr() == 0 and p.isr() == 0x10
    p.irq(4, 0)
    p.irq(4, 1)                       # a new edge while in service: pending, not delivered
    assert p.irr() == 0x10 and p.cpu == 0
    p.out(0x20, 0x20)                 # non-specific EOI
    assert p.isr() == 0 and p.cpu == 1
    assert p.master.ack() == 4
    p.out(0x20, 0x64)                 # specific EOI for level 4
    assert p.isr() == 0 and p.cpu == 0


def test_edge_needs_a_new_rising_edge():
    p = Pic()
    p.linux_init()
    p.irq(3, 1)
    p.master.ack()
    p.out(0x20, 0x20)
    assert p.cpu == 0                 # still high, but no new edge
    p.irq(3, 1)
    assert p.cpu == 0
    p.irq(3, 0)
    p.irq(3, 1)
    assert p.cpu == 1


def test_priority_and_nesting():
    p = Pic()
    p.linux_init()
    p.irq(5, 1)
    p.irq(3, 1)
    assert p.master.ack() == 3        # lower number first
    assert p.master.ack() == 7        # 5 waits for the EOI of 3: spurious meanwhile
    p2 = Pic()
    p2.linux_init()
    p2.irq(5, 1)
    assert p2.master.ack() == 5
    p2.irq(3, 1)                      # higher priority than the one in service: delivered
    assert p2.cpu == 1 and p2.master.ack() == 3
    p2.irq(6, 1)                      # lower priority: waits for the EOIs
    assert p2.cpu == 0
    p2.out(0x20, 0x20)                # EOI 3
    assert p2.cpu == 0                # 5 still in service
    p2.out(0x20, 0x20)                # EOI 5
    assert p2.cpu == 1 and p2.master.ack() == 6


def test_spurious_vector_is_level_7():
    p = Pic()
    p.linux_init()
    assert p.master.ack() == 7
    p.irq(8, 1)                       # through the slave
    assert p.master.ack() == 8
    p.out(0xA0, 0x20)
    p.out(0x20, 0x20)


def test_cascade_through_the_slave():
    p = Pic()
    p.linux_init()
    p.irq(12, 1)
    assert p.cpu == 1
    assert p.irr(0xA0) == 0x10 and p.irr(0x20) == 0x04
    assert p.master.ack() == 12
    assert p.isr(0xA0) == 0x10 and p.isr(0x20) == 0x04
    p.out(0xA0, 0x20)
    p.out(0x20, 0x20)
    assert p.isr(0xA0) == 0 and p.isr(0x20) == 0


def test_mask_register():
    p = Pic()
    p.linux_init()
    p.out(0x21, 0x10)
    p.irq(4, 1)
    assert p.cpu == 0 and p.irr() == 0x10 and p.inb(0x21) == 0x10
    p.out(0x21, 0x00)
    assert p.cpu == 1


def test_level_triggered_through_elcr():
    p = Pic()
    p.linux_init()
    p.out(0x4D1, 0xFF)
    assert p.inb(0x4D1) == 0xDE       # IRQ 8 and 13 cannot be level-triggered
    p.out(0x4D0, 0xFF)
    assert p.inb(0x4D0) == 0xF8
    p.irq(10, 1)
    assert p.master.ack() == 10
    p.out(0xA0, 0x20)
    p.out(0x20, 0x20)
    assert p.cpu == 1                 # still asserted: delivered again
    p.irq(10, 0)
    assert p.irr(0xA0) == 0           # the slave's request went with the line ...
    assert p.cpu == 1                 # ... but the master latched the cascade edge
    assert p.master.ack() == 15       # which the slave answers with its spurious vector


def test_auto_eoi_and_rotation():
    p = Pic()
    p.linux_init(master_icw4=0x03)    # auto-EOI
    p.irq(1, 1)
    assert p.master.ack() == 1 and p.isr() == 0
    p.out(0x20, 0x80)                 # rotate in auto-EOI mode
    p.irq(1, 0)
    p.irq(1, 1)
    p.irq(0, 1)
    assert p.master.ack() == 0        # priority fixed so far: 0 first
    assert p.master.priority_add == 1
    assert p.master.ack() == 1
    assert p.master.priority_add == 2  # level 1 now has the lowest priority


def test_specific_rotate_and_set_priority():
    p = Pic()
    p.linux_init()
    p.out(0x20, 0xC4)                 # set priority: 4 lowest, 5 highest
    p.irq(3, 1)
    p.irq(6, 1)
    assert p.master.ack() == 6
    p.out(0x20, 0xE6)                 # specific EOI and rotate on level 6
    assert p.master.priority_add == 7
    assert p.master.ack() == 3


def test_special_mask_mode():
    p = Pic()
    p.linux_init()
    p.irq(2 + 1, 1)
    assert p.master.ack() == 3
    p.irq(5, 1)
    assert p.cpu == 0                 # 3 in service blocks 5
    p.out(0x21, 0x08)                 # mask 3 ...
    p.out(0x20, 0x68)                 # ... and set special mask mode
    assert p.cpu == 1 and p.master.ack() == 5
    p.out(0x20, 0x48)                 # reset special mask mode


def test_poll_mode():
    p = Pic()
    p.linux_init()
    p.out(0x20, 0x0C)
    assert p.inb(0x20) == 0           # nothing pending
    p.irq(6, 1)
    p.out(0x20, 0x0C)
    assert p.inb(0x20) == 0x86        # acknowledged through the poll
    assert p.isr() == 0x40 and p.cpu == 0


def test_icw1_keeps_elcr_but_device_reset_clears_it():
    p = Pic()
    p.out(0x4D0, 0x08)
    p.linux_init()
    assert p.inb(0x4D0) == 0x08
    p.master.reset()
    assert p.inb(0x4D0) == 0


def test_state_round_trip_keeps_behaviour():
    p = Pic()
    p.linux_init()
    p.irq(12, 1)
    blob_m, blob_s = p.master.state_bytes(), p.slave.state_bytes()
    q = Pic()
    q.master.load_state_bytes(blob_m)
    q.slave.load_state_bytes(blob_s)
    assert q.cpu == 1 and q.master.ack() == 12


# --- against QEMU ----------------------------------------------------------------------
def _irq_ops():
    """Program the PICs as Linux does, make the i8042 (IRQ 1, 12) and COM1 (IRQ 4) raise
    their lines, and read IRR, ISR, IMR, poll results and ELCR along the way."""
    ops = linux_pic_init()
    rd_irr = [("outb", 0x20, 0x0A), ("inb", 0x20), ("outb", 0xA0, 0x0A), ("inb", 0xA0)]
    rd_isr = [("outb", 0x20, 0x0B), ("inb", 0x20), ("outb", 0xA0, 0x0B), ("inb", 0xA0)]
    ops += rd_irr + rd_isr
    ops += [("outb", 0x64, 0xAA)]                          # i8042 self-test: IRQ 1
    ops += rd_irr + [("outb", 0x20, 0x0C), ("inb", 0x20)]  # poll: acknowledges level 1
    ops += rd_isr + [("inb", 0x60)] + rd_irr
    ops += [("outb", 0x20, 0x20)] + rd_isr
    ops += [("outb", 0x64, 0xD3), ("outb", 0x60, 0x5A)]    # AUX loop: IRQ 12
    ops += rd_irr + [("outb", 0xA0, 0x0C), ("inb", 0xA0)] + rd_isr
    ops += [("outb", 0x3F9, 0x02)] + rd_irr                # COM1 THRE interrupt: IRQ 4
    ops += [("outb", 0x21, 0x10), ("inb", 0x21), ("outb", 0x20, 0x0C), ("inb", 0x20)]
    ops += [("outb", 0x21, 0x00), ("outb", 0x20, 0x0C), ("inb", 0x20)] + rd_isr
    ops += [("outb", 0x20, 0x64), ("outb", 0xA0, 0x20)] + rd_isr
    ops += [("outb", 0x4D0, 0xFF), ("inb", 0x4D0), ("outb", 0x4D1, 0xFF), ("inb", 0x4D1)]
    ops += [("outb", 0x20, 0xC4), ("outb", 0x20, 0x0C), ("inb", 0x20)]  # rotate, poll again
    ops += [("outb", 0x20, 0x11), ("inb", 0x21), ("outb", 0x21, 0x40)]  # ICW1 clears IMR; ICW2
    ops += [("outb", 0x21, 0x04), ("outb", 0x21, 0x03), ("inb", 0x21), ("inb", 0x20)]
    return ops


def test_info_pic_text_matches_qemu():
    out = subprocess.run([need_qemu(), "-M", "malta", "-S", "-display", "none", "-monitor", "stdio",
                          "-nodefaults", "-serial", "null"], input="info pic\nquit\n",
                         capture_output=True, text=True, timeout=60).stdout
    lines = [ln[ln.index("pic"):] for ln in out.splitlines() if ln.startswith("pic")]
    assert "".join(ln + "\n" for ln in lines) == i8259.info_pic_text(Pic().master)


def test_against_qemu():
    ops = _irq_ops()
    ours = IsaRig().replay(ops)
    assert ours == qemu_malta(ops)
