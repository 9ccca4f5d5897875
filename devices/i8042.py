"""Intel 8042 keyboard controller with a PS/2 keyboard and mouse, as far as Linux probes it.

Interface:
  * Region 0: the data port (ISA 0x60): reads the output buffer; writes go to
    the keyboard, or are the parameter of the last controller command.
  * Region 1: the status/command port (ISA 0x64).
  * IRQ outputs: 0 keyboard (ISA IRQ 1), 1 mouse/AUX (ISA IRQ 12), 2 a reset
    request (pulsed by command 0xfe and by an output-port write that clears
    bit 0; the board connects it to its reset, as QEMU's pckbd does).
  * No properties; no input: nothing types on this keyboard.

Behaviour (QEMU 7.2's hw/input/pckbd.c and ps2.c): status 0x18 at reset
(command/data flag, keylock open), controller configuration byte 0x03 (both
interrupts on), output port 0xcf.  Controller commands: 0x20 read / 0x60 write
the configuration byte, 0xa7/0xa8 disable/enable the AUX port, 0xa9 AUX test
(0x00), 0xaa self-test (0x55, sets the status's system flag), 0xab keyboard
test (0x00), 0xad/0xae disable/enable the keyboard, 0xc0 input port (0x80),
0xd0/0xd1 read/write the output port, 0xd2/0xd3 write the keyboard/AUX output
buffer (the AUX loop Linux uses to test IRQ 12), 0xd4 write to the mouse,
0xdd/0xdf A20 off/on, 0xf0-0xfe pulse output lines (bit 0 clear: reset), 0xff
nothing.  The output buffer takes a byte from the controller's replies first,
then from the keyboard's queue (unless the keyboard is disabled) and the
mouse's (unless the AUX port is disabled); status bit 0 (and 5 for AUX data)
says it is full; the keyboard IRQ is raised for keyboard data when the
configuration enables it, the mouse IRQ likewise.  The keyboard answers reset
(0xfa 0xaa), identify (0xfa 0xab 0x83, or 0x41 when translating), echo, LEDs,
typematic rate, scan-code set, enable/disable/defaults; the mouse answers
reset (0xfa 0xaa 0x00), identify (0xfa 0x00), status request, resolution,
sample rate, scaling, stream/remote mode, enable/disable/defaults (resolution
and rate read 0 after power-on and 2/100 after a reset command, as QEMU's).  Unknown
device commands are answered with 0xfe (resend), unknown controller commands
logged under ``-d unimp``.

Not modelled: key and mouse input, scan-code translation of input, wrap mode,
the A20 line (no use on MIPS), the controller's password and memory commands.
"""
from __future__ import annotations

from pysystem import log
from pysystem.qom import Field, register
from pysystem.regbank import Reg, RegisterBank

from .isa import ISADevice, port_region

STAT_OBF, STAT_SELFTEST, STAT_CMD, STAT_UNLOCKED, STAT_MOUSE_OBF = 0x01, 0x04, 0x08, 0x10, 0x20
MODE_KBD_INT, MODE_MOUSE_INT, MODE_DISABLE_KBD, MODE_DISABLE_MOUSE, MODE_KCC = 0x01, 0x02, 0x10, 0x20, 0x40
OUT_RESET, OUT_A20, OUT_OBF, OUT_MOUSE_OBF = 0x01, 0x02, 0x10, 0x20
OUTPORT_RESET = 0xCF
ACK, RESEND, BAT_OK, KBD_ID = 0xFA, 0xFE, 0xAA, 0xAB
QUEUE_MAX = 16
SRC_NONE, SRC_KBD, SRC_AUX = 0, 1, 2
# controller commands followed by a data byte
PARAM_COMMANDS = (0x60, 0xD1, 0xD2, 0xD3, 0xD4)
# keyboard and mouse commands followed by a parameter byte
KBD_PARAM_COMMANDS = (0xED, 0xF0, 0xF3)
MOUSE_PARAM_COMMANDS = (0xE8, 0xF3)
TRANSLATED_SET = {1: 0x43, 2: 0x41, 3: 0x3F}


