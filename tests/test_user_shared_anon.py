"""MAP_SHARED|MAP_ANONYMOUS memory is shared across fork (pysystem/user/memory.py's
map_shared): a child increments a counter in it and the parent, after wait(), reads
it; the parent's own later writes reach a second child; a MAP_PRIVATE page is not
shared.  The output must be qemu-arm's and qemu-mipsel's."""
from __future__ import annotations

import pytest

from user_oracle import ARCHES, build_static, run_both

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    volatile int *shared = mmap(0, 8192, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile int *private = mmap(0, 4096, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int i, st;
    shared[0] = 5;
    shared[1500] = 1;
    private[0] = 7;
    if (fork() == 0) {
        for (i = 0; i < 1000; i++)
            shared[0]++;
        shared[1500] = shared[1500] * 10 + 2;   /* the second page too */
        private[0] = 99;
        _exit(3);
    }
    wait(&st);
    printf("after child: counter %d, page2 %d, private %d, status %d\n",
           shared[0], shared[1500], private[0], WEXITSTATUS(st));
    shared[0] += 100;
    if (fork() == 0)
        _exit(shared[0] == 1105 ? 0 : 1);
    wait(&st);
    printf("second child saw the parent's write: %s\n", WEXITSTATUS(st) ? "no" : "yes");
    munmap((void *)shared, 8192);
    shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("fresh private page reads %d\n", shared[0]);
    return 0;
}
"""


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_shared_anonymous_memory_across_fork(tmp_path, arch):
    exe = build_static(tmp_path, arch, PROGRAM, "shm")
    q, p = run_both(arch, exe, "counter 1005, page2 12, private 7")
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode), p.stderr
