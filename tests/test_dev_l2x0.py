"""Black-box tests of the L2C-310 cache controller (l2x0): Linux's l2c310 init sequence."""
from pysystem.devices.l2x0 import L2x0

CACHE_ID, CACHE_TYPE, CTRL, AUX = 0x000, 0x004, 0x100, 0x104
TAG_LAT, DATA_LAT = 0x108, 0x10C
INT_MASK, MIS, RIS, INT_CLEAR = 0x214, 0x218, 0x21C, 0x220
SYNC, INV_WAY, CLEAN_INV_WAY, CLEAN_PA = 0x730, 0x77C, 0x7FC, 0x7B0
LOCKDOWN, UNLOCK_WAY = 0x900, 0x954
PREFETCH, POWER = 0xF60, 0xF80


def _l2():
    d = L2x0()
    d.realize()
    d.reset()
    return d, d.mmio[0]


def test_identification_and_reset_values():
    _, r = _l2()
    assert r.read(CACHE_ID, 4) == 0x410000C8            # L2C-310 r3p2
    assert r.read(AUX, 4) == 0x02020000
    assert r.read(CTRL, 4) == 0
    assert r.read(CACHE_TYPE, 4) == 0x1C100100
    r.write(CACHE_ID, 0, 4)
    assert r.read(CACHE_ID, 4) == 0x410000C8


def test_cache_type_follows_aux_way_size_and_associativity():
    _, r = _l2()
    r.write(AUX, (3 << 17) | (1 << 16), 4)               # 64 KB ways, 16-way
    assert r.read(CACHE_TYPE, 4) == 0x1C340340


def test_linux_l2c310_init_sequence():
    _, r = _l2()
    assert r.read(CTRL, 4) & 1 == 0
    aux = r.read(AUX, 4) | (1 << 22) | (1 << 30) | (1 << 26)   # shared override, BRESP, NS lockdown
    for i in range(8):                                    # l2c_unlock
        r.write(LOCKDOWN + 8 * i, 0, 4)
        r.write(LOCKDOWN + 8 * i + 4, 0, 4)
    r.write(AUX, aux, 4)
    r.write(TAG_LAT, 0x111, 4)
    r.write(DATA_LAT, 0x111, 4)
    r.write(PREFETCH, 0, 4)
    r.write(POWER, 0, 4)
    r.write(INV_WAY, 0xFF, 4)                             # invalidate all 8 ways
    assert r.read(INV_WAY, 4) & 0xFF == 0                 # ... completed at once
    r.write(SYNC, 0, 4)
    assert r.read(SYNC, 4) & 1 == 0
    r.write(INT_CLEAR, 0x1FF, 4)
    r.write(CTRL, 1, 4)
    assert r.read(CTRL, 4) == 1
    assert r.read(AUX, 4) == aux
    assert r.read(TAG_LAT, 4) == 0x111 and r.read(DATA_LAT, 4) == 0x111
    assert r.read(POWER, 4) == 0 and r.read(PREFETCH, 4) == 0


def test_maintenance_operations_complete_and_interrupts_stay_quiet():
    _, r = _l2()
    for reg in (CLEAN_INV_WAY, CLEAN_PA, UNLOCK_WAY):
        r.write(reg, 0xFFFF, 4)
        assert r.read(reg, 4) == 0
    r.write(INT_MASK, 0xFFFFFFFF, 4)
    assert r.read(INT_MASK, 4) == 0x1FF
    assert r.read(RIS, 4) == 0 and r.read(MIS, 4) == 0


def test_control_registers_store_their_bits():
    d, r = _l2()
    r.write(PREFETCH, 0xFFFFFFFF, 4)
    assert r.read(PREFETCH, 4) == 0x79A0001F
    r.write(POWER, 3, 4)
    assert r.read(POWER, 4) == 0  # QEMU's: Linux must see clock gating disabled
    r.write(0xF40, 7, 4)
    assert r.read(0xF40, 4) == 7
    r.write(LOCKDOWN + 4, 0xFF, 4)
    assert r.read(LOCKDOWN + 4, 4) == 0xFF
    d.reset()
    assert r.read(PREFETCH, 4) == 0 and r.read(LOCKDOWN + 4, 4) == 0
