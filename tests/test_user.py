"""User mode (pysystem-user-arm/-mipsel/-mips) against Debian's qemu-user as the oracle.

Small static programs are built here with the cross compilers; each runs under both
emulators and the output, the exit status and (for the hello world) the -strace lines
must be the same.  Addresses on the guest stack differ between the two (the initial
stack's layout is not byte-identical), so ``normalise`` replaces the process id and
any number in the stack region (0x40000000-0x40ffffff, hex or decimal) before comparing.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

import tools

ARCHES = {"arm": "arm-linux-gnueabihf-gcc", "mipsel": "mipsel-linux-gnu-gcc",
          "mips": "mips-linux-gnu-gcc"}

PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

static const char ro[] = "read-only";

int main(int argc, char **argv) {
    if (argc < 2) {
        printf("hello, world %d\n", argc);
        return 3;
    }
    if (!strcmp(argv[1], "segv")) {
        printf("writing to .rodata\n");
        fflush(stdout);
        ((volatile char *)ro)[0] = 'X';
        return 0;
    }
    if (!strcmp(argv[1], "enosys")) {
        long r = syscall(3999);
        printf("r=%ld errno=%s\n", r, strerror(errno));
        return 0;
    }
    if (!strcmp(argv[1], "uname")) {
        struct utsname u;
        uname(&u);
        printf("%s %s\n", u.sysname, u.machine);
        return 0;
    }
    if (!strcmp(argv[1], "args")) {
        for (int i = 0; i < argc; i++)
            printf("argv[%d]=%s\n", i, argv[i]);
        printf("FOO=%s BAR=%s\n", getenv("FOO") ? getenv("FOO") : "(unset)",
               getenv("BAR") ? getenv("BAR") : "(unset)");
        return 0;
    }
    return 1;
}
"""


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    """arch -> the static probe program built for it."""
    out = {}
    folder = tmp_path_factory.mktemp("user")
    src = folder / "probe.c"
    src.write_text("#include <stdlib.h>\n" + PROBE_C)
    for arch, cc in ARCHES.items():
        gcc = tools.program(cc)
        exe = folder / f"probe-{arch}"
        subprocess.run([gcc, "-static", "-O2", "-o", str(exe), str(src)], check=True)
        out[arch] = str(exe)
    return out


def run_both(arch, args, options=(), env=None):
    qemu = tools.program(f"qemu-{arch}")
    ours = tools.guest_script(f"pysystem-user-{arch}")
    e = dict(os.environ, **(env or {}))
    q = subprocess.run([qemu, *options, *args], capture_output=True, env=e, timeout=600)
    p = subprocess.run([ours, *options, *args], capture_output=True, env=e, timeout=600)
    return q, p


def normalise(text: str, pids) -> list:
    lines = []
    for line in text.splitlines():
        for pid in pids:
            line = re.sub(rf"\b{pid}\b", "PID", line)
        line = re.sub(r"0x40[0-9a-f]{6}\b", "STACK", line)
        line = re.sub(r"\b10[78]\d{7}\b", lambda m: "STACK" if 0x40000000 <= int(m.group()) < 0x41000000
                      else m.group(), line)
        lines.append(line)
    return lines


@pytest.mark.parametrize("arch", list(ARCHES))
def test_hello_output_and_status(probes, arch):
    q, p = run_both(arch, [probes[arch]])
    assert p.stdout == q.stdout == b"hello, world 1\n"
    assert p.returncode == q.returncode == 3
    assert p.stderr == b""


@pytest.mark.parametrize("arch", list(ARCHES))
def test_hello_strace_format(probes, arch):
    q, p = run_both(arch, [probes[arch]], ["-strace"])
    qpid = re.match(rb"(\d+) ", q.stderr).group(1).decode()
    ppid = re.match(rb"(\d+) ", p.stderr).group(1).decode()
    ql = normalise(q.stderr.decode(), [qpid])
    pl = normalise(p.stderr.decode(), [ppid])
    assert pl == ql
    assert any(line.startswith("PID write(1,") for line in pl)


