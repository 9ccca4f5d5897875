/* A bare-metal conformance program for vexpress-a9: it prints what the boot handed
   it (registers, ATAGs or DTB), the board's identification registers, exceptions
   (SVC, undefined instructions, aborts, user mode), GIC interrupts from the SP804
   timer and an SGI, MMU translations and faults, then ARM, Thumb-2 and VFP computations (ops_*.c, vfp.c), and
   powers off.  Its output is compared byte for byte with qemu-system-arm's
   (tests/test_baremetal_arm.py); everything printed must be deterministic. */
#include "lib.h"

#define GICD 0x1e001000u
#define GICC 0x1e000100u
#define SCU 0x1e000000u
#define TIMER01 0x10011000u
#define SYSREGS 0x10000000u

/* r0 r1 r2 r3 cpsr pc, stored by start.S before .bss is cleared (so not in .bss) */
uint32_t boot_regs[6] __attribute__((section(".data")));

/* --- exceptions --------------------------------------------------------------------- */

enum { F_R0, F_R1, F_R2, F_R3, F_R12, F_LR, F_SPSR };

static int is_thumb32(uint16_t hw) { return (hw >> 11) >= 0x1d; }

void und_handler(uint32_t *f)
{
    uint32_t lr = f[F_LR], spsr = f[F_SPSR], at, insn;
    if (spsr & 0x20) {
        at = lr - 2;
        insn = *(uint16_t *)at;
        if (is_thumb32(insn)) {
            insn = insn << 16 | *(uint16_t *)(at + 2);
            f[F_LR] = lr + 2;
        }
    } else {
        at = lr - 4;
        insn = *(uint32_t *)at;
    }
    label("  und at"); hex(at); label(" insn"); hex(insn); label(" spsr"); hex(spsr); nl();
}

void svc_handler(uint32_t *f)
{
    uint32_t lr = f[F_LR], spsr = f[F_SPSR], imm;
    imm = spsr & 0x20 ? *(uint16_t *)(lr - 2) & 0xff : *(uint32_t *)(lr - 4) & 0xffffff;
    label("  svc imm"); hex(imm); label(" spsr"); hex(spsr); label(" r0"); hex(f[F_R0]);
    label(" r1"); hex(f[F_R1]); nl();
    if (imm == 0xff)                                   /* back from user mode in SVC */
        f[F_SPSR] = (spsr & ~0x1fu) | 0x13;
    else
        f[F_R0] = f[F_R0] * 3 + f[F_R1];
}

static uint32_t mrc_dfsr(void) { uint32_t v; __asm__ volatile("mrc p15, 0, %0, c5, c0, 0" : "=r"(v)); return v; }
static uint32_t mrc_dfar(void) { uint32_t v; __asm__ volatile("mrc p15, 0, %0, c6, c0, 0" : "=r"(v)); return v; }
static uint32_t mrc_ifsr(void) { uint32_t v; __asm__ volatile("mrc p15, 0, %0, c5, c0, 1" : "=r"(v)); return v; }

void dabt_handler(uint32_t *f)
{
    label("  dabt at"); hex(f[F_LR]); label(" dfsr"); hex(mrc_dfsr()); label(" dfar");
    hex(mrc_dfar()); label(" spsr"); hex(f[F_SPSR]); nl();
    f[F_LR] += f[F_SPSR] & 0x20 ? (is_thumb32(*(uint16_t *)f[F_LR]) ? 4 : 2) : 4;
}

void pabt_handler(uint32_t *f)
{
    label("  pabt at"); hex(f[F_LR]); label(" ifsr"); hex(mrc_ifsr()); label(" spsr");
    hex(f[F_SPSR]); nl();
    f[F_LR] += f[F_SPSR] & 0x20 ? 2 : 4;
}

static volatile uint32_t irq_count, irq_ids[8];

void irq_handler(uint32_t *f)
{
    (void)f;
    uint32_t iar = REG32(GICC + 0x0c);
    if ((iar & 0x3ff) == 34)
        REG32(TIMER01 + 0x0c) = 1;                     /* Timer1IntClr */
    if (irq_count < 8)
        irq_ids[irq_count] = iar;
    irq_count++;
    REG32(GICC + 0x10) = iar;                          /* EOI */
}

