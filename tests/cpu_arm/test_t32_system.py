"""Directed tests of Thumb state: exceptions from Thumb code (return addresses, the IT
state saved in the SPSR and restored on return), IT blocks across block boundaries,
interrupts inside IT blocks, interworking (BLX to ARM, BX back), SRS/RFE and SUBS
PC, LR in their T32 forms, SETEND, and the encodings that are UNDEFINED on a Cortex-A9."""
from __future__ import annotations

import pytest

from machine import Machine

from pysystem.cpu.arm.cpu import ABT, IRQ, SVC, UND

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
CODE = 0x1000


def it_bits(it: int) -> int:
    """The CPSR bits of an IT state."""
    return ((it & 3) << 25) | ((it >> 2) << 10)


@pytest.fixture
def m():
    mach = Machine()
    mach.load(0, VECTORS)
    return mach


def thumb_at(m, src: str, addr: int = CODE) -> int:
    end = m.load(addr, src, thumb=True)
    m.cpu.cpsr = m.cpu.cpsr | 0x20
    m.cpu.regs[15] = addr
    return end


def run_blocks(m, n: int = 200) -> None:
    """Run translated blocks (not single steps) for about n instructions."""
    m.cpu.run(n)


def test_svc_outside_it(m):
    cpu = m.cpu
    thumb_at(m, "movs r0, #1\n svc #5\n movs r0, #2")
    run_blocks(m)
    assert cpu.mode == SVC and cpu.regs[15] == 0x08
    assert cpu.regs[14] == CODE + 4
    spsr = cpu.spsr_bank[3]
    assert spsr & 0x20 and spsr & 0x0600FC00 == 0


def test_svc_in_it_block_saves_advanced_it_and_returns_into_it(m):
    cpu = m.cpu
    m.load(0x08, "b 0x200")
    m.load(0x200, "add r5, r5, #1\n movs pc, lr")   # ARM handler, exception return
    end = thumb_at(m, """
        movs r0, #0
        cmp r0, #0
        ite eq
        svceq #1
        movne r1, #7
        adds r2, #1
    """)
    cpu.regs[1] = cpu.regs[2] = cpu.regs[5] = 0
    run_blocks(m, 3)   # up to the SVC
    m.run_to(0x200)
    # ITE EQ = 0x0c; after the SVC the state is 0x18 (NE, last instruction)
    assert cpu.spsr_bank[3] & 0x0600FC00 == it_bits(0x18)
    assert cpu.regs[14] == CODE + 8
    m.run_to(end)
    assert cpu.regs[5] == 1 and cpu.regs[1] == 0 and cpu.regs[2] == 1
    assert cpu.cpsr & 0x0600FC00 == 0


def test_data_abort_inside_it_block_has_its_own_it_state(m):
    cpu = m.cpu
    thumb_at(m, """
        movs r2, #0
        cmp r2, #0
        ittt eq
        addeq r2, #1
        ldreq r3, [r1]
        addeq r2, #1
    """)
    cpu.regs[1] = 0x20000000       # nothing there: external abort
    run_blocks(m)
    assert cpu.mode == ABT and cpu.regs[15] == 0x10
    assert cpu.regs[2] == 1        # the instruction before the load ran once
    assert cpu.regs[14] == CODE + 8 + 8
    # ITTT EQ = 0x02; the load is the second instruction: 0x04
    assert cpu.spsr_bank[BANK_ABT] & 0x0600FC00 == it_bits(0x04)


BANK_ABT = 5


def test_abort_return_reexecutes_in_it_block(m):
    """A faulting load in an IT block, fixed up by the handler, runs again under its
    condition and the rest of the IT block follows."""
    cpu = m.cpu
    m.load(0x10, "b 0x300")
    m.load(0x300, "mov r1, #0x4000\n subs pc, lr, #8")
    end = thumb_at(m, """
        movs r2, #0
        cmp r2, #1
        itete ne
        addne r2, #1
        ldreq r4, [r1]
        ldrne r3, [r1]
        addeq r2, #4
        adds r2, #8
        b .
    """)
    m.word(0x4000, 0x1234)
    cpu.regs[1] = 0x20000000
    cpu.regs[3] = cpu.regs[4] = 0
    run_blocks(m, 500)
    assert cpu.regs[15] == end - 2
    assert cpu.regs[3] == 0x1234 and cpu.regs[4] == 0 and cpu.regs[2] == 9
    assert cpu.mode == SVC and cpu.cpsr & 0x0600FC00 == 0


