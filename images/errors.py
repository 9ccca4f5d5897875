"""Error types of the image tools; every message is one line for the user.

* ``ImageError``: anything that stops fetching or building (missing package,
  bad option, hash mismatch, unsupported archive format).
* ``OfflineError(ImageError)``: the mirror cannot be reached at all (no network,
  DNS failure, connection refused), so tests can skip instead of failing.
* ``NotFoundError(ImageError)``: the mirror answered but has no such file.
"""
from __future__ import annotations

__all__ = ["ImageError", "OfflineError", "NotFoundError"]


class ImageError(Exception):
    """Fetching or building a guest image failed; str(e) is one line."""


class OfflineError(ImageError):
    """The Debian mirror could not be reached."""


class NotFoundError(ImageError):
    """The mirror has no such file (HTTP 404, or missing under a file: URL)."""
