"""A pytest-embedded test suite for a firmware on a pysystem board, written as for QEMU.

tests/test_pytest_embedded.py runs it in a pytest of its own with pytest-embedded's
QEMU service, as a user would::

    pytest sample_firmware.py --embedded-services qemu \
        --qemu-prog-path pysystem-arm --qemu-cli-args "-nographic -M vexpress-a9 -m 128M" \
        --qemu-image-path firmware.bin

The plugin starts the emulator with those options, its QMP socket
(``-qmp tcp:127.0.0.1:PORT,server,wait=off``) and ``-drive file=IMAGE,if=mtd,format=raw``
(the firmware: tests/echo_firmware.py), reads the serial port from the emulator's
stdout and writes to its stdin.  The firmware prints a banner and a ``> `` prompt and
echoes what it reads in upper case.  ``dut.expect`` timeouts are the plugin's, in
wall-clock seconds: generous, for a loaded host.
"""
import os

BANNER = "pysystem firmware ready"
TIMEOUT = float(os.environ.get("SAMPLE_TIMEOUT", "120"))


def test_lines_and_a_hard_reset_through_qmp(dut):
    """One test, so one emulator start (the plugin starts one per test)."""
    dut.expect_exact(BANNER + "\r\n> ", timeout=TIMEOUT)
    dut.write("hello, pysystem 42")                  # a str gets its newline
    dut.expect_exact("HELLO, PYSYSTEM 42\r\n> ", timeout=TIMEOUT)
    dut.hard_reset()                                 # QMP system_reset on the plugin's socket
    dut.expect_exact(BANNER + "\r\n> ", timeout=TIMEOUT)
    dut.write("after the reset")
    dut.expect_exact("AFTER THE RESET\r\n> ", timeout=TIMEOUT)
