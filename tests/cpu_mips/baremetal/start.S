/* Vectors and start-up of the bare-metal test program (linked at 0x80100000, EBase).
 * Every exception saves the GPRs into `frame`, calls handle(frame, kind) and returns
 * with eret (handle may change the saved EPC and registers). */
        .set noreorder
        .set noat
        .set mips32r2
        .section .vectors, "ax"
        .globl _vectors
_vectors:
        /* +0x000: TLB refill */
        la      $k0, frame
        b       save
        li      $k1, 0
        .org 0x180
        /* +0x180: general */
        la      $k0, frame
        b       save
        li      $k1, 1
        .org 0x200
        /* +0x200: interrupt (Cause.IV) */
        la      $k0, frame
        b       save
        li      $k1, 2
        .org 0x280
save:
        sw      $1, 4($k0)
        sw      $2, 8($k0)
        sw      $3, 12($k0)
        sw      $4, 16($k0)
        sw      $5, 20($k0)
        sw      $6, 24($k0)
        sw      $7, 28($k0)
        sw      $8, 32($k0)
        sw      $9, 36($k0)
        sw      $10, 40($k0)
        sw      $11, 44($k0)
        sw      $12, 48($k0)
        sw      $13, 52($k0)
        sw      $14, 56($k0)
        sw      $15, 60($k0)
        sw      $16, 64($k0)
        sw      $17, 68($k0)
        sw      $18, 72($k0)
        sw      $19, 76($k0)
        sw      $20, 80($k0)
        sw      $21, 84($k0)
        sw      $22, 88($k0)
        sw      $23, 92($k0)
        sw      $24, 96($k0)
        sw      $25, 100($k0)
        sw      $28, 112($k0)
        sw      $29, 116($k0)
        sw      $30, 120($k0)
        sw      $31, 124($k0)
        mfhi    $t0
        sw      $t0, 128($k0)
        mflo    $t0
        sw      $t0, 132($k0)
        mfc0    $t0, $14
        sw      $t0, 136($k0)
        la      $sp, exc_stack_top
        move    $a0, $k0
        jal     handle
        move    $a1, $k1
        la      $k0, frame
        lw      $t0, 136($k0)
        mtc0    $t0, $14
        lw      $t0, 128($k0)
        mthi    $t0
        lw      $t0, 132($k0)
        mtlo    $t0
        lw      $1, 4($k0)
        lw      $2, 8($k0)
        lw      $3, 12($k0)
        lw      $4, 16($k0)
        lw      $5, 20($k0)
        lw      $6, 24($k0)
        lw      $7, 28($k0)
        lw      $8, 32($k0)
        lw      $9, 36($k0)
        lw      $10, 40($k0)
        lw      $11, 44($k0)
        lw      $12, 48($k0)
        lw      $13, 52($k0)
        lw      $14, 56($k0)
        lw      $15, 60($k0)
        lw      $16, 64($k0)
        lw      $17, 68($k0)
        lw      $18, 72($k0)
        lw      $19, 76($k0)
        lw      $20, 80($k0)
        lw      $21, 84($k0)
        lw      $22, 88($k0)
        lw      $23, 92($k0)
        lw      $24, 96($k0)
        lw      $25, 100($k0)
        lw      $28, 112($k0)
        lw      $29, 116($k0)
        lw      $30, 120($k0)
        lw      $31, 124($k0)
        eret
        nop

        .org 0x400
        .globl _start
_start:
        la      $sp, stack_top
        la      $t0, _vectors
        mtc0    $t0, $15, 1         /* EBase */
        mtc0    $0, $13             /* Cause: IV off for now */
        lui     $t0, 0x2000
        mtc0    $t0, $12            /* Status: CU1, kernel, BEV=0, ERL=0, interrupts off */
        ehb
        jal     main
        nop
        li      $t0, 0xbf000500     /* Malta SOFTRES: QEMU exits (-no-reboot) */
        li      $t1, 0x42
        sb      $t1, 0($t0)
1:      b       1b
        nop

        /* user-mode code (run through a TLB mapping): a syscall brings it back */
        .globl user_code, user_code_end
        .align 4
user_code:
        addiu   $v0, $a0, 1
        syscall
        nop
user_code_end:

        .bss
        .align 4
        .globl frame
frame:  .space 160
        .space 4096
exc_stack_top:
        .space 8192
stack_top:
