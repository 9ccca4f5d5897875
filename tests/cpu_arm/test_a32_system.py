"""Directed tests of the ARMCPU system level: exceptions and their return addresses,
modes and banked registers, interrupts and WFI, MMU walks and every fault type,
the exclusive monitor, code invalidation, snapshots, debugger helpers."""
from __future__ import annotations

import io

import pytest

from machine import Machine, asm

from pysystem import log
from pysystem.cpu.arm.cpu import ABT, FIQ, IRQ, SVC, UND, USR

VECTORS = """
    b .          @ 0x00 reset
    b .          @ 0x04 undef
    b .          @ 0x08 svc
    b .          @ 0x0c prefetch abort
    b .          @ 0x10 data abort
    b .
    b .          @ 0x18 irq
    b .          @ 0x1c fiq
"""


@pytest.fixture
def m():
    mach = Machine()
    mach.load(0, VECTORS)
    return mach


def test_reset_state(m):
    cpu = m.cpu
    # Z set, as QEMU 7.2 resets it ("PSR=400001d3 -Z-- A S svc32" in its info registers)
    assert cpu.cpsr == 0x400001D3 and cpu.mode == SVC and cpu.regs[15] == 0
    assert cpu.dump_registers().splitlines()[-1] == "PSR=400001d3 -Z-- A svc32"
    assert cpu.dump_registers().splitlines()[0] == "R00=00000000 R01=00000000 R02=00000000 R03=00000000"


def test_svc_from_user_and_return(m):
    cpu = m.cpu
    m.load(0x08, "b 0x200")
    m.load(0x200, "mov r5, lr\n mrs r6, spsr\n movs pc, lr")
    m.load(0x1000, """
        mov sp, #0x9000
        msr cpsr_c, #0x10       @ to user mode
        mov sp, #0x8000
        mov r0, #7
        svc #0x12
        add r0, r0, #1
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1010)
    assert cpu.mode == USR and cpu.regs[13] == 0x8000
    m.run_to(0x200)
    assert cpu.mode == SVC and cpu.regs[14] == 0x1014 and cpu.regs[13] == 0x9000
    assert cpu.spsr_bank[3] & 0x1F == USR and cpu.cpsr & 0x80
    m.run_to(0x1014)
    assert cpu.mode == USR and cpu.regs[13] == 0x8000 and cpu.regs[5] == 0x1014
    m.run_to(0x1018)
    assert cpu.regs[0] == 8


def test_undefined_instruction(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n udf #3\n mov r0, #2")
    cpu.regs[15] = 0x1000
    m.run_to(0x04)
    assert cpu.mode == UND and cpu.regs[14] == 0x1008 and cpu.spsr_bank[6] == 0x400001D3
    assert cpu.cpsr & 0x1FF == 0x1DB


def test_unknown_encoding_is_undefined(m):
    cpu = m.cpu
    m.word(0x1000, 0xE7100010)  # SDIV: not on a Cortex-A9
    cpu.regs[15] = 0x1000
    cpu.single_step()
    assert cpu.mode == UND and cpu.regs[15] == 4 and cpu.regs[14] == 0x1004


def test_conditional_undefined_is_skipped(m):
    cpu = m.cpu
    m.load(0x1000, "movs r0, #1")        # Z clear
    m.word(0x1004, 0x07100010)           # SDIVEQ: condition fails -> skipped
    m.load(0x1008, "mov r1, #5")
    cpu.regs[15] = 0x1000
    m.run_to(0x100C)
    assert cpu.regs[1] == 5 and cpu.mode == SVC


def test_data_abort_on_bus_error(m):
    cpu = m.cpu
    m.load(0x1000, "mov r1, #0x20000000\n mov r0, #1\n ldr r0, [r1, #4]\n mov r2, #3")
    cpu.regs[15] = 0x1000
    m.run_to(0x10)
    assert cpu.mode == ABT and cpu.regs[14] == 0x1008 + 8
    assert cpu.cp15.dfsr == 0x1008 and cpu.cp15.dfar == 0x20000004
    assert cpu.regs[0] == 1  # precise: the load did not happen
    assert cpu.cpsr & 0x1C0 == 0x1C0


def test_data_abort_on_bus_error_store_sets_wnr(m):
    cpu = m.cpu
    m.load(0x1000, "mov r1, #0x20000000\n str r0, [r1]")
    cpu.regs[15] = 0x1000
    m.run_to(0x10)
    assert cpu.cp15.dfsr == 0x1808 and cpu.cp15.dfar == 0x20000000


def test_prefetch_abort_on_bus_error(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #0x20000000\n bx r0")
    cpu.regs[15] = 0x1000
    m.run_to(0x0C)
    assert cpu.mode == ABT and cpu.regs[14] == 0x20000004
    assert cpu.cp15.ifsr == 0x1008 and cpu.cp15.ifar == 0x20000000


def test_bkpt_is_a_prefetch_abort(m):
    cpu = m.cpu
    m.load(0x1000, "bkpt #1")
    cpu.regs[15] = 0x1000
    m.run_to(0x0C)
    assert cpu.regs[14] == 0x1004 and cpu.cp15.ifsr == 0x2


def test_irq_entry_and_return(m):
    cpu = m.cpu
    m.load(0x18, "b 0x300")
    m.load(0x300, "add r9, r9, #1\n subs pc, lr, #4")
    m.load(0x1000, "cpsie i\n loop: add r0, r0, #1\n b loop")
    cpu.regs[15] = 0x1000
    m.run_to(0x1004)
    m.run_to(0x1004)  # one iteration
    cpu.set_irq_line(0, 1)
    assert cpu.exit_request
    cpu.single_step()
    assert cpu.mode == IRQ and cpu.regs[15] == 0x300 and cpu.regs[14] == 0x1004 + 4
    assert cpu.spsr_bank[2] & 0x80 == 0 and cpu.cpsr & 0x180 == 0x180
    cpu.set_irq_line(0, 0)
    m.run_to(0x1004)
    assert cpu.mode == SVC and cpu.regs[9] == 1 and not cpu.cpsr & 0x80


def test_masked_irq_is_not_taken(m):
    cpu = m.cpu
    m.load(0x1000, "loop: add r0, r0, #1\n b loop")
    cpu.regs[15] = 0x1000
    cpu.set_irq_line(0, 1)
    assert cpu.run(100) >= 100
    assert cpu.mode == SVC


def test_fiq_banks_r8_to_r12(m):
    cpu = m.cpu
    m.load(0x1C, "mov r8, #0x88\n mov r13, #0xd0\n subs pc, lr, #4")
    m.load(0x1000, "mov r8, #1\n mov r12, #2\n cpsie f\n loop: b loop")
    cpu.regs[15] = 0x1000
    m.run_to(0x100C)
    cpu.set_irq_line(1, 1)
    cpu.single_step()  # takes the FIQ and executes its first instruction
    assert cpu.mode == FIQ and cpu.regs[15] == 0x20 and cpu.regs[8] == 0x88 and cpu.regs[12] == 0
    cpu.set_irq_line(1, 0)
    m.run_to(0x100C)
    assert cpu.mode == SVC and cpu.regs[8] == 1 and cpu.regs[12] == 2
    assert cpu.fiq_regs[0] == 0x88 and cpu.r13_bank[1] == 0xD0


def test_wfi_halts_until_interrupt_even_if_masked(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n wfi\n mov r0, #2\n b .")
    cpu.regs[15] = 0x1000
    cpu.run(100)
    assert cpu.halted and cpu.regs[15] == 0x1008 and cpu.regs[0] == 1
    assert cpu.run(100) == 0
    cpu.set_irq_line(0, 1)  # masked by CPSR.I, but wakes the core
    cpu.run(2)
    assert not cpu.halted and cpu.regs[0] == 2 and cpu.mode == SVC


def test_banked_sp_lr_across_modes(m):
    cpu = m.cpu
    m.load(0x1000, """
        mov sp, #0x100
        mov lr, #0x101
        cps #0x12
        mov sp, #0x200
        cps #0x17
        mov sp, #0x300
        cps #0x1f
        mov sp, #0x400
        cps #0x13
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1024)
    assert cpu.regs[13] == 0x100 and cpu.regs[14] == 0x101
    assert cpu.r13_bank[2] == 0x200 and cpu.r13_bank[5] == 0x300 and cpu.r13_bank[0] == 0x400