@register
class I8042(ISADevice):
    TYPE = "i8042"
    DESC = "Intel 8042 keyboard controller (PS/2 keyboard and mouse ports)"
    ISA_PORTS = (0x60, 0x64)
    ISA_IRQS = (1, 12)

    DATA_REGS = RegisterBank(
        "i8042-data",
        Reg("DATA", 0, width=1, read="_read_data", write="_write_data", stored=False,
            doc="output buffer / keyboard data / command parameter"),
    )
    CMD_REGS = RegisterBank(
        "i8042-cmd",
        Reg("STATUS", 0, width=1, write="_write_command", reset=STAT_CMD | STAT_UNLOCKED,
            doc="status (read), controller command (write)"),
    )
    STATE = CMD_REGS.fields() + (
        Field("mode", "u8", MODE_KBD_INT | MODE_MOUSE_INT, "controller configuration byte"),
        Field("outport", "u8", OUTPORT_RESET, "controller output port"),
        Field("write_cmd", "u8", 0, "controller command waiting for its data byte"),
        Field("obdata", "u8", 0, "output buffer"),
        Field("obsrc", "u8", SRC_NONE, "where the output buffer's byte came from"),
        Field("ctrl_queue", "bytes", b"", "controller replies (source byte, data) pairs"),
        Field("kbd_queue", "bytes", b"", "keyboard bytes waiting"),
        Field("aux_queue", "bytes", b"", "mouse bytes waiting"),
        Field("kbd_cmd", "u8", 0, "keyboard command waiting for its parameter"),
        Field("kbd_scan_enabled", "bool", True, "keyboard scanning"),
        Field("kbd_scancode_set", "u8", 2, "keyboard scan-code set"),
        Field("kbd_leds", "u8", 0, "keyboard LEDs"),
        Field("mouse_cmd", "u8", 0, "mouse command waiting for its parameter"),
        Field("mouse_status", "u8", 0, "mouse status byte (remote, enabled, scaling)"),
        Field("mouse_resolution", "u8", 0, "mouse resolution (0 at power-on, as QEMU)"),
        Field("mouse_sample_rate", "u8", 0, "mouse sample rate (0 at power-on, as QEMU)"),
    )

    def realize(self) -> None:
        self.init_mmio(port_region(self.DATA_REGS, self, "i8042-data", 1))
        self.init_mmio(port_region(self.CMD_REGS, self, "i8042-cmd", 1))
        self.init_irq(3)
        super().realize()

    def reset(self) -> None:
        super().reset()
        self._update_irq()

    def post_load(self) -> None:
        self._set_lines()

    # --- the output buffer --------------------------------------------------------
    def _update_irq(self) -> None:
        """Fill an empty output buffer from the queues, then set status and IRQ lines."""
        if self.obsrc == SRC_NONE:
            if self.ctrl_queue:
                self.obsrc, self.obdata = self.ctrl_queue[0], self.ctrl_queue[1]
                del self.ctrl_queue[:2]
            elif self.kbd_queue and not self.mode & MODE_DISABLE_KBD:
                self.obsrc, self.obdata = SRC_KBD, self.kbd_queue.pop(0)
            elif self.aux_queue and not self.mode & MODE_DISABLE_MOUSE:
                self.obsrc, self.obdata = SRC_AUX, self.aux_queue.pop(0)
        status = self.status & ~(STAT_OBF | STAT_MOUSE_OBF)
        outport = self.outport & ~(OUT_OBF | OUT_MOUSE_OBF)
        if self.obsrc != SRC_NONE:
            status |= STAT_OBF
            outport |= OUT_OBF
            if self.obsrc == SRC_AUX:
                status |= STAT_MOUSE_OBF
                outport |= OUT_MOUSE_OBF
        self.status, self.outport = status, outport
        self._set_lines()

    def _set_lines(self) -> None:
        self.irqs[0].set(self.obsrc == SRC_KBD and self.mode & MODE_KBD_INT)
        self.irqs[1].set(self.obsrc == SRC_AUX and self.mode & MODE_MOUSE_INT)

    def _reply(self, value: int, aux: bool = False) -> None:
        """A byte from the controller itself (command results, the 0xd2/0xd3 loops)."""
        if len(self.ctrl_queue) < 2 * QUEUE_MAX:
            self.ctrl_queue += bytes((SRC_AUX if aux else SRC_KBD, value & 0xFF))
        self._update_irq()

    def _kbd_send(self, *values: int) -> None:
        for v in values:
            if len(self.kbd_queue) < QUEUE_MAX:
                self.kbd_queue.append(v)
        self._update_irq()

    def _aux_send(self, *values: int) -> None:
        for v in values:
            if len(self.aux_queue) < QUEUE_MAX:
                self.aux_queue.append(v)
        self._update_irq()

    # --- ports --------------------------------------------------------------------
    def _read_data(self) -> int:
        value = self.obdata
        self.obsrc = SRC_NONE
        self._set_lines()       # reading deasserts the IRQ: the next byte is a new edge
        self._update_irq()
        return value

    def _write_command(self, cmd: int) -> None:
        if cmd in PARAM_COMMANDS:
            self.write_cmd = cmd
        elif cmd == 0x20:
            self._reply(self.mode)
        elif cmd == 0xA7:
            self.mode |= MODE_DISABLE_MOUSE
            self._update_irq()
        elif cmd == 0xA8:
            self.mode &= ~MODE_DISABLE_MOUSE
            self._update_irq()
        elif cmd in (0xA9, 0xAB):
            self._reply(0x00)
        elif cmd == 0xAA:
            self.status |= STAT_SELFTEST
            self._reply(0x55)
        elif cmd == 0xAD:
            self.mode |= MODE_DISABLE_KBD
            self._update_irq()
        elif cmd == 0xAE:
            self.mode &= ~MODE_DISABLE_KBD
            self._update_irq()
        elif cmd == 0xC0:
            self._reply(0x80)
        elif cmd == 0xD0:
            self._reply(self.outport)
        elif cmd == 0xDD:
            self.outport &= ~OUT_A20
        elif cmd == 0xDF:
            self.outport |= OUT_A20
        elif 0xF0 <= cmd <= 0xFE:
            if not cmd & 1:
                self.irqs[2].pulse()                 # pulse the reset line
        elif cmd != 0xFF:
            log.log("unimp", f"i8042: unsupported controller command 0x{cmd:02x}")

    def _write_data(self, value: int) -> None:
        cmd, self.write_cmd = self.write_cmd, 0
        if cmd == 0:
            self._keyboard_command(value)
        elif cmd == 0x60:
            self.mode = value
            self._update_irq()
        elif cmd == 0xD1:
            self.outport = value
            self._update_irq()
            if not value & OUT_RESET:
                self.irqs[2].pulse()
        elif cmd == 0xD2:
            self._reply(value)
        elif cmd == 0xD3:
            self._reply(value, aux=True)
        else:                                        # 0xd4
            self._mouse_command(value)

    # --- the PS/2 keyboard --------------------------------------------------------
    def _keyboard_defaults(self) -> None:
        self.kbd_scancode_set = 2
        self.kbd_leds = 0

    def _keyboard_command(self, value: int) -> None:
        pending, self.kbd_cmd = self.kbd_cmd, 0
        if pending == 0xED:
            self.kbd_leds = value & 7
            self._kbd_send(ACK)
        elif pending == 0xF3:
            self._kbd_send(ACK)
        elif pending == 0xF0:
            if value == 0:
                current = self.kbd_scancode_set
                self._kbd_send(ACK, TRANSLATED_SET[current] if self.mode & MODE_KCC else current)
            elif 1 <= value <= 3:
                self.kbd_scancode_set = value
                self._kbd_send(ACK)
            else:
                self._kbd_send(RESEND)
        elif value in KBD_PARAM_COMMANDS:
            self.kbd_cmd = value
            self._kbd_send(ACK)
        elif value == 0xEE:
            self._kbd_send(0xEE)
        elif value == 0xF2:
            self._kbd_send(ACK, KBD_ID, 0x41 if self.mode & MODE_KCC else 0x83)
        elif value == 0xF4:
            self.kbd_scan_enabled = True
            self._kbd_send(ACK)
        elif value in (0xF5, 0xF6):
            self._keyboard_defaults()
            self.kbd_scan_enabled = value == 0xF6
            self._kbd_send(ACK)
        elif 0xF7 <= value <= 0xFD:
            self._kbd_send(ACK)
        elif value == 0xFF:
            self._keyboard_defaults()
            self.kbd_scan_enabled = True
            self.kbd_queue.clear()
            self._kbd_send(ACK, BAT_OK)
        else:
            self._kbd_send(RESEND)

    # --- the PS/2 mouse -----------------------------------------------------------
    def _mouse_defaults(self) -> None:
        self.mouse_status = 0
        self.mouse_resolution = 2
        self.mouse_sample_rate = 100

    def _mouse_command(self, value: int) -> None:
        pending, self.mouse_cmd = self.mouse_cmd, 0
        if pending == 0xE8:
            self.mouse_resolution = value
            self._aux_send(ACK)
        elif pending == 0xF3:
            self.mouse_sample_rate = value
            self._aux_send(ACK)
        elif value in MOUSE_PARAM_COMMANDS:
            self.mouse_cmd = value
            self._aux_send(ACK)
        elif value == 0xE6:
            self.mouse_status &= ~0x10
            self._aux_send(ACK)
        elif value == 0xE7:
            self.mouse_status |= 0x10
            self._aux_send(ACK)
        elif value == 0xE9:
            self._aux_send(ACK, self.mouse_status, self.mouse_resolution, self.mouse_sample_rate)
        elif value == 0xEA:
            self.mouse_status &= ~0x40
            self._aux_send(ACK)
        elif value == 0xEB:
            self._aux_send(ACK, 0x08, 0x00, 0x00)    # a packet: no movement, no buttons
        elif value == 0xF0:
            self.mouse_status |= 0x40
            self._aux_send(ACK)
        elif value == 0xF2:
            self._aux_send(ACK, 0x00)
        elif value == 0xF4:
            self.mouse_status |= 0x20
            self._aux_send(ACK)
        elif value in (0xF5, 0xF6):
            if value == 0xF6:
                self._mouse_defaults()
            else:
                self.mouse_status &= ~0x20
            self._aux_send(ACK)
        elif value == 0xFF:
            self._mouse_defaults()
            self.aux_queue.clear()
            self._aux_send(ACK, BAT_OK, 0x00)
        else:
            self._aux_send(RESEND)
