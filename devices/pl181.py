"""ARM PrimeCell PL181 MultiMedia Card Interface (QEMU type "pl181").

MMIO: one 0x1000-byte region: Power, Clock, Argument, Command, RespCmd,
Response0-3, DataTimer, DataLength, DataCtrl, DataCnt, Status, Clear, Mask0/1,
FifoCnt, the 16-word FIFO window at 0x80, PrimeCell IDs (0x00041181, 0xb105f00d).
IRQ outputs: irqs[0] = Status & Mask0 (MCIINTR0, vexpress SPI 9) and
irqs[1] = Status & Mask1 (MCIINTR1, the PIO interrupt Linux uses, SPI 10).
Extra outputs: ``card_inserted`` and ``card_readonly`` (levels, set at reset;
vexpress wires them to SYS_MCI bits 0 and 1 of the system registers).
Properties:
  drive  any - BlockBackend of the SD card; without one there is no card: every
               command that expects a response times out and card_inserted is low.
               The card is created at realize() as child "sd-card"
               (devices/sd.py; QEMU's size rule applies: BlockError otherwise).
Behaviour follows QEMU 7.2's model (checked register by register against it
through qtest): Clock keeps 8 bits, RespCmd stays 0, and DataEnd/DataBlockEnd
are set after every command while no transfer is pending.
Commands complete at once (CmdRespEnd, CmdSent or CmdTimeOut); the data
path moves bytes between the card and the FIFO whenever a register access leaves
room (reads) or data (writes), with DataCnt counting bytes not yet moved to or
from the card and FifoCnt = ceil(DataCnt / 4), as the Linux mmci driver expects.
DataEnd and DataBlockEnd are set when DataCnt reaches zero; the data path turns
itself off (DataCtrl.Enable clears) once the FIFO is also empty.  A read armed
before a command that the card answers without sending data (an out-of-range
address) ends at once with DataTimeOut, where the hardware's data timer would
(QEMU leaves it waiting for ever).  QEMU delays refilling the read FIFO until the
Status or FifoCnt register is read; here it refills at once, so those two
registers differ from QEMU's in the middle of a read (the data does not).
Not modelled: DMA requests, stream mode, CRC errors, the command timer, pending
and interrupt-mode commands (logged under unimp), clock and power timing.
"""
from __future__ import annotations

from typing import Optional

from pysystem import log
from pysystem.block import BlockBackend
from pysystem.irq import IRQ
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .sd import SDCard

CMD_INDEX = 0x3F
CMD_RESPONSE = 1 << 6
CMD_LONGRESP = 1 << 7
CMD_INTERRUPT = 1 << 8
CMD_PENDING = 1 << 9
CMD_ENABLE = 1 << 10

DATA_ENABLE = 1 << 0
DATA_DIRECTION = 1 << 1      # 1: from card to controller
DATA_MODE = 1 << 2
DATA_DMA = 1 << 3

CMDTIMEOUT = 1 << 2
DATATIMEOUT = 1 << 3
CMDRESPEND = 1 << 6
CMDSENT = 1 << 7
DATAEND = 1 << 8
DATABLOCKEND = 1 << 10
TXACTIVE = 1 << 12
RXACTIVE = 1 << 13
TXFIFOHALFEMPTY = 1 << 14
RXFIFOHALFFULL = 1 << 15
TXFIFOFULL = 1 << 16
RXFIFOFULL = 1 << 17
TXFIFOEMPTY = 1 << 18
RXFIFOEMPTY = 1 << 19
TXDATAAVLBL = 1 << 20
RXDATAAVLBL = 1 << 21
TX_BITS = TXACTIVE | TXFIFOHALFEMPTY | TXFIFOFULL | TXFIFOEMPTY | TXDATAAVLBL
RX_BITS = RXACTIVE | RXFIFOHALFFULL | RXFIFOFULL | RXFIFOEMPTY | RXDATAAVLBL
CLEARABLE = 0x7FF

FIFO_WORDS = 16
READ_COMMANDS = frozenset((6, 17, 18, 51))   # SWITCH_FUNC, READ_*_BLOCK, SEND_SCR
PERIPH_ID = (0x81, 0x11, 0x04, 0x00)
CELL_ID = (0x0D, 0xF0, 0x05, 0xB1)