def test_stm_ldm_user_bank_and_exception_return(m):
    cpu = m.cpu
    m.load(0x1000, """
        cps #0x1f
        mov sp, #0x5000
        mov lr, #0x5004
        cps #0x13
        mov sp, #0x6000
        mov r0, #0x7000
        stmia r0, {sp, lr}^
        mov r1, #0x2000
        str r1, [r0, #8]
        mov r2, #0x10
        msr spsr_fsxc, r2
        add r3, r0, #8
        ldmia r3, {pc}^
    """)
    m.load(0x2000, "nop")
    cpu.regs[15] = 0x1000
    m.run_to(0x2000)
    assert m.read_word(0x7000) == 0x5000 and m.read_word(0x7004) == 0x5004
    assert cpu.mode == USR and cpu.regs[13] == 0x5000


def test_srs_rfe(m):
    cpu = m.cpu
    m.load(0x1000, """
        cps #0x12
        mov sp, #0x6000
        cps #0x13
        mov lr, #0x3000
        mov r0, #0x1f
        msr spsr_fsxc, r0
        srsdb sp!, #0x12
        cps #0x12
        rfeia sp!
    """)
    m.load(0x3000, "nop")
    cpu.regs[15] = 0x1000
    m.run_to(0x3000)
    assert m.read_word(0x6000 - 8) == 0x3000 and m.read_word(0x6000 - 4) == 0x1F
    assert cpu.mode == 0x1F and cpu.r13_bank[2] == 0x6000


def test_high_vectors_and_vbar(m):
    cpu = m.cpu
    cpu.cp15.vbar = 0x4000
    m.load(0x1000, "svc #0")
    cpu.regs[15] = 0x1000
    cpu.single_step()
    assert cpu.regs[15] == 0x4008
    cpu.cp15.sctlr |= 1 << 13
    cpu.write_cpsr(0x1D3, 0xFFFFFFFF)
    cpu.regs[15] = 0x1000
    cpu.single_step()
    assert cpu.regs[15] == 0xFFFF0008


