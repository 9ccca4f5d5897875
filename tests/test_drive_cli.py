"""-drive as a user meets it, through the real console script: format probing, locks
against a real qemu-system-arm (both ways), snapshot=on on an immutable image, FIFOs,
one drive on two devices.  QEMU 7.2's messages are the reference."""
import os
import stat
import subprocess
import sys
import time

import pytest

from pysystem.block import open_drive, close_all, BlockError, LockError
from tools import missing, program, script

BASE = ["-M", "vexpress-a9", "-display", "none", "-S", "-serial", "none"]
RAW_WARNING = (
    "WARNING: Image format was not specified for '{}' and probing guessed raw.\n"
    "         Automatically detecting the format is dangerous for raw images, write "
    "operations on block 0 will be restricted.\n"
    "         Specify the 'raw' format explicitly to remove the restrictions.\n")


def need(tool: str) -> str:
    return program(tool)


def run(*args, stdin="quit\n", timeout=60, cwd=None):
    """pysystem-arm paused with a monitor on stdio that quits at once."""
    return subprocess.run([script("pysystem-arm"), *BASE, "-monitor", "stdio", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def disk(args_drive: str, dev: str = "virtio-blk-device,drive=d0"):
    return ["-drive", f"if=none,id=d0,{args_drive}", "-device", dev]


@pytest.fixture
def raw(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1 << 20))
    return path


@pytest.fixture(autouse=True)
def _close():
    yield
    close_all()


# --- one drive, two devices ----------------------------------------------------------

def test_one_drive_on_two_devices_is_refused(raw):
    proc = run(*disk(f"file={raw},format=raw"), "-device", "virtio-blk-device,drive=d0")
    assert proc.returncode == 1
    assert proc.stderr == ("pysystem-arm: -device virtio-blk-device,drive=d0: "
                           "Drive 'd0' is already in use by another device\n")


def test_one_image_on_two_writable_drives_is_refused_by_the_locks(raw):
    proc = run(*disk(f"file={raw},format=raw"),
               "-drive", f"if=none,id=d1,file={raw},format=raw",
               "-device", "virtio-blk-device,drive=d1")
    assert proc.returncode == 1
    assert proc.stderr == ("pysystem-arm: -device virtio-blk-device,drive=d1: Failed to get "
                           f"\"write\" lock\nIs another process using the image [{raw}]?\n")


def test_share_rw_on_both_devices_allows_two_writers(raw):
    proc = run(*disk(f"file={raw},format=raw", "virtio-blk-device,drive=d0,share-rw=on"),
               "-drive", f"if=none,id=d1,file={raw},format=raw",
               "-device", "virtio-blk-device,drive=d1,share-rw=on")
    assert proc.returncode == 0, proc.stderr


# --- FIFOs and other non-files --------------------------------------------------------

def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    start = time.monotonic()
    proc = run(*disk(f"file={fifo}"), timeout=30)
    assert time.monotonic() - start < 30
    assert proc.returncode == 1
    assert proc.stderr == (f"pysystem-arm: -drive if=none,id=d0,file={fifo}: A regular file was "
                           "expected by the 'file' driver, but something else was given\n")


def test_a_fifo_is_refused_by_the_block_layer_too(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(BlockError, match="A regular file was expected"):
        open_drive(str(fifo), format="raw")


# --- snapshot=on needs only a readable image ------------------------------------------

@pytest.fixture
def immutable(raw):
    need("chattr")
    if subprocess.run(["chattr", "+i", str(raw)], capture_output=True).returncode != 0:
        missing("chattr +i on a temporary file (needs root and a file system with the flag)")
    yield raw
    subprocess.run(["chattr", "-i", str(raw)])


@pytest.mark.parametrize("how", ["snapshot=on", "-snapshot"])
def test_snapshot_on_an_immutable_image(immutable, how):
    before = immutable.read_bytes()
    opts = f"file={immutable},format=raw" + (",snapshot=on" if how == "snapshot=on" else "")
    extra = ["-snapshot"] if how == "-snapshot" else []
    proc = run(*extra, *disk(opts))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    b = open_drive(str(immutable), snapshot=True, format="raw")
    b.write(0, b"\x55" * 512)
    assert b.read(0, 512) == b"\x55" * 512
    b.close()
    assert immutable.read_bytes() == before


def test_snapshot_on_a_read_only_image(raw):
    os.chmod(raw, stat.S_IRUSR)
    b = open_drive(str(raw), snapshot=True, format="raw")
    b.write(512, b"x" * 512)
    assert b.read(512, 512) == b"x" * 512
    b.close()
    assert raw.read_bytes() == bytes(1 << 20)


# --- format probing ---------------------------------------------------------------------

def test_qcow2_without_format_is_probed(tmp_path):
    q = tmp_path / "d.qcow2"
    subprocess.run([need("qemu-img"), "create", "-q", "-f", "qcow2", str(q), "1M"], check=True)
    proc = run(*disk(f"file={q}"), stdin="info block\nquit\n")
    assert proc.returncode == 0, proc.stderr
    assert f"d0: {q} (qcow2)" in proc.stdout
    assert proc.stderr == ""


def test_raw_without_format_warns_as_qemu(raw, tmp_path):
    proc = run(*disk("file=disk.img"), cwd=tmp_path, stdin="info block\nquit\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == RAW_WARNING.format("disk.img")
    assert "d0: disk.img (raw)" in proc.stdout
    # read-only, or with format=raw: no warning (QEMU prints none either)
    assert run(*disk("file=disk.img,readonly=on"), cwd=tmp_path).stderr == ""
    assert run(*disk("file=disk.img,format=raw"), cwd=tmp_path).stderr == ""


def test_probed_raw_refuses_to_turn_block_0_into_qcow2(raw):
    b = open_drive(str(raw), warn=lambda text: None)
    with pytest.raises(BlockError, match="would make the image probe as qcow2"):
        b.write(0, b"QFI\xfb\x00\x00\x00\x03" + bytes(504))
    b.write(0, b"an ordinary boot sector".ljust(512, b"\0"))
    b.close()
    explicit = open_drive(str(raw), format="raw")
    explicit.write(0, b"QFI\xfb\x00\x00\x00\x03" + bytes(504))   # format=raw: allowed


# --- locks against a real QEMU, both ways ----------------------------------------------

def _qemu(*drive_args):
    exe = need("qemu-system-arm")
    env = dict(os.environ, QEMU_AUDIO_DRV="none")
    proc = subprocess.Popen([exe, *BASE, "-monitor", "none", *drive_args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    return proc


def _wait_locked(path, proc, deadline=20.0):
    """Until the process holds lock bytes on ``path`` (it has opened its drives)."""
    ino = os.stat(path).st_ino
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        with open("/proc/locks") as f:
            if any(f":{ino} " in line for line in f):
                return
        time.sleep(0.1)
    raise AssertionError(f"no lock on {path} after {deadline} s")


def _stop(proc):
    proc.terminate()
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("ours,message", [
    ("", 'Failed to get "write" lock'),
    (",readonly=on", 'Failed to get shared "write" lock'),
    (",snapshot=on", 'Failed to get shared "write" lock'),
    (",file.locking=off", None),
])
def test_qemu_holds_the_image_we_are_refused(raw, ours, message):
    q = _qemu(*disk(f"file={raw},format=raw"))
    try:
        _wait_locked(raw, q)
        proc = run(*disk(f"file={raw},format=raw{ours}"))
    finally:
        _stop(q)
    if message is None:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 1
    assert proc.stderr == (f"pysystem-arm: -device virtio-blk-device,drive=d0: {message}\n"
                           f"Is another process using the image [{raw}]?\n")


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_we_hold_the_image_qemu_is_refused(tmp_path, fmt):
    image = tmp_path / f"d.{fmt}"
    subprocess.run([need("qemu-img"), "create", "-q", "-f", fmt, str(image), "1M"], check=True)
    ours = subprocess.Popen([script("pysystem-arm"), *BASE, "-monitor", "none",
                             *disk(f"file={image},format={fmt}")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_locked(image, ours, deadline=60)
        for extra, message in (("", 'Failed to get "write" lock'),
                               (",readonly=on", 'Failed to get shared "write" lock')):
            q = _qemu(*disk(f"file={image},format={fmt}{extra}"))
            try:
                _, err = q.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                _stop(q)
                raise AssertionError(f"qemu-system-arm started on an image we hold ({extra})")
            assert q.returncode == 1
            assert f"{message}\nIs another process using the image [{image}]?" in err
    finally:
        _stop(ours)


def test_two_of_our_processes(raw):
    first = subprocess.Popen([script("pysystem-arm"), *BASE, "-monitor", "none", *disk(f"file={raw},format=raw")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_locked(raw, first, deadline=60)
        proc = run(*disk(f"file={raw},format=raw"))
        assert proc.returncode == 1 and 'Failed to get "write" lock' in proc.stderr
        assert run(*disk(f"file={raw},format=raw,file.locking=off")).returncode == 0
    finally:
        _stop(first)
    # the locks went with the process
    assert run(*disk(f"file={raw},format=raw")).returncode == 0


def test_lock_conflict_in_one_process_and_release_on_close(raw):
    a = open_drive(str(raw), format="raw", locking="auto")
    with pytest.raises(LockError) as info:
        open_drive(str(raw), format="raw", locking="auto")
    assert str(info.value) == 'Failed to get "write" lock'
    assert info.value.hint == f"Is another process using the image [{raw}]?"
    with pytest.raises(LockError, match='shared "write"'):
        open_drive(str(raw), format="raw", readonly=True, locking="auto")
    open_drive(str(raw), format="raw", locking="off").close()
    open_drive(str(raw), format="raw").close()      # the Python API locks only when asked
    a.close()
    open_drive(str(raw), format="raw", locking="auto").close()


def test_bad_locking_value(raw):
    proc = run(*disk(f"file={raw},format=raw,file.locking=maybe"))
    assert proc.returncode == 1
    assert proc.stderr.endswith("invalid parameter value: maybe\n")


def test_posix_lock_fallback_conflicts_across_processes(raw):
    """Without OFD locks, locking=on takes POSIX record locks (with QEMU's warning);
    another process is still refused."""
    child = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from pysystem import block_lock
block_lock._OFD = False          # a kernel without OFD locks
from pysystem.block import open_drive
b = open_drive({str(raw)!r}, format="raw", locking="on")
print("HELD", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "HELD\n"
        with pytest.raises(LockError, match='Failed to get "write" lock'):
            open_drive(str(raw), format="raw", locking="auto")
    finally:
        child.kill()
        _, err = child.communicate()
    assert "falling back to POSIX file locks" in err
    # and with locking=auto and no OFD locks, QEMU takes none: neither do we
    from pysystem import block_lock
    saved, block_lock._OFD = block_lock._OFD, False
    try:
        lock = block_lock.ImageLock(os.open(raw, os.O_RDONLY), str(raw), "auto")
        assert not lock.enabled
        os.close(lock.fd)
    finally:
        block_lock._OFD = saved


def test_an_image_that_cannot_be_opened_is_the_drives_error(tmp_path):
    """As QEMU: the -drive is named, once, with QEMU's words (not the -device)."""
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb\x00\x00\x00\x09".ljust(4096, b"\0"))
    proc = run(*disk(f"file={bad}"))
    assert proc.returncode == 1
    assert proc.stderr == (f"pysystem-arm: -drive if=none,id=d0,file={bad}: "
                           "Unsupported qcow2 version 9\n")
    q = tmp_path / "o.qcow2"
    subprocess.run([need("qemu-img"), "create", "-q", "-f", "qcow2", "-u", "-b", "gone.qcow2",
                    "-F", "qcow2", str(q), "1M"], check=True)
    proc = run(*disk(f"file={q}"))
    assert proc.stderr == (f"pysystem-arm: -drive if=none,id=d0,file={q}: Could not open "
                           f"backing file: Could not open '{tmp_path}/gone.qcow2': No such "
                           "file or directory\n")