@register
class PL181(SysBusDevice):
    TYPE = "pl181"
    DESC = "ARM PL181 MultiMedia Card Interface"
    PROPERTIES = (
        Property("drive", "any", None, "block backend of the SD card (none: no card)"),
    )
    REGS = RegisterBank(
        "pl181",
        Reg("Power", 0x00, mask=0xFF),
        Reg("Clock", 0x04, mask=0xFF),
        Reg("Argument", 0x08),
        Reg("Command", 0x0C, mask=0x7FF, on_write="_command_written"),
        Reg("RespCmd", 0x10, access="ro", doc="never set, as on QEMU 7.2"),
        Reg("Response", 0x14, count=4, access="ro"),
        Reg("DataTimer", 0x24),
        Reg("DataLength", 0x28, mask=0xFFFF),
        Reg("DataCtrl", 0x2C, mask=0xFF, on_write="_datactrl_written"),
        Reg("DataCnt", 0x30, access="ro"),
        Reg("Status", 0x34, access="ro"),
        Reg("Clear", 0x38, access="wo", write="_clear", stored=False),
        Reg("Mask0", 0x3C, mask=0x3FFFFF, on_write="_update_irq"),
        Reg("Mask1", 0x40, mask=0x3FFFFF, on_write="_update_irq"),
        Reg("FifoCnt", 0x48, access="ro", read="_read_fifocnt", stored=False),
        Reg("FIFO", 0x80, count=FIFO_WORDS, read="_read_fifo", write="_write_fifo",
            stored=False),
        Reg("PeriphID", 0xFE0, count=4, access="ro", read="_read_periph_id", stored=False),
        Reg("PCellID", 0xFF0, count=4, access="ro", read="_read_cell_id", stored=False),
    )
    STATE = REGS.fields() + (
        Field("fifo", f"u32[{FIFO_WORDS}]", 0, "FIFO contents (a ring)"),
        Field("fifo_pos", "u8", 0, "index of the oldest FIFO word"),
        Field("fifo_len", "u8", 0, "words in the FIFO"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.card: Optional[SDCard] = None
        self.card_inserted = IRQ("pl181.card-inserted")
        self.card_readonly = IRQ("pl181.card-read-only")

    def realize(self) -> None:
        if self.drive is not None:
            if not isinstance(self.drive, BlockBackend):
                raise QOMError("pl181: property 'drive' expects a block backend")
            card = SDCard(drive=self.drive)
            card.realize()
            self.card = card
            self.add_child("sd-card", card)
        self.init_mmio(self.REGS.region(self, "pl181", 0x1000))
        self.init_irq(2)
        super().realize()

    def reset(self) -> None:
        super().reset()
        if self.card is not None:
            self.card.reset()
        self.card_inserted.set(self.card is not None)
        self.card_readonly.set(self.card is not None and self.card.readonly)
        self._update_irq()

    def post_load(self) -> None:
        self._update_irq()

    def _update_irq(self) -> None:
        self.irqs[0].set(self.status & self.mask0)
        self.irqs[1].set(self.status & self.mask1)

    # --- commands -------------------------------------------------------------------
    def _command_written(self) -> None:
        cmd = self.command
        if not cmd & CMD_ENABLE:
            return
        if cmd & CMD_INTERRUPT:
            log.log("unimp", "pl181: interrupt-mode commands are not implemented")
        if cmd & CMD_PENDING:
            log.log("unimp", "pl181: pending commands are not implemented")
        else:
            self._send_command()
            self._run_data_path()
            self._check_read_started()
        self.command &= ~CMD_ENABLE
        self._update_irq()

    def _send_command(self) -> None:
        cmd = self.command
        index = cmd & CMD_INDEX
        resp = self.card.do_command(index, self.argument) if self.card is not None else b""
        if not cmd & CMD_RESPONSE:
            self.status |= CMDSENT
            return
        long = bool(cmd & CMD_LONGRESP)
        if not resp or (long and len(resp) != 16):
            self.status |= CMDTIMEOUT
            return
        words = [int.from_bytes(resp[i:i + 4], "big") for i in range(0, len(resp), 4)]
        if long:
            words[3] &= ~1
            self.response = words
        else:
            self.response = [words[0], 0, 0, 0]
        self.status |= CMDRESPEND

    def _check_read_started(self) -> None:
        """A read armed before a command the card answered without starting to send data
        (an address error, say) would wait for ever: report a data timeout instead, as
        the data timer would."""
        if self.command & CMD_INDEX not in READ_COMMANDS:
            return      # CMD23/CMD55 may precede the read command with the read armed
        if self.status & CMDRESPEND and self.datactrl & DATA_ENABLE and \
                self.datactrl & DATA_DIRECTION and self.datacnt and not self.fifo_len and \
                (self.card is None or not self.card.data_ready()):
            self.status = (self.status & ~RX_BITS) | DATATIMEOUT
            self.datactrl &= ~DATA_ENABLE
            self.datacnt = 0

    # --- the data path --------------------------------------------------------------
    def _datactrl_written(self) -> None:
        if self.datactrl & DATA_ENABLE:
            if self.datactrl & (DATA_DMA | DATA_MODE):
                log.log("unimp", "pl181: DMA and stream mode are not implemented")
            self.datacnt = self.datalength
            self.fifo_pos = self.fifo_len = 0
            self._run_data_path()
        self._update_irq()

    def _push(self, word: int) -> None:
        self.fifo[(self.fifo_pos + self.fifo_len) % FIFO_WORDS] = word
        self.fifo_len += 1

    def _pop(self) -> int:
        word = self.fifo[self.fifo_pos % FIFO_WORDS]
        self.fifo_pos = (self.fifo_pos + 1) % FIFO_WORDS
        self.fifo_len -= 1
        return word

    def _run_data_path(self) -> None:
        reading = bool(self.datactrl & DATA_DIRECTION)
        card = self.card
        if self.datacnt:
            if reading:
                room = min(self.datacnt, 4 * max(0, FIFO_WORDS - self.fifo_len))
                ready = room and card is not None and card.data_ready()
                data = card.read_data(room) if ready else b""
                self.datacnt -= len(data)
                for i in range(0, len(data), 4):
                    self._push(int.from_bytes(data[i:i + 4], "little"))
            else:   # written data leaves the FIFO even with no card to take it
                while self.datacnt and self.fifo_len:
                    take = min(4, self.datacnt)
                    word = self._pop()
                    if card is not None:
                        card.write_data(word.to_bytes(4, "little")[:take])
                    self.datacnt -= take
        self.status &= ~(TX_BITS | RX_BITS)
        if self.datacnt == 0:   # also after every command without data, as QEMU 7.2
            self.status |= DATAEND | DATABLOCKEND
            if self.fifo_len == 0:
                self.datactrl &= ~DATA_ENABLE
                return
        n = self.fifo_len
        bits = TXACTIVE | RXACTIVE
        bits |= (TXFIFOEMPTY | RXFIFOEMPTY) if n == 0 else (TXDATAAVLBL | RXDATAAVLBL)
        if n == FIFO_WORDS:
            bits |= TXFIFOFULL | RXFIFOFULL
        if n <= FIFO_WORDS // 2:
            bits |= TXFIFOHALFEMPTY
        if n >= FIFO_WORDS // 2:
            bits |= RXFIFOHALFFULL
        self.status |= bits & (RX_BITS if reading else TX_BITS)

    def _read_fifo(self, index: int) -> int:
        if self.fifo_len == 0:
            log.log("guest_errors", "pl181: read of an empty FIFO")
            return 0
        word = self._pop()
        self._run_data_path()
        self._update_irq()
        return word

    def _write_fifo(self, index: int, value: int) -> None:
        if not self.datactrl & DATA_ENABLE or self.datacnt == 0:
            log.log("guest_errors", "pl181: FIFO write with no transfer in progress")
            return
        if self.fifo_len >= FIFO_WORDS:
            log.log("guest_errors", "pl181: FIFO overflow")
            return
        self._push(value)
        self._run_data_path()
        self._update_irq()

    def _read_fifocnt(self) -> int:
        return (self.datacnt + 3) >> 2

    # --- the rest -------------------------------------------------------------------
    def _clear(self, value: int) -> None:
        self.status &= ~(value & CLEARABLE)
        self._update_irq()

    def _read_periph_id(self, index: int) -> int:
        return PERIPH_ID[index]

    def _read_cell_id(self, index: int) -> int:
        return CELL_ID[index]
