"""The embedding API (pysystem.api) on a small bare-metal guest.

The guest (assembled with Keystone, run as vexpress-a9's -kernel) prints a banner and
a ``> `` prompt on UART0, then echoes what it reads: Enter prints ``ok`` and a new
prompt, ``p`` prints ``panic!``, ``q`` powers the board off.  It polls the UART, so
guest time advances while it waits for input, and everything it prints depends on the
input: a restored snapshot must give the same answers.
"""
from __future__ import annotations

import re

import pytest

from tools import module

keystone = module("keystone")

from test_cli_run import MINI_DTS  # noqa: E402

ECHO = r"""
    ldr r4, =0x10009000
    ldr r8, =0x60100000
    adr r0, banner
    bl puts
loop:
    ldr r1, [r4, #0x18]
    tst r1, #0x10
    bne loop
    ldr r2, [r4]
    and r2, r2, #0xff
    ldr r1, [r8]
    add r1, r1, #1
    str r1, [r8]
    cmp r2, #0x71
    beq off
    cmp r2, #0x70
    bne notp
    adr r0, panic
    bl puts
notp:
    cmp r2, #13
    cmpne r2, #10
    beq newline
    str r2, [r4]
    b loop
newline:
    adr r0, okmsg
    bl puts
    b loop
off:
    ldr r1, =0x100000a4
    ldr r0, =0xC0800000
    str r0, [r1]
halt:
    wfi
    b halt
puts:
    ldrb r3, [r0], #1
    cmp r3, #0
    bxeq lr
    str r3, [r4]
    b puts
banner:
    .asciz "ready\r\n> "
panic:
    .asciz "panic!"
okmsg:
    .asciz "\r\nok\r\n> "
    .align 2
"""

COUNTER = 0x60100000        # the guest counts the characters it read here


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    import fdt
    d = tmp_path_factory.mktemp("api")
    (d / "mini.dtb").write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    code, _ = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM).asm(ECHO, 0x60010000)
    (d / "echo.bin").write_bytes(bytes(code))
    return str(d / "echo.bin"), str(d / "mini.dtb")


def _machine(guest, **extra):
    from pysystem.api import Machine
    kernel, dtb = guest
    return Machine("vexpress-a9", m="128M", kernel=kernel, dtb=dtb, prompt=r"> ", **extra)


def test_keywords_and_argument_list_build_the_same_machine(guest):
    from pysystem.api import Machine
    kernel, dtb = guest
    with _machine(guest) as a, Machine.from_args(
            ["-M", "vexpress-a9", "-m", "128M", "-kernel", kernel, "-dtb", dtb],
            prompt="> ") as b:
        assert a.board is not b.board and a.board.ram_size == b.board.ram_size == 128 << 20
        a.console.expect("ready")
        b.console.expect("ready")
        assert a.console.command("x") == b.console.command("x") == "ok\n"
        assert a.guest_ns == b.guest_ns and a.icount == b.icount


def test_a_bad_option_is_the_command_lines_one_line_error(guest):
    from pysystem.api import Machine, MachineBuildError
    with pytest.raises(MachineBuildError, match=r"^-m 12Q: Parameter 'size' expects"):
        Machine("vexpress-a9", m="12Q")
    with pytest.raises(MachineBuildError, match=r"unsupported machine type 'nope'"):
        Machine("nope")


def test_console_command_expect_and_the_transcript(guest):
    with _machine(guest) as m:
        m.console.expect(r"> ")
        assert m.console.command("hello") == "ok\n"
        m.console.send("abc")
        match = m.console.expect(r"a(b)c")
        assert match.group(1) == "b"
        assert m.console.transcript.startswith("ready\r\n> hello\r\nok\r\n> abc")
        assert m.read_phys(COUNTER, 4) == (len("hello\n") + 3).to_bytes(4, "little")


def test_timeouts_are_guest_time_and_carry_the_transcript(guest):
    from pysystem.api import ConsoleError
    with _machine(guest) as m:
        m.console.expect("ready")
        start = m.guest_ns
        with pytest.raises(ConsoleError) as info:
            m.console.expect("never printed", timeout=0.02)
        assert "not within 0.02 s (guest time)" in str(info.value)
        assert "ready" in str(info.value) and info.value.transcript.startswith("ready")
        waited = m.guest_ns - start
        assert 20_000_000 <= waited < 21_000_000      # one slice (<1 ms) late at most
        with pytest.raises(ConsoleError, match=r"host time"):
            m.console.expect("never printed", timeout=0.05, wall=True)


