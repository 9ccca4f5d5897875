"""``info mtree`` and ``info mtree -f`` text, in QEMU 7.2's format.

``mtree_text(spaces, flatview=False, disabled=False)``: ``spaces`` is a list of
AddressSpace (default: every live one, in creation order).  The tree view
prints each group of address spaces that share a root region (names sorted, as
QEMU does) followed by the tree, then a ``memory-region:`` section for every
region an alias points at.  The flat view prints one ``FlatView #n`` per
distinct flat-view root.  QEMU orders the groups by a hash table; we keep the
order the spaces were given in.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from .address_space import AddressSpace, address_spaces
from .flatview import flatten, flatview_root
from .region import MemoryRegion

__all__ = ["mtree_text"]

_INDENT = "  "
_MASK = (1 << 64) - 1


def _last(start: int, size: int) -> int:
    """The inclusive end QEMU prints (MR_SIZE: size - 1, or 0 for an empty region)."""
    return (start + (size - 1 if size else 0)) & _MASK


def _print_mr(out: List[str], mr: MemoryRegion, level: int, base: int,
              alias_queue: List[MemoryRegion], disabled: bool) -> None:
    start = base + mr.addr
    end = _last(start, mr.size)
    overflow = "[DETECTED OVERFLOW!] " if start > _MASK or (mr.size and start + mr.size - 1 > _MASK) else ""
    start &= _MASK
    state = "" if mr.enabled else " [disabled]"
    if mr.alias is not None:
        if not any(q is mr.alias for q in alias_queue):
            alias_queue.append(mr.alias)
        if mr.enabled or disabled:
            a0 = mr.alias_offset
            out.append(f"{overflow}{_INDENT * level}{start:016x}-{end:016x} (prio {mr.priority}, "
                       f"{mr.kind}): alias {mr.name} @{mr.alias.name} "
                       f"{a0 & _MASK:016x}-{_last(a0, mr.size):016x}{state}")
    elif mr.enabled or disabled:
        out.append(f"{overflow}{_INDENT * level}{start:016x}-{end:016x} (prio {mr.priority}, "
                   f"{mr.kind}): {mr.name}{state}")
    # QEMU's display order: by address, then higher priority first, else list order.
    queue: List[MemoryRegion] = []
    for sub in mr.subregions:
        for i, other in enumerate(queue):
            if sub.addr < other.addr or (sub.addr == other.addr and sub.priority > other.priority):
                queue.insert(i, sub)
                break
        else:
            queue.append(sub)
    for sub in queue:
        _print_mr(out, sub, level + 1, start, alias_queue, disabled)


def _tree(spaces: Sequence[AddressSpace], disabled: bool) -> List[str]:
    out: List[str] = []
    groups: Dict[int, List[AddressSpace]] = {}
    for space in spaces:
        groups.setdefault(id(space.root), []).append(space)
    alias_queue: List[MemoryRegion] = []
    for group in groups.values():
        for space in sorted(group, key=lambda s: s.name.encode()):
            out.append(f"address-space: {space.name}")
        _print_mr(out, group[0].root, 1, 0, alias_queue, disabled)
        out.append("")
    i = 0
    while i < len(alias_queue):        # the queue grows while it is printed
        mr = alias_queue[i]
        out.append(f"memory-region: {mr.name}")
        _print_mr(out, mr, 1, 0, alias_queue, disabled)
        out.append("")
        i += 1
    return out


def _flat(spaces: Sequence[AddressSpace]) -> List[str]:
    out: List[str] = []
    views: Dict[int, List[AddressSpace]] = {}
    roots: Dict[int, Optional[MemoryRegion]] = {}
    for space in spaces:
        root = flatview_root(space.root)
        views.setdefault(id(root), []).append(space)
        roots[id(root)] = root
    for n, (key, group) in enumerate(views.items()):
        root = roots[key]
        out.append(f"FlatView #{n}")
        for space in group:
            line = f' AS "{space.name}", root: {space.root.name}'
            if space.root.alias is not None:
                line += f", alias {space.root.alias.name}"
            out.append(line)
        out.append(f" Root memory region: {root.name if root is not None else '(none)'}")
        ranges = flatten(root)[0] if root is not None else []
        if not ranges:
            out.append(f"{_INDENT}No rendered FlatView")
            out.append("")
            continue
        for r in ranges:
            mr = r.region
            kind = "rom" if r.readonly else mr.kind
            line = (f"{_INDENT}{r.start:016x}-{_last(r.start, r.size):016x} "
                    f"(prio {mr.priority}, {kind}): {mr.name}")
            if r.offset_in_region:
                line += f" @{r.offset_in_region:016x}"
            out.append(line)
        out.append("")
    return out


def mtree_text(spaces: Optional[Sequence[AddressSpace]] = None, flatview: bool = False,
               disabled: bool = False) -> str:
    """The text of ``info mtree`` (``flatview=True``: ``info mtree -f``; ``disabled``: ``-d``)."""
    if spaces is None:
        spaces = address_spaces()
    lines = _flat(spaces) if flatview else _tree(spaces, disabled)
    return "\n".join(lines) + "\n" if lines else ""
