"""End-to-end: the big-endian Malta guest on pysystem-mips, to a busybox shell, beside QEMU.

Debian 12 has no big-endian MIPS port, so the guest is built from Debian's own sources
by images/build_mips.py (linux-source-6.1 with images/configs/malta-be-kernel.config,
busybox static; once, cached in ~/.cache/pysystem/mips).  The same kernel and
initramfs boot under qemu-system-mips 7.2 (seconds) and pysystem-mips (under PyPy in
CI): the same shell commands print the same output in both, and dmesg is compared as
tests/test_boot_malta.py compares the little-endian guest's with its reference.
"""
from __future__ import annotations

import os
import re

import pytest

from guest_session import GuestSession
from test_boot_malta import PROBLEM, _kernel_lines
from tools import guest_images, program

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
PROMPT = r"/ # "
ARGS = ["-M", "malta", "-m", "256M", "-append", "console=ttyS0 rdinit=/init", "-nographic",
        "-rtc", "base=2026-11-21T19:08:25"]
# Commands whose output must be the same on both emulators: the byte order as the CPU
# loads a word, the CPU and board as Linux sees them (not the BogoMIPS line: the
# delay-loop calibration depends on the emulator's speed), PCI enumeration, the
# console's interrupt routing, some shell arithmetic and a checksum.  Each fits on one
# 80-column line after the prompt (a longer one wraps in the echo that the session reads).
WORKLOAD = [
    "uname -m",
    r"""printf '\001\002\003\004' > /tmp/w; hexdump -e '1/4 "%08x\n"' /tmp/w""",
    "grep -v -i bogomips /proc/cpuinfo",
    "cd /sys/bus/pci/devices; cat */vendor */device | tr '\\n' ' '; cd /",
    "grep -c . /proc/ioports",
    "grep XT-PIC /proc/interrupts | sed 's/: *[0-9]* */: /'",
    "s=0; for i in $(seq 200); do s=$((s+i*i)); done; echo $s",
    "seq 1 500 | md5sum",
    "date -u +%Y-%m-%d",
]
# Lines of QEMU's dmesg that do not appear here, each with its reason (normalised lines).
KNOWN_MISSING = {
}
# Error and warning lines that appear here and not under QEMU, each with its reason.
KNOWN_EXTRA = {
}


def _session(program_path, kernel, initrd, log):
    args = ARGS + ["-kernel", str(kernel), "-initrd", str(initrd)]
    return GuestSession("mips", args, log_path=str(log), program=program_path)


def _run_guest(session, timeout):
    """Wait for the shell, run the workload and dmesg, reboot (the kernel writes the
    FPGA's SOFTRES: the board resets and the same kernel boots again from the boot
    loader), wait for the shell again, quit; the outputs of the first boot."""
    try:
        session.expect(PROMPT, timeout)
        session.command("")
        outputs = [session.command(c).replace("\r", "") for c in WORKLOAD]
        dmesg = session.command("dmesg").replace("\r", "")
        mark = session.send("reboot -f")
        again = session.expect(r"reboot: Restarting system\r?\n", 60, mark)
        again = session.expect(r"Linux version \S+", timeout, again.end())
        session.expect(PROMPT, timeout, again.end())
        session.command("")
        assert session.command("echo $((6*7))").strip() == "42"
        # Ctrl-A x: QEMU 7.2's PIIX4 does not power the rebooted guest off ("Unable to
        # poweroff system"), so both emulators are left through their escape
        session.proc.stdin.write(b"\x01x")
        session.proc.stdin.flush()
        assert session.wait(60) == 0
    finally:
        session.close()
    return outputs, dmesg


def test_big_endian_malta_guest_boots_to_a_shell_as_on_qemu(tmp_path):
    qemu = program("qemu-system-mips")
    g = guest_images("mips")
    theirs, their_dmesg = _run_guest(_session(qemu, g.kernel, g.initrd,
                                              tmp_path / "qemu.log"), 300)
    ours, our_dmesg = _run_guest(_session(None, g.kernel, g.initrd,
                                          tmp_path / "pysystem.log"), BOOT_TIMEOUT)
    assert ours[0].strip() == "mips" and ours[1].strip() == "01020304", ours
    assert re.search(r"^system type\s*: MIPS Malta$", ours[2], re.M), ours[2]
    for command, a, b in zip(WORKLOAD, ours, theirs):
        assert a == b, f"{command!r}:\npysystem:\n{a}\nqemu-system-mips:\n{b}"

    mine, other = _kernel_lines(our_dmesg), _kernel_lines(their_dmesg)
    mine_set, other_set = set(mine), set(other)
    missing = [l for l in other if l not in mine_set
               and not any(re.search(p, l) for p in KNOWN_MISSING)]
    extra = [l for l in mine if l not in other_set and PROBLEM.search(l)
             and not any(re.search(p, l) for p in KNOWN_EXTRA)]
    assert not missing and not extra, (
        "dmesg differs from qemu-system-mips's:\nmissing here:\n  " + "\n  ".join(missing) +
        "\nproblems only here:\n  " + "\n  ".join(extra))
