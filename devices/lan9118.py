"""SMSC LAN9118 10/100 Ethernet controller (MAC, internal PHY, EEPROM, FIFOs), as QEMU's.

Interface:
  * MMIO region 0: "lan9118-mmio", 0x100 bytes: the RX/TX data FIFO ports, the
    status FIFO ports and the system CSRs; the MAC CSRs and the PHY registers are
    reached indirectly (MAC_CSR_CMD/DATA, MII_ACC/DATA), as on the chip.
  * IRQ output 0: IRQ, with IRQ_CFG's polarity and buffer type: until the driver
    selects active-high push-pull the line idles HIGH (QEMU does the same).
  * Properties: ``mac`` (the MAC address, default 52:54:00:12:34:56, also put in
    the EEPROM so the chip loads it at reset), ``mode_16bit`` (uint32: 16-bit
    bus, two halfword accesses make one register access), ``netdev`` (any: an
    object with ``send(frame: bytes)``; without one transmitted frames are
    dropped; the link follows the backend's ``link_up``: ``set_link_status``).
  * Attribute ``clock``: the board's ``VirtualClock`` (the general purpose timer
    at 10 kHz and the 25 MHz free-running counter).
  * ``receive(frame) -> bool``: a frame from the network (False: not taken);
    ``can_receive()``: room for a full-size frame now.  The backend's queue is
    offered again each time the driver has read a whole packet out of the RX FIFO.

Behaviour (QEMU 7.2's hw/net/lan9118.c): ID_REV 0x01180001, BYTE_TEST 0x87654321;
reset (power-on and HW_CFG.SRST) loads the MAC address from the EEPROM (E2P_CMD
bit 8 tells it did), PMT_CTRL.READY is set, MAC_CR starts promiscuous.  TX: the
driver writes command A, command B and the data words of each buffer to the TX
data port (offset and end alignment as command A asks); the last segment sends
the frame (or loops it back with PHY loopback), queues a TX status (the packet
tag) and raises TX_IOC if asked.  RX: accepted frames (address filter: perfect,
hash, broadcast, promiscuous, pass-all; frames shorter than 60 bytes padded as
QEMU's network layer does) go to the RX data FIFO with their CRC and
a status word to the RX status FIFO; RSFL and TSFL are raised above FIFO_INT's
levels.  The
PHY: basic control/status (link and autonegotiation complete at once), IDs
0x0007/0xc0d1, advertisement, partner ability 0x0f71, expansion, interrupt
source (read clears) and mask.  EEPROM: read, write enable/disable, write, write
all, erase, erase all, reload (a write ANDs, as the real part only clears bits).

Not modelled: flow control, VLAN, wake-up frames, power management states,
FIFO level interrupts other than RSFL, the RX drop counter, GPIO.
``set_link`` (``set_link_status(up)``): the PHY's basic status loses or regains link
and autonegotiation-complete (bits 2 and 5), and the PHY interrupt source gets
LINK_DOWN (0x10) or ENERGYON and AUTONEG_COMPLETE, raising PHY_INT if unmasked.
"""
from __future__ import annotations

import zlib
from typing import Optional

from pysystem import log
from pysystem.clock import NS_PER_SEC, Timer, VirtualClock
from pysystem.memory import IORegion
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

# IRQ_CFG
IRQ_INT, IRQ_EN, IRQ_POL, IRQ_TYPE = 0x1000, 0x100, 0x10, 0x1
# INT_STS / INT_EN
SW_INT, RXSTOP_INT, TX_IOC_INT, GPT_INT, PHY_INT = 1 << 31, 1 << 24, 1 << 21, 1 << 19, 1 << 18
RXE_INT, TDFO_INT, TSFF_INT, TSFL_INT, RSFL_INT = 1 << 14, 1 << 10, 1 << 8, 1 << 7, 1 << 3
RESERVED_INT = 0x7C001000
# MAC CSRs (index) and MAC_CR bits
MAC_CR, MAC_ADDRH, MAC_ADDRL, MAC_HASHH, MAC_HASHL = 1, 2, 3, 4, 5
MAC_MII_ACC, MAC_MII_DATA, MAC_FLOW, MAC_VLAN1 = 6, 7, 8, 9
CR_RXALL, CR_MCPAS, CR_PRMS, CR_INVFILT, CR_HO = 1 << 31, 1 << 19, 1 << 18, 1 << 17, 1 << 15
CR_HPFILT, CR_BCAST, CR_RXEN, CR_RESERVED = 1 << 13, 1 << 11, 1 << 2, 0x7F404213
# PHY interrupt sources
PHY_INT_ENERGYON, PHY_INT_AUTONEG_COMPLETE, PHY_INT_LINK_DOWN = 0x80, 0x40, 0x10
GPT_TIMER_EN = 1 << 29
E2P_MAC_LOADED = 0x100

