"""Debian version numbers, ordered as dpkg orders them.

Interface:

* ``compare_versions(a, b)`` -> negative, 0 or positive, like
  ``dpkg --compare-versions a lt/eq/gt b``.
* ``version_key(v)`` -> a key for ``sorted()``/``max()``.

A version is ``[epoch:]upstream[-revision]``.  Epochs compare as integers;
upstream and revision compare by dpkg's rule: alternate runs of non-digits
(compared character by character, letters before other characters, ``~``
before everything, even the end of the string) and runs of digits (compared as
numbers).  A missing revision equals ``0``.
"""
from __future__ import annotations

import functools
from typing import Tuple

__all__ = ["compare_versions", "version_key", "split_version"]


def split_version(version: str) -> Tuple[int, str, str]:
    """Split ``epoch:upstream-revision`` into its three parts."""
    version = version.strip()
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head) if head.isdigit() else 0
    if "-" in version:
        upstream, revision = version.rsplit("-", 1)
    else:
        upstream, revision = version, ""
    return epoch, upstream, revision


def _order(c: str) -> int:
    if c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _compare_part(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        # the non-digit run
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            cb = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ca != cb:
                return ca - cb
            i += 1
            j += 1
        # the digit run, as a number
        start = i
        while i < len(a) and a[i].isdigit():
            i += 1
        na = int(a[start:i] or "0")
        start = j
        while j < len(b) and b[j].isdigit():
            j += 1
        nb = int(b[start:j] or "0")
        if na != nb:
            return -1 if na < nb else 1
    return 0


def compare_versions(a: str, b: str) -> int:
    """Compare two Debian versions: <0 if a is older, 0 if equal, >0 if newer."""
    ea, ua, ra = split_version(a)
    eb, ub, rb = split_version(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


version_key = functools.cmp_to_key(compare_versions)
