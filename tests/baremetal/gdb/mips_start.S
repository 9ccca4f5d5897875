# Start-up of the gdb stub's MIPS test program (Malta, loaded with -kernel, both endians).
    .set    noreorder
    .set    noat
    .section .text.vector, "ax"
    .globl  general_vector
general_vector:                         # 0x80000180: syscall -> syscall_handler
    la      $k0, exc_stack_top
    sw      $ra, -4($k0)
    sw      $sp, -8($k0)
    addiu   $sp, $k0, -32
    jal     syscall_handler
    nop
    lw      $ra, 28($sp)
    lw      $sp, 24($sp)
    mfc0    $k1, $14                    # EPC past the syscall
    addiu   $k1, $k1, 4
    mtc0    $k1, $14
    eret
    nop

    .section .text.start, "ax"
    .globl  _start
_start:
    la      $sp, stack_top
    mfc0    $t0, $12
    li      $t1, 0x20000000             # CU1: the FPU
    or      $t0, $t0, $t1
    li      $t1, ~0x00400007            # BEV, ERL, EXL, IE off: vectors at 0x80000180
    and     $t0, $t0, $t1
    mtc0    $t0, $12
    ehb
    jal     main
    nop
    .globl  spin
spin:
    b       spin
    nop

    .globl  do_syscall
do_syscall:
    syscall
    jr      $ra
    nop
