"""Compiled translated code kept on disk between runs.

Compiling a translated block's Python source is most of the cost of translating it
(about 0.4 ms of 0.65 ms on CPython, half on PyPy), and a Linux boot translates some
36,000 blocks, the same ones every time.  This cache maps the hash of a block's source
to its marshalled code object, so the second boot of a kernel compiles almost nothing.
The source is still generated each time (its bindings are per machine); only
``compile()`` is skipped, and identical source gives identical code.

One SQLite file per interpreter and bytecode version, in
``$PYSYSTEM_CODE_CACHE`` (a directory; ``off`` disables the cache) or else
``$XDG_CACHE_HOME/pysystem/code`` (``~/.cache/pysystem/code``).  New entries are
written in batches and at exit.  Any error (read-only disk, a corrupt or locked file)
turns the cache off for the rest of the run: it can only make things faster.
A file over ``MAX_BYTES`` (with its write-ahead log) is started afresh.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import marshal
import os
import sys
from types import CodeType
from typing import List, Optional, Tuple

from pysystem import dirs

MAX_BYTES = 512 << 20     # the database and its log together
WAL_LIMIT = 16 << 20
BATCH = 2000


def cache_dir() -> Optional[str]:
    chosen = os.environ.get("PYSYSTEM_CODE_CACHE")
    if chosen == "off":
        return None
    if chosen:
        return os.path.expanduser(chosen)
    return os.path.join(dirs.user_cache_dir(), "code")


class CodeCache:
    def __init__(self, directory: Optional[str]):
        self.directory = directory
        self._db = None
        self._failed = directory is None
        self._pending: List[Tuple[bytes, bytes]] = []

    @property
    def path(self) -> Optional[str]:
        if self.directory is None:
            return None
        tag = sys.implementation.cache_tag or sys.implementation.name
        return os.path.join(self.directory, f"{tag}-{importlib.util.MAGIC_NUMBER.hex()}.sqlite")

    def _open(self):
        if self._db is None and not self._failed:
            try:
                import sqlite3
                os.makedirs(self.directory, exist_ok=True)
                path = self.path
                parts = [path + suffix for suffix in ("", "-wal", "-shm")]
                if sum(os.path.getsize(p) for p in parts if os.path.exists(p)) > MAX_BYTES:
                    for p in parts:
                        if os.path.exists(p):
                            os.unlink(p)
                db = sqlite3.connect(path, timeout=5, isolation_level=None,
                                     check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=OFF")
                # the write-ahead log is cut back after each checkpoint, not left at its peak
                db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
                db.execute("CREATE TABLE IF NOT EXISTS code (hash BLOB PRIMARY KEY, code BLOB)")
                self._db = db
                atexit.register(self.flush)
            except Exception:
                self._failed = True
        return self._db

    @staticmethod
    def _hash(source: str) -> bytes:
        return hashlib.blake2b(source.encode(), digest_size=16).digest()

    def get(self, source: str) -> Optional[CodeType]:
        db = self._open()
        if db is None:
            return None
        try:
            # fetchall() runs the statement to its end, which ends the read transaction at
            # once (a statement left open, as PyPy's unfinished cursors are until collected,
            # keeps every checkpoint from emptying the log)
            rows = db.execute("SELECT code FROM code WHERE hash = ?", (self._hash(source),)).fetchall()
            return marshal.loads(rows[0][0]) if rows else None
        except Exception:
            self._failed, self._db = True, None
            return None

    def put(self, source: str, code: CodeType) -> None:
        if self._failed:
            return
        self._pending.append((self._hash(source), marshal.dumps(code)))
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        db = self._open()
        if db is None or not pending:
            return
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR IGNORE INTO code VALUES (?, ?)", pending)
            db.execute("COMMIT")
        except Exception:
            self._failed, self._db = True, None


_shared: Optional[CodeCache] = None


def shared() -> CodeCache:
    """The process's cache (created on first use, from the environment)."""
    global _shared
    if _shared is None:
        _shared = CodeCache(cache_dir())
    return _shared
