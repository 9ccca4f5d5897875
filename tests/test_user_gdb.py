"""pysystem-user-arm's debugging options against qemu-arm's: ``-g port`` (gdb-multiarch
connects, breaks at main, reads registers, steps, breaks in a callee, reads its
arguments and continues to the exit: its output must be the same under both; signals
stop in gdb before delivery, ``continue`` delivers and ``signal 0`` discards them; a
stop names the thread that stopped and ``info threads`` shows each thread), and
``-singlestep``/``-one-insn-per-tb``, ``-R``/``-B`` accepted and the program's result
unchanged."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time

import pytest

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


SIGNAL_PROGRAM = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile int got;
static void on_usr1(int sig) { got = got * 10 + 1; }
int main(void) {
    signal(SIGUSR1, on_usr1);
    kill(getpid(), SIGUSR1);
    printf("after first: %d\n", got);
    kill(getpid(), SIGUSR1);
    printf("after second: %d\n", got);
    return got;
}
"""

# the first SIGUSR1 stops in gdb and is delivered by ``continue``, the second is
# discarded by ``signal 0``
SIGNAL_SCRIPT = """\
set pagination off
set confirm off
handle SIGUSR1 stop print
target remote 127.0.0.1:{port}
continue
info registers pc
continue
signal 0
"""

# gdb passes the signals on by itself
NOSTOP_SCRIPT = """\
set pagination off
set confirm off
handle SIGUSR1 nostop noprint pass
target remote 127.0.0.1:{port}
continue
"""


def _build(tmp_path, program: str = PROGRAM, name: str = "h",
           gcc_name: str = "arm-linux-gnueabihf-gcc", flags=()) -> str:
    gcc = tools.program(gcc_name)
    src = tmp_path / f"{name}.c"
    src.write_text(program)
    exe = tmp_path / name
    subprocess.run([gcc, "-static", "-g", "-O0", *flags, "-o", str(exe), str(src)],
                   check=True)
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


def _debug(emulator, exe, tmp_path, name, gdb_script: str = GDB_SCRIPT):
    """Run ``exe`` under ``emulator -g PORT`` and the gdb script; (gdb's output, the
    program's output, its exit status)."""
    gdb = tools.program("gdb-multiarch")
    port = _free_port()
    script = tmp_path / f"{name}.gdb"
    script.write_text(gdb_script.format(port=port))
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


@pytest.mark.parametrize("arch", ["arm", "mipsel"])
def test_signals_stop_in_gdb_as_qemu(tmp_path, arch):
    gcc = {"arm": "arm-linux-gnueabihf-gcc", "mipsel": "mipsel-linux-gnu-gcc"}[arch]
    exe = _build(tmp_path, SIGNAL_PROGRAM, "sig", gcc)
    qemu = [tools.program(f"qemu-{arch}")] + (["-cpu", "cortex-a9"] if arch == "arm" else [])
    ours = [tools.guest_script(f"pysystem-user-{arch}")]
    q = _debug(qemu, exe, tmp_path, "qemu", SIGNAL_SCRIPT)
    assert q[0].count("Program received signal SIGUSR1") == 2, q
    assert q[1:] == (b"after first: 1\nafter second: 1\n", 1), q
    p = _debug(ours, exe, tmp_path, "ours", SIGNAL_SCRIPT)
    assert (p[0].splitlines(), p[1:]) == (q[0].splitlines(), q[1:])
    q = _debug(qemu, exe, tmp_path, "qemu2", NOSTOP_SCRIPT)
    assert q[1:] == (b"after first: 1\nafter second: 11\n", 11), q
    p = _debug(ours, exe, tmp_path, "ours2", NOSTOP_SCRIPT)
    assert (p[0].splitlines(), p[1:]) == (q[0].splitlines(), q[1:])


