"""Benchmark: Debian's armhf installer to its first dialog, pysystem against QEMU.

Issue 27 asks that the Debian armhf installer reach its first dialog within 15x of
QEMU under PyPy.  This bench fetches Debian 12's armhf netboot installer (the kernel
``netboot/vmlinuz``, ``netboot/initrd.gz`` and ``device-tree/vexpress-v2p-ca9.dtb``
under ``dists/bookworm/main/installer-armhf/current/images/``) from the mirror of the
host's apt configuration (``pysystem.images.aptsources.mirror_from``; ``--mirror`` or
$PYSYSTEM_DEBIAN_MIRROR override it), each file checked against ``SHA256SUMS``, itself
checked against the suite's Release file, and cached in ``<cache>/installer-armhf/``
(``pysystem.images.default_cache_dir``).  It then boots the installer under
qemu-system-arm (with ``-audiodev none``, which QEMU's vexpress needs) and under
pysystem-arm from the venv of ``--python``, one after the other, with

    -M vexpress-a9 -m 512M -kernel vmlinuz -initrd initrd.gz -dtb DTB
    -append "console=ttyAMA0" -nographic -no-reboot

and measures wall and CPU seconds (user + system, all threads: /proc/PID/stat when the
dialog appears) until the text frontend's first dialog, the language choice
(DIALOG below), is drawn on the serial console; then the emulator is killed and its
total CPU seconds and peak RSS taken from ``wait4``.  The ratio to QEMU is of CPU
seconds: on a shared machine wall time depends on the load, CPU time much less.  The
first pass uses a fresh code cache (cold); ``--warm`` adds a second pass with the
cache the first one left.

    python bench/installer.py                       # PyPy venv of this tree, cold
    python bench/installer.py --warm --python .venv/bin/python

Figures and the commands that produced them are kept in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from boot_ratio import cpu_seconds  # noqa: E402  (the same measure as the boot bench)

PACKAGE = "debian-installer-12-netboot-armhf"
# Where the package keeps the netboot tree: the same files as the archive's
# dists/bookworm/main/installer-armhf/current/images/ (which some mirrors do not serve).
IMAGES = "usr/lib/debian-installer/images/12/armhf/text/debian-installer/armhf"
FILES = {"vmlinuz": ("vmlinuz",), "initrd.gz": ("initrd.gz",),
         "vexpress-v2p-ca9.dtb": ("dtbs/vexpress-v2p-ca9.dtb",)}
# The title of localechooser's first question as the newt frontend draws it.
DIALOG = b"Select a language"
TIMEOUT = 3 * 3600.0


def installer_files(mirror_option: str = None) -> dict:
    """Paths of the installer's kernel, initrd and DTB, fetched and unpacked if needed."""
    import shutil
    from pysystem.images import default_cache_dir
    from pysystem.images.aptsources import mirror_from
    from pysystem.images.archive import SUITE, get_file, load_index
    from pysystem.images.deb import extract_deb
    from pysystem.images.errors import ImageError
    from pysystem.images.packages import newest, parse_packages
    cache = default_cache_dir()
    folder = cache / "installer-armhf"
    paths = {name: folder / name for name in FILES}
    if all(p.exists() for p in paths.values()) and not mirror_option:
        return paths
    mirror = mirror_from(mirror_option, SUITE)
    text = load_index(mirror, "main/binary-all/Packages.xz", cache, False, False)
    st = newest(parse_packages(text, lambda n: n == PACKAGE))
    if st is None:
        raise ImageError(f"no {PACKAGE} package in {SUITE}/main")
    deb = get_file(mirror, st.filename, st.sha256, st.size, cache, False)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=str(folder)) as tmp:
        extract_deb(str(deb), tmp)
        root = os.path.join(tmp, IMAGES)
        for name, candidates in FILES.items():
            found = [c for c in candidates if os.path.isfile(os.path.join(root, c))]
            if not found:
                raise ImageError(f"{PACKAGE} {st.version} has no {IMAGES}/{candidates[0]}")
            shutil.copyfile(os.path.join(root, found[0]), str(paths[name]) + ".part")
            os.replace(str(paths[name]) + ".part", paths[name])
    (folder / "version").write_text(f"{PACKAGE} {st.version}\n")
    return paths


