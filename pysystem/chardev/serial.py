"""``serial,path=DEV`` (alias ``tty``; ``-serial /dev/ttyUSB0``): a host serial port.

The device is opened through pyserial (8N1, no flow control, 115200 baud
until told otherwise) and read through its file descriptor from the main
loop.  A break event from the frontend side is not forwarded (frontends have
no way to send one yet); a line speed programmed by the guest is not passed
to the host port.  Output the port cannot take right away waits in a bounded
buffer flushed at each poll.
"""
from __future__ import annotations

from ..qom import Property, register
from .base import Chardev, ChardevError

OUT_LIMIT = 1 << 16
READ_CHUNK = 4096       # as the socket chardev: what the frontend cannot take yet waits


class _PathProperty(Property):
    __slots__ = ()

    @property
    def attr(self) -> str:
        return "dev_path"


@register
class SerialChardev(Chardev):
    TYPE = "chardev-serial"
    BACKEND = "serial"
    PROPERTIES = (
        _PathProperty("path", "str", None, "the host serial device"),
        Property("baud", "int", 115200, "line speed"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        if not self.dev_path:
            raise ChardevError("chardev: serial/tty: no device path given")
        try:
            import serial as pyserial
        except ImportError:
            raise ChardevError("host serial ports need the pyserial package") from None
        try:
            self.port = pyserial.Serial(self.dev_path, baudrate=self.baud, timeout=0,
                                        write_timeout=0, exclusive=False)
        except (pyserial.SerialException, OSError, ValueError) as e:
            msg = getattr(e, "strerror", None) or str(e)
            raise ChardevError(f"Could not open '{self.dev_path}': {msg}") from None
        self.fd = self.port.fileno()
        self._out = bytearray()

    def filename(self) -> str:
        return f"serial:{self.dev_path}"

    def _open(self) -> None:
        if self.loop is not None:
            self.loop.add_reader(self.fd, self._readable, lambda: self.can_accept() > 0)
            self.loop.add_poll_hook(self._flush)

    def _readable(self) -> None:
        n = self.can_accept()
        if n <= 0:
            return
        try:
            data = self.port.read(READ_CHUNK)
        except Exception:  # noqa: BLE001 - pyserial raises its own types for a vanished port
            data = b""
        if data:
            self.deliver(bytes(data))

    def _write(self, data: bytes) -> int:
        self._out += data
        if len(self._out) > OUT_LIMIT:
            del self._out[:len(self._out) - OUT_LIMIT]
        self._flush()
        return len(data)

    def _flush(self) -> None:
        import os
        while self._out:
            try:
                n = os.write(self.fd, self._out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._out.clear()
                return
            del self._out[:n]

    def _close(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.fd)
        try:
            self.port.close()
        except Exception:  # noqa: BLE001
            pass


@register
class TtyChardev(SerialChardev):
    """``tty``: QEMU's alias of ``serial``."""

    TYPE = "chardev-tty"
    BACKEND = "tty"
