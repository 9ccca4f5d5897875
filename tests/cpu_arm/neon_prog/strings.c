/* glibc's string routines (which use NEON when HWCAP_NEON is set) and loops the compiler
 * vectorises with NEON, over many sizes and alignments: prints whether the kernel
 * reported NEON and one FNV-1a hash per routine.  Run in the guest by
 * tests/test_neon_guest.py and compared with the same program under QEMU.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#define N 4096

static uint8_t src[N + 64], dst[N + 64];
static uint64_t h;

static void mix(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
}

static void mixv(uint64_t v) { mix(&v, sizeof v); }

static void fill(void)
{
    for (int i = 0; i < N + 64; i++) {
        src[i] = (uint8_t)(i * 131 + 7);
        dst[i] = (uint8_t)(i * 17);
    }
}

/* vectorised with -O3 -mfpu=neon */
static void __attribute__((noinline)) vec_ops(int32_t *a, const int32_t *b, const int16_t *c, int n)
{
    for (int i = 0; i < n; i++)
        a[i] = a[i] * 3 + (b[i] >> 2) - c[i];
}

static int __attribute__((noinline)) vec_sum(const uint8_t *p, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++)
        s += p[i] > 100 ? p[i] : p[i] ^ 0x55;
    return s;
}

int main(void)
{
    printf("hwcap neon: %d\n", (getauxval(AT_HWCAP) & (1 << 12)) ? 1 : 0);
    static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65,
                                   127, 128, 129, 255, 256, 511, 1000, 2048, 4000};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < ns; k++)
        for (int so = 0; so < 8; so++)
            for (int dof = 0; dof < 8; dof += 3) {
                fill();
                memcpy(dst + dof, src + so, sizes[k]);
                mix(dst, N + 64);
            }
    printf("memcpy %016llx\n", (unsigned long long)h);
    h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < ns; k++)
        for (int off = -9; off <= 9; off += 3) {
            fill();
            memmove(src + 32 + off, src + 32, sizes[k] > N ? N : sizes[k]);
            mix(src, N + 64);
        }
    printf("memmove %016llx\n", (unsigned long long)h);
    h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < ns; k++)
        for (int off = 0; off < 8; off++) {
            fill();
            memset(dst + off, (int)(k * 37 + off), sizes[k]);
            mix(dst, N + 64);
        }
    printf("memset %016llx\n", (unsigned long long)h);
    h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < ns; k++)
        for (int off = 0; off < 8; off++) {
            fill();
            memcpy(dst + off, src, sizes[k]);
            if (sizes[k])
                dst[off + sizes[k] / 2] ^= (uint8_t)k;
            int r = memcmp(dst + off, src, sizes[k]);
            mixv((uint64_t)(r > 0) - (uint64_t)(r < 0));
            src[sizes[k]] = 0;
            mixv(strlen((char *)src + off));
            mixv((uint64_t)(strchr((char *)src + off, 0x80) ? strchr((char *)src + off, 0x80) - (char *)src : -1));
            mixv((uint64_t)(strcmp((char *)dst + off, (char *)src) > 0));
        }
    printf("cmp %016llx\n", (unsigned long long)h);
    static int32_t a[1024], b[1024];
    static int16_t c[1024];
    for (int i = 0; i < 1024; i++) {
        a[i] = i * 7919 - 300000;
        b[i] = i * -104729;
        c[i] = (int16_t)(i * 977);
    }
    for (int r = 0; r < 5; r++)
        vec_ops(a, b, c, 1024 - r);
    h = 0xcbf29ce484222325ull;
    mix(a, sizeof a);
    mixv((uint64_t)vec_sum(src, N));
    printf("vector %016llx\n", (unsigned long long)h);
    return 0;
}
