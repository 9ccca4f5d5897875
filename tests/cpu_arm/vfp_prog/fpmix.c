/* A freestanding VFP workload for tests/cpu_arm/test_vfp_program.py: compiled with
 * -mfpu=vfpv3 -mfloat-abi=hard, run on pysystem's CPU and on Unicorn, results compared.
 * No library calls: everything here compiles to VFP instructions. */
typedef unsigned int u32;
typedef unsigned long long u64;

volatile u32 out_u[256];
volatile u64 out_d[256];
volatile float in_f[64];
volatile double in_d[64];

static inline float fsqrt(float x) { return __builtin_sqrtf(x); }
static inline double dsqrt(double x) { return __builtin_sqrt(x); }

static u32 fbits(float f) { union { float f; u32 u; } v; v.f = f; return v.u; }
static u64 dbits(double d) { union { double d; u64 u; } v; v.d = d; return v.u; }

void run(void)
{
    int k = 0, j = 0;
    for (int i = 0; i < 63; i++) {
        float a = in_f[i], b = in_f[i + 1];
        double x = in_d[i], y = in_d[i + 1];
        float s = a * b + a / (b + 1.5f) - fsqrt(a < 0 ? -a : a);
        double t = x * y - x / (y - 0.25) + dsqrt(x > 0 ? x : -x);
        out_u[k++ & 255] = fbits(s);
        out_d[j++ & 255] = dbits(t);
        out_u[k++ & 255] = (u32)(int)s;
        out_u[k++ & 255] = (u32)t;
        out_d[j++ & 255] = dbits((double)s * t);
        out_u[k++ & 255] = fbits((float)t);
        out_u[k++ & 255] = (a < b) | (a == b) << 1 | (x >= y) << 2 | (x != x) << 3;
        out_d[j++ & 255] = dbits((double)(int)(i * 12345 - 300000) / 7.0 + (double)(u32)(i * 0x9e3779b9u));
        out_u[k++ & 255] = fbits((float)(i * 3 - 90) * 0.1f - (float)(u32)(i << 26));
        float acc = 0.0f;
        for (int n = 0; n < 8; n++)
            acc = acc * 0.5f - a * (float)n + b;
        out_u[k++ & 255] = fbits(acc);
        out_u[k++ & 255] = fbits(-(a * b) - x);
    }
}

void _start(void) __attribute__((naked, section(".text.start")));
void _start(void)
{
    __asm__ volatile("ldr sp, =0x8f000\n bl run\n1: b 1b\n");
}
