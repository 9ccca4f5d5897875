"""Snapshots (pysystem.snapshot) on vexpress-a9 with a small bare-metal guest.

The guest is the ticker (tests/arm_ticker.py): what it prints depends on the CPU,
RAM, GIC, timer and clock state, so a restored run that prints the same bytes at the
same virtual times had all of it back.
"""
from __future__ import annotations

import os
import subprocess
import zlib

import pytest

from pysystem import qom
from pysystem import snapshot
from pysystem.block import close_all
from pysystem.snapshot import SnapshotError
import arm_ticker
from tools import module, program, script

module("keystone")


@pytest.fixture(scope="module")
def board():
    from pysystem.cli import load_types
    from pysystem.machine import find_machine
    load_types()
    cls = find_machine("vexpress-a9", "arm")
    assert cls is not None and cls.AVAILABLE, "no vexpress-a9 board"
    return cls


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    return arm_ticker.write(tmp_path_factory.mktemp("guest"), limit=3000)


class Vm:
    """A vexpress-a9 built in-process as the command line builds it, run without host I/O."""

    def __init__(self, board, guest, store, ram="128M", drives=(), **props):
        from pysystem.chardev import RingbufChardev
        from pysystem.machine import DriveSpec
        qom.reset_root()
        kernel, dtb = guest
        self.m = board(**{"ram-size": ram, "kernel": kernel, "dtb": dtb,
                          "snapshot-dir": str(store), **props})
        self.out = RingbufChardev(size=1 << 20)
        self.m.serial_hds.append(self.out)
        for i, (interface, path) in enumerate(drives):
            self.m.drives.append(DriveSpec(str(path), interface, 0, id=f"{interface}0",
                                           text=str(path)))
        self.m.realize()
        self.m.reset()
        self.m.start()
        self.events = []
        self.m.add_listener(lambda ev, reason: self.events.append(ev))

    def run(self, insns):
        """Run ``insns`` guest instructions as the main loop would (idle: warp)."""
        from pysystem.main_loop import has_work
        m, clock = self.m, self.m.clock
        target = clock.icount + insns
        while clock.icount < target and not m.has_requests():
            budget = min(clock.insns_until_deadline(100_000), target - clock.icount)
            executed = 0
            for cpu in m.cpus:
                if has_work(cpu):
                    executed += cpu.run(budget)
            clock.run_timers()
            if not executed and not any(has_work(c) for c in m.cpus):
                assert clock.warp_to_next_deadline(), "guest idle with no timer"
                clock.run_timers()
        return self.out.read(1 << 20)

    def trace(self, insns, step=20_000):
        """Output and clock readings every ``step`` instructions."""
        out = []
        for _ in range(insns // step):
            out.append((self.run(step), self.m.clock.icount, self.m.clock.now()))
        return out

    def ram(self):
        return bytes(next(r for r in self.m.address_space.ram_regions()
                          if r.name == "vexpress.highmem").data)


def _digest(vm, store, tag="probe"):
    info = snapshot.save(vm.m, tag, now_ns=0, snapshot_id=99)
    digest = snapshot.state_digest(info.path)
    os.unlink(info.path)
    return digest


def test_restored_run_repeats_the_original(board, guest, tmp_path):
    vm = Vm(board, guest, tmp_path)
    vm.run(150_000)
    assert vm.m.clock.warp_ns > 0                 # the guest waited in WFI
    snapshot.save(vm.m, "mid")
    first = vm.trace(400_000)
    assert b"" not in [o for o, _, _ in first[:5]]
    after_first = _digest(vm, tmp_path)
    vm.run(50_000)                                # move on, so that load has work to do
    snapshot.load(vm.m, "mid")
    second = vm.trace(400_000)
    assert second == first
    assert _digest(vm, tmp_path) == after_first


def test_save_load_save_gives_identical_bytes(board, guest, tmp_path):
    vm = Vm(board, guest, tmp_path / "a")
    vm.run(123_457)
    one = snapshot.save(vm.m, "t", now_ns=10**18, snapshot_id=1)
    vm.run(77_777)
    snapshot.load(vm.m, "t")
    vm.m.snapshot_dir = str(tmp_path / "b")
    two = snapshot.save(vm.m, "t", now_ns=10**18, snapshot_id=1)
    with open(one.path, "rb") as f1, open(two.path, "rb") as f2:
        assert f1.read() == f2.read()


def test_list_and_delete(board, guest, tmp_path):
    vm = Vm(board, guest, tmp_path)
    assert snapshot.list_snapshots(vm.m) == []
    vm.run(10_000)
    a = snapshot.save(vm.m, "a")
    b = snapshot.save(vm.m, "b/with space")
    c = snapshot.save(vm.m)
    assert c.tag.startswith("vm-") and len(c.tag) == 17
    infos = snapshot.list_snapshots(vm.m)
    assert [(i.id, i.tag) for i in infos] == [("1", "a"), ("2", "b/with space"), ("3", c.tag)]
    assert infos[0].icount == vm.m.clock.icount and infos[0].vm_clock_ns == vm.m.clock.now()
    assert all(i.vm_state_size > 0 for i in infos)
    snapshot.save(vm.m, "a")                       # replaces "a", with a new id
    assert [(i.id, i.tag) for i in snapshot.list_snapshots(vm.m)] == \
        [("2", "b/with space"), ("3", c.tag), ("4", "a")]
    snapshot.load(vm.m, "2")                       # by id
    snapshot.delete(vm.m, "b/with space")
    assert [i.tag for i in snapshot.list_snapshots(vm.m)] == [c.tag, "a"]
    with pytest.raises(SnapshotError, match="does not exist"):
        snapshot.delete(vm.m, "b/with space")
    with pytest.raises(SnapshotError, match="Snapshot 'nope' does not exist"):
        snapshot.load(vm.m, "nope")
    assert b.path != a.path and not any(n.endswith(".tmp") for n in os.listdir(tmp_path))


def test_save_and_load_stop_the_vm_around_them(board, guest, tmp_path):
    vm = Vm(board, guest, tmp_path)
    snapshot.save(vm.m, "x")
    snapshot.load(vm.m, "x")
    assert vm.events == ["STOP", "RESUME", "STOP", "RESUME"] and vm.m.running
    vm.m.pause()
    vm.events.clear()
    snapshot.save(vm.m, "x")
    assert vm.events == [] and vm.m.run_state == "paused"


def test_disks_are_restored(board, guest, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"A" * 8192 + bytes(65536) + b"B" * 1000)
    vm = Vm(board, guest, tmp_path / "store", drives=[("virtio", disk)],
            **{"snapshot-dir": None})
    assert snapshot.store_dir(vm.m) == str(disk) + ".pysnap"
    backend = vm.m.drives[0].backend
    size = backend.size
    vm.run(5000)
    snapshot.save(vm.m, "d")
    backend.write(0, b"C" * 512)
    backend.write(20000, b"D" * 4096)
    backend.write(size - 512, bytes(512))
    snapshot.load(vm.m, "d")
    assert backend.read(0, size) == (b"A" * 8192 + bytes(65536) + b"B" * 1000).ljust(size, b"\0")
    assert os.path.isdir(str(disk) + ".pysnap")


def test_qcow2_disks_are_restored_and_stay_clean(board, guest, tmp_path):
    """A qcow2 drive is saved and restored whole like a raw one (through its virtual
    contents); ``qemu-img check`` is clean after the restore's writes."""
    qemu_img = program("qemu-img")
    raw, disk = tmp_path / "src.raw", tmp_path / "disk.qcow2"
    raw.write_bytes(b"A" * 8192 + bytes(200000) + b"B" * 1000)
    subprocess.run([qemu_img, "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096",
                    str(raw), str(disk)], check=True)
    vm = Vm(board, guest, tmp_path / "store", drives=[("virtio", disk)],
            **{"snapshot-dir": None})
    backend = vm.m.drives[0].backend
    assert backend.format == "qcow2"
    size = backend.size
    vm.run(5000)
    snapshot.save(vm.m, "q")
    backend.write(0, b"C" * 512)
    backend.write(100000, b"D" * 8192)      # clusters allocated after the save
    snapshot.load(vm.m, "q")
    assert backend.read(0, size) == raw.read_bytes().ljust(size, b"\0")
    close_all()
    check = subprocess.run([qemu_img, "check", str(disk)], capture_output=True, text=True)
    assert check.returncode == 0 and "No errors" in check.stdout, check.stdout
    assert subprocess.run([qemu_img, "compare", "-f", "qcow2", "-F", "raw", str(disk), str(raw)],
                          capture_output=True).returncode == 0


def test_snapshot_mode_disk_restores_into_the_overlay(board, guest, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"Z" * 4096)
    vm = Vm(board, guest, tmp_path / "store", drives=[("sd", disk)], snapshot=True)
    backend = vm.m.drives[0].backend
    backend.write(0, b"Y" * 512)
    snapshot.save(vm.m, "s")
    backend.write(0, b"X" * 1024)
    snapshot.load(vm.m, "s")
    assert backend.read(0, 1024) == b"Y" * 512 + b"Z" * 512
    assert disk.read_bytes() == b"Z" * 4096


def test_default_store_without_disks_is_per_user(board, guest, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    vm = Vm(board, guest, tmp_path, **{"snapshot-dir": None})
    assert snapshot.store_dir(vm.m) == str(tmp_path / "xdg" / "pysystem" / "snapshots" /
                                            "vexpress-a9")


# --- refusing bad snapshots, leaving the VM alone --------------------------------------

def _fingerprint(vm):
    """Every declared field, the clock and the contents of every RAM-like region."""
    import hashlib
    h = hashlib.sha256(vm.m.clock.state_bytes())
    for obj in vm.m.walk():
        h.update(obj.path.encode() + obj.state_bytes())
    for name, region in snapshot._memory_regions(vm.m):
        h.update(b"%s %d" % (name.encode(), zlib.crc32(memoryview(region.data))))
    for drive in vm.m.drives:
        if drive.backend is not None:
            h.update(drive.backend.read(0, drive.backend.size))
    return h.hexdigest()


def _untouched(vm, store, action, match):
    vm.run(30_000)
    before = _fingerprint(vm)
    with pytest.raises(SnapshotError, match=match) as e:
        action()
    assert "\n" not in str(e.value)
    assert _fingerprint(vm) == before


def test_truncated_and_bit_flipped_files_are_refused(board, guest, tmp_path):
    vm = Vm(board, guest, tmp_path)
    vm.run(40_000)
    info = snapshot.save(vm.m, "good")
    data = open(info.path, "rb").read()
    for n, (name, bad) in enumerate([
            ("cut", data[:len(data) // 2]),
            ("cut-tail", data[:-1]),
            ("empty", b""),
            ("foreign", b"not a snapshot at all" * 10),
            ("flip-blob", data[:len(data) - 100] + bytes([data[-100] ^ 1]) + data[-99:]),
            ("flip-header", data[:300] + bytes([data[300] ^ 0x10]) + data[301:]),
            ("flip-digest", data[:-1] + bytes([data[-1] ^ 0x80]))]):
        with open(snapshot._file_for(str(tmp_path), name), "wb") as f:
            f.write(bad)
        _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, name),
                   f"snapshot '{name}' (is damaged|is truncated|is not a pysystem snapshot)")
    version = bytearray(data)
    version[8] = 7
    with open(snapshot._file_for(str(tmp_path), "future"), "wb") as f:
        f.write(version)
    _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, "future"), "format version 7")
    snapshot.load(vm.m, "good")


