"""Devices: the QOM types that boards are built from.

``Device`` is any hardware model; ``SysBusDevice`` is one that is reached through
memory-mapped regions and signals through IRQ output lines.  A sysbus device
creates its regions with ``init_mmio`` and its outputs with ``init_irq`` in
``realize()``; the board maps ``dev.mmio[i]`` into the address space and connects
``dev.irqs[i]``.  A device never reaches into the board or the CPU.
"""
from __future__ import annotations

from typing import List

from .irq import IRQ
from .qom import Object, register


@register
class Device(Object):
    TYPE = "device"
    ABSTRACT = True
    USER_CREATABLE = False  # may be created with -device
    DESC = ""  # one line for -device help

    def __init__(self, **props):
        super().__init__(**props)
        self.id = None  # the -device id=...


@register
class SysBusDevice(Device):
    TYPE = "sys-bus-device"
    ABSTRACT = True

    def __init__(self, **props):
        super().__init__(**props)
        self.mmio: List = []
        self.irqs: List[IRQ] = []

    def init_mmio(self, region) -> None:
        self.mmio.append(region)

    def init_irq(self, count: int = 1, name: str = "irq") -> List[IRQ]:
        lines = [IRQ(f"{self.TYPE}.{name}[{len(self.irqs) + i}]") for i in range(count)]
        self.irqs.extend(lines)
        return lines
