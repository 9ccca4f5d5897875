"""What the gdb stub tells gdb about a CPU: its registers in gdb's numbering and the
target description XML (``qXfer:features:read``), per architecture.

    target = target_for(cpu)           # a Target
    target.xml(annex) -> str | None    # "target.xml" and the feature files it includes
    target.regs[n] -> Reg | None       # gdb register n: name, bits, get(cpu), set(cpu, v)
    target.g_regs(xml_read)            # the registers of a 'g' packet, in order

Numbering and feature names are QEMU 7.2's, so that gdb-multiarch sees the same
registers: for the Cortex-A9 ``org.gnu.gdb.arm.core`` (r0-r15, cpsr as 25; before gdb
has read the XML a 'g' packet also carries the eight FPA registers and their status as
zeros, 16-24), ``org.gnu.gdb.arm.vfp`` (d0-d31 as 26-57, q0-q15 as 58-73, fpscr 74,
with the NEON vector types; QEMU 7.2 sends q<n> with its halves swapped, d<2n+1> first,
and writes it unswapped: so do we, so that gdb shows the same values) and ``org.qemu.gdb.arm.vfp-sysregs`` (fpsid 75, fpexc 76).
QEMU's further ``org.qemu.gdb.arm.sys.regs`` (its list of coprocessor registers) is
not offered.  For MIPS: ``org.gnu.gdb.mips.cpu`` (r0-r31 0-31, lo 33, hi 34, pc 37),
``org.gnu.gdb.mips.cp0`` (status 32, badvaddr 35, cause 36), ``org.gnu.gdb.mips.fpu``
(f0-f31 38-69, fcsr 70, fir 71), the values in the guest's byte order; QEMU 7.2 does not
offer its MIPS XML, so gdb uses this numbering built in: the description is served on
request but not announced (``offer_xml``), and the 'g' packet carries 0-72.
"""
from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional


class Reg(NamedTuple):
    name: str
    bits: int
    get: Callable
    set: Optional[Callable]
    feature: str
    type: str = ""         # the XML type attribute ("" for a plain int)
    group: str = ""


class Target:
    """One architecture's registers and description (see the module docstring)."""

    def __init__(self, arch: str, regs: Dict[int, Reg], features: List[tuple],
                 g_count: int, types: Dict[str, str], offer_xml: bool = True):
        self.arch = arch
        self.offer_xml = offer_xml  # qXfer:features:read+ in qSupported
        self.regs = regs
        self.features = features    # [(annex, feature name)] in order
        self.g_count = g_count      # the 'g' packet holds registers 0..g_count-1
        self.types = types          # feature name -> XML type definitions

    def g_regs(self, xml_read: bool) -> List[Optional[Reg]]:
        return [self.regs.get(n) for n in range(self.g_count)
                if n in self.regs and (xml_read is False or self.regs[n].feature)]

    def xml(self, annex: str) -> Optional[str]:
        if annex == "target.xml":
            inc = "".join(f'<xi:include href="{a}"/>' for a, _ in self.features)
            return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
                    f"<target><architecture>{self.arch}</architecture>{inc}</target>")
        for a, feature in self.features:
            if a != annex:
                continue
            lines = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
                     f'<feature name="{feature}">']
            lines.append(self.types.get(feature, ""))
            prev = None
            for n in sorted(self.regs):
                r = self.regs[n]
                if r.feature != feature:
                    continue
                attrs = f'name="{r.name}" bitsize="{r.bits}"'
                if prev is None or n != prev + 1:
                    attrs += f' regnum="{n}"'
                if r.type:
                    attrs += f' type="{r.type}"'
                if r.group:
                    attrs += f' group="{r.group}"'
                lines.append(f"  <reg {attrs}/>")
                prev = n
            lines.append("</feature>")
            return "\n".join(x for x in lines if x) + "\n"
        return None


# --- ARM (Cortex-A9 with VFPv3-D32 and NEON) ---------------------------------------------

_ARM_CORE = "org.gnu.gdb.arm.core"
_ARM_VFP = "org.gnu.gdb.arm.vfp"
_ARM_SYSREGS = "org.qemu.gdb.arm.vfp-sysregs"

