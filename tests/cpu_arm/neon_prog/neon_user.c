/* Runs Advanced SIMD instructions one at a time under Linux (qemu-arm in the tests), as
 * the second oracle of test_neon_qemu_user.py.
 *
 * stdin, one case per line (hex):  insn base_offset index fpscr d0 .. d31
 * stdout, one line per case:        F fault_offset            (SIGBUS: alignment fault)
 *                                   R r11_offset fpscr hash d0 .. d31
 * r11 = buf + base_offset, r12 = index before the instruction; buf (8 KiB, a fixed
 * pattern at each case) is hashed (FNV-1a 64) afterwards.  The instruction is patched
 * into a stub in a writable and executable section.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BUF_SIZE 8192

static uint8_t buf[BUF_SIZE] __attribute__((aligned(64)));
static struct { uint64_t d[32]; uint32_t fpscr; uint32_t r11; } st;
static sigjmp_buf jb;
static volatile uintptr_t fault_addr;

/* run(state, base, index): load d0-d31 and FPSCR, execute slot, store them back */
extern void run(void *state, uint32_t base, uint32_t index);
extern uint32_t slot;
__asm__(
    "  .section .rwx,\"awx\",%progbits\n"
    "  .arm\n"
    "  .global run\n"
    "  .global slot\n"
    "run:\n"
    "  push {r4-r12, lr}\n"
    "  mov r4, r0\n"
    "  mov r11, r1\n"
    "  mov r12, r2\n"
    "  vldmia r4, {d0-d15}\n"
    "  add r5, r4, #128\n"
    "  vldmia r5, {d16-d31}\n"
    "  ldr r6, [r4, #256]\n"
    "  vmsr fpscr, r6\n"
    "slot:\n"
    "  nop\n"
    "  vstmia r4, {d0-d15}\n"
    "  add r5, r4, #128\n"
    "  vstmia r5, {d16-d31}\n"
    "  vmrs r6, fpscr\n"
    "  str r6, [r4, #256]\n"
    "  str r11, [r4, #260]\n"
    "  pop {r4-r12, pc}\n"
    "  .text\n");

static void on_bus(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(jb, sig);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGBUS, &sa, 0);
    sigaction(SIGSEGV, &sa, 0);
    unsigned insn, off, index, fpscr;
    while (scanf("%x %x %x %x", &insn, &off, &index, &fpscr) == 4) {
        for (int i = 0; i < 32; i++) {
            unsigned long long v;
            if (scanf("%llx", &v) != 1)
                return 1;
            st.d[i] = v;
        }
        st.fpscr = fpscr;
        for (int i = 0; i < BUF_SIZE; i++)
            buf[i] = (uint8_t)(i * 7 + 3);
        slot = insn;
        __builtin___clear_cache((char *)&slot, (char *)&slot + 4);
        if (sigsetjmp(jb, 1)) {
            printf("F %x\n", (unsigned)(fault_addr - (uintptr_t)buf));
            continue;
        }
        run(&st, (uint32_t)(uintptr_t)buf + off, index);
        uint64_t h = 0xcbf29ce484222325ull;
        for (int i = 0; i < BUF_SIZE; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
        printf("R %x %x %llx", (unsigned)(st.r11 - (uint32_t)(uintptr_t)buf), st.fpscr,
               (unsigned long long)h);
        for (int i = 0; i < 32; i++)
            printf(" %llx", (unsigned long long)st.d[i]);
        printf("\n");
    }
    return 0;
}
