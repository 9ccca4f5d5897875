/* A bare-metal MIPS32r2 test program: prints what the CPU computes and which
 * exceptions it takes, on the Malta CBUS UART (0xbf000900, register shift 3).  Its
 * output must be the same on QEMU's malta and on pysystem (tests/cpu_mips). */
typedef unsigned int u32;
typedef int s32;

#define UART ((volatile unsigned char *)0xbf000900)

static void putc_(char c)
{
    while (!(UART[5 << 3] & 0x20))
        ;
    UART[0] = c;
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void hex(u32 v)
{
    int i;
    for (i = 28; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 15]);
}

static void show(const char *name, u32 v)
{
    puts_(name);
    putc_('=');
    hex(v);
    putc_('\n');
}

#define MFC0(reg, sel) ({ u32 __v; __asm__ volatile("mfc0 %0, $" #reg ", " #sel : "=r"(__v)); __v; })
#define MTC0(reg, sel, v) __asm__ volatile("mtc0 %0, $" #reg ", " #sel "\n ehb" :: "r"((u32)(v)))

extern u32 frame[40];
extern char user_code[], user_code_end[];

volatile u32 n_exc, last_cause, last_epc, last_badvaddr, n_refill, n_timer, n_syscall;
volatile int in_user;
u32 ret_addr;     /* where the user-mode test resumes in kernel mode */

void handle(u32 *f, u32 kind)
{
    u32 cause = MFC0(13, 0);
    u32 code = (cause >> 2) & 31;
    n_exc++;
    last_cause = cause & 0x8000007c;
    last_epc = f[34];
    if (kind == 2 || code == 0) {            /* timer interrupt */
        n_timer++;
        if (n_timer < 3)
            MTC0(11, 0, MFC0(9, 0) + 2000);
        else
            MTC0(12, 0, MFC0(12, 0) & ~1);   /* that was the last one: IE off */
        MTC0(11, 0, MFC0(11, 0));            /* Compare write: clears TI */
        return;
    }
    if (kind == 0 || code == 2 || code == 3) {  /* TLB refill/invalid: map the page */
        u32 va = MFC0(8, 0);
        last_badvaddr = va;
        n_refill++;
        u32 pa = 0x00300000 + (va & 0x000fe000);
        MTC0(10, 0, (va & 0xffffe000) | (MFC0(10, 0) & 0xff));
        MTC0(2, 0, ((pa >> 12) << 6) | (3 << 3) | 6);
        MTC0(3, 0, (((pa + 0x1000) >> 12) << 6) | (3 << 3) | 6);
        MTC0(5, 0, 0);
        __asm__ volatile("tlbwr\n ehb");
        return;
    }
    if (code == 8) {                          /* syscall */
        n_syscall++;
        if (in_user) {                        /* back to kernel mode after the user code */
            in_user = 0;
            MTC0(12, 0, MFC0(12, 0) & ~0x18);
            f[34] = ret_addr;
            return;
        }
        f[34] += 4;
        return;
    }
    if (code == 4 || code == 5) {             /* address error: skip the access */
        last_badvaddr = MFC0(8, 0);
    }
    if (cause & 0x80000000)                    /* in a delay slot: skip branch and slot */
        f[34] += 8;
    else
        f[34] += 4;
}

static u32 arith(void)
{
    volatile u32 a = 0x12345678, b = 0xfedcba98, c = 7, d = 0x80000000;
    u32 r = 0, t;
    long long p;
    show("addu", a + b);
    show("subu", a - b);
    p = (long long)(s32)a * (s32)b;
    show("mult.hi", (u32)(p >> 32));
    show("mult.lo", (u32)p);
    show("multu.hi", (u32)(((unsigned long long)a * b) >> 32));
    show("div", (u32)((s32)b / (s32)c));
    show("mod", (u32)((s32)b % (s32)c));
    show("divu", b / c);
    show("clz", __builtin_clz(a));
    __asm__("clo %0, %1" : "=r"(t) : "r"(b));
    show("clo", t);
    __asm__("ext %0, %1, 5, 9" : "=r"(t) : "r"(a));
    show("ext", t);
    t = b;
    __asm__("ins %0, %1, 4, 12" : "+r"(t) : "r"(a));
    show("ins", t);
    __asm__("rotr %0, %1, 12" : "=r"(t) : "r"(a));
    show("rotr", t);
    __asm__("wsbh %0, %1" : "=r"(t) : "r"(a));
    show("wsbh", t);
    __asm__("seb %0, %1" : "=r"(t) : "r"(b));
    show("seb", t);
    __asm__("madd %1, %2\n mflo %0" : "=r"(t) : "r"(a), "r"(b) : "hi", "lo");
    show("madd.lo", t);
    show("sra", (u32)((s32)d >> 7));
    show("sltu", a < b);
    show("slt", (s32)a < (s32)b);
    r = a ^ b ^ c;
    return r;
}

