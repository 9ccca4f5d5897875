"""The translation engine (pysystem/cpu/engine/) on its own: delay slots, code and data in
either byte order, TLB tags, the disk cache ident.

A CPU for a five-instruction ISA is written here against the engine's seams, the way a
real CPU is (cpu/README.md), so that what the engine does for every CPU is checked
apart from ARM's tables:

    1 rd rs imm16    addi  rd = rs + sext(imm16)
    2 rs rt off16    beq   if rs == rt: pc = pc + 4 + 4*sext(off16), after a delay slot
    3 rd rs imm16    lw    rd = word at rs + sext(imm16)
    4 rt rs imm16    sw    word at rs + sext(imm16) = rt
    0                stop  leaves the block with key 0xdead0000

Addresses from 0x8000 up fault (``Fault`` with the address); the handler records what
``deliver`` was told and continues at 0x6000.
"""
from __future__ import annotations

import types

import pytest

from pysystem.clock import VirtualClock
from pysystem.cpu.engine import codegen, translate
from pysystem.cpu.engine.cpu import TranslatedCPU
from pysystem.cpu.engine.exceptions import GuestException
from pysystem.memory import AddressSpace, ContainerRegion, IORegion, RAMRegion, ROMRegion

LIMIT = 0x8000
HANDLER = 0x6000
STOP = 0xDEAD0000


class Fault(GuestException):
    excp = 1

    def __init__(self, idx: int, far: int = 0):
        super().__init__(idx)
        self.far = far


class ToyCtx(codegen.Ctx):
    def r(self, n: int) -> str:
        if n == 0:
            return "0"
        self.read.add(n)
        return f"r{n}"

    def w(self, n: int, expr: str) -> None:
        if n:
            self.written.add(n)
            self.emit(f"r{n} = ({expr}) & 0xffffffff")


def _sext16(v: int) -> int:
    return (v & 0x7FFF) - (v & 0x8000)


def toy_insn(ctx: ToyCtx, fetch) -> int:
    insn = fetch(0, 4)
    if insn is None:
        return 0
    ctx.insn, ctx.size = insn, 4
    op, a, b, imm = insn >> 28, (insn >> 24) & 15, (insn >> 20) & 15, _sext16(insn & 0xFFFF)
    if op == 1:
        ctx.w(a, f"{ctx.r(b)} + {imm}")
    elif op == 2:
        target = (ctx.pc + 4 + 4 * imm) & 0xFFFFFFFF
        c = ctx.tmp("c")
        ctx.emit(f"{c} = {ctx.r(a)} == {ctx.r(b)}")
        after = ctx.key_at(ctx.pc + 8)

        def then(ctx):
            ctx.exit(f"{hex(target)} if {c} else {after}")
        ctx.delay_slot(then)
    elif op in (3, 4):
        addr = ctx.tmp("a")
        ctx.emit(f"{addr} = ({ctx.r(b)} + {imm}) & 0xffffffff")
        if op == 3:
            v = ctx.tmp("v")
            ctx.load(4, addr, v)
            ctx.w(a, v)
        else:
            ctx.store(4, addr, ctx.r(a))
    else:
        ctx.exit(hex(STOP))
    return 4


class ToyCPU(TranslatedCPU):
    TYPE = "toy-test-cpu"
    ABSTRACT = False   # not registered: a test's CPU
    ARCH = "toy"
    PRIVS = ("k",)
    USER_LEVEL = 0
    CTX = ToyCtx
    EXCEPTIONS = types.SimpleNamespace(Fault=Fault)
    translate_insn = staticmethod(toy_insn)

    def __init__(self):
        super().__init__()
        self.regs = [0] * 17   # r0-r15, and the PC while not running
        self.halted = False
        self.delivered = []

    def key(self):
        return self.regs[16]

    def key_pc(self, key):
        return key & 0xFFFFFFFF

    def key_level(self, key):
        return 0

    def key_with_pc(self, key, pc):
        return pc

    def set_key(self, key):
        self.regs[16] = key & 0xFFFFFFFF

    def current_level(self):
        return 0

    def mmu_translate(self, va, access, level, idx):
        if va >= LIMIT:
            raise Fault(idx, va)
        return va, True, 0x1000, ("high" if va >= 0x4000 else None)

    def bus_fault(self, va, access, idx, error):
        return Fault(idx, va)

    def unaligned_access(self, va, size, aligned, write, idx):
        raise Fault(idx, va)

    def has_work(self):
        return True

    def check_interrupts(self, key):
        return key

    def deliver(self, e, pc, size, in_slot):
        self.delivered.append((pc, in_slot, e.far))
        self.regs[16] = HANDLER

    def insn_size(self, pc):
        return 4

    def take_undefined(self, pc):
        raise AssertionError(f"translator error at {pc:#x}")


ToyCPU.raise_internal_errors = True


