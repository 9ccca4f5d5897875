@ Start-up of the reverse-replay test program (vexpress-a9, -kernel): vectors with an IRQ
@ entry that saves the interrupted state, and stacks for SVC and IRQ mode.
    .syntax unified
    .arm
    .section .text.start, "ax"
    .global _start
_start:
    ldr     sp, =svc_stack_top
    cps     #0x12                   @ IRQ mode: a stack of its own
    ldr     sp, =irq_stack_top
    cps     #0x13
    ldr     r0, =vectors
    mcr     p15, 0, r0, c12, c0, 0  @ VBAR
    bl      main
spin:
    b       spin

    .balign 32
vectors:
    b       _start                  @ reset
    b       .                       @ undefined
    b       .                       @ svc
    b       .                       @ prefetch abort
    b       .                       @ data abort
    nop
    b       irq_entry               @ irq
    b       .                       @ fiq

    .global irq_entry
irq_entry:
    sub     lr, lr, #4
    push    {r0-r3, r12, lr}
    bl      irq_handler
    pop     {r0-r3, r12, lr}
    movs    pc, lr
