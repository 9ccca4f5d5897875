"""binfmt_misc entries for the user-mode front ends: ``pysystem-binfmt``.

    pysystem-binfmt [--flags PF] [--arch arm,mipsel,mips] [--print | --debian DIR |
                     --register | --remove | --status]

An entry ``:name:M::magic:mask:interpreter:flags`` tells the kernel to start any file
whose first 20 bytes, ANDed with ``mask``, equal ``magic`` through ``interpreter``.  The
magic is the ELF header of a 32-bit executable of the architecture: ``\\x7fELF``, class
1 (32-bit), the byte order, version 1, then e_type ET_EXEC or ET_DYN (the mask's 0xfe
lets both through) and e_machine; the ABI byte (e_ident[7]) is masked out.

Flags (``--flags``, default ``PF``):

* ``P`` preserve argv[0]: the interpreter gets ``path argv0 args...`` instead of
  ``path args...`` (it learns so from AT_FLAGS bit 0 in its auxv; Linux 5.12+);
* ``O`` open the binary and pass its descriptor (AT_EXECFD) instead of its path;
* ``C`` take the credentials of the binary (setuid programs; implies ``O``);
* ``F`` fix the binary: the kernel opens the interpreter when the entry is registered,
  so it also works inside a chroot or container that does not contain it.  The
  front ends are Python scripts, whose ``#!`` interpreter is looked up at run time, so
  in a chroot the host's Python must be reachable under the same path.

With ``O`` or ``C`` the kernel refuses to start a program through a script interpreter
("Exec format error": checked on Linux 6.x), and the front ends are Python scripts; so
``PF`` is the choice that works, and ``O``/``C`` are there for a binary wrapper.

``--register``/``--remove`` need root and binfmt_misc mounted on
/proc/sys/fs/binfmt_misc; ``--debian DIR`` writes update-binfmts format files
(``update-binfmts --import``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Dict, List, Tuple

BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
# front end -> (byte order: 1 little, 2 big; e_machine)
ARCHES: Dict[str, Tuple[int, int]] = {"arm": (1, 40), "mipsel": (1, 8), "mips": (2, 8)}
VALID_FLAGS = "POCF"


def magic_and_mask(arch: str) -> Tuple[bytes, bytes]:
    order, machine = ARCHES[arch]
    big = order == 2
    e_type = (2).to_bytes(2, "big" if big else "little")          # ET_EXEC
    e_machine = machine.to_bytes(2, "big" if big else "little")
    magic = b"\x7fELF" + bytes([1, order, 1, 0]) + bytes(8) + e_type + e_machine
    type_mask = b"\xff\xfe" if big else b"\xfe\xff"               # ET_EXEC or ET_DYN
    mask = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + type_mask + b"\xff\xff"
    return magic, mask


def matches(arch: str, head: bytes) -> bool:
    """Would the kernel hand a file starting with ``head`` to this entry?"""
    magic, mask = magic_and_mask(arch)
    if len(head) < len(magic):
        return False
    return all(h & m == g for h, m, g in zip(head, mask, magic))


def _escape(b: bytes) -> str:
    return "".join(f"\\x{c:02x}" for c in b)


def interpreter(arch: str) -> str:
    found = shutil.which(f"pysystem-user-{arch}")
    if found:
        return os.path.abspath(found)
    return os.path.join(os.path.dirname(os.path.abspath(sys.executable)), f"pysystem-user-{arch}")


def entry(arch: str, flags: str) -> str:
    magic, mask = magic_and_mask(arch)
    return f":pysystem-{arch}:M::{_escape(magic)}:{_escape(mask)}:{interpreter(arch)}:{flags}"


def debian_format(arch: str, flags: str) -> str:
    magic, mask = magic_and_mask(arch)
    lines = ["package pysystem", f"interpreter {interpreter(arch)}", "magic " + _escape(magic),
             "offset 0", "mask " + _escape(mask)]
    if "C" in flags:
        lines.append("credentials yes")
    if "F" in flags:
        lines.append("fix_binary yes")
    if "P" in flags:
        lines.append("preserve yes")
    return "\n".join(lines) + "\n"


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(prog="pysystem-binfmt", description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="arm,mipsel,mips")
    ap.add_argument("--flags", default="PF")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--print", action="store_true", help="print the entries (default)")
    group.add_argument("--debian", metavar="DIR", help="write update-binfmts files into DIR")
    group.add_argument("--register", action="store_true")
    group.add_argument("--remove", action="store_true")
    group.add_argument("--status", action="store_true")
    args = ap.parse_args(argv)
    prog = "pysystem-binfmt"
    arches = [a for a in args.arch.split(",") if a]
    bad = [a for a in arches if a not in ARCHES]
    if bad:
        sys.stderr.write(f"{prog}: unknown architecture '{bad[0]}' (choose from arm, mipsel, mips)\n")
        return 1
    flags = "".join(sorted(set(args.flags.upper()), key=VALID_FLAGS.find))
    if any(f not in VALID_FLAGS for f in flags):
        sys.stderr.write(f"{prog}: flags are letters of {VALID_FLAGS}, not '{args.flags}'\n")
        return 1
    if "C" in flags and "O" not in flags:
        flags = "".join(f for f in VALID_FLAGS if f in flags + "O")
    try:
        for a in arches:
            if args.debian:
                os.makedirs(args.debian, exist_ok=True)
                with open(os.path.join(args.debian, f"pysystem-{a}"), "w") as f:
                    f.write(debian_format(a, flags))
            elif args.register:
                with open(os.path.join(BINFMT_DIR, "register"), "w") as f:
                    f.write(entry(a, flags))
            elif args.remove:
                with open(os.path.join(BINFMT_DIR, f"pysystem-{a}"), "w") as f:
                    f.write("-1")
            elif args.status:
                path = os.path.join(BINFMT_DIR, f"pysystem-{a}")
                print(f"pysystem-{a}: " + ("registered" if os.path.exists(path) else "not registered"))
            else:
                print(entry(a, flags))
    except OSError as e:
        sys.stderr.write(f"{prog}: {e.filename}: {e.strerror} "
                         f"(root and binfmt_misc mounted on {BINFMT_DIR} are needed)\n")
        return 1
    return 0


def console() -> None:
    sys.exit(main())
