"""HMP snapshot commands: savevm [tag], loadvm tag, delvm tag, info snapshots.

The work is pysystem.snapshot's; this module gives it QEMU 7.2's words:

* ``savevm`` without a tag makes ``vm-YYYYMMDDHHMMSS``; a tag already used is
  replaced.  ``loadvm``/``delvm`` take a tag (or an id).  Failures print
  ``Error: ...`` and the VM keeps its state.  ``delvm`` of an unknown tag
  prints nothing, as QEMU's does.
* ``info snapshots`` prints QEMU's table ("List of snapshots present on all
  disks:", columns ID TAG VM SIZE DATE VM CLOCK ICOUNT, the id shown as ``--``
  as QEMU shows it in that list), or "There is no snapshot available."
* Tab completion of tags (argument kind ``snapshot``).
"""
from __future__ import annotations

import time
from typing import List

from pysystem import snapshot
from pysystem.block import size_to_str

from .hmp_table import MonitorError, UsageError, add_completer, command, info_command


def _machine(mon):
    if mon.machine is None:
        raise MonitorError("Error: no machine")
    return mon.machine


def _one_tag(cmd: str, args: List[str]) -> str:
    if not args:
        raise UsageError(cmd, f"{cmd}: string expected")
    if len(args) > 1:
        raise UsageError(cmd, f"{cmd}: extraneous characters at the end of line")
    return args[0]


@command("savevm", "[tag]", "save a VM snapshot. If no tag is provided, a new snapshot is "
         "created", args=("snapshot",))
def _savevm(mon, args: List[str]) -> str:
    if len(args) > 1:
        raise UsageError("savevm", "savevm: extraneous characters at the end of line")
    try:
        snapshot.save(_machine(mon), args[0] if args else None)
    except snapshot.SnapshotError as e:
        raise MonitorError(f"Error: {e}") from None
    return ""


@command("loadvm", "tag", "restore a VM snapshot from its tag", args=("snapshot",))
def _loadvm(mon, args: List[str]) -> str:
    tag = _one_tag("loadvm", args)
    try:
        snapshot.load(_machine(mon), tag)
    except snapshot.SnapshotError as e:
        raise MonitorError(f"Error: {e}") from None
    return ""


@command("delvm", "tag", "delete a VM snapshot from its tag", args=("snapshot",))
def _delvm(mon, args: List[str]) -> str:
    tag = _one_tag("delvm", args)
    machine = _machine(mon)
    try:
        snapshot.delete(machine, tag)
    except snapshot.SnapshotError as e:
        if "does not exist" not in str(e):
            raise MonitorError(f"Error: {e}") from None
    return ""


def _clock_text(ns: int) -> str:
    secs, ms = divmod(ns // 1_000_000, 1000)
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{ms:03d}"


def format_snapshots(infos) -> str:
    """QEMU's ``info snapshots`` text for ``infos`` (SnapshotInfo list)."""
    if not infos:
        return "There is no snapshot available."
    lines = ["List of snapshots present on all disks:",
             f"{'ID':<10}{'TAG':<17}{'VM SIZE':>8}{'DATE':>20}{'VM CLOCK':>13}{'ICOUNT':>11}"]
    for s in infos:
        date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.date_sec))
        lines.append(f"{'--':<9} {s.tag:<16} {size_to_str(s.vm_state_size):>8}{date:>20}"
                     f"{_clock_text(s.vm_clock_ns):>13}{s.icount:>11}")
    return "\n".join(lines)


@info_command("snapshots", "", "show the currently saved VM snapshots")
def _info_snapshots(mon, args: List[str]) -> str:
    if args:
        raise UsageError("info snapshots", "info snapshots: extraneous characters at the end "
                         "of line")
    return format_snapshots(snapshot.list_snapshots(_machine(mon)))


def _complete_tags(mon, words, prefix: str) -> List[str]:
    if mon.machine is None:
        return []
    return sorted(s.tag for s in snapshot.list_snapshots(mon.machine) if s.tag.startswith(prefix))


add_completer("snapshot", _complete_tags)
