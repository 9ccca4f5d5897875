"""Intel 8259A programmable interrupt controller, as QEMU 7.2 models it (hw/intc/i8259.c).

Interface:
  * Region 0: the two ports (ISA 0x20/0x21 master, 0xa0/0xa1 slave): port 0
    takes ICW1 and OCW2/OCW3 and reads IRR or ISR (OCW3's choice), port 1
    takes ICW2-4 while initialising and OCW1 (the IMR) after, and reads the IMR;
    a read of either port in poll mode acknowledges and returns 0x80 | level.
  * Region 1: ELCR, the edge/level control register of PIIX4 (0x4d0 master,
    0x4d1 slave); bits outside ``elcr-mask`` read as zero (QEMU: 0xf8 master,
    0xde slave, as IRQs 0-2, 8 and 13 are always edge-triggered).
  * IRQ inputs: ``set_irq(n, level)`` for n in 0-7.  A master also takes
    ``set_isa_irq(n, level)`` for the 16 ISA lines (8-15 go to its slave),
    which is the handler an ``ISABus`` connects to.
  * IRQ output 0: INT (to the CPU, or to the master's input 2 for the slave).
  * ``ack()``: the interrupt-acknowledge cycle (on Malta the GT-64120's PCI IACK
    register): acknowledges the highest-priority request, through the slave
    when it is the cascade input, and returns the vector (ICW2 base + level;
    level 7 of the chip concerned when nothing is pending: the spurious IRQ).
  * Properties ``master`` (bool) and ``elcr-mask`` (uint8).
  * ``cascade(master, slave)`` wires a pair as PIIX4 and the PC have them.

Behaviour: edge-triggered inputs latch IRR on a rising edge, level-triggered
ones (ELCR) follow the line and stay in IRR when acknowledged; fixed priority
with rotation (OCW2 rotate-on-EOI, specific rotate, rotate in auto-EOI), specific
and non-specific EOI, special mask mode, special fully nested mode (the master
ignores the cascade input's ISR bit), poll mode, auto-EOI.  One deviation:
setting or clearing special mask mode updates INT at once, as the hardware
does (QEMU waits for the next event).  ICW1 clears the
state but not ELCR; device reset clears ELCR too.  ``info pic`` text comes from
``describe()`` and ``info_pic_text()``, formatted as QEMU's.

Not modelled (as in QEMU 7.2): ICW1's level-triggered mode bit (LTIM: logged
under ``-d unimp``), 8080/8085 call-address mode, buffered mode (ICW4 bits 2-3).
"""
from __future__ import annotations

from typing import Optional

from pysystem import log
from pysystem.qom import Field, Property, register
from pysystem.regbank import Reg, RegisterBank

from .isa import ISADevice, port_region

CASCADE_INPUT = 2
NO_IRQ = 8          # get_priority's "none"