_NEON_TYPES = "\n".join(
    [f'  <vector id="neon_{t}x{c}" type="{e}" count="{c}"/>'
     for t, e, c in (("uint8", "uint8", 8), ("uint16", "uint16", 4), ("uint32", "uint32", 2),
                     ("float32", "ieee_single", 2))]
    + ['  <union id="neon_d">']
    + [f'    <field name="{f}" type="{t}"/>' for f, t in
       (("u8", "neon_uint8x8"), ("u16", "neon_uint16x4"), ("u32", "neon_uint32x2"),
        ("u64", "uint64"), ("f32", "neon_float32x2"), ("f64", "ieee_double"))]
    + ["  </union>"]
    + [f'  <vector id="neon_{t}x{c}" type="{e}" count="{c}"/>'
       for t, e, c in (("uint8", "uint8", 16), ("uint16", "uint16", 8), ("uint32", "uint32", 4),
                       ("uint64", "uint64", 2), ("float32", "ieee_single", 4),
                       ("float64", "ieee_double", 2))]
    + ['  <union id="neon_q">']
    + [f'    <field name="{f}" type="{t}"/>' for f, t in
       (("u8", "neon_uint8x16"), ("u16", "neon_uint16x8"), ("u32", "neon_uint32x4"),
        ("u64", "neon_uint64x2"), ("f32", "neon_float32x4"), ("f64", "neon_float64x2"))]
    + ["  </union>"])


def _arm_set_cpsr(cpu, v: int) -> None:
    cpu.switch_mode(v & 0x1F)   # the banked registers follow the mode, as QEMU's write
    cpu.cpsr = v


def _arm_set_pc(cpu, v: int) -> None:
    cpu.regs[15] = v & (0xFFFFFFFE if cpu.thumb else 0xFFFFFFFC)


def _arm_target() -> Target:
    from pysystem.cpu.arm import vfp
    regs: Dict[int, Reg] = {}
    names = [f"r{i}" for i in range(13)] + ["sp", "lr", "pc"]
    for i, name in enumerate(names):
        setter = _arm_set_pc if i == 15 else (lambda c, v, i=i: c.regs.__setitem__(i, v))
        regs[i] = Reg(name, 32, lambda c, i=i: c.regs[i], setter, _ARM_CORE,
                      {13: "data_ptr", 15: "code_ptr"}.get(i, ""))
    for i in range(8):  # the FPA registers: only in a 'g' packet before the XML is read
        regs[16 + i] = Reg(f"f{i}", 96, lambda c: 0, None, "")
    regs[24] = Reg("fps", 32, lambda c: 0, None, "")
    regs[25] = Reg("cpsr", 32, lambda c: c.cpsr, _arm_set_cpsr, _ARM_CORE)
    for i in range(32):
        regs[26 + i] = Reg(f"d{i}", 64, lambda c, i=i: c.vfp_d[i],
                           lambda c, v, i=i: c.vfp_d.__setitem__(i, v), _ARM_VFP, "neon_d")

    def set_q(c, v, i):
        c.vfp_d[2 * i] = v & 0xFFFFFFFFFFFFFFFF
        c.vfp_d[2 * i + 1] = v >> 64

    for i in range(16):  # read with d(2i+1) in the low half, as QEMU 7.2 sends it
        regs[58 + i] = Reg(f"q{i}", 128,
                           lambda c, i=i: c.vfp_d[2 * i + 1] | (c.vfp_d[2 * i] << 64),
                           lambda c, v, i=i: set_q(c, v, i), _ARM_VFP, "neon_q")
    regs[74] = Reg("fpscr", 32, lambda c: vfp.read_sysreg(c, vfp.REG_FPSCR),
                   lambda c, v: vfp.write_sysreg(c, vfp.REG_FPSCR, v), _ARM_VFP, "int", "float")
    regs[75] = Reg("fpsid", 32, lambda c: vfp.read_sysreg(c, vfp.REG_FPSID),
                   lambda c, v: None, _ARM_SYSREGS, "int", "float")
    regs[76] = Reg("fpexc", 32, lambda c: vfp.read_sysreg(c, vfp.REG_FPEXC),
                   lambda c, v: vfp.write_sysreg(c, vfp.REG_FPEXC, v), _ARM_SYSREGS, "int",
                   "float")
    return Target("arm", regs, [("arm-core.xml", _ARM_CORE), ("arm-neon.xml", _ARM_VFP),
                                ("arm-vfp-sysregs.xml", _ARM_SYSREGS)],
                  26, {_ARM_VFP: _NEON_TYPES})


