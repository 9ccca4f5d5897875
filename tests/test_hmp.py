"""HMP driven as a user does: pysystem-arm with ``-monitor pty``, a bare-metal guest.

The guest (assembled with Keystone) puts known values into registers and RAM,
then waits in WFI, so every answer is known.  Expected texts for x/xp/print are
those qemu-system-arm 7.2 printed for the same bytes (its register-free
commands); ``$reg`` and ``<<`` are extensions of ours.
"""
from __future__ import annotations

import os
import re
import select
import struct
import subprocess
import time
import tty
from typing import Tuple

import pytest

from tools import module, script

keystone = module("keystone")
capstone = module("capstone")

from test_cli_run import MINI_DTS  # noqa: E402  (the same tiny device tree)

GUEST = """
    mov r1, #0x11
    mov r2, #0x22
    movw r3, #0x3333
    movt r3, #0x1234
    ldr sp, =0x60100000
    ldr r4, =0x60020000
    ldr r0, =0xdeadbeef
    str r0, [r4]
    ldr r0, =0x01234567
    str r0, [r4, #4]
    mov r0, #0
    mov r5, #0x55
halt:
    wfi
    b halt
"""

THUMB_GUEST_ARM = """
    adr r0, th + 1
    bx r0
th:
"""
THUMB_GUEST_T = """
    movs r1, #0x11
    mov.w r2, #0x22
halt:
    wfi
    b halt
"""


@pytest.fixture(scope="module")
def board():
    from pysystem.machine import find_machine
    from pysystem.machines import load_all
    load_all()
    cls = find_machine("vexpress-a9", "arm")
    assert cls is not None and cls.AVAILABLE, "no vexpress-a9 board"
    return cls


@pytest.fixture(scope="module")
def files(tmp_path_factory, board):
    import fdt
    d = tmp_path_factory.mktemp("hmp")
    dtb = d / "mini.dtb"
    dtb.write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
    code, _ = ks.asm(GUEST, 0x60010000)
    kernel = d / "guest.bin"
    kernel.write_bytes(bytes(code))
    arm, _ = ks.asm(THUMB_GUEST_ARM, 0x60010000)
    kt = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_THUMB)
    th, _ = kt.asm(THUMB_GUEST_T, 0x60010000 + len(arm))
    thumb = d / "thumb.bin"
    thumb.write_bytes(bytes(arm) + bytes(th))
    return {"dir": d, "dtb": str(dtb), "kernel": str(kernel), "thumb": str(thumb),
            "code": bytes(code)}