/* --- what the boot handed over -------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void show_dtb(const char *where, uint32_t addr)
{
    const uint8_t *p = (const uint8_t *)addr;
    uint32_t h[10];
    for (int i = 0; i < 10; i++)
        h[i] = be32(p + 4 * i);
    puts_(where);
    row(" dtb header", 10, h);
    label("  dtb crc32"); hex(crc32(0, p, h[1])); nl();
}

static void show_atags(uint32_t addr)
{
    const uint32_t *t = (const uint32_t *)addr;
    for (int n = 0; n < 16; n++) {
        label("  atag"); hex(t[0]); sp(); hex(t[1]);
        if (t[1] == 0x54410009) {
            puts_(" \"");
            puts_((const char *)(t + 2));
            putc_('"');
        } else {
            for (uint32_t i = 2; i < t[0] && i < 8; i++) {
                sp();
                hex(t[i]);
            }
        }
        nl();
        if (t[0] == 0 || t[1] == 0)
            break;
        t += t[0];
    }
}

static void boot_report(void)
{
    row("boot r0 r1 r2 r3 cpsr pc", 6, boot_regs);
    uint32_t r2 = boot_regs[2];
    if (r2 && *(uint32_t *)(r2 + 4) == 0x54410001) {
        puts_("boot args: ATAG list\n");
        show_atags(r2);
    } else if (r2 && *(uint32_t *)r2 == 0xedfe0dd0) {
        show_dtb("boot args: DTB", r2);
    } else if (*(uint32_t *)0x60000000 == 0xedfe0dd0) {
        show_dtb("DTB at RAM base", 0x60000000);
    } else {
        puts_("boot args: none\n");
    }
}

/* --- identification registers ----------------------------------------------------------- */

