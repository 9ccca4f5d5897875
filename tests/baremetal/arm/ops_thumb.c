/* ops.h in the Thumb-2 instruction set, plus Thumb-only forms and exceptions from
   Thumb state. */
#define PREFIX "thumb "
#include "ops.h"

OP(orns, C0, "orns %[r], %[a], %[b]")
OP(cbz_cbnz, C0, "mov %[r], #0\n\tcbz %[a], 1f\n\tadd %[r], %[r], #1\n1:\tcbnz %[b], 2f\n\tadd %[r], %[r], #2\n2:")
OP(tbb, C0, "and %[r], %[a], #3\n\ttbb [pc, %[r]]\n"
   "3:\t.byte (4f-3b)/2, (5f-3b)/2, (6f-3b)/2, (7f-3b)/2\n"
   "4:\tmov %[r], %[b]\n\tb 8f\n5:\tadd %[r], %[b], #5\n\tb 8f\n"
   "6:\tlsl %[r], %[b], #1\n\tb 8f\n7:\tmvn %[r], %[b]\n8:")
OP1(adds16, C0, "adds %[r], %[a], #7")

void ops_thumb(void)
{
    run_ops();
    orns();
    cbz_cbnz();
    tbb();
    adds16();
    puts_("thumb exceptions\n");
    uint32_t r = 0x77;
    __asm__ volatile("mov r0, %0\n\tmov r1, #2\n\tsvc #0x17\n\tmov %0, r0"
                     : "+r"(r) : : "r0", "r1", "r2", "r3", "r12", "lr", "memory", "cc");
    label("  result"); hex(r); nl();
    __asm__ volatile(".short 0xde42" ::: "memory");                   /* UDF #0x42 (16-bit) */
    __asm__ volatile(".short 0xf7f0, 0xa123" ::: "memory");           /* UDF.W */
    __asm__ volatile(".short 0xfb90, 0xf0f1" ::: "memory");           /* SDIV: not on an A9 */
    __asm__ volatile("bkpt #0x34" ::: "memory");
}