@pytest.mark.parametrize("arch", list(ARCHES))
def test_write_to_read_only_page_is_sigsegv(probes, arch):
    q, p = run_both(arch, [probes[arch], "segv"])
    assert p.stdout == q.stdout == b"writing to .rodata\n"
    assert p.returncode == q.returncode == -11
    assert p.stderr == q.stderr == b"qemu: uncaught target signal 11 (Segmentation fault) - core dumped\n"


@pytest.mark.parametrize("arch", list(ARCHES))
def test_unknown_syscall_is_enosys_and_logged(probes, arch, tmp_path):
    log = tmp_path / "log"
    q, p = run_both(arch, [probes[arch], "enosys"])
    assert p.stdout == q.stdout == b"r=-1 errno=Function not implemented\n"
    ours = tools.guest_script(f"pysystem-user-{arch}")
    r = subprocess.run([ours, "-d", "unimp", "-D", str(log), probes[arch], "enosys"],
                       capture_output=True, timeout=600)
    assert r.returncode == 0
    assert "Unsupported syscall: " in log.read_text()


@pytest.mark.parametrize("arch", ["arm", "mips"])
def test_uname_args_and_environment_options(probes, arch):
    q, p = run_both(arch, [probes[arch], "uname"])
    assert p.stdout == q.stdout
    opts = ["-0", "zero", "-E", "FOO=1", "-U", "BAR"]
    q, p = run_both(arch, [probes[arch], "args", "a b"], opts, env={"BAR": "2"})
    assert p.stdout == q.stdout
    assert b"argv[0]=zero\n" in p.stdout and b"FOO=1 BAR=(unset)" in p.stdout


def test_bad_input_is_one_line(probes, tmp_path):
    ours = tools.guest_script("pysystem-user-arm")
    cases = [[ours, "-bogus", probes["arm"]], [ours, str(tmp_path / "nope")],
             [ours, probes["mipsel"]], [ours, "-cpu", "nonesuch", probes["arm"]], [ours]]
    for argv in cases:
        r = subprocess.run(argv, capture_output=True, timeout=60)
        assert r.returncode == 1, argv
        assert r.stdout == b""
        assert len(r.stderr.splitlines()) == 1 and b"Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("arch,sysroot", [("arm", "/usr/arm-linux-gnueabihf"),
                                          ("mipsel", "/usr/mipsel-linux-gnu")])
def test_dynamic_program_with_prefix(tmp_path, arch, sysroot):
    """A dynamically linked program finds its loader and libc under -L (the cross
    toolchain's own root); output, status and (ARM) the -strace call sequence (addresses
    and large numbers normalised: the two place mappings differently) match QEMU's.
    On MIPS, QEMU answers prctl(PR_GET_FP_MODE) with FR=1 where pysystem's 24Kf has FR=0,
    so only output and status are compared there."""
    gcc = tools.program(ARCHES[arch])
    src = tmp_path / "dyn.c"
    src.write_text('#include <stdio.h>\nint main(void){puts("dynamic hello");return 5;}\n')
    exe = tmp_path / "dyn"
    subprocess.run([gcc, "-O2", "-o", str(exe), str(src)], check=True)
    cpu = ["-cpu", "cortex-a9"] if arch == "arm" else []
    q, p = run_both(arch, [str(exe)], cpu + ["-L", sysroot, "-strace"])
    assert p.stdout == q.stdout == b"dynamic hello\n"
    assert p.returncode == q.returncode == 5

    def calls(err):
        text = err.decode()
        for pid in set(re.findall(r"^(\d+) ", text, flags=re.M)):   # (4 digits, too)
            text = re.sub(rf"\b{pid}\b", "PID", text)
        text = re.sub(r"^PID ", "", text, flags=re.M)
        text = re.sub(r"0x[0-9a-f]{5,}", "ADDR", text)
        # calls answering with the process's own id: pids may have any number of digits
        text = re.sub(r"^((?:set_tid_address|getpid|gettid|getppid)\(.*\) = )\d+$", r"\1PID",
                      text, flags=re.M)
        return re.sub(r"\d{5,}", "NUM", text).splitlines()
    if arch == "arm":
        assert calls(p.stderr) == calls(q.stderr)


