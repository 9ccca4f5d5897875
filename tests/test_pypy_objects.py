"""The machine's objects keep the attribute layout PyPy's JIT is fast with.

PyPy stores an instance's attributes in a "map" (like a C struct: the JIT reads one at
a fixed offset) while the instance has fewer than 80 of them (the CPU was seen as a dict
at 80); past that, every ``obj.attr`` in JIT code becomes a hash lookup by name.  Translated
blocks read and write ``cpu.NF`` and friends on every call, so the CPU past the
limit made the whole boot 13-15% slower.  This runs in the interpreter the
guests boot under (PyPy in CI) and is skipped when that is not PyPy.
"""
from __future__ import annotations

import subprocess

from tools import NOT_PYPY, guest_python, interpreter_skip

_CHECK = """
import sys
try:
    import __pypy__
except ImportError:
    sys.exit(77)
import pysystem.machines.vexpress as vexpress
m = vexpress.VexpressA9()
m.set_prop("ram-size", 16 << 20)
m.realize()
m.reset()
m.cpus[0].run(20000)   # translate and run a little: some attributes are made lazily
bad = [f"{o.path} ({type(o).__name__}): {len(vars(o))} attributes, {__pypy__.strategy(vars(o))}"
       for o in m.walk() if __pypy__.strategy(vars(o)) != "MapDictStrategy"]
# Malta's CPU too (its GT64120 keeps its 100 registers as attributes: a dict, but it is
# reached only by PCI configuration accesses, never from translated code)
import pysystem.machines.malta as malta
m = malta.Malta()
m.set_prop("ram-size", 16 << 20)
m.realize()
m.reset()
m.cpus[0].run(20000)
bad += [f"{c.path} ({type(c).__name__}): {len(vars(c))} attributes, {__pypy__.strategy(vars(c))}"
        for c in m.cpus if __pypy__.strategy(vars(c)) != "MapDictStrategy"]
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""


def test_every_object_of_the_board_keeps_its_attributes_in_a_map():
    out = subprocess.run([guest_python(), "-c", _CHECK], capture_output=True, text=True,
                         timeout=300)
    if out.returncode == 77:
        interpreter_skip(NOT_PYPY)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_object_of_the_board_has_fewer_than_80_attributes():
    """The same limit counted under any interpreter (the test above needs PyPy as the
    guest interpreter; main once went to 80 on the CPU unnoticed)."""
    import pysystem.machines.vexpress as vexpress
    m = vexpress.VexpressA9()
    m.set_prop("ram-size", 16 << 20)
    m.realize()
    m.reset()
    m.cpus[0].run(20000)
    bad = [f"{o.path} ({type(o).__name__}): {len(vars(o))}" for o in m.walk() if len(vars(o)) >= 80]
    assert not bad, bad
