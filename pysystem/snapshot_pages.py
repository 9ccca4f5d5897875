"""Page images for snapshots: RAM regions and disks as non-zero pages, compressed.

    image = encode(buf, size)             # buf: bytearray or mmap (RAM, flash)
    image = encode_reader(read, size)     # read(offset, n) -> bytes (a block backend)
    image.runs    -> bytes    little-endian u32 pairs (first page, page count) of non-zero pages
    image.chunks  -> [(method, raw_len, stored bytes)]   the non-zero pages, in order
    check(runs, raw_lens, size) -> [(first, count)]      ValueError if they do not fit ``size``
    apply_buffer(buf, size, runs, chunks)               # restore RAM in place
    apply_block(backend, size, runs, chunks)            # restore a disk; writes only what differs
    decompress(method, raw_len, stored) -> bytes         # ValueError if damaged
    decompress_all(items) -> iterator of bytes          # the same on worker threads, in order

A page is ``PAGE`` (4 KiB) bytes; the last page of an image may be shorter.  Zero
pages cost nothing: they are not stored, only implied by the gaps between runs.
The non-zero pages, concatenated, are cut into ``CHUNK`` (1 MiB) pieces, each
stored with zlib at level 1, or raw when zlib does not make it smaller (or its
first 16 KiB do not compress: random-looking data costs no compression time).
Compression and decompression run on ``THREADS`` worker threads (zlib releases
the GIL).  The same content always gives the same bytes.  ``chunks`` passed to the apply functions is
an iterable of decompressed pieces, in order (the caller decompresses, so that it
can verify everything before the first byte of the machine changes).
"""
from __future__ import annotations

import collections
import itertools
import mmap
import struct
import zlib
from typing import Callable, Deque, Iterable, Iterator, List, NamedTuple, Tuple

PAGE = 4096
CHUNK = 1 << 20
_SCAN = 1 << 16                  # zero check granularity before going page by page
_ZERO_SCAN = bytes(_SCAN)
_ZERO_PAGE = bytes(PAGE)
_ZERO_CHUNK_VIEW = memoryview(bytes(CHUNK))
LEVEL = 1
_SAMPLE = 16384                  # a chunk whose first 16 KiB do not compress is stored raw
THREADS = 2                      # (de)compression threads
WINDOW = 8                       # chunks in flight


class PageImage(NamedTuple):
    runs: bytes
    chunks: List[Tuple[str, int, bytes]]
    nonzero_bytes: int


def _pack_runs(runs: List[Tuple[int, int]]) -> bytes:
    return struct.pack(f"<{2 * len(runs)}I", *[v for run in runs for v in run])


def unpack_runs(blob: bytes) -> List[Tuple[int, int]]:
    if len(blob) % 8:
        raise ValueError("page runs are truncated")
    values = struct.unpack(f"<{len(blob) // 4}I", blob)
    return list(zip(values[0::2], values[1::2]))


def _zero_checker(buf) -> Callable[[int, int], bool]:
    """is_zero(offset, n) for a bytearray (no copy) or anything that slices (mmap)."""
    if hasattr(buf, "startswith"):
        def is_zero(off: int, n: int) -> bool:
            zero = _ZERO_SCAN if n == _SCAN else (_ZERO_PAGE if n == PAGE else bytes(n))
            return buf.startswith(zero, off)
    else:
        def is_zero(off: int, n: int) -> bool:
            zero = _ZERO_SCAN if n == _SCAN else (_ZERO_PAGE if n == PAGE else bytes(n))
            return buf[off:off + n] == zero
    return is_zero


def _nonzero_runs(is_zero: Callable[[int, int], bool], base: int, size: int,
                  runs: List[Tuple[int, int]]) -> None:
    """Append the runs of non-zero pages of ``[base, base + size)`` (page aligned base)."""
    off = base
    end = base + size
    while off < end:
        n = min(_SCAN, end - off)
        if is_zero(off, n):
            off += n
            continue
        for p in range(off, off + n, PAGE):
            if not is_zero(p, min(PAGE, off + n - p)):
                page = p // PAGE
                if runs and runs[-1][0] + runs[-1][1] == page:
                    runs[-1] = (runs[-1][0], runs[-1][1] + 1)
                else:
                    runs.append((page, 1))
        off += n


