/* Entry of the SMP program.  Every CPU enters here (QEMU's vexpress-a9 starts all of
   them at an ELF's entry): each gets its own IRQ and SVC stacks from its MPIDR CPU
   number; CPU 0 clears the BSS and runs main(), the others secondary_main(cpu).
   Only IRQs are expected; every other exception parks the CPU. */
    .syntax unified
    .arm
    .section .vectors, "ax"
    .global _start
_start:
    b       reset
    b       .
    b       .
    b       .
    b       .
    b       .
    b       irq_entry
    b       .

reset:
    mrc     p15, 0, r4, c0, c0, 5       @ MPIDR
    and     r4, r4, #3
    ldr     r1, =__stacks
    add     r1, r1, r4, lsl #13         @ 8 KiB per CPU: IRQ stack below, SVC above
    cps     #0x12
    add     sp, r1, #0x1000
    cps     #0x13
    add     sp, r1, #0x2000
    ldr     r0, =_start
    mcr     p15, 0, r0, c12, c0, 0      @ VBAR
    isb
    cmp     r4, #0
    bne     1f
    ldr     r0, =__bss_start
    ldr     r1, =__bss_end
    mov     r2, #0
2:  cmp     r0, r1
    strlo   r2, [r0], #4
    blo     2b
    bl      main
    bl      poweroff
    b       .
1:  mov     r0, r4
    bl      secondary_main
    b       .

irq_entry:
    sub     lr, lr, #4
    push    {r0-r3, r12, lr}
    bl      irq_handler
    pop     {r0-r3, r12, lr}
    movs    pc, lr
