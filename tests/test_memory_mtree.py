"""`info mtree` text and flattening, checked against QEMU itself.

QEMU prints its whole region tree (``info mtree -D``, disabled regions too).  We
rebuild that tree with our regions, then compare our ``info mtree`` and
``info mtree -f`` with QEMU's, line for line: this checks the text format, the
display order, and the flattening (priorities, aliases, clipping, disabled
regions, gap filling by I/O regions, merging).  Needs qemu-system-arm/-mipsel.
"""
from __future__ import annotations

import re
import subprocess
from typing import Dict, List, Tuple

import pytest

from pysystem.memory import (AddressSpace, AliasRegion, ContainerRegion, IORegion, RAMRegion,
                             ROMDeviceRegion, ROMRegion, mtree_text)
from tools import program

LINE = re.compile(r"^( *)([0-9a-f]{16})-([0-9a-f]{16}) \(prio (-?\d+), ([^)]+)\): (.*)$")
ALIAS = re.compile(r"^alias (.*?) @(.*) ([0-9a-f]{16})-([0-9a-f]{16})$")

MACHINES = [
    ("qemu-system-arm", ["-M", "vexpress-a9", "-m", "256"]),
    ("qemu-system-mipsel", ["-M", "malta", "-m", "256"]),
]


def qemu_monitor(binary: str, args: List[str], commands: List[str]) -> List[str]:
    """The output of each monitor command, \\r removed."""
    text = "".join(c + "\n" for c in commands) + "quit\n"
    proc = subprocess.run([binary, *args, "-display", "none", "-monitor", "stdio", "-S",
                           "-serial", "null", "-audiodev", "none,id=snd0"],
                          input=text.encode(), capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace").replace("\r", "")
    parts = out.split("(qemu) ")[1:]
    # each part: the echoed command line (with cursor escapes), then the output
    return [p.split("\n", 1)[1] if "\n" in p else "" for p in parts][:len(commands)]


def sections(text: str) -> List[List[str]]:
    blocks, cur = [], []
    for line in text.split("\n"):
        if line == "":
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(line)
    if cur:
        blocks.append(cur)
    return blocks


def flat_names(flat_text: str) -> set:
    names = set()
    for block in sections(flat_text):
        for line in block:
            m = LINE.match(line)
            if m:
                names.add(re.sub(r" @[0-9a-f]{16}$", "", m.group(6)))
    return names


def rebuild(tree_text: str, flat_text: str):
    """Our regions and address spaces for QEMU's ``info mtree -D`` output."""
    terminating_io = flat_names(flat_text)
    as_groups: List[Tuple[List[str], list]] = []    # (address-space names, parsed nodes)
    mr_sections: Dict[str, list] = {}
    for block in sections(tree_text):
        heads = [l for l in block if l.startswith(("address-space: ", "memory-region: "))]
        nodes = []
        for line in block[len(heads):]:
            m = LINE.match(line)
            assert m, line
            indent, start, end, prio, kind, rest = m.groups()
            disabled = rest.endswith(" [disabled]")
            rest = rest[:-len(" [disabled]")] if disabled else rest
            nodes.append(dict(level=len(indent) // 2, start=int(start, 16),
                              size=int(end, 16) - int(start, 16) + 1, prio=int(prio),
                              kind=kind, rest=rest, disabled=disabled))
        if heads[0].startswith("address-space: "):
            as_groups.append(([h.split(": ", 1)[1] for h in heads], nodes))
        else:
            mr_sections[heads[0].split(": ", 1)[1]] = nodes

    built: Dict[str, list] = {}       # name -> regions of that name built from AS trees
    aliases = []                      # (alias region, target name)

    def build(nodes):
        regions = []
        for n in nodes:
            m = ALIAS.match(n["rest"])
            if m:
                r = AliasRegion(None, m.group(1), None, int(m.group(3), 16), n["size"])
                aliases.append((r, m.group(2)))
            else:
                name, kind = n["rest"], n["kind"]
                if kind == "ram":
                    r = RAMRegion(None, name, n["size"])
                elif kind == "rom":
                    r = ROMRegion(None, name, n["size"])
                elif kind == "romd":
                    r = ROMDeviceRegion(None, name, n["size"], lambda o, s: 0, lambda o, v, s: None)
                elif name in terminating_io:
                    r = IORegion(None, name, n["size"], lambda o, s: 0, lambda o, v, s: None)
                else:
                    r = ContainerRegion(None, name, n["size"])
                built.setdefault(name, []).append(r)
            regions.append(r)
        # parents: the nearest earlier node one level up; add children in reverse
        # printed order so that equal-priority siblings keep QEMU's list order
        children: Dict[int, list] = {}
        for i, n in enumerate(nodes[1:], 1):
            parent = max(j for j in range(i) if nodes[j]["level"] == n["level"] - 1)
            children.setdefault(parent, []).append(i)
        for p, kids in children.items():
            for i in reversed(kids):
                regions[p].add_subregion(nodes[i]["start"] - nodes[p]["start"], regions[i],
                                         nodes[i]["prio"])
        regions[0].addr = nodes[0]["start"]
        regions[0].priority = nodes[0]["prio"]
        for r, n in zip(regions, nodes):
            if n["disabled"]:
                r.set_enabled(False)
        return regions[0]

    roots = [(names, build(nodes)) for names, nodes in as_groups]
    targets: Dict[str, object] = {}
    while aliases:
        alias, target = aliases.pop()
        if target not in targets:
            same = [r for r in built.get(target, []) if r.size == mr_sections[target][0]["size"]]
            targets[target] = same[0] if same else build(mr_sections[target])
        alias.alias = targets[target]
    spaces = {name: AddressSpace(name, root) for names, root in roots for name in names}
    return roots, spaces


@pytest.mark.parametrize("binary,args", MACHINES, ids=[m[1][1] for m in MACHINES])
def test_info_mtree_matches_qemu(binary, args):
    full, tree, flat = qemu_monitor(program(binary), args, ["info mtree -D", "info mtree", "info mtree -f"])
    assert "address-space: memory" in tree
    roots, spaces = rebuild(full, flat)
    # address spaces in QEMU's group order (its hash order) give the same text
    ordered = [spaces[name] for names, _ in roots for name in names]
    assert mtree_text(ordered) == tree
    assert mtree_text(ordered, disabled=True) == full
    # flat views: QEMU orders the views and their address spaces by hash; compare
    # each view's address-space set, root and ranges
    order = [m.group(1) for m in re.finditer(r'^ AS "([^"]+)"', flat, re.M)]
    ours = mtree_text([spaces[n] for n in order], flatview=True)

    def views(text):
        out = {}
        for block in sections(text):
            as_lines = tuple(sorted(l for l in block if l.startswith(" AS ")))
            out[as_lines] = [l for l in block[1:] if not l.startswith(" AS ")]
        return out
    want, got = views(flat), views(ours)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == want[key], key
    assert max(len(v) for v in want.values()) > 20