def make(big_endian=False):
    root = ContainerRegion(None, "system", 1 << 32)
    root.add_subregion(0, RAMRegion(None, "ram", LIMIT))
    cpu = ToyCPU()
    cpu.big_endian = big_endian
    cpu.address_space = AddressSpace("memory", root, big_endian=big_endian)
    cpu.clock = VirtualClock()
    cpu.realize()
    return cpu


def enc(op, a=0, b=0, imm=0):
    return (op << 28) | (a << 24) | (b << 20) | (imm & 0xFFFF)


def put(cpu, addr, words, big=False):
    data = b"".join(w.to_bytes(4, "big" if big else "little") for w in words)
    cpu.address_space.write_bytes(addr, data)


def run_to_stop(cpu, pc, limit=1000):
    cpu.regs[16] = pc
    while cpu.regs[16] != STOP and limit > 0:
        limit -= cpu.run(1)
    return cpu.regs


@pytest.fixture(params=["cpython", "pypy"])
def form(request, monkeypatch):
    monkeypatch.setattr(codegen, "PYPY", request.param == "pypy")
    return request.param


def test_the_slot_runs_before_the_branch_takes_effect(form):
    cpu = make()
    put(cpu, 0x1000, [enc(1, 1, 0, 5),            # r1 = 5
                      enc(2, 1, 1, 2),            # beq r1, r1, +2 (to 0x1010)
                      enc(1, 1, 1, 1),            # slot: r1 += 1 (runs)
                      enc(1, 2, 0, 99),           # skipped
                      enc(1, 3, 1, 0),            # 0x1010: r3 = r1
                      enc(0)])
    regs = run_to_stop(cpu, 0x1000)
    assert regs[1] == 6 and regs[2] == 0 and regs[3] == 6


def test_the_branch_condition_is_read_before_its_slot(form):
    cpu = make()
    put(cpu, 0x1000, [enc(2, 1, 0, 3),            # beq r1, r0 (r1 == 0: taken)
                      enc(1, 1, 0, 7),            # slot: r1 = 7
                      enc(1, 2, 0, 99),
                      enc(0),
                      enc(1, 3, 1, 0), enc(0)])   # 0x1010: r3 = r1
    regs = run_to_stop(cpu, 0x1000)
    assert regs[3] == 7 and regs[2] == 0


def test_a_slot_across_the_page_end_stays_with_its_branch(form):
    cpu = make()
    put(cpu, 0x1FFC, [enc(2, 0, 0, 3), enc(1, 4, 0, 1)])   # beq at the page's last word
    put(cpu, 0x200C, [enc(0)])
    cpu.regs[16] = 0x1FFC
    assert cpu.single_step() == 2          # one step runs the branch with its slot
    assert cpu.regs[4] == 1 and cpu.regs[16] == 0x200C
    blk = next(b for b in cpu.tbs.values() if b.key == 0x1FFC)
    assert blk.pcs == [0x1FFC, 0x2000] and blk.slots == (1,) and len(blk.pages) == 2


def test_a_fault_in_the_slot_is_the_branchs(form):
    cpu = make()
    put(cpu, 0x1000, [enc(1, 5, 0, 0x7FF0),     # r5 = 0x7ff0
                      enc(1, 6, 0, 1),
                      enc(2, 0, 0, 4),          # beq r0, r0
                      enc(3, 7, 5, 0x10),       # slot: lw r7, 0x10(r5) -> 0x8000 faults
                      enc(0)])
    start = cpu.clock.icount
    cpu.regs[16] = 0x1000
    cpu.run(10)
    assert cpu.delivered[0] == (0x1008, True, 0x8000)
    assert cpu.regs[6] == 1                     # written back before the fault
    assert cpu.clock.icount - start >= 2        # the two instructions before the branch


def test_a_slot_that_cannot_be_fetched_faults_as_the_branchs(form):
    cpu = make()
    put(cpu, LIMIT - 4, [enc(2, 0, 0, 4)])       # its slot would be at LIMIT
    cpu.regs[16] = LIMIT - 4
    cpu.run(1)
    assert cpu.delivered[0] == (LIMIT - 4, True, LIMIT)
    put(cpu, LIMIT - 8, [enc(1, 1, 0, 3), enc(2, 0, 0, 4)])  # not the block's first
    cpu.delivered.clear()
    cpu.regs[16] = LIMIT - 8
    cpu.run(2)
    assert cpu.regs[1] == 3 and cpu.delivered[0] == (LIMIT - 4, True, LIMIT)


@pytest.mark.parametrize("big", [False, True])
def test_code_and_data_in_the_cpus_byte_order(form, big):
    cpu = make(big_endian=big)
    put(cpu, 0x1000, [enc(1, 1, 0, 0x3000), enc(3, 2, 1, 0), enc(1, 2, 2, 1),
                      enc(4, 2, 1, 4), enc(0)], big=big)
    put(cpu, 0x3000, [0x11223344], big=big)
    regs = run_to_stop(cpu, 0x1000)
    assert regs[2] == 0x11223345
    raw = cpu.address_space.read_bytes(0x3004, 4)
    assert raw == (0x11223345).to_bytes(4, "big" if big else "little")
    assert cpu.tlb_read[0], "the loads went through the soft TLB"


