"""The MIPS CPU models (QEMU 7.2's values) and the CPU's state round trip."""
from __future__ import annotations

import pytest

from mips_machine import Machine

from pysystem.cpu.mips import CPU_TYPES
from pysystem.qom import lookup_type

# model: PRId, Config1, Config3, FIR (None: no FPU), Status writable mask, release
EXPECTED = {
    "4Kc": (0x00018000, 0x9E190C8A, 0x0, None, 0x1278FF17, 1),
    "4KEc": (0x00019000, 0x9E190C8A, 0x0, None, 0x1278FF17, 2),
    "24Kc": (0x00019300, 0x9E190C8E, 0x0, None, 0x1278FF1F, 2),
    "24Kf": (0x00019300, 0x9E190C8F, 0x0, 0x00739300, 0x3678FF1F, 2),
    "34Kf": (0x00019500, 0xFE190C8F, 0x424, 0x00739500, 0x3778FF1F, 2),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_table(name):
    cls = lookup_type(f"{name}-mips-cpu")
    assert cls is CPU_TYPES[name]
    m = cls.MODEL and CPU_TYPES[name]().model
    prid, config1, config3, fir, status_mask, release = EXPECTED[name]
    assert (m.prid, m.config1, m.config3, m.fcr0, m.status_mask, m.release) == \
        (prid, config1, config3, fir, status_mask, release)
    assert m.tlb_entries == ((config1 >> 25) & 0x3F) + 1


@pytest.mark.parametrize("be", [False, True], ids=["el", "eb"])
def test_state_round_trip(be):
    m = Machine(big_endian=be)
    cpu = m.cpu
    cpu.cp0.status = 0x20000000  # CU1
    cpu.cp0_status_written(0)
    cpu.pc = 0x80001000
    m.load(0x80001000, """
        li $2, 0x12345678
        mthi $2
        li $8, 0x00400005
        mtc0 $8, $10
        li $8, 0x1407
        mtc0 $8, $2
        mtc0 $8, $3
        li $8, 5
        mtc0 $8, $0
        tlbwi
        lui $9, 0x3f80
        mtc1 $9, $f2
    1:  b 1b
        nop
    """)
    cpu.run(40)
    other = Machine(big_endian=be).cpu
    for src, dst in ((cpu.cp0, other.cp0), (cpu.jtlb, other.jtlb), (cpu, other)):
        blob = src.state_bytes()
        dst.load_state_bytes(blob)
        assert dst.state_bytes() == blob
    assert other.regs[32] == 0x12345678 and other.fpr[2] == 0x3F800000
    assert other.jtlb.hi[5] == 0x00400005 and other.cp0.entryhi == 0x00400005
    assert other.pc == cpu.pc


def test_cpu_factory_offers_the_models_to_both_front_ends():
    from pysystem.cpu.models import cpu_models, create_cpu
    for front_end in ("mips", "mipsel"):
        assert cpu_models(front_end) == ["24Kc", "24Kf", "34Kf", "4KEc", "4Kc"]
    assert type(create_cpu("34Kf", "mips")).MODEL == "34Kf"


def test_monitor_seams():
    m = Machine(big_endian=True)
    cpu = m.cpu
    cpu.regs[2], cpu.regs[31], cpu.regs[32] = 0x1234, 0x80001000, 7
    assert cpu.read_register("v0") == cpu.read_register("r2") == 0x1234
    assert cpu.read_register("ra") == 0x80001000 and cpu.read_register("hi") == 7
    assert cpu.read_register("pc") == 0xBFC00000
    assert cpu.read_register("status") == 0x00400004
    assert cpu.read_register("nosuch") is None
    text = cpu.registers_text()
    assert text.startswith("pc=0xbfc00000 HI=0x00000007 LO=0x00000000")
    assert "GPR00: r0 00000000 at 00000000 v0 00001234 v1 00000000" in text
    assert "CP0 Status  0x00400004 Cause   0x00000000" in text
    import capstone
    arch, mode, unit = cpu.disassembler()
    assert (arch, unit) == (capstone.CS_ARCH_MIPS, 4) and mode & capstone.CS_MODE_BIG_ENDIAN
