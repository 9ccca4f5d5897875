"""Issue 5's acceptance: a Debian shell saved through QMP, restored by a new process.

1. Boot Debian's armmp kernel on vexpress-a9 (-m 256M) to the busybox shell, with
   a QMP socket; save a snapshot with ``snapshot-save`` through the qemu.qmp client
   library; run a command; quit through QMP.
2. A new process started with ``-loadvm`` is at the same shell at once: the same
   command gives byte-identical serial output.
3. In that process, ``loadvm`` through QMP's human-monitor-command measures the
   restore of a live 256 MiB machine (the figure for the closing note; printed,
   and it must be under 2 s).
"""
from __future__ import annotations

import asyncio
import time

import pytest

from guest_session import GuestSession

pytestmark = [pytest.mark.slow, pytest.mark.network]

from tools import module

qmp_lib = module("qemu.qmp")

from test_boot_vexpress import BOOT_TIMEOUT, PROMPT, _guest  # noqa: E402

COMMAND = "echo $((6*7)); ls /; cat /proc/version; uname -a | wc -c"
RESTORE_LIMIT = 2.0


def _args(g, snapdir, sock):
    return ["-M", f"vexpress-a9,snapshot-dir={snapdir}", "-m", "256M",
            "-kernel", str(g.kernel), "-dtb", str(g.dtb), "-initrd", str(g.initrd),
            "-append", "console=ttyAMA0", "-nographic", "-rtc", "base=2026-01-01T00:00:00",
            "-qmp", f"unix:{sock},server=on,wait=off"]


async def _qmp(sock, *commands):
    """Run QMP commands in order; a snapshot-* job is waited for and dismissed.
    Returns each command's result and, for jobs, the host seconds the job took."""
    client = qmp_lib.QMPClient("pysystem-test")
    for _ in range(100):
        try:
            await client.connect(str(sock))
            break
        except Exception:  # noqa: BLE001 - the socket may not be there yet
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("could not connect to QMP")
    out = []
    quitting = False
    try:
        for name, args in commands:
            if name.startswith("snapshot-"):
                with client.listener("JOB_STATUS_CHANGE") as events:
                    t0 = time.monotonic()
                    await client.execute(name, args)
                    async for ev in events:
                        if ev["data"]["id"] == args["job-id"] and \
                                ev["data"]["status"] == "concluded":
                            break
                    took = time.monotonic() - t0
                jobs = await client.execute("query-jobs")
                job = next(j for j in jobs if j["id"] == args["job-id"])
                assert "error" not in job, job
                await client.execute("job-dismiss", {"id": args["job-id"]})
                out.append(took)
            elif name == "quit":
                quitting = True
                await client.execute("quit")
                out.append(None)
            else:
                t0 = time.monotonic()
                result = await client.execute(name, args)
                out.append((result, time.monotonic() - t0))
    finally:
        try:
            await client.disconnect()
        except EOFError:   # the emulator may be gone already after quit
            if not quitting:
                raise
    return out


def _run_command(s: GuestSession) -> bytes:
    """Type COMMAND; the exact bytes the console printed up to and with the next prompt."""
    mark = s.send(COMMAND)
    end = s.expect(r"/ # ", 300, s.expect(r"Linux version", 300, mark).end())
    return bytes(s.output[mark:end.end()])


def test_qmp_savevm_then_loadvm_in_a_new_process(tmp_path):
    g = _guest()
    snapdir = tmp_path / "snapshots"
    sock = tmp_path / "qmp.sock"
    first = GuestSession("arm", _args(g, snapdir, sock), log_path=str(tmp_path / "first.log"))
    try:
        first.expect(PROMPT, BOOT_TIMEOUT)
        first.command("")
        asyncio.run(_qmp(sock, ("snapshot-save", {"job-id": "save0", "tag": "shell",
                                                  "vmstate": "disk0", "devices": ["disk0"]})))
        before = _run_command(first)
        asyncio.run(_qmp(sock, ("quit", {})))
        assert first.wait(60) == 0
    finally:
        first.close()
    assert b"42" in before and b"Linux version" in before
    assert (snapdir / "shell.pysnap").is_file()

    sock2 = tmp_path / "qmp2.sock"
    started = time.monotonic()
    second = GuestSession("arm", _args(g, snapdir, sock2) + ["-loadvm", "shell"],
                          log_path=str(tmp_path / "second.log"))
    try:
        after = _run_command(second)
        to_shell = time.monotonic() - started
        assert after == before
        (result, took), = asyncio.run(_qmp(sock2, ("human-monitor-command",
                                              {"command-line": "loadvm shell"})))
        assert result == ""
        again = _run_command(second)
        assert again == before
        asyncio.run(_qmp(sock2, ("quit", {})))
        second.wait(60)
    finally:
        second.close()
    print(f"\nnew process to the restored shell's answer: {to_shell:.2f} s; "
          f"loadvm of the live 256 MiB machine: {took:.2f} s")
    assert took < RESTORE_LIMIT
