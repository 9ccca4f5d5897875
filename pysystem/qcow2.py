"""qcow2 images, versions 2 and 3, behind the same interface as raw ones.

    image = Qcow2Image(path, fd, readonly, locking, open_image)   # block.open_image makes
    # these, and passes itself to open the backing file (so this module needs not import it)

Facts from QEMU's docs/interop/qcow2.txt (all fields big-endian):

* Header: magic "QFI\\xfb", version, backing file name (offset, length), cluster_bits
  (9..21), virtual size, encryption method, L1 table (entries, offset), refcount
  table (offset, clusters), internal snapshots (count, offset); version 3 adds the
  incompatible / compatible / autoclear feature bits, refcount_order (entries of
  1..64 bits; version 2 has 16) and the header length.  Header extensions follow
  the header: the backing file's format is used, the rest (feature names, bitmaps,
  unknown ones) skipped.
* Guest cluster ``c``: L1 entry ``c >> l2_bits`` holds an L2 table's offset (bits
  9-55; bit 63 "copied": refcount 1); that table's entry ``c & (l2_entries-1)`` holds
  the data cluster's offset (bits 9-55), bit 62 "compressed", bit 63 "copied" and,
  in version 3, bit 0 "reads as zeros".  No L2 table or offset 0: the cluster is
  unallocated and reads from the backing file (zeros without one or past its end).
* Refcounts: the refcount table holds the offsets of refcount blocks, each a cluster
  of ``2**refcount_order``-bit counts of the references to each host cluster.

What this module does with them:

* Reads follow L1 -> L2 -> data; writes to an allocated, unshared cluster go in
  place.  A write to an unallocated or zero cluster allocates a host cluster (at the
  first one with refcount 0, from the end of the file on), writes the whole cluster
  (the old contents, from the backing file or zeros, with the new data over them),
  then points the L2 entry at it, with "copied" set and the zero flag cleared.  A
  missing L2 table is allocated the same way, zero-filled, before its L1 entry.
* Refcounts are always consistent with the tables: a cluster's count is written
  before anything points at it, so a process killed at any moment leaves at worst a
  leaked cluster (``qemu-img check`` then says "leaked clusters", never an error).
  Refcount blocks are allocated where they describe themselves; a full refcount table
  is replaced by a bigger one at the end of the file, with refcount blocks covering
  its own clusters (QEMU's "refcount area"), and the old one freed.
* Every metadata and data write goes straight to the file (``os.pwrite``), so data
  and tables reach the file in that order; ``flush()`` (the guest's FLUSH, and every
  clean exit through ``close()``) fsyncs.  L1, L2 and refcount tables are cached in
  memory after their first read (L2 and refcount blocks as native arrays: 8 bytes per
  L2 entry, 12.5 MiB for a fully allocated 100 GiB image with 64 KiB clusters).
* Opening read-write clears the autoclear feature bits (bitmaps we do not keep up to
  date), as the qcow2 spec asks of programs that do not know them.

Refused, with one line: compressed clusters (found by scanning every L2 table when the
image is opened), encryption, external data files, extended L2 entries, unknown
incompatible features, a corrupt or dirty (lazy refcounts) image opened read-write,
internal snapshots in an image opened read-write (readonly=on and snapshot=on work).
Not done: discard, resizing, writing zero clusters as zero flags.
"""
from __future__ import annotations

import os
import struct
import sys
from array import array
from typing import Callable, Dict, List, Optional, Tuple, Union

from .block_backend import (BlockBackend, BlockError, HostFileBackend, SECTOR_SIZE, fsync,
                            pread_exact, pwrite_all, _forget)
from .block_lock import PERM_READ, PERM_RESIZE, PERM_WRITE

__all__ = ["Qcow2Image", "MAGIC"]

MAGIC = b"QFI\xfb"
_HEADER_V2 = struct.Struct(">4sIQIIQIIQQIIQ")       # 72 bytes
_HEADER_V3 = struct.Struct(">QQQII")                # at 72: features, refcount order, length
_EXT = struct.Struct(">II")
EXT_END = 0
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_DATA_FILE = 0x44415441

OFFSET_MASK = 0x00FFFFFFFFFFFE00
COPIED = 1 << 63
COMPRESSED = 1 << 62
ZERO = 1

INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION = 1 << 3
INCOMPAT_EXTL2 = 1 << 4
INCOMPAT_NAMES = {INCOMPAT_DATA_FILE: "External data file", INCOMPAT_EXTL2: "Extended L2 Entries"}

