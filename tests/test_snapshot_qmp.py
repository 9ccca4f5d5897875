"""snapshot-save through the qemu.qmp client library on a running bare-metal guest, then
-loadvm in a new process: the new process prints exactly what the first printed after
the save point (the acceptance test's path, on a guest that takes seconds, not minutes)."""
from __future__ import annotations

import asyncio
import subprocess
import time

from test_snapshot import board, guest  # noqa: F401  (fixtures)
from tools import module, script

qmp_lib = module("qemu.qmp")

from test_snapshot_debian import _qmp  # noqa: E402


def test_qmp_save_mid_run_then_loadvm(board, guest, tmp_path):  # noqa: F811
    kernel, dtb = guest
    sock = tmp_path / "qmp.sock"
    out = tmp_path / "one.txt"
    common = [script("pysystem-arm"), "-M", f"vexpress-a9,snapshot-dir={tmp_path}",
              "-kernel", kernel, "-dtb", dtb, "-display", "none"]
    # sleep=on: the idle guest keeps pace with host time (6 s for its 3000 ticks), so
    # the save below lands mid-run however loaded the host is; guest time is unchanged
    first = subprocess.Popen(common + ["-S", "-icount", "shift=3,sleep=on",
                                       "-serial", f"file:{out}", "-qmp",
                                       f"unix:{sock},server=on,wait=off"],
                             stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        asyncio.run(_qmp(sock, ("cont", {})))
        time.sleep(0.3)
        asyncio.run(_qmp(sock, ("snapshot-save", {"job-id": "j0", "tag": "mid",
                                                  "vmstate": "d", "devices": ["d"]})))
        assert first.wait(120) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    whole = out.read_bytes()
    second = subprocess.run(common + ["-serial", "stdio", "-loadvm", "mid"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr
    rest = second.stdout
    assert rest.endswith(b"\n") and whole.endswith(rest)
    assert 0 < len(rest) < len(whole), "the save did not land mid-run"
