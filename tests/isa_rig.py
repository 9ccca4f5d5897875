"""The ISA side of a Malta board built from our devices, for black-box tests.

``IsaRig()`` puts the PIIX4/FDC37M81X devices at QEMU's ports on one ISA bus,
on a virtual clock of 1 ns per instruction whose wall clock starts at
``RTC_BASE``: the i8259 pair (ELCR 0x4d0/0x4d1), the i8254 (0x40; no port 0x61,
as QEMU 7.2's Malta), the MC146818 (0x70, IRQ 8), the two DMA controllers
(0x00/0x08/0x81/0x87 and 0xc0/0xd0/0x89/0x8f), the i8042 (0x60/0x64, IRQ 1 and 12) and two
16550A UARTs (0x3f8 IRQ 4, 0x2f8 IRQ 3).  ``replay(ops)`` takes the same
``inb``/``outb`` ops as ``qtest_malta_oracle.qemu_malta`` so both can be compared.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from pysystem.clock import VirtualClock
from pysystem.devices import i8259
from pysystem.devices.i8042 import I8042
from pysystem.devices.i8254 import I8254
from pysystem.devices.i8257 import DMA2_PORTS, I8257
from pysystem.devices.isa import ISABus
from pysystem.devices.mc146818 import MC146818
from pysystem.devices.serial_16550 import Serial16550
from pysystem.memory import AddressSpace

from qtest_malta_oracle import RTC_BASE


def run_clock(clock: VirtualClock, ns: int) -> None:
    """Advance guest time by ``ns``, firing due timers in order as a CPU loop would."""
    end = clock.now() + ns
    while True:
        deadline = clock.next_deadline()
        if deadline is None or deadline > end:
            break
        clock.advance(max(0, deadline - clock.now()))
        clock.run_timers()
    clock.advance(max(0, end - clock.now()))
    clock.run_timers()


class IsaRig:
    def __init__(self, port61: bool = False):
        self.clock = VirtualClock(shift=0)
        self.clock.set_rtc_base(RTC_BASE)
        self.bus = ISABus()
        self.pic = i8259.make_pair(self.bus)
        self.cpu_levels: List[int] = []
        self.pic.irqs[0].connect(lambda n, level: self.cpu_levels.append(level))
        self.pit = self._add(I8254(), ports=(0x40, 0x61 if port61 else None))
        self.rtc = self._add(MC146818())
        self.dma1 = self._add(I8257())
        self.dma2 = self._add(I8257(dshift=1), ports=DMA2_PORTS)
        self.kbd = self._add(I8042())
        self.serial0 = self._add(Serial16550())
        self.serial1 = self._add(Serial16550(), ports=(0x2F8,), irqs=(3,))
        self.io = AddressSpace("isa-io", self.bus.io)

    def _add(self, dev, ports=None, irqs=None):
        dev.clock = self.clock
        dev.realize()
        dev.reset()
        self.bus.attach(dev, ports, irqs)
        return dev

    @property
    def cpu_irq(self) -> int:
        return self.pic.irqs[0].level

    def inb(self, port: int) -> int:
        return self.io.read(port, 1)

    def outb(self, port: int, value: int) -> None:
        self.io.write(port, value, 1)

    def run(self, ns: int) -> None:
        run_clock(self.clock, ns)

    def replay(self, ops: Sequence[Tuple]) -> List[int]:
        out = []
        for op in ops:
            if op[0] == "inb":
                out.append(self.inb(op[1]))
            elif op[0] == "outb":
                self.outb(op[1], op[2])
            else:
                raise ValueError(f"the ISA rig replays inb/outb only, not {op!r}")
        return out


def linux_pic_init() -> List[Tuple]:
    """The i8259 initialisation Linux's MIPS init_8259A does (vectors 0-15), all unmasked."""
    return [("outb", 0x21, 0xFF), ("outb", 0xA1, 0xFF),
            ("outb", 0x20, 0x11), ("outb", 0x21, 0x00), ("outb", 0x21, 0x04), ("outb", 0x21, 0x01),
            ("outb", 0xA0, 0x11), ("outb", 0xA1, 0x08), ("outb", 0xA1, 0x02), ("outb", 0xA1, 0x01),
            ("outb", 0x21, 0x00), ("outb", 0xA1, 0x00)]
