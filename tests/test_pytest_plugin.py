"""pysystem's pytest plugin (pysystem.pytest_plugin, entry point pytest11), on the small
echo guest of test_api.py: a generated test module boots once, each test starts from
the snapshot, and a failed test's report holds what the guest printed during it."""
from __future__ import annotations

import pytest

from tools import module

keystone = module("keystone")

from test_api import COUNTER, guest  # noqa: E402,F401  (the guest fixture)

pytest_plugins = ["pytester"]

# the inner runs: one process, no cache, and no pytest-embedded (its autouse fixtures and
# its "target" fixture, which labgrid's shadows, would skip every test)
INNER = ("-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:pytest_embedded")


SUITE = '''
import pytest
pytestmark = pytest.mark.pysystem(
    "-M", "vexpress-a9", "-m", "128M", "-kernel", {kernel!r}, "-dtb", {dtb!r},
    prompt="> ", boot="ready", boot_timeout=1, fail_on=("panic!",))

def test_count_one(pysystem_machine):
    assert pysystem_machine.console.command("abc") == "ok\\n"
    assert pysystem_machine.read_phys({counter}, 4) == (4).to_bytes(4, "little")

def test_count_again_from_the_snapshot(pysystem_machine):
    assert pysystem_machine.console.command("xy") == "ok\\n"
    assert pysystem_machine.read_phys({counter}, 4) == (3).to_bytes(4, "little")

def test_fails_with_the_console_in_its_report(pysystem_machine):
    pysystem_machine.console.command("seen-in-the-log")
    assert False, "on purpose"

def test_failure_pattern(pysystem_machine):
    pysystem_machine.console.send("p")
    pysystem_machine.console.expect("never printed", timeout=100)
'''


def test_plugin_boots_once_restores_per_test_and_reports_the_console(guest, pytester):
    kernel, dtb = guest
    pytester.makepyfile(test_suite=SUITE.format(kernel=kernel, dtb=dtb, counter=COUNTER))
    snap = pytester.path / "booted.pysnap"
    result = pytester.runpytest_subprocess(*INNER,
                                f"--pysystem-snapshot={snap}")
    result.assert_outcomes(passed=2, failed=2)
    assert snap.is_file()                     # the boot was saved there
    text = result.stdout.str()
    report = text.split("_ test_fails_with_the_console_in_its_report _", 1)[1]
    report = report.split("_ test_failure_pattern _", 1)[0]
    section = report.split(" pysystem console ", 1)[1]
    assert "seen-in-the-log" in section and "ok" in section and "xy" not in section
    assert "failure pattern 'panic!'" in text
    # a second run starts from the file, without booting: the same outcomes
    again = pytester.runpytest_subprocess(*INNER,
                               f"--pysystem-snapshot={snap}", "-k", "count")
    again.assert_outcomes(passed=2)


def test_a_module_without_the_marker_is_told_what_is_missing(pytester):
    pytester.makepyfile(test_nomarker="def test_x(pysystem_machine):\n    pass\n")
    result = pytester.runpytest_subprocess(*INNER)
    assert "needs a pytest.mark.pysystem" in result.stdout.str()
