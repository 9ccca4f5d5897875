"""Flattening against a per-address model of QEMU's rules, on random region trees.

The model answers "who handles address A?" by walking down the tree: in a
region, the first enabled subregion in list order (priority, then most
recently added) whose window holds A and that answers A wins; otherwise the
region itself answers if it terminates (RAM, I/O).  Aliases forward to their
target at the shifted address.  The flat view must give the same answer (and
the same offset in the region) for every address.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pysystem.memory import (AddressSpace, AliasRegion, ContainerRegion, IORegion, RAMRegion)

SPAN = 64


def resolve(mr, addr):
    """(region, offset) answering ``addr`` given relative to ``mr``'s start, or None."""
    if not mr.enabled or not 0 <= addr < mr.size:
        return None
    if mr.alias is not None:
        return resolve(mr.alias, addr + mr.alias_offset)
    for sub in mr.subregions:
        hit = resolve(sub, addr - sub.addr)
        if hit is not None:
            return hit
    return (mr, addr) if mr.terminates else None


@st.composite
def trees(draw):
    leaves = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["ram", "io", "box"]))
        size = draw(st.integers(1, 40))
        if kind == "ram":
            leaves.append(RAMRegion(None, f"ram{i}", size))
        elif kind == "io":
            leaves.append(IORegion(None, f"io{i}", size, lambda o, s: 0, lambda o, v, s: None))
        else:
            leaves.append(ContainerRegion(None, f"box{i}", size))
    root = ContainerRegion(None, "root", SPAN)
    parents = [root] + [r for r in leaves if not isinstance(r, RAMRegion)]
    for i, r in enumerate(leaves):
        # place each region in the root or in an earlier container/I/O region
        choices = [p for p in parents[:i + 1] if p is not r]
        parent = draw(st.sampled_from(choices))
        parent.add_subregion(draw(st.integers(-8, SPAN)), r, draw(st.integers(-1, 1)))
        if draw(st.integers(0, 5)) == 0:
            r.set_enabled(False)
    for i in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(leaves))
        alias = AliasRegion(None, f"alias{i}", target, draw(st.integers(0, 8)),
                            draw(st.integers(1, 30)))
        root.add_subregion(draw(st.integers(0, SPAN)), alias, draw(st.integers(-1, 1)))
    return root


@settings(max_examples=300, deadline=None)
@given(trees())
def test_flat_view_agrees_with_the_per_address_model(root):
    space = AddressSpace("t", root)
    ranges = space.flat_ranges()
    for a, b in zip(ranges, ranges[1:]):
        assert a.end <= b.start                       # sorted, no overlaps
        # merged: no two touching ranges of one region with contiguous offsets
        assert not (a.end == b.start and a.region is b.region and
                    a.offset_in_region + a.size == b.offset_in_region)
    for addr in range(-4, SPAN + 4):
        want = resolve(root, addr)
        fr = space.lookup(addr)
        got = None if fr is None else (fr.region, addr - fr.start + fr.offset_in_region)
        assert got == want, hex(addr)
