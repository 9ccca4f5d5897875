"""The command line, run as the user runs it: the installed console scripts.

Help outputs, every user-error case (one line on stderr, status 1, no traceback),
sizes, and the key=value syntax.  Runs that need a monitor use ``-M none`` with
``-monitor stdio`` fed from a pipe.
"""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from pysystem import cli
from pysystem.cli_opts import CLIError, parse_keyval
from tools import script


def run(binary: str, *args: str, stdin: str = "", timeout: float = 30):
    """Run the installed console script ``binary`` (by its absolute path)."""
    return subprocess.run([script(binary), *args], input=stdin.encode(), capture_output=True,
                          timeout=timeout)


def assert_one_line_error(proc, *fragments: str, prog: str = "pysystem-arm"):
    err = proc.stderr.decode()
    assert proc.returncode == 1, (proc.returncode, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prog + ": "), err
    for f in fragments:
        assert f in lines[0], (f, err)
    return lines[0]


# --- help outputs ---------------------------------------------------------------------

def test_machine_help_arm_lists_boards():
    proc = run("pysystem-arm", "-M", "help")
    out = proc.stdout.decode().splitlines()
    assert proc.returncode == 0
    assert out[0] == "Supported machines are:"
    names = [line.split()[0] for line in out[1:]]
    assert "vexpress-a9" in names and "none" in names
    assert names == sorted(names)
    assert any(line.startswith("vexpress-a9          ARM Versatile Express for Cortex-A9")
               for line in out)
    assert "malta" not in names


@pytest.mark.parametrize("binary", ["pysystem-mipsel", "pysystem-mips"])
def test_machine_help_mips_lists_malta(binary):
    proc = run(binary, "-machine", "help")
    out = proc.stdout.decode()
    assert proc.returncode == 0
    assert "malta                MIPS Malta Core LV (default)" in out
    assert "vexpress-a9" not in out


def test_usage_and_version():
    for flag in ("-h", "-help", "--help"):
        proc = run("pysystem-arm", flag)
        assert proc.returncode == 0
        assert proc.stdout.decode().startswith("usage: pysystem-arm [options]")
    out = run("pysystem-arm", "--version").stdout.decode()
    assert out.startswith("pysystem version 0.1.0 (QEMU 7.2")


def test_cpu_log_chardev_help():
    out = run("pysystem-arm", "-cpu", "help").stdout.decode()
    assert out.splitlines()[0] == "Available CPUs:"
    assert "  cortex-a9" in out.splitlines()
    out = run("pysystem-arm", "-d", "help").stdout.decode()
    assert out.startswith("Log items (comma separated):")
    assert "\nin_asm " in out and "\nint " in out
    out = run("pysystem-arm", "-chardev", "help").stdout.decode()
    assert set(out.split()[4:]) >= {"stdio", "null", "file", "pty"}


def test_device_help_and_type_help():
    proc = run("pysystem-arm", "-device", "help")
    assert proc.returncode == 0
    out = proc.stdout.decode()
    assert 'name "virtio-blk-device"' in out
    assert 'name "pl011"' not in out            # not user-creatable: QEMU lists only those
    proc = run("pysystem-arm", "-device", "pl011,help")
    out = proc.stdout.decode().splitlines()
    assert proc.returncode == 0
    assert out[0] == "pl011 options:"
    assert out[1].startswith("  chardev=<str>          - ")


def test_machine_properties_help():
    out = run("pysystem-arm", "-M", "none,help").stdout.decode().splitlines()
    assert out[0] == "none-machine options:"
    assert any(line.startswith("  ram-size=<size> ") for line in out)


# --- errors: one line, status 1 --------------------------------------------------------

def test_acceptance_errors(tmp_path):
    text = tmp_path / "text.dtb"
    text.write_text("this is not a device tree\n")
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(b"\x00" * 64)
    assert_one_line_error(run("pysystem-arm", "-M", "nosuch"), "nosuch", "unsupported machine")
    assert_one_line_error(run("pysystem-arm", "-m", "banana"),
                          "-m banana: Parameter 'size' expects a non-negative number below 2^64")
    assert_one_line_error(run("pysystem-arm", "-M", "vexpress-a9", "-kernel", "/missing"),
                          "/missing")
    assert_one_line_error(run("pysystem-arm", "-M", "vexpress-a9", "-kernel", str(kernel),
                              "-dtb", str(text)), "text.dtb")
    assert_one_line_error(run("pysystem-arm", "-device", "nosuch"),
                          "-device nosuch: 'nosuch' is not a valid device model name")