def test_irq_between_blocks_inside_it_block(m):
    cpu = m.cpu
    m.load(0x18, "b 0x300")
    m.load(0x300, "add r9, r9, #1\n subs pc, lr, #4")
    end = thumb_at(m, """
        cpsie i
        movs r2, #0
        cmp r2, #1
        itete ne
        addne r2, #1
        ldreq r4, [r1]
        ldrne r3, [r1]
        addeq r2, #4
        adds r2, #8
    """)
    m.word(0x4000, 0x55)
    cpu.regs[1] = 0x4000
    cpu.regs[3] = cpu.regs[4] = cpu.regs[9] = 0
    # run block by block until we stop inside the IT block, then raise the IRQ
    for _ in range(10):
        cpu.run(1)
        if cpu.itstate:
            break
    assert cpu.itstate, "no block boundary inside the IT block"
    saved = cpu.itstate
    cpu.set_irq_line(0, 1)
    cpu.single_step()   # take it (and run the vector's branch)
    assert cpu.mode == IRQ and cpu.spsr_bank[2] & 0x0600FC00 == it_bits(saved)
    cpu.set_irq_line(0, 0)
    m.run_to(end)
    assert cpu.regs[9] == 1 and cpu.regs[3] == 0x55 and cpu.regs[4] == 0 and cpu.regs[2] == 9


def test_instruction_count_in_it_blocks(m):
    cpu = m.cpu
    end = thumb_at(m, """
        movs r0, #0
        cmp r0, #0
        itete eq
        addeq r0, #1
        addne r0, #2
        ldreq r1, [r2]
        strne r1, [r2]
        b.w skip
        nop
    skip:
        adds r0, #1
    """)
    cpu.regs[2] = 0x4000
    before = cpu.clock.icount
    m.run_to(end)
    # movs cmp itete 4 slots b.w adds = 9 (the nop is skipped)
    assert cpu.clock.icount - before == 9
    assert cpu.regs[0] == 2


def test_blx_to_arm_and_bx_back(m):
    cpu = m.cpu
    m.load(0x2000, "add r0, r0, #5\n bx lr")
    end = thumb_at(m, "movs r0, #1\n blx 0x2000\n adds r0, #1")
    m.run_to(end)
    assert cpu.regs[0] == 7 and cpu.thumb == 1 and cpu.regs[14] == CODE + 6 + 1


def test_bx_and_blx_register_interwork(m):
    cpu = m.cpu
    m.load(0x2000, "add r0, r0, #5\n bx lr")
    end = thumb_at(m, "movw r3, #0x2000\n movs r0, #1\n blx r3\n adds r0, #1\n movw r4, #0x1011\n bx r4\n nop\n nop")
    m.run_to(end)
    assert cpu.regs[0] == 7 and cpu.thumb == 1


def test_undefined_16_and_32_bit(m):
    cpu = m.cpu
    thumb_at(m, "movs r0, #1\n udf #3")
    run_blocks(m)
    assert cpu.mode == UND and cpu.regs[14] == CODE + 2 + 2 and cpu.spsr_bank[6] & 0x20
    m2 = Machine()
    m2.load(0, VECTORS)
    thumb_at(m2, "movs r0, #1\n udf.w #300")
    m2.cpu.run(10)
    assert m2.cpu.mode == UND and m2.cpu.regs[14] == CODE + 2 + 2


@pytest.mark.parametrize("hw1,hw2,what", [
    (0xFB90, 0xF0F1, "SDIV"), (0xFBB0, 0xF0F1, "UDIV"),
    (0xF3EF, 0x8020, "MRS banked"), (0xEF00, 0x0000, "NEON data processing"),
    (0xF900, 0x0000, "NEON load/store"), (0xE8D0, 0xF020, "TBB with reserved bits"),
])
def test_not_on_a9_is_undefined(m, hw1, hw2, what):
    cpu = m.cpu
    m.space.write_bytes(CODE, hw1.to_bytes(2, "little") + hw2.to_bytes(2, "little"))
    cpu.cpsr = cpu.cpsr | 0x20
    cpu.regs[15] = CODE
    cpu.single_step()
    assert cpu.mode == UND and cpu.regs[14] == CODE + 2, what


