"""Directed FPU tests for what the Unicorn campaigns leave out: the forms that need FR=1
(RI with FR=0, as QEMU), odd double registers, the legacy default NaNs, the Floating
Point exception (and that it writes nothing), CTC1 raising FPE, CU1 clear.  24Kf, both
byte orders."""
from __future__ import annotations

import pytest

from mips_machine import Machine

from pysystem.cpu.mips import exceptions as exc

EBASE = 0x80000000
END = 0x80000F00


@pytest.fixture(params=[False, True], ids=["el", "eb"])
def m(request):
    m = Machine(big_endian=request.param)
    m.cpu.cp0.status = 0x20000000  # CU1, kernel
    m.cpu.cp0_status_written(0)
    m.cpu.pc = 0x80001000
    m.load(EBASE + 0x180, f"mfc0 $26, $13\n mfc0 $27, $14\n j {END:#x}\n nop")
    m.load(END, "1: b 1b\n nop")
    return m


def _run(m, src):
    m.load(0x80001000, src + f"\n j {END:#x}\n nop")
    m.run_to(END)
    return (m.cpu.regs[26] >> 2) & 0x1F if m.cpu.cp0.status & 2 else None


@pytest.mark.parametrize("insn", ["cvt.l.d $f0, $f2", "cvt.d.l $f0, $f2", "trunc.l.s $f0, $f1",
                                  "recip.d $f0, $f2", "add.d $f0, $f1, $f2", "mfhc1 $2, $f3"])
def test_reserved_with_fr0(m, insn):
    assert _run(m, ".set mips32r2\n .set fp=64\n " + insn) == exc.EXC_RI


def test_default_nans_and_invalid_flag(m):
    code = _run(m, """
        mtc1 $0, $f0
        div.s $f2, $f0, $f0        # 0/0: invalid, the default single NaN
        mtc1 $0, $f4
        mtc1 $0, $f5
        div.d $f6, $f4, $f4        # the default double NaN
        cfc1 $3, $31
    """)
    assert code is None
    assert m.cpu.fpr[2] == 0x7FBFFFFF
    assert (m.cpu.fpr[7], m.cpu.fpr[6]) == (0x7FF7FFFF, 0xFFFFFFFF)
    assert m.cpu.regs[3] & (1 << 6) and m.cpu.regs[3] & (1 << 16)  # flag V, cause V


def test_fpe_when_enabled_writes_nothing(m):
    code = _run(m, """
        li $2, 0x800               # enable V
        ctc1 $2, $31
        lui $2, 0xbf80
        mtc1 $2, $f0               # -1.0
        li $3, 0x1234
        mtc1 $3, $f2
        sqrt.s $f2, $f0
    """)
    assert code == exc.EXC_FPE
    assert m.cpu.fpr[2] == 0x1234
    assert m.cpu.fcsr & (1 << 16) and not m.cpu.fcsr & (1 << 6)   # cause V, no flag
    assert m.cpu.regs[27] == 0x80001018  # EPC: the sqrt.s


def test_ctc1_with_enabled_cause_raises(m):
    assert _run(m, "li $2, 0x10800\n ctc1 $2, $31") == exc.EXC_FPE


def test_cu1_clear_is_coprocessor_unusable(m):
    m.cpu.cp0.status = 0
    m.cpu.cp0_status_written(0)
    assert _run(m, "add.s $f0, $f1, $f2") == exc.EXC_CPU
    assert (m.cpu.regs[26] >> 28) & 3 == 1