TX_IDLE, TX_B, TX_DATA = 0, 1, 2
TX_FIFO_SIZE, TX_STATUS_SIZE = 4608, 512
RX_FIFO_SIZE, RX_STATUS_SIZE, RX_SIZES = 2640, 176, 1024   # words, entries, packets
RX_FIFO_WORDS, RX_STATUS_WORDS = 3360, 896                    # QEMU's array sizes
GPT_HZ, FREE_RUN_NS = 10_000, 40
ETH_ZLEN = 60


def _parse_mac(text: str) -> bytes:
    parts = str(text).split(":")
    try:
        mac = bytes(int(p, 16) for p in parts)
    except ValueError:
        mac = b""
    if len(mac) != 6 or any(len(p) != 2 for p in parts):
        raise QOMError(f"Property 'lan9118.mac' doesn't take value '{text}'")
    return mac


@register
class LAN9118(SysBusDevice):
    TYPE = "lan9118"
    DESC = "SMSC LAN9118 Ethernet controller"

    PROPERTIES = (
        Property("mac", "str", "52:54:00:12:34:56", "MAC address"),
        Property("mode_16bit", "uint32", 0, "16-bit bus (halfword pairs make a register access)"),
        Property("netdev", "any", None, "network backend with send(frame); none drops frames"),
    )

    REGS = RegisterBank(
        "lan9118",
        Reg("RX_DATA", 0x00, count=8, read="_read_rx_data", write="_write_bad_port",
            stored=False, doc="RX data FIFO port"),
        Reg("TX_DATA", 0x20, count=8, read="_read_bad_port", write="_write_tx_data",
            stored=False, doc="TX data FIFO port"),
        Reg("RX_STATUS", 0x40, access="ro", read="_read_rx_status", stored=False,
            doc="RX status FIFO port (pops)"),
        Reg("RX_STATUS_PEEK", 0x44, access="ro", read="_peek_rx_status", stored=False,
            doc="RX status FIFO peek"),
        Reg("TX_STATUS", 0x48, access="ro", read="_read_tx_status", stored=False,
            doc="TX status FIFO port (pops)"),
        Reg("TX_STATUS_PEEK", 0x4C, access="ro", read="_peek_tx_status", stored=False,
            doc="TX status FIFO peek"),
        Reg("ID_REV", 0x50, reset=0x01180001, access="ro", stored=False,
            read="_read_id_rev", doc="chip ID and revision"),
        Reg("IRQ_CFG", 0x54, write="_write_irq_cfg", doc="interrupt configuration"),
        Reg("INT_STS", 0x58, write="_write_int_sts", doc="interrupt status (write 1 to clear)"),
        Reg("INT_EN", 0x5C, write="_write_int_en", doc="interrupt enables"),
        Reg("BYTE_TEST", 0x64, access="ro", read="_read_byte_test", stored=False,
            doc="reads 0x87654321"),
        Reg("FIFO_INT", 0x68, reset=0x48000000, on_write="_update_irq", doc="FIFO levels"),
        Reg("RX_CFG", 0x6C, write="_write_rx_cfg", doc="receive configuration"),
        Reg("TX_CFG", 0x70, write="_write_tx_cfg", doc="transmit configuration"),
        Reg("HW_CFG", 0x74, reset=0x00050004, write="_write_hw_cfg", doc="hardware configuration"),
        Reg("RX_DP_CTRL", 0x78, read="_read_zero", write="_write_rx_dp_ctrl", stored=False,
            doc="RX datapath control (fast-forward)"),
        Reg("RX_FIFO_INF", 0x7C, access="ro", read="_read_rx_fifo_inf", stored=False,
            doc="RX FIFO information"),
        Reg("TX_FIFO_INF", 0x80, access="ro", read="_read_tx_fifo_inf", stored=False,
            doc="TX FIFO information"),
        Reg("PMT_CTRL", 0x84, reset=0x1, write="_write_pmt_ctrl", doc="power management"),
        Reg("GPIO_CFG", 0x88, mask=0x7777071F, on_write="_update_irq", doc="GPIO/LED configuration"),
        Reg("GPT_CFG", 0x8C, reset=0xFFFF, write="_write_gpt_cfg", doc="general purpose timer"),
        Reg("GPT_CNT", 0x90, access="ro", read="_read_gpt_cnt", stored=False,
            doc="general purpose timer count"),
        Reg("WORD_SWAP", 0x98, on_write="_update_irq", doc="word swap (not applied)"),
        Reg("FREE_RUN", 0x9C, access="ro", read="_read_free_run", stored=False,
            doc="free-running 25 MHz counter"),
        Reg("RX_DROP", 0xA0, access="ro", read="_read_zero", stored=False,
            doc="dropped frames (always 0)"),
        Reg("MAC_CSR_CMD", 0xA4, write="_write_mac_cmd", doc="MAC CSR command"),
        Reg("MAC_CSR_DATA", 0xA8, on_write="_update_irq", doc="MAC CSR data"),
        Reg("AFC_CFG", 0xAC, mask=0x00FFFFFF, on_write="_update_irq", doc="flow control"),
        Reg("E2P_CMD", 0xB0, reset=E2P_MAC_LOADED, write="_write_e2p_cmd", doc="EEPROM command"),
        Reg("E2P_DATA", 0xB4, mask=0xFF, on_write="_update_irq", doc="EEPROM data"),
    )
    STATE = tuple(f for f in REGS.fields() if f.name != "id_rev") + (
        Field("free_timer_start", "u64", 0, "FREE_RUN origin (25 MHz ticks)"),
        Field("gpt_count", "u16", 0xFFFF, "GPT count when it last stopped or was loaded"),
        Field("gpt_start_ns", "u64", 0, "virtual time the running GPT was loaded"),
        Field("gpt_timer", "timer", None, "the GPT's next wrap"),
        Field("macaddr", "u8[6]", 0, "the station address in use"),
        Field("mac_cr", "u32", CR_PRMS, "MAC control"),
        Field("mac_hashh", "u32", 0, "multicast hash high"),
        Field("mac_hashl", "u32", 0, "multicast hash low"),
        Field("mac_mii_acc", "u32", 0, "MII access"),
        Field("mac_mii_data", "u32", 0, "MII data"),
        Field("mac_flow", "u32", 0, "flow control"),
        Field("phy_status", "u16", 0x782D, "PHY basic status"),
        Field("phy_control", "u16", 0x3000, "PHY basic control"),
        Field("phy_advertise", "u16", 0x01E1, "PHY autonegotiation advertisement"),
        Field("phy_int", "u8", PHY_INT_ENERGYON | PHY_INT_AUTONEG_COMPLETE,
              "PHY interrupt sources"),
        Field("phy_int_mask", "u8", 0, "PHY interrupt mask"),
        Field("eeprom", "u8[128]", 0, "EEPROM contents (MAC address at 1-6 after 0xa5)"),
        Field("eeprom_writable", "bool", False, "EEPROM write enabled"),
        Field("tx_state", "u8", TX_IDLE, "TX command parser state"),
        Field("tx_cmd_a", "u32", 0xFFFFFFFF, "TX command A"),
        Field("tx_cmd_b", "u32", 0xFFFFFFFF, "TX command B"),
        Field("tx_buffer_size", "i32", 0, "bytes left in the TX buffer"),
        Field("tx_offset", "i32", 0, "TX data start offset"),
        Field("tx_pad", "i32", 0, "TX end padding words"),
        Field("tx_fifo_used", "i32", 0, "TX FIFO words in use"),
        Field("tx_frame", "bytes", b"", "the frame being assembled"),
        Field("tx_status_fifo", f"u32[{TX_STATUS_SIZE}]", 0, "TX status FIFO"),
        Field("tx_status_head", "u16", 0, "TX status FIFO head"),
        Field("tx_status_used", "u16", 0, "TX status FIFO entries"),
        Field("rx_status_fifo", f"u32[{RX_STATUS_WORDS}]", 0, "RX status FIFO"),
        Field("rx_status_head", "u16", 0, "RX status FIFO head"),
        Field("rx_status_used", "u16", 0, "RX status FIFO entries"),
        Field("rx_fifo", f"u32[{RX_FIFO_WORDS}]", 0, "RX data FIFO"),
        Field("rx_fifo_head", "u16", 0, "RX data FIFO head"),
        Field("rx_fifo_used", "u16", 0, "RX data FIFO words"),
        Field("rx_sizes", f"u16[{RX_SIZES}]", 0, "RX data FIFO words per packet"),
        Field("rx_sizes_head", "u16", 0, "oldest packet size"),
        Field("rx_sizes_tail", "u16", 0, "next packet size slot"),
        Field("rxp_offset", "i32", 0, "RX packet: offset words still to read"),
        Field("rxp_size", "i32", 0, "RX packet: data words still to read"),
        Field("rxp_pad", "i32", 0, "RX packet: pad words still to read"),
        Field("word_prev", "u8", 0, "16-bit mode: register of the pending halfwords"),
        Field("word_n", "u8", 0, "16-bit mode: halfwords written so far"),
        Field("word_l", "u16", 0, "16-bit mode: low halfword written"),
        Field("word_h", "u16", 0, "16-bit mode: high halfword written"),
        Field("read_prev", "u8", 0, "16-bit mode: register of the pending read"),
        Field("read_n", "u8", 0, "16-bit mode: halfwords read so far"),
        Field("read_long", "u32", 0, "16-bit mode: the word being read in halves"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.gpt_timer: Optional[Timer] = None
        self._mac = b""

    @classmethod
    def example(cls) -> "LAN9118":
        dev = cls()
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        if self.clock is None:
            raise QOMError(f"{self.TYPE}: no clock (the board sets dev.clock before realize)")
        self._mac = _parse_mac(self.mac)
        self.gpt_timer = Timer(self.clock, self._gpt_expired, "lan9118.gpt")
        if self.mode_16bit:
            region = IORegion(self, "lan9118-mmio", 0x100, read=self._read16, write=self._write16,
                              min_access=1, max_access=4)
        else:
            region = self.REGS.region(self, "lan9118-mmio", 0x100, impl_min=4)
        self.init_mmio(region)
        self.init_irq(1)
        super().realize()
        if self.netdev is not None and hasattr(self.netdev, "attach"):
            self.netdev.attach(self)

    # --- reset ------------------------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        self.eeprom[0] = 0xA5
        self.eeprom[1:7] = list(self._mac)
        self._soft_reset()

    def _soft_reset(self) -> None:
        self.irq_cfg &= IRQ_TYPE | IRQ_POL
        self.int_sts = self.int_en = 0
        self.fifo_int = 0x48000000
        self.rx_cfg = self.tx_cfg = 0
        self.hw_cfg = 0x00050000 if self.mode_16bit else 0x00050004
        self.pmt_ctrl &= 0x45               # READY (bit 0) survives
        self.gpio_cfg = 0
        self.tx_state, self.tx_cmd_a, self.tx_cmd_b = TX_IDLE, 0xFFFFFFFF, 0xFFFFFFFF
        self.tx_fifo_used = 0
        self.tx_frame = bytearray()
        self.tx_status_used = 0
        self.rx_fifo_used = self.rx_status_used = 0
        self.rxp_offset = self.rxp_size = self.rxp_pad = 0
        self.rx_sizes_tail = self.rx_sizes_head
        self.rx_sizes[self.rx_sizes_head] = 0
        self.mac_csr_cmd = self.mac_csr_data = self.afc_cfg = 0
        self.e2p_cmd = self.e2p_data = 0
        self.free_timer_start = self.clock.now() // FREE_RUN_NS
        self.gpt_timer.cancel()
        self.gpt_count = 0xFFFF
        self.gpt_cfg = 0xFFFF
        self.mac_cr = CR_PRMS
        self.mac_hashh = self.mac_hashl = self.mac_mii_acc = self.mac_mii_data = 0
        self.mac_flow = 0
        self.read_n = self.word_n = 0
        self._phy_reset()
        self.eeprom_writable = False
        self._reload_eeprom()

    def post_load(self) -> None:
        self._update_irq()

    # --- interrupts -------------------------------------------------------------------
    def _update_irq(self, index: int = 0) -> None:
        level = bool(self.int_sts & self.int_en)
        self.irq_cfg = (self.irq_cfg | IRQ_INT) if level else (self.irq_cfg & ~IRQ_INT)
        if not self.irq_cfg & IRQ_EN:
            level = False
        if self.irq_cfg & (IRQ_TYPE | IRQ_POL) != IRQ_TYPE | IRQ_POL:
            level = not level              # active low unless active-high push-pull
        self.irqs[0].set(level)

    # --- system CSRs --------------------------------------------------------------------
    def _read_id_rev(self) -> int:
        return 0x01180001

    def _read_byte_test(self) -> int:
        return 0x87654321

    def _read_zero(self) -> int:
        return 0

    def _write_irq_cfg(self, value: int) -> None:
        self.irq_cfg = (self.irq_cfg & IRQ_INT) | (value & (IRQ_EN | IRQ_POL | IRQ_TYPE))
        self._update_irq()

    def _write_int_sts(self, value: int) -> None:
        self.int_sts &= ~value
        self._update_irq()

    def _write_int_en(self, value: int) -> None:
        self.int_en = value & ~RESERVED_INT
        self.int_sts |= value & SW_INT
        self._update_irq()

    def _write_rx_cfg(self, value: int) -> None:
        if value & 0x8000:                 # RX_DUMP
            self.rx_fifo_used = self.rx_status_used = 0
            self.rx_sizes_tail = self.rx_sizes_head
            self.rx_sizes[self.rx_sizes_head] = 0
        self.rx_cfg = value & 0xCFFF1FF0
        self._update_irq()

    def _write_tx_cfg(self, value: int) -> None:
        if value & 0x8000:                 # TXS_DUMP
            self.tx_status_used = 0
        if value & 0x4000:                 # TXD_DUMP
            self.tx_state, self.tx_fifo_used, self.tx_cmd_a = TX_IDLE, 0, 0xFFFFFFFF
        self.tx_cfg = value & 6
        self._update_irq()

    def _write_hw_cfg(self, value: int) -> None:
        if value & 1:                      # SRST
            self._soft_reset()
        else:
            self.hw_cfg = (value & 0x003F300) | (self.hw_cfg & 0x4)
        self._update_irq()

    def _write_rx_dp_ctrl(self, value: int) -> None:
        if value & 0x80000000:             # RX_FFWD: skip the rest of this packet
            self.rxp_pad = self.rxp_offset = 0
            if self.rxp_size == 0:
                self._rx_pop()             # starts the next packet
                self.rxp_pad = self.rxp_offset = 0
            # QEMU 7.2 moves the head but leaves the count and the packet size
            # (later reads then run past the packet); here the packet is dropped
            self.rx_fifo_head = (self.rx_fifo_head + self.rxp_size) % RX_FIFO_SIZE
            self.rx_fifo_used = max(0, self.rx_fifo_used - self.rxp_size)
            self.rxp_size = 0
        self._update_irq()

    def _read_rx_fifo_inf(self) -> int:
        return (self.rx_status_used << 16) | (self.rx_fifo_used << 2)

    def _read_tx_fifo_inf(self) -> int:
        return (self.tx_status_used << 16) | (TX_FIFO_SIZE - self.tx_fifo_used)

    def _write_pmt_ctrl(self, value: int) -> None:
        if value & 0x400:                  # PHY_RST
            self._phy_reset()
        self.pmt_ctrl = (self.pmt_ctrl & ~0x34E) | (value & 0x34E)
        self._update_irq()

    def _read_free_run(self) -> int:
        return (self.clock.now() // FREE_RUN_NS - self.free_timer_start) & 0xFFFFFFFF

    # --- general purpose timer (10 kHz, counts down from GPT_LOAD, reloads) -----------
    def _gpt_period_ns(self) -> int:
        return (self.gpt_count + 1) * NS_PER_SEC // GPT_HZ

    def _write_gpt_cfg(self, value: int) -> None:
        if (self.gpt_cfg ^ value) & GPT_TIMER_EN:
            if value & GPT_TIMER_EN:
                self.gpt_count = value & 0xFFFF
                self.gpt_start_ns = self.clock.now()
                self.gpt_timer.mod(self.gpt_start_ns + self._gpt_period_ns())
            else:
                self.gpt_timer.cancel()
                self.gpt_count = 0xFFFF
        self.gpt_cfg = value & (GPT_TIMER_EN | 0xFFFF)
        self._update_irq()

    def _read_gpt_cnt(self) -> int:
        if not self.gpt_timer.pending:
            return self.gpt_count
        ticks = (self.clock.now() - self.gpt_start_ns) * GPT_HZ // NS_PER_SEC
        return (self.gpt_count - ticks) % (self.gpt_count + 1)

    def _gpt_expired(self) -> None:
        # ptimer reloads with the 0xffff limit after the first wrap
        self.gpt_start_ns += self._gpt_period_ns()
        self.gpt_count = 0xFFFF
        self.gpt_timer.mod(self.gpt_start_ns + self._gpt_period_ns())
        if self.int_en & GPT_INT:
            self.int_sts |= GPT_INT
        self._update_irq()

    # --- MAC CSRs ------------------------------------------------------------------------
    def _write_mac_cmd(self, value: int) -> None:
        self.mac_csr_cmd = value & 0x4000000F
        if value & 0x80000000:
            if value & 0x40000000:
                self.mac_csr_data = self._mac_read(value & 0xF)
            else:
                self._mac_write(value & 0xF, self.mac_csr_data)
        self._update_irq()

    def _mac_read(self, reg: int) -> int:
        m = self.macaddr
        if reg == MAC_CR:
            return self.mac_cr
        if reg == MAC_ADDRH:
            return m[4] | m[5] << 8
        if reg == MAC_ADDRL:
            return m[0] | m[1] << 8 | m[2] << 16 | m[3] << 24
        if reg == MAC_HASHH:
            return self.mac_hashh
        if reg == MAC_HASHL:
            return self.mac_hashl
        if reg == MAC_MII_ACC:
            return self.mac_mii_acc
        if reg == MAC_MII_DATA:
            return self.mac_mii_data
        if reg == MAC_FLOW:
            return self.mac_flow
        self._bad(f"MAC register read {reg}")
        return 0

    def _mac_write(self, reg: int, value: int) -> None:
        if reg == MAC_CR:
            if self.mac_cr & CR_RXEN and not value & CR_RXEN:
                self.int_sts |= RXSTOP_INT
            self.mac_cr = value & ~CR_RESERVED & 0xFFFFFFFF
        elif reg == MAC_ADDRH:
            self.macaddr[4], self.macaddr[5] = value & 0xFF, (value >> 8) & 0xFF
        elif reg == MAC_ADDRL:
            self.macaddr[0:4] = [(value >> s) & 0xFF for s in (0, 8, 16, 24)]
        elif reg == MAC_HASHH:
            self.mac_hashh = value
        elif reg == MAC_HASHL:
            self.mac_hashl = value
        elif reg == MAC_MII_ACC:
            self.mac_mii_acc = value & 0xFFC2
            phy_reg = (value >> 6) & 0x1F
            if value & 2:
                self._phy_write(phy_reg, self.mac_mii_data)
            else:
                self.mac_mii_data = self._phy_read(phy_reg)
        elif reg == MAC_MII_DATA:
            self.mac_mii_data = value & 0xFFFF
        elif reg == MAC_FLOW:
            self.mac_flow = value & 0xFFFF0000
        elif reg != MAC_VLAN1:             # VLAN1 only affects FrameTooLong: ignored
            self._bad(f"MAC register write {reg} = 0x{value:x}")

    # --- PHY ----------------------------------------------------------------------------
    def _phy_reset(self) -> None:
        self.phy_status, self.phy_control, self.phy_advertise = 0x7809, 0x3000, 0x01E1
        self.phy_int_mask = self.phy_int = 0
        self._phy_update_link()

    def _phy_update_link(self) -> None:
        if self.netdev is None or getattr(self.netdev, "link_up", True):
            self.phy_status |= 0x0024      # link up, autonegotiation complete
            self.phy_int |= PHY_INT_ENERGYON | PHY_INT_AUTONEG_COMPLETE
        else:                              # autonegotiation status mirrors the link
            self.phy_status &= ~0x0024
            self.phy_int |= PHY_INT_LINK_DOWN
        self._phy_update_irq()

    def set_link_status(self, up: bool) -> None:
        """``set_link``: the backend's ``link_up`` changed; the PHY shows it."""
        self._phy_update_link()

    def _phy_update_irq(self) -> None:
        if self.phy_int & self.phy_int_mask:
            self.int_sts |= PHY_INT
        else:
            self.int_sts &= ~PHY_INT
        self._update_irq()

    def _phy_read(self, reg: int) -> int:
        if reg == 0:
            return self.phy_control
        if reg == 1:
            return self.phy_status
        if reg == 2:
            return 0x0007
        if reg == 3:
            return 0xC0D1
        if reg == 4:
            return self.phy_advertise
        if reg == 5:
            return 0x0F71
        if reg == 6:
            return 1
        if reg == 29:                      # interrupt source: read clears
            value = self.phy_int
            self.phy_int = 0
            self._phy_update_irq()
            return value
        if reg == 30:
            return self.phy_int_mask
        self._bad(f"PHY read reg {reg}")
        return 0

    def _phy_write(self, reg: int, value: int) -> None:
        if reg == 0:
            if value & 0x8000:
                self._phy_reset()
                return
            self.phy_control = value & 0x7980
            if value & 0x1000:             # autonegotiation completes at once
                self.phy_status |= 0x0020
        elif reg == 4:
            self.phy_advertise = (value & 0x2D7F) | 0x80
        elif reg == 30:
            self.phy_int_mask = value & 0xFF
            self._phy_update_irq()
        else:
            self._bad(f"PHY write reg {reg} = 0x{value:04x}")

    # --- EEPROM -------------------------------------------------------------------------
    def _reload_eeprom(self) -> None:
        if self.eeprom[0] != 0xA5:
            self.e2p_cmd &= ~E2P_MAC_LOADED
            return
        self.macaddr = list(self.eeprom[1:7])
        self.e2p_cmd |= E2P_MAC_LOADED

    def _write_e2p_cmd(self, value: int) -> None:
        cmd, addr = (value >> 28) & 7, value & 0x7F
        self.e2p_cmd = (self.e2p_cmd & E2P_MAC_LOADED) | (cmd << 28) | addr
        if cmd == 0:                       # READ
            self.e2p_data = self.eeprom[addr]
        elif cmd in (1, 2):                # EWDS / EWEN
            self.eeprom_writable = cmd == 2
        elif self.eeprom_writable and cmd == 3:      # WRITE: only clears bits
            self.eeprom[addr] &= self.e2p_data
        elif self.eeprom_writable and cmd == 4:      # WRAL
            self.eeprom = [b & self.e2p_data for b in self.eeprom]
        elif self.eeprom_writable and cmd == 5:      # ERASE
            self.eeprom[addr] = 0xFF
        elif self.eeprom_writable and cmd == 6:      # ERAL
            self.eeprom = [0xFF] * 128
        elif cmd == 7:                     # RELOAD
            self._reload_eeprom()
        self._update_irq()

    # --- TX -----------------------------------------------------------------------------
    def _write_tx_data(self, index: int, value: int) -> None:
        self._tx_push(value)
        self._update_irq()

    def _tx_push(self, value: int) -> None:
        if self.tx_fifo_used == TX_FIFO_SIZE:
            self.int_sts |= TDFO_INT
            return
        state = self.tx_state
        if state == TX_IDLE:
            self.tx_cmd_a = value & 0x831F37FF
            self.tx_fifo_used += 1
            self.tx_state = TX_B
            self.tx_buffer_size = self.tx_cmd_a & 0x7FF
            self.tx_offset = (self.tx_cmd_a >> 16) & 0x1F
        elif state == TX_B:
            if self.tx_cmd_a & 0x2000:     # first segment
                self.tx_cmd_b = value
                self.tx_fifo_used += 1
                # QEMU 7.2 takes the end alignment from the word count instead of
                # command A, so it is always none: no padding words are expected
                self.tx_pad = 0
                self.tx_frame = bytearray()
            self.tx_state = TX_DATA
        else:
            if self.tx_offset >= 4:
                self.tx_offset -= 4
                return
            if self.tx_buffer_size <= 0 and self.tx_pad != 0:
                self.tx_pad -= 1
            else:
                n = min(4, self.tx_buffer_size + self.tx_offset)
                while self.tx_offset:
                    value >>= 8
                    n -= 1
                    self.tx_offset -= 1
                room = 2048 - len(self.tx_frame)
                take = max(0, min(n, room))
                self.tx_frame += (value & 0xFFFFFFFF).to_bytes(4, "little")[:take]
                self.tx_buffer_size -= max(0, n)
                self.tx_fifo_used += 1
            if self.tx_buffer_size <= 0 and self.tx_pad == 0:
                if self.tx_cmd_a & 0x1000:  # last segment
                    self._send_frame()
                if self.tx_cmd_a & 0x80000000:
                    self.int_sts |= TX_IOC_INT
                self.tx_state = TX_IDLE

    def _send_frame(self) -> None:
        frame = bytes(self.tx_frame)
        if self.phy_control & 0x4000:      # PHY loopback
            self.receive(frame)
        elif self.netdev is not None:
            self.netdev.send(frame)
        self.tx_fifo_used = 0
        if self.tx_status_used == TX_STATUS_SIZE:
            return
        slot = (self.tx_status_head + self.tx_status_used) % TX_STATUS_SIZE
        self.tx_status_fifo[slot] = self.tx_cmd_b & 0xFFFF0000
        self.tx_status_used += 1
        if self.tx_status_used > (self.fifo_int >> 16) & 0xFF:
            self.int_sts |= TSFL_INT
        if self.tx_status_used == TX_STATUS_SIZE:
            self.int_sts |= TSFF_INT

    def _read_tx_status(self) -> int:
        value = self.tx_status_fifo[self.tx_status_head]
        if self.tx_status_used:
            self.tx_status_used -= 1
            self.tx_status_head = (self.tx_status_head + 1) % TX_STATUS_SIZE
        return value

    def _peek_tx_status(self) -> int:
        return self.tx_status_fifo[self.tx_status_head]

    # --- RX -----------------------------------------------------------------------------
    def _accept(self, dest: bytes) -> bool:
        cr = self.mac_cr
        if cr & CR_PRMS:
            return True
        if dest == b"\xff" * 6:
            return not cr & CR_BCAST
        multicast = dest[0] & 1
        if multicast and cr & CR_MCPAS:
            return True
        if (not cr & CR_HPFILT) if multicast else (not cr & CR_HO):
            match = dest == bytes(self.macaddr)
            return not match if cr & CR_INVFILT else match
        index = _mcast_index(dest)
        word = self.mac_hashh if index & 0x20 else self.mac_hashl
        return bool((word >> (index & 0x1F)) & 1)

    def can_receive(self) -> bool:
        """Room for a full-size frame: reception enabled, a status slot and FIFO space."""
        return (bool(self.mac_cr & CR_RXEN) and self.rx_status_used < RX_STATUS_SIZE
                and RX_FIFO_SIZE - self.rx_fifo_used >= (2048 + 8) // 4)

    def receive(self, frame: bytes) -> bool:
        """A frame from the network; False when the chip cannot take it."""
        frame = bytes(frame)
        if 14 <= len(frame) < ETH_ZLEN:    # short frames arrive padded (QEMU's net layer)
            frame += bytes(ETH_ZLEN - len(frame))
        size = len(frame)
        if not self.mac_cr & CR_RXEN or not 14 <= size < 2048:
            return False
        if self.rx_status_used == RX_STATUS_SIZE:
            return False
        accepted = self._accept(frame[:6])
        if not accepted and not self.mac_cr & CR_RXALL:
            return True                    # filtered out: consumed
        offset = (self.rx_cfg >> 8) & 0x1F
        lead = offset & 3
        words = ((size + lead + 3) >> 2) + 1  # and a word for the CRC
        if RX_FIFO_SIZE - self.rx_fifo_used < words:
            return False
        crc = zlib.crc32(frame, 0xFFFFFFFF) & 0xFFFFFFFF   # as QEMU: crc32(~0, ...), swapped
        data = bytes(lead) + frame + crc.to_bytes(4, "big")
        data += bytes(-len(data) % 4)
        for i in range(0, len(data), 4):
            pos = (self.rx_fifo_head + self.rx_fifo_used) % RX_FIFO_SIZE
            self.rx_fifo[pos] = int.from_bytes(data[i:i + 4], "little")
            self.rx_fifo_used += 1
        slot = (self.rx_status_head + self.rx_status_used) % RX_STATUS_SIZE
        self.rx_sizes[self.rx_sizes_tail] = words
        self.rx_sizes_tail = (self.rx_sizes_tail + RX_SIZES - 1) % RX_SIZES
        self.rx_status_used += 1
        status = (size + 4) << 16
        if frame[:6] == b"\xff" * 6:
            status |= 0x2000
        elif frame[0] & 1:
            status |= 0x400
        if not accepted:
            status |= 0x40000000
        self.rx_status_fifo[slot] = status
        if self.rx_status_used > (self.fifo_int & 0xFF):
            self.int_sts |= RSFL_INT
        self._update_irq()
        return True

    def _rx_pop(self) -> int:
        if self.rxp_size == 0 and self.rxp_pad == 0:
            self.rxp_size = self.rx_sizes[self.rx_sizes_head]
            self.rx_sizes[self.rx_sizes_head] = 0
            if self.rxp_size:
                self.rx_sizes_head = (self.rx_sizes_head + RX_SIZES - 1) % RX_SIZES
                self.rxp_offset = (self.rx_cfg >> 10) & 7
                n = self.rxp_offset + self.rxp_size
                align = self.rx_cfg >> 30
                self.rxp_pad = (-n) & 3 if align == 1 else ((-n) & 7 if align == 2 else 0)
        if self.rxp_offset > 0:
            self.rxp_offset -= 1
            value = 0
        elif self.rxp_size > 0:
            self.rxp_size -= 1
            value = self.rx_fifo[self.rx_fifo_head]
            self.rx_fifo_head = (self.rx_fifo_head + 1) % RX_FIFO_SIZE
            self.rx_fifo_used = max(0, self.rx_fifo_used - 1)
        elif self.rxp_pad > 0:
            self.rxp_pad -= 1
            value = 0
        else:
            self.int_sts |= RXE_INT        # underflow
            value = 0
        if self.rxp_size == 0 and self.rxp_pad == 0 and self.netdev is not None \
                and hasattr(self.netdev, "flush"):
            self.netdev.flush()            # a packet fully read: room for waiting frames
        self._update_irq()
        return value

    def _read_rx_data(self, index: int) -> int:
        return self._rx_pop()

    def _read_rx_status(self) -> int:
        value = self.rx_status_fifo[self.rx_status_head]
        if self.rx_status_used:
            self.rx_status_used -= 1
            self.rx_status_head = (self.rx_status_head + 1) % RX_STATUS_SIZE
        return value

    def _peek_rx_status(self) -> int:
        # QEMU 7.2 indexes the RX status FIFO with the TX status head here
        return self.rx_status_fifo[self.tx_status_head % RX_STATUS_WORDS]

    # --- odd accesses -------------------------------------------------------------------
    def _read_bad_port(self, index: int) -> int:
        self._bad("read of the TX data FIFO")
        return 0

    def _write_bad_port(self, index: int, value: int) -> None:
        self._bad("write to the RX data FIFO")

    def _bad(self, what: str) -> None:
        log.log("guest_errors", f"lan9118: {what}")

    # --- 16-bit bus mode ------------------------------------------------------------------
    def _read16(self, offset: int, size: int) -> int:
        if size != 2:
            return self.REGS.read(self, offset & 0xFC, 4)
        reg = offset & 0xFC
        if self.read_prev != reg:
            self.read_n, self.read_prev = 0, reg
        self.read_n += 1
        if self.read_n == 1:
            self.read_long = self.REGS.read(self, reg, 4) & 0xFFFFFFFF
        else:
            self.read_n = 0
        return self.read_long >> 16 if offset & 2 else self.read_long & 0xFFFF

    def _write16(self, offset: int, value: int, size: int) -> None:
        if size != 2:
            self.REGS.write(self, offset & 0xFC, value, 4)
            return
        reg = offset & 0xFC
        if self.word_prev != reg:
            self.word_n, self.word_prev = 0, reg
        if offset & 2:
            self.word_h = value & 0xFFFF
        else:
            self.word_l = value & 0xFFFF
        self.word_n += 1
        if self.word_n == 2:
            self.word_n = 0
            self.REGS.write(self, reg, self.word_l | self.word_h << 16, 4)


def _mcast_index(addr: bytes) -> int:
    """The multicast hash bucket: the top 6 bits of the Ethernet CRC (big-endian form)."""
    crc = 0xFFFFFFFF
    for byte in addr:
        for _ in range(8):
            carry = ((crc >> 31) ^ (byte & 1)) & 1
            crc = (crc << 1) & 0xFFFFFFFF
            byte >>= 1
            if carry:
                crc = (crc ^ 0x04C11DB6) | carry
    return crc >> 26