ERROR_CASES = [
    (["-foo"], "-foo: invalid option"),
    (["--foo"], "--foo: invalid option"),
    (["-M", "none", "-m"], "-m: requires an argument"),
    (["disk.img"], "not supported yet"),
    (["-M", "none", "-qmp", "stdio"], "-qmp stdio: cannot use stdio by multiple character devices"),
    (["-M", "none", "-qmp", "udp::4444"],
     "-qmp udp::4444: chardev backend 'udp' is not supported yet"),
    (["-M", "none", "-gdb", "tcp::1234"],
     "-gdb tcp::1234: gdbstub: meaningless to attach gdb to a machine without any CPU."),
    (["-M", "none", "-s"], "-s: gdbstub: meaningless to attach gdb to a machine without any CPU."),
    (["-M", "none", "-gdb", "foo:bar"], "-gdb foo:bar: 'foo:bar' is not a valid char driver"),
    (["-M", "none", "-loadvm", "x"], "Snapshot 'x' does not exist in one or more devices"),
    (["-M", "none", "-chardev", "tcp,id=c,port=4444"], "'tcp' is not a valid char driver name"),
    (["-M", "none", "-chardev", "udp,id=c,port=4444"],
     "chardev backend 'udp' is not supported yet"),
    (["-M", "none", "-chardev", "bogus,id=c"], "'bogus' is not a valid char driver name"),
    (["-M", "none", "-chardev", "null"], "no id specified"),
    (["-M", "none", "-chardev", "file,id=f,path=/nonexistent/dir/x"], "Could not open"),
    (["-M", "none", "-serial", "bogus"], "-serial bogus: 'bogus' is not a valid char driver"),
    (["-M", "none", "-serial", "stdio", "-monitor", "stdio"],
     "cannot use stdio by multiple character devices"),
    (["-M", "none", "-mon", "chardev=x,mode=control"], "-mon x: chardev 'x' not found"),
    (["-M", "none", "-mon", "chardev=nosuch"], "chardev 'nosuch' not found"),
    (["-M", "none", "-drive", "file=/nonexistent"],
     "-drive file=/nonexistent: Could not open '/nonexistent': No such file or directory"),
    (["-M", "none", "-drive", "file=/etc/hostname,format=vmdk,readonly=on"],
     "Image format 'vmdk' is not supported yet"),
    (["-M", "none", "-drive", "file=/etc/hostname,format=bogus,readonly=on"],
     "Unknown driver 'bogus'"),
    (["-M", "none", "-drive", "file=/etc/hostname,format=raw,if=bogus,readonly=on"],
     "unsupported bus type 'bogus'"),
    (["-M", "none", "-drive", "file=/etc/hostname,if=virtio,readonly=on"],
     "machine type does not support if=virtio"),
    (["-M", "none", "-drive", "file=/etc/hostname,bogus=1,readonly=on"], "Invalid parameter 'bogus'"),
    (["-M", "none", "-smp", "2"], "The max CPUs supported by machine 'none' is 1"),
    (["-M", "none", "-smp", "two"], "Parameter 'cpus' expects a number"),
    (["-M", "vexpress-a9", "-cpu", "nosuch"], "unable to find CPU model 'nosuch'"),
    (["-M", "none", "-icount", "shift=11"], "between 0 and 10"),
    (["-M", "none", "-icount", "shift=2,align=on"], "not supported yet"),
    (["-M", "none", "-d", "bogus"], "unknown item 'bogus'"),
    (["-M", "none", "-D", "/nonexistent/dir/log"], "cannot open log file"),
    (["-M", "none", "-rtc", "base=yesterday"], "invalid -rtc base"),
    (["-M", "none", "-display", "gtk"], "Display 'gtk' is not available"),
    (["-M", "none", "-global", "nosuch.prop=1"], "unknown type 'nosuch'"),
    (["-M", "none", "-global", "pl011.nosuch=1"], "has no property 'nosuch'"),
    (["-M", "none", "-global", "garbage"], "TYPE.PROPERTY=VALUE"),
    (["-M", "none", "-device", "pl011"], "can not be dynamically instantiated"),
    (["-M", "none", "-device", "virtio-blk-device,bogus=1"], "has no property 'bogus'"),
    (["-M", "none", "-device", "virtio-blk-device,drive=nosuch"], "nosuch"),
    (["-M", "none", "-device", "virtio-blk-device"], "no place for a 'virtio-blk-device'"),
    (["-M", "none,foo=1"], "has no property 'foo'"),
    (["-M", "none", "-accel", "kvm"], "not supported"),
    (["-M", "none", "-enable-kvm"], "not supported"),
    (["-M", "none", "-bios", "x.bin"], "-bios x.bin: not supported yet"),
    ([], "No machine specified"),
]


@pytest.fixture(scope="module")
def error_runs():
    """All ERROR_CASES at once, a few processes in parallel (each start-up costs ~1 s)."""
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda case: run("pysystem-arm", *case[0]), ERROR_CASES))
    return {" ".join(args): proc for (args, _), proc in zip(ERROR_CASES, procs)}


@pytest.mark.parametrize("args, fragment", ERROR_CASES, ids=[" ".join(a) for a, _ in ERROR_CASES])
def test_user_errors(error_runs, args, fragment):
    assert_one_line_error(error_runs[" ".join(args)], fragment)


