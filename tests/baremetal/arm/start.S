/* Entry, vectors and exception entries of the conformance program.
   The vector table is the entry point (VBAR points at it); the handlers save the
   caller-saved registers and the SPSR in a frame and call C (conform.c), which may
   change the frame: r0 (the SVC result), the return address and the SPSR. */
    .syntax unified
    .arm
    .section .vectors, "ax"
    .global _start
_start:
    b       reset
    b       und_entry
    b       svc_entry
    b       pabt_entry
    b       dabt_entry
    b       .
    b       irq_entry
    b       .

reset:
    ldr     ip, =boot_regs              @ r0-r2 and the CPSR as the boot left them
    stmia   ip, {r0-r3}
    mrs     r0, cpsr
    str     r0, [ip, #16]
    mov     r0, pc
    str     r0, [ip, #20]
    cps     #0x1b
    ldr     sp, =__und_stack
    cps     #0x17
    ldr     sp, =__abt_stack
    cps     #0x12
    ldr     sp, =__irq_stack
    cps     #0x1f
    ldr     sp, =__usr_stack
    cps     #0x13
    ldr     sp, =__svc_stack
    ldr     r0, =_start
    mcr     p15, 0, r0, c12, c0, 0      @ VBAR
    mrc     p15, 0, r0, c1, c0, 2       @ CPACR: cp10/cp11 full access
    orr     r0, r0, #0x00f00000
    mcr     p15, 0, r0, c1, c0, 2
    isb
    mov     r0, #0x40000000             @ FPEXC.EN
    vmsr    fpexc, r0
    ldr     r0, =__bss_start
    ldr     r1, =__bss_end
    mov     r2, #0
1:  cmp     r0, r1
    strlo   r2, [r0], #4
    blo     1b
    bl      main
    bl      poweroff
    b       .

/* frame: r0 r1 r2 r3 r12 lr(return address) spsr pad */
    .macro  ENTER handler, adjust
    .if \adjust
    sub     lr, lr, #\adjust
    .endif
    sub     sp, sp, #8
    push    {r0-r3, r12, lr}
    mrs     r0, spsr
    str     r0, [sp, #24]
    mov     r0, sp
    bl      \handler
    ldr     r0, [sp, #24]
    msr     spsr_cxsf, r0
    pop     {r0-r3, r12, lr}
    add     sp, sp, #8
    movs    pc, lr
    .endm

und_entry:  ENTER und_handler, 0
svc_entry:  ENTER svc_handler, 0
pabt_entry: ENTER pabt_handler, 4
dabt_entry: ENTER dabt_handler, 8
irq_entry:  ENTER irq_handler, 4

/* user_visit(out): drop to user mode, note what user mode sees, try a privileged
   CP15 read (UNDEF there), and come back with SVC #0xff (the handler returns to SVC). */
    .global user_visit
user_visit:
    push    {r4-r8, lr}
    mov     r4, r0
    mrs     r5, cpsr
    cps     #0x10
    mrs     r6, cpsr
    mov     r7, #0x5a
    mrc     p15, 0, r7, c1, c0, 0       @ SCTLR: UNDEF in user mode, r7 stays 0x5a
    mov     r8, sp
    svc     #0xff
    mrs     r0, cpsr
    stmia   r4, {r0, r5-r8}
    pop     {r4-r8, pc}
