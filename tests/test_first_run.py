"""``pysystem-images --boot``: the explanation, the progress line, boot once then restore.

The quick tests boot a few ARM instructions (assembled with Keystone) through the
same ``images.boot.boot`` the command uses: the guest is silent for a while,
prints a line and a busybox-like prompt ``/ # ``, then echoes what it is given
until ``q`` powers it off.  They run in a pseudo-terminal (``PtySession``) as a
user's terminal, or with stdout piped.  The slow tests run the README's own
command on Debian's kernel: one boot from scratch, then one restore.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tools
from pty_session import PtySession

from pysystem.images import boot_snapshot
from pysystem.images.boot_snapshot import BootSlot, boot_key
from pysystem.images.console_watch import ERASE, ConsoleWatch

POWEROFF = 0xC0800000          # SYS_CFGCTRL: start | write | function 8 (shutdown)
PROGRESS = rb"\rpysystem: guest running silently, [\d,]+ M instructions, \d+:\d\d elapsed\x1b\[K"

SILENT_THEN_PROMPT = """
    ldr r4, ={delay}
delay:
    subs r4, r4, #1
    bne delay
    ldr r1, =0x10009000
    adr r2, msg
print:
    ldrb r0, [r2], #1
    cmp r0, #0
    beq wait
    str r0, [r1]
    b print
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
    ldr r0, ={poweroff}
    str r0, [r1]
halt:
    wfi
    b halt
msg:
    .asciz "tiny guest up\\n/ # "
    .align 2
"""

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
    memory@60000000 { device_type = "memory"; reg = <0x60000000 0x8000000>; };
    chosen { };
};
"""


# --- the console watcher and the key, on their own ----------------------------------------

class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_console_watch_draws_only_while_silent_and_at_a_line_start():
    r, w = os.pipe()
    clock = _Clock()
    watch = ConsoleWatch(re.compile(rb"\n/ # $"), icount=lambda: 2_500_000_000,
                         progress_fd=w, now=clock)
    try:
        watch.poll()                                 # silent from the start: drawn at once
        clock.t += 1.0
        watch.output(b"[    0.000000] Booting Linux\r\n")
        watch.poll()                                 # it just printed: nothing drawn
        clock.t += 0.4
        watch.output(b"[    0.1] half a li")
        clock.t += 5
        watch.poll()                                 # silent, but in the middle of a line
        watch.output(b"ne\r\n")
        clock.t += 2
        watch.poll()
        watch.output(b"ready\r\n\r\nBusyBox v1.35.0\r\n\r\n/ # ")
        clock.t += 10
        watch.poll()                                 # the prompt: the line is gone for good
        assert watch.prompt_seen and not watch.typed
        watch.output(b"\x1b[6n")
        assert watch.screen() == (b"[    0.1] half a line\r\nready\r\n\r\n"
                                  b"BusyBox v1.35.0\r\n\r\n/ # \x1b[6n")
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        drawn = f.read()
    lines = re.findall(PROGRESS, drawn)
    assert [l.split(b", ")[1:] for l in lines] == [
        [b"2,500 M instructions", b"0:00 elapsed\x1b[K"],
        [b"2,500 M instructions", b"0:08 elapsed\x1b[K"]]
    assert drawn == lines[0] + ERASE + lines[1] + ERASE


def test_console_watch_without_a_terminal_draws_nothing_and_notes_input():
    clock = _Clock()
    watch = ConsoleWatch(re.compile(rb"\n/ # $"), icount=lambda: 0, progress_fd=None, now=clock)
    clock.t += 30
    watch.poll()
    watch.input(b"ls\r")
    watch.output(b"x\n/ # ")
    assert watch.prompt_seen and watch.typed and not watch.shown


