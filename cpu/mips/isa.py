"""The MIPS32 release 2 integer decode table (one ``Form`` per instruction form) and
the per-instruction entry point of the translator.

Patterns are read most-significant bit first (see cpu/arm/decode.py): ``0``/``1``
fixed bits, ``-`` bits the hardware ignores (as QEMU ignores them), ``name:N``
fields.  Keyword arguments are constants or functions of the raw fields that give
the generators canonical arguments (``imm`` already extended to 32 bits, ``off`` a
branch offset in bytes).  ``rel=2`` marks release-2 forms: a release-1 model (4Kc)
raises Reserved Instruction for them.  The FPU's forms live in fpu.py and are
tried first when the model has an FPU.

``translate_insn(ctx)`` decodes ``ctx.insn`` and runs the form's generator; a
generator returning False, or an encoding no form matches, becomes RI.
"""
from __future__ import annotations

from typing import List

from pysystem import log
from pysystem.cpu.engine.decode import Decoder, Form

from . import trans_alu as alu
from . import trans_branch as br
from . import trans_mem as mem
from . import trans_sys as sys_
from .decode_util import sext16


def _simm(f):
    return sext16(f["imm"])


def _zimm(f):
    return f["imm"]


def _boff(f):
    v = f["imm"]
    return (v - ((v & 0x8000) << 1)) << 2


R3 = "rs:5 rt:5 rd:5"


def _special(name, funct, handler, fields=R3 + " -----", **kw):
    return Form(name, f"000000 {fields} {funct}", handler, **kw)


def _i(name, opcode, handler, imm=_simm, **kw):
    return Form(name, f"{opcode} rs:5 rt:5 imm:16", handler, imm=imm, **kw)


