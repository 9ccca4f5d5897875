"""Downloads into the cache: atomic, verified, with one-line errors.

Interface:

* ``download(url, dest, sha256=None, size=None, quiet=False)`` fetches ``url``
  into ``dest`` through a temporary file in the same folder and renames it into
  place only when complete and (if given) the size and SHA-256 match; a failed
  or interrupted download never leaves a file at ``dest``.  Raises
  ``OfflineError`` when the host cannot be reached and ``ImageError`` for HTTP
  errors and mismatches.  ``file:`` URLs work too (local mirrors).
* ``fetch_bytes(url)`` -> the body of a small file (index, Release).
* ``sha256_file(path)`` -> hex digest.

Progress goes to stderr as one line per file unless ``quiet``.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from typing import Optional

from .errors import ImageError, NotFoundError, OfflineError

__all__ = ["download", "fetch_bytes", "sha256_file", "TIMEOUT"]

TIMEOUT = 60.0
_CHUNK = 1 << 20


def _open(url: str):
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "pysystem-images"})
        return urllib.request.urlopen(req, timeout=TIMEOUT)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise NotFoundError(f"not found on the mirror (HTTP 404): {url}") from None
        raise ImageError(f"HTTP error {e.code} ({e.reason}) for {url}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, FileNotFoundError) or (
                isinstance(reason, str) and url.startswith("file:")):
            raise NotFoundError(f"not found on the mirror: {url}") from None
        raise OfflineError(f"cannot reach {url}: {reason} (offline? pass --mirror URL "
                           "for a reachable Debian mirror)") from None
    except (socket.timeout, OSError) as e:
        raise OfflineError(f"cannot reach {url}: {e} (offline? pass --mirror URL)") from None


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_bytes(url: str) -> bytes:
    with _open(url) as r:
        try:
            return r.read()
        except (socket.timeout, OSError) as e:
            raise OfflineError(f"download of {url} failed: {e}") from None


def download(url: str, dest: str, sha256: Optional[str] = None, size: Optional[int] = None,
             quiet: bool = False) -> str:
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    if not quiet:
        mb = f" ({size / 1e6:.1f} MB)" if size else ""
        sys.stderr.write(f"downloading {url}{mb}\n")
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder)
    try:
        h = hashlib.sha256()
        got = 0
        with os.fdopen(fd, "wb") as out, _open(url) as r:
            while True:
                try:
                    chunk = r.read(_CHUNK)
                except (socket.timeout, OSError) as e:
                    raise OfflineError(f"download of {url} failed: {e}") from None
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                got += len(chunk)
        if size is not None and got != size:
            raise ImageError(f"{url}: got {got} bytes, the index says {size} "
                             "(interrupted download or a mirror out of sync)")
        if sha256 and h.hexdigest() != sha256.lower():
            raise ImageError(f"{url}: SHA256 mismatch (got {h.hexdigest()}, "
                             f"the index says {sha256.lower()})")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
