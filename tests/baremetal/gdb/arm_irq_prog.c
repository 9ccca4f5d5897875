/* The reverse-replay test program: an SP804 tick every 10 ms of guest time and the
 * PL011's receive interrupt, both through the GIC; main() sleeps in WFI, prints each tick
 * and echoes each byte received, so what it does depends on when the host typed. */
#define REG32(a) (*(volatile unsigned *)(a))
#define UART 0x10009000u
#define TIMER 0x10011000u
#define GICC 0x1e000100u
#define GICD 0x1e001000u

volatile unsigned ticks;            /* timer interrupts taken */
volatile unsigned rx_count;         /* bytes received */
volatile unsigned char rx_buf[16];
unsigned echoed;                    /* bytes echoed by main() */
unsigned seen;                      /* ticks printed by main() */
unsigned work;

static void putc_(char c)
{
    REG32(UART) = (unsigned char)c;
}

void irq_handler(void)
{
    unsigned iar = REG32(GICC + 0x0c);
    unsigned id = iar & 0x3ff;
    if (id == 34) {
        REG32(TIMER + 0x0c) = 1;                /* clear the timer's interrupt */
        ticks = ticks + 1;
    } else if (id == 37) {
        while (!(REG32(UART + 0x18) & 0x10))    /* FR.RXFE: drain the FIFO */
            rx_buf[rx_count++ & 15] = (unsigned char)REG32(UART);
    }
    REG32(GICC + 0x10) = iar;
}

__attribute__((noinline)) void on_tick(unsigned n)
{
    putc_('0' + n % 10);
}

__attribute__((noinline)) void on_echo(unsigned char c)
{
    putc_('[');
    putc_(c);
    putc_(']');
}

int main(void)
{
    REG32(GICD) = 1;
    REG32(GICD + 0x104) = (1u << 2) | (1u << 5);        /* enable IRQ 34 and 37 */
    /* both to CPU 0 (ITARGETSR, byte writes) */
    *(volatile unsigned char *)(GICD + 0x800 + 37) = 1;
    *(volatile unsigned char *)(GICD + 0x800 + 34) = 1;
    REG32(GICC) = 1;
    REG32(GICC + 4) = 0xf0;
    REG32(UART + 0x38) = 0x10;                          /* IMSC.RXIM */
    REG32(TIMER) = 10000;                               /* 10 ms at 1 MHz */
    REG32(TIMER + 8) = 0xe2;                            /* periodic, 32-bit, interrupt */
    __asm__ volatile("cpsie i" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi" ::: "memory");
        for (unsigned i = 0; i < 50 + (ticks & 7) * 10; i++)
            work = work * 3 + i;
        while (seen != ticks)
            on_tick(++seen);
        while (echoed != rx_count)
            on_echo(rx_buf[echoed++ & 15]);
    }
}