def test_bkpt(m):
    cpu = m.cpu
    thumb_at(m, "nop\n bkpt #1")
    run_blocks(m)
    assert cpu.mode == ABT and cpu.regs[15] == 0x0C and cpu.regs[14] == CODE + 2 + 4


def test_subs_pc_lr_returns_to_thumb_with_it_state(m):
    cpu = m.cpu
    end = thumb_at(m, """
        movw r0, #0x2004
        msr spsr_fsxc, r1
        mov lr, r0
        subs pc, lr, #4
    """)
    # return to Thumb code at 0x1ffc + 4 = 0x2000 inside an IT block (IT EQ, 2 left)
    spsr = 0x1D3 | 0x20 | it_bits(0x04)  # Z clear: both EQ instructions are skipped
    cpu.regs[1] = spsr
    # add r5, #1; add r5, #2 (in the IT block: no flags); adds r5, #4; b .
    m.space.write_bytes(0x2000, bytes.fromhex("0135023504 35fee7".replace(" ", "")))
    cpu.regs[5] = 0
    m.run_to(0x2006)
    assert cpu.regs[5] == 4 and cpu.thumb and cpu.cpsr & 0x0600FC00 == 0


def test_srs_and_rfe_t32(m):
    cpu = m.cpu
    end = thumb_at(m, """
        mov r0, sp
        srsdb sp!, #19
        mov r1, sp
        rfeia sp!
    """)
    cpu.regs[13] = 0x8000
    cpu.spsr_bank[3] = 0x1D3 | 0x20
    cpu.regs[14] = 0x3001
    m.load(0x3000, "movs r7, #9\n b .", thumb=True)
    m.run_to(0x3002)
    assert cpu.regs[0] == 0x8000 and cpu.regs[1] == 0x7FF8 and cpu.regs[13] == 0x8000
    assert m.read_word(0x7FF8) == 0x3001 and m.read_word(0x7FFC) == 0x1F3
    assert cpu.regs[7] == 9 and cpu.thumb


def test_setend_big_endian_loads(m):
    cpu = m.cpu
    end = thumb_at(m, "setend be\n ldr r1, [r0]\n ldrh r2, [r0]\n setend le\n ldr r3, [r0]")
    m.word(0x4000, 0x11223344)
    cpu.regs[0] = 0x4000
    m.run_to(end)
    assert cpu.regs[1] == 0x44332211 and cpu.regs[2] == 0x4433 and cpu.regs[3] == 0x11223344


def test_cbz_cbnz_and_tbb(m):
    cpu = m.cpu
    end = thumb_at(m, """
        movs r0, #0
        movs r5, #0
        cbz r0, one
        adds r5, #1
    one:
        cbnz r0, two
        adds r5, #2
    two:
        movs r1, #2
        tbb [pc, r1]
        .byte 2, 3, 4, 5
        adds r5, #0x10
        adds r5, #0x20
        adds r5, #0x40
        adds r5, #0x80
    """)
    m.run_to(end)
    assert cpu.regs[5] == 2 + 0x40 + 0x80


def test_it_block_split_keeps_key(m):
    """Loads/stores inside an IT block start their own block (keyed with their IT
    state); conditional results must match straight execution."""
    cpu = m.cpu
    end = thumb_at(m, """
        movs r0, #5
        movs r1, #0
        cmp r0, #5
        itttt eq
        addeq r1, #1
        streq r1, [r2]
        ldreq r3, [r2]
        addeq r3, #1
        itete ne
        addne r1, #0x10
        addeq r1, #0x20
        strne r1, [r2, #4]
        streq r1, [r2, #8]
    """)
    cpu.regs[2] = 0x4000
    m.run_to(end)
    assert cpu.regs[1] == 0x21 and cpu.regs[3] == 2
    assert m.read_word(0x4000) == 1 and m.read_word(0x4004) == 0 and m.read_word(0x4008) == 0x21


