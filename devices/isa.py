"""The ISA bus: a 64 KiB I/O port space and 16 interrupt lines, as QEMU's ISABus.

ISA devices see port numbers, never the board's physical addresses.  A device
creates its port regions (offsets from its first port) and its IRQ output
lines; ``ISABus.attach`` maps region ``i`` at a port and connects output ``j``
to an ISA IRQ number.  The PCI host (on Malta the GT-64120, through PIIX4) maps
``bus.io``, a container the size of the port space, at its I/O window, and the
interrupt controller takes the 16 lines with ``bus.connect_irqs(handler)``
(``handler(n, level)``; the i8259 pair's ``set_isa_irq``).  Ports nothing
decodes read as all ones and ignore writes, as QEMU's I/O space does: the port
space is itself an I/O region with those accesses (``unassigned_ports``), the
devices its subregions.  A board whose PCI host already has that space (QEMU's
"io", the GT-64120's) passes it as ``ISABus(io=...)``: ISA and PCI ports are
then siblings in one region, as in QEMU's ``info mtree``.

Byte order: the ISA bus is little-endian.  Port regions are ``IORegion``s with
``endianness="little"`` (the memory layer's per-region byte order: a
big-endian CPU's 16/32-bit access through the host bridge's window is swapped
at that one boundary, QEMU's DEVICE_LITTLE_ENDIAN).

``ISADevice`` is a ``SysBusDevice`` that knows its usual place: ``ISA_PORTS``
(the default port of each region, in ``mmio`` order) and ``ISA_IRQS`` (the
default ISA IRQ of each output line), which ``attach`` uses unless the board
says otherwise.  Being a sysbus device it can also be mapped as MMIO directly
(the Malta CBUS UART is).

Wiring PIIX4's and the super-I/O's devices as QEMU 7.2's Malta has them (each
device realized and reset first; timers need ``dev.clock``):

    bus = ISABus(io=gt.io)                      # the host bridge's port space
    pic = i8259.make_pair(bus)                  # 0x20/0xa0, ELCR 0x4d0/0x4d1, 16 lines
    pic.irqs[0].connect(cpu_irq_input, 2)       # INT to the CPU's IP2; IACK calls pic.ack()
    bus.attach(pit, ports=(0x40, None))         # IRQ 0; QEMU's Malta has no port 0x61
    bus.attach(rtc)                             # 0x70, IRQ 8
    bus.attach(dma1); bus.attach(dma2, ports=i8257.DMA2_PORTS)   # dma2: dshift=1
    bus.attach(kbd)                             # 0x60/0x64, IRQ 1 and 12
    bus.attach(com1); bus.attach(com2, ports=(0x2f8,), irqs=(3,))

Shared PCI interrupts fan in through ``pysystem.irq.OrGate`` into
``bus.set_irq`` (PIIX4's PIRQ routing picks the ISA line).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from pysystem import log
from pysystem.memory import IORegion
from pysystem.qdev import SysBusDevice
from pysystem.qom import Object, QOMError, register

ISA_IO_SIZE = 0x10000
ISA_NUM_IRQS = 16


def _unassigned_read(offset: int, size: int) -> int:
    if "trace" in log.mask:
        log.write(f"isa: read of unassigned port 0x{offset:x} (size {size})\n")
    return (1 << (8 * size)) - 1


def _unassigned_write(offset: int, value: int, size: int) -> None:
    if "trace" in log.mask:
        log.write(f"isa: write of unassigned port 0x{offset:x} value 0x{value:x} (size {size})\n")


def unassigned_ports(owner, name: str, size: int = ISA_IO_SIZE) -> IORegion:
    """A port space answering all ones to reads and ignoring writes where no subregion
    decodes (QEMU's unassigned_io_ops); map the devices' port regions inside it."""
    return IORegion(owner, name, size, read=_unassigned_read, write=_unassigned_write,
                    min_access=1, max_access=4, unaligned=True)


def port_region(bank, dev, name: str, size: int, impl_max: int = 1,
                max_access: int = 4, endianness: str = "little", base: int = 0) -> IORegion:
    """An I/O region dispatching through ``bank`` (a RegisterBank) for ``dev``, its
    first port at the bank's offset ``base``.

    ISA registers are bytes: a wider access is split into byte accesses of
    consecutive ports (QEMU's ``.impl.max_access_size = 1``), and unaligned
    accesses are allowed, as on the bus.
    """
    return IORegion(dev, name, size,
                    read=lambda off, sz: bank.read(dev, base + off, sz),
                    write=lambda off, val, sz: bank.write(dev, base + off, val, sz),
                    min_access=1, max_access=max_access, impl_min=1, impl_max=impl_max,
                    endianness=endianness, unaligned=True)


@register
class ISADevice(SysBusDevice):
    """A device on the ISA bus (see the module docstring)."""

    TYPE = "isa-device"
    ABSTRACT = True
    ISA_PORTS: Sequence[int] = ()
    ISA_IRQS: Sequence[int] = ()


@register
class ISABus(Object):
    """The port space and the 16 IRQ lines; holds no migratable state of its own."""

    TYPE = "isa-bus"

    def __init__(self, io: Optional[IORegion] = None, **props):
        super().__init__(**props)
        self.io = unassigned_ports(self, "isa-io") if io is None else io
        self.levels: List[int] = [0] * ISA_NUM_IRQS
        self._handler: Optional[Callable[[int, int], None]] = None
        self.devices: List[ISADevice] = []

    def connect_irqs(self, handler: Callable[[int, int], None]) -> None:
        """Drive ``handler(n, level)`` from ISA IRQ line ``n`` (the interrupt controller)."""
        self._handler = handler
        for n, level in enumerate(self.levels):
            if level:
                handler(n, level)

    def set_irq(self, n: int, level: int) -> None:
        """ISA IRQ line ``n`` goes to ``level`` (devices' outputs are connected here)."""
        level = 1 if level else 0
        self.levels[n] = level
        if self._handler is not None:
            self._handler(n, level)

    def attach(self, dev: ISADevice, ports: Optional[Sequence[int]] = None,
               irqs: Optional[Sequence[Optional[int]]] = None) -> ISADevice:
        """Map ``dev``'s regions at ``ports`` and connect its outputs to ISA IRQs ``irqs``.

        Defaults are the device type's ``ISA_PORTS``/``ISA_IRQS``; ``None`` in
        ``irqs`` leaves that output to the board (the i8259's INT goes to the CPU).
        """
        ports = dev.ISA_PORTS if ports is None else ports
        irqs = dev.ISA_IRQS if irqs is None else irqs
        if len(ports) > len(dev.mmio):
            raise QOMError(f"{dev.TYPE}: {len(ports)} ports given for {len(dev.mmio)} regions")
        if len(irqs) > len(dev.irqs):
            raise QOMError(f"{dev.TYPE}: {len(irqs)} IRQs given for {len(dev.irqs)} outputs")
        for port, region in zip(ports, dev.mmio):
            if port is None:
                continue
            if not (0 <= port and port + region.size <= ISA_IO_SIZE):
                raise QOMError(f"{dev.TYPE}: port 0x{port:x} is outside the ISA I/O space")
            self.io.add_subregion(port, region)
        for n, line in zip(irqs, dev.irqs):
            if n is None:
                continue
            if not 0 <= n < ISA_NUM_IRQS:
                raise QOMError(f"{dev.TYPE}: ISA IRQ {n} does not exist (0-15)")
            line.connect(self.set_irq, n)
        self.devices.append(dev)
        return dev
