/* Integer instruction tests, included by ops_arm.c (built -marm) and ops_thumb.c
   (built -mthumb): the same unified-syntax instructions assembled for each
   instruction set.  Each test runs one instruction on every operand pair with the
   APSR set to CIN first, and prints the result and APSR[31:16] (NZCVQ, GE). */
#include "lib.h"

static const uint32_t VALS[] = {
    0x00000000, 0x00000001, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678,
    0xfffffffe, 0x80000001, 0x0000ffff, 0x7fff8000, 0x00000020, 0xa5a5f00f,
};
#define NV (sizeof VALS / sizeof VALS[0])

#define C0 0x00000000u
#define C1 0x20000000u          /* carry in */
#define GE5 0x00050000u         /* GE = 0101 for SEL */
#define CQ 0x08000000u          /* Q already set */

static void head(const char *name, uint32_t a)
{
    puts_(PREFIX);
    puts_(name);
    sp();
    hex(a);
    putc_(':');
}

static void res(uint32_t r, uint32_t f)
{
    sp();
    hex(r);
    putc_('/');
    hexn(f >> 16, 4);
}

/* r = insn(a, b) */
#define OP(fn, cin, insn)                                                           \
static void fn(void)                                                                \
{                                                                                   \
    for (unsigned i = 0; i < NV; i++) {                                             \
        head(#fn, VALS[i]);                                                         \
        for (unsigned j = 0; j < NV; j++) {                                         \
            uint32_t r = 0, f, a = VALS[i], b = VALS[j];                            \
            __asm__ volatile("msr APSR_nzcvqg, %[c]\n\t" insn "\n\tmrs %[f], APSR"  \
                             : [r] "+&r"(r), [f] "=&r"(f)                           \
                             : [a] "r"(a), [b] "r"(b), [c] "r"(cin) : "cc");        \
            res(r, f);                                                              \
        }                                                                           \
        nl();                                                                       \
    }                                                                               \
}

/* r = insn(a), one line for all operands */
#define OP1(fn, cin, insn)                                                          \
static void fn(void)                                                                \
{                                                                                   \
    head(#fn, 0);                                                                   \
    for (unsigned i = 0; i < NV; i++) {                                             \
        uint32_t r = 0, f, a = VALS[i];                                             \
        __asm__ volatile("msr APSR_nzcvqg, %[c]\n\t" insn "\n\tmrs %[f], APSR"      \
                         : [r] "+&r"(r), [f] "=&r"(f) : [a] "r"(a), [c] "r"(cin)    \
                         : "cc");                                                   \
        res(r, f);                                                                  \
    }                                                                               \
    nl();                                                                           \
}

/* (lo, hi) = insn(a, b) with lo = a ^ 0x55, hi = b + 3 on entry (accumulators) */
#define OPL(fn, cin, insn)                                                          \
static void fn(void)                                                                \
{                                                                                   \
    for (unsigned i = 0; i < NV; i++) {                                             \
        head(#fn, VALS[i]);                                                         \
        for (unsigned j = 0; j < NV; j++) {                                         \
            uint32_t a = VALS[i], b = VALS[j], lo = a ^ 0x55, hi = b + 3, f;        \
            __asm__ volatile("msr APSR_nzcvqg, %[c]\n\t" insn "\n\tmrs %[f], APSR"  \
                             : [lo] "+&r"(lo), [hi] "+&r"(hi), [f] "=&r"(f)         \
                             : [a] "r"(a), [b] "r"(b), [c] "r"(cin) : "cc");        \
            res(lo, f);                                                             \
            putc_(','); hex(hi);                                                    \
        }                                                                           \
        nl();                                                                       \
    }                                                                               \
}

OP(adds, C0, "adds %[r], %[a], %[b]")
OP(adcs_c0, C0, "adcs %[r], %[a], %[b]")
OP(adcs_c1, C1, "adcs %[r], %[a], %[b]")
OP(subs, C0, "subs %[r], %[a], %[b]")
OP(sbcs_c0, C0, "sbcs %[r], %[a], %[b]")
OP(sbcs_c1, C1, "sbcs %[r], %[a], %[b]")
OP(rsbs, C1, "rsbs %[r], %[a], %[b]")
OP(ands, C1, "ands %[r], %[a], %[b]")
OP(orrs, C0, "orrs %[r], %[a], %[b]")
OP(eors, C1, "eors %[r], %[a], %[b]")
OP(bics, C0, "bics %[r], %[a], %[b]")
OP(lsls_reg, C1, "lsls %[r], %[a], %[b]")
OP(lsrs_reg, C0, "lsrs %[r], %[a], %[b]")
OP(asrs_reg, C1, "asrs %[r], %[a], %[b]")
OP(rors_reg, C0, "rors %[r], %[a], %[b]")
OP(adds_lsl3, C0, "adds %[r], %[a], %[b], lsl #3")
OP(subs_asr31, C1, "subs %[r], %[a], %[b], asr #31")
OP(eors_ror7, C0, "eors %[r], %[a], %[b], ror #7")
OP(ands_lsr32, C0, "ands %[r], %[a], %[b], lsr #32")
OP(orrs_asr32, C1, "orrs %[r], %[a], %[b], asr #32")
OP(adcs_rrx, C1, "adcs %[r], %[a], %[b], rrx")
OP(cmp, C0, "cmp %[a], %[b]")
OP(cmn, C0, "cmn %[a], %[b]")
OP(tst, C1, "tst %[a], %[b]")
OP(teq, C0, "teq %[a], %[b]")
OP(cond_lt_ge, C0, "cmp %[a], %[b]\n\tite lt\n\tmovlt %[r], #1\n\tmovge %[r], #2")
OP(cond_hi_ls, C0, "cmp %[a], %[b]\n\tite hi\n\taddhi %[r], %[a], %[b]\n\tsubls %[r], %[a], %[b]")
OP(mul, C0, "mul %[r], %[a], %[b]")
OP(mla, C0, "mla %[r], %[a], %[b], %[a]")
OP(mls, C0, "mls %[r], %[a], %[b], %[b]")
OP(qadd, C0, "qadd %[r], %[a], %[b]")
OP(qsub, C0, "qsub %[r], %[a], %[b]")
OP(qdadd, C0, "qdadd %[r], %[a], %[b]")
OP(qdsub, CQ, "qdsub %[r], %[a], %[b]")
OP(sadd16, C0, "sadd16 %[r], %[a], %[b]")
OP(ssub16, C0, "ssub16 %[r], %[a], %[b]")
OP(sasx, C0, "sasx %[r], %[a], %[b]")
OP(ssax, C0, "ssax %[r], %[a], %[b]")
OP(uadd16, C0, "uadd16 %[r], %[a], %[b]")
OP(usub16, C0, "usub16 %[r], %[a], %[b]")
OP(uasx, C0, "uasx %[r], %[a], %[b]")
OP(usax, C0, "usax %[r], %[a], %[b]")
OP(sadd8, C0, "sadd8 %[r], %[a], %[b]")
OP(ssub8, C0, "ssub8 %[r], %[a], %[b]")
OP(uadd8, C0, "uadd8 %[r], %[a], %[b]")
OP(usub8, C0, "usub8 %[r], %[a], %[b]")
OP(qadd16, C0, "qadd16 %[r], %[a], %[b]")
OP(qsub8, C0, "qsub8 %[r], %[a], %[b]")
OP(uqadd8, C0, "uqadd8 %[r], %[a], %[b]")
OP(uqsub16, C0, "uqsub16 %[r], %[a], %[b]")
OP(shadd16, C0, "shadd16 %[r], %[a], %[b]")
OP(shsub8, C0, "shsub8 %[r], %[a], %[b]")
OP(uhadd8, C0, "uhadd8 %[r], %[a], %[b]")
OP(uhsax, C0, "uhsax %[r], %[a], %[b]")
OP(sel, GE5, "sel %[r], %[a], %[b]")
OP(uadd8_sel, C0, "uadd8 %[r], %[a], %[b]\n\tsel %[r], %[a], %[b]")
OP(usad8, C0, "usad8 %[r], %[a], %[b]")
OP(usada8, C0, "usada8 %[r], %[a], %[b], %[a]")
OP(smulbb, C0, "smulbb %[r], %[a], %[b]")
OP(smultb, C0, "smultb %[r], %[a], %[b]")
OP(smulwt, C0, "smulwt %[r], %[a], %[b]")
OP(smlabt, C0, "smlabt %[r], %[a], %[b], %[a]")
OP(smlawb, C0, "smlawb %[r], %[a], %[b], %[b]")
OP(smuad, C0, "smuad %[r], %[a], %[b]")
OP(smuadx, C0, "smuadx %[r], %[a], %[b]")
OP(smusd, C0, "smusd %[r], %[a], %[b]")
OP(smlad, C0, "smlad %[r], %[a], %[b], %[a]")
OP(smlsdx, C0, "smlsdx %[r], %[a], %[b], %[b]")
OP(smmul, C0, "smmul %[r], %[a], %[b]")
OP(smmulr, C0, "smmulr %[r], %[a], %[b]")
OP(smmla, C0, "smmla %[r], %[a], %[b], %[a]")
OP(smmlsr, C0, "smmlsr %[r], %[a], %[b], %[b]")
OP(pkhbt, C0, "pkhbt %[r], %[a], %[b], lsl #8")
OP(pkhtb, C0, "pkhtb %[r], %[a], %[b], asr #8")
OP(uxtab, C0, "uxtab %[r], %[a], %[b], ror #8")
OP(sxtah, C0, "sxtah %[r], %[a], %[b], ror #16")
OP(sxtab16, C0, "sxtab16 %[r], %[a], %[b]")
OP(bfi, C0, "mov %[r], %[a]\n\tbfi %[r], %[b], #5, #9")
OP1(mvns, C1, "mvns %[r], %[a]")
OP1(rrxs_c0, C0, "rrxs %[r], %[a]")
OP1(rrxs_c1, C1, "rrxs %[r], %[a]")
OP1(lsrs_imm1, C0, "lsrs %[r], %[a], #1")
OP1(asrs_imm32, C0, "asrs %[r], %[a], #32")
OP1(negs, C0, "rsbs %[r], %[a], #0")
OP1(clz, C0, "clz %[r], %[a]")
OP1(rbit, C0, "rbit %[r], %[a]")
OP1(rev, C0, "rev %[r], %[a]")
OP1(rev16, C0, "rev16 %[r], %[a]")
OP1(revsh, C0, "revsh %[r], %[a]")
OP1(uxtb, C0, "uxtb %[r], %[a]")
OP1(sxtb_ror8, C0, "sxtb %[r], %[a], ror #8")
OP1(uxth, C0, "uxth %[r], %[a]")
OP1(sxth, C0, "sxth %[r], %[a]")
OP1(uxtb16, C0, "uxtb16 %[r], %[a]")
OP1(sxtb16_ror24, C0, "sxtb16 %[r], %[a], ror #24")
OP1(ubfx, C0, "ubfx %[r], %[a], #4, #12")
OP1(sbfx, C0, "sbfx %[r], %[a], #3, #17")
OP1(bfc, C0, "mov %[r], %[a]\n\tbfc %[r], #7, #13")
OP1(ssat8, C0, "ssat %[r], #8, %[a]")
OP1(usat8, C0, "usat %[r], #8, %[a]")
OP1(ssat16_lsl4, C0, "ssat %[r], #16, %[a], lsl #4")
OP1(usat31_asr2, C0, "usat %[r], #31, %[a], asr #2")
OP1(ssat16x, C0, "ssat16 %[r], #4, %[a]")
OP1(usat16x, C0, "usat16 %[r], #4, %[a]")
OP1(movw_movt, C0, "movw %[r], #0x1234\n\tmovt %[r], #0xfedc\n\tadd %[r], %[r], %[a]")
OP1(adds_imm, C0, "adds %[r], %[a], #0xff000000")
OP1(subs_imm, C1, "subs %[r], %[a], #0x3fc")
OP1(orrs_imm, C0, "orrs %[r], %[a], #0x80000000")
OPL(umull, C0, "umull %[lo], %[hi], %[a], %[b]")
OPL(smull, C0, "smull %[lo], %[hi], %[a], %[b]")
OPL(umlal, C0, "umlal %[lo], %[hi], %[a], %[b]")
OPL(smlal, C0, "smlal %[lo], %[hi], %[a], %[b]")
OPL(umaal, C0, "umaal %[lo], %[hi], %[a], %[b]")
OPL(smlalbt, C0, "smlalbt %[lo], %[hi], %[a], %[b]")
OPL(smlald, C0, "smlald %[lo], %[hi], %[a], %[b]")
OPL(smlsldx, C0, "smlsldx %[lo], %[hi], %[a], %[b]")

/* compiled code: switch tables, loops, divisions by constants, byte/halfword memory */
static uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t acc = 0;
    for (int i = 0; i < 12; i++) {
        switch ((x >> i) & 7) {
        case 0: acc += y / 7; break;
        case 1: acc ^= (y % 10) << i; break;
        case 2: acc = acc * 33 + (x >> 3); break;
        case 3: acc -= (int32_t)y / -3; break;
        case 4: acc += (uint16_t)(y >> i) * (int16_t)x; break;
        case 5: acc = (acc << 7) | (acc >> 25); break;
        case 6: acc += (int64_t)(int32_t)x * (int32_t)y >> 17; break;
        default: acc += i; break;
        }
        y = y * 1103515245u + 12345u;
    }
    return acc;
}

static void memory(void)
{
    static uint32_t buf[8] __attribute__((aligned(8)));
    uint32_t r[8], base = (uint32_t)buf;
    for (int i = 0; i < 8; i++)
        buf[i] = 0x11111111u * (i + 1);
    __asm__ volatile(
        "ldrd r4, r5, [%[b], #8]\n\t"
        "strd r4, r5, [%[b], #24]\n\t"
        "ldrsh r6, [%[b], #6]\n\t"
        "ldrsb r7, [%[b], #13]\n\t"
        "strb r7, [%[b], #1]\n\t"
        "strh r6, [%[b], #18]\n\t"
        "ldr r8, [%[b], #4]!\n\t"
        "ldr r9, [%[b]], #8\n\t"
        "stmia %[out], {r4-r9}\n\t"
        "str %[b], [%[out], #24]\n\t"
        : [b] "+r"(base) : [out] "r"(r) : "r4", "r5", "r6", "r7", "r8", "r9", "memory");
    r[6] -= (uint32_t)buf;
    head("memory", 0);
    for (int i = 0; i < 7; i++) { sp(); hex(r[i]); }
    for (int i = 0; i < 8; i++) { sp(); hex(buf[i]); }
    nl();
    /* exclusives: a successful and a failed store-exclusive */
    uint32_t ok, fail, v = 0;
    __asm__ volatile("ldrex %[v], [%[p]]\n\tadd %[v], %[v], #1\n\tstrex %[ok], %[v], [%[p]]\n\t"
                     "strex %[fail], %[v], [%[p]]"
                     : [v] "+&r"(v), [ok] "=&r"(ok), [fail] "=&r"(fail) : [p] "r"(buf) : "memory");
    head("exclusive", 0); sp(); hex(ok); sp(); hex(fail); sp(); hex(buf[0]); nl();
}

static void (*const TESTS[])(void) = {
    adds, adcs_c0, adcs_c1, subs, sbcs_c0, sbcs_c1, rsbs, ands, orrs, eors, bics,
    lsls_reg, lsrs_reg, asrs_reg, rors_reg, adds_lsl3, subs_asr31, eors_ror7, ands_lsr32,
    orrs_asr32, adcs_rrx, cmp, cmn, tst, teq, cond_lt_ge, cond_hi_ls, mul, mla, mls,
    qadd, qsub, qdadd, qdsub, sadd16, ssub16, sasx, ssax, uadd16, usub16, uasx, usax,
    sadd8, ssub8, uadd8, usub8, qadd16, qsub8, uqadd8, uqsub16, shadd16, shsub8, uhadd8,
    uhsax, sel, uadd8_sel, usad8, usada8, smulbb, smultb, smulwt, smlabt, smlawb, smuad,
    smuadx, smusd, smlad, smlsdx, smmul, smmulr, smmla, smmlsr, pkhbt, pkhtb, uxtab, sxtah,
    sxtab16, bfi, mvns, rrxs_c0, rrxs_c1, lsrs_imm1, asrs_imm32, negs, clz, rbit, rev,
    rev16, revsh, uxtb, sxtb_ror8, uxth, sxth, uxtb16, sxtb16_ror24, ubfx, sbfx, bfc,
    ssat8, usat8, ssat16_lsl4, usat31_asr2, ssat16x, usat16x, movw_movt, adds_imm,
    subs_imm, orrs_imm, umull, smull, umlal, smlal, umaal, smlalbt, smlald, smlsldx,
    memory,
};

static void run_ops(void)
{
    for (unsigned i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++)
        TESTS[i]();
    uint32_t crc = 0;
    for (unsigned i = 0; i < NV; i++)
        for (unsigned j = 0; j < NV; j++) {
            uint32_t m = mix(VALS[i], VALS[j]);
            crc = crc32(crc, &m, 4);
        }
    head("compiled", 0); sp(); hex(crc); nl();
}
