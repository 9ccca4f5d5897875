"""Debian ``Packages`` indexes: parse stanzas, pick the newest matching package.

Interface:

* ``parse_packages(text, want=None)`` -> iterator of ``Stanza`` (a dict of
  field -> value with ``.name``, ``.version``, ``.filename``, ``.sha256``,
  ``.size``); ``want(name)`` filters on the Package field before the rest of a
  stanza is parsed, which keeps a 40 MB index fast.
* ``newest(stanzas)`` -> the stanza with the highest Debian version (ties broken
  by name), or None.
* ``kernel_package_re(flavour)`` -> the regular expression that matches
  ``linux-image-<abi>-<flavour>`` and nothing else (not the ``-dbg`` package, the
  ``-unsigned`` build, the ``-rt-`` flavour or the unversioned metapackage).
* ``decompress_index(data, name)`` -> text of a ``Packages``, ``.xz`` or ``.gz``.
"""
from __future__ import annotations

import gzip
import lzma
import re
from typing import Callable, Dict, Iterable, Iterator, Optional

from .debver import compare_versions
from .errors import ImageError

__all__ = ["Stanza", "parse_packages", "newest", "kernel_package_re", "decompress_index"]


class Stanza(Dict[str, str]):
    """One package's fields; keys keep the index's capitalisation."""

    @property
    def name(self) -> str:
        return self["Package"]

    @property
    def version(self) -> str:
        return self["Version"]

    @property
    def filename(self) -> str:
        return self["Filename"]

    @property
    def sha256(self) -> str:
        return self.get("SHA256", "").lower()

    @property
    def size(self) -> int:
        return int(self.get("Size", "0"))


def parse_packages(text: str, want: Optional[Callable[[str], bool]] = None) -> Iterator[Stanza]:
    """Yield the stanzas of a Packages index (blank-line separated, RFC822-like)."""
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        if want is not None:
            m = re.search(r"^Package:\s*(\S+)", block, re.M)
            if not m or not want(m.group(1)):
                continue
        st = Stanza()
        key = None
        for line in block.split("\n"):
            if not line:
                continue
            if line[0] in " \t":
                if key is not None:
                    st[key] += "\n" + line[1:]
                continue
            if ":" not in line:
                continue
            key, value = line.split(":", 1)
            st[key] = value.strip()
        if "Package" in st and "Version" in st:
            yield st


def newest(stanzas: Iterable[Stanza]) -> Optional[Stanza]:
    """The stanza with the highest version (then the highest name: a newer ABI)."""
    best: Optional[Stanza] = None
    for st in stanzas:
        if best is None:
            best = st
            continue
        c = compare_versions(st.version, best.version)
        if c > 0 or (c == 0 and compare_versions(st.name, best.name) > 0):
            best = st
    return best


def kernel_package_re(flavour: str) -> "re.Pattern[str]":
    """``linux-image-6.1.0-NN-<flavour>`` exactly."""
    return re.compile(r"linux-image-\d+\.\d+(?:\.\d+)?-\d+-" + re.escape(flavour))


def decompress_index(data: bytes, name: str) -> str:
    try:
        if name.endswith(".xz"):
            data = lzma.decompress(data)
        elif name.endswith(".gz"):
            data = gzip.decompress(data)
    except (lzma.LZMAError, OSError, EOFError) as e:
        raise ImageError(f"{name}: corrupt index ({e})") from None
    return data.decode("utf-8", errors="replace")