class HMP:
    """A monitor on a pty, typed at as a user would."""

    def __init__(self, kernel: str, dtb: str, *extra: str):
        cmd = [script("pysystem-arm"), "-M", "vexpress-a9", "-m", "256", "-kernel", kernel,
               "-dtb", dtb, "-display", "none", "-serial", "null", "-monitor", "pty", *extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        line = b""
        deadline = time.monotonic() + 60
        while b"char device redirected to" not in line:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no pty: {line!r} {self.proc.stderr.read()!r}")
            line = self.proc.stderr.readline()
        pts = re.search(rb"(/dev/pts/\d+)", line).group(1).decode()
        self.fd = os.open(pts, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""
        os.write(self.fd, b"p 12345\r")      # whatever was printed before we came: skip it
        self.read_until(b"0x3039\r\n(qemu) ")
        self.buf = b""

    def read_until(self, marker: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timeout waiting for {marker!r}; got {self.buf!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                self.buf += os.read(self.fd, 65536)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def type(self, keys: bytes) -> bytes:
        """Send raw keys; returns everything up to the next prompt."""
        os.write(self.fd, keys)
        return self.read_until(b"(qemu) ")

    def cmd(self, line: str) -> str:
        raw = self.type(line.encode() + b"\r")
        text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
        echo, _, rest = text.partition("\n")
        assert echo == line, (echo, line)
        assert rest.endswith("(qemu) ")
        return rest[:-len("(qemu) ")]

    def close(self) -> int:
        try:
            os.write(self.fd, b"quit\r")
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=30)
        finally:
            os.close(self.fd)
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture
def hmp(files):
    h = HMP(files["kernel"], files["dtb"])
    # let the guest reach its WFI loop (r5 is its last write), then stop it
    deadline = time.monotonic() + 30
    while "R05=00000055" not in h.cmd("info registers"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert h.cmd("stop") == ""
    yield h
    assert h.close() == 0


def regs(text: str) -> dict:
    return {k: int(v, 16) for k, v in re.findall(r"\b(R\d\d|PSR)=([0-9a-f]{8})", text)}


def test_info_registers_agrees_with_the_guest(hmp):
    out = hmp.cmd("info registers")
    assert out.startswith("\nCPU#0\nR00=00000000 R01=00000011 R02=00000022 R03=12343333\n")
    r = regs(out)
    assert r["R04"] == 0x60020000 and r["R05"] == 0x55 and r["R13"] == 0x60100000
    assert 0x60010000 <= r["R15"] < 0x60010100
    assert re.search(r"\nPSR=[0-9a-f]{8} [-NZCV]{4} A S svc32\n", out)
    assert "\ns00=00000000 s01=00000000 d00=0000000000000000\n" in out
    assert out.endswith("\nd31=0000000000000000\nFPSCR: 00000000\n".replace("\nd31", " d31"))
    assert hmp.cmd("info registers -a") == out
    assert hmp.cmd("info registers 0") == out
    assert hmp.cmd("info registers 1") == "CPU#1 not available\n"
    assert hmp.cmd("info registers -b") == ("registers: unsupported option -b\n"
                                            "Try \"help info registers\" for more information\n")
    # print $reg agrees
    assert hmp.cmd("p $r3") == "0x12343333\n"
    assert hmp.cmd("print $sp") == "0x60100000\n"
    assert hmp.cmd("p $pc") == f"0x{r['R15']:x}\n"
    assert hmp.cmd("p $foo") == "unknown register\nTry \"help p\" for more information\n"


def test_x_disassembles_at_pc_and_known_code(hmp, files):
    assert hmp.cmd("x /4i 0x60010000") == (
        "0x60010000:  e3a01011  mov      r1, #0x11\n"
        "0x60010004:  e3a02022  mov      r2, #0x22\n"
        "0x60010008:  e3033333  movw     r3, #0x3333\n"
        "0x6001000c:  e3413234  movt     r3, #0x1234\n")
    out = hmp.cmd("x /4i $pc")
    lines = out.splitlines()
    assert len(lines) == 4
    pc = regs(hmp.cmd("info registers"))["R15"]
    assert lines[0].startswith(f"0x{pc:08x}:  ")
    assert re.search(r"\b(wfi|b)\b", lines[0])
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)
    code = files["code"]
    for line, insn in zip(lines, cs.disasm(code[pc - 0x60010000:], pc)):
        assert line.split()[2] == insn.mnemonic
    assert hmp.cmd("x /2i 0xf0000000") == "0xf0000000: unable to read memory\n"


# the same first four instructions as QEMU's captured session: its answers verbatim
QEMU_ANSWERS = [
    ("x /8xb 0x60010000", "60010000: 0x11 0x10 0xa0 0xe3 0x22 0x20 0xa0 0xe3\n"),
    ("xp /4xb 0x60010000", "0000000060010000: 0x11 0x10 0xa0 0xe3\n"),
    ("xp /3dh 0x60010000", "0000000060010000:  4113 58272  8226\n"),
    ("xp /2xg 0x60010000", "0000000060010000: 0xe3a02022e3a01011 0xe3413234e3033333\n"),
    ("x /2c 0x60010000", "60010000: '\\x11' '\\x10' '\\xa0' '\\xe3' '\"' ' ' '\\xa0' '\\xe3' "
                         "'3' '3' '\\x03' '\\xe3' '4' '2' 'A' '\\xe3'\n"),
    ("x /2o 0x60010000", "60010000: 01616401002134350010021 01615011443234300631463\n"),
    ("x /2u 0x60010000", "60010000: 16402145177103241233 16375424922824160051\n"),
    ("x /2d 0x60010000", "60010000: -2044598896606310383 -2071319150885391565\n"),
    ("x 0x60010000", "60010000: -2044598896606310383\n"),
    ("x /2xh 0x60010000", "60010000: 0x1011 0xe3a0\n"),
    ("x /3x 0x60010000", "60010000: 0x1011 0xe3a0 0x2022\n"),
    ("x /4ow 0x60010000", "60010000: 034350010021 034350020042 034300631463 034320231064\n"),
    ("x /4dw 0x60010000", "60010000: 3818917905 3818922018 3808637747 3812700724\n"),
    ("x /12xb 0x60010000", "60010000: 0x11 0x10 0xa0 0xe3 0x22 0x20 0xa0 0xe3\n"
                           "60010008: 0x33 0x33 0x03 0xe3\n"),
    ("x /0x 0x60010000", ""),
    ("x /4x 0xf0000000", "f0000000: Cannot access memory\n"),
    ("xp /4xw 0xf0000000", "00000000f0000000: Cannot access memory\n"),
    ("x /2xq 0x60010000", "invalid char in format: 'q'\nTry \"help x\" for more information\n"),
    ("x 0x60010000 junk", "x: extraneous characters at the end of line\n"
                          "Try \"help x\" for more information\n"),
    ("x", "unexpected end of expression\nTry \"help x\" for more information\n"),
    ("print 10", "0xa\n"),
    ("p 0x10+3*2", "0x16\n"),
    ("p -5", "0xfffffffffffffffb\n"),
    ("p/d -5", "-5\n"),
    ("p/u -5", "18446744073709551611\n"),
    ("p/o 8", "010\n"),
    ("p 0", "0\n"),
    ("p/c 65", "'A'\n"),
    ("p 7%3", "'\\x01'\n"),           # /c is sticky
    ("p ~1", "'\\xfffffffe'\n"),
    ("p (1+2)*3", "'\\x09'\n"),
    ("p 1+2&3", "'\\x03'\n"),         # QEMU's precedence: & before +
    ("p 'a'", "'a'\n"),
    ("p/x 100", "0x64\n"),
    ("p 1/0", "division by zero\nTry \"help p\" for more information\n"),
    ("p (1+2", "')' expected\nTry \"help p\" for more information\n"),
    ("p 123abc", "print|p: extraneous characters at the end of line\n"
                 "Try \"help p\" for more information\n"),
    ("p 99999999999999999999999", "number too large\nTry \"help p\" for more information\n"),
    ("p 1<<4", "0x10\n"),                 # extension
]


def test_x_xp_print_match_qemu(hmp):
    for line, want in QEMU_ANSWERS:
        assert hmp.cmd(line) == want, line


def test_xp_reads_what_the_guest_stored(hmp):
    assert hmp.cmd("xp /2xw 0x60020000") == "0000000060020000: 0xdeadbeef 0x01234567\n"
    assert hmp.cmd("x /2xw $r4") == "60020000: 0xdeadbeef 0x01234567\n"
    assert hmp.cmd("x /1xw $r4+4") == "60020004: 0x01234567\n"


def test_memsave_and_pmemsave_write_the_bytes(hmp, files, tmp_path):
    v, p = tmp_path / "v.bin", tmp_path / "p.bin"
    assert hmp.cmd(f"memsave 0x60010000 32 {v}") == ""
    assert hmp.cmd(f"pmemsave 0x60020000 8 {p}") == ""
    assert v.read_bytes() == files["code"][:32]
    assert p.read_bytes() == bytes.fromhex("efbeadde67452301")
    assert hmp.cmd(f"memsave 0xf0000000 16 {tmp_path / 'bad.bin'}") == \
        "Error: Invalid addr 0x00000000f0000000/size 16 specified\n"
    assert hmp.cmd(f"pmemsave 0 16 {tmp_path}/no/such/dir") == \
        f"Error: Could not open '{tmp_path}/no/such/dir': No such file or directory\n"
    assert hmp.cmd("memsave 0x60010000 16") == \
        "memsave: string expected\nTry \"help memsave\" for more information\n"


def _without_nops(blob: bytes) -> Tuple[bytes, int]:
    """The blob with its FDT_NOP tokens dropped (the ``fdt`` package's parser refuses
    them), and how many there were.  QEMU's ARM boot NOPs out the memory nodes it
    replaces (libfdt's fdt_nop_node), so its dumped tree has them too."""
    off, size = struct.unpack_from(">I", blob, 8)[0], struct.unpack_from(">I", blob, 36)[0]
    out, pos, nops = bytearray(), off, 0
    while pos < off + size:
        tag = struct.unpack_from(">I", blob, pos)[0]
        end = pos + 4
        if tag == 1:                                    # FDT_BEGIN_NODE: name, aligned
            end = (blob.index(b"\0", end) + 4) & ~3
        elif tag == 3:                                  # FDT_PROP: len, nameoff, value
            end = (end + 8 + struct.unpack_from(">I", blob, end)[0] + 3) & ~3
        if tag == 4:
            nops += 1
        else:
            out += blob[pos:end]
        pos = end
    head = bytearray(blob[:off])
    struct.pack_into(">I", head, 36, len(out))
    strings = struct.unpack_from(">I", blob, 12)[0]
    struct.pack_into(">I", head, 12, off + len(out))   # strings follow the structure
    struct.pack_into(">I", head, 4, off + len(out) + len(blob) - strings)
    return bytes(head + out + blob[strings:]), nops


def test_dumpdtb_writes_the_patched_tree(hmp, tmp_path):
    import fdt
    out = tmp_path / "dump.dtb"
    assert hmp.cmd(f"dumpdtb {out}") == ""
    blob, nops = _without_nops(out.read_bytes())
    assert nops > 0                     # the replaced memory node, NOPed out as by QEMU
    tree = fdt.parse_dtb(blob)
    assert tree.get_node("/chosen") is not None
    mem = tree.get_property("reg", "/memory@60000000")
    assert list(mem.data) == [0x60000000, 256 << 20]


def test_qom_list_get_set(hmp):
    listing = hmp.cmd("qom-list /machine")
    assert "type (string)\n" in listing and "append (string)\n" in listing
    assert "unattached (child<container>)\n" in listing
    assert hmp.cmd("qom-get /machine type") == '"vexpress-a9-machine"\n'
    assert hmp.cmd("qom-get /machine ram-size") == f"{256 << 20}\n"
    assert hmp.cmd("qom-set /machine append console=ttyAMA0") == ""
    assert hmp.cmd("qom-get /machine append") == '"console=ttyAMA0"\n'
    assert hmp.cmd("qom-set /machine no-reboot on") == ""
    assert hmp.cmd("qom-get /machine no-reboot") == "true\n"
    cpu = "/machine/unattached/cpu[0]"
    assert hmp.cmd(f"qom-get {cpu} realized") == "true\n"
    assert hmp.cmd(f"qom-set {cpu} mp-affinity 5") == (
        "Error: Attempt to set property 'mp-affinity' on anonymous device "
        "(type 'cortex-a9-arm-cpu') after it was realized\n")
    assert hmp.cmd("qom-get /nope x") == "Error: Device '/nope' not found\n"
    assert hmp.cmd("qom-get /machine nope") == \
        "Error: Property 'vexpress-a9-machine.nope' not found\n"
    assert hmp.cmd("qom-get /machine") == \
        "qom-get: string expected\nTry \"help qom-get\" for more information\n"
    assert hmp.cmd("qom-set /machine smp x") .startswith("Error: ")


def test_info_commands(hmp):
    assert hmp.cmd("info status") == "VM status: paused\n"
    assert hmp.cmd("info version").startswith("0.1.0 (pysystem")
    assert re.fullmatch(r"\* CPU #0: thread_id=\d+\n", hmp.cmd("info cpus"))
    roms = hmp.cmd("info roms")
    assert 'addr=0000000060000000 size=0x00001c mem=ram name="bootloader"\n' in roms
    assert re.search(r'addr=0000000060010000 size=0x0000[0-9a-f]{2} mem=ram name=".*/guest.bin"', roms)
    assert hmp.cmd("info irq") == "" and hmp.cmd("info pic") == ""     # as QEMU on vexpress
    qtree = hmp.cmd("info qtree")
    assert qtree.startswith("bus: main-system-bus\n  type System\n")
    assert '  dev: pl011, id ""\n    gpio-out "sysbus-irq" 6\n    chardev = "serial0"\n' in qtree
    assert "    mmio 0000000010009000/0000000000001000\n" in qtree
    assert '    bus: i2c\n      type i2c-bus\n      dev: i2c-ddc, id ""\n' in qtree
    assert "/machine (vexpress-a9-machine)\n" in hmp.cmd("info qom-tree")
    assert hmp.cmd("info qom-tree /nope") == "Path '/nope' could not be resolved\n"
    assert "address-space: memory\n" in hmp.cmd("info mtree")
    assert "compat_monitor0: filename=pty:/dev/pts/" in hmp.cmd("info chardev")
    assert hmp.cmd("info block") == ""
    assert hmp.cmd("help x") == "x /fmt addr -- virtual memory dump starting at 'addr'\n"
    assert hmp.cmd("help info status") == \
        "info status  -- show the current VM status (running|paused)\n"
    assert "info registers [-a|vcpu] -- show the cpu registers" in hmp.cmd("help info")


def test_run_control_and_bad_input_keep_the_vm_alive(hmp):
    assert hmp.cmd("foo") == "unknown command: 'foo'\n"
    assert hmp.cmd("info foo") == "unknown command: 'info foo'\n"
    assert hmp.cmd("log bogus").startswith("Log items (comma separated):\n")
    assert hmp.cmd("log none") == ""
    assert hmp.cmd("logfile") == "logfile: filename expected\nTry \"help logfile\" for more information\n"
    assert hmp.cmd("system_powerdown") == ""
    assert hmp.cmd("c") == ""
    assert hmp.cmd("info status") == "VM status: running\n"
    assert hmp.cmd("s") == ""
    assert hmp.cmd("system_reset") == ""
    time.sleep(0.2)
    r = regs(hmp.cmd("info registers"))
    assert r["R15"] == 0x60000000 and r["R01"] == 0      # reset, still paused: boot stub entry
    assert hmp.cmd("cont") == ""
    deadline = time.monotonic() + 30
    while regs(hmp.cmd("info registers"))["R05"] != 0x55:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_thumb_code_disassembles_as_thumb(files):
    h = HMP(files["thumb"], files["dtb"])
    try:
        deadline = time.monotonic() + 30
        while " T S svc32" not in h.cmd("info registers"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert h.cmd("stop") == ""
        assert h.cmd("x /3i 0x60010008") == (
            "0x60010008:  2111       movs     r1, #0x11\n"
            "0x6001000a:  f04f 0222  mov.w    r2, #0x22\n"
            "0x6001000e:  bf30       wfi      \n")
    finally:
        assert h.close() == 0


def test_line_editing_history_and_completion(hmp):
    # Tab completes a command, an info subcommand, a QOM path and a register
    out = hmp.type(b"info sta\t\r").decode().replace("\r\n", "\n")
    assert out.startswith("info status \nVM status: paused\n")
    out = hmp.type(b"qom-get /machine/unatt\tcpu[\t real\t\r").decode().replace("\r\n", "\n")
    assert "qom-get /machine/unattached/cpu[0]/ realized \n" in out or "true\n" in out
    out = hmp.type(b"p $cp\t\r").decode().replace("\r\n", "\n")
    assert out.startswith("p $cpsr \n0x")
    # several candidates and no common prefix to add: Tab lists them, then the prompt again
    out = hmp.type(b"info q\t").decode()
    assert "qom-tree" in out and "qtree" in out
    hmp.type(b"\x15\r")
    # Up arrow recalls the previous line, Left/Backspace edit in the middle
    hmp.cmd("p 41")
    out = hmp.type(b"\x1b[A\x1b[D\x7f2\x1b[C\r").decode().replace("\r\n", "\n")
    assert out.endswith("\n0x15\n(qemu) ")            # "p 21"
    # Ctrl-A, Ctrl-K, Ctrl-W, Ctrl-U
    out = hmp.type(b"junk words\x17\x17p 7\r").decode().replace("\r\n", "\n")
    assert "0x7\n" in out
    out = hmp.type(b"xx\x01\x0bp 8\r").decode().replace("\r\n", "\n")
    assert "0x8\n" in out
    hist = hmp.cmd("info history")
    assert hist.endswith("\n7: 'p 21'\n8: 'p 7'\n9: 'p 8'\n10: 'info history'\n"), hist


def test_random_bytes_over_the_pty_do_not_hurt(files):
    import random
    rng = random.Random(5)
    # no Tab and none of q m l d v: no quit/memsave/pmemsave/log/logfile/dumpdtb/savevm/
    # loadvm/delvm can be typed or completed; everything else goes
    banned = set(b"\tqmldv")
    h = HMP(files["kernel"], files["dtb"])
    try:
        for _ in range(20):
            chunk = bytes(b for b in rng.randbytes(500) if b not in banned) if hasattr(rng, "randbytes") \
                else bytes(b for b in (rng.getrandbits(8) for _ in range(500)) if b not in banned)
            os.write(h.fd, chunk)
            time.sleep(0.02)
            r, _, _ = select.select([h.fd], [], [], 0)
            while r:
                os.read(h.fd, 65536)
                r, _, _ = select.select([h.fd], [], [], 0.05)
        os.write(h.fd, b"\x1b[A\x15\r")                   # leave any escape, clear the line
        time.sleep(0.5)
        while select.select([h.fd], [], [], 0.2)[0]:
            os.read(h.fd, 65536)
        h.buf = b""
        out = h.cmd("c")
        assert out == ""
        assert h.cmd("info status") == "VM status: running\n"
        assert h.proc.poll() is None
    finally:
        assert h.close() == 0
