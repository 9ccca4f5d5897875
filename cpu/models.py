"""The CPU factory: CPU models by name, per front end (``-cpu MODEL``, ``-cpu help``).

A CPU model is a registered (non-abstract) subclass of the engine's ``TranslatedCPU``
with ``MODEL`` (its ``-cpu`` name) and ``ARCH``; a front end (``pysystem-arm``,
``pysystem-mips``, ``pysystem-mipsel``) offers the models of its architecture.  The CPU
packages are imported on first use, so that a front end loads only its own.

    create_cpu("cortex-a9", "arm", **{"mp-affinity": 0})
"""
from __future__ import annotations

import importlib
from typing import Dict, List

from pysystem.qom import lookup_type, type_names

from .engine import cpu as _engine  # noqa: F401  (registers the base type "cpu")

#: front end -> the CPU architecture it runs
ARCH_OF = {"arm": "arm", "mips": "mips", "mipsel": "mips"}
#: CPU architecture -> the packages defining its models
PACKAGES = {"arm": ("pysystem.cpu.arm",), "mips": ("pysystem.cpu.mips",)}


class CPUModelError(Exception):
    """No such CPU model for this front end; one line."""


def _import(arch: str) -> None:
    for pkg in PACKAGES.get(arch, ()):
        try:
            importlib.import_module(pkg)
        except ModuleNotFoundError as e:
            if e.name != pkg:  # the package exists but is broken: say so
                raise


def cpu_classes(front_end: str) -> Dict[str, type]:
    """The CPU models a front end offers, by ``-cpu`` name."""
    arch = ARCH_OF.get(front_end, front_end)
    _import(arch)
    out = {}
    for name in type_names("cpu"):
        cls = lookup_type(name)
        if getattr(cls, "MODEL", "") and cls.ARCH == arch:
            out[cls.MODEL] = cls
    return out


def cpu_models(front_end: str) -> List[str]:
    return sorted(cpu_classes(front_end))


def cpu_class(model: str, front_end: str) -> type:
    cls = cpu_classes(front_end).get(model)
    if cls is None:
        raise CPUModelError(f"unable to find CPU model '{model}'")
    return cls


def create_cpu(model: str, front_end: str, **props):
    """A new, unrealized CPU of ``model``."""
    return cpu_class(model, front_end)(**props)
