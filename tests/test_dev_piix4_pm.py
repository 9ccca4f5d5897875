"""PIIX4 power management and SMBus: soft-off, PM registers, the SPD EEPROM against QEMU."""
import pytest

from malta_pci_rig import PLACES, Rig
from qtest_malta import qemu_malta

from pysystem.clock import VirtualClock
from pysystem.devices.piix4_pm import malta_spd

PM = PLACES["pm"][2]
PIIX4 = PLACES["piix4"][2]
IO = 0x10000000          # the GT's PCI I/O window after reset
SMB = 0x1100


def _smbus_read_ops(addr, offset):
    return [("w", IO + SMB + 0, 0xFF, 1), ("w", IO + SMB + 4, addr << 1 | 1, 1),
            ("w", IO + SMB + 3, offset, 1), ("w", IO + SMB + 2, 0x48, 1),
            ("r", IO + SMB + 0, 1), ("r", IO + SMB + 5, 1)]


def _run(rig, ops):
    out = []
    for op in ops:
        if op[0] == "w":
            rig.mem.write(op[1], op[2], op[3])
        else:
            out.append(rig.mem.read(op[1], op[2]))
    return out


@pytest.mark.parametrize("mem", ("128M", "256M", "1G"))
def test_spd_eeprom_over_smbus_matches_qemu(mem):
    ops = []
    for offset in range(0, 128):
        ops += _smbus_read_ops(0x50, offset)
    for offset in range(0, 20):
        ops += _smbus_read_ops(0x56, offset)
    ops += _smbus_read_ops(0x58, 0)          # nobody there: DEV_ERR
    want = qemu_malta(ops, extra_args=("-m", mem))
    size = {"128M": 128 << 20, "256M": 256 << 20, "1G": 1 << 30}[mem]
    rig = Rig(props={"pm": {"ram-size": size}})
    got = _run(rig, ops)
    assert [hex(v) for v in got] == [hex(v) for v in want]


def test_spd_contents():
    spd = malta_spd(256 << 20)
    assert (spd[2], spd[5], spd[31]) == (0x8, 2, 0x20)   # two 128 MiB banks: DDR2 in QEMU
    assert spd[63] == sum(spd[:63]) & 0xFF


def _enable_pm(rig, base=0x1000):
    rig.cfg_write(PM, 0x40, base | 1)
    rig.cfg_write(PM, 0x80, 1)


def test_soft_off_calls_the_power_off_hook():
    rig = Rig()
    calls = []
    rig.dev["pm"].power_off = lambda: calls.append("off")
    _enable_pm(rig)
    rig.io_write(0x1004, 0x0001, 2)             # SCI_EN, no SLP_EN
    assert calls == [] and rig.io_read(0x1004, 2) == 1
    rig.io_write(0x1004, 1 << 13 | 5 << 10, 2)  # sleep type 5: nothing
    assert calls == []
    rig.io_write(0x1004, 1 << 13 | 0 << 10, 2)  # Linux's piix4-poweroff: SLP_TYP 0
    assert calls == ["off"]
    assert rig.io_read(0x1004, 2) & (1 << 13) == 0   # SLP_EN reads back 0


def test_pm_block_moves_with_pmba_and_needs_pmregmisc():
    rig = Rig()
    rig.cfg_write(PM, 0x40, 0x1001)
    rig.io_write(0x1002, 0x0100, 2)              # not enabled: an unassigned port
    assert rig.io_read(0x1002, 2) == 0xFFFF      # all ones, as QEMU's "io" (qtest: 0xffff)
    rig.cfg_write(PM, 0x80, 1)
    rig.io_write(0x1002, 0x0100, 2)
    assert rig.io_read(0x1002, 2) == 0x0100
    rig.cfg_write(PM, 0x40, 0x2001)
    assert rig.io_read(0x2002, 2) == 0x0100


def test_power_button_raises_sci_and_status_clears():
    rig = Rig()
    pm = rig.dev["pm"]
    _enable_pm(rig)
    rig.dev["pm"].power_button()
    assert pm.sci.level == 0                     # not enabled
    rig.io_write(0x1002, 0x0100, 2)              # PWRBTN_EN
    assert pm.sci.level == 1
    assert rig.io_read(0x1000, 2) & 0x0100
    rig.io_write(0x1000, 0x0100, 2)              # write one to clear
    assert pm.sci.level == 0 and rig.io_read(0x1000, 2) == 0


def test_pm_timer_counts_guest_time():
    clock = VirtualClock()
    rig = Rig(props={"pm": {"clock": clock}})
    _enable_pm(rig)
    t0 = rig.io_read(0x1008, 4)
    clock.advance(125_000_000)                   # one second at 8 ns per instruction
    assert (rig.io_read(0x1008, 4) - t0) & 0xFFFFFF == 3579545 & 0xFFFFFF


def test_reset_control_register():
    rig = Rig()
    resets = []
    rig.dev["piix4"].reset_request = lambda: resets.append(1)
    rig.io_write(0xCF9, 0x02, 1)
    assert rig.io_read(0xCF9, 1) == 0x02 and resets == []
    rig.io_write(0xCF9, 0x06, 1)
    assert resets == [1]


def test_state_round_trip():
    rig = Rig()
    _enable_pm(rig)
    rig.io_write(0x1002, 0x0120, 2)
    pm = rig.dev["pm"]
    blob = pm.state_bytes()
    pm.reset()
    pm.load_state_bytes(blob)
    assert rig.io_read(0x1002, 2) == 0x0120 and pm.state_bytes() == blob
