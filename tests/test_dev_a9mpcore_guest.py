"""A guest program on the Cortex-A9 CPU model takes TWD interrupts through the GIC:
programs the GIC as Linux does, starts the private timer periodic, sleeps in WFI, and
its IRQ handler acknowledges (IAR), clears the timer and ends the interrupt (EOIR)."""
from tools import module

keystone = module("keystone")

from pysystem.clock import VirtualClock  # noqa: E402
from pysystem.devices.a9mpcore import A9MPCorePriv  # noqa: E402
from pysystem.memory import AddressSpace, ContainerRegion, RAMRegion  # noqa: E402

PRIV = 0x1E000000
COUNTER_ADDR = 0x1000   # ticks seen by the handler
LAST_IAR = 0x1004
PERIOD_TICKS = 10_000   # TWD Load + 1: 100 us at 100 MHz

PROGRAM = f"""
    b reset
    b .
    b .
    b .
    b .
    b .
    b irq
    b .
reset:
    cps #0x12
    mov sp, #0x8000
    cps #0x13
    mov sp, #0x7000
    ldr r4, ={PRIV + 0x1000:#x}     @ distributor
    ldr r5, ={PRIV + 0x100:#x}      @ CPU interface
    ldr r6, ={PRIV + 0x600:#x}      @ TWD
    mov r0, #0
    str r0, [r4]                    @ GICD_CTLR off
    mvn r0, #0
    str r0, [r4, #0x184]            @ ICENABLER1: SPIs off
    ldr r0, =0xa0a0a0a0
    str r0, [r4, #0x41c]            @ IPRIORITYR 28-31
    mov r0, #(1 << 29)
    str r0, [r4, #0x100]            @ ISENABLER0: PPI 29 (TWD)
    mov r0, #1
    str r0, [r4]                    @ GICD_CTLR on
    mov r0, #0xf0
    str r0, [r5, #4]                @ PMR
    mov r0, #1
    str r0, [r5]                    @ CPU interface on
    ldr r0, ={PERIOD_TICKS - 1}
    str r0, [r6]                    @ TWD Load
    mov r0, #7
    str r0, [r6, #8]                @ enable, auto-reload, IT enable
    cpsie i
idle:
    wfi
    b idle
irq:
    push {{r0-r3}}
    ldr r1, ={PRIV + 0x100:#x}
    ldr r0, [r1, #0xc]              @ IAR
    mov r2, #{LAST_IAR:#x}
    str r0, [r2]
    cmp r0, #29
    bne done
    ldr r2, ={PRIV + 0x600:#x}
    mov r3, #1
    str r3, [r2, #0xc]              @ clear the TWD event
    mov r2, #{COUNTER_ADDR:#x}
    ldr r3, [r2]
    add r3, r3, #1
    str r3, [r2]
done:
    str r0, [r1, #0x10]             @ EOIR
    pop {{r0-r3}}
    subs pc, lr, #4
"""


def _machine():
    from pysystem.cpu.arm.cpu import ARMCPU
    clock = VirtualClock()
    root = ContainerRegion(None, "system", 1 << 32)
    ram = RAMRegion(None, "ram", 0x10000)
    root.add_subregion(0, ram)
    priv = A9MPCorePriv(num_cpu=1)
    priv.clock = clock
    priv.realize()
    root.add_subregion(PRIV, priv.mmio[0])
    space = AddressSpace("cpu", root)
    cpu = ARMCPU()
    cpu.address_space = space
    cpu.clock = clock
    cpu.realize()
    priv.irqs[0].connect(cpu.set_irq_line, 0)
    priv.irqs[1].connect(cpu.set_irq_line, 1)
    code, _ = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM).asm(PROGRAM, 0)
    ram.data[:len(code)] = bytes(code)
    priv.reset()
    cpu.reset()
    return clock, cpu, ram


def _run_until(clock, cpu, t_ns):
    """The main loop's job: run the CPU up to timer deadlines, skip idle time in WFI."""
    while clock.now() < t_ns:
        cpu.run(clock.insns_until_deadline(10_000))
        clock.run_timers()
        if cpu.halted and not cpu.exit_request:
            deadline = clock.next_deadline()
            if deadline is None or deadline > t_ns:
                clock.warp_ns += t_ns - clock.now()
                return
            clock.warp_to_next_deadline()
            clock.run_timers()


def _ticks(ram):
    return int.from_bytes(ram.data[COUNTER_ADDR:COUNTER_ADDR + 4], "little")


def test_twd_ticks_reach_the_guest_handler():
    clock, cpu, ram = _machine()
    _run_until(clock, cpu, 99_000)
    assert _ticks(ram) == 0
    _run_until(clock, cpu, 999_000)
    assert _ticks(ram) == 9                              # one per 100 us
    assert int.from_bytes(ram.data[LAST_IAR:LAST_IAR + 4], "little") == 29
    _run_until(clock, cpu, 1_001_000)
    assert _ticks(ram) == 10
    assert cpu.halted                                    # back in WFI, nothing pending
    _run_until(clock, cpu, 100_001_000)
    assert _ticks(ram) == 1000                           # no tick lost or drifting
