"""A Linux boot under gdb-multiarch, on both boards, compared with QEMU 7.2 line for line.

Debian's kernels start with a decompressor (the armmp zImage's XZ stub; the 4kc-malta
vmlinuz is an ELF that unpacks the kernel to 0x80100000), 2e9 guest instructions that
a test cannot afford.  gdb does its job instead, on pysystem and QEMU alike: it stops
at the decompressor's entry (the boot loader's registers are set: r0-r2 / a0-a3), writes
the kernel that the test unpacked with Python's lzma (``restore``) where the decompressor
would have put it, and jumps to its entry.  The kernel then runs from its first
instruction, builds its page tables and turns the MMU on.

Symbols: Debian ships a placeholder System.map (the real one is in the -dbg package, far
too big to fetch), so the test reads the kernel's own symbol table, kallsyms, out of the
unpacked image, and gives gdb an ELF holding those symbols (no code: gdb reads the code
from the target, at virtual addresses, through the guest's page tables).

The command file breaks on ``setup_machine_fdt`` / ``plat_mem_setup`` (called early in
``setup_arch``) by address, continues to it, and then reads what a kernel developer
reads: the backtrace, the registers, the kernel's code in memory at its virtual address and
its disassembly, a series of ``stepi`` (ARM: through a call and its return) with the PC,
then a temporary breakpoint at the return address back into the caller (``finish``
needs an unwinder gdb lacks here without debug info: it runs away on QEMU too).
pysystem's transcript must equal QEMU's (both run here), which checks that the MMU, the
stops and every register are the same.  The Malta kernel is relocatable with KASLR: its
command line says ``nokaslr``, so that the addresses of kallsyms hold.
"""
from __future__ import annotations

import lzma
import os
import re
import struct
import subprocess
from typing import Dict, Iterator, Tuple

import pytest

import test_gdb
from tools import guest_images, guest_script, program

pytestmark = [pytest.mark.network]

# arch -> machine options, where the kernel image goes (physical for gdb's restore, as the
# MMU is off there; virtual once the kernel runs), the function to stop in, the compiler
# that builds the symbol file, the emulators' name
BOARDS = {
    "arm": dict(machine=["-M", "vexpress-a9", "-m", "256M"], load=0x60008000,
                stop="setup_machine_fdt", cc="arm-linux-gnueabihf-gcc", emulator="arm"),
    "mipsel": dict(machine=["-M", "malta", "-m", "256M"], load=0x80100000,
                   stop="plat_mem_setup", cc="mipsel-linux-gnu-gcc", emulator="mipsel"),
}


# --- the kernel's own symbol table ---------------------------------------------------------

def _u32(img: bytes, off: int) -> int:
    return struct.unpack_from("<I", img, off)[0]


def _token_indexes(img: bytes) -> Iterator[Tuple[int, tuple]]:
    """Candidates for kallsyms_token_index: 256 increasing u16 offsets from 0."""
    for m in re.finditer(b"(?=\x00\x00[\x01-\x20]\x00)", img):
        p = m.start()
        if p % 4:
            continue
        idx = struct.unpack_from("<256H", img, p)
        if idx[255] > 256 and all(0 < idx[i + 1] - idx[i] < 64 for i in range(255)):
            yield p, idx


def kallsyms(img: bytes) -> Dict[str, int]:
    """name -> address from a little-endian 32-bit kernel image with
    CONFIG_KALLSYMS_BASE_RELATIVE (Linux 6.1's layout: kallsyms_offsets,
    kallsyms_relative_base, kallsyms_num_syms, kallsyms_names, kallsyms_markers,
    kallsyms_seqs_of_names, kallsyms_token_table, kallsyms_token_index)."""
    for p, idx in _token_indexes(img):
        last, start = idx[255], None
        for s in range(p - last - 2, p - last - 70, -1):
            if all(img[s + idx[i] - 1] == 0 for i in range(1, 256)):
                if 0 <= p - (img.index(b"\x00", s + last) + 1) < 4:
                    start = s
                    break
        if start is None:
            continue
        tokens = [img[start + i:img.index(b"\x00", start + i)] for i in idx]
        for s in range(start & ~3, max(start - 0x800000, 8), -4):
            n = _u32(img, s)
            if not 256 < n < (start - s) // 3:
                continue
            pos, ents = s + 4, []
            for _ in range(n):
                ln, hdr = img[pos], 1
                if ln & 0x80:
                    ln, hdr = (ln & 0x7F) | (img[pos + 1] << 7), 2
                if ln == 0 or pos >= start:
                    break
                ents.append((pos, img[pos + hdr:pos + hdr + ln]))
                pos += hdr + ln
            else:
                markers = (pos + 3) & ~3
                if _u32(img, markers) != 0 or _u32(img, markers + 4) != ents[256][0] - s - 4:
                    continue
                base = _u32(img, s - 4)
                offsets = struct.unpack_from(f"<{n}I", img, s - 4 - 4 * n)
                out: Dict[str, int] = {}
                for (_, e), off in zip(ents, offsets):
                    name = b"".join(tokens[b] for b in e).decode("latin-1")
                    out.setdefault(name[1:], (base + off) & 0xFFFFFFFF)
                return out
    raise AssertionError("no kallsyms tables in the kernel image")


def unpack_kernel(arch: str, path: str) -> bytes:
    """The kernel image inside Debian's compressed kernel: the XZ stream that decompresses."""
    data = open(path, "rb").read()
    for m in re.finditer(re.escape(b"\xfd7zXZ\x00"), data):
        try:
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[m.start():])
        except lzma.LZMAError:
            continue
    raise AssertionError(f"no XZ stream in {path}")