def test_boot_key_follows_the_initramfs_and_the_pysystem_version(tmp_path, monkeypatch):
    files = {}
    for name in ("zImage", "board.dtb", "initramfs.cpio.gz"):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode() * 100)
    args = ["pysystem-arm", "-M", "vexpress-a9", "-kernel", str(files["zImage"]),
            "-dtb", str(files["board.dtb"]), "-initrd", str(files["initramfs.cpio.gz"])]

    def key():
        return boot_key(args, kernel=str(files["zImage"]), dtb=str(files["board.dtb"]),
                        initramfs=str(files["initramfs.cpio.gz"]))

    first = key()
    assert json.loads(first["machine"]) == ["pysystem-arm", "-M", "vexpress-a9", "-kernel",
                                            "kernel", "-dtb", "dtb", "-initrd", "initramfs"]
    slot = BootSlot(tmp_path / "snapshots", files["initramfs.cpio.gz"])
    assert slot.tag == "boot-initramfs" and slot.stale(first) == ""

    class Info:
        path, icount, date_sec = str(tmp_path / "snapshots" / "boot-initramfs.pysnap"), 5, 0
    slot.record(first, b"/ # ", Info, 12.0)
    assert BootSlot(tmp_path / "snapshots", files["initramfs.cpio.gz"]).stale(key()) is None

    files["initramfs.cpio.gz"].write_bytes(b"another init")
    assert slot.stale(key()) == "the initramfs changed"
    files["initramfs.cpio.gz"].write_bytes(b"initramfs.cpio.gz" * 100)
    assert slot.stale(key()) is None
    monkeypatch.setattr(boot_snapshot.pysystem, "__version__", "99.0")
    assert slot.stale(key()) == "pysystem (its version or source) changed"
    monkeypatch.undo()
    assert slot.stale(key()) is None


def test_source_hash_covers_every_folder_of_pysystem():
    import pysystem.cpu.arm.translator as translator
    import pysystem.devices.pl011 as pl011
    files = {os.path.realpath(path) for _, path in boot_snapshot.source_files()}
    for module in (translator, pl011, boot_snapshot, boot_snapshot.pysystem):
        assert os.path.realpath(module.__file__) in files


# --- the whole --boot on a tiny guest ----------------------------------------------------

@pytest.fixture(scope="module")
def tiny_guest(tmp_path_factory):
    keystone = tools.module("keystone")
    import fdt
    folder = tmp_path_factory.mktemp("tiny")
    ks = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)
    # about 3e7 instructions of silence: several seconds on CPython, one on PyPy
    code, _ = ks.asm(SILENT_THEN_PROMPT.format(delay=15_000_000, poweroff=POWEROFF),
                     0x60010000)
    (folder / "kernel.bin").write_bytes(bytes(code))
    (folder / "mini.dtb").write_bytes(fdt.parse_dts(MINI_DTS).to_dtb(version=17))
    (folder / "initramfs.cpio.gz").write_bytes(b"not read by this guest")
    return folder


def _boot_command(folder: Path, *flags: str):
    args = ["pysystem-arm", "-M", "vexpress-a9", "-m", "128", "-kernel",
            str(folder / "kernel.bin"), "-dtb", str(folder / "mini.dtb"),
            "-initrd", str(folder / "initramfs.cpio.gz"), "-nographic"]
    files = {"kernel": args[6], "dtb": args[8], "initrd": args[10]}
    options = {"fresh": "--fresh" in flags, "save": "--no-save" not in flags}
    code = ("import sys; from pysystem.images.boot import boot; "
            f"sys.exit(boot('arm', {args!r}, {files!r}, {{}}, **{options!r}))")
    return [sys.executable, "-c", code]


def _env():
    # the run and the code cache stay in the test's folders
    return dict(os.environ, PYSYSTEM_CODE_CACHE="off")


