"""The initial stack (argc, argv, envp, auxv and the strings above them) of
pysystem-user-arm and pysystem-user-mipsel against qemu-arm's and qemu-mipsel's: a static
program prints its stack pointer at entry (the address of argc), every argv/envp
pointer, the auxv address and each auxv entry; for several argument and environment
sizes (which move the alignment paddings) the two outputs must be the same, addresses
included (HWCAP with the ThumbEE bit of QEMU's cortex-a9).  The environments are made
equal with ``env -i`` and ``-E``/``-U``.  A program reads HWCAP's ThumbEE bit and uses
TEEHBR as under qemu-arm -cpu cortex-a9."""
from __future__ import annotations

import subprocess

import pytest

import tools
from user_oracle import ARCHES, build_static, qemu_command, run_both

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv, char **envp)
{
    char **e = envp;
    unsigned *aux;
    int i;
    printf("sp=%p argv=%p envp=%p\n", (void *)(argv - 1), (void *)argv, (void *)envp);
    for (i = 0; i < argc; i++)
        printf("argv[%d]=%p %s\n", i, (void *)argv[i], argv[i]);
    for (i = 0; envp[i]; i++)
        printf("envp[%d]=%p %s\n", i, (void *)envp[i], envp[i]);
    while (*e)
        e++;
    aux = (unsigned *)(e + 1);
    printf("auxv=%p\n", (void *)aux);
    for (; aux[0]; aux += 2)
        printf("aux %u %#x\n", aux[0], aux[1]);
    return 0;
}
"""

# argument lists and -E/-U options: string lengths 0..33 move every padding through
# its residues (strings packed, platform strings padded to 4, vectors aligned to 16)
CASES = [
    ([], []),
    (["x"], ["-E", "A=1"]),
    (["yy", "zzz"], ["-E", "LONGER=" + "v" * 13]),
    (["a" * 5, "", "b" * 7], ["-E", "A=1", "-E", "B=22", "-U", "A"]),
    (["c" * 16], ["-E", "K=" + "w" * 30, "-E", "K=2"]),
    (["d" * 33, "e"], ["-E", "X=", "-E", "Y=" + "u" * 9, "-E", "Z=3"]),
    (["f" * 2] * 5, ["-E", "PATH=/usr/bin:/bin"]),
    (["g" * 11, "h" * 6], []),
]


def _run(cmd, tmp_path) -> list:
    env = tools.program("env")
    p = subprocess.run([env, "-i"] + cmd, capture_output=True, text=True, timeout=300,
                       cwd=str(tmp_path))
    assert p.returncode == 0, (cmd, p.stderr)
    return p.stdout.splitlines()


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_initial_stack_as_qemu(tmp_path, arch):
    exe = build_static(tmp_path, arch, PROGRAM, "stack")
    qemu = qemu_command(arch)
    ours = [tools.guest_script(f"pysystem-user-{arch}")]
    for args, env_opts in CASES:
        prog = ["./" + exe.rsplit("/", 1)[1]] + args
        q = _run(qemu + env_opts + prog, tmp_path)
        p = _run(ours + env_opts + prog, tmp_path)
        assert q[0].startswith("sp=0x4080") and any(x.startswith("aux 25 ") for x in q), q
        assert p == q, (args, env_opts)


# HWCAP's ThumbEE bit and the ThumbEE register a user program reaches: TEEHBR is
# readable and writable at PL0, TEECR is not (SIGILL)
THUMBEE_PROGRAM = r"""
#include <signal.h>
#include <setjmp.h>
#include <stdio.h>
#include <sys/auxv.h>
static sigjmp_buf jb;
static void on_ill(int s) { siglongjmp(jb, 1); }
int main(void) {
    unsigned v = 0;
    signal(SIGILL, on_ill);
    printf("hwcap thumbee %d\n", !!(getauxval(AT_HWCAP) & (1 << 11)));
    if (!sigsetjmp(jb, 1)) {
        asm volatile("mcr p14, 6, %0, c1, c0, 0" : : "r"(0x12340000u));
        asm volatile("mrc p14, 6, %0, c1, c0, 0" : "=r"(v));
        printf("TEEHBR %#x\n", v);
    } else
        printf("TEEHBR: SIGILL\n");
    if (!sigsetjmp(jb, 1)) {
        asm volatile("mrc p14, 6, %0, c0, c0, 0" : "=r"(v));
        printf("TEECR %#x\n", v);
    } else
        printf("TEECR: SIGILL\n");
    return 0;
}
"""


def test_thumbee_as_qemu_cortex_a9(tmp_path):
    exe = build_static(tmp_path, "arm", THUMBEE_PROGRAM, "thumbee", ["-marm"])
    q, p = run_both("arm", exe, "hwcap thumbee 1\nTEEHBR 0x12340000\nTEECR: SIGILL\n")
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode), p.stderr
