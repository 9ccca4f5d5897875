"""Translated blocks kept on disk between runs.

Translating a block (decoding it, generating its Python source, compiling that) costs
0.3-1.4 ms, and a Linux boot translates some 36,000 blocks, the same ones every time.
This cache maps an *ident* (16 bytes: the hash of everything a translation depends on;
cpu/engine/translate.py makes them from the block's key, the bytes of its code page and
the CPU's code ident: architecture, model, byte order, the engine's and the CPU's
sources) to a marshalled value (there: the block's code object, the names it binds, its
instruction addresses), so the second boot of a kernel translates almost nothing.

One SQLite file per interpreter and bytecode version, in
``$PYSYSTEM_CODE_CACHE`` (a directory; ``off`` disables the cache) or else
``$XDG_CACHE_HOME/pysystem/code`` (``~/.cache/pysystem/code``).  The idents present
are read once when the file is opened, so a miss costs no query (a query costs
30-100 us on PyPy).  New entries are written in batches and at exit.  Any error
(read-only disk, a corrupt or locked file) turns the cache off for the rest of the
run: it can only make things faster.  A file over ``MAX_BYTES`` (with its
write-ahead log) is started afresh.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import marshal
import os
import sys
from typing import Any, Dict, Optional, Set

from pysystem import dirs

MAX_BYTES = 512 << 20     # the database and its log together
WAL_LIMIT = 16 << 20
BATCH = 2000
FORMAT = "blocks1"   # in the file name: a new layout starts a new file


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
        self._pending: Dict[bytes, bytes] = {}   # written at the next flush
        self._known: Set[bytes] = set()

    @property
    def path(self) -> Optional[str]:
        if self.directory is None:
            return None
        tag = sys.implementation.cache_tag or sys.implementation.name
        return os.path.join(self.directory, f"{tag}-{importlib.util.MAGIC_NUMBER.hex()}-{FORMAT}.sqlite")

    def _open(self):
        if self._db is None and not self._failed:
            try:
                import sqlite3
                os.makedirs(self.directory, exist_ok=True)
                path = self.path
                # the first layout's file (compiled code by the hash of its source), gone
                old = path[:-len(f"-{FORMAT}.sqlite")] + ".sqlite"
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(old + suffix):
                        os.unlink(old + suffix)
                parts = [path + suffix for suffix in ("", "-wal", "-shm")]
                if sum(os.path.getsize(p) for p in parts if os.path.exists(p)) > MAX_BYTES:
                    for p in parts:
                        if os.path.exists(p):
                            os.unlink(p)
                db = sqlite3.connect(path, timeout=5, isolation_level=None,
                                     check_same_thread=False)
                _query(db, "PRAGMA journal_mode=WAL")
                _query(db, "PRAGMA synchronous=OFF")
                # the write-ahead log is cut back after each checkpoint, not left at its peak
                _query(db, f"PRAGMA journal_size_limit={WAL_LIMIT}")
                _query(db, "CREATE TABLE IF NOT EXISTS block (ident BLOB PRIMARY KEY, data BLOB)")
                self._known = {row[0] for row in _query(db, "SELECT ident FROM block")}
                self._db = db
                atexit.register(self.flush)
            except Exception:
                self._failed = True
        return self._db

    def get(self, ident: bytes) -> Optional[Any]:
        db = self._open()
        if db is None or ident not in self._known:
            return None
        data = self._pending.get(ident)
        if data is not None:  # put in this run (a block translated again after eviction)
            return marshal.loads(data)
        try:
            rows = _query(db, "SELECT data FROM block WHERE ident = ?", (ident,))
            return marshal.loads(rows[0][0]) if rows else None
        except Exception:
            self._failed, self._db = True, None
            return None

    def put(self, ident: bytes, value: Any) -> None:
        """Store ``value`` (anything marshal takes: code objects, tuples, ints, str)."""
        if self._open() is None or ident in self._known:
            return
        self._pending[ident] = marshal.dumps(value)
        self._known.add(ident)
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        db = self._open()
        if db is None or not pending:
            return
        cur = db.cursor()  # one cursor: each statement resets the one before
        try:
            cur.execute("BEGIN")
            cur.executemany("INSERT OR IGNORE INTO block VALUES (?, ?)", pending.items())
            cur.execute("COMMIT")
        except Exception:
            self._failed, self._db = True, None
        finally:
            cur.close()


def _query(db, sql: str, params: tuple = ()) -> list:
    """Run one statement to its end and close its cursor.

    A statement left unfinished (PyPy leaves one so until its cursor is collected, even
    a PRAGMA whose result was not read) holds a read transaction open: checkpoints
    cannot empty the log, and a COMMIT on the connection fails."""
    cur = db.cursor()
    try:
        return cur.execute(sql, params).fetchall()
    finally:
        cur.close()


def ident(*parts: bytes) -> bytes:
    """The ident of a value that depends on exactly ``parts``."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(4, "little"))
        h.update(part)
    return h.digest()


_shared: Optional[CodeCache] = None


def shared() -> CodeCache:
    """The process's cache (created on first use, from the environment)."""
    global _shared
    if _shared is None:
        _shared = CodeCache(cache_dir())
    return _shared
