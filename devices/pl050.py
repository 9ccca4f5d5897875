"""ARM PrimeCell PL050 keyboard/mouse interface (KMI) with a PS/2 device behind it.

Interface:
  * MMIO region 0: the registers, 0x1000 bytes (QEMU names it "pl050").
  * IRQ output 0: KMIINTR.
  * No properties.  Types ``pl050_keyboard`` (a PS/2 keyboard on the port) and
    ``pl050_mouse`` (a PS/2 mouse), as QEMU's vexpress has at 0x10006000/0x10007000.
  * ``send(data)``: bytes from the device to the host side (scancodes or mouse
    packets), queued as the PS/2 device would send them; nothing calls it yet
    (no host keyboard or mouse input is wired).

Registers (QEMU 7.2's hw/input/pl050.c): KMICR holds what is written (bit 4
RXINTREN, bit 3 TXINTREN); KMISTAT reads TXEMPTY always, RXFULL while the device
has a byte for us, RXPARITY as the odd parity of the last byte read; KMIDATA read
takes the next byte from the device (the last one again when none is waiting),
a write sends a command byte to the device; KMICLKDIV holds its value; KMIIR
reads bit 1 (TX) always and bit 0 while a byte waits.  KMIINTR is
``(byte waiting and RXINTREN) or TXINTREN``.  IDs: 0x00041050, PrimeCell.

The PS/2 device answers the commands Linux's atkbd and psmouse drivers send
(as QEMU's ps2.c does): reset (ACK, 0xAA, and 0x00 for a mouse), get ID
(keyboard ACK 0xAB 0x83, mouse ACK 0x00), echo, set LEDs/rate/resolution/sample
rate with their parameter byte, scancode set query, status request (mouse: ACK
0x00 0x02 0x64 at defaults), enable/disable/defaults (ACK); unknown keyboard
commands get RESEND (0xFE), unknown mouse commands nothing.

Not modelled: the KMI enable bit, transmit timing, clock divider, host input.
"""
from __future__ import annotations

from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, register
from pysystem.regbank import Reg, RegisterBank

CR_RXINTREN, CR_TXINTREN = 1 << 4, 1 << 3
STAT_TXEMPTY, STAT_RXFULL, STAT_RXPARITY = 1 << 6, 1 << 4, 1 << 2
IR_TXINTR, IR_RXINTR = 1 << 1, 1 << 0
QUEUE_MAX = 256  # QEMU's PS/2 buffer size

ACK, RESEND, POR = 0xFA, 0xFE, 0xAA
# commands that take one parameter byte; the device ACKs both
KBD_WITH_PARAM = (0xED, 0xF3)          # set LEDs, set typematic rate
MOUSE_WITH_PARAM = (0xE8, 0xF3)        # set resolution, set sample rate