def test_boot_explains_shows_progress_saves_then_restores(tiny_guest):
    s = PtySession(_boot_command(tiny_guest, "--fresh"), env=_env())
    try:
        s.expect(rb"pysystem-images: the first boot takes about .* on (CPython|PyPy)", 30)
        s.expect(rb"at the shell prompt the booted machine is saved", 5)
        s.expect(PROGRESS, 60)
        prompt = s.expect(rb"tiny guest up\r\n/ # ", 120)
        assert b"\x1b[K" not in s.out[prompt.start():]
        record = tiny_guest / "snapshots" / "boot-initramfs.json"
        end = time.monotonic() + 60
        while not record.exists() and time.monotonic() < end:
            time.sleep(0.2)
        mark = s.send(b"hi")
        s.expect(rb"hi", 30, mark)
        s.send(b"q")
        assert s.wait(60) == 0
    finally:
        s.close()
    assert bytes(s.out[:prompt.start()]).endswith(ERASE), "the line is erased before the guest's"
    assert re.search(rb"the booted guest was saved \(\d+ MB, .*boot-initramfs\.pysnap\)",
                     s.out), s.text
    saved = json.loads(record.read_text())
    assert saved["screen"] == "tiny guest up\n/ # " and saved["icount"] > 30_000_000

    s = PtySession(_boot_command(tiny_guest), env=_env())
    try:
        s.expect(rb"restoring the booted guest saved", 30)
        prompt = s.expect(rb"tiny guest up\r\n/ # ", 30)
        took = s.seen_at(prompt.end() - 1) - s.started
        mark = s.send(b"ok")
        s.expect(rb"ok", 30, mark)
        s.send(b"q")
        assert s.wait(60) == 0
    finally:
        s.close()
    assert b"first boot" not in s.out and b"\x1b[K" not in s.out
    assert took < 30, took


def _piped(folder: Path, *flags: str, saves: bool):
    """Run with stdout and stderr piped; type ``q`` once the prompt is there (and, when
    ``saves``, once the booted guest has been saved)."""
    record = folder / "snapshots" / "boot-initramfs.json"
    before = record.stat().st_mtime_ns if record.exists() else None
    proc = subprocess.Popen(_boot_command(folder, *flags), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        out = b""
        while not out.endswith(b"/ # "):
            chunk = proc.stdout.read1(4096)
            assert chunk, (out, proc.stderr.read())
            out += chunk
        end = time.monotonic() + 60
        while saves and time.monotonic() < end and (
                not record.exists() or record.stat().st_mtime_ns == before):
            time.sleep(0.1)
        proc.stdin.write(b"q")
        proc.stdin.close()
        out += proc.stdout.read()
        err = proc.stderr.read()
        return proc.wait(60), out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_boot_piped_prints_the_guest_only_and_input_before_the_prompt_is_not_saved(tmp_path,
                                                                                 tiny_guest):
    proc = subprocess.run(_boot_command(tiny_guest, "--fresh"), input=b"xyq",
                          capture_output=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"tiny guest up\n/ # xy"
    assert b"pysystem-images: the first boot takes about" in proc.stderr
    assert b"\x1b" not in proc.stderr
    assert proc.stderr.decode().splitlines()[-1] == (
        "pysystem-images: the booted guest was not saved: it was given input before its "
        "prompt appeared (the next --boot boots from scratch)")


def test_changed_initramfs_or_damaged_snapshot_boots_from_scratch(tiny_guest, tmp_path):
    import shutil
    folder = tmp_path / "g"
    shutil.copytree(tiny_guest, folder)
    status, out, err = _piped(folder, "--fresh", saves=True)
    assert status == 0 and out == b"tiny guest up\n/ # ", err
    assert b"the booted guest was saved" in err

    (folder / "initramfs.cpio.gz").write_bytes(b"another initramfs")
    status, out, err = _piped(folder, saves=True)
    assert status == 0 and out == b"tiny guest up\n/ # ", err
    assert (b"pysystem-images: the saved boot is out of date (the initramfs changed): "
            b"booting from scratch\n") in err
    status, out, err = _piped(folder, saves=False)
    assert status == 0 and out == b"tiny guest up\n/ # " and b"restoring" in err, err

    snap = folder / "snapshots" / "boot-initramfs.pysnap"
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snap.write_bytes(bytes(data))
    status, out, err = _piped(folder, saves=True)
    assert status == 0 and out == b"tiny guest up\n/ # ", err
    notes = [l for l in err.decode().splitlines() if "not restored" in l]
    assert notes == ["pysystem-images: the saved boot was not restored (snapshot "
                     "'boot-initramfs' is damaged or truncated (checksum mismatch)); "
                     "booting from scratch"], err
    status, out, err = _piped(folder, saves=False)
    assert status == 0 and b"restoring" in err, err


def test_boot_of_the_built_guest_without_its_build_tools_is_one_line(tmp_path):
    """``--boot mips`` builds its guest first; without the tools, one line names them."""
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-c", "import sys; from pysystem.images.fetch "
                           "import main; sys.exit(main(['--boot', 'mips', '--cache-dir', "
                           f"'{tmp_path / 'cache'}', '--mirror', 'file:///nonexistent']))"],
                          capture_output=True, timeout=60, env=dict(os.environ, PATH=str(empty)))
    assert proc.returncode == 1 and proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert lines == ["pysystem-images: error: building the big-endian Malta guest needs these "
                     "Debian packages: bc bison bzip2 flex gcc gcc-mips-linux-gnu make perl "
                     "tar xz-utils (apt-get install them)"], lines


