"""pysystem: a full-system emulator in Python (a qemu-system clone).

The core lives here (object model, clock, IRQ lines, logging, command line, main
loop, chardevs, loaders); the design card's folders install beside it as
pysystem.cpu, pysystem.machines, pysystem.devices, pysystem.memory,
pysystem.monitor and pysystem.images.
"""
__version__ = "0.1.0"
QEMU_VERSION_COMPAT = "7.2.0"
