"""Black-box MMIO tests of the LAN9118 Ethernet controller, driven as Linux's smsc911x does."""
import zlib

from pysystem.clock import VirtualClock
from pysystem.devices.lan9118 import LAN9118

from qtest_oracle import qemu_vexpress

RX_DATA, TX_DATA, RX_STATUS, TX_STATUS = 0x00, 0x20, 0x40, 0x48
ID_REV, IRQ_CFG, INT_STS, INT_EN, BYTE_TEST = 0x50, 0x54, 0x58, 0x5C, 0x64
FIFO_INT, RX_CFG, TX_CFG, HW_CFG, RX_FIFO_INF, TX_FIFO_INF = 0x68, 0x6C, 0x70, 0x74, 0x7C, 0x80
PMT_CTRL, GPT_CFG, GPT_CNT, FREE_RUN = 0x84, 0x8C, 0x90, 0x9C
MAC_CSR_CMD, MAC_CSR_DATA, E2P_CMD, E2P_DATA = 0xA4, 0xA8, 0xB0, 0xB4
MAC_CR, ADDRH, ADDRL, MII_ACC, MII_DATA = 1, 2, 3, 6, 7
TXEN, RXEN, PRMS = 0x8, 0x4, 1 << 18
TX_IOC, RSFL, GPT_INT, SW_INT = 1 << 21, 1 << 3, 1 << 19, 1 << 31


class Ops:
    """Register operations recorded once, replayed on our model and on QEMU."""

    def __init__(self):
        self.ops = []

    def r(self, off):
        self.ops.append(("r", off))

    def w(self, off, value):
        self.ops.append(("w", off, value))

    def mac_read(self, reg):
        self.w(MAC_CSR_CMD, 0xC0000000 | reg)
        self.r(MAC_CSR_DATA)

    def mac_write(self, reg, value):
        self.w(MAC_CSR_DATA, value)
        self.w(MAC_CSR_CMD, 0x80000000 | reg)

    def phy_read(self, reg):
        self.mac_write(MII_ACC, (1 << 11) | (reg << 6))
        self.mac_read(MII_DATA)

    def phy_write(self, reg, value):
        self.mac_write(MII_DATA, value)
        self.mac_write(MII_ACC, (1 << 11) | (reg << 6) | 2)

    def send(self, frame, tag=0x1234, ioc=True):
        cmd_a = (1 << 13) | (1 << 12) | len(frame) | (1 << 31 if ioc else 0)
        self.w(TX_DATA, cmd_a)
        self.w(TX_DATA, tag << 16 | len(frame))
        padded = frame + bytes(-len(frame) % 4)
        for i in range(0, len(padded), 4):
            self.w(TX_DATA, int.from_bytes(padded[i:i + 4], "little"))


def replay(dev, ops):
    region = dev.mmio[0]
    out = []
    for op in ops:
        if op[0] == "r":
            out.append(region.dispatch_read(op[1], 4, False))
        else:
            region.dispatch_write(op[1], op[2], 4, False)
    return out


def rig(**props):
    dev = LAN9118(**props)
    dev.clock = VirtualClock(shift=0)
    dev.realize()
    dev.reset()
    return dev


FRAME = bytes.fromhex("ffffffffffff525400123456" "0806") + bytes(range(46))


def probe_ops():
    o = Ops()
    for off in (BYTE_TEST, ID_REV, IRQ_CFG, INT_STS, INT_EN, FIFO_INT, HW_CFG, RX_FIFO_INF,
                TX_FIFO_INF, PMT_CTRL, GPT_CFG, GPT_CNT, MAC_CSR_CMD, E2P_CMD, E2P_DATA):
        o.r(off)
    o.w(HW_CFG, 1)                              # soft reset
    o.r(HW_CFG)
    o.r(PMT_CTRL)
    for reg in (ADDRH, ADDRL, MAC_CR):
        o.mac_read(reg)
    for reg in (0, 1, 2, 3, 4, 5, 6, 29, 29, 30, 17, 31):
        o.phy_read(reg)
    o.phy_write(4, 0x01E1)
    o.phy_write(30, 0xF0)
    o.r(INT_STS)
    o.phy_write(0, 0x1200)                      # restart autonegotiation
    o.phy_read(0)
    o.phy_read(1)
    o.w(E2P_CMD, 0x80000001)                    # EEPROM read: MAC byte 0
    o.r(E2P_DATA)
    o.r(E2P_CMD)
    o.w(IRQ_CFG, 0x111)                         # enabled, active high, push-pull
    o.r(IRQ_CFG)
    o.w(INT_EN, SW_INT)
    o.r(INT_STS)
    o.r(IRQ_CFG)
    o.w(INT_STS, 0xFFFFFFFF)
    o.w(INT_EN, 0)
    return o.ops


