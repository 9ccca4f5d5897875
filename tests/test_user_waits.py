"""System calls that wait, against qemu-user (qemu-arm, qemu-mipsel): futex waits with
a timeout end with ETIMEDOUT (pthread_mutex_timedlock, sem_timedwait,
pthread_cond_timedwait, raw FUTEX_WAIT and FUTEX_WAIT_BITSET on both clocks, with a
second thread and alone), and a signal for a guest handler ends a wait in the host
(read, poll, nanosleep, pause, waitpid; sigsuspend, pselect and ppoll with their own
masks: EINTR, or a restart under SA_RESTART) whether it comes from a timer or another
process; a blocking connect (a unix listener's full backlog), select (with and without
a timeout) and a pipe write bigger than the pipe wait in the scheduler while the other
threads run.  The old code hung on all three programs (a timeout never ran out; the
host blocked in read() with the handler pending; the host blocked in connect or write
while the thread that would unblock it could not run), and had no select."""
from __future__ import annotations

import pytest

from user_oracle import ARCHES, build_static, run_both

FUTEX_PROGRAM = r"""
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static int word;
static volatile int spins, timed_done, ready;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
static struct timespec after(clockid_t clk, long ms) {
    struct timespec t;
    clock_gettime(clk, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += ms % 1000 * 1000000;
    t.tv_sec += t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}
static void report(const char *what, int err, double t0, long ms) {
    double el = now() - t0;
    printf("%s: %s, waited %s\n", what, err ? strerror(err) : "ok",
           el >= ms / 1000.0 - 0.002 ? "long enough" : "too little");
}
static long futex(int *a, int op, int v, struct timespec *t, int v3) {
    return syscall(SYS_futex, a, op, v, t, 0, v3);
}
static void *waiter(void *arg) {
    double t0 = now();
    struct timespec ts = after(CLOCK_REALTIME, 80);
    report("mutex_timedlock", pthread_mutex_timedlock(&m, &ts), t0, 80);
    t0 = now();
    ts = after(CLOCK_REALTIME, 60);
    report("sem_timedwait", sem_timedwait(&sem, &ts) ? errno : 0, t0, 60);
    t0 = now();
    struct timespec rel = {0, 50000000};
    report("FUTEX_WAIT", futex(&word, FUTEX_WAIT_PRIVATE, 0, &rel, 0) ? errno : 0, t0, 50);
    t0 = now();
    ts = after(CLOCK_MONOTONIC, 40);
    report("FUTEX_WAIT_BITSET monotonic",
           futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, -1) ? errno : 0, t0, 40);
    t0 = now();
    ts = after(CLOCK_REALTIME, 40);
    report("FUTEX_WAIT_BITSET realtime",
           futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts, -1) ? errno : 0,
           t0, 40);
    timed_done = 1;
    pthread_mutex_lock(&m);   /* main has released it */
    ts = after(CLOCK_REALTIME, 70);
    t0 = now();
    report("cond_timedwait", pthread_cond_timedwait(&cv, &m, &ts), t0, 70);
    ts = after(CLOCK_REALTIME, 10000);
    ready = 1;
    int r = pthread_cond_timedwait(&cv, &m, &ts);   /* main signals it */
    printf("cond_timedwait signalled: %s\n", r ? strerror(r) : "ok");
    pthread_mutex_unlock(&m);
    return arg;
}
int main(void) {
    pthread_t t;
    sem_init(&sem, 0, 0);
    pthread_mutex_lock(&m);
    pthread_create(&t, 0, waiter, 0);
    while (!timed_done)      /* keep the mutex while the waiter's timed waits run out */
        spins++;
    pthread_mutex_unlock(&m);
    for (;;) {               /* until the waiter waits on the condition variable */
        pthread_mutex_lock(&m);
        if (ready) {
            pthread_cond_signal(&cv);
            pthread_mutex_unlock(&m);
            break;
        }
        pthread_mutex_unlock(&m);
        sched_yield();
    }
    pthread_join(t, 0);
    /* one thread only: the timeouts still take their time */
    double t0 = now();
    struct timespec ts = after(CLOCK_REALTIME, 50);
    report("main sem_timedwait", sem_timedwait(&sem, &ts) ? errno : 0, t0, 50);
    t0 = now();
    struct timespec rel = {0, 30000000};
    report("main FUTEX_WAIT", futex(&word, FUTEX_WAIT_PRIVATE, 0, &rel, 0) ? errno : 0, t0, 30);
    return 0;
}
"""

SIGNAL_PROGRAM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/select.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int p[2];
static volatile int got;

