/* The gdb stub's ARM test program: functions to break on, a counter to watch, VFP
 * values, a Thumb function and an exception handler that writes memory. */
volatile unsigned counter;
volatile unsigned in_handler;
volatile double scale = 1.5;
unsigned table[4] = {0x11111111, 0x22222222, 0x33333333, 0x44444444};

void do_svc(void);

void svc_handler(void)
{
    in_handler = in_handler + 1;
}

int add(int a, int b)
{
    return a + b;
}

__attribute__((target("thumb"), noinline)) int thumb_mul(int a, int b)
{
    return a * b + 1;
}

__attribute__((noinline)) double vfp_work(double x)
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
    total = thumb_mul(total, 7);
    double d = vfp_work((double)total);
    do_svc();
    d = d + scale;
    table[1] = (unsigned)d;
    return total;
}
