"""``-M none``: an empty machine (QEMU's), for every binary.

No CPU and no devices; with ``-m`` given, RAM is mapped at address 0.  The main
loop idles, so the monitor works: it makes the command line, the chardevs and
the monitor usable and testable without a board.
"""
from __future__ import annotations

from pysystem.machine import Machine
from pysystem.memory import RAMRegion
from pysystem.qom import register


@register
class NoneMachine(Machine):
    TYPE = "none-machine"
    NAME = "none"
    DESC = "empty machine"
    ARCHES = ("arm", "mipsel", "mips")
    DEFAULT_RAM_SIZE = 0
    MAX_CPUS = 1

    def build(self) -> None:
        if self.ram_size:
            self.system_memory.add_subregion(0, RAMRegion(self, "ram", self.ram_size))