#define MRC(op1, crn, crm, op2) ({ uint32_t v_ = 0xdeadbeef;                          \
    __asm__ volatile("mrc p15, " #op1 ", %0, c" #crn ", c" #crm ", " #op2 : "+r"(v_)); v_; })

static void ids(void)
{
    uint32_t v[8];
    v[0] = MRC(0, 0, 0, 0); v[1] = MRC(0, 0, 0, 1); v[2] = MRC(0, 0, 0, 2); v[3] = MRC(0, 0, 0, 3);
    v[4] = MRC(0, 0, 0, 5);
    row("MIDR CTR TCMTR TLBTR MPIDR", 5, v);
    v[0] = MRC(0, 0, 1, 0); v[1] = MRC(0, 0, 1, 1); v[2] = MRC(0, 0, 1, 2); v[3] = MRC(0, 0, 1, 3);
    row("ID_PFR0 ID_PFR1 ID_DFR0 ID_AFR0", 4, v);
    v[0] = MRC(0, 0, 1, 4); v[1] = MRC(0, 0, 1, 5); v[2] = MRC(0, 0, 1, 6); v[3] = MRC(0, 0, 1, 7);
    row("ID_MMFR0-3", 4, v);
    v[0] = MRC(0, 0, 2, 0); v[1] = MRC(0, 0, 2, 1); v[2] = MRC(0, 0, 2, 2); v[3] = MRC(0, 0, 2, 3);
    v[4] = MRC(0, 0, 2, 4); v[5] = MRC(0, 0, 2, 5);
    row("ID_ISAR0-5", 6, v);
    v[0] = MRC(1, 0, 0, 1);
    __asm__ volatile("mcr p15, 2, %0, c0, c0, 0" : : "r"(0));  /* CSSELR: L1 data */
    v[1] = MRC(1, 0, 0, 0);
    __asm__ volatile("mcr p15, 2, %0, c0, c0, 0" : : "r"(1));  /* L1 instruction */
    v[2] = MRC(1, 0, 0, 0);
    v[3] = MRC(2, 0, 0, 0);
    __asm__ volatile("mcr p15, 2, %0, c0, c0, 0" : : "r"(0));
    row("CLIDR CCSIDR(L1D) CCSIDR(L1I) CSSELR", 4, v);
    v[0] = MRC(0, 1, 0, 0); v[1] = MRC(0, 1, 0, 1); v[2] = MRC(0, 1, 0, 2);
    row("SCTLR ACTLR CPACR", 3, v);
    v[0] = MRC(4, 15, 0, 0);
    v[1] = MRC(0, 12, 0, 0);
    v[2] = MRC(0, 10, 2, 0); v[3] = MRC(0, 10, 2, 1);
    row("CBAR VBAR PRRR NMRR", 4, v);
    __asm__ volatile("vmrs %0, fpsid" : "=r"(v[0]));
    __asm__ volatile("vmrs %0, fpexc" : "=r"(v[1]));
    __asm__ volatile("vmrs %0, fpscr" : "=r"(v[2]));
    row("FPSID FPEXC FPSCR", 3, v);
    /* MVFR0/MVFR1 are left out: QEMU's Cortex-A9 advertises NEON (and short vectors),
       which pysystem does not implement yet (issue 17's NEON part). */
}

static void dev_ids(const char *name, uint32_t base, uint32_t off, int n)
{
    uint32_t v[12];
    for (int i = 0; i < n; i++)
        v[i] = REG32(base + off + 4 * i);
    row(name, n, v);
}

static void board(void)
{
    uint32_t v[10];
    static const uint16_t sysoff[] = {0x00, 0x04, 0x08, 0x30, 0x48, 0x4c, 0x50, 0x58, 0x84, 0x88};
    for (int i = 0; i < 10; i++)
        v[i] = REG32(SYSREGS + sysoff[i]);
    row("SYS ID SW LED FLAGS MCI FLASH CLCD BOOTCS PROCID0 PROCID1", 10, v);
    /* configuration reads on the daughterboard (site 1): OSC 0-2, VOLT 0 */
    static const uint32_t cfg[] = {1u << 20 | 0, 1u << 20 | 1, 1u << 20 | 2, 2u << 20 | 0};
    for (int i = 0; i < 4; i++) {
        REG32(SYSREGS + 0xa8) = 0;                                       /* CFGSTAT */
        REG32(SYSREGS + 0xa4) = 1u << 31 | 1u << 16 | cfg[i];
        v[2 * i] = REG32(SYSREGS + 0xa0);
        v[2 * i + 1] = REG32(SYSREGS + 0xa8);
    }
    row("SYS_CFG osc0 osc1 osc2 volt0 (data stat)", 8, v);
    dev_ids("PL011 ids", 0x10009000, 0xfe0, 8);
    dev_ids("SP804 ids", TIMER01, 0xfe0, 8);
    dev_ids("PL031 ids", 0x10017000, 0xfe0, 8);
    dev_ids("PL181 ids", 0x10005000, 0xfe0, 8);
    dev_ids("PL050 ids", 0x10006000, 0xfe0, 8);
    dev_ids("PL041 ids", 0x10004000, 0xfe0, 8);
    dev_ids("PL111 ids", 0x1001f000, 0xfe0, 8);
    dev_ids("GICD ids", GICD, 0xfd0, 12);
    v[0] = REG32(GICD + 0); v[1] = REG32(GICD + 4); v[2] = REG32(GICD + 8);
    v[3] = REG32(GICC + 0xfc); v[4] = REG32(GICD + 0x800); v[5] = REG32(GICD + 0xc00);
    v[6] = REG32(GICD + 0xc04); v[7] = REG32(GICD + 0xc08);
    row("GICD CTLR TYPER IIDR GICC IIDR ITARGETSR0 ICFGR0-2", 8, v);
    v[0] = REG32(SCU + 0); v[1] = REG32(SCU + 4); v[2] = REG32(SCU + 8);
    v[3] = REG32(SCU + 0x208); v[4] = REG32(SCU + 0x600); v[5] = REG32(SCU + 0x608);
    row("SCU CTRL CONFIG PWR GTIMER_CTRL TWD_LOAD TWD_CTRL", 6, v);
    v[0] = REG32(0x1e00a000); v[1] = REG32(0x1e00a004); v[2] = REG32(0x1e00a100);
    v[3] = REG32(0x1e00a104);
    row("L2C CACHE_ID TYPE CTRL AUX", 4, v);
}

/* --- exceptions and interrupts ----------------------------------------------------------- */

static void exceptions(void)
{
    puts_("svc from SVC mode\n");
    uint32_t r = 0x1234;
    __asm__ volatile("mov r0, %0\n\tmov r1, #0x11\n\tsvc #0x42\n\tmov %0, r0"
                     : "+r"(r) : : "r0", "r1", "r2", "r3", "r12", "lr", "memory", "cc");
    label("  result"); hex(r); nl();

    puts_("undefined instructions (ARM)\n");
    __asm__ volatile(".inst 0xe7f123f4" ::: "memory");                 /* UDF #0x1234 */
    __asm__ volatile(".inst 0xe710f110" ::: "memory");                 /* SDIV: not on an A9 */
    __asm__ volatile(".inst 0xe730f110" ::: "memory");                 /* UDIV */
    puts_("VFP with FPEXC.EN clear\n");
    uint32_t old;
    __asm__ volatile("vmrs %0, fpexc\n vmsr fpexc, %1\n .inst 0xee300a00\n vmsr fpexc, %0"
                     : "=&r"(old) : "r"(0) : "memory");                /* VADD.F32 s0,s0,s0 */
    puts_("alignment fault (SCTLR.A)\n");
    uint32_t sctlr = MRC(0, 1, 0, 0), dummy = 0;
    __asm__ volatile("mcr p15, 0, %1, c1, c0, 0\n isb\n ldr %0, [%2]\n mcr p15, 0, %3, c1, c0, 0\n isb"
                     : "+r"(dummy) : "r"(sctlr | 2), "r"(0x60100001), "r"(sctlr) : "memory");
    __asm__ volatile("ldr %0, [%1]" : "+r"(dummy) : "r"(0x60100001) : "memory");
    label("  unaligned ldr (A=0) gave"); hex(dummy); nl();
    puts_("bkpt\n");
    __asm__ volatile("bkpt #0x12" ::: "memory");
    puts_("user mode\n");
    uint32_t u[5];
    extern void user_visit(uint32_t *);
    user_visit(u);
    row("  cpsr_after cpsr_before cpsr_user r7 sp_usr", 5, u);
}

/* Wait with IRQs masked between the test and the WFI: an interrupt taken after the test
 * but before the WFI would leave it waiting for one that never comes (a one-shot timer's).
 * WFI wakes on a pending interrupt whatever CPSR.I says; the cpsie then takes it. */
static void wait_irqs(uint32_t n)
{
    while (irq_count < n)
        __asm__ volatile("wfi\n cpsie i\n nop\n nop\n cpsid i" ::: "memory");
}

static void interrupts(void)
{
    puts_("GIC + SP804\n");
    REG32(GICD + 0x000) = 1;
    REG32(GICD + 0x104) = 1u << 2;                   /* enable ID 34 (SPI 2) */
    REG32(GICD + 0x100) = 1u << 5;                   /* SGI 5 */
    *(volatile uint8_t *)(GICD + 0x400 + 34) = 0x80;
    *(volatile uint8_t *)(GICD + 0x400 + 5) = 0x40;
    *(volatile uint8_t *)(GICD + 0x800 + 34) = 1;
    REG32(GICC + 4) = 0xf0;
    REG32(GICC + 0) = 1;
    uint32_t v[6];
    v[0] = REG32(GICD + 0x104); v[1] = REG32(GICD + 0x420); v[2] = REG32(GICD + 0x820);
    v[3] = REG32(GICC + 0); v[4] = REG32(GICC + 4);
    row("  ISENABLER1 IPRIORITYR8 ITARGETSR8 GICC_CTLR PMR", 5, v);

    /* periodic: three interrupts */
    REG32(TIMER01 + 8) = 0;
    REG32(TIMER01 + 0) = 500;
    REG32(TIMER01 + 8) = 1u << 7 | 1u << 6 | 1u << 5 | 1u << 1;
    wait_irqs(3);
    REG32(TIMER01 + 8) = 0;
    v[0] = irq_count; v[1] = irq_ids[0]; v[2] = irq_ids[1]; v[3] = irq_ids[2];
    v[4] = REG32(TIMER01 + 0x10); v[5] = REG32(TIMER01 + 0x14);
    row("  periodic count ids RIS MIS", 6, v);

    /* one-shot: the count stops at zero */
    irq_count = 0;
    REG32(TIMER01 + 0) = 20;
    REG32(TIMER01 + 8) = 1u << 7 | 1u << 5 | 1u << 1 | 1u << 0;
    wait_irqs(1);
    v[0] = irq_count; v[1] = irq_ids[0]; v[2] = REG32(TIMER01 + 4); v[3] = REG32(TIMER01 + 8);
    v[4] = REG32(TIMER01 + 0x10);
    row("  oneshot count id VALUE CTRL RIS", 5, v);
    REG32(TIMER01 + 8) = 0;

    /* masked: the interrupt stays pending at the GIC until I is cleared */
    irq_count = 0;
    REG32(TIMER01 + 0) = 10;
    REG32(TIMER01 + 8) = 1u << 7 | 1u << 5 | 1u << 1 | 1u << 0;
    while (!(REG32(TIMER01 + 0x14)))
        ;
    v[0] = REG32(GICD + 0x204); v[1] = REG32(GICC + 0x18); v[2] = irq_count;
    __asm__ volatile("cpsie i\n nop\n nop\n cpsid i");
    v[3] = irq_count; v[4] = irq_ids[0]; v[5] = REG32(GICD + 0x204);
    row("  masked ISPENDR1 HPPIR count, unmasked count id ISPENDR1", 6, v);
    REG32(TIMER01 + 8) = 0;

    /* a software-generated interrupt to ourselves */
    irq_count = 0;
    REG32(GICD + 0xf00) = 1u << 16 | 5;
    __asm__ volatile("cpsie i\n nop\n nop\n cpsid i");
    v[0] = irq_count; v[1] = irq_ids[0];
    row("  SGI count id", 2, v);
    REG32(GICC + 0) = 0;
    REG32(GICD + 0) = 0;
}

/* --- the MMU (short descriptors) --------------------------------------------------------- */

static uint32_t l1[4096] __attribute__((aligned(16384)));
static uint32_t l2[256] __attribute__((aligned(1024)));

#define MCR(op1, crn, crm, op2, v) \
    __asm__ volatile("mcr p15, " #op1 ", %0, c" #crn ", c" #crm ", " #op2 "\n\tisb" : : "r"(v) : "memory")

static uint32_t probe_read(uint32_t va)
{
    uint32_t v = 0x5a5a5a5a;
    __asm__ volatile("ldr %0, [%1]" : "+r"(v) : "r"(va) : "memory");
    return v;
}

static void probe_write(uint32_t va, uint32_t value)
{
    __asm__ volatile("str %0, [%1]" : : "r"(value), "r"(va) : "memory");
}

static uint32_t ats(uint32_t va, int user)
{
    if (user)
        MCR(0, 7, 8, 2, va);                        /* ATS1CUR */
    else
        MCR(0, 7, 8, 0, va);                        /* ATS1CPR */
    return MRC(0, 7, 4, 0);                         /* PAR */
}

static void mmu(void)
{
    puts_("MMU\n");
    for (uint32_t i = 0; i < 4096; i++)
        l1[i] = i << 20 | 0xc02;                     /* identity, AP=11, domain 0 */
    l1[0x800] = 0x60000000 | 0x402;                  /* 0x80000000: RAM base, AP=01 (PL1 only) */
    l1[0x801] = 0;                                   /* 0x80100000: translation fault */
    l1[0x802] = 0x60000000 | 0xc02 | 1u << 5;        /* 0x80200000: domain 1 (no access) */
    l1[0x803] = (uint32_t)l2 | 0x1;                  /* 0x80300000: a page table */
    l1[0x804] = 0x60000000 | 1u << 15 | 0x402;       /* 0x80400000: AP2:AP=101, read-only */
    for (int i = 0; i < 256; i++)
        l2[i] = 0;
    l2[0] = 0x60010000 | 0x32;                       /* small page, AP=11 */
    l2[2] = 0x60010000 | 0x12;                       /* small page, AP=01 */
    uint32_t sctlr = MRC(0, 1, 0, 0);
    MCR(0, 2, 0, 0, (uint32_t)l1);                   /* TTBR0 */
    MCR(0, 2, 0, 2, 0);                              /* TTBCR */
    MCR(0, 3, 0, 0, 0x55555551);                     /* DACR: domain 1 no access */
    MCR(0, 8, 7, 0, 0);                              /* TLBIALL */
    MCR(0, 1, 0, 0, sctlr | 1);
    uint32_t v[8];
    v[0] = probe_read(0x80010000); v[1] = probe_read(0x80300004); v[2] = probe_read(0x80402000);
    v[3] = probe_read(0x80302008);
    row("  reads via section, page, read-only section, AP=01 page", 4, v);
    puts_("  faults: translation (section, page), domain, permission (write)\n");
    probe_read(0x80100010);
    probe_read(0x80301004);
    probe_read(0x80200020);
    probe_write(0x80400030, 1);
    v[0] = ats(0x80010004, 0); v[1] = ats(0x80010004, 1); v[2] = ats(0x80300008, 0);
    v[3] = ats(0x80302008, 1); v[4] = ats(0x80100000, 0); v[5] = ats(0x80200000, 0);
    v[6] = ats(0x80400000, 1); v[7] = ats(0x10009000, 1);
    row("  PAR after ATS1CPR/ATS1CUR", 8, v);
    MCR(0, 1, 0, 0, sctlr);
    MCR(0, 8, 7, 0, 0);
    v[0] = MRC(0, 2, 0, 0); v[1] = MRC(0, 3, 0, 0); v[2] = MRC(0, 1, 0, 0);
    row("  TTBR0 DACR SCTLR", 3, v);
}

int main(void)
{
    REG32(0x10009000 + 0x30) = 0x301;                /* UARTCR: enable, TX, RX */
    puts_("pysystem conformance program\n");
    boot_report();
    ids();
    board();
    exceptions();
    interrupts();
    mmu();
    ops_arm();
    ops_thumb();
    vfp_tests();
    puts_("done\n");
    return 0;
}
