"""IRQ lines, OR gates (shared interrupts) and splitters."""
import pytest

from pysystem.irq import IRQ, OrGate, Splitter


def record(line):
    seen = []
    line.connect(lambda n, level: seen.append((n, level)))
    return seen


def test_line_passes_changes_only():
    line = IRQ("x")
    seen = record(line)
    line.set(1)
    line.set(5)
    line.set(0)
    line.pulse()
    assert seen == [(0, 1), (0, 0), (0, 1), (0, 0)]


def test_or_gate_is_high_while_any_input_is():
    gate = OrGate(4, "pirq")
    seen = record(gate.out)
    a, b = IRQ("a"), IRQ("b")
    a.connect(gate.set_input, 0)
    b.connect(gate.set_input, 3)
    a.set(1)
    b.set(1)
    a.set(0)
    assert gate.level == 1 and gate.input_levels == 0b1000
    b.set(0)
    assert gate.level == 0
    assert seen == [(0, 1), (0, 0)]                 # one rise, one fall
    a.set(1)
    gate.reset_inputs()
    assert gate.level == 0 and gate.input_levels == 0


def test_or_gate_feeds_a_controller_input():
    got = []
    gate = OrGate(2)
    gate.out.connect(lambda n, level: got.append((n, level)), 11)
    gate.set_input(1, 1)
    assert got == [(11, 1)]


def test_or_gate_rejects_inputs_it_does_not_have():
    gate = OrGate(2)
    with pytest.raises(IndexError):
        gate.set_input(2, 1)
    with pytest.raises(ValueError):
        OrGate(0)


def test_splitter_drives_every_output():
    split = Splitter(3)
    seen = [record(out) for out in split.outs]
    src = IRQ("src")
    src.connect(split.set_input)
    src.set(1)
    assert split.level == 1 and all(s == [(0, 1)] for s in seen)
    split.set(0)
    assert all(s == [(0, 1), (0, 0)] for s in seen)
    with pytest.raises(ValueError):
        Splitter(0)


def test_late_connection_sees_a_high_level():
    gate = OrGate(2)
    gate.set_input(0, 1)
    seen = record(gate.out)
    assert seen == [(0, 1)]
