/* VFPv3 tests: every conversion form (float <-> integer with and without R,
   fixed point <-> float for S16/U16/S32/U32 at several fraction widths, single <->
   double, VCVTB/VCVTT half precision), the arithmetic, square root and compares, on
   corner-case operands in each rounding mode with FZ and DN off and on (and AHP for
   the half-precision forms).  Every result is printed with the FPSCR after the
   instruction (NZCV, then the cumulative flags IDC..IOC). */
#include "lib.h"

static const uint32_t F32[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x3f000000, 0x40200000, 0x40600000,
    0xc0200000, 0x501502f9, 0xcf32d05e, 0x4f7fffff, 0x4f000000, 0x4effffff, 0xcf000000,
    0xcf000001, 0x477fff80, 0x46ffff80, 0xc7000080, 0x00000001, 0x807fffff, 0x00800000,
    0x7f800000, 0xff800000, 0x7fc00001, 0x7f800001, 0xffc12345, 0x3effffff, 0x3f7fffff,
    0x7f7fffff, 0x3eaaaaab, 0x477fe000, 0x477ff000, 0x33800000, 0x387fc000, 0x38800000,
    0x4b7fffff, 0x3f400000, 0xbf400000,
};
static const uint64_t F64[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff8000000000000ull,
    0x4004000000000000ull, 0xc004000000000000ull, 0x41dfffffffc00000ull, 0x41dfffffffe00000ull,
    0x41e0000000000000ull, 0xc1e0000000100000ull, 0xc1e0000000000000ull, 0x41efffffffe00000ull,
    0x41f0000000000000ull, 0x3ff0000010000000ull, 0x3ff0000030000000ull, 0x3ff0000010000001ull,
    0x36a0000000000000ull, 0x380fffffe0000000ull, 0x3810000000000000ull, 0x47efffffe0000000ull,
    0x47effffff0000000ull, 0x0000000000000001ull, 0x800fffffffffffffull, 0x0010000000000000ull,
    0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7ff8000000000001ull, 0x7ff0000000000001ull,
    0xfff4000012345678ull, 0x7fefffffffffffffull, 0x3fd5555555555555ull, 0x40effe0000000000ull,
    0x40dfffe000000000ull, 0xc0e0001000000000ull, 0x3fe8000000000000ull,
};
static const uint32_t INT[] = {
    0x00000000, 0x00000001, 0xffffffff, 0x7fffffff, 0x80000000, 0x80000001, 0x00ffffff,
    0x01000001, 0x7fffff81, 0x12345678, 0xfedcba98, 0x0000ffff, 0x00008000, 0x00007fff,
    0xffff8000, 0x00010001, 0x00000101, 0x0000c001, 0x4000007f, 0xfffffffe,
};
static const uint16_t F16[] = {
    0x0000, 0x8000, 0x3c00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7c01,
    0xfd23, 0x3555, 0xc001,
};
static const uint32_t BIN32[] = {
    0x3f800000, 0xc0200000, 0x00000001, 0x7f7fffff, 0x7fc00000, 0x7f800001, 0x80000000,
    0x3eaaaaab, 0x7f800000, 0x00800000,
};
static const uint64_t BIN64[] = {
    0x3ff0000000000000ull, 0xc004000000000000ull, 0x0000000000000001ull, 0x7fefffffffffffffull,
    0x7ff8000000000000ull, 0x7ff0000000000001ull, 0x8000000000000000ull, 0x3fd5555555555555ull,
    0x7ff0000000000000ull, 0x0010000000000000ull,
};
#define N(a) (sizeof a / sizeof a[0])

#define FZ (1u << 24)
#define DN (1u << 25)
#define AHP (1u << 26)
static const uint32_t CFG[] = {
    0 << 22, 1 << 22, 2 << 22, 3 << 22,
    0 << 22 | FZ | DN, 1 << 22 | FZ | DN, 2 << 22 | FZ | DN, 3 << 22 | FZ,
    0 << 22 | FZ, 2 << 22 | DN,
};
#define NCFG N(CFG)

#define PRESET 0x5a5a5a5au        /* what the destination holds before the instruction */

static void flags(uint32_t f)
{
    putc_('/');
    hexn(f >> 28, 1);
    hexn(f & 0x9f, 2);
}

/* --- the instruction forms: s0/d0 (and s1/d2) in, s2/d1 out ------------------------- */

