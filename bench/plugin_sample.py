"""Time the pytest plugin's sample suite: the first test (boot, or the restore of
``--snapshot``) and the time per test after it (a snapshot restore plus the test).

    python bench/plugin_sample.py [--python INTERPRETER] [--snapshot PATH]

Runs tests/plugin_sample/sample_debian_shell.py under INTERPRETER (default: this one;
it needs pytest installed) with a JUnit XML report, whose per-test times include
setup and teardown, and prints the first test's time, the median and the mean of
the others, and the whole run's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "tests", "plugin_sample", "sample_debian_shell.py")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--snapshot", help="start from this snapshot (written after a boot "
                                       "if it does not exist)")
    opts = ap.parse_args()
    if os.sep in opts.python:           # a path: the run's working directory is another
        opts.python = os.path.abspath(opts.python)
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "report.xml")
        cmd = [opts.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-p", "no:pytest_embedded",
               SAMPLE, f"--junitxml={xml}"]
        if opts.snapshot:
            cmd.append(f"--pysystem-snapshot={opts.snapshot}")
        start = time.monotonic()
        run = subprocess.run(cmd, cwd=tmp)
        total = time.monotonic() - start
        cases = ET.parse(xml).getroot().iter("testcase")
        times = [float(c.get("time")) for c in cases]
    if run.returncode != 0 or len(times) < 2:
        print(f"the sample failed (exit status {run.returncode})", file=sys.stderr)
        return 1
    rest = times[1:]
    print(f"{len(times)} tests under {opts.python}: first {times[0]:.2f} s "
          f"({'restore of ' + opts.snapshot if opts.snapshot else 'boot'} included), "
          f"then median {statistics.median(rest):.2f} s, mean {statistics.mean(rest):.2f} s "
          f"per test; whole run {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