class _Chunker:
    """Cuts the non-zero pages into chunks and compresses them on worker threads (zlib
    releases the GIL), keeping at most ``WINDOW`` chunks in flight."""

    def __init__(self, pool: "_Pool"):
        self.pending = bytearray()
        self.futures: Deque = collections.deque()
        self.chunks: List[Tuple[str, int, bytes]] = []
        self.total = 0
        self.pool = pool

    def add(self, data) -> None:
        self.total += len(data)
        self.pending += data
        while len(self.pending) >= CHUNK:
            self._emit(bytes(self.pending[:CHUNK]))
            del self.pending[:CHUNK]

    def _emit(self, raw: bytes) -> None:
        self.futures.append(self.pool.submit(_pack, raw))
        while len(self.futures) > WINDOW:
            self.chunks.append(self.futures.popleft().result())

    def finish(self) -> List[Tuple[str, int, bytes]]:
        if self.pending:
            self._emit(bytes(self.pending))
            self.pending = bytearray()
        while self.futures:
            self.chunks.append(self.futures.popleft().result())
        return self.chunks


def _pack(raw: bytes) -> Tuple[str, int, bytes]:
    if len(raw) > 2 * _SAMPLE and len(zlib.compress(raw[:_SAMPLE], LEVEL)) > _SAMPLE * 0.97:
        return ("raw", len(raw), raw)       # random-looking: not worth the time
    packed = zlib.compress(raw, LEVEL)
    if len(packed) < len(raw):
        return ("zlib", len(raw), packed)
    return ("raw", len(raw), raw)


class _Pool:
    """A small thread pool for (de)compression, made on first use."""

    _executor = None

    def submit(self, fn, *args):
        if _Pool._executor is None:
            from concurrent.futures import ThreadPoolExecutor
            _Pool._executor = ThreadPoolExecutor(max_workers=THREADS,
                                                 thread_name_prefix="snapshot-zlib")
        return _Pool._executor.submit(fn, *args)


POOL = _Pool()


def decompress_all(items: Iterable[Tuple[str, int, bytes]]) -> Iterator[bytes]:
    """``decompress`` over ``items`` on worker threads, in order, ``WINDOW`` ahead."""
    it = iter(items)
    futures: Deque = collections.deque(POOL.submit(decompress, *item)
                                       for item in itertools.islice(it, WINDOW))
    while futures:
        fut = futures.popleft()
        item = next(it, None)
        if item is not None:
            futures.append(POOL.submit(decompress, *item))
        yield fut.result()


def encode(buf, size: int) -> PageImage:
    """The image of the first ``size`` bytes of ``buf`` (a bytearray or an mmap)."""
    runs: List[Tuple[int, int]] = []
    _nonzero_runs(_zero_checker(buf), 0, size, runs)
    chunker = _Chunker(POOL)
    for first, count in runs:
        start = first * PAGE
        chunker.add(buf[start:min(size, start + count * PAGE)])
    return PageImage(_pack_runs(runs), chunker.finish(), chunker.total)


def encode_reader(read: Callable[[int, int], bytes], size: int) -> PageImage:
    """The image of ``size`` bytes read through ``read(offset, n)`` (a disk)."""
    runs: List[Tuple[int, int]] = []
    chunker = _Chunker(POOL)
    for base in range(0, size, CHUNK):
        window = read(base, min(CHUNK, size - base))
        local: List[Tuple[int, int]] = []
        _nonzero_runs(_zero_checker(window), 0, len(window), local)
        for first, count in local:
            start = first * PAGE
            chunker.add(window[start:start + count * PAGE])
            page = base // PAGE + first
            if runs and runs[-1][0] + runs[-1][1] == page:
                runs[-1] = (runs[-1][0], runs[-1][1] + count)
            else:
                runs.append((page, count))
    return PageImage(_pack_runs(runs), chunker.finish(), chunker.total)


