"""Directed tests of the MIPS CPU's system side on the small machine of mips_machine.py:
exceptions and their vectors, delay slots, the TLB and its faults, user mode, the
timer interrupt, code coherence, model differences.  Both byte orders."""
from __future__ import annotations

import pytest

from mips_machine import Machine

from pysystem.cpu.mips import exceptions as exc

EBASE = 0x80000000
HANDLER_END = 0x80000F00   # handlers branch here when done


@pytest.fixture(params=[False, True], ids=["el", "eb"])
def m(request):
    return Machine(big_endian=request.param)


def kernel(m, status=0):
    """Leave the reset state: kernel mode, BEV=ERL=0 (vectors at EBase); start at
    0x80001000."""
    m.cpu.cp0.status = status
    m.cpu.cp0_status_written(0)
    m.cpu.pc = 0x80001000


def excode(m):
    return (m.cpu.cp0.cause >> 2) & 0x1F


STOP = "1: b 1b\n nop\n"


def test_reset_state(m):
    cpu = m.cpu
    assert cpu.pc == 0xBFC00000
    assert cpu.cp0.status == 0x00400004
    assert cpu.cp0.config0 == 0x80000482 | (0x8000 if m.be else 0)
    assert cpu.model.config1 == 0x9E190C8F
    assert cpu.model.prid == 0x00019300
    assert cpu.cp0.ebase == 0x80000000
    assert cpu.cp0.intctl == 0xE0000000


def test_syscall_and_eret(m):
    kernel(m)
    m.load(EBASE + 0x180, "mfc0 $26, $14\n addiu $26, $26, 4\n mtc0 $26, $14\n li $2, 42\n eret\n nop")
    end = m.load(0x80001000, "syscall\n li $3, 7\n") 
    m.load(end, STOP)
    m.run_to(end)
    assert m.cpu.regs[2] == 42 and m.cpu.regs[3] == 7
    assert excode(m) == exc.EXC_SYS
    assert m.cpu.cp0.epc == 0x80001004
    assert not m.cpu.cp0.status & 2  # EXL cleared by eret


def test_exception_in_delay_slot_reports_the_branch(m):
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n mfc0 $5, $13\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, "li $6, 1\n beq $6, $6, 2f\n break\n nop\n2: nop\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[4] == 0x80001004
    assert m.cpu.regs[5] & (1 << 31)
    assert (m.cpu.regs[5] >> 2) & 0x1F == exc.EXC_BP


def test_overflow_and_trap(m):
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n mfc0 $5, $13\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, "li $8, 0x7fffffff\n li $2, 5\n add $2, $8, $8\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[2] == 5  # not written
    assert m.cpu.regs[4] == 0x80001008 + 4 and (m.cpu.regs[5] >> 2) & 0x1F == exc.EXC_OV
    m.cpu.cp0.status &= ~2
    m.load(0x80002000, "li $8, 3\n teqi $8, 3\n")
    m.cpu.pc = 0x80002000
    m.run_to(HANDLER_END)
    assert (m.cpu.regs[5] >> 2) & 0x1F == exc.EXC_TR and m.cpu.regs[4] == 0x80002004


def test_unaligned_load_is_an_address_error(m):
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $8\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, "li $8, 0x80010001\n lw $2, 0($8)\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_ADEL and m.cpu.regs[4] == 0x80010001
    m.cpu.cp0.status &= ~2
    m.load(0x80002000, "li $8, 0x80010002\n sw $2, 0($8)\n")
    m.cpu.pc = 0x80002000
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_ADES and m.cpu.regs[4] == 0x80010002


TLB_SETUP = """
    li $8, {hi:#x}
    mtc0 $8, $10        # EntryHi: VPN2 | ASID
    li $8, {lo0:#x}
    mtc0 $8, $2         # EntryLo0
    li $8, {lo1:#x}
    mtc0 $8, $3         # EntryLo1
    mtc0 $0, $5         # PageMask: 4 KiB
    li $8, {index}
    mtc0 $8, $0         # Index
    tlbwi
"""


def _lo(pa, d=1, v=1, g=0):
    return ((pa >> 12) << 6) | (3 << 3) | (d << 2) | (v << 1) | g


