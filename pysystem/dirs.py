"""Where pysystem keeps files for the user: the XDG base directories.

* ``user_cache_dir()``: ``$XDG_CACHE_HOME/pysystem`` or ``~/.cache/pysystem`` (guest
  images, compiled code: anything that can be fetched or made again);
* ``user_data_dir()``: ``$XDG_DATA_HOME/pysystem`` or ``~/.local/share/pysystem``
  (snapshots of machines without a disk).
"""
from __future__ import annotations

import os


def user_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pysystem")


def user_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "pysystem")