def test_a_failure_pattern_ends_a_wait_at_once(guest):
    from pysystem.api import ConsoleError
    with _machine(guest) as m:
        m.console.expect("> ")
        m.console.fail_on(r"panic!")
        m.console.send("p")
        start = m.guest_ns
        with pytest.raises(ConsoleError, match=r"failure pattern 'panic!'"):
            m.console.expect("never printed", timeout=100)
        assert m.guest_ns - start < 10_000_000
        assert m.console.command("fine") == "ok\n"      # reported once, then waits go on


def test_run_by_instructions_and_guest_time(guest):
    with _machine(guest) as m:
        start = m.icount
        ran = m.run(instructions=12345)     # to the end of the block that reaches it
        assert 12345 <= ran < 12345 + 64 and m.icount == start + ran
        t = m.guest_ns
        m.run_for(0.001)
        assert 1_000_000 <= m.guest_ns - t < 2_000_000
        seen = []
        m.run(until=lambda: seen.append(1) or len(seen) > 3)
        assert len(seen) == 4


def test_stop_resume_reset_and_quit(guest):
    from pysystem.api import ConsoleError
    with _machine(guest) as m:
        m.console.expect("> ")
        m.stop()
        assert not m.running and "paused" in m.hmp("info status")
        with pytest.raises(RuntimeError, match="stopped"):
            m.run(instructions=10)
        m.resume()
        assert m.qmp("query-status")["status"] == "running"
        m.reset()
        m.console.expect(r"ready")      # the guest started over
        m.console.send("q")             # it powers the board off
        with pytest.raises(ConsoleError, match=r"machine ended \(guest-shutdown\)"):
            m.console.expect("never printed", timeout=1)
        assert m.exit_status == 0


def test_registers_and_memory(guest):
    with _machine(guest) as m:
        m.console.expect("> ")
        regs = m.registers
        assert regs["r4"] == 0x10009000 and regs["pc"] == regs["r15"]
        assert set(["r0", "pc", "cpsr"]) <= set(dict(regs))
        m.write_phys(0x60200000, b"\x01\x02\x03\x04")
        assert m.read_phys(0x60200000, 4) == b"\x01\x02\x03\x04"
        assert m.read_virt(0x60200000, 4) == b"\x01\x02\x03\x04"    # MMU off: 1:1
        m.write_virt(0x60200004, b"xyz")
        assert m.read_phys(0x60200004, 3) == b"xyz"
        m.write_phys(COUNTER, (1000).to_bytes(4, "little"))
        m.console.command("")
        assert int.from_bytes(m.read_phys(COUNTER, 4), "little") == 1001
        regs["r4"] = 0x10009000        # written and read back through the gdb table
        regs["sp"] = 0x60300000
        assert regs["r13"] == 0x60300000
        with pytest.raises(KeyError):
            regs["nosuch"]


def test_monitors(guest):
    from pysystem.api import QMPCommandError
    with _machine(guest) as m:
        assert "uart0" in m.hmp("info qtree") or "pl011" in m.hmp("info qtree")
        assert re.search(r"^\s*0+60000000-", m.hmp("info mtree"), re.M)
        assert m.qmp("human-monitor-command", {"command-line": "info status"}) == \
            "VM status: running\r\n"
        with pytest.raises(QMPCommandError, match="CommandNotFound"):
            m.qmp("no-such-command")


def test_snapshots_in_a_second_machine_and_files(guest, tmp_path):
    with _machine(guest, machine=f"snapshot-dir={tmp_path / 'store'}") as a, \
            _machine(guest) as b:
        a.console.expect("> ")
        a.console.command("one")
        state = a.snapshot()
        a.save("tag1")
        a.save_file(str(tmp_path / "a.pysnap"))
        answer = a.console.command("two")
        count = a.read_phys(COUNTER, 4)
        # b restores a's bytes: same answer, same counter, same guest clock
        b.restore(state)
        assert b.console.command("two") == answer and b.read_phys(COUNTER, 4) == count
        assert b.guest_ns == a.guest_ns
        b.load_file(str(tmp_path / "a.pysnap"))
        assert b.console.command("two") == answer
        a.load("tag1")
        assert a.console.command("two") == answer and a.read_phys(COUNTER, 4) == count
        assert (tmp_path / "store" / "tag1.pysnap").is_file()
        assert a.console.transcript.endswith("> two\r\nok\r\n> two\r\nok\r\n> ")