def test_cp15_identification(m):
    cpu = m.cpu
    m.load(0x1000, """
        mrc p15, 0, r0, c0, c0, 0
        mrc p15, 0, r1, c0, c0, 5
        mrc p15, 0, r2, c0, c0, 1
        mrc p15, 4, r3, c15, c0, 0
        mrc p15, 0, r4, c1, c0, 0
        mrc p14, 0, r5, c0, c0, 0
        mcr p14, 6, r2, c1, c0, 0
        mrc p14, 6, r6, c1, c0, 0
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1020)
    assert cpu.regs[6] == cpu.regs[2] & ~3  # TEEHBR[1:0] read as zero
    assert cpu.regs[0] == 0x410FC090 and cpu.regs[1] == 0x80000000 and cpu.regs[2] == 0x80038003
    assert cpu.regs[4] == 0x00C50078 and cpu.regs[5] == 0x35141000


def test_unknown_cp15_register_undefs_and_logs(m, monkeypatch):
    cpu = m.cpu
    m.load(0x1000, "mrc p15, 0, r0, c11, c0, 0")
    cpu.regs[15] = 0x1000
    buf = io.StringIO()
    monkeypatch.setattr(log, "_out", buf)
    log.set_mask("unimp")
    try:
        cpu.single_step()
    finally:
        log.set_mask("")
    assert cpu.mode == UND
    assert "unimplemented cp15 read" in buf.getvalue()


def test_user_mode_cannot_read_privileged_cp15(m):
    cpu = m.cpu
    m.load(0x1000, "cps #0x10\n mrc p15, 0, r0, c13, c0, 3\n mrc p15, 0, r0, c1, c0, 0")
    cpu.regs[15] = 0x1000
    m.run_to(0x1008)
    assert cpu.mode == USR
    cpu.single_step()
    assert cpu.mode == UND and cpu.regs[14] == 0x100C


# --- MMU ---------------------------------------------------------------------------------

def mmu_on(m, **kw):
    m.identity_sections(**kw)
    m.cpu.cp15.dacr = 1  # domain 0 client
    m.cpu.cp15.sctlr |= 1
    m.cpu.tlb_flush_all()


def test_mmu_section_translation(m):
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0x00000C02)  # VA 0x30000000 -> PA 0x00000000
    cpu.tlb_flush_all()
    m.word(0x2000, 0x12345678)
    m.load(0x1000, "mov r1, #0x30000000\n add r1, r1, #0x2000\n ldr r0, [r1]\n str r0, [r1, #4]")
    cpu.regs[15] = 0x1000
    m.run_to(0x1010)
    assert cpu.regs[0] == 0x12345678 and m.read_word(0x2004) == 0x12345678
    assert cpu.virt_to_phys(0x30002000) == 0x2000
    assert cpu.read_virt(0x30002000, 4) == bytes.fromhex("78563412")


def test_tlbimva_of_any_page_drops_a_whole_section(m):
    """The soft TLB holds 4 KiB entries; TLBIMVA of another address in the same 1 MiB
    section must still drop the stale one."""
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0x00000C02)  # VA 0x30000000 -> PA 0
    cpu.tlb_flush_all()
    m.word(0x2000, 0x1111)
    m.word(0x40002000, 0x2222)
    m.load(0x1000, """
        mov r1, #0x30000000
        add r1, r1, #0x2000
        ldr r0, [r1]
        ldr r4, =0x40000C02     @ the section now maps PA 0x40000000
        ldr r5, =0x8C00
        str r4, [r5]
        ldr r6, =0x30085000
        mcr p15, 0, r6, c8, c7, 1
        ldr r2, [r1]
        b .
    """)
    cpu.regs[15] = 0x1000
    cpu.run(40)
    assert (cpu.regs[0], cpu.regs[2]) == (0x1111, 0x2222)


def test_tlbimva_drops_translated_code_of_a_remapped_page(m):
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0xA000 | 1)    # VA 0x30000000: coarse table at 0xA000
    m.word(0xA000, 0x3000 | (3 << 4) | 2)     # page 0 -> PA 0x3000
    cpu.tlb_flush_all()
    m.load(0x3000, "mov r0, #1\n bx lr")
    m.load(0x4000, "mov r0, #2\n bx lr")
    m.load(0x1000, """
        mov r1, #0x30000000
        blx r1
        mov r7, r0
        ldr r4, =0x4032         @ page 0 -> PA 0x4000
        ldr r5, =0xA000
        str r4, [r5]
        mcr p15, 0, r1, c8, c7, 1
        blx r1
        b .
    """)
    cpu.regs[15] = 0x1000
    cpu.run(40)
    assert (cpu.regs[7], cpu.regs[0]) == (1, 2)


def test_dacr_write_drops_only_the_domains_it_changes(m):
    """Linux turns the user domain's access on and off around each user access: the
    changed domain's pages must fault from then on, the others' stay in the TLB."""
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0x00000C02 | (1 << 5))  # VA 0x30000000 -> PA 0, domain 1
    cpu.cp15.dacr = 1 | (1 << 2)                        # domains 0 and 1 client
    cpu.tlb_flush_all()
    m.word(0x2000, 0x1111)
    m.load(0x1000, """
        mov r1, #0x30000000
        add r1, r1, #0x2000
        ldr r0, [r1]
        mov r2, #0x2000
        ldr r3, [r2]
        mov r4, #1                  @ domain 1: no access
        mcr p15, 0, r4, c3, c0, 0
        ldr r6, [r1]
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x10)
    assert (cpu.regs[0], cpu.regs[3]) == (0x1111, 0x1111)
    assert cpu.cp15.dfsr == 0x019 and cpu.cp15.dfar == 0x30002000  # domain fault, section, domain 1
    assert 0x30002000 not in cpu.tlb_read[0]
    assert 0x2000 in cpu.tlb_read[0]  # domain 0's page kept (not accessed since the write)
    m.load(0x1100, "ldr r5, [r2]")
    cpu.regs[15] = 0x1100
    m.run_to(0x1104)
    assert cpu.regs[5] == 0x1111