SIGNALS_C = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <sys/wait.h>
static volatile int got;
static sigjmp_buf jb;
static void h(int s) { got = s; printf("handler %d\n", s); }
static void hi(int s, siginfo_t *si, void *uc) { printf("siginfo signo=%d code=%d\n", si->si_signo, si->si_code); }
static void segv(int s, siginfo_t *si, void *uc) { printf("segv at %p\n", si->si_addr); siglongjmp(jb, 1); }
int main(void) {
    struct sigaction sa; memset(&sa, 0, sizeof sa);
    sa.sa_handler = h; sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1); printf("after raise got=%d\n", got);
    sa.sa_sigaction = hi; sa.sa_flags = SA_SIGINFO; sigaction(SIGUSR2, &sa, 0);
    sigset_t m; sigemptyset(&m); sigaddset(&m, SIGUSR2); sigprocmask(SIG_BLOCK, &m, 0);
    raise(SIGUSR2); printf("blocked, not yet\n");
    sigprocmask(SIG_UNBLOCK, &m, 0); printf("unblocked\n");
    sa.sa_sigaction = segv; sa.sa_flags = SA_SIGINFO; sigaction(SIGSEGV, &sa, 0);
    if (!sigsetjmp(jb, 1)) { *(volatile int *)16 = 1; }
    printf("recovered\n");
    double d = 1.5; for (int i = 0; i < 3; i++) { raise(SIGUSR1); d *= 2; } printf("d=%g\n", d);
    signal(SIGCHLD, h);
    pid_t p = fork(); if (!p) _exit(7);
    int st; waitpid(p, &st, 0); printf("child status %d\n", WEXITSTATUS(st));
    return 0;
}
"""


@pytest.mark.parametrize("arch", list(ARCHES))
def test_signal_delivery(tmp_path, arch):
    """Handlers (plain and SA_SIGINFO) run on the architecture's signal frames and return through
    sigreturn/rt_sigreturn: raise, a blocked signal delivered when unblocked, a SIGSEGV
    handler that siglongjmps out, VFP state kept across handlers, SIGCHLD from a forked
    child; the output must be QEMU's."""
    src = tmp_path / "sig.c"
    src.write_text(SIGNALS_C)
    exe = tmp_path / "sig"
    subprocess.run([tools.program(ARCHES[arch]), "-static", "-O2", "-o", str(exe), str(src)],
                   check=True)
    q, p = run_both(arch, [str(exe)])
    assert q.returncode == 0
    assert p.stdout == q.stdout
    assert b"segv at 0x10\nrecovered\n" in p.stdout and b"child status 7" in p.stdout
    assert p.returncode == 0 and p.stderr == b""


THREADS_C = r"""
#include <stdio.h>
#include <pthread.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static long counter, ready;
static void *work(void *a) {
  for (int i = 0; i < 5000; i++) { pthread_mutex_lock(&m); counter++; pthread_mutex_unlock(&m); }
  pthread_mutex_lock(&m); ready++; pthread_cond_signal(&c); pthread_mutex_unlock(&m);
  return a;
}
int main(void) {
  pthread_t th[3];
  for (long i = 0; i < 3; i++) pthread_create(&th[i], 0, work, (void *)i);
  pthread_mutex_lock(&m); while (ready < 3) pthread_cond_wait(&c, &m); pthread_mutex_unlock(&m);
  for (int i = 0; i < 3; i++) pthread_join(th[i], 0);
  printf("counter=%ld ready=%ld\n", counter, ready);
  return 0;
}
"""


