"""Where the tests find the programs they run, and what happens when one is missing.

pysystem's console scripts (``pysystem-arm``...) are found where the installed package
put them: the folder its installation recorded, else the scripts directory of the
interpreter running the tests (a venv's ``bin/``, whether or not the venv is
activated); for the guest interpreter (``PYSYSTEM_GUEST_PYTHON``) the directory
beside it.  Never through ``PATH``: it may
hold another install, or none.

External prerequisites (QEMU, cross compilers, gdb-multiarch, PyPy, mke2fs, cpio...)
are looked up on ``PATH``, Python packages (keystone, unicorn, qemu.qmp...) imported,
the Debian archive reached through pysystem.images.  One that is missing fails the
test when the environment variable ``CI`` is set, and skips it otherwise (the whole
module when it is missing at import); either way the message names what is missing.

Tests that only make sense on one interpreter skip through ``interpreter_skip`` with
one of the reasons in ``INTERPRETER_SKIPS``; .ci/run accepts those skips and no other.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import site
import sys
import sysconfig
from types import ModuleType
from typing import List, NoReturn

import pytest

NOT_PYPY = "interpreter-specific: the guest interpreter is not PyPy (set PYSYSTEM_GUEST_PYTHON)"
NOT_CPYTHON = "interpreter-specific: runs on CPython only"
INTERPRETER_SKIPS = (NOT_PYPY, NOT_CPYTHON)
# Skips that depend on what the host kernel lets a test do, not on anything installable:
# registering a binfmt_misc entry needs root and the file system mounted, and must not
# fight an entry the host already has.  .ci/run mounts binfmt_misc when it can.
NO_BINFMT = "host-specific: binfmt_misc needs root and /proc/sys/fs/binfmt_misc mounted"
BINFMT_TAKEN = "host-specific: an ARM binfmt_misc entry is already registered on this host"
# a tap interface (-netdev tap) needs root (CAP_NET_ADMIN) and /dev/net/tun
NO_TAP = "host-specific: a tap interface needs root and /dev/net/tun"
HOST_SKIPS = (NO_BINFMT, BINFMT_TAKEN, NO_TAP)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing(what: str) -> NoReturn:
    """A prerequisite is not there: fail under CI, else skip; ``what`` names it."""
    message = f"missing prerequisite: {what}"
    if in_ci():
        pytest.fail(message + " (CI is set: a missing prerequisite is a failure)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def interpreter_skip(reason: str) -> NoReturn:
    """Skip a test that does not apply to this interpreter (one of ``INTERPRETER_SKIPS``)."""
    assert reason in INTERPRETER_SKIPS, reason
    pytest.skip(reason)


SYSTEM_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def program(name: str, *alternatives: str) -> str:
    """The absolute path of an external program on PATH, or in the system directories a
    user's PATH may leave out (``chroot`` and ``mkfs.*`` live in /usr/sbin): the first of
    ``name`` and ``alternatives`` found."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SYSTEM_DIRS])
    for candidate in (name, *alternatives):
        path = shutil.which(candidate, path=search)
        if path:
            return path
    missing(" or ".join((name, *alternatives)) + " (not on PATH)")


def module(name: str) -> ModuleType:
    """Import the Python package ``name`` (a dependency of pysystem or its [test] extra)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        error = str(e)
    missing(f"Python package {name} ({error}; pip install -e '.[test]')")


def guest_images(arch: str, refresh: bool = False):
    """The Debian guest images for ``arch`` (``pysystem.images.guest_files``, cached
    after the first fetch; "mips" is built from Debian's sources, once).  The Debian
    archive and the build tools are prerequisites: unreachable or not installed, they
    are ``missing``; any other error of the image tools is the test's failure."""
    from pysystem.images import ImageError, OfflineError, guest_files
    try:
        return guest_files(arch, refresh=refresh, quiet=True)
    except OfflineError as e:
        missing(f"the Debian archive ({e})")
    except ImageError as e:
        if "no Debian mirror" not in str(e) and "needs these Debian packages" not in str(e):
            raise
        missing(str(e))


def script_dirs() -> List[str]:
    """Where pysystem's console scripts are for this interpreter: first the folders its
    installation recorded them in (the RECORD of the installed distribution), then
    the interpreter's scripts directory (a venv's bin/), the folder of
    ``sys.executable`` and, when this interpreter reads the per-user site, the per-user
    scripts folder."""
    dirs = []
    try:
        files = importlib.metadata.distribution("pysystem").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name.startswith("pysystem-"):
            dirs.append(os.path.dirname(os.path.normpath(str(f.locate()))))
    dirs += [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    if site.ENABLE_USER_SITE:
        dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    return list(dict.fromkeys(d for d in dirs if d))


def _executable(folder: str, name: str) -> str:
    path = os.path.join(folder, name)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else ""


def script(name: str) -> str:
    """The absolute path of pysystem's console script ``name`` as installed for the
    interpreter running the tests."""
    dirs = script_dirs()
    for folder in dirs:
        path = _executable(folder, name)
        if path:
            return path
    missing(f"console script {name} (not in {', '.join(dirs)}; pip install -e .)")


def guest_python() -> str:
    """The interpreter guests run under: ``PYSYSTEM_GUEST_PYTHON``, else this one."""
    return os.environ.get("PYSYSTEM_GUEST_PYTHON") or sys.executable


def guest_script(name: str) -> str:
    """The console script ``name`` of the guest interpreter: beside it when
    ``PYSYSTEM_GUEST_PYTHON`` names one, else this interpreter's."""
    python = os.environ.get("PYSYSTEM_GUEST_PYTHON")
    if not python:
        return script(name)
    folder = os.path.dirname(os.path.abspath(python))
    path = _executable(folder, name)
    if not path:
        missing(f"console script {name} beside PYSYSTEM_GUEST_PYTHON={python} "
                f"(not in {folder}; install pysystem with that interpreter's pip)")
    return path