def commands(files: dict, python: str) -> dict:
    """The emulators' command lines, by emulator name."""
    args = ["-M", "vexpress-a9", "-m", "512M", "-kernel", str(files["vmlinuz"]),
            "-initrd", str(files["initrd.gz"]), "-dtb", str(files["vexpress-v2p-ca9.dtb"]),
            "-append", "console=ttyAMA0", "-nographic", "-no-reboot"]
    return {"qemu-system-arm": ["qemu-system-arm"] + args + ["-audiodev", "none,id=snd0"],
            "pysystem-arm": [os.path.join(os.path.dirname(python), "pysystem-arm")] + args}


def boot(cmd: list, env: dict, log: str) -> dict:
    """Run ``cmd`` until DIALOG appears on its console (or it exits, or TIMEOUT), kill it;
    its figures.  The console output goes to ``log``."""
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env)
        output = bytearray()
        r = {}
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            output += chunk
            out.write(chunk)
            out.flush()
            if DIALOG in output[-len(chunk) - len(DIALOG):]:
                r["dialog_wall"], r["dialog_cpu"] = time.monotonic() - start, cpu_seconds(proc.pid)
                break
            if time.monotonic() - start > TIMEOUT:
                break
        proc.send_signal(signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
    r["exit_cpu"] = usage.ru_utime + usage.ru_stime
    r["rss_mb"] = usage.ru_maxrss / 1024
    if "dialog_wall" not in r:
        tail = output[-600:].decode("utf-8", "replace")
        r["error"] = (f"no dialog after {time.monotonic() - start:.0f} s; "
                      f"status {os.waitstatus_to_exitcode(status)}; last output:\n{tail}")
    return r


def table(results: dict) -> str:
    lines = ["| emulator | wall s to dialog | CPU s to dialog | CPU x QEMU | peak RSS MB |",
             "|---|---|---|---|---|"]
    qemu = results.get("qemu-system-arm", {})
    for emulator, r in results.items():
        if "error" in r:
            lines.append(f"| {emulator} | failed: {r['error'].splitlines()[0]} | | | |")
            continue
        ratio = f"{r['dialog_cpu'] / qemu['dialog_cpu']:.1f}" if "dialog_cpu" in qemu else ""
        lines.append(f"| {emulator} | {r['dialog_wall']:.1f} | {r['dialog_cpu']:.1f} "
                     f"| {ratio} | {r['rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default=os.path.join(TREE, ".venv-pypy", "bin", "python"),
                   help="interpreter whose venv's pysystem-arm runs (default: this "
                   "tree's .venv-pypy)")
    p.add_argument("--warm", action="store_true", help="a second pass with the code cache "
                   "the first pass left")
    p.add_argument("--mirror", help="Debian mirror URL (default: the host's apt sources)")
    p.add_argument("--logs", help="folder for the consoles' output (default: a temporary one)")
    opts = p.parse_args()
    if not os.path.exists(opts.python):
        print(f"installer: no interpreter at {opts.python}", file=sys.stderr)
        return 2
    from pysystem.images.errors import ImageError
    try:
        files = installer_files(opts.mirror)
    except ImageError as e:
        print(f"installer: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pysystem-installer-") as top:
        logs = opts.logs or top
        os.makedirs(logs, exist_ok=True)
        env = dict(os.environ, PYSYSTEM_CODE_CACHE=os.path.join(top, "codecache"))
        for name in ("cold", "warm") if opts.warm else ("cold",):
            print(f"# {name} code cache, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
                  f"load average {os.getloadavg()[0]:.1f}, command: {' '.join(sys.argv)}",
                  flush=True)
            results = {}
            for emulator, cmd in commands(files, opts.python).items():
                if name == "warm" and emulator.startswith("qemu"):
                    results[emulator] = first[emulator]
                    continue
                results[emulator] = boot(cmd, env, os.path.join(logs, f"{name}-{emulator}.log"))
            first = results
            print(table(results), flush=True)
            print(f"# done {time.strftime('%H:%M:%S UTC', time.gmtime())}, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            for emulator, r in results.items():
                if "error" in r:
                    print(f"{emulator}: {r['error']}", file=sys.stderr)
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