def loopback_ops():
    o = Ops()
    o.w(INT_EN, TX_IOC | RSFL)
    o.w(FIFO_INT, 0)
    o.mac_write(MAC_CR, TXEN | RXEN | PRMS)
    o.phy_write(0, 0x4000)                      # PHY loopback
    o.w(TX_CFG, 2)                              # TX_ON
    o.send(FRAME)
    o.r(TX_FIFO_INF)
    o.r(TX_STATUS)
    o.r(INT_STS)
    o.r(RX_FIFO_INF)
    o.r(RX_STATUS)
    for _ in range((len(FRAME) + 4 + 3) // 4):
        o.r(RX_DATA)
    o.r(RX_FIFO_INF)
    o.r(INT_STS)
    o.w(RX_CFG, 2 << 8)                         # two bytes of offset
    o.send(FRAME[:20] + FRAME[20:40], tag=0x5678)
    o.r(RX_STATUS)
    for _ in range((2 + 40 + 4 + 3) // 4):
        o.r(RX_DATA)
    o.r(RX_DATA)                                # underflow
    o.r(INT_STS)
    return o.ops


def test_probe_and_reset_values():
    got = replay(rig(), probe_ops())
    assert got[:2] == [0x87654321, 0x01180001]
    assert got[6] == 0x00050004 and got[8] == 0x1200 and got[9] == 1 and got[13] == 0x100


def test_loopback_frame_comes_back_with_status_and_crc():
    dev = rig()
    got = replay(dev, loopback_ops())
    tx_fifo_inf, tx_status, int_sts, rx_fifo_inf, rx_status = got[:5]
    assert tx_fifo_inf == (1 << 16) | 0x1200 and tx_status == 0x12340000
    assert int_sts & (TX_IOC | RSFL) == TX_IOC | RSFL
    words = (len(FRAME) + 4 + 3) // 4
    assert rx_fifo_inf == (1 << 16) | (words * 4)
    assert rx_status == ((len(FRAME) + 4) << 16) | 0x2000          # broadcast
    data = b"".join(v.to_bytes(4, "little") for v in got[5:5 + words])
    assert data[:len(FRAME)] == FRAME
    crc = zlib.crc32(FRAME, 0xFFFFFFFF)
    assert data[len(FRAME):len(FRAME) + 4] == crc.to_bytes(4, "big")


def test_transmit_goes_to_the_backend_and_receive_filters():
    sent = []

    class Net:
        def send(self, frame):
            sent.append(frame)

    dev = rig(netdev=Net(), mac="02:00:00:00:00:01")
    o = Ops()
    o.mac_write(MAC_CR, TXEN | RXEN)             # not promiscuous: perfect filter
    o.send(FRAME)
    o.mac_read(ADDRL)
    got = replay(dev, o.ops)
    assert sent == [FRAME] and got == [0x00000002]
    mine = bytes.fromhex("020000000001") + FRAME[6:]
    other = bytes.fromhex("020000000002") + FRAME[6:]
    assert dev.receive(other) and dev.rx_status_used == 0      # filtered out
    assert dev.receive(mine) and dev.rx_status_used == 1
    assert not dev.receive(b"short")
    replay(dev, [("w", RX_CFG, 0x8000)])                        # RX dump
    assert dev.rx_status_used == 0 and replay(dev, [("r", RX_FIFO_INF)]) == [0]


def test_irq_line_polarity():
    dev = rig()
    assert dev.irqs[0].level == 1                # active low, idle: high
    replay(dev, [("w", IRQ_CFG, 0x111)])
    assert dev.irqs[0].level == 0
    replay(dev, [("w", INT_EN, SW_INT)])
    assert dev.irqs[0].level == 1
    replay(dev, [("w", INT_STS, SW_INT)])
    assert dev.irqs[0].level == 0


def test_general_purpose_timer_and_free_running_counter():
    dev = rig()
    clock = dev.clock
    replay(dev, [("w", INT_EN, GPT_INT), ("w", IRQ_CFG, 0x111)])
    replay(dev, [("w", GPT_CFG, (1 << 29) | 99)])               # 100 ticks of 100 us
    clock.advance(5_000_000)                                     # 5 ms
    assert replay(dev, [("r", GPT_CNT)]) == [49]
    assert replay(dev, [("r", FREE_RUN)]) == [5_000_000 // 40]
    clock.advance(5_000_000)
    clock.run_timers()
    assert dev.int_sts & GPT_INT and dev.irqs[0].level == 1
    assert replay(dev, [("r", GPT_CNT)]) == [0xFFFF]            # reloads from 0xffff
    replay(dev, [("w", GPT_CFG, 0)])
    assert replay(dev, [("r", GPT_CNT)]) == [0xFFFF] and not dev.gpt_timer.pending


def test_eeprom_commands():
    dev = rig()
    o = Ops()
    o.w(E2P_DATA, 0x0F)
    o.w(E2P_CMD, 0x80000000 | 3 << 28 | 10)     # write while disabled: ignored
    o.w(E2P_CMD, 0x80000000 | 2 << 28)          # EWEN
    o.w(E2P_CMD, 0x80000000 | 3 << 28 | 1)      # write ANDs: 0x52 & 0x0f
    o.w(E2P_CMD, 0x80000000 | 0 << 28 | 1)
    o.r(E2P_DATA)
    o.w(E2P_CMD, 0x80000000 | 7 << 28)          # reload the MAC address
    o.mac_read(ADDRL)
    o.w(E2P_CMD, 0x80000000 | 6 << 28)          # erase all: no 0xa5 any more
    o.w(E2P_CMD, 0x80000000 | 7 << 28)
    o.r(E2P_CMD)
    assert replay(dev, o.ops) == [0x02, 0x12005402, 0x70000000]


def test_sixteen_bit_mode_pairs_halfwords():
    dev = rig(mode_16bit=1)
    region = dev.mmio[0]
    assert region.dispatch_read(HW_CFG, 4, False) == 0x00050000
    lo = region.dispatch_read(BYTE_TEST, 2, False)
    hi = region.dispatch_read(BYTE_TEST + 2, 2, False)
    assert (hi << 16 | lo) == 0x87654321
    region.dispatch_write(INT_EN, 0x0000, 2, False)
    assert dev.int_en == 0
    region.dispatch_write(INT_EN + 2, 0x0008, 2, False)        # completes the word
    assert dev.int_en == 0x00080000


def test_state_round_trip_keeps_fifos():
    dev = rig()
    replay(dev, loopback_ops()[:-30])
    other = rig()
    other.load_state(dev.save_state())
    assert other.state_bytes() == dev.state_bytes()


def test_registers_match_qemu():
    ops = probe_ops() + loopback_ops()
    expected = qemu_vexpress([(op[0], 0x4E000000 + op[1]) + op[2:] for op in ops],
                             extra_args=("-nic", "user,restrict=on"))
    got = replay(rig(), ops)
    assert [(i, hex(v)) for i, v in enumerate(got)] == [(i, hex(v)) for i, v in enumerate(expected)]


def test_set_link_shows_in_phy_status_and_interrupt():
    """``set_link`` (QEMU's lan9118_set_link -> phy_update_link): basic status loses
    link and autonegotiation-complete, the PHY interrupt source gets LINK_DOWN (0x10),
    and with that source unmasked INT_STS.PHY_INT rises; the link back sets them again."""
    class Backend:
        link_up = True

        def attach(self, nic):
            pass

        def send(self, frame):
            pass

    net = Backend()
    dev = rig(netdev=net)
    o = Ops()
    o.phy_read(29)                      # clear the sources of the reset
    o.phy_write(30, 0x10)               # unmask LINK_DOWN only
    o.phy_read(1)
    replay(dev, o.ops)
    assert replay(dev, [("r", INT_STS)])[0] & (1 << 18) == 0
    net.link_up = False
    dev.set_link_status(False)
    o = Ops()
    o.r(INT_STS)
    o.phy_read(1)
    o.phy_read(29)
    o.r(INT_STS)
    sts, status, source, sts_after = replay(dev, o.ops)
    assert sts & (1 << 18) and status & 0x24 == 0 and source == 0x10
    assert sts_after & (1 << 18) == 0   # reading the source cleared it
    net.link_up = True
    dev.set_link_status(True)
    o = Ops()
    o.phy_read(1)
    o.phy_read(29)
    status, source = replay(dev, o.ops)
    assert status & 0x24 == 0x24 and source == 0xC0
