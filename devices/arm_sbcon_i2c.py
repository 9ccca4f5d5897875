"""ARM SBCon two-wire serial bus interface (the Versatile/vexpress I2C bit-bang port).

Interface:
  * MMIO region 0: the registers, 0x1000 bytes (QEMU names it "arm_sbcon_i2c").
  * No IRQ outputs, no properties.  QEMU 7.2's type name is ``versatile_i2c``.
  * ``bus``: the ``I2CBus`` (devices/i2c.py) the guest drives; the board attaches
    devices to it before ``realize()`` of the machine completes.

Registers (QEMU 7.2's hw/i2c/arm_sbcon_i2c.c): writing 0x000 (CONTROLS) sets the
SCL (bit 0) and SDA (bit 1) outputs given as ones, writing 0x004 (CONTROLC)
clears them; reading 0x000 returns SCL as driven in bit 0 and the SDA line
(the AND of our output and the device's) in bit 1.  Any other offset reads as
all ones (logged under ``guest_errors``).

The lines drive a bit-banged I2C master as QEMU's bitbang_i2c.c: SDA falling
while SCL is high is START, rising is STOP; eight data bits are shifted in on SCL
rising edges, then the address or data byte goes to the bus and the device's ACK
(SDA low) or NACK (a missing device: the transfer ends) is presented; reads
present each bit of the byte the device returns and take the master's ACK.
Reset leaves the outputs low and the state machine stopped, as QEMU starts.

Not modelled: clock stretching, arbitration, timing.
"""
from __future__ import annotations

from pysystem import log
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, register
from pysystem.regbank import Reg, RegisterBank

from .i2c import I2CBus

SCL, SDA = 1, 2

# bit-bang states (QEMU's order)
STOPPED, SENDING_BIT7, SENDING_BIT0, WAITING_FOR_ACK = 0, 1, 8, 9
RECEIVING_BIT7, RECEIVING_BIT0, SENDING_ACK, SENT_NACK = 10, 17, 18, 19


@register
class ArmSbconI2C(SysBusDevice):
    TYPE = "versatile_i2c"
    DESC = "ARM SBCon two-wire serial bus (I2C bit-bang)"

    REGS = RegisterBank(
        "arm_sbcon_i2c",
        Reg("CONTROL", 0x000, read="_read_control", write="_write_set", stored=False,
            doc="read: SCL driven, SDA line; write: set outputs (CONTROLS)"),
        Reg("CONTROLC", 0x004, read="_read_bad", write="_write_clear", stored=False,
            doc="write: clear outputs"),
        Reg("RESERVED", 0x008, count=(0x1000 - 0x008) // 4, read="_read_bad",
            write="_write_bad", stored=False, doc="reads all ones"),
    )
    STATE = (
        Field("out", "u8", 0, "SCL/SDA outputs as the guest set them"),
        Field("sda_in", "u8", 0, "the SDA line as last sampled"),
        Field("state", "u8", STOPPED, "bit-bang state"),
        Field("last_data", "u8", 1, "SDA level last seen"),
        Field("last_clock", "u8", 1, "SCL level last seen"),
        Field("device_out", "u8", 1, "the level the device drives on SDA"),
        Field("buffer", "u8", 0, "the byte being shifted"),
        Field("current_addr", "i32", -1, "address byte of the transfer (-1: none yet)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.bus = I2CBus("i2c")

    def realize(self) -> None:
        self.init_mmio(self.REGS.region(self, "arm_sbcon_i2c", 0x1000))
        super().realize()

    def post_load(self) -> None:
        """Nothing derived to rebuild."""

    # --- registers ----------------------------------------------------------------
    def _read_control(self) -> int:
        return (self.out & 1) | (self.sda_in << 1)

    def _read_bad(self, index: int = 0) -> int:
        log.log("guest_errors", "arm_sbcon_i2c: bad offset read")
        return 0xFFFFFFFF

    def _write_bad(self, index: int, value: int) -> None:
        log.log("guest_errors", "arm_sbcon_i2c: bad offset write")
        self._drive()

    def _write_set(self, value: int) -> None:
        self.out |= value & 3
        self._drive()

    def _write_clear(self, value: int) -> None:
        self.out &= ~value & 3
        self._drive()

    def _drive(self) -> None:
        self._set_line(SCL, 1 if self.out & SCL else 0)
        self.sda_in = self._set_line(SDA, 1 if self.out & SDA else 0)

    # --- the bit-bang master --------------------------------------------------------
    def _ret(self, level: int) -> int:
        self.device_out = level
        return level & self.last_data

    def _stop(self) -> None:
        if self.current_addr >= 0:
            self.bus.end()
        self.current_addr = -1
        self.state = STOPPED

    def _set_line(self, line: int, level: int) -> int:
        """Drive ``line`` to ``level``; the SDA line's level results."""
        if line == SDA:
            if level == self.last_data:
                return self._ret(self.device_out)
            self.last_data = level
            if self.last_clock == 0:
                return self._ret(self.device_out)
            if level == 0:              # START (or repeated START)
                self.state = SENDING_BIT7
                self.current_addr = -1
            else:                       # STOP
                self._stop()
            return self._ret(1)

        data = self.last_data
        if self.last_clock == level:
            return self._ret(self.device_out)
        self.last_clock = level
        if level == 0:                  # the device releases SDA at the end of a pulse
            return self._ret(1)
        state = self.state
        if state in (STOPPED, SENT_NACK):
            return self._ret(1)
        if SENDING_BIT7 <= state <= SENDING_BIT0:
            self.buffer = ((self.buffer << 1) | data) & 0xFF
            self.state = state + 1
            return self._ret(1)
        if state == WAITING_FOR_ACK:
            if self.current_addr < 0:
                self.current_addr = self.buffer
                nack = self.bus.start(self.buffer >> 1, bool(self.buffer & 1))
            else:
                nack = self.bus.send(self.buffer)
            if nack:
                self._stop()
                return self._ret(1)
            self.state = RECEIVING_BIT7 if self.current_addr & 1 else SENDING_BIT7
            return self._ret(0)
        if RECEIVING_BIT7 <= state <= RECEIVING_BIT0:
            if state == RECEIVING_BIT7:
                self.buffer = self.bus.recv()
            bit = self.buffer >> 7
            self.state = state + 1
            self.buffer = (self.buffer << 1) & 0xFF
            return self._ret(bit)
        # SENDING_ACK: the master's acknowledge of the byte it read
        self.state = RECEIVING_BIT7
        if data:
            self.state = SENT_NACK
            self.bus.nack()
        return self._ret(1)


@register
class ArmSbconI2CNamed(ArmSbconI2C):
    """The same device under its later QEMU name (7.2 calls it only ``versatile_i2c``)."""

    TYPE = "arm_sbcon_i2c"