@pytest.mark.parametrize("arch", list(ARCHES))
def test_threads_and_futex(tmp_path, arch):
    """pthreads (clone with CLONE_VM, set_tid_address/CLONE_CHILD_CLEARTID, futex wait,
    wake and requeue under a contended mutex and a condition variable) give QEMU's
    result; the scheduling is deterministic, so two runs trace the same calls."""
    src = tmp_path / "thr.c"
    src.write_text(THREADS_C)
    exe = tmp_path / "thr"
    subprocess.run([tools.program(ARCHES[arch]), "-static", "-O2", "-pthread", "-o", str(exe),
                    str(src)], check=True)
    q, p = run_both(arch, [str(exe)])
    assert p.stdout == q.stdout == b"counter=15000 ready=3\n"
    assert p.returncode == q.returncode == 0
    ours = tools.guest_script(f"pysystem-user-{arch}")
    traces = [subprocess.run([ours, "-strace", str(exe)], capture_output=True, timeout=600)
              for _ in range(2)]
    first, second = (re.sub(rb"\d{4,}", b"N", t.stderr) for t in traces)
    assert first == second and b"futex(" in first


SOCKETS_C = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
int main(void) {
  int sv[2]; char buf[64];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  write(sv[0], "ping", 4); int n = read(sv[1], buf, sizeof buf); printf("pair %.*s\n", n, buf);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1, ty; socklen_t l = sizeof ty;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  getsockopt(s, SOL_SOCKET, SO_TYPE, &ty, &l); printf("type stream=%d\n", ty == SOCK_STREAM);
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, (struct sockaddr *)&a, sizeof a); listen(s, 1);
  l = sizeof a; getsockname(s, (struct sockaddr *)&a, &l); printf("bound family=%d\n", a.sin_family);
  if (!fork()) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) { perror("connect"); _exit(1); }
    send(c, "hello tcp", 9, 0); n = recv(c, buf, sizeof buf, 0); printf("client got %.*s\n", n, buf);
    fflush(stdout); _exit(0);
  }
  struct sockaddr_in peer; l = sizeof peer;
  int c = accept(s, (struct sockaddr *)&peer, &l);
  n = recv(c, buf, sizeof buf, 0); printf("server got %.*s from %s\n", n, buf, inet_ntoa(peer.sin_addr));
  fflush(stdout); send(c, "bye", 3, 0);
  int st; wait(&st); printf("child %d\n", WEXITSTATUS(st));
  int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
  a.sin_port = 0; bind(u, (struct sockaddr *)&a, sizeof a); l = sizeof a; getsockname(u, (struct sockaddr *)&a, &l);
  sendto(v, "udp!", 4, 0, (struct sockaddr *)&a, sizeof a);
  n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&peer, &l); printf("udp %.*s family=%d\n", n, buf, peer.sin_family);
  return 0;
}
"""


@pytest.mark.parametrize("arch", ["arm", "mips"])
def test_sockets(tmp_path, arch):
    """A unix socketpair, a TCP server and a forked client on the loopback, UDP between
    two sockets, SOL_SOCKET options (numbered differently on MIPS): QEMU's output."""
    src = tmp_path / "sock.c"
    src.write_text(SOCKETS_C)
    exe = tmp_path / "sock"
    subprocess.run([tools.program(ARCHES[arch]), "-static", "-O2", "-o", str(exe), str(src)],
                   check=True, capture_output=True)
    q, p = run_both(arch, [str(exe)])
    assert q.returncode == 0
    assert p.stdout == q.stdout
    assert b"server got hello tcp from 127.0.0.1" in p.stdout and b"udp udp! family=2" in p.stdout
    assert p.returncode == 0


SCM_RIGHTS_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void send_fds(int s, int *fds, int n) {
    char byte = 'F';
    struct iovec iov = { &byte, 1 };
    char ctl[CMSG_SPACE(3 * sizeof(int))];
    struct msghdr m = { 0 };
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(n * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    printf("sendmsg %zd\n", sendmsg(s, &m, 0));
}

static int recv_fds(int s, int *fds, size_t room) {
    char byte, ctl[64];
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { 0 };
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = room;
    ssize_t r = recvmsg(s, &m, 0);
    int n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        printf("cmsg len=%u level=%d type=%d\n", (unsigned)c->cmsg_len, c->cmsg_level, c->cmsg_type);
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(c), n * sizeof(int));
        }
    }
    printf("recvmsg %zd byte=%c controllen=%u ctrunc=%d fds=%d\n", r, byte,
           (unsigned)m.msg_controllen, !!(m.msg_flags & MSG_CTRUNC), n);
    return n;
}

