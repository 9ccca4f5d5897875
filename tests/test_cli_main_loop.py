"""The main loop: slices bounded by timer deadlines, warping over idle, -icount sleep.

The CPU here is a counter that "executes" instructions by advancing the clock and
halts (WFI) after a given amount of work; an IRQ line wakes it.  That is all the
loop relies on (run/halted/irq_level/exit_request), so the loop itself, the real
VirtualClock and Timers, and the real machine requests are what is tested.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from pysystem import qom
from pysystem.clock import Timer
from pysystem.machines.none import NoneMachine
from pysystem.main_loop import PACE, SLICE, MainLoop


class CountingCPU:
    def __init__(self, clock, work: int):
        self.clock, self.work = clock, work
        self.remaining = work
        self.halted = False
        self.exit_request = False
        self.irq_level = [0, 0]
        self.slices = []

    def has_work(self) -> bool:
        return not self.halted or any(self.irq_level)

    def run(self, max_insns: int) -> int:
        if self.halted:
            if not any(self.irq_level):
                return 0
            self.halted = False
            self.irq_level = [0, 0]     # the interrupt handler acknowledges the device
            self.remaining = self.work
        n = min(max_insns, self.remaining)
        self.slices.append(max_insns)
        self.clock.icount += n
        self.remaining -= n
        if not self.remaining:
            self.halted = True          # WFI
        return n


@pytest.fixture
def machine():
    qom.reset_root()
    m = NoneMachine()
    m.realize()
    m.reset()
    m.start()
    yield m
    qom.reset_root()


def periodic_guest(m, work: int, period_ns: int, ticks: int):
    """A CPU that works, then waits; a timer IRQ every period wakes it; after
    ``ticks`` ticks the guest powers off.  Returns the log of tick times."""
    cpu = CountingCPU(m.clock, work)
    m.cpus.append(cpu)
    fired = []

    def tick():
        fired.append((m.clock.now(), m.clock.icount))
        cpu.irq_level[0] = 1
        if len(fired) == ticks:
            m.request_shutdown()
        else:
            timer.mod(m.clock.now() + period_ns)

    timer = Timer(m.clock, tick, "tick")
    timer.mod(period_ns)
    return cpu, fired


def test_timers_fire_exactly_at_their_deadline(machine):
    cpu, fired = periodic_guest(machine, work=10**9, period_ns=1_000_003, ticks=5)
    status = MainLoop(machine).run()
    assert status == 0
    # the CPU never idles here: each slice ends at the first instruction boundary (8 ns)
    # at or after the next deadline, and the timer re-arms from there
    expected, t = [], 0
    for _ in range(5):
        t += 1_000_003
        t += -t % 8
        expected.append(t)
    assert [t for t, _ in fired] == expected
    assert max(cpu.slices) <= SLICE


def test_idle_warps_to_the_deadline_without_host_time(machine):
    cpu, fired = periodic_guest(machine, work=1000, period_ns=10 * 10**9, ticks=3)
    start = time.monotonic()
    assert MainLoop(machine, sleep=False).run() == 0
    assert time.monotonic() - start < 5
    # 30 s of guest time passed, almost all of it idle: exactly the deadlines
    assert [t for t, _ in fired] == [10 * 10**9, 20 * 10**9, 30 * 10**9]
    assert fired[-1][1] == 3000          # instructions: 1000 per wake-up (the first too)


def test_runs_are_deterministic(machine):
    runs = []
    for _ in range(2):
        qom.reset_root()
        m = NoneMachine()
        m.realize()
        m.reset()
        m.start()
        cpu, fired = periodic_guest(m, work=123_457, period_ns=2_000_000, ticks=20)
        MainLoop(m).run()
        runs.append((fired, cpu.slices))
    assert runs[0] == runs[1]


def test_sleep_waits_in_host_time_but_warps_exactly(machine):
    cpu, fired = periodic_guest(machine, work=1000, period_ns=300_000_000, ticks=1)
    start = time.monotonic()
    assert MainLoop(machine, sleep=True).run() == 0
    assert time.monotonic() - start >= 0.28
    assert fired == [(300_000_000, 1000)]


class SlowStartCPU(CountingCPU):
    """A CPU whose first slice takes ``host_s`` of host time (a slow start-up)."""
    host_s = 0.0

    def run(self, max_insns: int) -> int:
        if self.host_s:
            time.sleep(self.host_s)
            self.host_s = 0.0
        return super().run(max_insns)


def test_pace_waits_only_when_guest_time_is_ahead(machine):
    # ahead from the start: each idle period is waited for in host time
    cpu, fired = periodic_guest(machine, work=1000, period_ns=150_000_000, ticks=2)
    start = time.monotonic()
    assert MainLoop(machine, sleep=PACE).run() == 0
    assert time.monotonic() - start >= 0.28
    assert fired == [(150_000_000, 1000), (300_000_000, 2000)]


def test_pace_warps_while_guest_time_lags(machine):
    # the first slice takes 1 s of host time for 8 us of guest time: the next 0.6 s of
    # guest idle time is behind the host clock, so it costs nothing (sleep=on: 1.6 s)
    cpu, fired = periodic_guest(machine, work=1000, period_ns=200_000_000, ticks=3)
    slow = SlowStartCPU(machine.clock, 1000)
    slow.host_s = 1.0
    machine.cpus[0] = slow
    start = time.monotonic()
    assert MainLoop(machine, sleep=PACE).run() == 0
    assert time.monotonic() - start < 1.45
    assert [t for t, _ in fired] == [200_000_000, 400_000_000, 600_000_000]


# A scripted run of the ticker (stdin not a terminal, no sleep= given): once the guest
# has run, the process's CPU time (getrusage) and guest time are measured over a few
# host seconds while it idles in WFI between timer ticks.
IDLE_PROBE = """
import json, resource, sys, time
from pysystem import cli
SECONDS = float(sys.argv[1])
marks = []