def test_tags_drop_only_their_pages(form):
    cpu = make()
    put(cpu, 0x1000, [enc(1, 1, 0, 0x3000), enc(3, 2, 1, 0),
                      enc(1, 1, 0, 0x5000), enc(3, 2, 1, 0), enc(0)])
    run_to_stop(cpu, 0x1000)
    assert 0x3000 in cpu.tlb_read[0] and 0x5000 in cpu.tlb_read[0]
    cpu.tlb_flush_tags(["high"])
    assert 0x3000 in cpu.tlb_read[0] and 0x5000 not in cpu.tlb_read[0]


def test_moving_an_io_region_keeps_the_translated_code(form):
    cpu = make()
    io = IORegion(None, "bar", 0x1000, lambda off, size: 0x42, lambda off, v, size: None)
    cpu.address_space.root.add_subregion(0x6000, io, priority=1)
    put(cpu, 0x1000, [enc(1, 1, 0, 0x6000), enc(3, 2, 1, 0), enc(0)])   # r2 = [0x6000]
    assert run_to_stop(cpu, 0x1000)[2] == 0x42
    blocks = dict(cpu.tbs)
    assert blocks
    io.set_address(0x7000)            # a BAR moves: the load now reaches RAM (zero)
    assert cpu.tbs == blocks, "the code's pages are still the same RAM"
    cpu.regs[2] = 0xFF
    assert run_to_stop(cpu, 0x1000)[2] == 0
    assert all(cpu.tbs[ck] is blk for ck, blk in blocks.items()), "nothing retranslated"


def test_a_rom_mapped_over_code_runs_its_own_bytes(form):
    cpu = make()
    put(cpu, 0x1000, [enc(1, 1, 0, 5), enc(0)])    # r1 = 5
    put(cpu, 0x3000, [enc(1, 3, 0, 9), enc(0)])    # r3 = 9, on another page
    assert run_to_stop(cpu, 0x1000)[1] == 5
    assert run_to_stop(cpu, 0x3000)[3] == 9
    other = [blk for blk in cpu.tbs.values() if blk.key == 0x3000]
    rom = ROMRegion(None, "rom", 0x1000)
    rom.data[0:8] = b"".join(w.to_bytes(4, "little") for w in (enc(1, 1, 0, 7), enc(0)))
    cpu.address_space.root.add_subregion(0x1000, rom, priority=1)
    assert run_to_stop(cpu, 0x1000)[1] == 7, "the ROM's bytes run, not the RAM's block"
    assert [blk for blk in cpu.tbs.values() if blk.key == 0x3000] == other
    cpu.address_space.root.del_subregion(rom)
    assert run_to_stop(cpu, 0x1000)[1] == 5, "and the RAM's again once it is gone"


def test_the_cache_ident_covers_architecture_model_and_byte_order():
    little, big = make(), make(big_endian=True)
    assert little.code_ident() != big.code_ident()
    arm = pytest.importorskip("pysystem.cpu.arm").ARMCPU.example()
    assert arm.code_ident() != little.code_ident()
    folders = {translate.ENGINE_FOLDER, translate.package_folder(arm)}
    assert len(folders) == 2


def test_the_cpu_factory_lists_models_per_front_end():
    from pysystem.cpu.models import CPUModelError, cpu_models, create_cpu
    assert "cortex-a9" in cpu_models("arm")
    assert "cortex-a9" not in cpu_models("mipsel") + cpu_models("mips")
    assert create_cpu("cortex-a9", "arm", **{"mp-affinity": 1}).mp_affinity == 1
    with pytest.raises(CPUModelError):
        create_cpu("cortex-a9", "mips")


def test_a_store_by_one_cpu_drops_code_another_translated(form):
    """Two CPUs on one address space (-smp): B's store into a page where A has
    translated code reaches A's blocks, even when B's soft TLB could write that page
    before A translated it."""
    a = make()
    b = ToyCPU()
    b.address_space, b.clock = a.address_space, a.clock
    b.realize()
    put(a, 0x3000, [enc(1, 1, 0, 7)])                 # the patch: r1 = 7
    put(a, 0x1000, [enc(1, 1, 0, 5), enc(0)])         # A's code: r1 = 5
    put(a, 0x2000, [enc(4, 0, 0, 0x1100), enc(0)])    # B: a store next to A's code
    put(a, 0x2100, [enc(3, 2, 0, 0x3000),             # B: r2 = the patch
                    enc(4, 2, 0, 0x1000), enc(0)])    # B: patch A's first instruction
    run_to_stop(b, 0x2000)                            # B may now write page 1 directly
    assert run_to_stop(a, 0x1000)[1] == 5             # A translates page 1
    run_to_stop(b, 0x2100)
    assert run_to_stop(a, 0x1000)[1] == 7             # A runs the patched code
