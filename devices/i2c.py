"""An I2C bus and the interface of the devices on it (QEMU's hw/i2c/core.c, in small).

    bus = I2CBus("i2c")
    bus.attach(device, 0x39)        # device: an I2CSlave with a 7-bit address
    nack = bus.start(0x39, recv)    # True: nobody answered (NACK)
    nack = bus.send(byte)           # True: the device refused the byte
    byte = bus.recv()               # 0xff when no transfer is under way
    bus.nack()                      # the controller NACKed the last byte read
    bus.end()                       # STOP

A device on the bus is an ``I2CSlave`` (a ``Device``): it overrides ``event(ev)``
(``"start_send"``, ``"start_recv"``, ``"finish"``, ``"nack"``; a true result
refuses a start), ``send(byte) -> bool`` (true: NACK) and ``recv() -> int``.
The bus holds no migratable state of its own: the transfer under way is the
controller's state (its current address) and each device's.
"""
from __future__ import annotations

from typing import Dict, Optional

from pysystem.qdev import Device
from pysystem.qom import Property, QOMError, register


@register
class I2CSlave(Device):
    TYPE = "i2c-slave"
    ABSTRACT = True

    PROPERTIES = (
        Property("address", "uint8", 0, "7-bit bus address"),
    )

    def event(self, ev: str) -> bool:
        return False

    def send(self, data: int) -> bool:
        return False

    def recv(self) -> int:
        return 0xFF


class I2CBus:
    """Devices by address; one transfer at a time (see the module docstring)."""

    def __init__(self, name: str = "i2c"):
        self.name = name
        self.devices: Dict[int, I2CSlave] = {}
        self._current: Optional[I2CSlave] = None

    def attach(self, device: I2CSlave, address: Optional[int] = None) -> None:
        if address is not None and address != device.address:
            device.set_prop("address", address)     # only before realize()
        if device.address in self.devices:
            raise QOMError(f"i2c bus '{self.name}': address 0x{device.address:02x} is taken")
        self.devices[device.address] = device

    def start(self, address: int, recv: bool) -> bool:
        self._current = None
        device = self.devices.get(address & 0x7F)
        if device is None or device.event("start_recv" if recv else "start_send"):
            return True
        self._current = device
        return False

    def send(self, data: int) -> bool:
        if self._current is None:
            return True
        return bool(self._current.send(data & 0xFF))

    def recv(self) -> int:
        if self._current is None:
            return 0xFF
        return self._current.recv() & 0xFF

    def nack(self) -> None:
        if self._current is not None:
            self._current.event("nack")

    def end(self) -> None:
        if self._current is not None:
            self._current.event("finish")
        self._current = None

    def busy(self) -> bool:
        return self._current is not None