static void on_sig(int s) { got = s; }
static void on_sig_write(int s) { got = s; write(p[1], "r", 1); }
static void handle(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigaction(sig, &sa, 0);
}
static void timer(int ms) {   /* periodic: a tick before the call is not the last */
    struct itimerval it = {{0, ms * 1000}, {0, ms * 1000}};
    got = 0;
    setitimer(ITIMER_REAL, &it, 0);
}
static void result(const char *what, long n) {
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, 0);
    printf("%s: %ld (%s), handler %s\n", what, n, n < 0 ? strerror(errno) : "-",
           got == SIGALRM ? "SIGALRM" : got == SIGUSR1 ? "SIGUSR1" : got ? "other" : "none");
}
static pid_t kill_me_later(int ms, int status) {
    pid_t c = fork();
    if (c == 0) {
        usleep(ms * 1000);
        kill(getppid(), SIGUSR1);
        usleep(ms * 1000);
        _exit(status);
    }
    got = 0;
    return c;
}
int main(void) {
    char c = '-';
    int st = 0;
    pipe(p);
    handle(SIGALRM, on_sig, 0);
    timer(200);
    result("read", read(p[0], &c, 1));
    handle(SIGALRM, on_sig_write, SA_RESTART);
    timer(200);
    result("read with SA_RESTART", read(p[0], &c, 1));
    printf("it read %c\n", c);
    handle(SIGALRM, on_sig, SA_RESTART);
    timer(200);
    struct pollfd pf = {p[0], POLLIN, 0};
    result("poll (never restarted)", poll(&pf, 1, 5000));
    timer(200);
    struct timespec ts = {5, 0};
    result("nanosleep", nanosleep(&ts, 0));
    timer(200);
    result("pause", pause());
    handle(SIGUSR1, on_sig, 0);
    pid_t child = kill_me_later(200, 3);
    result("read, kill from a child", read(p[0], &c, 1));
    result("its status", waitpid(child, &st, 0) == child ? WEXITSTATUS(st) : -1);
    child = kill_me_later(200, 5);
    result("waitpid without SA_RESTART", waitpid(child, &st, 0));
    result("waitpid again", waitpid(child, &st, 0) == child ? WEXITSTATUS(st) : -1);
    handle(SIGUSR1, on_sig, SA_RESTART);
    child = kill_me_later(200, 4);
    result("waitpid with SA_RESTART", waitpid(child, &st, 0) == child ? WEXITSTATUS(st) : -1);
    sigset_t block, none, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, 0);
    child = kill_me_later(100, 6);   /* blocked until sigsuspend lets it in */
    result("sigsuspend", sigsuspend(&none));
    sigprocmask(SIG_BLOCK, 0, &now);
    printf("SIGUSR1 blocked again: %d\n", sigismember(&now, SIGUSR1));
    waitpid(child, &st, 0);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    child = kill_me_later(100, 7);
    result("pselect with SIGUSR1 let in", pselect(p[0] + 1, &r, 0, 0, 0, &none));
    waitpid(child, &st, 0);
    child = kill_me_later(100, 8);
    result("ppoll with SIGUSR1 let in", ppoll(&pf, 1, 0, &none));
    sigprocmask(SIG_BLOCK, 0, &now);
    printf("SIGUSR1 blocked again: %d\n", sigismember(&now, SIGUSR1));
    waitpid(child, &st, 0);
    return 0;
}
"""


IO_PROGRAM = r"""
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define BIG 200000
static int sel[2], idle[2], big[2], lsock;
static struct sockaddr_un addr;
static int connected[2], selected, timed_out, wrote;
static char buf[BIG];

static void *connector(void *arg) {
    for (int i = 0; i < 2; i++) {   /* the second waits for main's accept (backlog 0) */
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        connected[i] = connect(c, (struct sockaddr *)&addr, sizeof addr) == 0;
        write(c, i ? "2" : "1", 1);
    }
    return arg;
}
static void *selector(void *arg) {
    fd_set r;
    struct timeval tv = {0, 50000};
    FD_ZERO(&r);
    FD_SET(idle[0], &r);     /* nobody writes it */
    timed_out = select(idle[0] + 1, &r, 0, 0, &tv) == 0 && !FD_ISSET(idle[0], &r);
    FD_ZERO(&r);
    FD_SET(sel[0], &r);
    selected = select(sel[0] + 1, &r, 0, 0, 0) == 1 && FD_ISSET(sel[0], &r);
    return arg;
}
static void *writer(void *arg) {
    for (int i = 0; i < BIG; i++)
        buf[i] = i * 7;
    wrote = write(big[1], buf, BIG);
    return arg;
}
int main(void) {
    pthread_t t[3];
    unsigned sum = 0, i;
    pipe(sel);
    pipe(idle);
    pipe(big);
    lsock = socket(AF_UNIX, SOCK_STREAM, 0);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "sock-%d", getpid());
    bind(lsock, (struct sockaddr *)&addr, sizeof addr);
    listen(lsock, 0);
    pthread_create(&t[0], 0, connector, 0);
    pthread_create(&t[1], 0, selector, 0);
    pthread_create(&t[2], 0, writer, 0);
    for (i = 0; i < 200000; i++)
        sum += i * i ^ (sum >> 3);
    for (i = 0; i < 2; i++) {
        char c = '?';
        int s = accept(lsock, 0, 0);
        read(s, &c, 1);
        printf("accepted %c\n", c);
    }
    pthread_join(t[0], 0);
    printf("connected %d %d\n", connected[0], connected[1]);
    write(sel[1], "x", 1);
    pthread_join(t[1], 0);
    printf("select: timed out %d, then ready %d\n", timed_out, selected);
    unsigned got = 0, check = 0;
    while (got < BIG) {
        char chunk[3000];
        int n = read(big[0], chunk, sizeof chunk);
        if (n <= 0)
            break;
        for (int k = 0; k < n; k++)
            check = check * 31 + (unsigned char)chunk[k];
        got += n;
    }
    pthread_join(t[2], 0);
    printf("big write: wrote %d, read %u, check %u\n", wrote, got, check);
    printf("main: sum %u\n", sum);
    unlink(addr.sun_path);
    return 0;
}
"""


def _same(arch, exe, expect):
    q, p = run_both(arch, exe, expect)
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode), p.stderr


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_futex_timeouts(tmp_path, arch):
    _same(arch, build_static(tmp_path, arch, FUTEX_PROGRAM, "futex", ["-pthread"]),
          "main FUTEX_WAIT: Connection timed out")


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_signal_ends_a_host_wait(tmp_path, arch):
    _same(arch, build_static(tmp_path, arch, SIGNAL_PROGRAM, "sig"),
          "waitpid with SA_RESTART: 4")


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_connect_select_big_write_let_others_run(tmp_path, arch):
    _same(arch, build_static(tmp_path, arch, IO_PROGRAM, "io", ["-pthread"]), "main: sum")