FORMS: List[Form] = [
    # SPECIAL: shifts
    _special("SLL", "000000", alu.shift_imm, "00000 rt:5 rd:5 sa:5", op="sll"),
    _special("SRL", "000010", alu.shift_imm, "00000 rt:5 rd:5 sa:5", op="srl"),
    _special("ROTR", "000010", alu.shift_imm, "00001 rt:5 rd:5 sa:5", op="rotr", rel=2),
    _special("SRA", "000011", alu.shift_imm, "00000 rt:5 rd:5 sa:5", op="sra"),
    _special("SLLV", "000100", alu.shift_var, R3 + " 00000", op="sll"),
    _special("SRLV", "000110", alu.shift_var, R3 + " 00000", op="srl"),
    _special("ROTRV", "000110", alu.shift_var, R3 + " 00001", op="rotr", rel=2),
    _special("SRAV", "000111", alu.shift_var, R3 + " 00000", op="sra"),
    # SPECIAL: jumps, moves, system
    _special("JR", "001000", br.jump_reg, "rs:5 ----- ----- -----", link=False),
    _special("JALR", "001001", br.jump_reg, "rs:5 ----- rd:5 -----", link=True),
    _special("MOVZ", "001010", alu.movc, op="movz"),
    _special("MOVN", "001011", alu.movc, op="movn"),
    _special("SYSCALL", "001100", sys_.syscall, "code:20", exc="Syscall"),
    _special("BREAK", "001101", sys_.syscall, "code:20", exc="Break"),
    _special("SYNC", "001111", mem.nop, "----- ----- ----- stype:5"),
    _special("MFHI", "010000", alu.mfhilo, "----- ----- rd:5 -----", op="hi"),
    _special("MTHI", "010001", alu.mthilo, "rs:5 ----- ----- -----", op="hi"),
    _special("MFLO", "010010", alu.mfhilo, "----- ----- rd:5 -----", op="lo"),
    _special("MTLO", "010011", alu.mthilo, "rs:5 ----- ----- -----", op="lo"),
    _special("MULT", "011000", alu.mult, "rs:5 rt:5 ----- -----", signed=True, acc=0),
    _special("MULTU", "011001", alu.mult, "rs:5 rt:5 ----- -----", signed=False, acc=0),
    _special("DIV", "011010", alu.div, "rs:5 rt:5 ----- -----", signed=True),
    _special("DIVU", "011011", alu.div, "rs:5 rt:5 ----- -----", signed=False),
    # SPECIAL: three-register ALU
    _special("ADD", "100000", alu.arith, op="add", trap=True),
    _special("ADDU", "100001", alu.arith, op="add", trap=False),
    _special("SUB", "100010", alu.arith, op="sub", trap=True),
    _special("SUBU", "100011", alu.arith, op="sub", trap=False),
    _special("AND", "100100", alu.logic, op="and"),
    _special("OR", "100101", alu.logic, op="or"),
    _special("XOR", "100110", alu.logic, op="xor"),
    _special("NOR", "100111", alu.logic, op="nor"),
    _special("SLT", "101010", alu.slt, signed=True),
    _special("SLTU", "101011", alu.slt, signed=False),
    # SPECIAL: traps on registers
    _special("TGE", "110000", alu.trap, "rs:5 rt:5 code:10", op="tge", signed=True),
    _special("TGEU", "110001", alu.trap, "rs:5 rt:5 code:10", op="tge", signed=False),
    _special("TLT", "110010", alu.trap, "rs:5 rt:5 code:10", op="tlt", signed=True),
    _special("TLTU", "110011", alu.trap, "rs:5 rt:5 code:10", op="tlt", signed=False),
    _special("TEQ", "110100", alu.trap, "rs:5 rt:5 code:10", op="teq", signed=False),
    _special("TNE", "110110", alu.trap, "rs:5 rt:5 code:10", op="tne", signed=False),
    # REGIMM
    Form("BLTZ", "000001 rs:5 00000 imm:16", br.branch, op="ltz", off=_boff, likely=False, link=False),
    Form("BGEZ", "000001 rs:5 00001 imm:16", br.branch, op="gez", off=_boff, likely=False, link=False),
    Form("BLTZL", "000001 rs:5 00010 imm:16", br.branch, op="ltz", off=_boff, likely=True, link=False),
    Form("BGEZL", "000001 rs:5 00011 imm:16", br.branch, op="gez", off=_boff, likely=True, link=False),
    Form("TGEI", "000001 rs:5 01000 imm:16", alu.trap, op="tge", signed=True, imm=_simm),
    Form("TGEIU", "000001 rs:5 01001 imm:16", alu.trap, op="tge", signed=False, imm=_simm),
    Form("TLTI", "000001 rs:5 01010 imm:16", alu.trap, op="tlt", signed=True, imm=_simm),
    Form("TLTIU", "000001 rs:5 01011 imm:16", alu.trap, op="tlt", signed=False, imm=_simm),
    Form("TEQI", "000001 rs:5 01100 imm:16", alu.trap, op="teq", signed=False, imm=_simm),
    Form("TNEI", "000001 rs:5 01110 imm:16", alu.trap, op="tne", signed=False, imm=_simm),
    Form("BLTZAL", "000001 rs:5 10000 imm:16", br.branch, op="ltz", off=_boff, likely=False, link=True),
    Form("BGEZAL", "000001 rs:5 10001 imm:16", br.branch, op="gez", off=_boff, likely=False, link=True),
    Form("BLTZALL", "000001 rs:5 10010 imm:16", br.branch, op="ltz", off=_boff, likely=True, link=True),
    Form("BGEZALL", "000001 rs:5 10011 imm:16", br.branch, op="gez", off=_boff, likely=True, link=True),
    Form("SYNCI", "000001 rs:5 11111 imm:16", sys_.synci, rel=2),
    # jumps and branches
    Form("J", "000010 index:26", br.jump, link=False),
    Form("JAL", "000011 index:26", br.jump, link=True),
    Form("BEQ", "000100 rs:5 rt:5 imm:16", br.branch, op="eq", off=_boff, likely=False, link=False),
    Form("BNE", "000101 rs:5 rt:5 imm:16", br.branch, op="ne", off=_boff, likely=False, link=False),
    Form("BLEZ", "000110 rs:5 00000 imm:16", br.branch, op="lez", off=_boff, likely=False, link=False),
    Form("BGTZ", "000111 rs:5 00000 imm:16", br.branch, op="gtz", off=_boff, likely=False, link=False),
    Form("BEQL", "010100 rs:5 rt:5 imm:16", br.branch, op="eq", off=_boff, likely=True, link=False),
    Form("BNEL", "010101 rs:5 rt:5 imm:16", br.branch, op="ne", off=_boff, likely=True, link=False),
    Form("BLEZL", "010110 rs:5 00000 imm:16", br.branch, op="lez", off=_boff, likely=True, link=False),
    Form("BGTZL", "010111 rs:5 00000 imm:16", br.branch, op="gtz", off=_boff, likely=True, link=False),
    # immediate ALU
    _i("ADDI", "001000", alu.arith, op="add", trap=True),
    _i("ADDIU", "001001", alu.arith, op="add", trap=False),
    _i("SLTI", "001010", alu.slt, signed=True),
    _i("SLTIU", "001011", alu.slt, signed=False),
    _i("ANDI", "001100", alu.logic, imm=_zimm, op="and"),
    _i("ORI", "001101", alu.logic, imm=_zimm, op="or"),
    _i("XORI", "001110", alu.logic, imm=_zimm, op="xor"),
    Form("LUI", "001111 ----- rt:5 imm:16", alu.lui),
    # COP0
    Form("MFC0", "010000 00000 rt:5 rd:5 00000000 sel:3", sys_.mfc0),
    Form("MTC0", "010000 00100 rt:5 rd:5 00000000 sel:3", sys_.mtc0),
    Form("RDPGPR", "010000 01010 rt:5 rd:5 00000000000", sys_.rdpgpr),
    Form("WRPGPR", "010000 01110 rt:5 rd:5 00000000000", sys_.rdpgpr),
    Form("DI", "010000 01011 rt:5 01100 00000 0 00000", sys_.di_ei, ie=0),
    Form("EI", "010000 01011 rt:5 01100 00000 1 00000", sys_.di_ei, ie=1),
    Form("TLBR", "010000 1 0000000000000000000 000001", sys_.tlbop, op="tlbr"),
    Form("TLBWI", "010000 1 0000000000000000000 000010", sys_.tlbop, op="tlbwi"),
    Form("TLBWR", "010000 1 0000000000000000000 000110", sys_.tlbop, op="tlbwr"),
    Form("TLBP", "010000 1 0000000000000000000 001000", sys_.tlbop, op="tlbp"),
    Form("ERET", "010000 1 0000000000000000000 011000", sys_.eret),
    Form("DERET", "010000 1 0000000000000000000 011111", sys_.deret),
    Form("WAIT", "010000 1 ------------------- 100000", sys_.wait),
    # SPECIAL2
    Form("MADD", "011100 rs:5 rt:5 ----- ----- 000000", alu.mult, signed=True, acc=1),
    Form("MADDU", "011100 rs:5 rt:5 ----- ----- 000001", alu.mult, signed=False, acc=1),
    Form("MUL", "011100 rs:5 rt:5 rd:5 ----- 000010", alu.mul),
    Form("MSUB", "011100 rs:5 rt:5 ----- ----- 000100", alu.mult, signed=True, acc=-1),
    Form("MSUBU", "011100 rs:5 rt:5 ----- ----- 000101", alu.mult, signed=False, acc=-1),
    Form("CLZ", "011100 rs:5 ----- rd:5 ----- 100000", alu.clz, op="clz"),
    Form("CLO", "011100 rs:5 ----- rd:5 ----- 100001", alu.clz, op="clo"),
    Form("SDBBP", "011100 code:20 111111", sys_.syscall, exc="DebugBreakpoint"),
    # SPECIAL3
    Form("EXT", "011111 rs:5 rt:5 msbd:5 lsb:5 000000", alu.ext, rel=2),
    Form("INS", "011111 rs:5 rt:5 msb:5 lsb:5 000100", alu.ins, rel=2),
    Form("WSBH", "011111 ----- rt:5 rd:5 00010 100000", alu.bshfl, op="wsbh", rel=2),
    Form("SEB", "011111 ----- rt:5 rd:5 10000 100000", alu.bshfl, op="seb", rel=2),
    Form("SEH", "011111 ----- rt:5 rd:5 11000 100000", alu.bshfl, op="seh", rel=2),
    Form("RDHWR", "011111 ----- rt:5 rd:5 ----- 111011", sys_.rdhwr),
    # loads and stores
    _i("LB", "100000", mem.load, size=1, signed=True),
    _i("LH", "100001", mem.load, size=2, signed=True),
    _i("LWL", "100010", mem.load_partial, left=True),
    _i("LW", "100011", mem.load, size=4, signed=False),
    _i("LBU", "100100", mem.load, size=1, signed=False),
    _i("LHU", "100101", mem.load, size=2, signed=False),
    _i("LWR", "100110", mem.load_partial, left=False),
    _i("SB", "101000", mem.store, size=1),
    _i("SH", "101001", mem.store, size=2),
    _i("SWL", "101010", mem.store_partial, left=True),
    _i("SW", "101011", mem.store, size=4),
    _i("SWR", "101110", mem.store_partial, left=False),
    _i("CACHE", "101111", sys_.cache),
    _i("LL", "110000", mem.ll),
    _i("PREF", "110011", mem.nop),
    _i("SC", "111000", mem.sc),
    # coprocessors 2 and 3 (none on these cores)
    Form("COP2", "010010 --------------------------", sys_.unusable, cop=2),
    Form("LWC2", "110010 --------------------------", sys_.unusable, cop=2),
    Form("LDC2", "110110 --------------------------", sys_.unusable, cop=2),
    Form("SWC2", "111010 --------------------------", sys_.unusable, cop=2),
    Form("SDC2", "111110 --------------------------", sys_.unusable, cop=2),
]

