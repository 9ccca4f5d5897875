"""Kernel modules of an unpacked Debian kernel package: find them, order them.

Debian's linux-image packages ship ``/lib/modules/<ver>/kernel/**.ko`` (or
``.ko.xz``/``.ko.gz``/``.ko.zst`` in later releases) and ``modules.builtin``, but
no ``modules.dep``: depmod writes that at install time.  So dependencies come
from each module's own ``.modinfo`` section (``depends=`` and ``softdep=``).

Interface:

* ``ModuleTree(root, version)``: ``root`` is the unpacked package, ``version``
  the kernel release (``6.1.0-50-armmp``).
  - ``path_of(name)`` -> path relative to ``lib/modules/<ver>/`` or None
    (``-`` and ``_`` are the same in module names, as in modprobe).
  - ``is_builtin(name)`` -> True if the module is built into the kernel.
  - ``modinfo(name)`` -> dict of the module's modinfo fields (lists per key).
  - ``resolve(names)`` -> the modules to load, dependencies first, each once:
    list of (name, relative path).  Built-in modules are left out; an unknown
    name raises ``ImageError``.  ``softdep`` ``pre:`` modules are loaded before,
    ``post:`` after, and are skipped silently when absent (they are soft).
  - ``read(relpath)`` -> the module's bytes, decompressed.
* ``modules_dep(resolved, deps)`` -> text of a ``modules.dep`` for the chosen
  modules, the format busybox's and kmod's modprobe read.
"""
from __future__ import annotations

import gzip
import lzma
import os
import struct
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import ImageError

__all__ = ["ModuleTree", "modules_dep", "canonical"]

_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


def canonical(name: str) -> str:
    return name.strip().replace("-", "_")


def _strip_suffix(filename: str) -> str:
    for s in _SUFFIXES:
        if filename.endswith(s):
            return filename[:-len(s)]
    return filename


class ModuleTree:
    def __init__(self, root: str, version: str):
        self.root = root
        self.version = version
        self.base = os.path.join(root, "lib", "modules", version)
        if not os.path.isdir(self.base):
            raise ImageError(f"no /lib/modules/{version} in the unpacked kernel package")
        self._paths: Optional[Dict[str, str]] = None
        self._builtin: Optional[set] = None
        self._aliases: Optional[Dict[str, List[str]]] = None
        self._builtin_aliases: set = set()
        self._info: Dict[str, Dict[str, List[str]]] = {}

    # --- lookup -----------------------------------------------------------------
    def _index(self) -> Dict[str, str]:
        if self._paths is None:
            self._paths = {}
            for folder, _, files in os.walk(os.path.join(self.base, "kernel")):
                for fn in files:
                    if fn.endswith(_SUFFIXES):
                        rel = os.path.relpath(os.path.join(folder, fn), self.base)
                        self._paths[canonical(_strip_suffix(fn))] = rel
        return self._paths

    def path_of(self, name: str) -> Optional[str]:
        return self._index().get(canonical(name))

    def is_builtin(self, name: str) -> bool:
        if self._builtin is None:
            self._builtin = set()
            path = os.path.join(self.base, "modules.builtin")
            if os.path.isfile(path):
                with open(path) as f:
                    for line in f:
                        line = line.strip()
                        if line:
                            self._builtin.add(canonical(_strip_suffix(os.path.basename(line))))
        return canonical(name) in self._builtin

    def read(self, rel: str) -> bytes:
        with open(os.path.join(self.base, rel), "rb") as f:
            data = f.read()
        try:
            if rel.endswith(".xz"):
                return lzma.decompress(data)
            if rel.endswith(".gz"):
                return gzip.decompress(data)
            if rel.endswith(".zst"):
                try:
                    import zstandard  # type: ignore
                except ImportError:
                    raise ImageError(f"{rel} is zstd-compressed; install the 'zstandard' "
                                     "Python module") from None
                return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        except (lzma.LZMAError, OSError, EOFError) as e:
            raise ImageError(f"{rel}: corrupt compressed module ({e})") from None
        return data

    def modinfo(self, name: str) -> Dict[str, List[str]]:
        name = canonical(name)
        if name not in self._info:
            rel = self.path_of(name)
            if rel is None:
                raise ImageError(f"no module '{name}' in /lib/modules/{self.version}")
            self._info[name] = _parse_modinfo(self.read(rel), rel)
        return self._info[name]

    def _alias(self, alias: str) -> List[str]:
        """Loadable modules that declare ``alias=<alias>`` (slow: scans every module once).

        Empty if none does or a built-in module provides it.  When several do (a
        generic and an accelerated crc32c, say), the generic ones are chosen.
        """
        if self._aliases is None:
            self._aliases = {}
            for name, rel in sorted(self._index().items()):
                for value in _alias_values(self.read(rel)):
                    self._aliases.setdefault(value, []).append(name)
            self._builtin_aliases = set()
            path = os.path.join(self.base, "modules.builtin.modinfo")
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    for item in f.read().split(b"\0"):
                        mod, sep, value = item.partition(b".alias=")
                        if sep:
                            self._builtin_aliases.add(canonical(value.decode("ascii", "replace")))
        alias = canonical(alias)
        if alias in self._builtin_aliases:
            return []
        found = self._aliases.get(alias, [])
        generic = [n for n in found if "generic" in n]
        return generic or found

    # --- dependency order ---------------------------------------------------------
    def resolve(self, names: Sequence[str]) -> List[Tuple[str, str]]:
        order: List[Tuple[str, str]] = []
        done: set = set()
        active: set = set()

        def visit(name: str, soft: bool) -> None:
            name = canonical(name)
            if name in done or name in active:
                return
            if self.path_of(name) is None:
                if self.is_builtin(name):
                    return
                if not soft:
                    raise ImageError(f"no module '{name}' in /lib/modules/{self.version} "
                                     "(and it is not built in)")
                for target in self._alias(name):
                    visit(target, True)
                return
            active.add(name)
            info = self.modinfo(name)
            pre, post = _softdeps(info)
            for dep in pre:
                visit(dep, True)
            for field in info.get("depends", []):
                for dep in field.split(","):
                    if dep:
                        visit(dep, False)
            active.discard(name)
            done.add(name)
            order.append((name, self.path_of(name) or ""))
            for dep in post:
                visit(dep, True)

        for n in names:
            if n.strip():
                visit(n, False)
        return order

    def hard_deps(self, name: str) -> List[str]:
        out = []
        for field in self.modinfo(name).get("depends", []):
            out += [canonical(d) for d in field.split(",") if d]
        return out


