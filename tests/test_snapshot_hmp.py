"""HMP savevm/loadvm/delvm/info snapshots: QEMU 7.2's texts, on a running guest."""
from __future__ import annotations

import re
import subprocess

from pysystem.monitor.hmp import Monitor

from test_snapshot import Vm, board, guest  # noqa: F401  (fixtures)
from tools import script

HEADER = ("List of snapshots present on all disks:\n"
          "ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT\n")
ROW = re.compile(r"--        (\S+) +[0-9.]+ [KMG]?i?B \d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
                 r"\d\d:\d\d:\d\d\.\d{3} {0,10}\d+\n")


def test_commands_and_texts(board, guest, tmp_path):  # noqa: F811
    vm = Vm(board, guest, tmp_path)
    mon = Monitor(vm.m)
    assert mon.execute("info snapshots") == "There is no snapshot available.\n"
    vm.run(100_000)
    assert mon.execute("savevm first") == ""
    ram = vm.ram()
    out = vm.run(200_000)
    assert mon.execute("savevm") == ""
    listing = mon.execute("info snapshots")
    assert listing.startswith(HEADER), listing
    rows = listing[len(HEADER):]
    assert [m.group(1).rstrip() for m in ROW.finditer(rows)][0] == "first"
    assert len(ROW.findall(rows)) == 2 and ROW.sub("", rows) == "", rows
    assert "00:00:00.742     100001\n" in rows       # guest time and instruction count
    assert mon.execute("loadvm first") == ""
    assert vm.ram() == ram
    assert vm.run(200_000) == out
    assert mon.execute("loadvm nosuch") == \
        "Error: Snapshot 'nosuch' does not exist in one or more devices\n"
    for cmd, text in (("loadvm", "loadvm: string expected"), ("delvm", "delvm: string expected"),
                      ("savevm a b", "savevm: extraneous characters at the end of line")):
        name = cmd.split()[0]
        assert mon.execute(cmd) == f"{text}\nTry \"help {name}\" for more information\n"
    assert mon.execute("delvm nosuch") == ""           # QEMU 7.2 says nothing either
    assert mon.execute("delvm first") == ""
    rows = mon.execute("info snapshots")[len(HEADER):]
    assert len(ROW.findall(rows)) == 1 and "first" not in rows
    assert "savevm [tag] -- save a VM snapshot" in mon.execute("help savevm")
    assert "info snapshots  -- show the currently saved VM snapshots" in mon.execute("help info")


def test_tab_completion_of_tags(board, guest, tmp_path):  # noqa: F811
    vm = Vm(board, guest, tmp_path)
    mon = Monitor(vm.m)
    mon.execute("savevm alpha")
    mon.execute("savevm beta")
    start, words = mon.complete("loadvm al")
    assert words == ["alpha"]


def test_a_damaged_snapshot_gives_one_error_line(board, guest, tmp_path):  # noqa: F811
    vm = Vm(board, guest, tmp_path)
    mon = Monitor(vm.m)
    mon.execute("savevm s")
    path = tmp_path / "s.pysnap"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    assert mon.execute("loadvm s") == \
        "Error: snapshot 's' is damaged or truncated (checksum mismatch)\n"
    assert mon.execute("info status") == "VM status: running\n"


def test_savevm_through_the_monitor_then_loadvm_at_start(board, guest, tmp_path):  # noqa: F811
    """savevm on stdio's monitor (-S: at the very start), the guest runs to power-off;
    a new process with -loadvm prints exactly the same."""
    kernel, dtb = guest
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(4096))
    common = [script("pysystem-arm"), "-M", "vexpress-a9", "-kernel", kernel, "-dtb", dtb,
              "-display", "none", "-drive", f"if=sd,file={disk},format=raw"]
    first = subprocess.run(common + ["-S", "-serial", f"file:{tmp_path / 'one.txt'}",
                                     "-monitor", "stdio"],
                           input=b"savevm boot\ninfo snapshots\ncont\n",
                           capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr
    text = first.stdout.decode().replace("\r\n", "\n")
    assert HEADER in text and "--        boot" in text
    assert (tmp_path / "disk.img.pysnap" / "boot.pysnap").is_file()
    second = subprocess.run(common + ["-serial", "stdio", "-loadvm", "boot"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout == (tmp_path / "one.txt").read_bytes()
    assert len(second.stdout) > 3000
