/* PL011 output (UART0 at 0x10009000) and power-off through the motherboard's
   SYS_CFGCTRL (function SHUTDOWN), the two things every test program needs. */
#include "lib.h"

#define UART0 0x10009000u
#define SYS_CFGCTRL 0x100000a4u

void putc_(char c)
{
    while (REG32(UART0 + 0x18) & (1u << 5))     /* UARTFR.TXFF */
        ;
    REG32(UART0) = (uint8_t)c;
}

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

void hexn(uint32_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

void hex(uint32_t v) { hexn(v, 8); }
void sp(void) { putc_(' '); }
void nl(void) { putc_('\n'); }
void label(const char *s) { puts_(s); sp(); }

void row(const char *name, int n, const uint32_t *v)
{
    puts_(name);
    for (int i = 0; i < n; i++) {
        sp();
        hex(v[i]);
    }
    nl();
}

void poweroff(void)
{
    REG32(SYS_CFGCTRL) = (1u << 31) | (1u << 30) | (8u << 20);   /* start, write, SHUTDOWN */
    for (;;)
        __asm__ volatile("wfi");
}

uint32_t crc32(uint32_t crc, const void *data, uint32_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

/* GCC may call these even in freestanding code */
void *memset(void *d, int c, unsigned n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