@pytest.mark.parametrize("before", [0, 2])
def test_32bit_instruction_straddling_an_unmapped_page(m, before):
    """The second halfword's page faults: prefetch abort with that page's FSR and
    address, LR = instruction + 4; fixing the mapping makes the instruction run."""
    cpu = m.cpu
    m.identity_sections()
    m.word(0x8000 + 4 * 0x300, 0x00000C02)      # VA 0x300xxxxx -> PA 0x000xxxxx
    m.word(0x8000 + 4 * 0x301, 0)               # VA 0x301xxxxx: translation fault
    cpu.cp15.dacr = 1
    cpu.cp15.sctlr |= 1
    cpu.tlb_flush_all()
    insn = 0x000FFFFE - 2 * before               # the last halfword(s) of PA section 0
    code = b"\x01\x30" * before + bytes.fromhex("4ff0")   # adds r0, #1 ...; mov.w r5, #1 (1st half)
    m.space.write_bytes(insn, code)
    cpu.regs[0] = cpu.regs[5] = 0
    cpu.cpsr = cpu.cpsr | 0x20
    cpu.regs[15] = 0x30000000 + insn
    cpu.run(50)
    assert cpu.mode == ABT and cpu.regs[15] == 0x0C
    assert cpu.cp15.ifsr == 0x005 and cpu.cp15.ifar == 0x30100000
    assert cpu.regs[14] == 0x300FFFFE + 4 and cpu.regs[0] == before
    # map the second page (to PA section 0 again: mov.w's second halfword at PA 0)
    m.word(0, 0x0501)
    m.word(0x8000 + 4 * 0x301, 0x00000C02)
    cpu.tlb_flush_all()
    cpu.cpsr = cpu.spsr_bank[5]
    cpu.regs[15] = 0x300FFFFE
    m.run_to(0x30100002)
    assert cpu.regs[5] == 1


def test_bkpt_is_unconditional_in_it_block(m):
    cpu = m.cpu
    thumb_at(m, "movs r0, #1\n cmp r0, #0\n it eq\n bkpt #2\n nop")
    run_blocks(m)
    assert cpu.mode == ABT and cpu.regs[15] == 0x0C and cpu.regs[14] == CODE + 6 + 4
    assert cpu.spsr_bank[5] & 0x0600FC00 == it_bits(0x08)   # IT EQ, the BKPT's own state


def test_smc_t32_enters_monitor_mode(m):
    cpu = m.cpu
    cpu.cp15.mvbar = 0x3000
    m.space.write_bytes(CODE, bytes.fromhex("00bff7f70080"))   # nop; smc #7
    cpu.cpsr = cpu.cpsr | 0x20
    cpu.regs[15] = CODE
    cpu.single_step()
    cpu.single_step()
    assert cpu.mode == 0x16 and cpu.regs[15] == 0x3008 and cpu.regs[14] == CODE + 2 + 4
    assert cpu.spsr_bank[4] & 0x20


def test_random_halfwords_never_crash_the_translator():
    """Any halfwords, any IT state, privileged or not, either endianness: translating
    them gives code or a guest exception, never a Python error."""
    import random
    from pysystem.cpu.arm import isa
    from pysystem.cpu.arm.exceptions import GuestException
    from pysystem.cpu.engine import translate
    cpu = Machine().cpu
    rng = random.Random(8)
    for i in range(6000):
        hw = [rng.getrandbits(16) for _ in range(2)]
        if i % 2:
            hw[0] |= 0xE800   # a 32-bit encoding
        it = rng.choice([0, 0, 0, 0x08, 0x0C, 0x14, 0x1A, 0xE8, 0x42])
        key = 0x10001 | (it << 40) | (rng.randrange(2) << 32) | (int(rng.random() < 0.2) << 33)

        def fetch(va, size, hw=hw):
            off = (va - 0x10000) // 2
            return hw[off] if off < 2 else 0xBF00

        try:
            translate.translate(cpu, key, 0x10000, fetch, isa.translate_insn, rng.choice([1, 4]))
        except GuestException:
            pass
