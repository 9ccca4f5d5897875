@ Start-up of the gdb stub's ARM test program (vexpress-a9, loaded with -kernel).
    .syntax unified
    .arm
    .section .text.start, "ax"
    .global _start
_start:
    ldr     sp, =svc_stack_top
    cps     #0x17                   @ abort mode: a stack of its own
    ldr     sp, =abt_stack_top
    cps     #0x13
    ldr     r0, =vectors
    mcr     p15, 0, r0, c12, c0, 0  @ VBAR
    mrc     p15, 0, r0, c1, c0, 2   @ CPACR: cp10/cp11 full access
    orr     r0, r0, #0x00f00000
    mcr     p15, 0, r0, c1, c0, 2
    isb
    mov     r0, #0x40000000         @ FPEXC.EN
    vmsr    fpexc, r0
    bl      main
    .global spin
spin:
    b       spin

    .balign 32
vectors:
    b       _start                  @ reset
    b       .                       @ undefined
    b       svc_entry               @ svc
    b       .                       @ prefetch abort
    b       .                       @ data abort
    nop
    b       .                       @ irq
    b       .                       @ fiq

svc_entry:
    push    {r0-r3, r12, lr}
    bl      svc_handler
    pop     {r0-r3, r12, lr}
    movs    pc, lr

    .global do_svc
do_svc:
    push    {lr}                    @ the svc overwrites lr (this runs in SVC mode)
    svc     #1
    pop     {pc}