def _other(board, guest, store, **kw):
    vm = Vm(board, guest, store, **kw)
    vm.run(20_000)
    snapshot.save(vm.m, "other")
    close_all()         # done with it: its disks' locks go (as when a process exits)


def test_mismatched_machines_are_refused(board, guest, tmp_path):
    _other(board, guest, tmp_path, ram="256M")
    vm = Vm(board, guest, tmp_path)
    _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, "other"),
               "has 256 MiB of RAM, this machine has 128 MiB")
    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(4096))
    _other(board, guest, tmp_path, drives=[("virtio", disk)], **{"snapshot-dir": str(tmp_path)})
    vm = Vm(board, guest, tmp_path)
    _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, "other"),
               "does not match this machine: .*virtio-blk")
    _other(board, guest, tmp_path, drives=[("sd", disk)], **{"snapshot-dir": str(tmp_path)})
    disk.write_bytes(bytes(8192))
    vm = Vm(board, guest, tmp_path, drives=[("sd", disk)], **{"snapshot-dir": str(tmp_path)})
    _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, "other"),
               "holds disk 'sd0' of 4096 bytes, this machine's has 8192")


def test_other_board_is_refused(board, guest, tmp_path):
    from pysystem.machines.none import NoneMachine
    _other(board, guest, tmp_path)
    qom.reset_root()
    m = NoneMachine(**{"ram-size": "128M", "snapshot-dir": str(tmp_path)})
    m.realize()
    m.reset()
    with pytest.raises(SnapshotError, match="was saved on machine 'vexpress-a9', this is 'none'"):
        snapshot.load(m, "other")
    qom.reset_root()


