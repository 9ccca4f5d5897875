"""MIPS blocks and the on-disk code cache: a second run of the bare-metal program (every
kind of instruction the CPU binds helpers for: CP0, TLB, FPU, LL/SC, SWL/SWR, eret, wait)
translates nothing, gives the same output, and every name a cached block binds resolves
to the object its translation binds."""
from __future__ import annotations

import pytest

from mips_machine import BareMetal
from test_baremetal import _build

from pysystem import codecache
from pysystem.codecache import CodeCache
from pysystem.cpu.engine import codegen, translate


def _new_process(monkeypatch, tmp_path):
    monkeypatch.setattr(codegen, "_CODE_CACHE", {})
    monkeypatch.setattr(codecache, "_shared", CodeCache(str(tmp_path / "cache")))


def _generated(monkeypatch):
    made = []
    source = codegen.Ctx.source

    def counting(ctx, name, *a, **k):
        made.append(name)
        return source(ctx, name, *a, **k)

    monkeypatch.setattr(codegen.Ctx, "source", counting)
    return made


def _run(elf, be):
    m = BareMetal(big_endian=be)
    m.cpu.pc = m.load_elf(elf)
    m.run_until_stopped()
    assert m.stopped
    return m


@pytest.mark.parametrize("be", [False, True], ids=["el", "eb"])
def test_second_run_comes_from_the_disk_cache(be, tmp_path, monkeypatch):
    elf = _build(be, tmp_path)
    made = _generated(monkeypatch)
    _new_process(monkeypatch, tmp_path)
    first = _run(elf, be)
    assert made
    ns = codegen.namespace(first.cpu)
    names = [n for n in ns if n not in ("cpu", "GuestException", "__builtins__")]
    assert {"cp0", "F", "fpu", "mtc0", "eret", "wait", "tlb_tlbwr", "swl", "sc",
            "h_div", "Syscall"} <= set(names), names
    for n in names:
        assert translate._resolve(first.cpu, n) is ns[n] or translate._resolve(first.cpu, n) == ns[n], n
    codecache.shared().flush()

    made.clear()
    _new_process(monkeypatch, tmp_path)
    second = _run(elf, be)
    assert second.output == first.output
    assert len(made) < 10, made   # blocks spanning pages are not cached; the rest are
