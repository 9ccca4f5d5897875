/* ops.h in the ARM instruction set, plus ARM-only forms. */
#define PREFIX "arm "
#include "ops.h"

OP(adds_lsl_reg, C0, "adds %[r], %[a], %[b], lsl %[a]")
OP(subs_ror_reg, C1, "subs %[r], %[a], %[b], ror %[b]")
OP(rscs_c1, C1, "rscs %[r], %[a], %[b]")

void ops_arm(void)
{
    run_ops();
    adds_lsl_reg();
    subs_ror_reg();
    rscs_c1();
}
