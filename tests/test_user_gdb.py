"""pysystem-user-arm's debugging options against qemu-arm's: ``-g port`` (gdb-multiarch
connects, breaks at main, reads registers, steps, breaks in a callee, reads its
arguments and continues to the exit: its output must be the same under both), and
``-singlestep``/``-one-insn-per-tb``, ``-R``/``-B`` accepted and the program's result
unchanged."""
from __future__ import annotations

import socket
import subprocess
import time

import tools

PROGRAM = r"""
#include <stdio.h>
int add(int a, int b) { return a + b; }
int main(int argc, char **argv) { int x = add(argc, 40); printf("x=%d\n", x); return x; }
"""

# (not cpsr: its GE bits hold what glibc's string functions last compared, which
# includes the random bytes of AT_RANDOM)
GDB_SCRIPT = """\
set pagination off
set confirm off
target remote 127.0.0.1:{port}
break main
continue
info registers r0 r1 sp lr pc
stepi
info registers pc
break add
continue
print a
print b
finish
continue
"""


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _build(tmp_path) -> str:
    gcc = tools.program("arm-linux-gnueabihf-gcc")
    src = tmp_path / "h.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "h"
    subprocess.run([gcc, "-static", "-g", "-O0", "-o", str(exe), str(src)], check=True)
    return str(exe)


def _listening(port: int) -> bool:
    """Whether a socket listens on ``port`` (from /proc/net/tcp, without connecting:
    the emulators take one debugger)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return True
    return False


def _debug(emulator, exe, tmp_path, name):
    """Run ``exe`` under ``emulator -g PORT`` and the gdb script; (gdb's output, the
    program's output, its exit status)."""
    gdb = tools.program("gdb-multiarch")
    port = _free_port()
    script = tmp_path / f"{name}.gdb"
    script.write_text(GDB_SCRIPT.format(port=port))
    proc = subprocess.Popen(emulator + ["-g", str(port), exe], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 300
        while not _listening(port):   # it listens before the first instruction
            assert proc.poll() is None and time.monotonic() < deadline, "no gdb port"
            time.sleep(0.2)
        out = subprocess.run([gdb, "-q", "-nx", "-batch", "-x", str(script), exe],
                             capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
        program_out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out.stdout, program_out, proc.returncode


def test_gdb_session_as_qemu_arm(tmp_path):
    exe = _build(tmp_path)
    qemu = [tools.program("qemu-arm"), "-cpu", "cortex-a9"]
    ours = [tools.guest_script("pysystem-user-arm")]
    q = _debug(qemu, exe, tmp_path, "qemu")
    assert "Breakpoint 2, add (a=1, b=40)" in q[0] and "exited with code 051" in q[0], q
    assert q[1:] == (b"x=41\n", 41)
    p = _debug(ours, exe, tmp_path, "ours")
    assert p[1:] == q[1:]
    assert p[0].splitlines() == q[0].splitlines()


def test_singlestep_and_address_space_options(tmp_path):
    exe = _build(tmp_path)
    qemu = [tools.program("qemu-arm"), "-cpu", "cortex-a9"]
    ours = [tools.guest_script("pysystem-user-arm")]
    # (QEMU 7.2 aborts on an -R that leaves out its ARM vector page at 0xffff0000)
    args = ["-singlestep", "-R", "0xfffff000", "-B", "0x10000000000"]
    q = subprocess.run(qemu + args + [exe], capture_output=True, timeout=60)
    assert (q.stdout, q.returncode) == (b"x=41\n", 41), q
    p = subprocess.run(ours + args + [exe], capture_output=True, timeout=300)
    assert (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
    # QEMU 8.1's spelling of -singlestep, which 7.2 does not know yet
    p = subprocess.run(ours + ["-one-insn-per-tb", exe], capture_output=True, timeout=300)
    assert (p.stdout, p.returncode) == (b"x=41\n", 41)
    for bad in (["-R", "many"], ["-g", "99999"], ["-B", "x"]):
        p = subprocess.run(ours + bad + [exe], capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and len(p.stderr.splitlines()) == 1, (bad, p.stderr)
    with socket.socket() as taken:     # a port in use is a one-line error too
        taken.bind(("", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        p = subprocess.run(ours + ["-g", str(port), exe], capture_output=True, text=True,
                           timeout=60)
    assert p.returncode == 1 and p.stderr.endswith("Address already in use\n"), p.stderr
