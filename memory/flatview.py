"""Flattening a region tree into sorted, non-overlapping ranges (QEMU's FlatView).

``flatten(root)`` renders the tree as QEMU's render_memory_region does: a
region's subregions are rendered in priority order (the first one rendered at
an address wins), then a region that answers accesses itself fills the gaps
left in its clipped window; aliases render their target shifted; disabled
regions are skipped.  Adjacent ranges of one region with contiguous offsets are
merged.  ``flatview_root`` finds the region QEMU shows as a view's root.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import List, Optional, Set, Tuple

from .region import MemoryRegion

__all__ = ["FlatRange", "flatten", "flatview_root"]


class FlatRange:
    """``[start, end)`` of an address space answered by ``region`` from ``offset_in_region``.

    ``data`` is the buffer guest reads come from directly (RAM, ROM, a ROM
    device in ROMD mode; else None); the byte at address ``a`` of the range is
    ``data[a - start + offset_in_region]``.  ``writable``: guest writes may go
    to ``data`` directly (RAM only).  ``readonly``: guest writes are dropped.
    ``backing``: the region's buffer whatever the mode (loaders write it).
    """

    __slots__ = ("start", "end", "region", "offset_in_region", "priority", "readonly", "data",
                 "writable", "backing")

    def __init__(self, start: int, end: int, region: MemoryRegion, offset_in_region: int,
                 readonly: bool):
        self.start = start
        self.end = end
        self.region = region
        self.offset_in_region = offset_in_region
        self.priority = region.priority
        self.readonly = readonly
        self.backing = getattr(region, "data", None)
        romd = getattr(region, "romd_mode", None)
        self.data = self.backing if romd is None or romd else None
        self.writable = self.data is not None and romd is None and not readonly

    @property
    def size(self) -> int:
        return self.end - self.start

    def __repr__(self) -> str:
        return (f"<FlatRange 0x{self.start:x}-0x{self.end - 1:x} {self.region.name!r}"
                f" @0x{self.offset_in_region:x}{' ro' if self.readonly else ''}>")


class _Renderer:
    def __init__(self) -> None:
        self.ranges: List[FlatRange] = []   # sorted by start, non-overlapping
        self.starts: List[int] = []
        self.seen: Set[MemoryRegion] = set()

    def render(self, mr: MemoryRegion, base: int, lo: int, hi: int, readonly: bool) -> None:
        self.seen.add(mr)
        if not mr.enabled:
            return
        start = base + mr.addr
        lo = max(lo, start)
        hi = min(hi, start + mr.size)
        if lo >= hi:
            return
        if mr.alias is not None:
            target = mr.alias
            self.render(target, start - mr.alias_offset - target.addr, lo, hi, readonly)
            return
        readonly = readonly or mr.readonly
        for sub in mr.subregions:
            self.render(sub, start, lo, hi, readonly)
        if mr.terminates:
            self.fill(mr, start, lo, hi, readonly)

    def fill(self, mr: MemoryRegion, start: int, lo: int, hi: int, readonly: bool) -> None:
        """Insert ``mr`` into every gap of ``[lo, hi)`` not already covered."""
        ranges, starts = self.ranges, self.starts
        i = bisect_left(starts, lo)
        if i > 0 and ranges[i - 1].end > lo:
            i -= 1
        pos = lo
        new: List[Tuple[int, FlatRange]] = []
        while pos < hi:
            if i < len(ranges) and ranges[i].start <= pos:
                pos = max(pos, ranges[i].end)
                i += 1
                continue
            gap_end = hi if i >= len(ranges) else min(hi, ranges[i].start)
            new.append((i, FlatRange(pos, gap_end, mr, pos - start, readonly)))
            pos = gap_end
        for k, (idx, fr) in enumerate(new):
            ranges.insert(idx + k, fr)
            starts.insert(idx + k, fr.start)


def _simplify(ranges: List[FlatRange]) -> List[FlatRange]:
    out: List[FlatRange] = []
    for fr in ranges:
        if out:
            last = out[-1]
            if (last.region is fr.region and last.end == fr.start and last.readonly == fr.readonly
                    and last.offset_in_region + last.size == fr.offset_in_region):
                last.end = fr.end
                continue
        out.append(fr)
    return out


def flatten(root: MemoryRegion) -> Tuple[List[FlatRange], Set[MemoryRegion]]:
    """The flat view of ``root`` and every region the rendering looked at.

    As in QEMU, the root is rendered at its own ``addr`` (normally 0).
    """
    r = _Renderer()
    r.render(root, 0, 0, 1 << 64, False)
    return _simplify(r.ranges), r.seen


def flatview_root(mr: Optional[MemoryRegion]) -> Optional[MemoryRegion]:
    """The region QEMU names as a flat view's root (it skips whole-covering aliases and only children)."""
    while mr is not None and mr.enabled:
        if mr.alias is not None:
            if not mr.alias_offset and mr.size >= mr.alias.size:
                mr = mr.alias
                continue
        elif not mr.terminates:
            found = 0
            nxt = None
            for child in mr.subregions:
                if child.enabled:
                    found += 1
                    if found > 1:
                        nxt = None
                        break
                    if not child.addr and mr.size >= child.size:
                        nxt = child
            if found == 0:
                return None
            if nxt is not None:
                mr = nxt
                continue
        return mr
    return None