def test_malta_is_the_mips_default():
    """Both MIPS binaries build Malta without -M (its RAM limit answers, before any guest runs)."""
    assert_one_line_error(run("pysystem-mipsel", "-M", "malta", "-m", "3G"),
                          "Too much memory for this machine", prog="pysystem-mipsel")
    assert_one_line_error(run("pysystem-mips", "-m", "3G"), "maximum 2048MB", prog="pysystem-mips")


def test_internal_error_is_one_line(tmp_path, capsys, monkeypatch):
    """An exception that is not a user error: one line, the traceback only in the -D log."""
    from pysystem.machines.none import NoneMachine

    def broken_build(self):
        raise ZeroDivisionError("deliberately broken board")

    monkeypatch.setattr(NoneMachine, "build", broken_build)
    monkeypatch.delenv("PYSYSTEM_DEBUG", raising=False)
    logfile = tmp_path / "log.txt"
    status = cli.main("arm", ["-M", "none", "-D", str(logfile), "-d", "unimp", "-nodefaults"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "pysystem-arm: internal error: ZeroDivisionError: deliberately broken board\n"
    assert "Traceback" in logfile.read_text()


# --- sizes and running ----------------------------------------------------------------

def monitor_session(*args: str, commands: str, binary: str = "pysystem-arm") -> str:
    proc = run(binary, "-M", "none", "-display", "none", "-monitor", "stdio", *args,
               stdin=commands)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    return proc.stdout.decode()


@pytest.mark.parametrize("size, last", [
    ("256", "000000000fffffff"), ("256M", "000000000fffffff"), ("1G", "000000003fffffff"),
    ("size=64", "0000000003ffffff"), ("0x100k", "000000000003ffff"), ("1.5G", "000000005fffffff"),
])
def test_ram_sizes_reach_the_memory_map(size, last):
    out = monitor_session("-m", size, commands="info mtree\nquit\n")
    assert f"  0000000000000000-{last} (prio 0, ram): ram" in out


def test_sizes_parse_in_process():
    cfg = cli._parse("arm", ["-m", "2G", "-smp", "cores=2,threads=1", "-icount", "shift=auto"])
    assert cfg.props["ram-size"] == 2 << 30 and cfg.props["smp"] == 2
    with pytest.raises(CLIError, match="-m -5"):
        cli._parse("arm", ["-m", "-5"])


def test_start_paused_and_monitor_stop_cont():
    out = monitor_session("-S", commands="info status\ncont\ninfo status\nstop\ninfo status\nquit\n")
    statuses = [line for line in out.splitlines() if line.startswith("VM status")]
    assert statuses == ["VM status: paused (prelaunch)", "VM status: running", "VM status: paused"]


def test_stdio_eof_does_not_spin():
    """stdin at EOF with nothing else to do: the process sleeps instead of polling."""
    before = os.times()
    proc = subprocess.Popen([script("pysystem-arm"), "-M", "none", "-display", "none",
                             "-monitor", "stdio"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        proc.wait(4)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(10)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    assert cpu < 2.5, f"{cpu:.2f} s of CPU in 4 s of idling"
    assert proc.returncode == 0      # SIGTERM: orderly exit


# --- key=value syntax -----------------------------------------------------------------

def test_keyval_syntax():
    assert parse_keyval("vexpress-a9,accel=tcg", "type") == {"type": "vexpress-a9", "accel": "tcg"}
    assert parse_keyval("file=a,,b.img,if=sd") == {"file": "a,b.img", "if": "sd"}
    assert parse_keyval("stdio,signal=off", "backend") == {"backend": "stdio", "signal": "off"}
    assert parse_keyval("help", "type") == {"help": "on"}
    assert parse_keyval("pl011,help", "driver") == {"driver": "pl011", "help": "on"}
    assert parse_keyval("x,readonly", "file") == {"file": "x", "readonly": "on"}
    assert parse_keyval("a=1,a=2") == {"a": "2"}
    assert parse_keyval("append=console=ttyAMA0 rdinit=/init") == {"append": "console=ttyAMA0 rdinit=/init"}
    with pytest.raises(CLIError):
        parse_keyval("=x")


def test_global_sets_defaults_in_both_forms():
    from pysystem import qom
    cli.load_types()
    cfg = cli._parse("arm", ["-global", "virtio-blk-device.serial=abc"])
    with qom.globals_in_effect(cfg.globals):
        assert qom.new_object("virtio-blk-device").serial == "abc"
    cfg = cli._parse("arm", ["-global", "driver=virtio-blk-device,property=queue-size,value=128"])
    with qom.globals_in_effect(cfg.globals):
        assert qom.new_object("virtio-blk-device").queue_size == 128
    # the machine's own: outside its table's effect an object has the type's defaults
    assert qom.new_object("virtio-blk-device").queue_size != 128
    with pytest.raises(CLIError, match="-global virtio-blk-device.queue-size=x: "):
        cli._parse("arm", ["-global", "virtio-blk-device.queue-size=x"])
