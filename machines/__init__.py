"""Boards: one module per board; each registers a ``pysystem.machine.Machine`` subclass.

``load_all()`` imports every module of this package (so a new board file needs
no registration anywhere else) and then registers PLACEHOLDERS for boards that
do not exist yet: they are listed by ``-M help`` and choosing one is a clear
"not implemented yet" error.  A placeholder disappears as soon as a module
registers a real board of the same name.
"""
from __future__ import annotations

import importlib
import pkgutil

# PLACEHOLDER boards: (name, -M help description, arches, default for those arches).
PLACEHOLDERS = (
    ("vexpress-a9", "ARM Versatile Express for Cortex-A9", ("arm",), False),
    ("malta", "MIPS Malta Core LV", ("mipsel", "mips"), True),
)

_loaded = []


def load_all() -> None:
    """Import every board module, then fill the gaps with placeholders (once)."""
    if _loaded:
        return
    _loaded.append(True)
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    from pysystem.machine import Machine, find_machine
    from pysystem.qom import register
    for name, desc, arches, default in PLACEHOLDERS:
        if find_machine(name) is None:
            register(type(f"Placeholder_{name.replace('-', '_')}", (Machine,), {
                "TYPE": f"{name}-machine", "NAME": name, "DESC": desc, "ARCHES": arches,
                "IS_DEFAULT": default, "AVAILABLE": False,
                "__doc__": "Not implemented yet: listed so -M help shows it."}))