int main(int argc, char **argv) {
    int sv[2], p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    int f = open(argv[1], O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(f, "file contents\n", 14);
    lseek(f, 0, SEEK_SET);
    if (fork() == 0) {                 /* the child gets a file and a pipe's write end */
        int fds[3], got = recv_fds(sv[1], fds, sizeof(fds) + 64);
        char buf[32] = { 0 };
        if (got == 2) {
            read(fds[0], buf, 13);
            printf("child read '%s' through a passed descriptor\n", buf);
            write(fds[1], "via pipe", 8);
        }
        fflush(stdout);
        _exit(0);
    }
    int two[2] = { f, p[1] };
    send_fds(sv[0], two, 2);
    wait(0);
    char buf[16] = { 0 };
    read(p[0], buf, 8);
    printf("parent got '%s'\n", buf);
    /* a control buffer with room for no descriptor: MSG_CTRUNC */
    send_fds(sv[0], two, 1);
    int fds[3];
    recv_fds(sv[1], fds, sizeof(struct cmsghdr));
    return 0;
}
"""


@pytest.mark.parametrize("arch", ["arm", "mips"])
def test_scm_rights(tmp_path, arch):
    """Descriptors passed over a unix socket (SCM_RIGHTS) to a forked child, which
    reads the file and writes the pipe it got: QEMU's output.  A control buffer with
    room for no descriptor is the kernel's business: the host kernel (the program built
    natively) is the oracle there, as QEMU 7.2 returns a record without the descriptor
    and loses the MSG_CTRUNC flag."""
    src = tmp_path / "scm.c"
    src.write_text(SCM_RIGHTS_C)
    exe = tmp_path / "scm"
    subprocess.run([tools.program(ARCHES[arch]), "-static", "-O2", "-o", str(exe), str(src)],
                   check=True, capture_output=True)
    q, p = run_both(arch, [str(exe), str(tmp_path / "scm.txt")])
    assert q.returncode == 0
    assert b"child read 'file contents' through" in q.stdout, q.stdout
    assert b"parent got 'via pipe'" in q.stdout
    native = tmp_path / "scm-native"
    subprocess.run([tools.program("gcc", "cc"), "-O2", "-o", str(native), str(src)],
                   check=True, capture_output=True)
    n = subprocess.run([str(native), str(tmp_path / "scm.txt")], capture_output=True,
                       timeout=60)
    assert n.stdout.splitlines()[-1] == b"recvmsg 1 byte=F controllen=0 ctrunc=1 fds=0"
    # (QEMU: a "cmsg len=12" record and the recvmsg line; the kernel: no record)
    assert p.stdout.splitlines()[:-1] == q.stdout.splitlines()[:-2]
    assert p.stdout.splitlines()[-1] == n.stdout.splitlines()[-1]
    assert p.returncode == 0


TERMIOS_C = r"""
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

static void show(const char *what) {
    struct termios t;
    if (tcgetattr(0, &t)) { perror("tcgetattr"); return; }
    printf("%s: eof=%d eol=%d eol2=%d min=%d time=%d intr=%d werase=%d icanon=%d echo=%d "
           "iexten=%d tostop=%d\n", what, t.c_cc[VEOF], t.c_cc[VEOL], t.c_cc[VEOL2],
           t.c_cc[VMIN], t.c_cc[VTIME], t.c_cc[VINTR], t.c_cc[VWERASE], !!(t.c_lflag & ICANON),
           !!(t.c_lflag & ECHO), !!(t.c_lflag & IEXTEN), !!(t.c_lflag & TOSTOP));
}