def symbol_file(arch: str, symbols: Dict[str, int], folder: str) -> str:
    """An ELF holding ``symbols`` as functions in an empty (NOBITS) section at their
    addresses, for gdb's ``symbol-file``."""
    lo = min(symbols.values())
    hi = max(symbols.values())
    lines = ['.section .kernel,"ax",%nobits']
    for name, addr in sorted(symbols.items(), key=lambda kv: kv[1]):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            continue
        lines += [f".org {addr - lo:#x}", f".globl {name}", f".type {name},%function", f"{name}:"]
    lines.append(f".org {hi - lo + 4:#x}")
    src = os.path.join(folder, f"{arch}-kallsyms.S")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(folder, f"{arch}-kallsyms.elf")
    cc = program(BOARDS[arch]["cc"])
    subprocess.run([cc, "-nostdlib", "-static", "-Wl,--build-id=none", "-Wl,-e,0",
                    f"-Wl,--section-start=.kernel={lo:#x}", src, "-o", out],
                   check=True, cwd=folder)
    return out


# --- the session ---------------------------------------------------------------------------

def command_file(arch: str, image: str, symbols: Dict[str, int], entry: int,
                 kernel_entry: int) -> str:
    b = BOARDS[arch]
    stop = symbols[b["stop"]]
    if arch == "arm":
        regs = "info registers " + " ".join([f"r{i}" for i in range(13)] + ["sp", "lr", "pc",
                                                                           "cpsr", "fpscr"])
        ret = "$lr"
    else:
        # not $cause: QEMU's PIT (real time) has raised IP2 by then, ours (instruction-
        # counted time) has not
        regs = "info registers zero at v0 v1 a0 a1 a2 a3 t0 t1 s0 s1 s2 sp s8 ra sr lo hi bad pc"
        ret = "$ra"
    return "\n".join([
        "set pagination off", "set confirm off", "set width 0",
        f"break *{entry:#x}", "continue",            # the decompressor's entry
        f"restore {image} binary {b['load']:#x}", f"set $pc = {kernel_entry:#x}",
        "delete", f"break *{stop:#x}", "continue",
        "bt 4", regs,
        "x/6i $pc",
        f"set $ret = {ret}",
        "stepi", "stepi", "stepi", "stepi", "stepi", "stepi", "stepi", "stepi",
        "p/x $pc", "p/x $sp", "bt 3",
        "delete", "tbreak *$ret", "continue",       # back in the caller
        "bt 3", "p/x $pc", f"p/x {'$r0' if arch == 'arm' else '$v0'}",
        f"x/4xw {stop:#x}",
        "kill", ""])


class Kernel:
    """Debian's kernel for ``arch`` prepared in ``folder``: the unpacked image, its
    symbols and their ELF, the emulator's kernel options, the decompressor's entry and
    the kernel's."""

    def __init__(self, arch: str, folder: str):
        g = guest_images(arch)
        b = BOARDS[arch]
        self.arch, self.folder = arch, folder
        img = unpack_kernel(arch, str(g.kernel))
        self.image = f"{arch}-Image"         # in ``folder``, gdb's working directory
        with open(os.path.join(folder, self.image), "wb") as f:
            f.write(img)
        self.symbols = kallsyms(img)
        self.elf = symbol_file(arch, self.symbols, folder)
        if arch == "arm":
            self.entry, self.kernel_entry = 0x60010000, b["load"]    # the zImage, the Image
            self.options = ["-kernel", str(g.kernel), "-dtb", str(g.dtb),
                            "-append", "console=ttyAMA0"]
        else:
            with open(str(g.kernel), "rb") as f:
                head = f.read(52)
            self.entry = struct.unpack_from("<I", head, 24)[0]   # e_entry
            self.kernel_entry = self.symbols["kernel_entry"]
            self.options = ["-kernel", str(g.kernel), "-append", "console=ttyS0 nokaslr"]


def transcript(k: Kernel, qemu: bool) -> str:
    arch, folder, b = k.arch, k.folder, BOARDS[k.arch]
    port = test_gdb.free_port()
    exe = program("qemu-system-arm" if arch == "arm" else "qemu-system-mipsel") if qemu \
        else guest_script(f"pysystem-{b['emulator']}")
    cmd = [exe, *b["machine"], *k.options, "-gdb", f"tcp::{port}", "-S", "-display", "none",
           "-serial", "null", "-monitor", "none"]
    emu = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        test_gdb.wait_listening(port, emu)
        commands = os.path.join(folder, f"{arch}-linux.gdb")
        with open(commands, "w") as f:
            f.write(f"set remotetimeout 60\ntarget remote :{port}\n"
                    + command_file(arch, k.image, k.symbols, k.entry, k.kernel_entry))
        run = subprocess.run([program("gdb-multiarch"), "-q", "-batch", "-nx", "-x", commands,
                              k.elf], cwd=folder, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        return run.stdout.decode("utf-8", "replace")
    finally:
        emu.kill()
        emu.wait()


@pytest.mark.parametrize("arch", sorted(BOARDS))
def test_linux_boot_under_gdb_equals_qemu(arch, tmp_path):
    k = Kernel(arch, str(tmp_path))
    expected = transcript(k, qemu=True)
    got = transcript(k, qemu=False)
    stop = BOARDS[arch]["stop"]
    assert f"in {stop} ()" in expected, expected          # the oracle got there at all
    assert got.splitlines() == expected.splitlines()