typedef uint32_t (*ss_fn)(uint32_t, uint32_t, uint32_t *);
typedef uint64_t (*dd_fn)(uint64_t, uint32_t, uint32_t *);
typedef uint32_t (*ds_fn)(uint64_t, uint32_t, uint32_t *);
typedef uint64_t (*sd_fn)(uint32_t, uint32_t, uint32_t *);
typedef uint32_t (*sss_fn)(uint32_t, uint32_t, uint32_t, uint32_t *);
typedef uint64_t (*ddd_fn)(uint64_t, uint64_t, uint32_t, uint32_t *);

#define SS(fn, insn) static uint32_t fn(uint32_t a, uint32_t c, uint32_t *fl) {              \
    uint32_t r, f;                                                                        \
    __asm__ volatile("vmov s0, %[a]\n\tvmov s2, %[k]\n\tvmsr fpscr, %[c]\n\t" insn           \
                     "\n\tvmrs %[f], fpscr\n\tvmov %[r], s2"                                \
                     : [r] "=r"(r), [f] "=r"(f) : [a] "r"(a), [c] "r"(c), [k] "r"(PRESET)   \
                     : "s0", "s2", "memory");                                               \
    *fl = f; return r; }
#define DD(fn, insn) static uint64_t fn(uint64_t a, uint32_t c, uint32_t *fl) {              \
    uint64_t r; uint32_t f;                                                               \
    __asm__ volatile("vmov d0, %Q[a], %R[a]\n\tvmov d1, %[k], %[k]\n\tvmsr fpscr, %[c]\n\t" \
                     insn "\n\tvmrs %[f], fpscr\n\tvmov %Q[r], %R[r], d1"                   \
                     : [r] "=r"(r), [f] "=r"(f) : [a] "r"(a), [c] "r"(c), [k] "r"(PRESET)   \
                     : "d0", "d1", "memory");                                               \
    *fl = f; return r; }
#define DS(fn, insn) static uint32_t fn(uint64_t a, uint32_t c, uint32_t *fl) {              \
    uint32_t r, f;                                                                        \
    __asm__ volatile("vmov d0, %Q[a], %R[a]\n\tvmov s2, %[k]\n\tvmsr fpscr, %[c]\n\t" insn  \
                     "\n\tvmrs %[f], fpscr\n\tvmov %[r], s2"                                \
                     : [r] "=r"(r), [f] "=r"(f) : [a] "r"(a), [c] "r"(c), [k] "r"(PRESET)   \
                     : "d0", "d1", "memory");                                               \
    *fl = f; return r; }
#define SD(fn, insn) static uint64_t fn(uint32_t a, uint32_t c, uint32_t *fl) {              \
    uint64_t r; uint32_t f;                                                               \
    __asm__ volatile("vmov s0, %[a]\n\tvmov d1, %[k], %[k]\n\tvmsr fpscr, %[c]\n\t" insn    \
                     "\n\tvmrs %[f], fpscr\n\tvmov %Q[r], %R[r], d1"                        \
                     : [r] "=r"(r), [f] "=r"(f) : [a] "r"(a), [c] "r"(c), [k] "r"(PRESET)   \
                     : "d0", "d1", "memory");                                               \
    *fl = f; return r; }
#define SSS(fn, insn) static uint32_t fn(uint32_t a, uint32_t b, uint32_t c, uint32_t *fl) { \
    uint32_t r, f;                                                                        \
    __asm__ volatile("vmov s0, %[a]\n\tvmov s1, %[b]\n\tvmov s2, %[k]\n\tvmsr fpscr, %[c]\n\t" \
                     insn "\n\tvmrs %[f], fpscr\n\tvmov %[r], s2"                           \
                     : [r] "=r"(r), [f] "=r"(f)                                             \
                     : [a] "r"(a), [b] "r"(b), [c] "r"(c), [k] "r"(0x3fc00000)              \
                     : "s0", "s1", "s2", "memory");                                         \
    *fl = f; return r; }
#define DDD(fn, insn) static uint64_t fn(uint64_t a, uint64_t b, uint32_t c, uint32_t *fl) { \
    uint64_t r; uint32_t f;                                                               \
    __asm__ volatile("vmov d0, %Q[a], %R[a]\n\tvmov d2, %Q[b], %R[b]\n\t"                   \
                     "vmov d1, %[k0], %[k1]\n\tvmsr fpscr, %[c]\n\t"                        \
                     insn "\n\tvmrs %[f], fpscr\n\tvmov %Q[r], %R[r], d1"                   \
                     : [r] "=r"(r), [f] "=r"(f)                                             \
                     : [a] "r"(a), [b] "r"(b), [c] "r"(c), [k0] "r"(0), [k1] "r"(0x3ff80000) \
                     : "d0", "d1", "d2", "memory");                                         \
    *fl = f; return r; }

