"""Running a tiny bare-metal guest on vexpress-a9 through the console scripts.

The guests are a few ARM instructions assembled with Keystone: they talk to
UART0 (PL011 at 0x10009000) and power off or reboot through the board's
SYS_CFGCTRL (0x100000a4), which exercises the main loop, the stdio/mux
chardevs and the machine's shutdown/reset requests end to end.
"""
from __future__ import annotations

import shlex
import subprocess
import time

import pytest

from pysystem import qom
from pysystem.machines.none import NoneMachine
from tools import module, script

keystone = module("keystone")

POWEROFF = 0xC0800000          # SYS_CFGCTRL: start | write | function 8 (shutdown)
REBOOT = 0xC0900000            # function 9 (reboot)

MINI_DTS = """/dts-v1/;
/ {
    #address-cells = <1>;
    #size-cells = <1>;
    compatible = "arm,vexpress";
    interrupt-controller@1e001000 {
        compatible = "arm,cortex-a9-gic";
        #interrupt-cells = <3>;
        interrupt-controller;
        reg = <0x1e001000 0x1000 0x1e000100 0x100>;
        phandle = <1>;
    };
    memory@60000000 {
        device_type = "memory";
        reg = <0x60000000 0x8000000>;
    };
    chosen {
    };
};
"""

HELLO_THEN = """
    ldr r1, =0x10009000
    adr r2, msg
loop:
    ldrb r0, [r2], #1
    cmp r0, #0
    beq done
    str r0, [r1]
    b loop
done:
    ldr r1, =0x100000a4
    ldr r0, ={action}
    str r0, [r1]
halt:
    wfi
    b halt
msg:
    .asciz "Hello from the guest\\n"
    .align 2
"""

ECHO_UNTIL_Q = """
    ldr r1, =0x10009000
wait:
    ldr r3, [r1, #0x18]
    tst r3, #0x10
    bne wait
    ldr r0, [r1]
    and r0, r0, #0xff
    cmp r0, #0x71
    beq done
    str r0, [r1]
    b wait
done:
    ldr r1, =0x100000a4
    ldr r0, ={action}
    str r0, [r1]
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
def dtb(tmp_path_factory):
    import fdt
    path = tmp_path_factory.mktemp("dtb") / "mini.dtb"
    path.write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    return str(path)


def assemble(tmp_path, source: str, name: str) -> str:
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
    code, _ = ks.asm(source, 0x60010000)
    path = tmp_path / name
    path.write_bytes(bytes(code))
    return str(path)


def reap(proc) -> None:
    """Make sure an emulator process started by a test is gone and its pipes closed."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def vexpress(kernel: str, dtb: str, *args: str, stdin: bytes = b"", timeout: float = 60):
    return subprocess.run([script("pysystem-arm"), "-M", "vexpress-a9", "-kernel", kernel,
                           "-dtb", dtb, *args], input=stdin, capture_output=True, timeout=timeout)


def test_guest_prints_and_powers_off(board, dtb, tmp_path):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    proc = vexpress(kernel, dtb, "-display", "none", "-serial", "stdio")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"Hello from the guest\n"
    assert proc.stderr == b""


def test_guest_power_off_restores_the_terminal(board, dtb, tmp_path):
    from test_chardev import Terminal, stty_states
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    t = Terminal(f"echo BEFORE=$(stty -g); {shlex.quote(script('pysystem-arm'))} -M vexpress-a9 "
                 f"-kernel {kernel} -dtb {dtb} -nographic; echo STATUS=$?; echo AFTER=$(stty -g)")
    out = t.finish()
    before, after, status = stty_states(out)
    assert status == 0 and before == after, out
    assert b"Hello from the guest\r\n" in out


