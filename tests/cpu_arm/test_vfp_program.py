"""A compiled VFP workload (vfp_prog/fpmix.c, built here with arm-none-eabi-gcc for
VFPv3, hard float) run on pysystem's CPU and on Unicorn with random inputs biased to
corner cases, in each rounding mode with FZ/DN on and off: the outputs, the VFP
registers and the FPSCR must agree.  Compiler-generated code mixes VFP loads/stores,
conversions, compares + VMRS APSR_nzcv and arithmetic the way real programs do."""
from __future__ import annotations

import os
import random
import struct
import subprocess

import pytest
from unicorn import arm_const as A

from gen_vfp import UC_D, VFPPair, rand_f32, rand_f64
import tools

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vfp_prog")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    gcc = tools.program("arm-none-eabi-gcc")
    from elftools.elf.elffile import ELFFile
    out = str(tmp_path_factory.mktemp("fpmix") / "fpmix.elf")
    subprocess.run([gcc, "-O2", "-marm", "-march=armv7-a", "-mfpu=vfpv3", "-mfloat-abi=hard",
                    "-ffreestanding", "-nostdlib", "-fno-math-errno", "-T",
                    os.path.join(HERE, "fpmix.ld"), os.path.join(HERE, "fpmix.c"), "-o", out],
                   check=True)
    with open(out, "rb") as f:
        elf = ELFFile(f)
        segs = [(s["p_paddr"], s.data()) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        syms = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
    return segs, syms


@pytest.mark.parametrize("seed", range(8))
def test_compiled_program(program, seed):
    segs, syms = program
    rng = random.Random(seed)
    pair = VFPPair()
    cpu, uc = pair.cpu, pair.uc
    inputs = struct.pack("<64I", *[rand_f32(rng) for _ in range(64)]) + \
        struct.pack("<64Q", *[rand_f64(rng) for _ in range(64)])
    fpscr = (seed & 3) << 22 | (1 << 24 if seed & 4 else 0) | (1 << 25 if rng.random() < 0.5 else 0)
    for addr, data in segs + [(syms["in_f"], inputs)]:
        pair.space.write_bytes(addr, data)
        uc.mem_write(addr, data)
    start, halt = syms["_start"], syms["_start"] + 8
    uc.reg_write(A.UC_ARM_REG_FPSCR, fpscr)
    cpu.fpscr = fpscr
    uc.emu_start(start, halt)
    cpu.regs[15] = start
    for _ in range(2000):
        if cpu.regs[15] == halt:
            break
        cpu.run(10000)
    assert cpu.regs[15] == halt
    for name, size in (("out_u", 256 * 4), ("out_d", 256 * 8)):
        ours = pair.space.read_bytes(syms[name], size)
        assert ours == bytes(uc.mem_read(syms[name], size)), name
        assert len(set(ours)) > 16  # the program really produced results
    assert [uc.reg_read(r) for r in UC_D] == cpu.vfp_d
    assert uc.reg_read(A.UC_ARM_REG_FPSCR) == cpu.fpscr
    assert cpu.clock.icount > 5000