/* float <-> integer */
SS(s32_f32, "vcvt.s32.f32 s2, s0")
SS(u32_f32, "vcvt.u32.f32 s2, s0")
SS(s32_f32_r, "vcvtr.s32.f32 s2, s0")
SS(u32_f32_r, "vcvtr.u32.f32 s2, s0")
DS(s32_f64, "vcvt.s32.f64 s2, d0")
DS(u32_f64, "vcvt.u32.f64 s2, d0")
DS(s32_f64_r, "vcvtr.s32.f64 s2, d0")
DS(u32_f64_r, "vcvtr.u32.f64 s2, d0")
SS(f32_s32, "vcvt.f32.s32 s2, s0")
SS(f32_u32, "vcvt.f32.u32 s2, s0")
SD(f64_s32, "vcvt.f64.s32 d1, s0")
SD(f64_u32, "vcvt.f64.u32 d1, s0")
/* single <-> double */
SD(f64_f32, "vcvt.f64.f32 d1, s0")
DS(f32_f64, "vcvt.f32.f64 s2, d0")
/* half precision (bottom and top halves) */
SS(f32_f16b, "vcvtb.f32.f16 s2, s0")
SS(f32_f16t, "vcvtt.f32.f16 s2, s0")
SS(f16b_f32, "vcvtb.f16.f32 s2, s0")
SS(f16t_f32, "vcvtt.f16.f32 s2, s0")

/* fixed point, in place: from fixed (FixedToFP rounds to nearest whatever RMode says)
   and to fixed (rounds towards zero) */
