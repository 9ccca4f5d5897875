"""Translated blocks and the on-disk code cache (pysystem/codecache.py)."""
from __future__ import annotations

import builtins

from machine import Machine

from pysystem import codecache
from pysystem.codecache import CodeCache
from pysystem.cpu.arm import translator


def _run_loop() -> int:
    m = Machine()
    m.load(0x1000, "mov r0, #0\n loop: add r0, r0, #3\n cmp r0, #300\n bne loop\n b .")
    m.cpu.regs[15] = 0x1000
    m.cpu.run(1000)
    return m.cpu.regs[0]


def test_a_second_run_compiles_nothing(tmp_path, monkeypatch):
    compiled = []

    def counting(src, *a, **k):
        compiled.append(src)
        return builtins.compile(src, *a, **k)

    monkeypatch.setattr(translator, "compile", counting, raising=False)
    monkeypatch.setattr(translator, "_CODE_CACHE", {})
    monkeypatch.setattr(codecache, "_shared", CodeCache(str(tmp_path)))
    assert _run_loop() == 300
    assert compiled
    codecache.shared().flush()

    compiled.clear()
    monkeypatch.setattr(translator, "_CODE_CACHE", {})  # as in a new process
    monkeypatch.setattr(codecache, "_shared", CodeCache(str(tmp_path)))
    assert _run_loop() == 300
    assert not compiled
