"""Snapshots without qcow2: savevm/loadvm/delvm/info snapshots of the whole machine.

Public interface (the HMP commands, QMP's snapshot-* jobs and ``-loadvm`` call these)::

    save(machine, tag=None) -> SnapshotInfo      # tag None: QEMU's "vm-YYYYMMDDHHMMSS"
    load(machine, tag) -> SnapshotInfo           # validates everything, then restores
    delete(machine, tag) -> SnapshotInfo
    list_snapshots(machine) -> [SnapshotInfo]    # sorted by id
    store_dir(machine) -> str                    # where this machine's snapshots live

Every failure raises ``SnapshotError`` with a one-line message; a failed ``load``
leaves the running machine untouched.  ``SnapshotInfo`` has ``id`` (str), ``tag``,
``vm_state_size`` (bytes), ``date_sec``/``date_nsec`` (host time of the save),
``vm_clock_ns`` (guest time), ``icount`` and ``path``.

(work in progress: the implementation follows)
"""
from __future__ import annotations

__all__ = ["SnapshotError", "SnapshotInfo", "save", "load", "delete", "list_snapshots",
           "store_dir"]


class SnapshotError(Exception):
    """A snapshot cannot be saved, loaded or deleted; the message is one line."""