@register
class I8259(ISADevice):
    TYPE = "isa-i8259"
    DESC = "Intel 8259A interrupt controller"
    ISA_PORTS = (0x20, 0x4D0)
    ISA_IRQS = (None,)        # INT goes to the CPU (or the master), not to an ISA line

    PROPERTIES = (
        Property("master", "bool", True, "the master of a cascade (input 2 is the slave)"),
        Property("elcr-mask", "uint8", 0xF8, "ELCR bits that can be set (level-capable inputs)"),
    )

    REGS = RegisterBank(
        "i8259",
        Reg("CMD", 0, width=1, read="_read_port0", write="_write_port0", stored=False,
            doc="ICW1, OCW2, OCW3; reads IRR or ISR"),
        Reg("DATA", 1, width=1, read="_read_port1", write="_write_port1", stored=False,
            doc="ICW2-4, OCW1 (IMR); reads IMR"),
    )
    ELCR_REGS = RegisterBank(
        "i8259-elcr",
        Reg("ELCR", 0, width=1, write="_write_elcr", doc="edge (0) / level (1) per input"),
    )
    STATE = ELCR_REGS.fields() + (
        Field("irr", "u8", 0, "interrupt request register"),
        Field("imr", "u8", 0, "interrupt mask register"),
        Field("isr", "u8", 0, "in-service register"),
        Field("last_irr", "u8", 0, "input levels last seen (edge detection)"),
        Field("priority_add", "u8", 0, "the level with the highest priority"),
        Field("irq_base", "u8", 0, "ICW2: vector of level 0"),
        Field("read_reg_select", "bool", False, "OCW3: port 0 reads ISR (else IRR)"),
        Field("poll", "bool", False, "OCW3 poll command pending"),
        Field("special_mask", "bool", False, "OCW3 special mask mode"),
        Field("init_state", "u8", 0, "0 ready, 1-3 waiting for ICW2-4"),
        Field("auto_eoi", "bool", False, "ICW4 AEOI"),
        Field("rotate_on_auto_eoi", "bool", False, "OCW2 rotate in auto-EOI mode"),
        Field("special_fully_nested_mode", "bool", False, "ICW4 SFNM"),
        Field("init4", "bool", False, "ICW1: ICW4 follows"),
        Field("single_mode", "bool", False, "ICW1: no cascade, no ICW3"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.slave: Optional["I8259"] = None

    def realize(self) -> None:
        self.init_mmio(port_region(self.REGS, self, "pic", 2))
        self.init_mmio(port_region(self.ELCR_REGS, self, "elcr", 1))
        self.init_irq(1, "int")
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    # --- priority logic -----------------------------------------------------------
    def _priority(self, mask: int) -> int:
        """The highest priority (0 = highest) among ``mask``'s levels, or NO_IRQ."""
        if mask == 0:
            return NO_IRQ
        add = self.priority_add
        priority = 0
        while not mask & (1 << ((priority + add) & 7)):
            priority += 1
        return priority

    def _pending(self) -> int:
        """The level that should interrupt now, or -1 (QEMU's pic_get_irq)."""
        priority = self._priority(self.irr & ~self.imr)
        if priority == NO_IRQ:
            return -1
        in_service = self.isr
        if self.special_mask:
            in_service &= ~self.imr
        if self.special_fully_nested_mode and self.master:
            in_service &= ~(1 << CASCADE_INPUT)
        if priority < self._priority(in_service):
            return (priority + self.priority_add) & 7
        return -1

    def _update_irq(self) -> None:
        self.irqs[0].set(self._pending() >= 0)

    def _intack(self, irq: int) -> None:
        if self.auto_eoi:
            if self.rotate_on_auto_eoi:
                self.priority_add = (irq + 1) & 7
        else:
            self.isr |= 1 << irq
        if not self.elcr & (1 << irq):   # a level-triggered request stays
            self.irr &= ~(1 << irq)
        self._update_irq()

    # --- inputs -------------------------------------------------------------------
    def set_irq(self, n: int, level: int) -> None:
        bit = 1 << n
        if self.elcr & bit:
            if level:
                self.irr |= bit
                self.last_irr |= bit
            else:
                self.irr &= ~bit
                self.last_irr &= ~bit
        elif level:
            if not self.last_irr & bit:
                self.irr |= bit
            self.last_irr |= bit
        else:
            self.last_irr &= ~bit
        self._update_irq()

    def set_isa_irq(self, n: int, level: int) -> None:
        """ISA IRQ line ``n`` (0-15): 0-7 are this master's inputs, 8-15 its slave's."""
        if n < 8:
            self.set_irq(n, level)
        elif self.slave is not None:
            self.slave.set_irq(n - 8, level)

    def output(self) -> int:
        """The INT line's level (QEMU's pic_get_output)."""
        return 1 if self._pending() >= 0 else 0

    def ack(self) -> int:
        """Interrupt acknowledge: the vector of the request taken (QEMU's pic_read_irq)."""
        irq = self._pending()
        if irq < 0:                                  # spurious on this controller
            return (self.irq_base + 7) & 0xFF
        if irq == CASCADE_INPUT and self.master and self.slave is not None:
            slave = self.slave
            irq2 = slave._pending()
            if irq2 >= 0:
                slave._intack(irq2)
            else:
                irq2 = 7                             # spurious on the slave
            vector = slave.irq_base + irq2
        else:
            vector = self.irq_base + irq
        self._intack(irq)
        return vector & 0xFF

    # --- ports --------------------------------------------------------------------
    def _poll_read(self) -> int:
        irq = self._pending()
        self.poll = False
        if irq < 0:
            return 0
        self._intack(irq)
        return 0x80 | irq

    def _read_port0(self) -> int:
        if self.poll:
            return self._poll_read()
        return self.isr if self.read_reg_select else self.irr

    def _read_port1(self) -> int:
        if self.poll:
            return self._poll_read()
        return self.imr

    def _write_port0(self, value: int) -> None:
        if value & 0x10:                             # ICW1
            self._init_reset()
            self.init_state = 1
            self.init4 = bool(value & 1)
            self.single_mode = bool(value & 2)
            if value & 0x08:
                log.log("unimp", "i8259: level sensitive irq not supported")
        elif value & 0x08:                           # OCW3
            if value & 0x04:
                self.poll = True
            if value & 0x02:
                self.read_reg_select = bool(value & 1)
            if value & 0x40:
                self.special_mask = bool(value & 0x20)
                self._update_irq()
        else:                                        # OCW2
            cmd = value >> 5
            if cmd in (0, 4):                        # (clear/set) rotate in auto-EOI mode
                self.rotate_on_auto_eoi = cmd == 4
            elif cmd in (1, 5):                      # non-specific EOI (and rotate)
                priority = self._priority(self.isr)
                if priority != NO_IRQ:
                    irq = (priority + self.priority_add) & 7
                    self.isr &= ~(1 << irq)
                    if cmd == 5:
                        self.priority_add = (irq + 1) & 7
                    self._update_irq()
            elif cmd == 3:                           # specific EOI
                self.isr &= ~(1 << (value & 7))
                self._update_irq()
            elif cmd == 6:                           # set priority
                self.priority_add = (value + 1) & 7
                self._update_irq()
            elif cmd == 7:                           # specific EOI and rotate
                irq = value & 7
                self.isr &= ~(1 << irq)
                self.priority_add = (irq + 1) & 7
                self._update_irq()
            # cmd 2: no operation

    def _write_port1(self, value: int) -> None:
        state = self.init_state
        if state == 0:                               # OCW1
            self.imr = value
            self._update_irq()
        elif state == 1:                             # ICW2
            self.irq_base = value & 0xF8
            self.init_state = (3 if self.init4 else 0) if self.single_mode else 2
        elif state == 2:                             # ICW3 (cascade wiring: fixed)
            self.init_state = 3 if self.init4 else 0
        else:                                        # ICW4
            self.special_fully_nested_mode = bool(value & 0x10)
            self.auto_eoi = bool(value & 0x02)
            self.init_state = 0

    def _write_elcr(self, value: int) -> None:
        self.elcr = value & self.elcr_mask

    def _init_reset(self) -> None:
        """ICW1's reset (QEMU's pic_reset_common): everything but ELCR."""
        self.last_irr = 0
        self.irr &= self.elcr
        self.imr = self.isr = self.priority_add = self.irq_base = 0
        self.read_reg_select = self.poll = self.special_mask = False
        self.init_state = 0
        self.auto_eoi = self.rotate_on_auto_eoi = self.special_fully_nested_mode = False
        self.init4 = self.single_mode = False
        self._update_irq()

    # --- monitor ------------------------------------------------------------------
    def describe(self, index: Optional[int] = None) -> str:
        """One line of ``info pic``, as QEMU prints it (pic0 the master, pic1 the slave)."""
        if index is None:
            index = 0 if self.master else 1
        return (f"pic{index}: irr={self.irr:02x} imr={self.imr:02x} isr={self.isr:02x} "
                f"hprio={self.priority_add} irq_base={self.irq_base:02x} "
                f"rr_sel={int(self.read_reg_select)} elcr={self.elcr:02x} "
                f"fnm={int(self.special_fully_nested_mode)}")


def info_pic_text(master: I8259) -> str:
    """What ``info pic`` prints for a cascaded pair: QEMU 7.2's Malta lists the slave first."""
    chips = [master.slave, master] if master.slave is not None else [master]
    return "".join(chip.describe() + "\n" for chip in chips)


def cascade(master: I8259, slave: I8259) -> I8259:
    """Wire ``slave``'s INT to ``master``'s input 2 and let the master acknowledge through it.

    Returns the master; its ``set_isa_irq`` takes the 16 ISA lines.
    """
    master.slave = slave
    slave.irqs[0].connect(master.set_irq, CASCADE_INPUT)
    return master


MASTER_PORTS = I8259.ISA_PORTS
SLAVE_PORTS = (0xA0, 0x4D1)
SLAVE_ELCR_MASK = 0xDE


def make_pair(bus=None):
    """A realized, reset master/slave pair as PIIX4 has it; attached to ``bus`` (an ISABus) if given.

    Returns the master (``master.slave`` is the slave); the board connects
    ``master.irqs[0]`` to the CPU and adds both to its object tree.
    """
    master = I8259(master=True)
    slave = I8259(master=False, **{"elcr-mask": SLAVE_ELCR_MASK})
    for chip in (master, slave):
        chip.realize()
    cascade(master, slave)
    for chip in (master, slave):
        chip.reset()
    if bus is not None:
        bus.attach(master)
        bus.attach(slave, ports=SLAVE_PORTS)
        bus.connect_irqs(master.set_isa_irq)
    return master