int main(void) {
    struct termios t;
    show("initial");
    tcgetattr(0, &t);
    t.c_lflag &= ~(ICANON | ECHO | IEXTEN);
    t.c_lflag |= TOSTOP;
    t.c_cc[VMIN] = 3; t.c_cc[VTIME] = 7; t.c_cc[VEOF] = 5; t.c_cc[VEOL] = 9; t.c_cc[VEOL2] = 11;
    printf("tcsetattr %d\n", tcsetattr(0, TCSANOW, &t));
    show("after");
    return 0;
}
"""


@pytest.mark.parametrize("arch", ["arm", "mipsel"])
def test_termios_on_a_pty(tmp_path, arch):
    """tcgetattr/tcsetattr on a pseudo-terminal: the control characters and local flags
    the program sets reach the host's terminal where they belong (MIPS numbers c_cc and
    IEXTEN/TOSTOP differently), and it reads back what QEMU's program reads."""
    import pty
    import termios
    src = tmp_path / "tio.c"
    src.write_text(TERMIOS_C)
    exe = tmp_path / "tio"
    subprocess.run([tools.program(ARCHES[arch]), "-static", "-O2", "-o", str(exe), str(src)],
                   check=True, capture_output=True)
    results = []
    for cmd in ([tools.program(f"qemu-{arch}")], [tools.guest_script(f"pysystem-user-{arch}")]):
        master, slave = pty.openpty()
        try:
            r = subprocess.run(cmd + [str(exe)], stdin=slave, capture_output=True, timeout=300)
            iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(slave)
        finally:
            os.close(master)
            os.close(slave)
        # with ICANON off CPython gives VMIN and VTIME as ints, PyPy as 1-byte bytes
        vmin, vtime = (v[0] if isinstance(v, bytes) else v
                       for v in (cc[termios.VMIN], cc[termios.VTIME]))
        host = (vmin, vtime, cc[termios.VEOF], cc[termios.VEOL],
                cc[termios.VEOL2], bool(lflag & termios.ICANON), bool(lflag & termios.IEXTEN),
                bool(lflag & termios.TOSTOP))
        results.append((r.stdout, r.returncode, host))
    q, p = results
    assert q[2] == (3, 7, b"\x05", b"\x09", b"\x0b", False, False, True), q
    assert b"after: eof=5 eol=9 eol2=11 min=3 time=7" in q[0], q
    assert p == q


SHARED_MAP_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void show(int fd, const char *when) {
    char a[6] = { 0 }, b[6] = { 0 };
    pread(fd, a, 5, 0);
    pread(fd, b, 5, 4096);
    printf("%s: '%s' '%s'\n", when, a, b);
}

int main(int argc, char **argv) {
    int fd = open(argv[1], O_RDWR);
    char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *q = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    memcpy(p, "first", 5);
    memcpy(p + 4096, "secnd", 5);
    memcpy(q + 100, "private", 7);
    printf("msync %d\n", msync(p, 4096, MS_SYNC));
    show(fd, "after msync of page 0");
    printf("munmap %d\n", munmap(p, 8192));
    show(fd, "after munmap");
    p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    printf("sees '%.5s'\n", p);
    memcpy(p + 10, "at exit", 7);
    return 0;
}
"""


@pytest.mark.parametrize("arch", ["arm", "mipsel"])
def test_map_shared_file_writes_reach_the_file(tmp_path, arch):
    """MAP_SHARED writes reach the file at msync, munmap and exit; MAP_PRIVATE ones do
    not: the program's output and the file's bytes afterwards as under qemu-user."""
    src = tmp_path / "shm.c"
    src.write_text(SHARED_MAP_C)
    exe = tmp_path / "shm"
    subprocess.run([tools.program(ARCHES[arch]), "-static", "-O2", "-o", str(exe), str(src)],
                   check=True, capture_output=True)
    results = []
    for cmd in ([tools.program(f"qemu-{arch}")], [tools.guest_script(f"pysystem-user-{arch}")]):
        data = tmp_path / "data.bin"
        data.write_bytes(b"." * 9000)
        r = subprocess.run(cmd + [str(exe), str(data)], capture_output=True, timeout=300)
        results.append((r.stdout, r.returncode, data.read_bytes()))
    q, p = results
    assert b"after munmap: 'first' 'secnd'" in q[0] and q[2][4096 + 10:4096 + 17] == b"at exit"
    assert b"private" not in q[2]
    assert p == q