def test_context_switch_drops_only_non_global_pages(m):
    """A CONTEXTIDR or TTBR0 write (Linux's switch_mm) drops the non-global (nG) pages
    and keeps the global ones, as an ASID-tagged TLB does: a changed non-global mapping
    is walked afresh, a global page stays in the TLB (the kernel's code stays in the
    jump cache across a context switch)."""
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0x00000C02 | (1 << 17))  # VA 0x30000000 -> PA 0, not global
    m.word(0x8000 + 4 * 0x310, 0x00000C02)              # VA 0x31000000 -> PA 0, global
    cpu.tlb_flush_all()
    m.word(0x2000, 0x1111)
    m.word(0x40002000, 0x2222)
    m.load(0x1000, """
        mov r1, #0x30000000
        add r1, r1, #0x2000
        ldr r0, [r1]
        mov r2, #0x31000000
        add r2, r2, #0x2000
        ldr r3, [r2]
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1018)
    assert (cpu.regs[0], cpu.regs[3]) == (0x1111, 0x1111)
    assert 0x30002000 in cpu.tlb_read[0] and 0x31002000 in cpu.tlb_read[0]
    for write in ("mcr p15, 0, r4, c13, c0, 1",   # CONTEXTIDR
                  "mcr p15, 0, r4, c2, c0, 0",    # TTBR0
                  "mcr p15, 0, r4, c8, c7, 2"):   # TLBIASID
        m.word(0x8000 + 4 * 0x300, 0x40000C02 | (1 << 17))  # now -> PA 0x40000000
        m.load(0x1100, f"""
            mov r4, #0x8000
            {write}
            ldr r5, [r1]
        """)
        cpu.regs[15] = 0x1100
        m.run_to(0x110C)
        assert cpu.regs[5] == 0x2222, write
        assert 0x31002000 in cpu.tlb_read[0], write  # the global page was kept
        m.word(0x8000 + 4 * 0x300, 0x00000C02 | (1 << 17))
        cpu.tlb_flush_all()
        m.load(0x1200, "ldr r5, [r1]\n ldr r6, [r2]")
        cpu.regs[15] = 0x1200
        m.run_to(0x1208)


def _fault(m, code, vector=0x10):
    m.load(0x1000, code)
    m.cpu.regs[15] = 0x1000
    m.run_to(vector)


def test_translation_fault_section(m):
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0)
    m.cpu.tlb_flush_all()
    _fault(m, "mov r1, #0x30000000\n ldr r0, [r1, #0x10]")
    assert m.cpu.cp15.dfsr == 0x005 and m.cpu.cp15.dfar == 0x30000010


def test_small_pages_and_page_faults(m):
    cpu = m.cpu
    mmu_on(m)
    # VA 0x30000000: coarse table at 0xA000, domain 2
    m.word(0x8000 + 4 * 0x300, 0xA000 | (2 << 5) | 1)
    m.word(0xA000 + 4 * 0, 0x00002000 | (3 << 4) | 2)        # page 0 -> PA 0x2000, RW
    m.word(0xA000 + 4 * 1, 0x00003000 | (1 << 9) | (1 << 4) | 2)  # page 1: APX=1 AP=01: priv RO
    m.word(0xA000 + 4 * 2, 0)                                  # page 2: fault
    cpu.cp15.dacr = 1 | (1 << 4)  # domains 0 and 2 client
    cpu.tlb_flush_all()
    m.word(0x2010, 0xCAFE)
    m.load(0x1000, "mov r1, #0x30000000\n ldr r0, [r1, #0x10]")
    cpu.regs[15] = 0x1000
    m.run_to(0x1008)
    assert cpu.regs[0] == 0xCAFE
    _fault(m, "mov r1, #0x30000000\n add r1, r1, #0x2000\n ldr r0, [r1]")
    assert cpu.cp15.dfsr == 0x027 and cpu.cp15.dfar == 0x30002000  # translation, page, domain 2
    cpu.write_cpsr(0x1D3, 0xFFFFFFFF)
    _fault(m, "mov r1, #0x30000000\n add r1, r1, #0x1000\n str r0, [r1, #4]")
    assert cpu.cp15.dfsr == 0x82F and cpu.cp15.dfar == 0x30001004  # permission, page, WnR


def _split_pages(m):
    """VA 0x30000000-0x30003fff as four small pages, none next to another in physical
    memory: RW at PA 0x4000, RW at 0x6000, privileged read-only at 0x7000, a fault."""
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0xA000 | 1)
    m.word(0xA000, 0x4000 | (3 << 4) | 2)
    m.word(0xA004, 0x6000 | (3 << 4) | 2)
    m.word(0xA008, 0x7000 | (1 << 9) | (1 << 4) | 2)
    m.word(0xA00C, 0)
    for pa in (0x4FF0, 0x4FF4, 0x4FF8, 0x4FFC, 0x5000, 0x5004, 0x6000, 0x6004, 0x6FF8, 0x6FFC):
        m.word(pa, pa | 0xA0000000)
    m.cpu.tlb_flush_all()


def test_ldm_stm_of_words_in_two_pages(m):
    """LDM/STM read and write their words through each word's own page (the words of
    one page go as one access)."""
    cpu = m.cpu
    _split_pages(m)
    m.load(0x1000, """
        mov r1, #0x30000000
        ldr r0, [r1]             @ both TLB entries filled
        str r0, [r1]
        add r1, r1, #0xff0
        ldmia r1, {r2-r5}        @ the last words of page 0
        add r1, r1, #8
        ldmia r1, {r6-r9}        @ two words in page 0, two in page 1
        stmdb r1, {r6-r9}        @ 0x30000ff8 - 16: in page 0
        mov r10, #0x11
        mov r11, #0x22
        mov r12, #0x33
        mov r0, #0x44
        stmia r1, {r0, r10-r12}  @ two and two again
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1038)
    assert cpu.regs[2:6] == [0xA0004FF0, 0xA0004FF4, 0xA0004FF8, 0xA0004FFC]
    assert cpu.regs[6:10] == [0xA0004FF8, 0xA0004FFC, 0xA0006000, 0xA0006004]
    assert [m.read_word(0x4FE8 + 4 * i) for i in range(4)] == cpu.regs[6:10]
    assert [m.read_word(a) for a in (0x4FF8, 0x4FFC, 0x6000, 0x6004)] == [0x44, 0x11, 0x22, 0x33]
    assert m.read_word(0x5000) == 0xA0005000 and m.read_word(0x5004) == 0xA0005004


