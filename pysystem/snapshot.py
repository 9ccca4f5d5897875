"""Snapshots without qcow2: savevm/loadvm/delvm/info snapshots of the whole machine.

Public interface (the HMP commands, QMP's snapshot-* jobs and ``-loadvm`` call these)::

    save(machine, tag=None) -> SnapshotInfo      # tag None: QEMU's "vm-YYYYMMDDHHMMSS"
    load(machine, tag) -> SnapshotInfo           # validates everything, then restores
    delete(machine, tag) -> SnapshotInfo         # SnapshotError if there is no such tag
    list_snapshots(machine) -> [SnapshotInfo]    # sorted by id
    store_dir(machine) -> str                    # where this machine's snapshots live

Every failure raises ``SnapshotError`` with a one-line message; a failed ``load``
leaves the running machine untouched.  ``SnapshotInfo`` has ``id`` (str), ``tag``,
``vm_state_size`` (bytes), ``date_sec``/``date_nsec`` (host time of the save),
``vm_clock_ns`` (guest time), ``icount`` and ``path``.  ``save`` and ``load``
stop a running machine for their duration (STOP, then RESUME, as QEMU's do);
a tag names the snapshot (``load``/``delete`` also accept an id).

What a snapshot holds: the virtual clock (instruction count, warp, RTC base),
the declared state (``Field``s) of every object in the QOM tree under
/machine, every RAM-like memory region (RAM, ROM, flash) as non-zero pages,
and the contents of every writable disk (``-drive`` without readonly=on; with
snapshot=on it is the temporary overlay's view that is kept and restored).
Restoring writes RAM in place and writes back only the disk blocks that differ.

The store (``store_dir``): ``-machine snapshot-dir=DIR`` if given; otherwise a
directory next to the first writable disk image, ``IMAGE.pysnap/``; with no
such disk, ``$XDG_DATA_HOME/pysystem/snapshots/BOARD/`` (by default
``~/.local/share/pysystem/snapshots/BOARD/``).  One file per snapshot,
``TAG.pysnap`` (the tag percent-encoded, a leading "." as ``%2E`` so that any tag
QEMU takes is listed and none clashes with the hidden temporary files), written to
a temporary file, fsynced and renamed into place, so a crash never leaves half a
snapshot.  Only regular files are read, opened without blocking: a FIFO or device
named like a snapshot is skipped by ``info snapshots`` and refused by ``loadvm``.

File format (version 1; all integers little-endian)::

    "PYSYSNAP"  u32 version  u32 meta length  u32 CRC-32 of meta
    meta        JSON: tag, id, date_sec, date_nsec, vm_clock_ns, icount, vm_state_size
    u32 header length, header JSON: machine type, RAM size, CPU type and count,
                the object list [[path, type], ...], and for the state, each memory
                region and each disk where its pieces lie in the blob area
    blob area   zlib or raw pieces: the state JSON, page runs, page chunks
    SHA-256 of everything before it (32 bytes)

``info snapshots`` reads only the meta; ``load`` checks the whole file (magic,
version, checksums, structure) and that it fits this machine (board, RAM size,
CPU, objects, memory regions, disks, every state field) before changing
anything.  A save -> load -> save round trip gives identical bytes after the
meta (``state_digest(path)``).  Page encoding: ``snapshot_pages``.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import stat
import struct
import time
import zlib
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

from . import dirs
from . import snapshot_pages as pages

__all__ = ["SnapshotError", "SnapshotInfo", "save", "load", "delete", "list_snapshots",
           "store_dir", "state_digest", "FORMAT_VERSION", "SUFFIX"]

FORMAT_VERSION = 1
MAGIC = b"PYSYSNAP"
SUFFIX = ".pysnap"
_HEAD = struct.Struct("<8sIII")
_U32 = struct.Struct("<I")
_DIGEST = 32
MAX_TAG = 255


class SnapshotError(Exception):
    """A snapshot cannot be saved, loaded or deleted; the message is one line."""


class SnapshotInfo:
    """What ``info snapshots`` shows about one snapshot (its meta)."""

    __slots__ = ("id", "tag", "vm_state_size", "date_sec", "date_nsec", "vm_clock_ns",
                 "icount", "path")

    def __init__(self, meta: Dict[str, Any], path: str):
        self.id = str(meta["id"])
        self.tag = meta["tag"]
        self.vm_state_size = meta["vm_state_size"]
        self.date_sec = meta["date_sec"]
        self.date_nsec = meta["date_nsec"]
        self.vm_clock_ns = meta["vm_clock_ns"]
        self.icount = meta["icount"]
        self.path = path

    def __repr__(self) -> str:
        return f"<SnapshotInfo {self.id} {self.tag!r}>"


# --- where snapshots live -------------------------------------------------------------

def store_dir(machine) -> str:
    chosen = getattr(machine, "snapshot_dir", None)
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    for drive in machine.drives:
        if not drive.readonly and drive.file:
            return os.path.abspath(drive.file) + SUFFIX
    return os.path.join(dirs.user_data_dir(), "snapshots", type(machine).NAME or "machine")


def _file_for(directory: str, tag: str) -> str:
    name = quote(tag, safe="")
    if name.startswith("."):            # not hidden, and never a temporary file's name
        name = "%2E" + name[1:]
    return os.path.join(directory, name + SUFFIX)


def _open_regular(path: str):
    """``open(path, "rb")`` for a regular file only; a FIFO, socket or device is
    refused without blocking (O_NONBLOCK, then fstat)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SnapshotError("not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_tag(tag: str) -> None:
    if not tag:
        raise SnapshotError("a snapshot needs a non-empty tag")
    if len(tag) > MAX_TAG:
        raise SnapshotError(f"snapshot tag is longer than {MAX_TAG} characters")
    if any(ord(c) < 0x20 for c in tag):
        raise SnapshotError("snapshot tag contains control characters")


def _read_meta(path: str) -> Dict[str, Any]:
    with _open_regular(path) as f:
        head = f.read(_HEAD.size)
        if len(head) < _HEAD.size or head[:8] != MAGIC:
            raise SnapshotError("not a pysystem snapshot")
        _, version, meta_len, crc = _HEAD.unpack(head)
        if version != FORMAT_VERSION:
            raise SnapshotError(f"format version {version} (this pysystem reads "
                                f"{FORMAT_VERSION})")
        blob = f.read(meta_len)
    if len(blob) != meta_len or zlib.crc32(blob) != crc:
        raise SnapshotError("damaged (meta checksum mismatch)")
    try:
        meta = json.loads(blob)
        SnapshotInfo(meta, path)
    except (ValueError, KeyError, TypeError):
        raise SnapshotError("damaged (unreadable meta)") from None
    return meta


def list_snapshots(machine) -> List[SnapshotInfo]:
    """The snapshots in the machine's store whose meta is readable, by id."""
    directory = store_dir(machine)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    out = []
    for name in names:
        if not name.endswith(SUFFIX) or name.startswith("."):
            continue
        path = os.path.join(directory, name)
        try:
            out.append(SnapshotInfo(_read_meta(path), path))
        except (SnapshotError, OSError):
            continue
    out.sort(key=lambda s: (int(s.id) if s.id.isdigit() else 1 << 62, s.tag))
    return out


def _find(machine, tag: str) -> SnapshotInfo:
    if tag:
        path = _file_for(store_dir(machine), tag)
        if os.path.exists(path):
            try:
                return SnapshotInfo(_read_meta(path), path)
            except OSError as e:
                raise SnapshotError(f"snapshot '{tag}': {e.strerror}") from None
            except SnapshotError as e:
                raise SnapshotError(f"snapshot '{tag}' is {e}") from None
        for info in list_snapshots(machine):
            if info.id == tag:
                return info
    raise SnapshotError(f"Snapshot '{tag}' does not exist in one or more devices")


# --- what is saved --------------------------------------------------------------------

def _memory_regions(machine) -> List[Tuple[str, Any]]:
    """Every RAM-like region of the system memory tree, once, with a unique name."""
    out: List[Tuple[str, Any]] = []
    seen = set()
    names: Dict[str, int] = {}

    def walk(region) -> None:
        if getattr(region, "alias", None) is None and getattr(region, "data", None) is not None \
                and id(region) not in seen:
            seen.add(id(region))
            n = names.get(region.name, 0)
            names[region.name] = n + 1
            out.append((region.name if n == 0 else f"{region.name}#{n}", region))
        for sub in region.subregions:
            walk(sub)
    walk(machine.system_memory)
    return out


def _disks(machine) -> List[Tuple[str, Any]]:
    out = []
    for drive in machine.drives:
        backend = drive.backend
        if backend is not None and not backend.readonly and not backend.closed:
            out.append((drive.id or f"{drive.interface}{drive.index}", backend))
    return out


def _objects(machine) -> List[Any]:
    return list(machine.walk())


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class _Blobs:
    def __init__(self):
        self.parts: List[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> List[int]:
        ref = [self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return ref

    def add_image(self, image: pages.PageImage) -> Dict[str, Any]:
        return {"runs": self.add(image.runs),
                "chunks": [[method, raw_len] + self.add(stored)
                           for method, raw_len, stored in image.chunks]}


def _capture(machine) -> Tuple[bytes, _Blobs, int]:
    """The header and blob area for the machine as it is now; also the VM state size."""
    blobs = _Blobs()
    objects = _objects(machine)
    state = {"clock": machine.clock.save_state(),
             "objects": {o.path: o.save_state() for o in objects if o.class_fields()}}
    raw = _json(state)
    header: Dict[str, Any] = {
        "format": FORMAT_VERSION,
        "machine": type(machine).NAME,
        "ram_size": machine.ram_size,
        "cpu_type": machine.cpu_type,
        "smp": machine.smp,
        "objects": [[o.path, o.TYPE] for o in objects],
        "state": {"raw_len": len(raw), "blob": blobs.add(zlib.compress(raw, 6))},
        "memory": [],
        "disks": [],
    }
    for name, region in _memory_regions(machine):
        entry = {"name": name, "size": region.size}
        entry.update(blobs.add_image(pages.encode(region.data, region.size)))
        header["memory"].append(entry)
    vm_size = blobs.size
    for name, backend in _disks(machine):
        entry = {"id": name, "size": backend.size}
        try:
            entry.update(blobs.add_image(pages.encode_reader(backend.read, backend.size)))
        except Exception as e:  # BlockError: one line
            raise SnapshotError(f"cannot read disk '{name}': {e}") from None
        header["disks"].append(entry)
    return _json(header), blobs, vm_size


# --- saving ---------------------------------------------------------------------------

@contextmanager
def _stopped(machine) -> Iterator[None]:
    """QEMU stops the VM around savevm/loadvm (STOP ... RESUME)."""
    was_running = machine.run_state == "running"
    if was_running:
        machine.pause()
    try:
        yield
    finally:
        if was_running and machine.run_state == "paused":
            machine.resume()


def _next_id(machine) -> int:
    ids = [int(s.id) for s in list_snapshots(machine) if s.id.isdigit()]
    return max(ids, default=0) + 1


def _remove_stale_temporaries(directory: str) -> None:
    """Delete the temporary files of saves whose process died before renaming them
    (``.TAG.pysnap.PID.tmp`` with no process PID left): a save killed part-way leaves
    one behind, and nothing else would ever remove it."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        parts = name.rsplit(".", 2)
        if not (name.startswith(".") and len(parts) == 3 and parts[2] == "tmp"
                and parts[0].endswith(SUFFIX) and parts[1].isdigit()):
            continue
        pid = int(parts[1])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue                    # its process still runs (it may be saving now)
        except ProcessLookupError:
            pass
        except OSError:
            continue                    # another user's process: leave its file alone
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _write_atomically(path: str, parts: List[bytes]) -> None:
    directory = os.path.dirname(path)
    _remove_stale_temporaries(directory)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                     0o644)
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        try:
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SnapshotError(f"cannot write snapshot '{path}': {e.strerror}") from None


def save(machine, tag: Optional[str] = None, *, now_ns: Optional[int] = None,
         snapshot_id: Optional[int] = None) -> SnapshotInfo:
    """Save the whole machine under ``tag`` (replacing a snapshot of that tag)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    if tag is None:
        tag = time.strftime("vm-%Y%m%d%H%M%S", time.localtime(now_ns // 1_000_000_000))
    _check_tag(tag)
    directory = store_dir(machine)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise SnapshotError(f"cannot create the snapshot directory '{directory}': "
                            f"{e.strerror}") from None
    with _stopped(machine):
        header, blobs, vm_size = _capture(machine)
        meta = _json({
            "tag": tag,
            "id": snapshot_id if snapshot_id is not None else _next_id(machine),
            "date_sec": now_ns // 1_000_000_000,
            "date_nsec": now_ns % 1_000_000_000,
            "vm_clock_ns": machine.clock.now(),
            "icount": machine.clock.icount,
            "vm_state_size": vm_size,
        })
        parts = [_HEAD.pack(MAGIC, FORMAT_VERSION, len(meta), zlib.crc32(meta)), meta,
                 _U32.pack(len(header)), header] + blobs.parts
        digest = hashlib.sha256()
        for part in parts:
            digest.update(part)
        parts.append(digest.digest())
        path = _file_for(directory, tag)
        _write_atomically(path, parts)
    return SnapshotInfo(json.loads(meta), path)


def delete(machine, tag: str) -> SnapshotInfo:
    info = _find(machine, tag)
    try:
        os.unlink(info.path)
    except OSError as e:
        raise SnapshotError(f"cannot delete snapshot '{tag}': {e.strerror}") from None
    return info


# --- reading and checking -------------------------------------------------------------

class _Snapshot:
    """A verified snapshot file: meta, header and the blob area."""

    def __init__(self, path: str, tag: str):
        self.tag = tag
        try:
            with _open_regular(path) as f:
                # mapped, not read: hashing and decompressing then touch each page once
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) \
                    if os.fstat(f.fileno()).st_size else b""
        except (OSError, ValueError, SnapshotError) as e:
            raise self.error(f"cannot be read: {getattr(e, 'strerror', None) or e}") from None
        if len(data) < _HEAD.size or data[:8] != MAGIC:
            raise self.error("is not a pysystem snapshot")
        _, version, meta_len, crc = _HEAD.unpack_from(data)
        if version != FORMAT_VERSION:
            raise self.error(f"has format version {version} (this pysystem reads "
                             f"{FORMAT_VERSION})")
        if len(data) < _HEAD.size + meta_len + _U32.size + _DIGEST:
            raise self.error("is truncated")
        digest = hashlib.sha256()
        for start in range(0, len(data) - _DIGEST, 1 << 24):
            digest.update(data[start:min(start + (1 << 24), len(data) - _DIGEST)])
        if digest.digest() != data[-_DIGEST:]:
            raise self.error("is damaged or truncated (checksum mismatch)")
        meta = data[_HEAD.size:_HEAD.size + meta_len]
        pos = _HEAD.size + meta_len
        (header_len,) = _U32.unpack_from(data, pos)
        pos += _U32.size
        if zlib.crc32(meta) != crc or pos + header_len > len(data) - _DIGEST:
            raise self.error("is damaged (bad layout)")
        try:
            self.meta = json.loads(meta)
            self.header = json.loads(data[pos:pos + header_len])
        except ValueError:
            raise self.error("is damaged (unreadable header)") from None
        self.blob_base = pos + header_len
        self.blob_end = len(data) - _DIGEST
        self.data = data

    def error(self, text: str) -> SnapshotError:
        return SnapshotError(f"snapshot '{self.tag}' {text}")

    def blob(self, ref: Any) -> bytes:
        start, n = self.span(ref)
        return self.data[start:start + n]

    def span(self, ref: Any) -> Tuple[int, int]:
        """Check a blob reference without reading the blob: (start, length) in the file."""
        if not (isinstance(ref, list) and len(ref) == 2 and all(_is_uint(v) for v in ref)):
            raise self.error("is damaged (bad blob reference)")
        start = self.blob_base + ref[0]
        if start + ref[1] > self.blob_end:
            raise self.error("is damaged (blob outside the file)")
        return start, ref[1]

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()


def _is_uint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class _Image:
    """One checked page image (a memory region or a disk) ready to apply."""

    def __init__(self, snap: _Snapshot, entry: Dict[str, Any], size: int, what: str):
        chunks = entry.get("chunks")
        if not isinstance(chunks, list) or not all(
                isinstance(c, list) and len(c) == 4 and c[0] in ("zlib", "raw") and _is_uint(c[1])
                for c in chunks):
            raise snap.error(f"is damaged ({what}: bad chunk list)")
        self.blobs = [(c[0], c[1], snap.span(c[2:])) for c in chunks]
        try:
            self.runs = pages.check(bytes(snap.blob(entry.get("runs"))), [c[1] for c in chunks],
                                    size)
        except ValueError as e:
            raise snap.error(f"is damaged ({what}: {e})") from None
        self.size = size
        self.snap, self.what = snap, what

    def chunks(self) -> Iterator[bytes]:
        data = self.snap.data
        items = ((method, raw_len, data[start:start + n])
                 for method, raw_len, (start, n) in self.blobs)
        try:
            yield from pages.decompress_all(items)
        except ValueError as e:
            raise self.snap.error(f"is damaged ({self.what}: {e})") from None


def _validate_fields(obj, data: Any) -> Optional[str]:
    """Why ``data`` cannot be loaded into ``obj`` (None: it can); changes nothing."""
    fields = obj.class_fields()
    try:
        data = type(obj).upgrade_state(data)
    except Exception as e:  # QOMError: a one-line reason
        return "its fields differ" if "does not match" in str(e) else str(e)
    for f in fields:
        try:
            f.from_data(data[f.name], None)
        except Exception as e:  # QOMError: a one-line reason
            return str(e)
    return None


def _size_text(n: int) -> str:
    from .block import size_to_str
    return size_to_str(n)


def _plan(machine, snap: _Snapshot):
    """Check everything against this machine; return what to apply."""
    try:
        return _check(machine, snap)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError, OverflowError):
        raise snap.error("is damaged (malformed header)") from None


def _check(machine, snap: _Snapshot):
    h = snap.header
    if not isinstance(h, dict):
        raise snap.error("is damaged (bad header)")
    board = type(machine).NAME
    if h.get("machine") != board:
        raise snap.error(f"was saved on machine '{h.get('machine')}', this is '{board}'")
    if h.get("ram_size") != machine.ram_size:
        size = h.get("ram_size")
        raise snap.error(f"has {_size_text(size) if _is_uint(size) else size} of RAM, "
                         f"this machine has {_size_text(machine.ram_size)}")
    if h.get("cpu_type") != machine.cpu_type or h.get("smp") != machine.smp:
        raise snap.error(f"was saved with {h.get('smp')} x '{h.get('cpu_type')}', this machine "
                         f"has {machine.smp} x '{machine.cpu_type}'")
    objects = _objects(machine)
    here = [[o.path, o.TYPE] for o in objects]
    saved = h.get("objects")
    if saved != here:
        if not isinstance(saved, list):
            raise snap.error("is damaged (bad object list)")
        saved_set = {tuple(x) for x in saved if isinstance(x, list)
                     and all(isinstance(v, str) for v in x)}
        here_set = {tuple(x) for x in here}
        extra = [x for x in here if tuple(x) not in saved_set]
        missing = [x for x in saved if isinstance(x, list) and len(x) == 2
                   and tuple(x) in saved_set and tuple(x) not in here_set]
        if extra:
            raise snap.error(f"does not match this machine: it has no {extra[0][0]} "
                             f"({extra[0][1]})")
        if missing:
            raise snap.error(f"does not match this machine: {missing[0][0]} "
                             f"({missing[0][1]}) is not here")
        raise snap.error("does not match this machine: its objects are in another order")
    # declared state
    st = h.get("state")
    if not isinstance(st, dict) or not _is_uint(st.get("raw_len")):
        raise snap.error("is damaged (bad state reference)")
    try:
        raw = zlib.decompress(snap.blob(st.get("blob")))
        state = json.loads(raw) if len(raw) == st["raw_len"] else None
    except (zlib.error, ValueError):
        state = None
    if not isinstance(state, dict) or not isinstance(state.get("objects"), dict):
        raise snap.error("is damaged (unreadable device state)")
    why = _validate_fields(machine.clock, state.get("clock"))
    if why:
        raise snap.error(f"does not fit this machine: clock: {why}")
    with_state = [o for o in objects if o.class_fields()]
    if set(state["objects"]) != {o.path for o in with_state}:
        raise snap.error("does not fit this machine: the objects with state differ")
    for o in with_state:
        why = _validate_fields(o, state["objects"][o.path])
        if why:
            raise snap.error(f"does not fit this machine: {o.path} ({o.TYPE}): {why}")
    # memory
    regions = _memory_regions(machine)
    mem = h.get("memory")
    if not isinstance(mem, list) or [(m.get("name"), m.get("size")) if isinstance(m, dict)
                                     else None for m in mem] != \
            [(name, r.size) for name, r in regions]:
        raise snap.error("does not match this machine's memory regions")
    images = [(r, _Image(snap, m, r.size, f"memory '{name}'"))
              for (name, r), m in zip(regions, mem)]
    # disks
    disks = _disks(machine)
    saved_disks = h.get("disks")
    if not isinstance(saved_disks, list) or not all(isinstance(d, dict) for d in saved_disks):
        raise snap.error("is damaged (bad disk list)")
    here_disks = dict(disks)
    disk_images = []
    for d in saved_disks:
        backend = here_disks.get(d.get("id"))
        if backend is None:
            raise snap.error(f"holds disk '{d.get('id')}', which this machine has not "
                             "(or only read-only)")
        if d.get("size") != backend.size:
            raise snap.error(f"holds disk '{d.get('id')}' of {d.get('size')} bytes, this "
                             f"machine's has {backend.size}")
        disk_images.append((backend, _Image(snap, d, backend.size, f"disk '{d.get('id')}'")))
    known = {d.get("id") for d in saved_disks}
    for name, _ in disks:
        if name not in known:
            raise snap.error(f"does not hold disk '{name}' of this machine")
    return state, objects, images, disk_images


def load(machine, tag: str) -> SnapshotInfo:
    """Restore the machine from ``tag``; nothing changes unless every check passes."""
    info = _find(machine, tag)
    snap = _Snapshot(info.path, tag)
    try:
        _restore(machine, snap)
    finally:
        snap.close()
    return info


def _restore(machine, snap: "_Snapshot") -> None:
    state, objects, images, disk_images = _plan(machine, snap)
    with _stopped(machine):
        for region, image in images:
            pages.apply_buffer(region.data, region.size, image.runs, image.chunks())
        for backend, image in disk_images:
            try:
                pages.apply_block(backend, backend.size, image.runs, image.chunks())
            except SnapshotError:
                raise
            except Exception as e:  # BlockError
                raise snap.error(f"could not restore a disk: {e}") from None
        machine.clock.load_state(state["clock"])
        for obj in objects:
            if obj.class_fields():
                obj.load_state(state["objects"][obj.path])
        for cpu in machine.cpus:
            cpu.exit_request = True


def state_digest(path: str) -> str:
    """SHA-256 of a snapshot file after its meta: equal for equal machine states."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _HEAD.size or data[:8] != MAGIC:
        raise SnapshotError(f"'{path}' is not a pysystem snapshot")
    _, _, meta_len, _ = _HEAD.unpack_from(data)
    return hashlib.sha256(data[_HEAD.size + meta_len:-_DIGEST]).hexdigest()