#define FIX(T, size, n)                                                                    \
    SS(f32_##T##size##_##n, "vmov s2, s0\n\tvcvt.f32." #T #size " s2, s2, #" #n)           \
    DD(f64_##T##size##_##n, "vmov.f64 d1, d0\n\tvcvt.f64." #T #size " d1, d1, #" #n)       \
    SS(T##size##_##n##_f32, "vmov s2, s0\n\tvcvt." #T #size ".f32 s2, s2, #" #n)           \
    DD(T##size##_##n##_f64, "vmov.f64 d1, d0\n\tvcvt." #T #size ".f64 d1, d1, #" #n)
FIX(s, 32, 1) FIX(s, 32, 16) FIX(s, 32, 32) FIX(u, 32, 1) FIX(u, 32, 8) FIX(u, 32, 32)
FIX(s, 16, 1) FIX(s, 16, 8) FIX(s, 16, 16) FIX(u, 16, 4) FIX(u, 16, 16)

/* arithmetic */
SSS(add32, "vadd.f32 s2, s0, s1")
SSS(sub32, "vsub.f32 s2, s0, s1")
SSS(mul32, "vmul.f32 s2, s0, s1")
SSS(div32, "vdiv.f32 s2, s0, s1")
SSS(nmul32, "vnmul.f32 s2, s0, s1")
SSS(mla32, "vmla.f32 s2, s0, s1")
SSS(mls32, "vmls.f32 s2, s0, s1")
SSS(nmla32, "vnmla.f32 s2, s0, s1")
SSS(nmls32, "vnmls.f32 s2, s0, s1")
SSS(cmp32, "vcmp.f32 s0, s1")
SSS(cmpe32, "vcmpe.f32 s0, s1")
DDD(add64, "vadd.f64 d1, d0, d2")
DDD(sub64, "vsub.f64 d1, d0, d2")
DDD(mul64, "vmul.f64 d1, d0, d2")
DDD(div64, "vdiv.f64 d1, d0, d2")
DDD(nmul64, "vnmul.f64 d1, d0, d2")
DDD(mla64, "vmla.f64 d1, d0, d2")
DDD(nmls64, "vnmls.f64 d1, d0, d2")
DDD(cmpe64, "vcmpe.f64 d0, d2")
SS(sqrt32, "vsqrt.f32 s2, s0")
SS(abs32, "vabs.f32 s2, s0")
SS(neg32, "vneg.f32 s2, s0")
SS(cmpz32, "vcmp.f32 s0, #0")
DD(sqrt64, "vsqrt.f64 d1, d0")
DD(neg64, "vneg.f64 d1, d0")
DD(cmpez64, "vcmpe.f64 d0, #0")

/* --- drivers ------------------------------------------------------------------------------ */

static void head(const char *name, uint32_t cfg)
{
    puts_("vfp ");
    puts_(name);
    sp();
    hex(cfg);
    putc_(':');
}

static void run_ss(const char *name, ss_fn fn, const uint32_t *in, unsigned n, uint32_t extra)
{
    for (unsigned c = 0; c < NCFG; c++) {
        uint32_t cfg = CFG[c] | extra, f;
        head(name, cfg);
        for (unsigned i = 0; i < n; i++) {
            sp();
            hex(fn(in[i], cfg, &f));
            flags(f);
        }
        nl();
    }
}

static void run_ds(const char *name, ds_fn fn)
{
    for (unsigned c = 0; c < NCFG; c++) {
        uint32_t f;
        head(name, CFG[c]);
        for (unsigned i = 0; i < N(F64); i++) {
            sp();
            hex(fn(F64[i], CFG[c], &f));
            flags(f);
        }
        nl();
    }
}

static void hex64(uint64_t v) { hex((uint32_t)(v >> 32)); hex((uint32_t)v); }

static void run_sd(const char *name, sd_fn fn, const uint32_t *in, unsigned n)
{
    for (unsigned c = 0; c < NCFG; c++) {
        uint32_t f;
        head(name, CFG[c]);
        for (unsigned i = 0; i < n; i++) {
            sp();
            hex64(fn(in[i], CFG[c], &f));
            flags(f);
        }
        nl();
    }
}

/* DD forms: doubles, or (with ints) the integer in the low word under junk */
static void run_dd(const char *name, dd_fn fn, int ints)
{
    unsigned n = ints ? N(INT) : N(F64);
    for (unsigned c = 0; c < NCFG; c++) {
        uint32_t f;
        head(name, CFG[c]);
        for (unsigned i = 0; i < n; i++) {
            uint64_t a = ints ? 0xdead5a5a00000000ull | INT[i] : F64[i];
            sp();
            hex64(fn(a, CFG[c], &f));
            flags(f);
        }
        nl();
    }
}

static void run_sss(const char *name, sss_fn fn)
{
    for (unsigned c = 0; c < NCFG; c++) {
        uint32_t f;
        head(name, CFG[c]);
        for (unsigned i = 0; i < N(BIN32); i++)
            for (unsigned j = 0; j < N(BIN32); j++) {
                sp();
                hex(fn(BIN32[i], BIN32[j], CFG[c], &f));
                flags(f);
            }
        nl();
    }
}

static void run_ddd(const char *name, ddd_fn fn)
{
    for (unsigned c = 0; c < NCFG; c++) {
        uint32_t f;
        head(name, CFG[c]);
        for (unsigned i = 0; i < N(BIN64); i++)
            for (unsigned j = 0; j < N(BIN64); j++) {
                sp();
                hex64(fn(BIN64[i], BIN64[j], CFG[c], &f));
                flags(f);
            }
        nl();
    }
}

/* loads, stores and moves: VLDM/VSTM (increment after with writeback, decrement
   before), VLDR/VSTR, VMOV between core registers and S/D registers and scalars,
   VMOV immediate, VMRS APSR_nzcv after compares */
static void moves(void)
{
    static uint32_t mem[16] __attribute__((aligned(8)));
    static uint32_t out[16] __attribute__((aligned(8)));
    for (int i = 0; i < 16; i++) {
        mem[i] = 0x3f800000u + i * 0x00123457u;
        out[i] = 0;
    }
    uint32_t p = (uint32_t)mem, q = (uint32_t)out + 64, a, b, c, d;
    __asm__ volatile(
        "vldmia %[p]!, {d4-d7}\n\t"
        "vldr s2, [%[p], #-4]\n\t"
        "vmov.f32 s3, #-1.25\n\t"
        "vmov.f64 d8, #0.125\n\t"
        "vstmdb %[q]!, {d4-d8}\n\t"
        "vstr s2, [%[q], #-8]\n\t"
        "vstr s3, [%[q], #-4]\n\t"
        "vmov %[a], %[b], d5\n\t"
        "vmov d9, %[b], %[a]\n\t"
        "vmov.32 %[c], d9[1]\n\t"
        "vmov.32 d9[0], %[b]\n\t"
        "vmov %[d], s18\n\t"
        : [p] "+r"(p), [q] "+r"(q), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)
        : : "d1", "d4", "d5", "d6", "d7", "d8", "d9", "memory");
    puts_("vfp moves");
    uint32_t v[6] = {p - (uint32_t)mem, q - (uint32_t)out, a, b, c, d};
    for (int i = 0; i < 6; i++) { sp(); hex(v[i]); }
    for (int i = 0; i < 16; i++) { sp(); hex(out[i]); }
    nl();
    static const uint32_t pairs[][2] = {
        {0x3f800000, 0x40000000}, {0x40000000, 0x3f800000}, {0x3f800000, 0x3f800000},
        {0x7fc00000, 0x3f800000}, {0xff800000, 0x00000001}, {0x80000000, 0x00000000},
    };
    puts_("vfp vmrs APSR_nzcv");
    for (int i = 0; i < 6; i++) {
        uint32_t f, r;
        __asm__ volatile("vmov s0, %[x]\n\tvmov s1, %[y]\n\tvcmp.f32 s0, s1\n\t"
                         "vmrs APSR_nzcv, fpscr\n\tmov %[r], #0\n\tmovgt %[r], #1\n\t"
                         "movlt %[r], #2\n\tmoveq %[r], #3\n\tmovvs %[r], #4\n\tmrs %[f], APSR"
                         : [f] "=r"(f), [r] "=&r"(r) : [x] "r"(pairs[i][0]), [y] "r"(pairs[i][1])
                         : "s0", "s1", "cc");
        sp(); hex(r); putc_('/'); hexn(f >> 28, 1);
    }
    nl();
}

#define FIXRUN(T, size, n)                                                   \
    run_ss("f32." #T #size " #" #n, f32_##T##size##_##n, INT, N(INT), 0);     \
    run_dd("f64." #T #size " #" #n, f64_##T##size##_##n, 1);                  \
    run_ss(#T #size ".f32 #" #n, T##size##_##n##_f32, F32, N(F32), 0);        \
    run_dd(#T #size ".f64 #" #n, T##size##_##n##_f64, 0);

void vfp_tests(void)
{
    moves();
    static uint32_t halves[N(F16)];
    for (unsigned i = 0; i < N(F16); i++)
        halves[i] = (uint32_t)F16[i] << 16 | F16[(i + 5) % N(F16)];
    run_ss("s32.f32", s32_f32, F32, N(F32), 0);
    run_ss("u32.f32", u32_f32, F32, N(F32), 0);
    run_ss("s32.f32 R", s32_f32_r, F32, N(F32), 0);
    run_ss("u32.f32 R", u32_f32_r, F32, N(F32), 0);
    run_ds("s32.f64", s32_f64);
    run_ds("u32.f64", u32_f64);
    run_ds("s32.f64 R", s32_f64_r);
    run_ds("u32.f64 R", u32_f64_r);
    run_ss("f32.s32", f32_s32, INT, N(INT), 0);
    run_ss("f32.u32", f32_u32, INT, N(INT), 0);
    run_sd("f64.s32", f64_s32, INT, N(INT));
    run_sd("f64.u32", f64_u32, INT, N(INT));
    run_sd("f64.f32", f64_f32, F32, N(F32));
    run_ds("f32.f64", f32_f64);
    for (uint32_t ahp = 0; ahp <= AHP; ahp += AHP) {
        run_ss("f32.f16 B", f32_f16b, halves, N(F16), ahp);
        run_ss("f32.f16 T", f32_f16t, halves, N(F16), ahp);
        run_ss("f16.f32 B", f16b_f32, F32, N(F32), ahp);
        run_ss("f16.f32 T", f16t_f32, F32, N(F32), ahp);
    }
    FIXRUN(s, 32, 1) FIXRUN(s, 32, 16) FIXRUN(s, 32, 32)
    FIXRUN(u, 32, 1) FIXRUN(u, 32, 8) FIXRUN(u, 32, 32)
    FIXRUN(s, 16, 1) FIXRUN(s, 16, 8) FIXRUN(s, 16, 16)
    FIXRUN(u, 16, 4) FIXRUN(u, 16, 16)
    run_sss("add.f32", add32); run_sss("sub.f32", sub32); run_sss("mul.f32", mul32);
    run_sss("div.f32", div32); run_sss("nmul.f32", nmul32); run_sss("mla.f32", mla32);
    run_sss("mls.f32", mls32); run_sss("nmla.f32", nmla32); run_sss("nmls.f32", nmls32);
    run_sss("cmp.f32", cmp32); run_sss("cmpe.f32", cmpe32);
    run_ddd("add.f64", add64); run_ddd("sub.f64", sub64); run_ddd("mul.f64", mul64);
    run_ddd("div.f64", div64); run_ddd("nmul.f64", nmul64); run_ddd("mla.f64", mla64);
    run_ddd("nmls.f64", nmls64); run_ddd("cmpe.f64", cmpe64);
    run_ss("sqrt.f32", sqrt32, F32, N(F32), 0);
    run_ss("abs.f32", abs32, F32, N(F32), 0);
    run_ss("neg.f32", neg32, F32, N(F32), 0);
    run_ss("cmp.f32 #0", cmpz32, F32, N(F32), 0);
    run_dd("sqrt.f64", sqrt64, 0);
    run_dd("neg.f64", neg64, 0);
    run_dd("cmpe.f64 #0", cmpez64, 0);
}
