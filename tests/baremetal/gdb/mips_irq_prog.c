/* The reverse-replay test program on Malta: the CP0 timer ticks (its interrupt handler is
 * in mips_irq_start.S); main() sleeps in WAIT, prints each tick and echoes each byte the
 * 16550 UART received (polled), so what it does depends on when the host typed. */
#define UART ((volatile unsigned char *)0xb80003f8u)

volatile unsigned ticks;            /* timer interrupts taken */
unsigned seen;                      /* ticks printed by main() */
unsigned echoed;                    /* bytes echoed */
unsigned char last;                 /* the last byte received */
unsigned work;

static void putc_(char c)
{
    UART[0] = (unsigned char)c;
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
    for (;;) {
        __asm__ volatile("wait" ::: "memory");
        for (unsigned i = 0; i < 50 + (ticks & 7) * 10; i++)
            work = work * 3 + i;
        while (seen != ticks)
            on_tick(++seen);
        while (UART[5] & 1) {                   /* LSR.DR */
            last = UART[0];
            echoed = echoed + 1;
            on_echo(last);
        }
    }
}