def test_tlb_refill_uses_the_refill_vector_and_fills_context(m):
    kernel(m)
    m.cpu.cp0.entryhi = 0x17
    m.cpu.cp0.context = 0x80800000
    m.load(EBASE, f"mfc0 $4, $8\n mfc0 $5, $4\n mfc0 $6, $10\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, "li $8, 0x00403004\n lw $2, 0($8)\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_TLBL
    assert m.cpu.regs[4] == 0x00403004
    assert m.cpu.regs[5] == 0x80800000 | ((0x00403004 >> 9) & 0x7FFFF0)
    assert m.cpu.regs[6] == 0x00402000 | 0x17


def test_tlb_refill_with_exl_goes_to_the_general_vector(m):
    kernel(m, status=2)  # EXL: kernel mode, and a refill takes the general vector
    m.cpu.cp0.epc = 0x12345678
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, "li $8, 0x00403004\n sw $2, 0($8)\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_TLBS
    assert m.cpu.regs[4] == 0x12345678  # EPC unchanged under EXL


def test_tlb_maps_by_asid_and_switching_asid_keeps_pages(m):
    kernel(m)
    m.word(0x80050010, 0x11111111)
    m.word(0x80051010, 0x22222222)
    m.load(EBASE, f"mfc0 $4, $8\n j {HANDLER_END:#x}\n nop")
    setup = TLB_SETUP.format(hi=0x00400005, lo0=_lo(0x50000), lo1=_lo(0x51000), index=3)
    m.load(0x80001000, setup + """
        li $9, 0x00400010
        lw $2, 0($9)
        lw $3, 0x1000($9)
        li $8, 6
        mtc0 $8, $10        # ASID 6: no mapping
        li $8, 5
        mtc0 $8, $10        # back to ASID 5
        lw $10, 0($9)
        li $8, 0x00400005
        mtc0 $8, $10
        tlbp
        mfc0 $11, $0
        li $8, 6
        mtc0 $8, $10
        lw $12, 0($9)       # refill
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    r = m.cpu.regs
    assert (r[2], r[3], r[10]) == (0x11111111, 0x22222222, 0x11111111)
    assert r[11] == 3
    assert r[4] == 0x00400010 and excode(m) == exc.EXC_TLBL


def test_tlb_read_back_and_probe_miss(m):
    kernel(m)
    setup = TLB_SETUP.format(hi=0x7FFFE0AB, lo0=_lo(0x50000, g=1), lo1=_lo(0x51000, d=0, g=1),
                             index=9)
    end = m.load(0x80001000, setup + """
        mtc0 $0, $10
        mtc0 $0, $2
        li $8, 9
        mtc0 $8, $0
        tlbr
        mfc0 $2, $10
        mfc0 $3, $2
        mfc0 $4, $3
        li $8, 0x00800000
        mtc0 $8, $10
        tlbp
        mfc0 $5, $0
    """)
    m.load(end, STOP)
    m.run_to(end)
    r = m.cpu.regs
    assert r[2] == 0x7FFFE0AB
    assert r[3] == _lo(0x50000, g=1) and r[4] == _lo(0x51000, d=0, g=1)
    assert r[5] & 0x80000000


def test_store_to_clean_page_is_tlb_modified_and_invalid_is_tlbl(m):
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $8\n j {HANDLER_END:#x}\n nop")
    setup = TLB_SETUP.format(hi=0x00400000, lo0=_lo(0x50000, d=0), lo1=_lo(0x51000, v=0), index=0)
    m.load(0x80001000, setup + "li $9, 0x00400020\n lw $2, 0($9)\n sw $2, 0($9)\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_MOD and m.cpu.regs[4] == 0x00400020
    m.cpu.cp0.status &= ~2
    m.load(0x80002000, "li $9, 0x00401020\n lw $2, 0($9)\n")
    m.cpu.pc = 0x80002000
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_TLBL and m.cpu.regs[4] == 0x00401020


def _enter_user(m, user_code: str, hwrena=0):
    """Map 0x00400000 (global) to physical 0x40000, put ``user_code`` there and eret to it."""
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n mfc0 $5, $13\n mfc0 $6, $8\n j {HANDLER_END:#x}\n nop")
    setup = TLB_SETUP.format(hi=0x00400000, lo0=_lo(0x40000, g=1), lo1=_lo(0x41000, g=1), index=1)
    m.load(0x80040000, user_code)  # physical 0x40000 = user 0x00400000
    m.load(0x80001000, setup + f"""
        li $8, {hwrena}
        mtc0 $8, $7
        li $8, 0x00400000
        mtc0 $8, $14
        li $8, 0x12         # KSU = user, EXL
        mtc0 $8, $12
        eret
        nop
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)


def test_user_mode_faults(m):
    _enter_user(m, "li $2, 1\n li $8, 0x80000000\n lw $3, 0($8)\n")
    assert m.cpu.regs[2] == 1
    assert excode(m) == exc.EXC_ADEL and m.cpu.regs[4] == 0x00400008 and m.cpu.regs[6] == 0x80000000


def test_user_mode_cp0_is_unusable(m):
    _enter_user(m, "mfc0 $2, $12\n")
    assert excode(m) == exc.EXC_CPU and (m.cpu.cp0.cause >> 28) & 3 == 0


def test_rdhwr_userlocal_is_reserved_on_24kf(m):
    _enter_user(m, "rdhwr $3, $29\n", hwrena=0xF)
    assert excode(m) == exc.EXC_RI and m.cpu.regs[4] == 0x00400000


def test_rdhwr_needs_hwrena_in_user_mode(m):
    _enter_user(m, "rdhwr $3, $1\n li $7, 9\n rdhwr $3, $0\n", hwrena=0x2)
    assert m.cpu.regs[3] == 32 and m.cpu.regs[7] == 9
    assert excode(m) == exc.EXC_RI and m.cpu.regs[4] == 0x00400008


def test_timer_interrupt_vectored(m):
    kernel(m)
    m.cpu.cp0.cause = 1 << 23  # IV: interrupts at +0x200
    m.load(EBASE + 0x200, f"mfc0 $4, $13\n mfc0 $5, $14\n mtc0 $0, $11\n mfc0 $6, $13\n"
                          f" j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, """
        mfc0 $8, $9
        addiu $8, $8, 200
        mtc0 $8, $11        # Compare = Count + 200
        li $8, 0x8001       # IM7, IE
        mtc0 $8, $12
    2:  b 2b
        addiu $9, $9, 1
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[4] & (1 << 30) and m.cpu.regs[4] & (1 << 15)   # TI, IP7
    assert not m.cpu.regs[6] & (1 << 30)   # a Compare write clears TI
    assert m.cpu.regs[9] > 0


def test_wait_sleeps_until_the_timer(m):
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $5, $14\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, """
        mfc0 $8, $9
        li $9, 100000
        addu $8, $8, $9
        mtc0 $8, $11
        li $8, 0x8001
        mtc0 $8, $12
        wait
        nop
    """)
    m.load(HANDLER_END, STOP)
    n = m.run_to(HANDLER_END)
    assert m.cpu.regs[5] == 0x80001020  # after the wait
    assert n < 1000                     # slept, not spun


def test_stores_over_code_retranslate(m):
    kernel(m)
    end = m.load(0x80001000, """
        li $2, 0
    3:  addiu $2, $2, 1      # patched below to addiu $2, $2, 0x100
        li $8, 0x24420100
        lui $9, 0x8000
        ori $9, $9, 0x1004
        lw $10, 0($9)
        bne $10, $8, 3b
        sw $8, 0($9)
    """)
    m.load(end, STOP)
    m.run_to(end)
    assert m.cpu.regs[2] == 0x101


def test_release_1_model_lacks_release_2_instructions():
    m = Machine(model="4Kc")
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n mfc0 $5, $13\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, "li $2, 1\n ext $3, $2, 0, 1\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert excode(m) == exc.EXC_RI and m.cpu.regs[4] == 0x80001004


def test_fpu_absent_is_coprocessor_unusable():
    m = Machine(model="4KEc")
    kernel(m)
    m.load(0x80000800, "lui $8, 0x2000\n mtc0 $8, $12\n mfc0 $9, $12\n")
    m.load(EBASE + 0x180, f"mfc0 $5, $13\n j {HANDLER_END:#x}\n nop")
    m.load(0x8000080c, "lwc1 $f0, 0($0)\n")
    m.load(HANDLER_END, STOP)
    m.cpu.pc = 0x80000800
    m.run_to(HANDLER_END)
    assert m.cpu.regs[9] == 0  # CU1 is not writable on a core without an FPU
    assert (m.cpu.regs[5] >> 2) & 0x1F == exc.EXC_CPU and (m.cpu.regs[5] >> 28) & 3 == 1


def test_di_ei_and_interrupt_on_ei(m):
    kernel(m)
    m.cpu.cp0.cause = 1 << 23
    m.load(EBASE + 0x200, f"mfc0 $5, $14\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, """
        li $8, 0x0100       # IM0 (software interrupt 0), IE=0
        mtc0 $8, $12
        mfc0 $8, $13
        ori $8, $8, 0x100   # raise IP0
        mtc0 $8, $13
        li $2, 1
        ei $3
        li $2, 2
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[2] == 1 and m.cpu.regs[3] == 0x100
    assert m.cpu.regs[5] == 0x8000101c


@pytest.mark.parametrize("likely", [False, True], ids=["bne", "bnel"])
def test_loop_blocks_count_exactly(m, likely):
    """A branch back to a block's start loops inside the block; the instruction count
    stays exact (2 + 100 passes of 3, the last slot nullified for bnel)."""
    kernel(m)
    m.load(0x80001000, f"""
        li $2, 0
        li $3, 100
    1:  addiu $2, $2, 1
        {'bnel' if likely else 'bne'} $2, $3, 1b
        addiu $4, $4, 1
    """ + STOP)
    end = 0x80001014  # the STOP loop (the assembler pads sections: m.load's end is past it)
    m.cpu.regs[4] = 0
    n = m.cpu.run(302)
    assert (n, m.cpu.pc, m.cpu.clock.icount) == (302, end, 302)
    assert m.cpu.regs[2] == 100
    assert m.cpu.regs[4] == (99 if likely else 100)


def test_fault_inside_a_loop_block_is_precise(m):
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $5, $14\n mfc0 $6, $8\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, """
        li $2, 0x80010000
        li $3, 0
    1:  lw $4, 0($2)
        addiu $3, $3, 1
        b 1b
        addiu $2, $2, 0x1000      # reaches unmapped kseg0 physical memory past 1 MiB
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END, limit=10000)
    assert excode(m) == exc.EXC_DBE or excode(m) == 7
    assert m.cpu.regs[2] == 0x80100000 and m.cpu.regs[3] == 0xF0
    assert m.cpu.regs[5] == 0x80001008


def test_supervisor_mode_segments(m):
    """Supervisor mode (KSU = 1) reaches kuseg and ksseg, not kseg0 (AdEL)."""
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n mfc0 $6, $8\n j {HANDLER_END:#x}\n nop")
    setup = TLB_SETUP.format(hi=0xC0000000, lo0=_lo(0x40000, g=1), lo1=_lo(0x41000, g=1), index=2)
    m.load(0x80040000, "lui $8, 0xc000\n lw $2, 0x10($8)\n lui $8, 0x8000\n lw $3, 0($8)\n")
    m.word(0x80040010, 0x5A5A5A5A)
    m.load(0x80001000, setup + """
        li $8, 0xc0000000
        mtc0 $8, $14
        li $8, 0x0a         # KSU = supervisor, EXL
        mtc0 $8, $12
        eret
        nop
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[2] == 0x5A5A5A5A   # through the ksseg mapping
    assert excode(m) == exc.EXC_ADEL and m.cpu.regs[6] == 0x80000000
    assert m.cpu.regs[4] == 0xC000000C


def test_vectored_interrupt_spacing_on_34kf():
    """IntCtl.VS spaces the interrupt vectors: the timer (IP7) enters at 0x200 + 7 * 32."""
    m = Machine(model="34Kf")
    kernel(m)
    m.cpu.cp0.cause = 1 << 23
    m.cpu.cp0.intctl = (m.cpu.cp0.intctl & ~0x3E0) | (1 << 5)   # VS = 1: 32 bytes
    m.load(EBASE + 0x2E0, f"mfc0 $4, $13\n j {HANDLER_END:#x}\n nop")
    m.load(0x80001000, """
        mfc0 $8, $9
        addiu $8, $8, 100
        mtc0 $8, $11
        li $8, 0x8001
        mtc0 $8, $12
    2:  b 2b
        nop
    """)
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[4] & (1 << 15)


def test_tlbwr_stays_above_wired(m):
    kernel(m)
    m.cpu.cp0.wired = 14
    m.cpu.cp0_wired_written(0)
    seen = {m.cpu.cp0_read_random(i) for i in range(50)}
    assert seen == {14, 15}


def test_single_step_takes_a_branch_with_its_slot(m):
    kernel(m)
    m.load(0x80001000, """
        li $2, 1
        beq $2, $2, 1f
        addiu $3, $0, 7
        addiu $3, $0, 9
    1:  addiu $4, $0, 5
    """)
    pcs = []
    for _ in range(3):
        pcs.append(m.cpu.pc)
        m.cpu.single_step()
    assert pcs == [0x80001000, 0x80001004, 0x80001010]
    assert m.cpu.pc == 0x80001014 and m.cpu.regs[3] == 7 and m.cpu.regs[4] == 5
    assert m.cpu.clock.icount == 4


def test_delay_slot_on_an_unmapped_page(m):
    """A branch on the last word of a page whose next page is invalid: the slot's fetch
    fault is the branch's (EPC = branch, BD, BadVAddr = the slot's address)."""
    kernel(m)
    m.load(EBASE + 0x180, f"mfc0 $4, $14\n mfc0 $5, $13\n mfc0 $6, $8\n j {HANDLER_END:#x}\n nop")
    setup = TLB_SETUP.format(hi=0x00400000, lo0=_lo(0x40000), lo1=_lo(0x41000, v=0), index=4)
    m.word(0x80040FF8, 0x24020003)   # li $2, 3      (virtual 0x00400ff8)
    m.word(0x80040FFC, 0x1000FFFF)   # b .           (its slot: virtual 0x00401000)
    m.load(0x80001000, setup + "li $8, 0x00400ff8\n jr $8\n nop\n")
    m.load(HANDLER_END, STOP)
    m.run_to(HANDLER_END)
    assert m.cpu.regs[2] == 3
    assert (m.cpu.regs[5] >> 2) & 0x1F == exc.EXC_TLBL and m.cpu.regs[5] & (1 << 31)
    assert m.cpu.regs[4] == 0x00400FFC and m.cpu.regs[6] == 0x00401000


SKIPS = {
    # the branch skips a run that holds the block's end (jr with its slot)
    "block end": ("beq $4, $0, 1f\n addiu $5, $5, 1\n addiu $6, $6, 1\n addiu $10, $10, 1\n"
                  " jr $31\n addiu $7, $7, 1\n addiu $8, $8, 1\n"
                  "1: addiu $9, $9, 1\n jr $31\n nop\n", (5, 6)),
    # a branch inside the skipped run has its delay slot at the run's end
    "slot at the end": ("beq $4, $0, 1f\n nop\n addiu $6, $6, 1\n bne $4, $0, 2f\n"
                        "1: addiu $9, $9, 1\n addiu $10, $10, 1\n2: jr $31\n nop\n", (6, 7)),
}


@pytest.mark.parametrize("case", sorted(SKIPS))
def test_forward_branches_kept_in_the_block_count_and_run_as_stepped(m, case):
    """A conditional branch forward in the page keeps both paths in one block: taken or
    not, blocks run what single steps run, with the same instruction count."""
    src, want = SKIPS[case]
    done = 0x80002000
    for a0 in (0, 1):
        seen = []
        for step in (True, False):
            mach = Machine(big_endian=m.cpu.big_endian)
            kernel(mach)
            mach.load(0x80001000, src)
            mach.load(done, STOP)
            mach.cpu.regs[4], mach.cpu.regs[31] = a0, done
            n = 0
            while mach.cpu.pc != done:
                n += mach.cpu.single_step() if step else mach.cpu.run(1)
            seen.append((n, mach.cpu.clock.icount, mach.cpu.regs[5:11]))
        assert seen[0] == seen[1], (a0, seen)
        assert seen[0][0] == want[a0]