def test_bad_field_values_are_refused_before_anything_changes(board, guest, tmp_path):
    """A snapshot whose checksums are right but whose state does not fit (a register out
    of range) is refused, and RAM, which is restored first, is unchanged."""
    import hashlib
    import json
    import struct
    import zlib
    vm = Vm(board, guest, tmp_path)
    vm.run(20_000)
    info = snapshot.save(vm.m, "x")
    data = open(info.path, "rb").read()
    _, _, meta_len, _ = struct.unpack_from("<8sIII", data)
    pos = 20 + meta_len
    (hlen,) = struct.unpack_from("<I", data, pos)
    header = json.loads(data[pos + 4:pos + 4 + hlen])
    base = pos + 4 + hlen
    off, n = header["state"]["blob"]
    state = json.loads(zlib.decompress(data[base + off:base + off + n]))
    cpu_path = next(p for p in state["objects"] if p.endswith("cpu[0]"))
    state["objects"][cpu_path]["cpsr"] = 1 << 40
    raw = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    blob = zlib.compress(raw, 6)
    header["state"] = {"raw_len": len(raw), "blob": [len(data) - base - 32, len(blob)]}
    hb = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = data[:pos] + struct.pack("<I", len(hb)) + hb + data[base:-32]
    body = body + blob
    with open(snapshot._file_for(str(tmp_path), "forged"), "wb") as f:
        f.write(body + hashlib.sha256(body).digest())
    _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, "forged"), "cpu.*cpsr")


