/* Output and small helpers shared by the conformance program's files. */
#ifndef LIB_H
#define LIB_H
#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))

void putc_(char c);
void puts_(const char *s);
void hex(uint32_t v);              /* 8 hex digits */
void hexn(uint32_t v, int digits);
void sp(void);                     /* one space */
void nl(void);
void label(const char *s);         /* s and a space */
void row(const char *name, int n, const uint32_t *v);   /* name v0 v1 ... \n */
void poweroff(void);
uint32_t crc32(uint32_t crc, const void *data, uint32_t len);

void ops_arm(void);
void ops_thumb(void);
void vfp_tests(void);
#endif
