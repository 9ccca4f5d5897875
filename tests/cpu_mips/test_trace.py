"""``-d in_asm,op,exec,cpu,int,mmu`` for the MIPS CPU: disassembly from capstone's MIPS
mode in both byte orders, the generated Python of each block, per-block traces,
exception and MMU lines."""
from __future__ import annotations

import pytest

from mips_machine import Machine

from pysystem import log


@pytest.fixture
def logged(tmp_path):
    path = tmp_path / "log.txt"
    log.set_file(str(path))
    yield path
    log.set_mask("")
    log.set_file(None)


@pytest.mark.parametrize("be", [False, True], ids=["el", "eb"])
def test_d_options(be, logged):
    m = Machine(big_endian=be)
    log.set_mask("in_asm,op,exec,cpu,int,mmu")
    m.cpu.cp0.status = 0
    m.cpu.cp0_status_written(0)
    m.cpu.pc = 0x80001000
    m.load(0x80000180, "1: b 1b\n nop")
    m.load(0x80001000, "addiu $2, $0, 5\n li $8, 0x00400000\n lw $3, 0($8)\n")
    for _ in range(10):
        m.cpu.run(50)
    text = logged.read_text()
    assert "0x80001000:  24020005  addiu    $v0, $zero, 5" in text
    assert "OP (python) for 0x80001000:" in text and "def tb_80001000(R" in text
    assert "Trace 0: 0x" in text and "[00000000/80001000/" in text
    assert "GPR00: r0 00000000 at 00000000 v0 00000005 v1 00000000" in text
    assert "TLBRefill at 0x00400000 (load)" in text
    assert "mips_cpu_do_interrupt enter: PC 80001008 EPC 00000000 TLB load exception" in text
    assert "mips_cpu_do_interrupt: PC 80000000 EPC 80001008 cause 2\n" \
           "    S 00000002 C 00000008 A 00400000 D 00000000" in text
