"""Shared by every test folder: this folder is on ``sys.path`` (pytest puts a
conftest.py's folder there), so tests/cpu_arm/ imports ``tools`` as tests/ does.
The report header says where the console scripts under test come from and what a
missing prerequisite does (tools.py)."""
from __future__ import annotations

import os

import tools


def pytest_report_header(config):
    guest = os.environ.get("PYSYSTEM_GUEST_PYTHON")
    missing = "fails (CI is set)" if tools.in_ci() else "skips (CI is not set)"
    lines = [f"pysystem console scripts: {', '.join(tools.script_dirs())}",
             f"a missing prerequisite {missing}"]
    if guest:
        lines.append(f"guests run under PYSYSTEM_GUEST_PYTHON={guest}")
    return lines