@register
class PL050(SysBusDevice):
    """The KMI; subclasses are the device on the port (``_command``)."""

    TYPE = "pl050"
    ABSTRACT = True
    ID = (0x50, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

    REGS = RegisterBank(
        "pl050",
        Reg("KMICR", 0x00, on_write="_update_irq", doc="control"),
        Reg("KMISTAT", 0x04, access="ro", read="_read_stat", stored=False, doc="status"),
        Reg("KMIDATA", 0x08, read="_read_data", write="_write_data", stored=False,
            doc="received byte / byte to send"),
        Reg("KMICLKDIV", 0x0C, doc="clock divisor"),
        Reg("KMIIR", 0x10, access="ro", read="_read_ir", stored=False, doc="interrupt status"),
        Reg("ID", 0xFE0, count=8, access="ro", read="_read_id", stored=False,
            doc="KMIPeriphID0-3, KMIPCellID0-3"),
    )
    STATE = REGS.fields() + (
        Field("last", "u8", 0, "the last byte read from the device"),
        Field("queue", "bytes", b"", "bytes the device has for the host, oldest first"),
        Field("param_cmd", "u8", 0, "command waiting for its parameter byte (0: none)"),
    )

    def realize(self) -> None:
        self.init_mmio(self.REGS.region(self, "pl050", 0x1000, impl_min=4))
        self.init_irq(1)
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        pending = len(self.queue) > 0
        self.irqs[0].set((pending and self.kmicr & CR_RXINTREN) or self.kmicr & CR_TXINTREN)

    # --- registers ----------------------------------------------------------------
    def _read_stat(self) -> int:
        stat = STAT_TXEMPTY
        if bin(self.last).count("1") & 1:
            stat |= STAT_RXPARITY
        if self.queue:
            stat |= STAT_RXFULL
        return stat

    def _read_data(self) -> int:
        if self.queue:
            self.last = self.queue.pop(0)
            self._update_irq()
        return self.last

    def _write_data(self, value: int) -> None:
        value &= 0xFF
        if self.param_cmd:
            cmd, self.param_cmd = self.param_cmd, 0
            self._param(cmd, value)
        else:
            self._command(value)
        self._update_irq()

    def _read_ir(self) -> int:
        return IR_TXINTR | (IR_RXINTR if self.queue else 0)

    def _read_id(self, index: int) -> int:
        return self.ID[index]

    # --- the PS/2 device ------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue bytes from the device (dropped when the buffer is full, as in QEMU)."""
        room = QUEUE_MAX - len(self.queue)
        self.queue += bytes(data)[:max(0, room)]
        self._update_irq()

    def _reply(self, *data: int) -> None:
        if len(self.queue) + len(data) <= QUEUE_MAX:
            self.queue += bytes(data)

    def _command(self, cmd: int) -> None:
        raise NotImplementedError

    def _param(self, cmd: int, value: int) -> None:
        self._reply(ACK)


@register
class PL050Keyboard(PL050):
    TYPE = "pl050_keyboard"
    DESC = "ARM PrimeCell PL050 KMI with a PS/2 keyboard"

    STATE = (
        Field("scancode_set", "u8", 2, "the keyboard's scancode set (1-3)"),
    )

    def _command(self, cmd: int) -> None:
        if cmd in KBD_WITH_PARAM or cmd == 0xF0:
            self.param_cmd = cmd
            self._reply(ACK)
        elif cmd == 0xFF:                       # reset
            self.queue = bytearray()
            self.scancode_set = 2
            self._reply(ACK, POR)
        elif cmd == 0xF2:                       # get ID
            self._reply(ACK, 0xAB, 0x83)
        elif cmd == 0xEE:                       # echo
            self._reply(0xEE)
        elif cmd in (0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB):
            self._reply(ACK)                    # enable, disable, defaults, typematic modes
        else:
            self._reply(RESEND)

    def _param(self, cmd: int, value: int) -> None:
        if cmd == 0xF0:                         # scancode set: 0 queries
            if value == 0:
                self._reply(ACK, self.scancode_set)
                return
            if 1 <= value <= 3:
                self.scancode_set = value
        self._reply(ACK)


@register
class PL050Mouse(PL050):
    TYPE = "pl050_mouse"
    DESC = "ARM PrimeCell PL050 KMI with a PS/2 mouse"

    STATE = (
        Field("mouse_status", "u8", 0, "status byte (bit 5 enabled, bit 6 remote mode)"),
        Field("resolution", "u8", 2, "resolution code"),
        Field("sample_rate", "u8", 100, "samples per second"),
        Field("wrap", "bool", False, "echo (wrap) mode"),
    )

    def _command(self, cmd: int) -> None:
        if self.wrap and cmd not in (0xEC, 0xFF):
            self._reply(cmd)                    # wrap mode echoes everything else
            return
        if cmd in MOUSE_WITH_PARAM:
            self.param_cmd = cmd
            self._reply(ACK)
        elif cmd == 0xFF:                       # reset
            self.queue = bytearray()
            self.mouse_status, self.resolution, self.sample_rate = 0, 2, 100
            self.wrap = False
            self._reply(ACK, POR, 0x00)
        elif cmd == 0xF2:                       # get ID: a plain PS/2 mouse
            self._reply(ACK, 0x00)
        elif cmd == 0xE9:                       # status request
            self._reply(ACK, self.mouse_status, self.resolution, self.sample_rate)
        elif cmd == 0xEB:                       # read data: no movement
            self._reply(ACK, 0x08 | (self.mouse_status & 0x07), 0, 0)
        elif cmd == 0xEE:
            self.wrap = True
            self._reply(ACK)
        elif cmd == 0xEC:
            self.wrap = False
            self._reply(ACK)
        elif cmd == 0xF4:                       # enable reporting
            self.mouse_status |= 0x20
            self._reply(ACK)
        elif cmd == 0xF5:                       # disable reporting
            self.mouse_status &= ~0x20
            self._reply(ACK)
        elif cmd == 0xF6:                       # defaults
            self.resolution, self.sample_rate = 2, 100
            self.mouse_status &= ~0x20
            self._reply(ACK)
        elif cmd == 0xF0:                       # remote mode
            self.mouse_status |= 0x40
            self._reply(ACK)
        elif cmd == 0xEA:                       # stream mode
            self.mouse_status &= ~0x40
            self._reply(ACK)
        elif cmd in (0xE6, 0xE7):               # scaling 1:1 / 2:1
            self.mouse_status = (self.mouse_status & ~0x10) | (0x10 if cmd == 0xE7 else 0)
            self._reply(ACK)

    def _param(self, cmd: int, value: int) -> None:
        if cmd == 0xE8:
            self.resolution = value & 3
        else:
            self.sample_rate = value
        self._reply(ACK)
