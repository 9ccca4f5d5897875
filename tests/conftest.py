"""Shared by every test folder: this folder is on ``sys.path`` (pytest puts a
conftest.py's folder there), so tests/cpu_arm/ imports ``tools`` as tests/ does.
The report header says where the console scripts under test come from and what a
missing prerequisite does (tools.py)."""
from __future__ import annotations

import asyncio
import os

import pytest

import tools


def pytest_report_header(config):
    guest = os.environ.get("PYSYSTEM_GUEST_PYTHON")
    missing = "fails (CI is set)" if tools.in_ci() else "skips (CI is not set)"
    lines = [f"pysystem console scripts: {', '.join(tools.script_dirs())}",
             f"a missing prerequisite {missing}"]
    if guest:
        lines.append(f"guests run under PYSYSTEM_GUEST_PYTHON={guest}")
    return lines


@pytest.fixture
def qmp_event_loop():
    """A current event loop for the test, for qemu.qmp's legacy (synchronous) client:
    qemu.qmp 0.0.3 (which pytest-embedded-qemu pins) takes the thread's current loop
    when the client is made, and its QMPClient makes an asyncio.Queue, which on Python
    3.9 (PyPy) binds the current loop; after an asyncio.run() earlier in the process
    there is none."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()