# the coprocessor-1 space when the FPU is absent or disabled (CU1 = 0): CpU(1)
NO_FPU_FORMS: List[Form] = [
    Form("COP1", "010001 --------------------------", sys_.unusable, cop=1),
    Form("COP1X", "010011 --------------------------", sys_.unusable, cop=1),
    Form("LWC1", "110001 --------------------------", sys_.unusable, cop=1),
    Form("LDC1", "110101 --------------------------", sys_.unusable, cop=1),
    Form("SWC1", "111001 --------------------------", sys_.unusable, cop=1),
    Form("SDC1", "111101 --------------------------", sys_.unusable, cop=1),
    Form("MOVCI", "000000 -------------------- 000001", sys_.unusable, cop=1),
]

KEY_MASK = 0xFFFF003F
DECODER = Decoder(FORMS, KEY_MASK)
NO_FPU = Decoder(NO_FPU_FORMS, KEY_MASK)
_FPU = None


def fpu_decoder():
    global _FPU
    if _FPU is None:
        from . import fpu
        _FPU = Decoder(fpu.FORMS, KEY_MASK)
    return _FPU


def decode(insn: int, ctx=None):
    """(form, args) for ``insn`` (FPU forms when the block may use the FPU)."""
    form, args = DECODER.decode(insn)
    if form is None:
        if ctx is not None and ctx.model.has_fpu and ctx.cu1:
            form, args = fpu_decoder().decode(insn)
        else:
            form, args = NO_FPU.decode(insn)
    return form, args


def translate_insn(ctx) -> None:
    """Emit the code of ``ctx.insn`` into the block; RI when it is not an instruction
    of this model."""
    form, args = decode(ctx.insn, ctx)
    mark = len(ctx.lines)
    indent = ctx.indent
    ok = (form is not None and getattr(args, "rel", 1) <= ctx.model.release
          and form.handler(ctx, args) is not False)
    if not ok:
        del ctx.lines[mark:]
        ctx.indent = indent
        ctx.slot_then = None
        ctx.ended = False
        if log.enabled("unimp"):
            name = form.name if form is not None else "unallocated"
            log.log("unimp", f"reserved instruction 0x{ctx.insn:08x} ({name}) at 0x{ctx.pc:08x}")
        ctx.reserved()
