"""The MIPS32 system control coprocessor (CP0), as data.

Each register is declared once in ``REGS``: name, (register, select), kind, reset
value, writable mask and side-effect hooks.

* ``state``: stored in ``cpu.cp0.<name>`` (lower case), a field of the ``CP0`` object
  below (a QOM child of the CPU: reset and snapshotted with it).  ``mtc0`` keeps the
  bits outside ``mask`` and takes those inside from the written value.
* ``const``: reads give the reset value; writes are ignored (PRId, Config1...).
* ``op``: computed: ``read`` names the CPU method giving the value (``read(idx)``: Random,
  Count).

``reset`` and ``mask`` are ints, or the name of a ``models.Model`` attribute (the
value then comes from the CPU's model), or a function of the model.  ``write`` names
a CPU method called after a write as ``hook(old_value)`` (for an ``op`` register it
does the write: ``hook(value, idx)``, ``idx`` placing it in time); when a write can change
how blocks are translated or the interrupt state, the block ends after it
(``end_block``).  ``release`` is the first architecture release that has the
register (release-1 models read those as 0, like QEMU's unimplemented registers),
and ``present`` an optional predicate on the model.

Encodings not in the table read 0 and ignore writes, logged under ``-d unimp`` (as
QEMU does); a model's missing registers behave the same.  The CPU checks at import
that every hook named here is one of its methods.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple, Union

from pysystem.qom import Field, Object, register

from .models import Model

Value = Union[int, str, Callable[[Model], int]]

# Status bits
ST_IE, ST_EXL, ST_ERL = 1 << 0, 1 << 1, 1 << 2
ST_KSU_SHIFT = 3
ST_UM = 1 << 4
ST_IM_SHIFT = 8
ST_NMI, ST_SR, ST_TS, ST_BEV = 1 << 19, 1 << 20, 1 << 21, 1 << 22
ST_MX, ST_RE, ST_FR, ST_RP = 1 << 24, 1 << 25, 1 << 26, 1 << 27
ST_CU0, ST_CU1 = 1 << 28, 1 << 29
# Cause bits
CA_BD, CA_TI, CA_CE_SHIFT, CA_DC = 1 << 31, 1 << 30, 28, 1 << 27
CA_IV, CA_WP = 1 << 23, 1 << 22
CA_IP_SHIFT = 8
CA_EXC_SHIFT = 2


class Reg:
    __slots__ = ("name", "key", "kind", "reset", "mask", "read", "write", "release", "present",
                 "end_block")

    def __init__(self, name: str, reg: int, sel: int = 0, kind: str = "state", reset: Value = 0,
                 mask: Value = 0xFFFFFFFF, read: Optional[str] = None, write: Optional[str] = None,
                 release: int = 1, present: Optional[Callable[[Model], bool]] = None,
                 end_block: bool = False):
        self.name, self.key, self.kind = name, (reg, sel), kind
        self.reset, self.mask, self.read, self.write = reset, mask, read, write
        self.release, self.present = release, present
        self.end_block = end_block or write is not None

    @property
    def attr(self) -> str:
        return self.name.lower()

    def value_for(self, value: Value, model: Model) -> int:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return getattr(model, value)
        return value(model)

    def reset_for(self, model: Model) -> int:
        return self.value_for(self.reset, model)

    def mask_for(self, model: Model) -> int:
        return self.value_for(self.mask, model)

    def exists_on(self, model: Model) -> bool:
        return model.release >= self.release and (self.present is None or self.present(model))


def _index_mask(m: Model) -> int:
    return m.tlb_entries - 1


def _hwrena_mask(m: Model) -> int:
    return 0xF | ((1 << 29) if m.userlocal else 0)


REGS = [
    Reg("Index", 0, 0, mask=_index_mask),                     # P (bit 31) is set by tlbp only
    Reg("Random", 1, 0, kind="op", read="cp0_read_random"),
    Reg("EntryLo0", 2, 0, mask=0x03FFFFFF),                   # PFN (32-bit PA), C, D, V, G
    Reg("EntryLo1", 3, 0, mask=0x03FFFFFF),
    Reg("Context", 4, 0, mask=0xFF800000),                    # PTEBase; BadVPN2 set on TLB faults
    Reg("UserLocal", 4, 2, release=2, present=lambda m: m.userlocal),
    Reg("PageMask", 5, 0, mask=0x1FFFE000, write="cp0_pagemask_written"),
    Reg("PageGrain", 5, 1, kind="const", release=2),
    Reg("Wired", 6, 0, mask=_index_mask, write="cp0_wired_written"),
    Reg("HWREna", 7, 0, mask=_hwrena_mask, release=2),
    Reg("BadVAddr", 8, 0, mask=0),
    Reg("Count", 9, 0, kind="op", read="cp0_read_count", write="cp0_write_count"),
    Reg("EntryHi", 10, 0, mask=0xFFFFE0FF, write="cp0_entryhi_written"),
    Reg("Compare", 11, 0, write="cp0_compare_written"),
    Reg("Status", 12, 0, reset=ST_BEV | ST_ERL, mask="status_mask", write="cp0_status_written"),
    Reg("IntCtl", 12, 1, reset="intctl", mask=0x3E0, release=2),
    Reg("SRSCtl", 12, 2, reset="srsctl", mask=0xF3C0, release=2),
    Reg("SRSMap", 12, 3, kind="const", release=2),
    Reg("Cause", 13, 0, mask=lambda m: 0x00C00300 | (CA_DC if m.release >= 2 else 0),
        write="cp0_cause_written"),
    Reg("EPC", 14, 0),
    Reg("PRId", 15, 0, kind="const", reset="prid"),
    Reg("EBase", 15, 1, reset=0x80000000, mask=0x3FFFF000, release=2),
    Reg("Config", 16, 0, kind="op", read="cp0_read_config0", write="cp0_write_config0"),
    Reg("Config1", 16, 1, kind="const", reset="config1"),
    Reg("Config2", 16, 2, kind="const", reset="config2"),
    Reg("Config3", 16, 3, kind="const", reset="config3"),
    Reg("Config7", 16, 7, kind="const", reset="config7"),
    Reg("LLAddr", 17, 0, kind="op", read="cp0_read_lladdr", write="cp0_write_ignored"),
] + [
    Reg(f"WatchLo{i}", 18, i, mask=0xFFFFFFF8, write="cp0_watch_written") for i in range(8)
] + [
    Reg(f"WatchHi{i}", 19, i, reset=0x80000000 if i < 7 else 0, mask=0x40FF0FF8)
    for i in range(8)
] + [
    Reg("Debug", 23, 0, reset=(1 << 25) | (1 << 15), mask=0),
    Reg("DEPC", 24, 0),
    Reg("ErrCtl", 26, 0, kind="const"),
    Reg("TagLo", 28, 0),
    Reg("DataLo", 28, 1),
    Reg("TagHi", 29, 0),
    Reg("DataHi", 29, 1),
    Reg("ErrorEPC", 30, 0),
    Reg("DESAVE", 31, 0),
]

BY_KEY: Dict[Tuple[int, int], Reg] = {r.key: r for r in REGS}
STATE_REGS = [r for r in REGS if r.kind == "state"]


@register
class CP0(Object):
    """The CP0 registers of REGS that hold state (``cpu.cp0.status``...), plus what the
    computed ones need (Config0, the Count offset).  Model-dependent
    reset values are applied by ``reset_for(model)``."""
    TYPE = "mips-cp0"
    STATE = tuple(Field(r.attr, "u32", r.reset if isinstance(r.reset, int) else 0, f"CP0 {r.name}")
                  for r in STATE_REGS) + (
        Field("config0", "u32", 0, "CP0 Config (K0 is writable)"),
        Field("count_offset", "u32", 0, "Count minus the ticks of the virtual clock"),
    )

    def reset_for(self, model: Model, big_endian: bool) -> None:
        self.reset()
        for r in STATE_REGS:
            if not isinstance(r.reset, int):
                setattr(self, r.attr, r.reset_for(model))
        self.config0 = model.config0 | ((1 << 15) if big_endian else 0)


def lookup(reg: int, sel: int) -> Optional[Reg]:
    return BY_KEY.get((reg, sel))

