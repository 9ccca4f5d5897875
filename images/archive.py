"""Files from a Debian archive, verified and cached: indexes, packages, source tarballs.

Interface:

* ``release_sha256(release, member)`` -> (sha256, size) that a Release file lists for
  ``member`` (e.g. ``main/binary-armhf/Packages.xz``), or None.
* ``load_index(mirror, member, cache, refresh, quiet, suite=SUITE)`` -> the text of
  ``dists/<suite>/<member>`` (a ``Packages.xz`` or ``Sources.xz``), checked against the
  Release file's SHA256 and kept in ``<cache>/index/<folder>/`` for a day
  (``INDEX_MAX_AGE``), the folder named after the member's directory
  (``binary-armhf`` -> ``armhf``, ``source`` -> ``source``).
* ``get_file(mirror, path, sha256, size, cache, quiet)`` -> Path of the archive file
  ``path`` (``pool/...``) in ``<cache>/debs/``, downloaded once and verified.
* ``source_files(stanza)`` -> [(name, sha256, size)] of a ``Sources`` stanza's
  ``Checksums-Sha256`` list.

The suite is Debian 12, ``bookworm`` (``SUITE``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List, Optional, Tuple

from .download import download, fetch_bytes, sha256_file
from .errors import ImageError
from .packages import Stanza, decompress_index

__all__ = ["SUITE", "INDEX_MAX_AGE", "release_sha256", "load_index", "get_file",
           "source_files"]

SUITE = "bookworm"
INDEX_MAX_AGE = 24 * 3600


def release_sha256(release: str, member: str) -> Optional[Tuple[str, int]]:
    """The SHA256 and size that a Release file lists for ``member``."""
    in_sha = False
    for line in release.splitlines():
        if not line.startswith(" "):
            in_sha = line.startswith("SHA256:")
            continue
        if in_sha:
            parts = line.split()
            if len(parts) == 3 and parts[2] == member:
                return parts[0].lower(), int(parts[1])
    return None


def _index_folder(member: str) -> str:
    part = member.split("/")[-2]                  # binary-armhf, binary-all, source
    return part[len("binary-"):] if part.startswith("binary-") else part


def load_index(mirror: str, member: str, cache: Path, refresh: bool, quiet: bool,
               suite: str = SUITE) -> str:
    folder = cache / "index" / _index_folder(member)
    folder.mkdir(parents=True, exist_ok=True)
    name = os.path.basename(member)
    path = folder / name
    source = folder / (name + ".mirror") if name != "Packages.xz" else folder / "mirror"
    fresh = (path.exists() and source.exists() and source.read_text().strip() == mirror
             and time.time() - path.stat().st_mtime < INDEX_MAX_AGE)
    if refresh or not fresh:
        dist = f"{mirror}/dists/{suite}"
        release = fetch_bytes(f"{dist}/Release").decode("utf-8", "replace")
        listed = release_sha256(release, member)
        if listed is None:
            arch = _index_folder(member)
            raise ImageError(f"{dist}/Release does not list {member}: "
                             f"is this a Debian mirror serving {suite} for {arch}?")
        download(f"{dist}/{member}", str(path), listed[0], listed[1], quiet=quiet)
        source.write_text(mirror + "\n")
    return decompress_index(path.read_bytes(), path.name)


def get_file(mirror: str, path: str, sha256: str, size: int, cache: Path,
             quiet: bool) -> Path:
    dest = cache / "debs" / os.path.basename(path)
    if dest.exists() and dest.stat().st_size == size and sha256_file(str(dest)) == sha256:
        return dest
    if not sha256:
        raise ImageError(f"the index has no SHA256 for {os.path.basename(path)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    download(f"{mirror}/{path}", str(dest), sha256, size, quiet=quiet)
    return dest


def source_files(st: Stanza) -> List[Tuple[str, str, int]]:
    out = []
    for line in st.get("Checksums-Sha256", "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[2], parts[0].lower(), int(parts[1])))
    return out