# --- a new process: -loadvm -------------------------------------------------------------

def test_loadvm_in_a_new_process_continues_identically(board, guest, tmp_path):
    kernel, dtb = guest
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(65536))
    vm = Vm(board, guest, tmp_path, drives=[("sd", disk)], **{"snapshot-dir": None})
    vm.run(200_000)
    snapshot.save(vm.m, "here")
    rest = vm.run(50_000_000)
    assert rest.endswith(b"\n") and vm.m.has_requests()      # the guest powered off
    close_all()         # the disk's lock goes with the finished machine
    binary = script("pysystem-arm")
    proc = subprocess.run([binary, "-M", "vexpress-a9", "-m", "128M", "-kernel", kernel,
                           "-dtb", dtb, "-display", "none", "-serial", "stdio",
                           "-drive", f"if=sd,file={disk},format=raw", "-loadvm", "here"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == rest
    proc = subprocess.run([binary, "-M", "vexpress-a9", "-kernel", kernel, "-dtb", dtb,
                           "-display", "none", "-serial", "stdio",
                           "-drive", f"if=sd,file={disk},format=raw", "-loadvm", "nosuch"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == b"pysystem-arm: Snapshot 'nosuch' does not exist in one or more devices\n"


def _resign(data: bytes, header: dict) -> bytes:
    """The snapshot ``data`` with another header, checksums made right again."""
    import hashlib
    import json
    import struct
    _, _, meta_len, _ = struct.unpack_from("<8sIII", data)
    pos = 20 + meta_len
    (hlen,) = struct.unpack_from("<I", data, pos)
    hb = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = data[:pos] + struct.pack("<I", len(hb)) + hb + data[pos + 4 + hlen:-32]
    return body + hashlib.sha256(body).digest()


def _header(data: bytes) -> dict:
    import json
    import struct
    _, _, meta_len, _ = struct.unpack_from("<8sIII", data)
    pos = 20 + meta_len
    (hlen,) = struct.unpack_from("<I", data, pos)
    return json.loads(data[pos + 4:pos + 4 + hlen])


def _mutations(value, rng, path=()):
    """Paths into a JSON value and a replacement for each, chosen at random."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _mutations(v, rng, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            out += _mutations(v, rng, path + (i,))
    out.append((path, rng.choice([None, -1, 1 << 70, "x", [], {}, True, 0, 3.5, [1, 2]])))
    return out


def test_forged_headers_are_refused_cleanly(board, guest, tmp_path):
    """Headers that pass the checksums but hold nonsense (wrong types, sizes, offsets):
    always a SnapshotError, never another exception, and the machine is untouched."""
    import copy
    import random
    vm = Vm(board, guest, tmp_path, ram="32M")
    vm.run(30_000)
    info = snapshot.save(vm.m, "good")
    data = open(info.path, "rb").read()
    header = _header(data)
    before = _fingerprint(vm)
    rng = random.Random(5)
    muts = _mutations(header, rng)
    refused = 0
    for path, value in rng.sample(muts, min(40, len(muts))):
        h = copy.deepcopy(header)
        if not path:
            h = value
        else:
            node = h
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = value
        with open(snapshot._file_for(str(tmp_path), "forged"), "wb") as f:
            f.write(_resign(data, h))
        try:
            snapshot.load(vm.m, "forged")
        except SnapshotError as e:
            assert "\n" not in str(e)
            refused += 1
            continue
        snapshot.load(vm.m, "good")        # accepted: it must have been harmless
    assert refused > 20
    assert _fingerprint(vm) == before


def test_a_field_added_later_takes_its_default_from_an_older_snapshot(board, guest, tmp_path,
                                                                      monkeypatch):
    """A snapshot saved before a device type gained a field loads into the newer type:
    the field gets its declared reset value; state newer than the type is refused."""
    from pysystem.devices.pl011 import PL011
    from pysystem.qom import Field
    vm = Vm(board, guest, tmp_path)
    vm.run(50_000)
    uart = vm.m.dev["uart0"]
    saved_cr = uart.cr
    snapshot.save(vm.m, "old")
    monkeypatch.setattr(PL011, "STATE", PL011.STATE + (Field("added", "u32", 0x55, since=2),))
    monkeypatch.setattr(PL011, "STATE_VERSION", 2)
    uart.added = 0x1234
    uart.cr ^= 1
    snapshot.load(vm.m, "old")
    assert uart.added == 0x55 and uart.cr == saved_cr
    uart.added = 0x77
    snapshot.save(vm.m, "new")
    uart.added = 0
    snapshot.load(vm.m, "new")
    assert uart.added == 0x77
    monkeypatch.setattr(PL011, "STATE_VERSION", 1)
    monkeypatch.setattr(PL011, "STATE", PL011.STATE[:-1])
    _untouched(vm, tmp_path, lambda: snapshot.load(vm.m, "new"), "newer than this pysystem")
