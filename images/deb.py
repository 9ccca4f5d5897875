"""Unpack Debian packages in Python: the ``ar`` container and its data tarball.

Interface:

* ``ar_members(data)`` -> list of (name, bytes) of an ``ar`` archive (the
  common format and GNU's ``name/`` spelling; no long-name tables, which .debs
  never use).
* ``deb_data_tar(data)`` -> (member name, decompressed tar bytes) of a .deb's
  ``data.tar`` (uncompressed, .xz, .gz, .bz2, or .zst when the ``zstandard``
  module is installed; anything else raises ``ImageError``).
* ``extract_deb(deb_path, dest, skip=("usr/share/doc/", ...))`` unpacks the data
  tarball under ``dest``: regular files, directories and symlinks only (device
  nodes and hard links to outside paths are not needed and are skipped), and
  never writes outside ``dest`` (absolute names, ``..`` and writes through
  symlinks are refused).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import tarfile
from typing import BinaryIO, Iterable, List, Tuple

from .errors import ImageError

__all__ = ["ar_members", "deb_data_tar", "extract_deb", "DEFAULT_SKIP"]

AR_MAGIC = b"!<arch>\n"
DEFAULT_SKIP = ("usr/share/doc/", "usr/share/man/", "usr/share/lintian/", "usr/share/bug/")


def ar_members(data: bytes) -> List[Tuple[str, bytes]]:
    if not data.startswith(AR_MAGIC):
        raise ImageError("not an ar archive (a .deb starts with '!<arch>')")
    out = []
    pos = len(AR_MAGIC)
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        if header[58:60] != b"`\n":
            raise ImageError(f"corrupt ar member header at offset {pos}")
        name = header[0:16].decode("ascii", "replace").rstrip()
        if name.endswith("/") and name != "/":
            name = name[:-1]
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ImageError(f"corrupt ar member size at offset {pos}") from None
        start = pos + 60
        if start + size > len(data):
            raise ImageError(f"ar member '{name}' is truncated")
        out.append((name, data[start:start + size]))
        pos = start + size + (size & 1)
    return out


def _stream(name: str, blob: bytes) -> BinaryIO:
    """A file object that decompresses the ar member ``name`` as it is read."""
    raw = io.BytesIO(blob)
    if name.endswith(".xz"):
        return lzma.LZMAFile(raw)           # type: ignore[return-value]
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)   # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.BZ2File(raw)             # type: ignore[return-value]
    if name.endswith(".zst"):
        try:
            import zstandard  # type: ignore
        except ImportError:
            raise ImageError(f"{name} is zstd-compressed; install the 'zstandard' "
                             "Python module to unpack it") from None
        return zstandard.ZstdDecompressor().stream_reader(raw)
    if name.endswith(".tar"):
        return raw
    raise ImageError(f"unsupported .deb member compression '{name}'")


_CORRUPT = (lzma.LZMAError, OSError, EOFError, ValueError, tarfile.TarError)


def _data_member(data: bytes) -> Tuple[str, bytes]:
    members = ar_members(data)
    names = [n for n, _ in members]
    if not names or names[0] != "debian-binary":
        raise ImageError("not a Debian package (first ar member is not debian-binary)")
    for name, blob in members:
        if name.startswith("data.tar"):
            return name, blob
    raise ImageError(f"no data.tar member in package (members: {', '.join(names)})")


def deb_data_tar(data: bytes) -> Tuple[str, bytes]:
    name, blob = _data_member(data)
    try:
        with _stream(name, blob) as f:
            return name, f.read()
    except _CORRUPT as e:
        raise ImageError(f"{name}: corrupt compressed data ({e})") from None


def _member_path(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return os.path.normpath(name) if name else "."


def _inside(root: str, path: str) -> bool:
    root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def extract_deb(deb_path: str, dest: str, skip: Iterable[str] = DEFAULT_SKIP) -> List[str]:
    """Unpack ``deb_path``'s data into ``dest``; returns the relative names written."""
    with open(deb_path, "rb") as f:
        data = f.read()
    member, blob = _data_member(data)
    del data
    os.makedirs(dest, exist_ok=True)
    try:
        with _stream(member, blob) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            return _extract_members(tar, dest, tuple(skip), os.path.basename(deb_path))
    except _CORRUPT as e:
        raise ImageError(f"{os.path.basename(deb_path)}: corrupt {member} ({e})") from None


def _extract_members(tar: tarfile.TarFile, dest: str, skip: Tuple[str, ...],
                     pkg: str) -> List[str]:
    written: List[str] = []
    for ti in tar:
        rel = _member_path(ti.name)
        if rel in (".", "") or (rel + "/").startswith(skip) or rel.startswith(skip):
            continue
        if os.path.isabs(rel) or rel.split(os.sep)[0] == "..":
            raise ImageError(f"{pkg}: unsafe path '{ti.name}'")
        target = os.path.join(dest, rel)
        if not _inside(dest, os.path.dirname(target)):
            raise ImageError(f"{pkg}: path '{ti.name}' leaves the unpack directory")
        if ti.isdir():
            os.makedirs(target, exist_ok=True)
        elif ti.isfile():
            os.makedirs(os.path.dirname(target), exist_ok=True)
            src = tar.extractfile(ti)
            assert src is not None
            if os.path.lexists(target):
                os.unlink(target)
            with open(target, "wb") as out:
                out.write(src.read())
            os.chmod(target, (ti.mode & 0o777) | 0o600)
            written.append(rel)
        elif ti.issym():
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.lexists(target):
                os.unlink(target)
            os.symlink(ti.linkname, target)
            written.append(rel)
        elif ti.islnk():
            source = os.path.join(dest, _member_path(ti.linkname))
            if _inside(dest, source) and os.path.isfile(source):
                if os.path.lexists(target):
                    os.unlink(target)
                shutil.copyfile(source, target)
                written.append(rel)
        # device nodes and fifos: not needed from the packages we use
    return written