static void unaligned(void)
{
    static unsigned char buf[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    u32 v;
    int i;
    for (i = 0; i < 4; i++) {
        __asm__("lwl %0, 3(%1)\n lwr %0, 0(%1)" : "=&r"(v) : "r"(buf + 1 + i));
        show("lwlr", v);
    }
    v = 0xa1b2c3d4;
    __asm__ volatile("swl %0, 3(%1)\n swr %0, 0(%1)" :: "r"(v), "r"(buf + 5) : "memory");
    for (i = 0; i < 16; i += 4)
        show("buf", buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | ((u32)buf[i + 3] << 24));
}

static void exceptions(void)
{
    volatile u32 x;
    __asm__ volatile("syscall");
    show("sys.cause", last_cause);
    __asm__ volatile(".set noreorder\n b 1f\n break\n nop\n1:\n .set reorder");
    show("bd.cause", last_cause);
    __asm__ volatile("lw %0, 2(%1)" : "=r"(x) : "r"(0x80000000));
    show("adel.cause", last_cause);
    show("adel.badvaddr", last_badvaddr);
    __asm__ volatile("teq $0, $0");
    show("tr.cause", last_cause);
    show("n_exc", n_exc);
    (void)x;
}

static void tlb(void)
{
    volatile u32 *p = (volatile u32 *)0x00402010;
    volatile u32 *q = (volatile u32 *)0x80302010;   /* where the handler maps it */
    u32 i, sum = 0;
    MTC0(6, 0, 1);              /* Wired = 1 */
    MTC0(10, 0, 0x25);          /* ASID 0x25 */
    *p = 0xcafef00d;
    show("tlb.refills", n_refill);
    show("tlb.badvaddr", last_badvaddr);
    show("tlb.phys", *q);
    for (i = 0; i < 40; i++) {   /* more pages than TLB entries: refills keep coming */
        volatile u32 *r = (volatile u32 *)(0x00500000 + i * 0x2000);
        *r = i * 3;
        sum += *r;
    }
    show("tlb.sum", sum);
    show("tlb.refills2", n_refill > 40 ? 40 : n_refill);
    MTC0(10, 0, 0x26);          /* another ASID: the same address refills again */
    n_refill = 0;
    sum = *p;
    show("tlb.asid.refills", n_refill);
    show("tlb.asid.val", sum);
    MTC0(0, 0, 0);
    __asm__ volatile("tlbr\n ehb");
    show("tlbr.pagemask", MFC0(5, 0));
}

static u32 user_test(void)
{
    /* map 0x00600000 (global, ASID-independent) to the user code's page, eret to it */
    u32 pa = (u32)user_code & 0x1ffff000;
    u32 off = (u32)user_code & 0xfff;
    u32 ret;
    MTC0(10, 0, 0x00600000);
    MTC0(2, 0, ((pa >> 12) << 6) | (3 << 3) | 3);
    MTC0(3, 0, (((pa + 0x1000) >> 12) << 6) | (3 << 3) | 3);
    MTC0(5, 0, 0);
    MTC0(0, 0, 0);
    __asm__ volatile("tlbwi\n ehb");
    in_user = 1;
    n_syscall = 0;
    __asm__ volatile(
        ".set noreorder\n"
        " la $t0, 1f\n"
        " sw $t0, ret_addr\n"
        " mtc0 %1, $14\n"
        " mfc0 $t0, $12\n"
        " ori $t0, $t0, 0x12\n"      /* KSU = user, EXL */
        " mtc0 $t0, $12\n"
        " ehb\n"
        " li $a0, 41\n"
        " eret\n"
        "1: move %0, $v0\n"
        " .set reorder\n"
        : "=r"(ret) : "r"(0x00600000 + off) : "t0", "a0", "v0", "memory");
    return ret;
}

static void timer(void)
{
    MTC0(13, 0, 1 << 23);                     /* Cause.IV: interrupts at +0x200 */
    MTC0(11, 0, MFC0(9, 0) + 2000);
    MTC0(12, 0, MFC0(12, 0) | (1 << 15) | 1);  /* IM7, IE */
    {
        volatile u32 spin = 0;
        while (n_timer < 3 && spin < 100000000)
            { spin++; __asm__ volatile("wait"); }
    }
    show("timer.n", n_timer);
    show("timer.cause", last_cause & 0x7c);
}

static void __attribute__((noinline)) fpu(void)
{
    volatile double a = 2.0, b = 3.0, c;
    volatile float f = 1.5f, g;
    volatile int i = -7;
    union { double d; unsigned long long u; } u;
    union { float f; u32 u; } v;
    c = __builtin_sqrt(a) / b + (double)i;
    u.d = c;
    show("fpu.hi", (u32)(u.u >> 32));
    show("fpu.lo", (u32)u.u);
    g = f * f - 0.25f;
    v.f = g;
    show("fpu.s", v.u);
    show("fpu.cvt", (u32)(s32)(c * 1000.0));
    show("fpu.cmp", (a < b) | ((b < a) << 1));
}

static void atomics(void)
{
    static volatile u32 counter = 5;
    u32 tmp, ok;
    __asm__ volatile("1: ll %0, %2\n addiu %0, %0, 3\n sc %0, %2\n beqz %0, 1b\n nop\n move %1, %0"
                     : "=&r"(tmp), "=r"(ok), "+m"(counter));
    show("llsc", counter);
    show("llsc.ok", ok);
}

int main(void)
{
    puts_("mips bare-metal test\n");
    show("prid", MFC0(15, 0));
    show("config0.be", (MFC0(16, 0) >> 15) & 1);
    show("config1", MFC0(16, 1));
    show("status", MFC0(12, 0));
    show("arith", arith());
    unaligned();
    exceptions();
    tlb();
    show("user", user_test());
    timer();
    fpu();
    atomics();
    puts_("done\n");
    return 0;
}