# --- the README's command on Debian's kernel: one boot from scratch, one restore ---------

def _images_command(*flags: str):
    """``pysystem-images --boot arm`` as the guest interpreter has it installed (CI: PyPy)."""
    return [tools.guest_script("pysystem-images"), "--boot", "arm", *flags]


@pytest.mark.slow
@pytest.mark.network
def test_readme_boot_command_boots_once_then_restores_a_working_shell():
    guest = tools.guest_images("arm")
    timeout = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
    record = guest.kernel.parent / "snapshots" / "boot-initramfs.json"
    before = record.stat().st_mtime_ns if record.exists() else None

    s = PtySession(_images_command("--fresh"))
    try:
        s.expect(rb"pysystem-images: linux-image-6\.1\.\S+-armmp \S+ on vexpress-a9, under ", 60)
        s.expect(rb"the first boot takes about \d+ (minutes|seconds) on ", 10)
        s.expect(rb"are silent while the kernel decompresses itself", 10)
        s.expect(PROGRESS, 120)
        banner = s.expect(rb"pysystem initramfs ready: Linux \S+ armv7l\r*\n", timeout)
        # busybox's banner comes next; the progress line may show (erased) before the prompt
        s.expect(rb"\n(\r[^\r\n]*\x1b\[K)*/ # ", 600, banner.end())
        end = time.monotonic() + 300
        while (not record.exists() or record.stat().st_mtime_ns == before) \
                and time.monotonic() < end:
            time.sleep(0.2)
        mark = s.send(b"echo $((6*7))\r")
        s.expect(rb"\r*\n42\r*\n/ # ", 300, mark)
        s.send(b"poweroff -f\r")
        assert s.wait(300) == 0
    finally:
        s.close()
    last = list(re.compile(PROGRESS).finditer(s.out, 0, banner.start()))[-1]
    assert s.out[last.end():last.end() + len(ERASE)] == ERASE, "the line is erased at once"
    assert re.search(rb"the booted guest was saved \(\d+ MB, \S+boot-initramfs\.pysnap\)", s.out)

    s = PtySession(_images_command())
    try:
        s.expect(rb"restoring the booted guest saved", 60)
        prompt = s.expect(rb"built-in commands\.\r*\n\r*\n/ # ", 60)
        took = s.seen_at(prompt.end() - 1) - s.started
        mark = s.send(b"uname -m\r")
        s.expect(rb"\r*\narmv7l\r*\n/ # ", 120, mark)
        s.send(b"poweroff -f\r")
        assert s.wait(300) == 0
    finally:
        s.close()
    assert b"\x1b[K" not in s.out and b"first boot" not in s.out
    assert took < 10, f"the restored shell took {took:.1f} s"     # bench/first_run.py: ~1 s

    proc = subprocess.run(_images_command(), input=b"uname -r\npoweroff -f\n",
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert b"BusyBox v1." in proc.stdout.split(b"/ # ")[0]     # the screen shown again
    assert b"\x1b[K" not in proc.stdout and b"pysystem: guest running" not in proc.stdout
    assert guest.kernel_version.encode() in proc.stdout
