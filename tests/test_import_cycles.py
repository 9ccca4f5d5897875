"""No module of cpu/, monitor/ or the core imports one that imports it back (directly or
through others, at the top or inside a function): such cycles make import order matter
and hide which module is the lower layer."""
from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# cycles known and left for their owners (each with where it comes from); a new cycle fails
KNOWN = [
    # the block layer: block.py imports block_lock and qcow2 inside functions, and both
    # import block.py back (they need its errors and helpers in a lower module)
    ["pysystem.block", "pysystem.block_lock", "pysystem.qcow2"],
]
FOLDERS = {"pysystem": "pysystem", "cpu": "pysystem.cpu", "monitor": "pysystem.monitor",
           "machines": "pysystem.machines", "memory": "pysystem.memory"}


def _modules():
    mods = {}
    for folder, pkg in FOLDERS.items():
        for dirpath, dirs, files in os.walk(os.path.join(ROOT, folder)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            for fn in files:
                if fn.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, fn), os.path.join(ROOT, folder))
                    parts = rel[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    mods[".".join([pkg] + parts)] = os.path.join(dirpath, fn)
    return mods


def _graph(mods):
    graph = {}
    for name, path in mods.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        base = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                m = node.module or ""
                if node.level:
                    b = base
                    for _ in range(node.level - 1):
                        b = b.rsplit(".", 1)[0]
                    m = b + ("." + m if m else "")
                for alias in node.names:
                    deps.add(m + "." + alias.name if m + "." + alias.name in mods else m)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = _cycles(_graph(_modules()))
    assert [c for c in found if c not in KNOWN] == []
