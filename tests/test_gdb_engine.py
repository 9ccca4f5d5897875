"""The engine's debugging support (cpu/engine/debug.py) on a vexpress-a9 running the gdb
test program: what a breakpoint or watchpoint costs is confined to the blocks and pages
it concerns, and steps and stops are exact."""
from __future__ import annotations

import subprocess

import pytest

import test_gdb
from tools import program


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    return test_gdb.build("arm", str(tmp_path_factory.mktemp("gdbengine")))


@pytest.fixture(scope="module")
def symbols(elf):
    nm = program("arm-none-eabi-nm")
    out = subprocess.run([nm, elf], check=True, stdout=subprocess.PIPE).stdout.decode()
    return {line.split()[2]: int(line.split()[0], 16) for line in out.splitlines()}


@pytest.fixture
def cpu(elf):
    from pysystem.cli import load_types
    from pysystem.machine import find_machine
    load_types()
    m = find_machine("vexpress-a9", "arm")(**{"ram-size": "128M", "kernel": elf})
    m.realize()
    m.reset()
    c = m.cpus[0]
    c.raise_internal_errors = True
    c.stops = []
    c.on_debug_stop = lambda cpu: cpu.stops.append(cpu.debug_event)
    return c


def run_to_stop(cpu, limit=200_000):
    cpu.stops.clear()
    done = 0
    while not cpu.stops and done < limit:
        done += cpu.run(10_000) or 1
    assert cpu.stops, "the CPU did not stop"
    return cpu.stops[-1]


def test_breakpoint_drops_only_the_blocks_holding_it_and_stops_there(cpu, symbols):
    cpu.insert_breakpoint(symbols["main"])
    ev = run_to_stop(cpu)
    assert ev.reason == "breakpoint" and ev.pc == symbols["main"] == cpu.regs[15]
    cpu.remove_breakpoint(symbols["main"])
    cpu.resume_at(cpu.regs[15])
    target = symbols["add"] + 8
    kept = {ck: blk for ck, blk in cpu.tbs.items()
            if target not in blk.pcs and cpu.key_pc(blk.key) != target}
    cpu.run(1)                    # translate a few blocks of main
    before = dict(cpu.tbs)
    cpu.insert_breakpoint(target)
    for ck, blk in before.items():
        holds = target in blk.pcs or (blk.pcs and blk.pcs[-1] < target <= blk.pcs[-1] + 4)
        assert (ck in cpu.tbs) == (not holds)
    assert all(ck in cpu.tbs for ck in kept)
    ev = run_to_stop(cpu)
    assert ev.pc == target == cpu.regs[15]
    # no block runs through the breakpoint: it starts no block and ends every block before it
    for blk in cpu.tbs.values():
        assert target not in blk.pcs[1:]
    assert all(cpu.key_pc(k) != target for k in cpu.jc)
    # continuing from it runs it, and the loop in main reaches it again
    cpu.resume_at(cpu.regs[15])
    ev = run_to_stop(cpu)
    assert ev.pc == target and cpu.regs[0] == 0 and cpu.regs[1] == 1   # add(0, 1)


def test_watched_page_loses_its_fast_path_and_the_stop_is_before_the_access(cpu, symbols):
    addr = symbols["in_handler"]
    cpu.insert_watchpoint(addr, 4, 1)
    ev = run_to_stop(cpu)
    assert ev.reason == "watchpoint" and ev.watch == (addr, 4, 1)
    assert cpu.read_virt(addr, 4) == bytes(4)             # not written yet (QEMU: same)
    insn = int.from_bytes(cpu.read_virt(cpu.regs[15], 4), "little")
    assert insn & 0x0C100000 == 0x04000000                 # a store (STR) is next
    page = addr & ~0xFFF
    for level in range(len(cpu.PRIVS)):
        assert page not in cpu.tlb_read[level] and page not in cpu.tlb_write[level]
    stack = cpu.regs[13] & ~0xFFF
    assert stack == page or any(stack in d for d in cpu.tlb_write)  # other pages stay fast
    cpu.remove_watchpoint(addr, 4, 1)
    assert cpu.watch_pages == set()
    cpu.debug_step()
    assert cpu.read_virt(addr, 4) == (1).to_bytes(4, "little")
    assert cpu.debug_event.reason == "step"


def test_steps_equal_an_uninterrupted_run(cpu, elf):
    """Stepping 300 instructions one by one visits the PCs a run of the same length ends
    at, checked at every step against a second machine running n instructions in one go
    with one-instruction blocks."""
    from pysystem.cli import load_types
    from pysystem.machine import find_machine
    from pysystem.qom import reset_root
    pcs = []
    for _ in range(300):
        cpu.debug_step()
        pcs.append((cpu.regs[15], cpu.clock.icount))
    reset_root()
    load_types()
    m = find_machine("vexpress-a9", "arm")(**{"ram-size": "128M", "kernel": elf})
    m.realize()
    m.reset()
    other = m.cpus[0]
    for pc, icount in pcs:
        while other.clock.icount < icount:
            other.single_step()
        assert (other.regs[15], other.clock.icount) == (pc, icount)