# --- MIPS (32-bit, both byte orders) ----------------------------------------------------

_MIPS_CPU = "org.gnu.gdb.mips.cpu"
_MIPS_CP0 = "org.gnu.gdb.mips.cp0"
_MIPS_FPU = "org.gnu.gdb.mips.fpu"


def _mips_set_pc(cpu, v: int) -> None:
    cpu.set_key(cpu.key_with_pc(cpu.key(), v & 0xFFFFFFFE))


def _mips_fpu(c, get):
    return get(c) if c.model.fcr0 is not None else 0


def _mips_target(cpu) -> Target:
    """gdb's own MIPS numbering (QEMU 7.2 sends no XML for MIPS, and neither do we, so
    that gdb lays out the registers as with QEMU): 0-31 GPRs, 32 status, 33 lo, 34 hi,
    35 badvaddr, 36 cause, 37 pc, 38-69 f0-f31, 70 fcsr, 71 fir, 72 (fp, always 0)."""
    regs: Dict[int, Reg] = {}
    for i in range(32):
        regs[i] = Reg(f"r{i}", 32, lambda c, i=i: c.regs[i],
                      (lambda c, v, i=i: c.regs.__setitem__(i, v)) if i else (lambda c, v: None),
                      _MIPS_CPU)
    regs[32] = Reg("status", 32, lambda c: c.cp0.status, lambda c, v: c.mtc0(12, 0, v, -1),
                   _MIPS_CP0)
    regs[33] = Reg("lo", 32, lambda c: c.regs[33], lambda c, v: c.regs.__setitem__(33, v),
                   _MIPS_CPU)
    regs[34] = Reg("hi", 32, lambda c: c.regs[32], lambda c, v: c.regs.__setitem__(32, v),
                   _MIPS_CPU)
    regs[35] = Reg("badvaddr", 32, lambda c: c.cp0.badvaddr,
                   lambda c, v: setattr(c.cp0, "badvaddr", v), _MIPS_CP0)
    regs[36] = Reg("cause", 32, lambda c: c.cp0.cause, lambda c, v: c.mtc0(13, 0, v, -1),
                   _MIPS_CP0)
    regs[37] = Reg("pc", 32, lambda c: c.pc_, _mips_set_pc, _MIPS_CPU)
    for i in range(32):
        regs[38 + i] = Reg(f"f{i}", 32, lambda c, i=i: _mips_fpu(c, lambda c: c.fpr[i]),
                           lambda c, v, i=i: c.fpr.__setitem__(i, v), _MIPS_FPU)
    regs[70] = Reg("fcsr", 32, lambda c: _mips_fpu(c, lambda c: c.fcsr),
                   lambda c, v: setattr(c, "fcsr", v & (c.model.fcr31_mask or 0)
                                        | c.fcsr & ~(c.model.fcr31_mask or 0)), _MIPS_FPU)
    regs[71] = Reg("fir", 32, lambda c: _mips_fpu(c, lambda c: c.model.fcr0),
                   lambda c, v: None, _MIPS_FPU)
    regs[72] = Reg("", 32, lambda c: 0, lambda c, v: None, _MIPS_CPU)
    return Target("mips", regs, [("mips-cpu.xml", _MIPS_CPU), ("mips-cp0.xml", _MIPS_CP0),
                                 ("mips-fpu.xml", _MIPS_FPU)], 73, {}, offer_xml=False)


_TARGETS: Dict[int, Target] = {}


def target_for(cpu) -> Target:
    t = _TARGETS.get(id(type(cpu)))
    if t is None:
        if cpu.ARCH == "arm":
            t = _arm_target()
        elif cpu.ARCH.startswith("mips"):
            t = _mips_target(cpu)
        else:
            raise ValueError(f"the gdb stub does not know the {cpu.ARCH} architecture")
        _TARGETS[id(type(cpu))] = t
    return t