THREADS_PROGRAM = r"""
#include <pthread.h>
#include <stdio.h>
static volatile int v;
int work(int n) { v += n; return v; }
static void *worker(void *arg) { work(5); return arg; }
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, worker, 0);
    pthread_join(t, 0);
    printf("v=%d\n", work(1));
    return 0;
}
"""

# the first stop is in the second thread: gdb switches to it, and main waits in
# pthread_join's system call
THREADS_SCRIPT = """\
set pagination off
set confirm off
target remote 127.0.0.1:{port}
break work
continue
info threads
print n
continue
info threads
print n
continue
"""


def _without_tids(text: str) -> list:
    """gdb's lines with the thread ids (host tids under QEMU) and the spacing that
    depends on their width left out."""
    return [re.sub(r" +", " ", re.sub(r"Thread 1\.\d+", "Thread 1.N", line))
            for line in text.splitlines()]


def test_gdb_names_the_thread_that_stopped(tmp_path):
    """Stop replies name the thread that stopped (p01.<tid>), the thread list holds
    every guest thread, and gdb reads each one's registers, as with qemu-arm -g."""
    exe = _build(tmp_path, THREADS_PROGRAM, "thr", "arm-linux-gnueabihf-gcc", ["-pthread"])
    q = _debug([tools.program("qemu-arm"), "-cpu", "cortex-a9"], exe, tmp_path, "qemu",
               THREADS_SCRIPT)
    assert "Thread 2 hit Breakpoint 1, work (n=5)" in q[0] and "(CPU#1 [running])" in q[0], q
    p = _debug([tools.guest_script("pysystem-user-arm")], exe, tmp_path, "ours",
               THREADS_SCRIPT)
    assert (_without_tids(p[0]), p[1:]) == (_without_tids(q[0]), q[1:])


SEGV_PROGRAM = r"""
#include <stdio.h>
int main(void) {
    volatile int *p = (int *)16;
    printf("before\n");
    fflush(stdout);
    return *p;
}
"""

SEGV_SCRIPT = """\
set pagination off
set confirm off
target remote 127.0.0.1:{port}
continue
info registers pc
continue
"""


def test_fault_stops_in_gdb_as_qemu(tmp_path):
    """The CPU's own SIGSEGV stops in gdb at the faulting instruction first; continuing
    delivers it and the program dies of it."""
    exe = _build(tmp_path, SEGV_PROGRAM, "segv")
    q = _debug([tools.program("qemu-arm"), "-cpu", "cortex-a9"], exe, tmp_path, "qemu",
               SEGV_SCRIPT)
    assert "Program received signal SIGSEGV" in q[0] and "terminated with signal SIGSEGV" \
        in q[0], q
    p = _debug([tools.guest_script("pysystem-user-arm")], exe, tmp_path, "ours", SEGV_SCRIPT)
    assert (p[0].splitlines(), p[1:]) == (q[0].splitlines(), q[1:])


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
    p = subprocess.run(ours + [exe], capture_output=True, timeout=300,
                       env=dict(os.environ, PYSYSTEM_SINGLESTEP="1"))
    assert (p.stdout, p.returncode) == (b"x=41\n", 41)
    # what QEMU 7.2 refuses, with its messages: a reservation below the program's end
    # plus 16M of heap, one of 4G or more, an unaligned guest base; -R 0 reserves nothing
    for args, status in ((["-R", "1M"], 1), (["-R", "4G"], 1), (["-B", "0x1001"], 1),
                         (["-R", "0"], 41)):
        q = subprocess.run(qemu + args + [exe], capture_output=True, text=True, timeout=60)
        assert q.returncode == status and (status == 41) != bool(q.stderr), (args, q)
        p = subprocess.run(ours + args + [exe], capture_output=True, text=True, timeout=300)
        assert (p.stdout, p.stderr.replace("pysystem-user-arm: ", ""), p.returncode) == \
            (q.stdout, q.stderr.replace("qemu-arm: ", ""), q.returncode), args
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
