"""The MIPS32 CPU models, one table each: identification, configuration, reset values.

Values are those of QEMU 7.2 (target/mips/cpu-defs.c.inc and the reset code in
target/mips/cpu.c), which Linux and the boot loaders have been tested against:

* ``prid``: CP0 PRId.
* ``config0..3``: CP0 Config0-3 as the model reports them in little-endian form;
  Config0.BE (bit 15) is added by the CPU when it is big-endian.  Config0 has
  M (config1 present), K0 = 2 (uncached), AR (release 2) and MT = 1 (standard TLB);
  Config1 has M, the MMU size minus one in bits 30:25, the cache geometry (64 sets
  of 16-byte lines, 2-way in QEMU's tables: IS=0 IL=3 IA=1, DS=0 DL=3 DA=1), WR
  (watch registers), EP (EJTAG), CA (MIPS16) and FP.
* ``config7``: CP0 Config7 (0 on every model here: QEMU defines it only for the M14K).
* ``status_mask``: the writable bits of CP0 Status (``CP0_Status_rw_bitmask``).
* ``fcr0``/``fcr31_mask``: the FPU's FIR and the writable bits of FCSR (None: no FPU).
* ``release``: 1 or 2 (release 1 lacks rdhwr, ext/ins, wsbh/seb/seh, rotr, di/ei, EBase,
  IntCtl, SRSCtl, HWREna; these raise Reserved Instruction there, as in QEMU).
* ``tlb_entries``: JTLB size (Config1.MMU + 1).
* ``srsctl``: SRSCtl reset value (HSS); ``vint``: Config3.VInt (vectored interrupts).
* ``userlocal``: Config3.ULRI (none of these cores has it; ``rdhwr $29`` traps with RI
  and Linux emulates it).
* ``mt``/``dsp``: the MT and DSP ASEs are advertised (34Kf) but their instructions
  are not implemented here; they raise RI.
"""
from __future__ import annotations

from typing import Dict, Optional

# Config register fields (MIPS32 PRA)
C0_M = 1 << 31
C0_BE = 1 << 15
C0_AR_R2 = 1 << 10
C0_MT_TLB = 1 << 7
C0_K0_UNCACHED = 2
C1_M = 1 << 31
C1_MMU_SHIFT = 25
C1_CACHES = (0 << 22) | (3 << 19) | (1 << 16) | (0 << 13) | (3 << 10) | (1 << 7)
C1_WR = 1 << 3
C1_CA = 1 << 2
C1_EP = 1 << 1
C1_FP = 1 << 0
C2_M = 1 << 31
C3_DSPP = 1 << 10
C3_VINT = 1 << 5
C3_MT = 1 << 2
C3_ULRI = 1 << 13

# FIR (FCR0) fields
FIR_F64, FIR_L, FIR_W, FIR_D, FIR_S = 1 << 22, 1 << 21, 1 << 20, 1 << 17, 1 << 16
FIR_FORMATS = FIR_F64 | FIR_L | FIR_W | FIR_D | FIR_S


class Model:
    """One CPU model's table (see the module docstring for the fields)."""

    def __init__(self, name: str, prid: int, release: int, tlb_entries: int, fpu: bool,
                 status_mask: int, mips16: bool = False, vint: bool = False, mt: bool = False,
                 dsp: bool = False, fpu_prid: int = 0, srsctl: int = 0, userlocal: bool = False):
        self.name, self.prid, self.release, self.tlb_entries = name, prid, release, tlb_entries
        self.status_mask = status_mask
        self.config0 = C0_M | C0_MT_TLB | C0_K0_UNCACHED | (C0_AR_R2 if release >= 2 else 0)
        self.config1 = (C1_M | ((tlb_entries - 1) << C1_MMU_SHIFT) | C1_CACHES | C1_WR | C1_EP
                        | (C1_CA if mips16 else 0) | (C1_FP if fpu else 0))
        self.config2 = C2_M
        self.config3 = ((C3_VINT if vint else 0) | (C3_MT if mt else 0) | (C3_DSPP if dsp else 0)
                        | (C3_ULRI if userlocal else 0))
        self.config7 = 0
        self.fcr0: Optional[int] = (FIR_FORMATS | (fpu_prid << 8)) if fpu else None
        self.fcr31_mask = 0xFF83FFFF if fpu else 0
        self.srsctl = srsctl
        self.userlocal, self.vint, self.mt, self.dsp = userlocal, vint, mt, dsp
        self.synci_step = 32
        self.ccres = 2
        self.intctl = 0xE0000000  # IPTI = IPPCI = 7: the timer and perf counter on IP7
        self.lladdr_shift = 0 if mt else 4

    @property
    def has_fpu(self) -> bool:
        return self.fcr0 is not None

    def __repr__(self) -> str:
        return f"Model({self.name})"


MODELS: Dict[str, Model] = {m.name: m for m in (
    Model("4Kc", 0x00018000, release=1, tlb_entries=16, fpu=False, status_mask=0x1278FF17),
    Model("4KEc", 0x00019000, release=2, tlb_entries=16, fpu=False, status_mask=0x1278FF17),
    Model("24Kc", 0x00019300, release=2, tlb_entries=16, fpu=False, status_mask=0x1278FF1F,
          mips16=True),
    Model("24Kf", 0x00019300, release=2, tlb_entries=16, fpu=True, status_mask=0x3678FF1F,
          mips16=True, fpu_prid=0x93),
    Model("34Kf", 0x00019500, release=2, tlb_entries=64, fpu=True, status_mask=0x3778FF1F,
          mips16=True, vint=True, mt=True, dsp=True, fpu_prid=0x95, srsctl=0xF << 26),
)}

DEFAULT = "24Kf"

