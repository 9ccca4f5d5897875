/* The SMP program: what each CPU of an A9 MPCore sees of its banked private region, and
   interrupts between CPUs (SGIs) and from each CPU's private timer.

   CPU 0 directs: it hands an operation to one CPU at a time through `cmd` and waits
   until that CPU has done it, so the output does not depend on how the CPUs are
   scheduled.  Every value is printed by CPU 0 at the end. */
#include "lib.h"

#define SCU  0x1e000000u
#define GICC 0x1e000100u
#define TWD  0x1e000600u
#define WDT  0x1e000620u
#define GICD 0x1e001000u

#define IDLE 0xffffffffu
enum { OP_PROBE = 1, OP_REREAD, OP_TIMER, OP_SGI_OTHERS };

#define DATA __attribute__((section(".data")))
static volatile uint32_t cmd DATA = IDLE;          /* op << 8 | cpu */
static volatile uint32_t ready[4] DATA = {0, 0, 0, 0};
static volatile uint32_t probe[4][12] DATA;
static volatile uint32_t reread[4][6] DATA;
static volatile uint32_t timer[4][3] DATA;
static volatile uint32_t irq_count[4] DATA;
static volatile uint32_t irq_last[4] DATA;

static inline void wfe(void) { __asm__ volatile("wfe" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void sev(void) { __asm__ volatile("dsb\n\tsev" ::: "memory"); }
static inline void irq_on(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline void irq_off(void) { __asm__ volatile("cpsid i" ::: "memory"); }

static uint32_t mpidr(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c0, c0, 5" : "=r"(v));
    return v;
}

void irq_handler(void)
{
    uint32_t cpu = mpidr() & 3;
    uint32_t iar = REG32(GICC + 0x0c);
    if ((iar & 0x3ff) == 29) {
        timer[cpu][1] = REG32(TWD + 0x0c);          /* interrupt status: 1 */
        REG32(TWD + 0x08) = 0;
        REG32(TWD + 0x0c) = 1;
    }
    irq_last[cpu] = iar;
    irq_count[cpu]++;
    REG32(GICC + 0x10) = iar;
}

static void wait_irq(uint32_t cpu, uint32_t before)
{
    irq_off();
    while (irq_count[cpu] == before) {
        wfi();
        irq_on();
        __asm__ volatile("isb" ::: "memory");
        irq_off();
    }
    irq_on();
}

static void do_probe(uint32_t cpu)
{
    volatile uint32_t *p = probe[cpu];
    p[0] = mpidr();
    p[1] = REG32(SCU + 0x04);                       /* SCU configuration */
    p[2] = REG32(GICD + 0x004);                     /* GICD_TYPER */
    p[3] = REG32(GICD + 0x800);                     /* ITARGETSR0: SGIs 0-3 */
    p[4] = REG32(GICD + 0x81c);                     /* ITARGETSR7: PPIs 28-31 */
    REG32(GICD + 0x800) = 0x0f0f0f0f;               /* read-only */
    p[5] = REG32(GICD + 0x800);
    *(volatile uint8_t *)(GICD + 0x400 + 29) = (uint8_t)((cpu + 1) << 4);
    REG32(GICD + 0x100) = 1u << (16 + cpu);         /* a banked PPI enable */
    REG32(GICC + 0x04) = 0xf0 - 0x10 * cpu;         /* banked priority mask */
    REG32(TWD + 0x00) = 1000 * (cpu + 1);           /* private timer load */
    REG32(WDT + 0x00) = 2000 * (cpu + 1);           /* watchdog load */
    p[6] = REG32(GICD + 0x41c);
    p[7] = REG32(GICD + 0x100);
    p[8] = REG32(GICC + 0x04);
    p[9] = REG32(TWD + 0x00);
    p[10] = REG32(WDT + 0x00);
    p[11] = REG32(GICC + 0x00);
}

static void do_reread(uint32_t cpu)
{
    volatile uint32_t *p = reread[cpu];
    p[0] = REG32(GICD + 0x41c);
    p[1] = REG32(GICD + 0x100);
    p[2] = REG32(GICC + 0x04);
    p[3] = REG32(TWD + 0x00);
    p[4] = REG32(WDT + 0x00);
    p[5] = REG32(GICD + 0x800);
}

static void do_timer(uint32_t cpu)
{
    uint32_t before = irq_count[cpu];
    REG32(GICC + 0x04) = 0xf0;
    REG32(GICD + 0x100) = 1u << 29;
    REG32(TWD + 0x0c) = 1;
    REG32(TWD + 0x00) = 0x100;
    REG32(TWD + 0x08) = 1 | 4;                      /* enable, interrupt enable, one shot */
    wait_irq(cpu, before);
    timer[cpu][0] = irq_last[cpu];
    timer[cpu][2] = REG32(GICD + 0x100);
}

static void do_op(uint32_t op, uint32_t cpu)
{
    if (op == OP_PROBE)
        do_probe(cpu);
    else if (op == OP_REREAD)
        do_reread(cpu);
    else if (op == OP_TIMER)
        do_timer(cpu);
    else if (op == OP_SGI_OTHERS)
        REG32(GICD + 0xf00) = 1u << 24 | 7;         /* SGI 7 to every other CPU */
}

void secondary_main(uint32_t cpu)
{
    REG32(GICC + 0x04) = 0xf0;
    REG32(GICC + 0x00) = 1;
    irq_on();
    ready[cpu] = 1;
    sev();
    for (;;) {
        while ((cmd & 0xff) != cpu)
            wfe();
        do_op(cmd >> 8, cpu);
        cmd = IDLE;
        sev();
    }
}

static void run_on(uint32_t cpu, uint32_t op)
{
    if (cpu == 0) {
        do_op(op, 0);
        return;
    }
    cmd = op << 8 | cpu;
    sev();
    while (cmd != IDLE)
        wfe();
}

int main(void)
{
    uint32_t v[12];
    uint32_t n = (REG32(SCU + 0x04) & 3) + 1;
    REG32(GICD + 0x000) = 1;
    REG32(GICC + 0x04) = 0xf0;
    REG32(GICC + 0x00) = 1;
    irq_on();
    for (uint32_t c = 1; c < n; c++)
        while (!ready[c])
            wfe();
    label("cpus");
    hex(n);
    nl();
    for (uint32_t c = 0; c < n; c++)
        run_on(c, OP_PROBE);
    for (uint32_t c = 0; c < n; c++)
        run_on(c, OP_REREAD);
    for (uint32_t c = 0; c < n; c++) {
        for (int i = 0; i < 12; i++)
            v[i] = probe[c][i];
        label("cpu"); hexn(c, 1); sp();
        row("MPIDR SCU_CFG TYPER ITARGETSR0 ITARGETSR7 ITARGETSR0' IPRIORITYR7 ISENABLER0 PMR TWD WDT GICC_CTLR", 12, v);
        for (int i = 0; i < 6; i++)
            v[i] = reread[c][i];
        label("cpu"); hexn(c, 1); sp();
        row("again: IPRIORITYR7 ISENABLER0 PMR TWD WDT ITARGETSR0", 6, v);
    }
    /* SPI targets: CPUs that exist only */
    REG32(GICD + 0x828) = 0xff020103;
    v[0] = REG32(GICD + 0x828);
    row("ITARGETSR10 after 0xff020103", 1, v);
    /* SGIs from CPU 0 to each CPU in turn, then to itself */
    for (uint32_t c = 1; c < n; c++) {
        uint32_t before = irq_count[c];
        REG32(GICD + 0xf00) = 1u << (16 + c) | 3;
        while (irq_count[c] == before)
            wfe();
        v[0] = irq_last[c];
        label("sgi 3 from cpu0 to cpu"); hexn(c, 1); sp();
        row("iar", 1, v);
    }
    {
        uint32_t before = irq_count[0];
        REG32(GICD + 0xf00) = 2u << 24 | 5;
        wait_irq(0, before);
        v[0] = irq_last[0];
        row("sgi 5 to self: iar", 1, v);
    }
    /* an SGI from each secondary to every other CPU */
    for (uint32_t c = 1; c < n; c++) {
        uint32_t before[4];
        for (uint32_t k = 0; k < n; k++)
            before[k] = irq_count[k];
        run_on(c, OP_SGI_OTHERS);
        for (uint32_t k = 0; k < n; k++) {
            if (k == c)
                continue;
            if (k == 0)
                wait_irq(0, before[0]);
            else
                while (irq_count[k] == before[k])
                    wfe();
        }
        label("sgi 7 from cpu"); hexn(c, 1); sp();
        for (uint32_t k = 0; k < n; k++)
            v[k] = k == c ? irq_count[k] - before[k] : irq_last[k];
        row("iar per cpu (own: count)", n, v);
    }
    /* each CPU's private timer interrupts that CPU */
    for (uint32_t c = 0; c < n; c++) {
        run_on(c, OP_TIMER);
        for (int i = 0; i < 3; i++)
            v[i] = timer[c][i];
        label("timer cpu"); hexn(c, 1); sp();
        row("iar isr ISENABLER0", 3, v);
    }
    puts_("done\n");
    return 0;
}