def check(runs_blob: bytes, raw_lens: List[int], size: int) -> List[Tuple[int, int]]:
    """Validate runs and chunk sizes against an image of ``size`` bytes; return the runs."""
    runs = unpack_runs(runs_blob)
    pages = -(-size // PAGE)
    last_end = -1
    total = 0
    for first, count in runs:
        if count <= 0 or first <= last_end or first + count > pages:
            raise ValueError("page runs are out of order or out of range")
        last_end = first + count - 1
        total += min(size, (first + count) * PAGE) - first * PAGE
    for i, n in enumerate(raw_lens):
        if n <= 0 or n > CHUNK or (n != CHUNK and i != len(raw_lens) - 1):
            raise ValueError("page chunks have bad sizes")
    if sum(raw_lens) != total:
        raise ValueError("page data does not match the page runs")
    return runs


def _pieces(runs: List[Tuple[int, int]], size: int,
            chunks: Iterable[bytes]) -> Iterator[Tuple[int, int, object]]:
    """(offset, length, data or None for zeros) covering ``[0, size)`` in order."""
    it = iter(chunks)
    cur = memoryview(b"")
    pos = 0
    off = 0
    for first, count in runs:
        start = first * PAGE
        end = min(size, (first + count) * PAGE)
        if start > off:
            yield off, start - off, None
        off = start
        while off < end:
            if pos == len(cur):
                cur = memoryview(next(it))
                pos = 0
            n = min(end - off, len(cur) - pos)
            yield off, n, cur[pos:pos + n]
            pos += n
            off += n
    if off < size:
        yield off, size - off, None


def apply_buffer(buf, size: int, runs: List[Tuple[int, int]], chunks: Iterable[bytes]) -> None:
    """Make ``buf[:size]`` the image, in place (the buffer object stays the same).

    Pages that must be zero are only written when they are not zero already; in a
    private anonymous mapping (RAM, flash) they are handed back to the kernel first, so
    that they read zero without holding memory."""
    is_zero = _zero_checker(buf)
    plain = isinstance(buf, bytearray)        # PyPy's mmap takes only bytes
    for off, n, data in _pieces(runs, size, chunks):
        if data is not None:
            buf[off:off + n] = data if plain else bytes(data)
            continue
        end = off + n
        if not plain:
            _discard(buf, off, end)
        while off < end:
            k = min(_SCAN, end - off)
            if not is_zero(off, k):
                buf[off:off + k] = _ZERO_SCAN if k == _SCAN else bytes(k)
            off += k


def _discard(buf, off: int, end: int) -> None:
    """Hand the whole host pages of ``[off, end)`` of an mmap back to the kernel
    (MADV_DONTNEED), as far as it allows.  A private anonymous mapping (RAM, flash: see
    memory.anonymous_buffer) then reads zero there without holding memory; a shared one
    keeps its contents, so the caller still checks the range and zeroes what is not.
    (MADV_REMOVE is not tried: PyPy 3.9 reports its refusal on a private mapping with an
    RPython traceback on stderr.)"""
    page = mmap.PAGESIZE
    first = -(-off // page) * page
    last = end // page * page
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None or last - first < page or not hasattr(buf, "madvise"):
        return
    try:
        buf.madvise(advice, first, last - first)
    except (OSError, ValueError, SystemError):   # PyPy 3.9 raises SystemError
        pass


def apply_block(backend, size: int, runs: List[Tuple[int, int]], chunks: Iterable[bytes]) -> int:
    """Make the disk the image, writing only the pieces that differ; returns bytes written."""
    written = 0
    for base, n, data in _pieces(runs, size, chunks):
        for rel in range(0, n, CHUNK):
            k = min(CHUNK, n - rel)
            want = bytes(_ZERO_CHUNK_VIEW[:k] if data is None else data[rel:rel + k])
            if backend.read(base + rel, k) != want:
                backend.write(base + rel, want)
                written += k
    return written


def decompress(method: str, raw_len: int, stored: bytes) -> bytes:
    """One chunk back to its raw bytes; ValueError if it is damaged."""
    if method == "raw":
        out = bytes(stored)
    elif method == "zlib":
        try:
            out = zlib.decompress(stored)
        except zlib.error:
            raise ValueError("a compressed chunk is damaged") from None
    else:
        raise ValueError(f"unknown chunk method '{method}'")
    if len(out) != raw_len:
        raise ValueError("a chunk has the wrong size")
    return out

