"""A pytest plugin for guest tests: one boot per test module, a snapshot restore per test.

Installed with pysystem (entry point ``pytest11``), so any test suite can use it::

    import pytest
    pytestmark = pytest.mark.pysystem(
        "-M", "vexpress-a9", "-m", "256M", "-kernel", KERNEL, "-dtb", DTB,
        "-initrd", INITRD, "-append", "console=ttyAMA0",
        arch="arm", prompt="/ # ", boot_timeout=120, fail_on=("Kernel panic",))

    def test_kernel(pysystem_machine):
        assert pysystem_machine.console.command("uname -m") == "armv7l\\n"

``pysystem_machine`` is a ``pysystem.api.Machine`` at the state saved right after the
boot: the module's first use builds the machine from the marker's arguments (the
command line's options), runs it until ``prompt`` appears (within ``boot_timeout``
seconds of guest time; ``fail_on`` patterns end the boot at once) and saves it; every
test gets it restored from that snapshot, so tests cannot disturb each other and a
hundred of them pay for one boot.  A ``boot`` regex other than the prompt may be given;
``setup=fn`` runs ``fn(machine)`` after the boot and before the save (log in, mount...).

``--pysystem-snapshot=PATH`` starts from a snapshot file instead of booting (one a
``Machine.save_file`` made with the same options); if PATH does not exist yet, the
boot is saved there for the next run.

When a test that used the machine fails, the report gets a section "pysystem console"
with what the guest printed during that test.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

import pytest

MARKER = "pysystem"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("pysystem", "pysystem guest machines")
    group.addoption("--pysystem-snapshot", metavar="PATH", default=None,
                    help="start pysystem_machine from this snapshot file instead of booting "
                         "(a missing file is written after the boot)")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*args, arch='arm', prompt='/ # ', boot=None, boot_timeout=300, "
        "fail_on=(), setup=None): the machine of the pysystem_machine fixture (command-line "
        "options as args; boot waits for `boot` or the prompt, in guest seconds)")


class Booted:
    """A module's booted machine and the snapshot every test starts from."""

    def __init__(self, machine, path: str, boot_seconds: Optional[float]):
        self.machine = machine
        self.path = path
        self.boot_seconds = boot_seconds    # guest seconds the boot took (None: restored)


def _config(node) -> Tuple[list, Dict[str, Any]]:
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        raise pytest.UsageError("pysystem_machine needs a pytest.mark.pysystem(...) marker "
                                "on the module (pytestmark) with the machine's options")
    kw = dict(marker.kwargs)
    unknown = set(kw) - {"arch", "prompt", "boot", "boot_timeout", "fail_on", "setup"}
    if unknown:
        raise pytest.UsageError(f"pytest.mark.pysystem: unknown argument(s) {sorted(unknown)}")
    return [str(a) for a in marker.args], kw


@pytest.fixture(scope="module")
def pysystem_booted(request, tmp_path_factory):
    """The module's machine, booted (or restored from --pysystem-snapshot) and saved."""
    from .api import Machine
    args, kw = _config(request.node)
    prompt = kw.get("prompt", "/ # ")
    machine = Machine.from_args(args, arch=kw.get("arch", "arm"), prompt=prompt)
    machine.console.fail_on(*kw.get("fail_on", ()))
    path = request.config.getoption("pysystem_snapshot")
    boot_seconds = None
    try:
        if path and os.path.exists(path):
            machine.load_file(path)
        else:
            start = machine.guest_ns
            machine.console.expect(kw.get("boot") or prompt,
                                   timeout=float(kw.get("boot_timeout", 300)))
            if kw.get("setup") is not None:
                kw["setup"](machine)
            boot_seconds = (machine.guest_ns - start) / 1e9
            path = path or str(tmp_path_factory.mktemp("pysystem") / "booted.pysnap")
            machine.save_file(path)
        yield Booted(machine, path, boot_seconds)
    finally:
        machine.close()


@pytest.fixture
def pysystem_machine(pysystem_booted, request):
    """The module's machine, restored to its booted state for this test."""
    machine = pysystem_booted.machine
    machine.load_file(pysystem_booted.path)
    request.node._pysystem_console = (machine.console, len(machine.console.transcript))
    return machine


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    seen = getattr(item, "_pysystem_console", None)
    if seen is not None and report.failed:
        console, start = seen
        report.sections.append(("pysystem console", console.transcript[start:]))
