/* The gdb stub's MIPS test program: functions to break on, a counter to watch, FPU
 * values and an exception handler that writes memory. */
volatile unsigned counter;
volatile unsigned in_handler;
volatile double scale = 1.5;
unsigned table[4] = {0x11111111, 0x22222222, 0x33333333, 0x44444444};

void do_syscall(void);

void syscall_handler(void)
{
    in_handler = in_handler + 1;
}

int add(int a, int b)
{
    return a + b;
}

__attribute__((noinline)) double fpu_work(double x)
{
    return x * scale + 0.25;
}

int main(void)
{
    int total = 0;
    for (int i = 0; i < 3; i++) {
        total = add(total, i);
        counter = counter + 1;
    }
    double d = fpu_work((double)total);
    do_syscall();
    d = d + scale;
    table[1] = (unsigned)d;
    return total;
}