def _alias_values(data: bytes) -> List[str]:
    """Plain (wildcard-free) ``alias=`` values in a module's bytes."""
    out = []
    pos = data.find(b"alias=")
    while pos >= 0:
        end = data.find(b"\0", pos)
        if end < 0:
            break
        value = data[pos + 6:end].decode("ascii", "replace")
        if value and "*" not in value and ":" not in value:
            out.append(canonical(value))
        pos = data.find(b"alias=", end)
    return out


def _softdeps(info: Dict[str, List[str]]) -> Tuple[List[str], List[str]]:
    pre: List[str] = []
    post: List[str] = []
    for field in info.get("softdep", []):
        current = None
        for word in field.split():
            if word == "pre:":
                current = pre
            elif word == "post:":
                current = post
            elif current is not None:
                current.append(word)
    return pre, post


def _elf_section(data: bytes, wanted: str) -> Optional[bytes]:
    """The contents of the named section of an ELF file (32/64-bit, either endian)."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise ValueError("no ELF header")
    fmt = "<" if data[5] == 1 else ">"
    if data[4] == 1:
        shoff, = struct.unpack_from(fmt + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(fmt + "HHH", data, 0x2E)
        sh = fmt + "IIIIIIIIII"
        off_i, size_i = 4, 5
    else:
        shoff, = struct.unpack_from(fmt + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(fmt + "HHH", data, 0x3A)
        sh = fmt + "IIQQQQIIQQ"
        off_i, size_i = 4, 5
    headers = [struct.unpack_from(sh, data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx]
    names = data[strtab[off_i]:strtab[off_i] + strtab[size_i]]
    for h in headers:
        end = names.find(b"\0", h[0])
        if names[h[0]:end].decode("ascii", "replace") == wanted:
            return data[h[off_i]:h[off_i] + h[size_i]]
    return None


def _parse_modinfo(data: bytes, rel: str) -> Dict[str, List[str]]:
    try:
        section = _elf_section(data, ".modinfo")
    except (ValueError, IndexError, struct.error) as e:
        raise ImageError(f"{rel}: not an ELF module ({e})") from None
    info: Dict[str, List[str]] = {}
    for item in (section or b"").split(b"\0"):
        if b"=" in item:
            key, value = item.decode("utf-8", "replace").split("=", 1)
            info.setdefault(key, []).append(value)
    return info


def modules_dep(tree: ModuleTree, resolved: Sequence[Tuple[str, str]]) -> str:
    """A ``modules.dep`` listing each chosen module with its transitive hard deps."""
    paths = dict(resolved)
    lines = []
    for name, rel in resolved:
        seen: List[str] = []
        stack = list(tree.hard_deps(name))
        while stack:
            dep = stack.pop(0)
            if dep in seen or dep not in paths:
                continue
            seen.append(dep)
            stack += tree.hard_deps(dep)
        lines.append(f"{_plain(rel)}: " + " ".join(_plain(paths[d]) for d in seen))
    return "\n".join(l.rstrip() for l in lines) + "\n"


def _plain(rel: str) -> str:
    """Where a module lands in the initramfs: always an uncompressed .ko."""
    return _strip_suffix(rel) + ".ko"
