"""``-drive if=mtd`` on boards without an MTD slot: the boot flash (Machine.claim_flash).

QEMU refuses ``if=mtd`` on vexpress-a9 and Malta; pysystem takes it as the boot flash
(vexpress-a9's NOR flash 0, Malta's "mips_malta.bios"), an image smaller than the flash
padded with erased bytes (0xff), so that pytest-embedded's QEMU plugin, which always
passes its firmware that way, can start these boards.  The oracle is QEMU running the
same firmware from ``-drive if=pflash`` with the image padded to the flash's size by
hand: the serial output must be the same, and so must the flash as the CPU reads it.
"""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from echo_firmware import BANNER, echo_firmware
from tools import program, script

BOARDS = {   # arch: (board, QEMU, flash base, flash size, extra QEMU options)
    "arm": ("vexpress-a9", "qemu-system-arm", 0x40000000, 64 << 20, ["-audiodev", "none,id=a"]),
    "mipsel": ("malta", "qemu-system-mipsel", 0x1E000000, 4 << 20, []),
}
EXPECTED = f"{BANNER}\r\n> HELLO, PYSYSTEM 42\r\n> ".encode()


def _converse(argv, timeout: float = 120) -> bytes:
    """Start ``argv`` (its serial port on stdio), type a line after the banner, and
    return what it printed once the answer's prompt came (or the time ran out)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out = b""
    os.set_blocking(proc.stdout.fileno(), False)
    end = time.monotonic() + timeout
    sent = False
    try:
        while time.monotonic() < end and not out.endswith(EXPECTED[-30:]):
            chunk = proc.stdout.read()
            if chunk:
                out += chunk
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
            if not sent and out.endswith(b"> "):
                proc.stdin.write(b"hello, pysystem 42\n")
                proc.stdin.flush()
                sent = True
    finally:
        proc.kill()
        proc.wait()
    return out


@pytest.mark.parametrize("arch", sorted(BOARDS))
def test_mtd_firmware_runs_as_from_qemus_padded_pflash(tmp_path, arch):
    board, qemu, _, size, qemu_extra = BOARDS[arch]
    image = echo_firmware(arch)
    small = tmp_path / "firmware.bin"
    small.write_bytes(image)
    padded = tmp_path / "padded.bin"
    padded.write_bytes(image + b"\xff" * (size - len(image)))
    common = ["-M", board, "-m", "128M", "-display", "none", "-serial", "stdio",
              "-monitor", "none"]
    theirs = _converse([program(qemu), *common, *qemu_extra,
                        "-drive", f"file={padded},if=pflash,format=raw"])
    assert theirs == EXPECTED
    ours = _converse([script(f"pysystem-{arch}"), *common,
                      "-drive", f"file={small},if=mtd,format=raw"])
    assert ours == theirs
    assert small.read_bytes() == image          # the image keeps its bytes


@pytest.mark.parametrize("arch", sorted(BOARDS))
def test_the_flash_holds_the_image_then_erased_bytes(tmp_path, arch):
    """What the CPU reads at the flash's start and around the image's end, against
    QEMU's ``xp`` over the padded pflash image (Malta's words swapped alike)."""
    from pysystem.api import Machine
    board, qemu, base, size, qemu_extra = BOARDS[arch]
    image = bytes(range(256)) * 8 + b"tail"          # 2052 bytes: not whole sectors
    small = tmp_path / "firmware.bin"
    small.write_bytes(image)
    padded = tmp_path / "padded.bin"
    padded.write_bytes(image + b"\xff" * (size - len(image)))
    probes = [base, base + 0x7f0, base + 2048, base + size - 16]
    commands = "".join(f"xp /4wx 0x{a:x}\n" for a in probes) + "quit\n"
    r = subprocess.run([program(qemu), "-M", board, "-m", "128M", "-S", "-display", "none",
                        "-serial", "null", "-monitor", "stdio", *qemu_extra,
                        "-drive", f"file={padded},if=pflash,format=raw"],
                       input=commands.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=120)
    theirs = [line.split(":", 1)[1].split() for line in
              r.stdout.decode("utf-8", "replace").replace("\r", "").splitlines()
              if line.startswith("00000000")]
    assert len(theirs) == len(probes), r.stdout
    with Machine(board, arch=arch, m="128M", S=True,
                 drive=f"file={small},if=mtd,format=raw") as m:
        ours = [m.hmp(f"xp /4wx 0x{a:x}").split(":", 1)[1].split() for a in probes]
    assert ours == theirs
    assert theirs[2][1:] == ["0xffffffff"] * 3 and theirs[3] == ["0xffffffff"] * 4


def test_an_image_larger_than_the_flash_is_refused(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * ((4 << 20) + 512))
    r = subprocess.run([script("pysystem-mipsel"), "-M", "malta", "-display", "none",
                        "-drive", f"file={big},if=mtd,format=raw"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 1
    assert r.stderr.decode() == (f"pysystem-mipsel: -drive file={big},if=mtd,format=raw: an "
                                 "image of 4194816 bytes does not fit the boot flash of "
                                 "4194304 bytes\n")


def _refusal(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 1, r
    return r.stderr.decode().splitlines()[-1]


def test_pflash_keeps_qemus_size_rule_and_mtd_has_one_slot(tmp_path):
    """``if=pflash`` must still match the flash's size exactly (QEMU's message), and
    only index 0 of ``if=mtd`` has a home (QEMU refuses every index)."""
    small = tmp_path / "small.bin"
    small.write_bytes(b"\0" * 4096)
    args = ["-M", "vexpress-a9", "-display", "none"]
    qemu = [program("qemu-system-arm"), *args, "-audiodev", "none,id=a"]
    ours = [script("pysystem-arm"), *args]
    pflash = ["-drive", f"file={small},if=pflash,format=raw"]
    theirs = _refusal(qemu + pflash)
    assert "device requires 67108864 bytes, block backend provides 4096 bytes" in theirs
    assert _refusal(ours + pflash).split(": ", 1)[1] == theirs.split(": ", 1)[1]
    mtd1 = ["-drive", f"file={small},if=mtd,index=1,format=raw"]
    assert "machine type does not support if=mtd" in _refusal(qemu + mtd1)
    assert "machine type does not support if=mtd,index=1" in _refusal(ours + mtd1)
