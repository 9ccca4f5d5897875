"""Translated blocks and the on-disk cache (pysystem/codecache.py)."""
from __future__ import annotations

from machine import Machine

from pysystem import codecache
from pysystem.codecache import CodeCache
from pysystem.cpu.engine import codegen, translate

LOOP = "mov r0, #0\n loop: add r0, r0, #{step}\n cmp r0, #{end}\n bne loop\n b ."


def _run_loop(step: int = 3, end: int = 300) -> int:
    m = Machine()
    m.load(0x1000, LOOP.format(step=step, end=end))
    m.cpu.regs[15] = 0x1000
    m.cpu.run(1000)
    return m.cpu.regs[0]


def _generated(monkeypatch):
    """Count the blocks whose source is generated (translated, not taken from the cache)."""
    made = []
    source = codegen.Ctx.source

    def counting(ctx, name, *a, **k):
        made.append(name)
        return source(ctx, name, *a, **k)

    monkeypatch.setattr(codegen.Ctx, "source", counting)
    return made


def _new_process(monkeypatch, tmp_path):
    monkeypatch.setattr(codegen, "_CODE_CACHE", {})
    monkeypatch.setattr(codecache, "_shared", CodeCache(str(tmp_path)))


def test_a_second_run_translates_nothing(tmp_path, monkeypatch):
    made = _generated(monkeypatch)
    _new_process(monkeypatch, tmp_path)
    assert _run_loop() == 300
    assert made
    codecache.shared().flush()

    made.clear()
    _new_process(monkeypatch, tmp_path)
    assert _run_loop() == 300
    assert not made


def test_changed_code_is_translated_again(tmp_path, monkeypatch):
    made = _generated(monkeypatch)
    _new_process(monkeypatch, tmp_path)
    assert _run_loop(3, 300) == 300
    codecache.shared().flush()

    made.clear()
    _new_process(monkeypatch, tmp_path)
    assert _run_loop(5, 300) == 300   # the same addresses, other instructions
    assert made
    made.clear()
    _new_process(monkeypatch, tmp_path)
    assert _run_loop(3, 300) == 300 and not made   # both versions are kept


def test_a_cached_block_binds_what_translating_it_binds(tmp_path, monkeypatch):
    """The names a cached block binds resolve to the objects its translation binds."""
    _new_process(monkeypatch, tmp_path)
    m = Machine()
    code = "ldr r1, [r2]\n ldrb r3, [r2, #1]\n strh r3, [r2, #4]\n ldrsh r4, [r2, #4]\n svc #0"
    m.load(0x1000, code)
    m.cpu.regs[15], m.cpu.regs[2] = 0x1000, 0x2000
    m.cpu.run(5)
    ctx_binds = codegen.namespace(m.cpu)
    names = [n for n in ctx_binds if n not in ("cpu", "GuestException", "__builtins__")]
    assert {"ram", "trp", "twp", "ld32p", "ld8p", "st16p", "SupervisorCall"} <= set(names)
    for n in names:
        resolved = translate._resolve(m.cpu, n)
        assert resolved is not None, n
        assert resolved is ctx_binds[n] or resolved == ctx_binds[n], n


def test_a_cached_neon_block_binds_what_translating_it_binds(tmp_path, monkeypatch):
    """NEON blocks bind neon_helpers' h_ functions; they resolve by name too."""
    _new_process(monkeypatch, tmp_path)
    m = Machine()
    m.cpu.cp15.cpacr, m.cpu.fpexc = 0x00F00000, 0x40000000
    code = ("vadd.i16 q0, q1, q2\n vqadd.s8 d0, d1, d2\n vmull.u16 q3, d4, d5\n vld1.8 {d6}, [r2]\n"
            " vst2.16 {d0[1], d1[1]}, [r2]\n svc #0")
    m.load(0x1000, code)
    m.cpu.regs[15], m.cpu.regs[2] = 0x1000, 0x2000
    m.cpu.run(6)
    assert m.cpu.regs[15] == 0x8  # took the SVC: every NEON instruction ran
    ctx_binds = codegen.namespace(m.cpu)
    names = [n for n in ctx_binds if n not in ("cpu", "GuestException", "__builtins__")]
    assert {"h_3same", "h_long"} <= set(names)
    for n in names:
        resolved = translate._resolve(m.cpu, n)
        assert resolved is not None, n
        assert resolved is ctx_binds[n] or resolved == ctx_binds[n], n
