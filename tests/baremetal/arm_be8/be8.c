/* A big-endian (BE8) bare-metal program: what the boot handed over (CPSR.E, SCTLR.EE)
   and how data lands in memory and on a little-endian device.  The PL011 sits on a
   little-endian bus, so its registers are accessed through byte swaps, as a BE
   Linux's writel() does. */
#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define UART0 0x10009000u
#define SYS_CFGCTRL 0x100000a4u

static void putc_(char c)
{
    while (__builtin_bswap32(REG32(UART0 + 0x18)) & (1u << 5))
        ;
    REG32(UART0) = __builtin_bswap32((uint8_t)c);
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void hex(uint32_t v)
{
    for (int i = 7; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
    putc_(' ');
}

static volatile uint32_t word = 0x11223344u;
static volatile uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};

void _start(void) __attribute__((naked, section(".text.start")));
void _start(void)
{
    __asm__ volatile("ldr sp, =0x60100000\n\tbl main\n\tb .");
}

int main(void)
{
    uint32_t cpsr, sctlr;
    __asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
    __asm__ volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
    puts_("cpsr sctlr ");
    hex(cpsr);
    hex(sctlr);
    puts_("\nword bytes ");
    volatile uint8_t *w = (volatile uint8_t *)&word;
    hex(word);
    hex((uint32_t)w[0] << 24 | w[1] << 16 | w[2] << 8 | w[3]);
    hex(*(volatile uint16_t *)&bytes[2]);
    hex(*(volatile uint32_t *)&bytes[4]);
    puts_("\nsysid ");
    hex(REG32(0x10000000));
    puts_("\ndone\n");
    REG32(SYS_CFGCTRL) = __builtin_bswap32((1u << 31) | (1u << 30) | (8u << 20));
    for (;;)
        __asm__ volatile("wfi");
}