def test_device_ids_place_devices_in_the_qom_tree(board, dtb, tmp_path):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    disk, disk2 = tmp_path / "disk.img", tmp_path / "disk2.img"
    disk.write_bytes(bytes(65536))
    disk2.write_bytes(bytes(65536))     # one image on both would be refused by its locks
    proc = vexpress(kernel, dtb, "-S", "-display", "none", "-serial", "null", "-monitor", "stdio",
                    "-drive", f"if=none,file={disk},id=d0,format=raw",
                    "-device", "virtio-blk-device,drive=d0,id=disk0",
                    "-drive", f"if=none,file={disk2},id=d1,readonly=on",
                    "-device", "virtio-blk-device,drive=d1",
                    stdin=b"info qom-tree\nquit\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode().replace("\r\n", "\n")
    assert ("  /peripheral (container)\n    /disk0 (virtio-blk-device)\n"
            "  /peripheral-anon (container)\n    /device[0] (virtio-blk-device)\n") in out


def test_serial_to_a_file(board, dtb, tmp_path):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=POWEROFF), "hello.bin")
    out = tmp_path / "serial.txt"
    proc = vexpress(kernel, dtb, "-display", "none", "-serial", f"file:{out}")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == b"Hello from the guest\n"


def test_reboot_resets_or_exits(board, dtb, tmp_path):
    kernel = assemble(tmp_path, HELLO_THEN.format(action=REBOOT), "reboot.bin")
    proc = vexpress(kernel, dtb, "-display", "none", "-serial", "stdio", "-no-reboot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"Hello from the guest\n"
    # without -no-reboot: the system resets, the guest runs again from the start
    p = subprocess.Popen([script("pysystem-arm"), "-M", "vexpress-a9", "-kernel", kernel,
                          "-dtb", dtb, "-display", "none", "-serial", "stdio"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        seen = b""
        end = time.monotonic() + 60
        while seen.count(b"Hello") < 3 and time.monotonic() < end:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            seen += chunk
    finally:
        p.terminate()
        p.wait(10)
    assert seen.startswith(b"Hello from the guest\nHello from the guest\nHello")


def test_input_through_the_mux_to_the_uart(board, dtb, tmp_path):
    """-nographic with piped stdin: bytes reach the guest through mux and PL011 FIFO,
    in order, even when more arrive than the 16-byte FIFO holds."""
    kernel = assemble(tmp_path, ECHO_UNTIL_Q.format(action=POWEROFF), "echo.bin")
    text = bytes(range(0x21, 0x71)) * 3            # 240 bytes, no 'q' (0x71)
    proc = vexpress(kernel, dtb, "-nographic", stdin=text + b"\x01\x01" + b"q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == text + b"\x01"          # C-a C-a reached the guest as one C-a


# --- the machine's requests, in-process ------------------------------------------------

@pytest.fixture
def none_machine():
    qom.reset_root()

    def make(**props):
        m = NoneMachine(**props)
        m.realize()
        m.reset()
        m.start()
        return m
    yield make
    qom.reset_root()


def test_shutdown_exits_or_pauses(none_machine):
    from pysystem.main_loop import MainLoop
    m = none_machine()
    events = []
    m.add_listener(lambda ev, reason: events.append((ev, reason)))
    loop = MainLoop(m)
    m.request_shutdown()
    assert loop.run() == 0 and m.shutdown_reason == "guest-shutdown"
    assert events == [("SHUTDOWN", "guest-shutdown")]
    qom.reset_root()
    m = none_machine(**{"no-shutdown": True})
    events = []
    m.add_listener(lambda ev, reason: events.append((ev, reason)))
    MainLoop(m)
    m.request_shutdown()
    m.handle_requests()
    assert m.run_state == "shutdown" and m.loop.exit_status is None
    m.resume()                                        # cont after a shutdown: reset, run
    assert m.run_state == "running"
    m.pause()
    assert events == [("SHUTDOWN", "guest-shutdown"), ("STOP", ""), ("RESUME", ""), ("STOP", "")]


def test_reset_request_resets_devices_or_exits(none_machine):
    from pysystem.main_loop import MainLoop
    m = none_machine(**{"no-reboot": True})
    loop = MainLoop(m)
    m.request_reset()
    assert loop.run() == 0 and m.shutdown_reason == "guest-reset"
