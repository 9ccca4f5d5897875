"""A guest thread blocked in a host system call does not hold up the process's other
threads (pysystem/user/threads.py): one thread waits in read() on a pipe, one in poll()
on another, one in nanosleep(), one in accept(), one in waitpid() for a child that
waits for a pipe, while the main thread computes and then writes the pipes and connects; the output must be qemu-arm's and qemu-mipsel's
(with the host blocking every thread the program would hang)."""
from __future__ import annotations

import pytest

from user_oracle import ARCHES, build_static, run_both

PROGRAM = r"""
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int p1[2], p2[2], p3[2], lsock;
static volatile int slept;
static struct sockaddr_in addr;

static void *reader(void *arg) {
    unsigned v;
    int n = read(p1[0], &v, sizeof v);
    printf("reader: %d bytes, %u\n", n, v);
    return arg;
}
static void *poller(void *arg) {
    struct pollfd pfd = {p2[0], POLLIN, 0};
    char c;
    int n = poll(&pfd, 1, -1);
    read(p2[0], &c, 1);
    printf("poller: %d ready, revents %#x, %c\n", n, pfd.revents, c);
    return arg;
}
static void *sleeper(void *arg) {
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, 0);
    slept = 1;
    return arg;
}
static void *acceptor(void *arg) {
    int c = accept(lsock, 0, 0);
    char buf[8];
    int n = recv(c, buf, sizeof buf, 0);
    printf("acceptor: %.*s\n", n, buf);
    close(c);
    return arg;
}
static void *waiter(void *arg) {
    int st;
    pid_t child = fork();
    if (child == 0) {
        char c;
        read(p3[0], &c, 1);
        _exit(c - '0');
    }
    pid_t got = waitpid(child, &st, 0);
    printf("waiter: child %s, status %d\n", got == child ? "reaped" : "lost", WEXITSTATUS(st));
    return arg;
}
int main(void) {
    pthread_t t[5];
    unsigned sum = 0, i;
    socklen_t l = sizeof addr;
    pipe(p1);
    pipe(p2);
    pipe(p3);
    lsock = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lsock, (struct sockaddr *)&addr, sizeof addr);
    listen(lsock, 1);
    getsockname(lsock, (struct sockaddr *)&addr, &l);
    pthread_create(&t[0], 0, reader, 0);
    pthread_create(&t[1], 0, poller, 0);
    pthread_create(&t[2], 0, sleeper, 0);
    pthread_create(&t[3], 0, acceptor, 0);
    pthread_create(&t[4], 0, waiter, 0);
    for (i = 0; i < 300000; i++)
        sum += i * i ^ (sum >> 3);
    write(p1[1], &sum, sizeof sum);
    pthread_join(t[0], 0);
    write(p2[1], "x", 1);
    pthread_join(t[1], 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&addr, sizeof addr);
    send(c, "hello", 5, 0);
    pthread_join(t[3], 0);
    while (!slept)
        sched_yield();
    pthread_join(t[2], 0);
    write(p3[1], "7", 1);
    pthread_join(t[4], 0);
    printf("main: sum %u, slept %d\n", sum, slept);
    return 0;
}
"""


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_blocked_thread_lets_others_run(tmp_path, arch):
    exe = build_static(tmp_path, arch, PROGRAM, "block", ["-pthread"])
    q, p = run_both(arch, exe, "main: sum")
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode), p.stderr