def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

def on_start(machine, loop):
    def probe():
        now = (time.monotonic(), cpu_seconds(), machine.clock.now())
        if not marks:
            if machine.clock.now() >= 500_000_000:      # ten ticks: translated, warm
                marks.append(now)
        elif now[0] - marks[0][0] >= SECONDS:
            marks.append(now)
            loop.request_exit(0)
    loop.add_poll_hook(probe)

status = cli.main("arm", sys.argv[2:], on_start=on_start)
(h0, c0, g0), (h1, c1, g1) = marks
print(json.dumps({"status": status, "host": h1 - h0, "cpu": c1 - c0, "guest": (g1 - g0) / 1e9}))
"""


def test_scripted_idle_guest_sleeps_instead_of_spinning(tmp_path):
    import arm_ticker
    kernel, dtb = arm_ticker.write(tmp_path, limit=10**6, period_us=50_000)
    cmd = [sys.executable, "-c", IDLE_PROBE, "3", "-M", "vexpress-a9", "-m", "128",
           "-kernel", kernel, "-dtb", dtb, "-display", "none", "-monitor", "none",
           "-serial", "null"]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == 0
    host, cpu, guest = result["host"], result["cpu"], result["guest"]
    # guest time keeps pace with the host's (warping at once it ran hundreds of seconds
    # ahead) and the process mostly sleeps (it spun one host CPU: cpu close to host)
    assert 0.5 * host <= guest <= host + 1.0, result
    assert cpu < 0.25 * host, result


def test_paused_machine_runs_nothing(machine):
    cpu = CountingCPU(machine.clock, 10**9)
    machine.cpus.append(cpu)
    machine.start_paused = True
    machine.start()
    loop = MainLoop(machine)
    timer = Timer(machine.clock, machine.quit, "quit")
    timer.mod(0)
    # paused: timers do not run either (guest time is frozen); quit from the "monitor"
    loop.add_poll_hook(machine.quit)
    assert loop.run() == 0
    assert machine.clock.icount == 0 and timer.pending


def test_a_termination_request_ends_the_loop_even_if_the_first_exit_was_lost(monkeypatch):
    """The SIGTERM handler's SystemExit can get lost (under PyPy and a heavy load a process
    once printed 'terminating on signal 15' and idled on; where the exception went is not
    known); the flag the handler also sets makes the next poll raise it again."""
    from pysystem import main_loop
    loop = main_loop.MainLoop(None)
    loop.poll(0.0)
    monkeypatch.setattr(main_loop, "termination_requested", True)
    with pytest.raises(SystemExit) as exc:
        loop.poll(0.0)
    assert exc.value.code == 0