def test_chardev_ids_are_per_machine(guest):
    """Each machine's -chardev ids are its own (the command line's registry is not used)."""
    from pysystem import chardev
    from pysystem.api import Machine
    kernel, dtb = guest
    args = ["-M", "vexpress-a9", "-m", "128M", "-kernel", kernel, "-dtb", dtb,
            "-chardev", "ringbuf,id=rb,size=4096", "-serial", "chardev:rb", "-display", "none"]
    with Machine.from_args(args, prompt="> ") as a, Machine.from_args(args, prompt="> ") as b:
        assert a.console.command("abc") == b.console.command("abc") == "ok\n"
        assert a.board.serial_hd(0) is not b.board.serial_hd(0)
        assert a.board.serial_hd(0).contents().startswith(b"ready\r\n> abc")
    assert chardev.all_chardevs() == []


def test_globals_logs_and_qmp_events_are_each_machines_own(guest, tmp_path):
    """Two machines built and driven in turn: each object takes its own machine's
    ``-global``, each ``-d``/``-D`` log gets its own machine's lines only, each QMP
    subscriber hears its own machine's job events only; a third machine, and code
    outside any machine, see none of them."""
    from pysystem import log
    from pysystem.api import Machine
    kernel, dtb = guest

    def build(freq: int, items: str, name: str) -> Machine:
        return Machine.from_args(["-M", "vexpress-a9", "-m", "128M", "-kernel", kernel,
                                  "-dtb", dtb, "-global", f"sp804.freq0={freq}",
                                  "-d", items, "-D", str(tmp_path / name)], prompt="> ")

    def freq0(m: Machine) -> int:
        return m.qmp("qom-get", path="/machine/unattached/timer01", property="freq0")

    def jobs(events):
        return [(e["data"]["id"], e["data"]["status"]) for e in events
                if e["event"] == "JOB_STATUS_CHANGE"]

    outside = log.active()
    with build(250_000, "guest_errors", "a.log") as a, \
            build(32_768, "guest_errors,unimp", "b.log") as b, \
            Machine("vexpress-a9", m="128M", kernel=kernel, dtb=dtb) as c:
        assert (freq0(a), freq0(b), freq0(c)) == (250_000, 32_768, 1_000_000)
        assert log.active() is outside
        a.write_phys(0x10009018, bytes(4))      # UART0 FR: read-only
        b.write_phys(0x1000afe0, bytes(4))      # UART1 PeriphID0: read-only
        b.write_phys(0x10000000, bytes(4))      # SYS_ID: read-only
        c.write_phys(0x10009018, bytes(4))      # no -d: logged nowhere
        a.console.expect("> ", timeout=1)
        b.console.expect("> ", timeout=1)
        for m in (a, b, c):
            m.events()                          # what the boot sent
        snap = {"vmstate": "x", "devices": ["x"]}
        a.qmp("snapshot-save", snap, **{"job-id": "job-a", "tag": "ta"})
        b.qmp("snapshot-save", snap, **{"job-id": "job-b", "tag": "tb"})
        for m in (a, b, c):
            m.run_for(0.01)                     # the jobs run at the main loop's poll
        done = ["created", "running", "waiting", "pending", "concluded"]
        assert jobs(a.events()) == [("job-a", s) for s in done]
        assert jobs(b.events()) == [("job-b", s) for s in done]
        assert c.events() == []
    assert (tmp_path / "a.log").read_text() == "pl011: write to read-only register FR\n"
    assert (tmp_path / "b.log").read_text() == ("pl011: write to read-only register ID\n"
                                                "realview_sysctl: write to read-only register ID\n")
    assert log.active() is outside


def test_translation_time_logs_are_each_machines_own(guest, tmp_path):
    """``-d in_asm`` and ``-d exec`` act where code is translated and in the code made:
    two machines running the same guest code side by side, with and without them, in
    turn; each log gets its own machine's blocks only (the translated-code cache is
    shared, the blocks a machine logs are its own), and a third machine started
    afterwards without -d logs nothing and still answers."""
    from pysystem.api import Machine
    kernel, dtb = guest

    def build(items: str, name: str) -> Machine:
        return Machine.from_args(["-M", "vexpress-a9", "-m", "128M", "-kernel", kernel,
                                  "-dtb", dtb, "-d", items, "-D", str(tmp_path / name)],
                                 prompt="> ")

    with build("in_asm,exec", "a.log") as a, build("guest_errors", "b.log") as b:
        for _ in range(3):
            for m in (a, b):
                m.run(instructions=20_000)
        assert a.console.command("x") == b.console.command("x") == "ok\n"
    with Machine("vexpress-a9", m="128M", kernel=kernel, dtb=dtb, prompt="> ") as c:
        c.console.expect("> ", timeout=1)
        assert c.console.command("y") == "ok\n"
    a_log = (tmp_path / "a.log").read_text()
    assert a_log.count("IN: \n0x60010000:") == 1          # a's first block, not b's too
    assert "Trace 0: 0x000060010000" in a_log
    assert (tmp_path / "b.log").read_text() == ""
