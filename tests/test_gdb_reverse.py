"""Reverse execution through gdb-multiarch (monitor/gdbstub_reverse.py): reverse-stepi
retraces every step of a forward stepi run (through an SVC exception and its handler,
registers included), reverse-continue goes back to the previous breakpoint hits and to
the last write a watchpoint sees (gdb shows the value before that write).  QEMU 7.2 can
do this only with record/replay set up in advance, so the oracle is the forward run."""
from __future__ import annotations

import re

import test_gdb


def test_reverse_stepi_and_reverse_continue(tmp_path):
    out = test_gdb.transcript("arm", str(tmp_path), script="arm_reverse.gdb")
    fwd = re.findall(r"^F (\d+) (.*)$", out, re.M)
    back = re.findall(r"^R (\d+) (.*)$", out, re.M)
    assert len(fwd) == 36 and len(back) == 36, out
    # the first sequence: 6 steps from the breakpoint in add(1, 2); the second: 30 from do_svc
    for lo, hi, start in ((0, 6, "600100d0"), (6, 36, None)):
        f = [v for _, v in fwd[lo:hi]]
        b = [v for _, v in back[lo:hi]]
        assert b[:-1] == f[-2::-1], out          # each step back lands on the step before
        if start:
            assert b[-1].startswith(start)
    regs = re.findall(r"^r([01]) +0x\w+ +(\d+)$", out, re.M)
    assert regs == [("0", "1"), ("1", "2"), ("0", "0"), ("1", "1"), ("0", "0"), ("1", "0")], out
    assert "Old value = 2\nNew value = 1\n" in out        # the write of counter = 2, undone
    assert "$1 = 2\n" in out and "$2 = 1\n" in out
    assert "$4 = 0\n" in out                # in_handler: back before the handler ran
    assert "[Inferior 1 (process 1) killed]" in out


def test_reverse_finish_and_reverse_step(tmp_path):
    """reverse-finish from inside vfp_work() goes back to its call in main(); reverse-step
    to the start of that line; going forward again (next) then reaches the next line."""
    out = test_gdb.transcript("arm", str(tmp_path), script="arm_reverse_finish.gdb")
    lines = out.splitlines()
    i = lines.index("28\t}")
    assert re.match(r"0x\w+ in main \(\) at arm_prog.c:38$", lines[i + 1]), out
    call = re.search(r"^\$1 = .* (0x\w+) <main\+(\d+)>$", out, re.M)
    start = re.search(r"^\$2 = .* (0x\w+) <main\+(\d+)>$", out, re.M)
    after = re.search(r"^\$3 = .* (0x\w+) <main\+(\d+)>$", out, re.M)
    assert call and start and after, out
    assert int(start.group(2)) < int(call.group(2)) < int(after.group(2))
    assert "39\t    do_svc();" in out
    assert "[Inferior 1 (process 1) killed]" in out


def test_reverse_after_loadvm(tmp_path):
    """After the monitor's loadvm (through gdb) the history starts again there: stepi and
    reverse-stepi retrace each other, and one step more back is the beginning."""
    out = test_gdb.transcript("arm", str(tmp_path), script="arm_reverse_loadvm.gdb",
                              machine_opts=f",snapshot-dir={tmp_path}")
    regs = re.findall(r"^(r[01]|pc) +0x\w+ +(.*)$", out, re.M)
    assert regs[:2] == [("r0", "1"), ("r1", "2")], out                 # add(1, 2)
    assert regs[2:4] == [("r0", "0"), ("r1", "0")], out                # loadvm: add(0, 0)
    fwd = [v for _, v in re.findall(r"^F (\d+) (.*)$", out, re.M)]
    back = [v for _, v in re.findall(r"^R (\d+) (.*)$", out, re.M)]
    assert len(fwd) == len(back) == 8 and back[:-1] == fwd[-2::-1], out
    assert "No more reverse-execution history." in out
    assert regs[-3:] == regs[2:5], out                                 # back at add(0, 0)