# header field offsets that this module rewrites
OFF_REFCOUNT_TABLE = 48     # u64 offset, then u32 clusters at 56
OFF_AUTOCLEAR = 88
MIN_CLUSTER_BITS, MAX_CLUSTER_BITS = 9, 21
MAX_L1_ENTRIES = (32 << 20) // 8        # QEMU's limits on the tables it reads
MAX_REFTABLE_BYTES = 8 << 20
_CODES = {8: "B", 16: "H", 32: "I", 64: "Q"}      # array type codes by entry width

Table = Union[array, List[int]]


def _be_array(code: str, raw: bytes) -> array:
    """Big-endian entries as a native array (8 bytes per L2 entry, not a Python int)."""
    table = array(code)
    table.frombytes(raw)
    if sys.byteorder == "little":
        table.byteswap()
    return table


def _be_bytes(table: array) -> bytes:
    if sys.byteorder == "little":
        table = array(table.typecode, table)
        table.byteswap()
    return table.tobytes()


def _combine(image: str, backing: str) -> str:
    """A backing file name as QEMU resolves it: relative to the image's directory."""
    if os.path.isabs(backing) or "/" not in image:
        return backing
    return os.path.join(os.path.dirname(image), backing)


class Qcow2Image(HostFileBackend):
    """One open qcow2 image; see the module docstring."""

    format = "qcow2"

    def __init__(self, path: str, fd: int, readonly: bool, locking: str,
                 open_image: Callable[..., BlockBackend]):
        self.fd = fd
        self.backing: Optional[BlockBackend] = None
        self._l2: Dict[int, array] = {}
        self._refblocks: Dict[int, Table] = {}
        super().__init__(path, 0, readonly)
        try:
            self._read_header()
            self._open_backing(locking, open_image)
            self._scan()
            if not readonly:
                self._prepare_write()
        except BlockError:
            if self.backing is not None:
                self.backing.close()
            raise

    # --- opening ------------------------------------------------------------------------
    def _pread(self, offset: int, n: int) -> bytes:
        return pread_exact(self.fd, offset, n, self.path)

    def _pwrite(self, offset: int, data) -> None:
        pwrite_all(self.fd, offset, data, self.path)

    def _error(self, text: str) -> BlockError:
        return BlockError(text)     # QEMU's words; the caller names the drive

    def _read_header(self) -> None:
        head = self._pread(0, 4096)
        (magic, version, backing_off, backing_len, cluster_bits, size, crypt, l1_size,
         l1_off, rt_off, rt_clusters, nb_snapshots, _snap_off) = _HEADER_V2.unpack_from(head)
        if magic != MAGIC:
            raise self._error("Image is not in qcow2 format")
        if version not in (2, 3):
            raise self._error(f"Unsupported qcow2 version {version}")
        if not MIN_CLUSTER_BITS <= cluster_bits <= MAX_CLUSTER_BITS:
            raise self._error(f"Unsupported cluster size: 2^{cluster_bits}")
        if crypt:
            name = {1: "AES-CBC", 2: "LUKS"}.get(crypt, f"method {crypt}")
            raise self._error(f"encrypted qcow2 images ({name}) are not supported; "
                              "convert it with 'qemu-img convert'")
        self.version = version
        self.cluster_bits = cluster_bits
        self.cluster_size = cs = 1 << cluster_bits
        if cs > len(head):
            head = self._pread(0, cs)
        incompat = compat = autoclear = 0
        refcount_order, header_len = 4, 72
        if version == 3:
            incompat, compat, autoclear, refcount_order, header_len = \
                _HEADER_V3.unpack_from(head, 72)
            if header_len < 104 or header_len > cs:
                raise self._error(f"qcow2 header length {header_len} is invalid")
            if refcount_order > 6:
                raise self._error(f"Refcount order {refcount_order} is too large")
        self.incompat, self.autoclear = incompat, autoclear
        unknown = incompat & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION)
        if unknown:
            names = [INCOMPAT_NAMES[b] for b in sorted(INCOMPAT_NAMES) if unknown & b]
            rest = unknown & ~sum(INCOMPAT_NAMES)
            if rest:
                names.append(f"Unknown incompatible feature: {rest:x}")
            raise self._error("Unsupported qcow2 feature(s): " + ", ".join(names))
        if not self.readonly and incompat & INCOMPAT_CORRUPT:
            raise BlockError("qcow2: Image is corrupt; cannot be opened read/write")
        if not self.readonly and incompat & INCOMPAT_DIRTY:
            raise self._error("the image was not closed cleanly (dirty, lazy refcounts); "
                              "repair it with 'qemu-img check -r all' first")
        if not self.readonly and nb_snapshots:
            raise self._error(f"has {nb_snapshots} internal snapshot(s): only readonly=on "
                              "or snapshot=on are supported for such images")
        self.refcount_bits = 1 << refcount_order
        self.size = -(-size // SECTOR_SIZE) * SECTOR_SIZE
        self.virtual_size = size
        self.l2_bits = cluster_bits - 3
        self.l2_entries = 1 << self.l2_bits
        needed = -(-size // (cs << self.l2_bits))
        if l1_size > MAX_L1_ENTRIES or rt_clusters * cs > MAX_REFTABLE_BYTES:
            raise self._error("Image is too big (L1 or refcount table too large)")
        if l1_size < needed:
            raise self._error("L1 table is too small")
        if l1_off % cs or (l1_size and l1_off == 0):
            raise self._error("L1 table offset invalid")
        if rt_off % cs or rt_off == 0:
            raise self._error("Refcount table offset invalid")
        self.l1_offset = l1_off
        self.l1 = list(struct.unpack(f">{l1_size}Q", self._pread(l1_off, 8 * l1_size)))
        self.rt_offset, self.rt_clusters = rt_off, rt_clusters
        n = rt_clusters * cs // 8
        self.rtable = list(struct.unpack(f">{n}Q", self._pread(rt_off, 8 * n)))
        # header extensions: the backing file's format; the others are skipped
        self.backing_format: Optional[str] = None
        pos = header_len if version == 3 else 72
        while pos + 8 <= cs:
            kind, length = _EXT.unpack_from(head, pos)
            if kind == EXT_END:
                break
            data = head[pos + 8:pos + 8 + length]
            if kind == EXT_BACKING_FORMAT:
                self.backing_format = data.decode("utf-8", "replace")
            pos += 8 + (length + 7) // 8 * 8
        self.backing_name: Optional[str] = None
        if backing_off:
            if backing_len > 1023 or backing_off + backing_len > cs:
                raise self._error("Backing file name too long")
            self.backing_name = self._pread(backing_off, backing_len).decode("utf-8", "replace")

    def _open_backing(self, locking: str, open_image: Callable[..., BlockBackend]) -> None:
        if not self.backing_name:
            return
        name = _combine(self.path, self.backing_name)
        fmt = self.backing_format or None
        try:
            self.backing = open_image(name, False, fmt, PERM_READ, PERM_WRITE | PERM_RESIZE,
                                      locking)
        except BlockError as e:
            raise BlockError(f"Could not open backing file: {e}", hint=e.hint) from None
        _forget(self.backing)       # closed with this image

    def _check_offset(self, offset: int, what: str) -> None:
        if offset % self.cluster_size:
            raise self._error(f"{what} offset {offset:#x} is not cluster-aligned "
                              "(image corrupt?)")

    def _check_data_cluster(self, host: int) -> None:
        """A cluster about to be written as data must not be metadata (QEMU's overlap
        check): a corrupt table or refcount is refused instead of spreading."""
        cs = self.cluster_size
        self._check_offset(host, "data cluster")
        if (host == 0 or host in self._l2 or host in self._refblocks
                or self.l1_offset <= host < self.l1_offset + 8 * len(self.l1)
                or self.rt_offset <= host < self.rt_offset + self.rt_clusters * cs):
            raise self._error(f"image corrupt: cluster {host:#x} is both data and metadata")

    def _scan(self) -> None:
        """Every L2 table once: refuse compressed clusters now, not in the middle of a run.
        (Bit 62 is bit 6 of each entry's first byte; the tables are not kept.)"""
        drop = bytes(b for b in range(256) if not b & 0x40)
        for entry in self.l1:
            l2_off = entry & OFFSET_MASK
            if not l2_off:
                continue
            self._check_offset(l2_off, "L2 table")
            if self._pread(l2_off, self.cluster_size)[::8].translate(None, drop):
                raise self._error("compressed clusters are not supported; "
                                  "uncompress it with 'qemu-img convert -O qcow2'")

    def _prepare_write(self) -> None:
        if self.autoclear:
            self._pwrite(OFF_AUTOCLEAR, bytes(8))
            self.autoclear = 0
        st = os.fstat(self.fd)
        self._free_hint = -(-st.st_size // self.cluster_size)

    # --- tables ----------------------------------------------------------------------------
    def _table(self, l2_off: int) -> array:
        table = self._l2.get(l2_off)
        if table is None:
            self._check_offset(l2_off, "L2 table")
            table = _be_array("Q", self._pread(l2_off, self.cluster_size))
            self._l2[l2_off] = table
        return table

    def _lookup(self, cluster: int) -> int:
        """The L2 entry of guest cluster ``cluster`` (0 without an L2 table)."""
        l2_off = self.l1[cluster >> self.l2_bits] & OFFSET_MASK
        if not l2_off:
            return 0
        return self._table(l2_off)[cluster & (self.l2_entries - 1)]

    # --- refcounts ----------------------------------------------------------------------------
    def _per_block(self) -> int:
        return self.cluster_size * 8 // self.refcount_bits

    def _refblock(self, off: int) -> Table:
        block = self._refblocks.get(off)
        if block is None:
            self._check_offset(off, "refcount block")
            raw = self._pread(off, self.cluster_size)
            bits = self.refcount_bits
            if bits >= 8:
                block = _be_array(_CODES[bits], raw)
            else:
                per_byte, mask = 8 // bits, (1 << bits) - 1
                block = [raw[i // per_byte] >> (bits * (i % per_byte)) & mask
                         for i in range(self._per_block())]
            self._refblocks[off] = block
        return block

    def _refcount(self, cluster: int) -> int:
        index = cluster // self._per_block()
        if index >= len(self.rtable) or not self.rtable[index] & OFFSET_MASK:
            return 0
        return self._refblock(self.rtable[index] & OFFSET_MASK)[cluster % self._per_block()]

    def _store_refcount(self, block_off: int, block: Table, i: int, value: int) -> None:
        block[i] = value
        bits = self.refcount_bits
        if bits >= 8:
            width = bits // 8
            self._pwrite(block_off + i * width, value.to_bytes(width, "big"))
        else:
            per_byte = 8 // bits
            first = i - i % per_byte
            byte = 0
            for k in range(per_byte):
                byte |= block[first + k] << (bits * k)
            self._pwrite(block_off + first // per_byte, bytes((byte,)))

    def _set_refcount(self, cluster: int, value: int) -> None:
        index = cluster // self._per_block()
        off = self.rtable[index] & OFFSET_MASK
        self._store_refcount(off, self._refblock(off), cluster % self._per_block(), value)

    def _alloc_cluster(self) -> int:
        """A free host cluster, its refcount already 1; returns its offset."""
        pb = self._per_block()
        while True:
            c = self._free_hint
            while self._refcount(c):
                c += 1
            self._free_hint = c + 1
            index = c // pb
            if index >= len(self.rtable):
                self._grow_refcount_table(index)
                continue
            if not self.rtable[index] & OFFSET_MASK:
                # a new refcount block at c, counting itself
                block = self._new_refblock()
                block[c % pb] = 1
                self._write_refblock(c * self.cluster_size, block)
                self._pwrite(self.rt_offset + 8 * index, (c * self.cluster_size).to_bytes(8, "big"))
                self.rtable[index] = c * self.cluster_size
                continue
            self._set_refcount(c, 1)
            return c * self.cluster_size

    def _new_refblock(self) -> Table:
        if self.refcount_bits >= 8:
            return array(_CODES[self.refcount_bits], bytes(self.cluster_size))
        return [0] * self._per_block()

    def _write_refblock(self, off: int, block: Table) -> None:
        bits = self.refcount_bits
        if bits >= 8:
            raw = _be_bytes(block)
        else:
            per_byte = 8 // bits
            raw = bytes(sum(block[j + k] << (bits * k) for k in range(per_byte))
                        for j in range(0, len(block), per_byte))
        self._pwrite(off, raw)
        self._refblocks[off] = block

    def _grow_refcount_table(self, need_index: int) -> None:
        """A bigger refcount table at the end of the file, with the refcount blocks that
        count its own clusters (QEMU's refcount area), then the header, then free the old."""
        cs, pb = self.cluster_size, self._per_block()
        start = max(self._free_hint, -(-os.fstat(self.fd).st_size // cs))
        table = list(self.rtable)
        blocks = 0
        while True:     # as many new blocks as the area (blocks + table) needs: a fixpoint
            entries = max(need_index + 1, 2 * len(self.rtable))
            while True:
                table_clusters = -(-entries * 8 // cs)
                end = start + blocks + table_clusters
                if entries >= -(-end // pb):
                    break
                entries = -(-end // pb)
            missing = [i for i in range(start // pb, (end - 1) // pb + 1)
                       if i >= len(table) or not table[i] & OFFSET_MASK]
            if len(missing) == blocks:
                break
            blocks = len(missing)
        table += [0] * (table_clusters * cs // 8 - len(table))
        for k, index in enumerate(missing):
            table[index] = (start + k) * cs
        # the new blocks count every cluster of the area that falls in their range
        for index in missing:
            block = self._new_refblock()
            for c in range(max(start, index * pb), min(end, (index + 1) * pb)):
                block[c % pb] = 1
            self._write_refblock(table[index], block)
        table_off = (start + blocks) * cs
        self._pwrite(table_off, struct.pack(f">{len(table)}Q", *table))
        # clusters of the area counted in blocks that existed already
        for c in range(start, end):
            index = c // pb
            if index not in missing:
                off = table[index] & OFFSET_MASK
                self._store_refcount(off, self._refblock(off), c % pb, 1)
        fsync(self.fd, self.path)       # the new table is complete before the header names it
        old_off, old_clusters = self.rt_offset, self.rt_clusters
        self._pwrite(OFF_REFCOUNT_TABLE, struct.pack(">QI", table_off, table_clusters))
        self.rtable, self.rt_offset, self.rt_clusters = table, table_off, table_clusters
        self._free_hint = max(self._free_hint, end)
        for c in range(old_off // cs, old_off // cs + old_clusters):
            self._set_refcount(c, self._refcount(c) - 1)

    # --- I/O ------------------------------------------------------------------------------------
    def _read_cluster_part(self, cluster: int, start: int, n: int) -> bytes:
        entry = self._lookup(cluster)
        if entry & COMPRESSED:
            raise self._error("compressed clusters are not supported")
        host = entry & OFFSET_MASK
        if self.version >= 3 and entry & ZERO:
            return bytes(n)
        if host:
            return self._pread(host + start, n)
        pos = (cluster << self.cluster_bits) + start
        if self.backing is None or pos >= self.backing.size:
            return bytes(n)
        k = min(n, self.backing.size - pos)
        return self.backing.read(pos, k) + bytes(n - k)

    def read(self, offset: int, n: int) -> bytes:
        self.check(offset, n)
        out = bytearray()
        cs = self.cluster_size
        while n > 0:
            start = offset & (cs - 1)
            k = min(n, cs - start)
            out += self._read_cluster_part(offset >> self.cluster_bits, start, k)
            offset += k
            n -= k
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        n = len(data)
        self.check_write(offset, n)
        view = memoryview(bytes(data))
        cs = self.cluster_size
        done = 0
        while done < n:
            start = (offset + done) & (cs - 1)
            k = min(n - done, cs - start)
            self._write_cluster_part((offset + done) >> self.cluster_bits, start, view[done:done + k])
            done += k

    def _l2_for_write(self, cluster: int) -> Tuple[int, array]:
        """The L2 table for ``cluster``, allocated (zero-filled) if there is none."""
        l1_index = cluster >> self.l2_bits
        l2_off = self.l1[l1_index] & OFFSET_MASK
        if l2_off:
            return l2_off, self._table(l2_off)
        l2_off = self._alloc_cluster()
        self._check_data_cluster(l2_off)    # free by its refcount: must not be metadata
        self._pwrite(l2_off, bytes(self.cluster_size))
        self._l2[l2_off] = array("Q", bytes(self.cluster_size))
        entry = l2_off | COPIED
        self._pwrite(self.l1_offset + 8 * l1_index, entry.to_bytes(8, "big"))
        self.l1[l1_index] = entry
        return l2_off, self._l2[l2_off]

    def _write_cluster_part(self, cluster: int, start: int, data: memoryview) -> None:
        entry = self._lookup(cluster)
        host = entry & OFFSET_MASK
        zero = self.version >= 3 and entry & ZERO
        if host and entry & COPIED and not zero:
            self._check_data_cluster(host)
            self._pwrite(host + start, data)
            return
        if entry & COMPRESSED:
            raise self._error("compressed clusters are not supported")
        cs = self.cluster_size
        if len(data) == cs:
            whole = bytes(data)
        else:
            old = bytearray(self._read_cluster_part(cluster, 0, cs))
            old[start:start + len(data)] = data
            whole = bytes(old)
        l2_off, table = self._l2_for_write(cluster)
        shared = 0
        if not (host and entry & COPIED):       # a preallocated zero cluster is reused
            shared, host = host, self._alloc_cluster()
        self._check_data_cluster(host)
        self._pwrite(host, whole)
        new = host | COPIED
        index = cluster & (self.l2_entries - 1)
        self._pwrite(l2_off + 8 * index, new.to_bytes(8, "big"))
        table[index] = new
        if shared:      # a cluster we no longer point at loses our reference
            c = shared >> self.cluster_bits
            self._set_refcount(c, max(0, self._refcount(c) - 1))

    def close(self) -> None:
        if self.fd is None:
            return
        try:
            super().close()
        finally:
            if self.backing is not None:
                self.backing.close()
