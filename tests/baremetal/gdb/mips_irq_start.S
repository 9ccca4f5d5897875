# Start-up of the reverse-replay test program on Malta (-kernel, little-endian): the
# CP0 timer's interrupt (IP7) counts ticks and sets the next compare in the general
# exception vector, with only $k0/$k1.
    .set    noreorder
    .set    noat
    .section .text.vector, "ax"
    .globl  general_vector
general_vector:                         # 0x80000180
    mfc0    $k0, $11                    # Compare += PERIOD (clears IP7)
    lui     $k1, %hi(PERIOD)
    ori     $k1, $k1, %lo(PERIOD)
    addu    $k0, $k0, $k1
    mtc0    $k0, $11
    la      $k0, ticks
    lw      $k1, 0($k0)
    addiu   $k1, $k1, 1
    sw      $k1, 0($k0)
    eret
    nop

    .section .text.start, "ax"
    .globl  _start
_start:
    la      $sp, stack_top
    mfc0    $t0, $12
    li      $t1, ~0x00400007            # BEV, ERL, EXL, IE off: vectors at 0x80000180
    and     $t0, $t0, $t1
    mtc0    $t0, $12
    ehb
    mfc0    $t0, $9                     # Compare = Count + PERIOD
    lui     $t1, %hi(PERIOD)
    ori     $t1, $t1, %lo(PERIOD)
    addu    $t0, $t0, $t1
    mtc0    $t0, $11
    mfc0    $t0, $12                    # IM7 and IE
    ori     $t0, $t0, 0x8001
    mtc0    $t0, $12
    ehb
    jal     main
    nop
spin:
    b       spin
    nop