def test_ldm_stm_across_pages_in_the_tlb_keep_byte_order_and_code(m):
    """LDM/STM over a page end whose pages are both in the TLB: the words go straight to
    RAM in the data byte order (SETEND BE), and a word over translated code still drops
    that code."""
    cpu = m.cpu
    _split_pages(m)
    m.load(0x6000, "mov r0, #1\n bx lr")      # VA 0x30001000: code, run once below
    m.load(0x1000, """
        mov r1, #0x30000000
        ldr r0, [r1]
        str r0, [r1]
        add r8, r1, #0x1000
        blx r8                   @ translates the code at PA 0x6000
        mov r9, r0
        add r1, r1, #0xf00
        add r1, r1, #0xf8
        ldr r2, =0xe3a00002      @ mov r0, #2
        ldr r3, =0xe12fff1e      @ bx lr
        stmia r1, {r2, r3}       @ over the end of page 0: both in the TLB
        stmia r1, {r2, r3, r4, r5}  @ two words in each page, over the code
        blx r8
        mov r10, r0
        setend be
        ldmia r1, {r4-r7}
        stmia r1, {r4-r7}
        setend le
        ldmia r1, {r11, r12}
    """)
    cpu.regs[4], cpu.regs[5] = 0xE3A00002, 0xE12FFF1E
    cpu.regs[15] = 0x1000
    m.run_to(0x104C)
    assert (cpu.regs[9], cpu.regs[10]) == (1, 2)
    assert cpu.regs[4:8] == [0x0200A0E3, 0x1EFF2FE1, 0x0200A0E3, 0x1EFF2FE1]
    words = [m.read_word(a) for a in (0x4FF8, 0x4FFC, 0x6000, 0x6004)]
    assert words == [0xE3A00002, 0xE12FFF1E] * 2
    assert (cpu.regs[11], cpu.regs[12]) == (0xE3A00002, 0xE12FFF1E)


def test_stm_faulting_in_its_second_page_has_written_the_first(m):
    cpu = m.cpu
    _split_pages(m)
    _fault(m, """
        mov r1, #0x30000000
        add r1, r1, #0x1f00
        add r1, r1, #0xf8
        mov r2, #1
        mov r3, #2
        mov r4, #3
        mov r5, #4
        stmia r1!, {r2-r5}
    """)
    assert cpu.cp15.dfsr == 0x80F and cpu.cp15.dfar == 0x30002000  # permission, page, WnR
    assert cpu.regs[14] == 0x101C + 8
    assert m.read_word(0x6FF8) == 1 and m.read_word(0x6FFC) == 2
    cpu.write_cpsr(0x1D3, 0xFFFFFFFF)
    _fault(m, """
        mov r1, #0x30000000
        add r1, r1, #0x2f00
        add r1, r1, #0xf8
        mov r2, #9
        ldmia r1!, {r2-r5}
    """)
    assert cpu.cp15.dfsr == 0x007 and cpu.cp15.dfar == 0x30003000  # translation, page
    assert cpu.regs[1] == 0x30002FF8 and cpu.regs[2] == 9  # no writeback, no register loaded


def test_domain_fault(m):
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, (3 << 10) | (5 << 5) | 2)  # domain 5: no access
    m.cpu.tlb_flush_all()
    _fault(m, "mov r1, #0x30000000\n ldr r0, [r1]")
    assert m.cpu.cp15.dfsr == 0x059


def test_manager_domain_ignores_permissions(m):
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, (5 << 5) | 2)  # AP=0: no access for clients
    m.cpu.cp15.dacr = 1 | (3 << 10)            # domain 5 manager
    m.cpu.tlb_flush_all()
    m.load(0x1000, "mov r1, #0x30000000\n mov r0, #9\n add r1, r1, #0x2000\n str r0, [r1]")
    m.cpu.regs[15] = 0x1000
    m.run_to(0x1010)
    assert m.read_word(0x2000) == 9


def test_permission_fault_user_on_privileged_section(m):
    cpu = m.cpu
    mmu_on(m, ap=1)  # priv RW, user none
    _fault(m, "mov r1, #0x2000\n ldrt r0, [r1]")
    assert cpu.cp15.dfsr == 0x00D and cpu.cp15.dfar == 0x2000


def test_alignment_fault_when_sctlr_a(m):
    cpu = m.cpu
    m.load(0x1000, "mov r1, #0x2001\n ldr r0, [r1]")
    cpu.regs[15] = 0x1000
    m.word(0x2000, 0x44332211)
    m.word(0x2004, 0x88776655)
    m.run_to(0x1008)
    assert cpu.regs[0] == 0x55443322  # unaligned load allowed with SCTLR.A = 0
    cpu.cp15.sctlr |= 2
    cpu.tlb_flush_all()
    _fault(m, "mov r1, #0x2001\n ldr r0, [r1]")
    assert cpu.cp15.dfsr == 0x001 and cpu.cp15.dfar == 0x2001


def test_ldrd_and_ldm_need_alignment(m):
    cpu = m.cpu
    _fault(m, "mov r1, #0x2002\n ldrd r2, r3, [r1]")
    assert cpu.cp15.dfsr == 0x001 and cpu.cp15.dfar == 0x2002


def test_access_flag_fault_with_afe(m):
    cpu = m.cpu
    mmu_on(m)
    cpu.cp15.sctlr |= 1 << 29
    m.word(0x8000 + 4 * 0x300, (2 << 10) | 2)  # AP[0] = 0: access flag clear
    cpu.tlb_flush_all()
    _fault(m, "mov r1, #0x30000000\n ldr r0, [r1]")
    assert cpu.cp15.dfsr == 0x003


def test_prefetch_abort_on_xn(m):
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, (3 << 10) | (1 << 4) | 2)  # XN, maps PA 0
    cpu.tlb_flush_all()
    _fault(m, "ldr r0, =0x30002000\n bx r0", vector=0x0C)
    assert cpu.cp15.ifsr == 0x00D and cpu.cp15.ifar == 0x30002000 and cpu.regs[14] == 0x30002004


def test_ats1cpr_writes_par(m):
    cpu = m.cpu
    mmu_on(m)
    m.word(0x8000 + 4 * 0x300, 0x00100C02)
    cpu.tlb_flush_all()
    m.load(0x1000, """
        ldr r0, =0x30001234
        mcr p15, 0, r0, c7, c8, 0
        mrc p15, 0, r1, c7, c4, 0
        ldr r0, =0x50000000
        mcr p15, 0, r0, c7, c8, 0
        mrc p15, 0, r2, c7, c4, 0
    """)
    m.word(0x8000 + 4 * 0x500, 0)
    cpu.regs[15] = 0x1000
    m.run_to(0x1018)
    assert cpu.regs[1] == 0x00101000 and cpu.regs[2] & 1


# --- exclusives, code coherence ------------------------------------------------------------

def test_exclusive_monitor(m):
    cpu = m.cpu
    m.word(0x2000, 5)
    m.load(0x1000, """
        mov r1, #0x2000
        ldrex r0, [r1]
        add r0, r0, #1
        strex r2, r0, [r1]
        strex r3, r0, [r1]
        ldrex r0, [r1]
        clrex
        strex r4, r0, [r1]
        ldrex r0, [r1]
        strex r5, r0, [r1]
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1028)
    assert m.read_word(0x2000) == 6
    assert (cpu.regs[2], cpu.regs[3], cpu.regs[4], cpu.regs[5]) == (0, 1, 1, 0)


def test_exclusive_store_after_the_value_changed_fails(m):
    """STREX compares the monitored word with what LDREX read, in the block's fast path
    (the TLB maps the page) as in the helper (after the monitor's page left the TLB)."""
    cpu = m.cpu
    m.word(0x2000, 5)
    m.load(0x1000, """
        mov r1, #0x2000
        mov r6, #9
        ldrex r0, [r1]
        str r6, [r1]
        strex r2, r0, [r1]
        ldrex r0, [r1]
        strexb r3, r6, [r1]
        ldrexh r0, [r1]
        strexh r4, r6, [r1]
        ldrexb r0, [r1]
        mcr p15, 0, r0, c8, c7, 0   @ TLBIALL: STREX takes the helper
        strexb r5, r1, [r1]
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x1030)
    assert (cpu.regs[2], cpu.regs[3], cpu.regs[4], cpu.regs[5]) == (1, 0, 0, 0)
    assert m.read_word(0x2000) == 0  # the last STREXB stored r1's low byte


def test_self_modifying_code(m):
    cpu = m.cpu
    m.load(0x1000, """
        mov r0, #0
        ldr r1, =0xe2800005    @ add r0, r0, #5
        mov r2, #0x1100
        bl 0x1100
        str r1, [r2]
        isb                     @ the architecture's requirement; ends our block
        bl 0x1100
        b .
    """)
    m.load(0x1100, "add r0, r0, #1\n bx lr")
    cpu.regs[15] = 0x1000
    cpu.run(20)
    assert cpu.regs[0] == 6


def test_dma_write_invalidates_code(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n b .")
    cpu.regs[15] = 0x1000
    cpu.run(10)
    assert cpu.regs[0] == 1
    m.load(0x1000, "mov r0, #2\n b .")
    cpu.regs[15] = 0x1000
    cpu.run(10)
    assert cpu.regs[0] == 2


def test_a_guest_store_beside_code_keeps_its_blocks(m, monkeypatch):
    """A loop storing into its own page, next to its code (as Linux patches its text):
    the stores leave the loop's block translated, and the result is right."""
    from pysystem.cpu.engine import cpu as cpu_module
    translated = []
    translate = cpu_module.translate
    monkeypatch.setattr(cpu_module, "translate",
                        lambda *a, **k: translated.append(a[1]) or translate(*a, **k))
    cpu = m.cpu
    m.load(0x1000, """
        mov r2, #0x1800
        mov r0, #0
    loop:
        add r0, r0, #1
        str r0, [r2], #4
        cmp r0, #40
        bne loop
        b .
    """)
    cpu.regs[15] = 0x1000
    cpu.run(40 * 4 + 2)
    assert cpu.regs[0] == 40 and m.read_word(0x1800 + 39 * 4) == 40
    assert 1 in cpu.code_pages and len(translated) <= 3  # not one translation per store


def test_stores_to_a_code_page_drop_only_the_blocks_they_overlap(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n bx lr")
    m.load(0x1400, "mov r0, #2\n bx lr")
    m.load(0x2000, "b .")
    for pc in (0x1000, 0x1400):
        cpu.regs[14] = 0x2000
        cpu.regs[15] = pc
        cpu.run(3)
    first, second = (next(b for b in cpu.tbs.values() if b.key & 0xFFFFFFFF == pc)
                     for pc in (0x1000, 0x1400))
    m.word(0x1800, 0x12345678)   # data beside the code
    assert first in cpu.tbs.values() and second in cpu.tbs.values()
    m.word(0x1404, 0xE12FFF1E)   # over the second block's code: bx lr, the same again
    assert first in cpu.tbs.values() and second not in cpu.tbs.values()
    m.load(0x1000, "mov r0, #3\n bx lr")
    cpu.regs[14] = 0x2000
    cpu.regs[15] = 0x1000
    cpu.run(3)
    assert cpu.regs[0] == 3


def test_a_code_page_taking_many_stores_beside_its_code_is_dropped(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n b .")
    cpu.regs[15] = 0x1000
    cpu.run(5)
    assert 1 in cpu.code_pages
    for i in range(cpu.CODE_PAGE_MISSES - 1):
        m.word(0x1800, i)
    assert 1 in cpu.code_pages and cpu.tbs
    m.word(0x1800, 0)
    assert 1 not in cpu.code_pages and not cpu.tbs


def test_a_full_block_cache_drops_the_oldest_blocks_not_in_use(m, monkeypatch):
    cpu = m.cpu
    m.load(0x1000, _many_blocks())
    m.load(0x3000, "mov r5, #0\n again: adr r3, next\n bx r3\n next: add r5, r5, #1\n"
                   " adr r3, again\n bx r3")
    cpu.regs[15] = 0x1000
    cpu.run(20000)
    old = list(cpu.tbs)   # oldest first
    cpu.jc_clear()   # as a TLB flush does: none of these blocks is in use now
    monkeypatch.setattr(type(cpu), "TB_LIMIT", len(old) + 1)
    cpu.regs[15] = 0x3000
    cpu.run(1000)
    assert cpu.regs[5] == 200   # 5 instructions a pass
    assert len([ck for ck in cpu.tbs if ck[0] & 0xFFFFF000 == 0x3000]) == 3
    dropped = [ck for ck in old if ck not in cpu.tbs]
    assert dropped == old[:len(dropped)] and 0 < len(dropped) <= (len(old) + 1) // 4


def test_blocks_looked_up_since_the_last_eviction_are_dropped_last(m, monkeypatch):
    cpu = m.cpu
    m.load(0x1000, _many_blocks())
    m.load(0x3000, "again: adr r3, next\n bx r3\n next: adr r3, again\n bx r3")
    cpu.regs[15] = 0x1000
    cpu.run(20000)
    old = list(cpu.tbs)   # oldest first
    cpu.tb_generation = 1   # as after an eviction, since which only these were looked up:
    for ck in old[:5]:
        cpu.tbs[ck].used = 1
    cpu.jc_clear()
    monkeypatch.setattr(type(cpu), "TB_LIMIT", len(old) + 1)
    cpu.regs[15] = 0x3000
    cpu.run(100)
    dropped = [ck for ck in old if ck not in cpu.tbs]
    assert dropped == old[5:5 + (len(old) + 1) // 4]


# --- execution control, state --------------------------------------------------------------

def _many_blocks() -> str:
    """40 blocks, each ending in an indirect branch, run 50 times over."""
    body = "".join(f"b{i}: add r0, r0, #{i + 1}\n adr r3, b{i + 1}\n bx r3\n" for i in range(40))
    return f"mov r0, #0\n mov r1, #50\n top:\n{body} b40: subs r1, r1, #1\n bne top\n b ."


def test_a_full_block_cache_drops_old_blocks_with_the_same_results(m, monkeypatch):
    cpu = m.cpu
    m.load(0x1000, _many_blocks())
    cpu.regs[15] = 0x1000
    whole = cpu.run(20000)
    expected = (cpu.regs[0], cpu.regs[15], whole)
    assert len(cpu.tbs) > 40

    small = Machine()
    small.load(0x1000, _many_blocks())
    monkeypatch.setattr(type(small.cpu), "TB_LIMIT", 8)
    small.cpu.regs[15] = 0x1000
    seen = []
    register = small.cpu.register_block

    def watching(ck, blk):
        register(ck, blk)
        seen.append(len(small.cpu.tbs))

    monkeypatch.setattr(small.cpu, "register_block", watching)
    done = small.cpu.run(20000)
    assert (small.cpu.regs[0], small.cpu.regs[15], done) == expected
    assert max(seen) == 8 and seen.count(8) > 1   # it filled up and dropped blocks



def test_instruction_count_is_exact(m):
    cpu = m.cpu
    m.load(0x1000, "loop: add r0, r0, #1\n add r1, r1, #1\n b loop")
    cpu.regs[15] = 0x1000
    total = 0
    for budget in (1, 5, 7, 100):
        total += cpu.run(budget)
    assert cpu.clock.icount == total
    assert cpu.regs[0] + cpu.regs[1] + (total - cpu.regs[0] - cpu.regs[1]) == total
    assert cpu.regs[0] == (total + 2) // 3


def test_single_step(m):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n mov r0, #2\n mov r0, #3")
    cpu.regs[15] = 0x1000
    assert cpu.single_step() == 1 and cpu.regs[0] == 1 and cpu.regs[15] == 0x1004
    assert cpu.single_step() == 1 and cpu.regs[0] == 2


def test_snapshot_round_trip_is_deterministic(m):
    cpu = m.cpu
    m.load(0x1000, """
        mov r1, #0x2000
    loop:
        ldr r0, [r1]
        adds r0, r0, r2, ror #3
        str r0, [r1], #4
        eor r2, r2, r0
        bic r1, r1, #0x100
        b loop
    """)
    cpu.regs[15] = 0x1000
    cpu.run(1000)
    state = cpu.save_state()
    ram = bytes(m.ram.data)
    cpu.run(5000)
    after = (cpu.save_state(), bytes(m.ram.data))
    cpu.load_state(state)
    m.ram.data[:] = ram
    cpu.run(5000)
    assert (cpu.save_state(), bytes(m.ram.data)) == after
    assert cpu.save_state()["cpsr"] == cpu.cpsr


def test_exec_and_in_asm_logging(m, monkeypatch):
    cpu = m.cpu
    m.load(0x1000, "mov r0, #1\n b .")
    cpu.regs[15] = 0x1000
    buf = io.StringIO()
    monkeypatch.setattr(log, "_out", buf)
    log.set_mask("in_asm,exec,cpu,int")
    try:
        cpu.run(3)
    finally:
        log.set_mask("")
    err = buf.getvalue()
    assert "IN: \n0x00001000:  e3a00001  mov" in err
    assert "Trace 0: " in err and "[00000000/00001000/" in err
    assert "R00=00000000" in err


def test_smc_enters_monitor_mode(m):
    cpu = m.cpu
    cpu.cp15.mvbar = 0x3000
    m.word(0x1000, 0xE1600070)  # smc #0 (keystone lacks the feature)
    cpu.regs[15] = 0x1000
    cpu.single_step()
    assert cpu.mode == 0x16 and cpu.regs[15] == 0x3008 and cpu.regs[14] == 0x1004
    assert cpu.cpsr & 0x1C0 == 0x1C0


def test_setend_big_endian_data(m):
    cpu = m.cpu
    m.word(0x2000, 0x11223344)
    m.load(0x1000, """
        mov r1, #0x2000
        setend be
        ldr r0, [r1]
        ldrh r2, [r1]
        str r0, [r1, #4]
        setend le
        ldr r3, [r1, #4]
    """)
    cpu.regs[15] = 0x1000
    m.run_to(0x101C)
    assert cpu.regs[0] == 0x44332211 and cpu.regs[2] == 0x4433 and cpu.regs[3] == 0x11223344
    assert not cpu.cpsr & (1 << 9)


def test_loop_block_counts_exactly(m):
    """A self-looping block runs inside one call but counts every pass, and stops at
    the budget."""
    cpu = m.cpu
    m.load(0x1000, "mov r0, #0\n loop: add r0, r0, #1\n cmp r0, #1000\n bne loop\n b .")
    cpu.regs[15] = 0x1000
    n = cpu.run(301)
    assert n == cpu.clock.icount and n - 301 < 3
    cpu.run(10000)
    assert cpu.regs[0] == 1000
    assert cpu.clock.icount >= 1 + 3 * 1000


def test_predicated_and_side_exit_counts(m):
    cpu = m.cpu
    m.load(0x1000, """
        mov r0, #5
        cmp r0, #5
        beq l1
        add r1, r1, #1
        add r1, r1, #1
    l1: cmp r0, #4
        bne l2
    """ + "        mov r2, #9\n" * 25 + """
    l2: b .
    """)
    cpu.regs[15] = 0x1000
    cpu.run(1)
    assert cpu.regs[15] == 0x1080 and cpu.clock.icount == 5 and cpu.regs[1] == 0  # mov cmp beq cmp bne


def test_load_to_pc_interworks(m):
    cpu = m.cpu
    m.word(0x2000, 0x3001)  # Thumb code at 0x3000
    m.load(0x3000, "movs r0, #5\n b .", thumb=True)
    m.load(0x1000, "mov r1, #0x2000\n ldr pc, [r1]")
    cpu.regs[15] = 0x1000
    m.run_to(0x3002)
    assert cpu.thumb == 1 and cpu.regs[0] == 5 and cpu.cpsr & 0x20


def test_exception_entry_in_thumb_with_sctlr_te(m):
    cpu = m.cpu
    cpu.cp15.sctlr |= 1 << 30
    m.load(0x1000, "svc #0")
    cpu.regs[15] = 0x1000
    cpu.run(1)
    assert cpu.thumb == 1 and cpu.mode == SVC and cpu.regs[14] == 0x1004


def test_exception_loop_returns(m):
    """A vector that faults itself makes no progress; run() must still return."""
    cpu = m.cpu
    cpu.cp15.vbar = 0x20000000  # nothing there: every vector fetch aborts
    m.load(0x1000, "udf #0")
    cpu.regs[15] = 0x1000
    assert cpu.run(1000) == 0
    assert cpu.mode == ABT


SKIP_OVER_BLOCK_END = """
    cmp r0, #0
    beq skip          @ predicated: the region below holds the block's end
    add r1, r1, #1
    b far             @ ends the block inside the region
    add r2, r2, #1
skip:
    add r3, r3, #1
    bx lr
far:
    add r4, r4, #1
    bx lr
done:
    b done
"""


@pytest.mark.parametrize("r0", [0, 1])
def test_forward_branch_over_a_block_end_counts_what_ran(r0):
    """A conditional forward branch whose skipped instructions hold the block's end:
    the path that takes it counts only the instructions it ran (it counted the whole
    skipped run, more than the block holds, before the engine corrected it)."""
    counts = []
    for step in (True, False):
        m = Machine()
        m.load(0x1000, SKIP_OVER_BLOCK_END)
        done = 0x1000 + 4 * 9
        m.cpu.regs[15], m.cpu.regs[0], m.cpu.regs[14] = 0x1000, r0, done
        n = 0
        while m.cpu.regs[15] != done:
            n += m.cpu.single_step() if step else m.cpu.run(1)
        counts.append((n, m.cpu.clock.icount, m.cpu.regs[1:5]))
    assert counts[0] == counts[1]
    assert counts[0][0] == (4 if r0 == 0 else 6)


def test_performance_monitors(m):
    """PMCR/PMCNTEN/PMXEV* as the guest reads them back, the cycle counter following the
    instruction count while enabled and frozen while not, and all of it in the snapshot
    (the registers live in cpu.pmu, pmu.py, but are the CPU's snapshot fields)."""
    cpu = m.cpu
    m.load(0x1000, """
        mrc p15, 0, r0, c9, c12, 0      @ PMCR at reset
        mov r1, #1
        mcr p15, 0, r1, c9, c12, 0      @ PMCR.E
        mov r1, #0x80000000
        orr r1, r1, #0x3
        mcr p15, 0, r1, c9, c12, 1      @ PMCNTENSET: cycle counter, counters 0-1
        mov r1, #1
        mcr p15, 0, r1, c9, c12, 5      @ PMSELR = 1
        mov r2, #0x11
        mcr p15, 0, r2, c9, c13, 1      @ PMXEVTYPER[1]
        mov r2, #0x1234
        mcr p15, 0, r2, c9, c13, 2      @ PMXEVCNTR[1]
        mrc p15, 0, r3, c9, c13, 1
        mrc p15, 0, r4, c9, c13, 2
        mrc p15, 0, r5, c9, c12, 1      @ PMCNTENSET
        mrc p15, 0, r6, c9, c13, 0      @ PMCCNTR
        nop
        nop
        mrc p15, 0, r7, c9, c13, 0
        mov r1, #0x80000000
        mcr p15, 0, r1, c9, c12, 2      @ PMCNTENCLR: the cycle counter stops
        mrc p15, 0, r8, c9, c13, 0
        nop
        mrc p15, 0, r9, c9, c13, 0
        b .
    """)
    cpu.regs[15] = 0x1000
    end = 0x1000 + 4 * 24
    m.run_to(end)
    r = cpu.regs
    assert r[0] == 0x41093000
    assert (r[3], r[4], r[5]) == (0x11, 0x1234, 0x80000003)
    assert r[7] - r[6] == 3            # mrc, nop, nop later
    assert r[9] == r[8]                # stopped
    state = cpu.save_state()
    assert state["pmevcntr"][1] == 0x1234 and state["pmcnten"] == 3
    cpu.pmu.pmevcntr[1] = 0
    cpu.load_state(state)
    assert cpu.pmevcntr[1] == 0x1234 and cpu.pmu.pmevtyper[1] == 0x11
    cpu.reset()
    assert cpu.pmcr == 0x41093000 and cpu.pmu.pmevcntr == [0] * 6
