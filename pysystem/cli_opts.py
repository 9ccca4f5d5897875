"""Command-line syntax: QEMU's option table and its ``key=value,...`` (QemuOpts) lists.

    parse_keyval("vexpress-a9,accel=tcg", implied="type")
        -> {"type": "vexpress-a9", "accel": "tcg"}
    split_argv(argv) -> [(option, value_or_None), ...]      # CLIError on a bad option

``,,`` in a value stands for one comma; a first element without ``=`` is the
implied key's value (``-M vexpress-a9``, ``-serial stdio``); a later element
without ``=`` is a boolean flag (``foo`` = ``foo=on``); ``help`` or ``?`` as
the first element asks for help.  Options are written ``-opt`` or ``--opt``.

OPTIONS is the one table of options: name, argument name (None: a flag), help
line, and whether it is implemented; ``usage()`` prints it for ``-h``.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple


class CLIError(Exception):
    """A bad command line; ``str()`` is the one line printed after the program name."""

    def __init__(self, msg: str, opt: Optional[str] = None, arg: Optional[str] = None):
        if opt is not None:
            msg = f"{opt}{' ' + arg if arg is not None else ''}: {msg}"
        super().__init__(msg)


class Option(NamedTuple):
    name: str
    arg: Optional[str]          # metavar of the argument, None for a flag
    help: str
    supported: bool = True


OPTIONS: Tuple[Option, ...] = (
    Option("h", None, "display this help and exit"),
    Option("help", None, "display this help and exit"),
    Option("version", None, "display version information and exit"),
    Option("machine", "[type=]name[,prop=value[,...]]", "select the board (-machine help lists them)"),
    Option("M", "name", "same as -machine"),
    Option("cpu", "model", "select the CPU model (-cpu help lists them)"),
    Option("accel", "tcg", "select the accelerator (only tcg)"),
    Option("m", "[size=]megs", "RAM size; 256, 256M, 1G (default unit: MiB)"),
    Option("smp", "[cpus=]n", "number of CPUs"),
    Option("kernel", "file", "use 'file' as the kernel image"),
    Option("dtb", "file", "use 'file' as the device tree image"),
    Option("initrd", "file", "use 'file' as the initial ram disk"),
    Option("append", "cmdline", "use 'cmdline' as the kernel command line"),
    Option("nographic", None, "no graphics: serial port and monitor multiplexed on stdio"),
    Option("display", "none", "select the display (only none)"),
    Option("serial", "dev", "redirect the next serial port to host character device 'dev'"),
    Option("monitor", "dev", "redirect the monitor to host character device 'dev'"),
    Option("mon", "[chardev=]name[,mode=readline|control][,pretty=on]",
           "put a monitor (mode=control: QMP) on chardev 'name'"),
    Option("chardev", "backend,id=id[,...]", "create a character device (-chardev help lists backends)"),
    Option("qmp", "dev", "QMP monitor on 'dev' (e.g. unix:PATH,server=on,wait=off)"),
    Option("qmp-pretty", "dev", "QMP monitor with pretty JSON on 'dev'"),
    Option("drive", "file=file[,if=type][,format=raw][,...]", "add a drive (raw images only)"),
    Option("device", "driver[,prop=value][,...]", "add a device (-device help lists them)"),
    Option("global", "driver.prop=value", "set a default value of a driver's property"),
    Option("S", None, "do not start the CPU at start-up (use 'cont' in the monitor)"),
    Option("s", None, "shorthand for -gdb tcp::1234"),
    Option("gdb", "dev", "accept a gdb connection on 'dev' (tcp::PORT binds to 127.0.0.1)"),
    Option("icount", "[shift=]N|auto[,sleep=on|off]",
           "guest time: 2^N ns per instruction (default 3); sleep=on: an idle guest "
           "waits in host time, off: it warps at once (default: on when stdin is a "
           "terminal, else it warps only while guest time lags the host's)"),
    Option("d", "item1,...", "enable logging of the given items (-d help lists them)"),
    Option("D", "logfile", "write the log to 'logfile' (default: stderr)"),
    Option("snapshot", None, "write to temporary copies instead of the disk images"),
    Option("loadvm", "tag", "start right away with a saved state"),
    Option("no-reboot", None, "exit instead of rebooting"),
    Option("no-shutdown", None, "stop before shutdown instead of exiting"),
    Option("rtc", "[base=utc|localtime|date][,clock=vm]", "set the guest's real time clock"),
    Option("nodefaults", None, "create no default serial port or monitor"),
    Option("no-user-config", None, "accepted for compatibility; does nothing"),
    Option("nodefconfig", None, "accepted for compatibility; does nothing"),
    Option("name", "string", "set the name of the guest"),
    Option("enable-kvm", None, "KVM acceleration", False),
    Option("bios", "file", "set the filename for the BIOS"),
    Option("netdev", "user,id=id[,hostfwd=tcp:[haddr]:hport-[gaddr]:gport][,restrict=on][,...]",
           "create a network backend (user: the user-mode network; socket; tap)"),
    Option("nic", "user[,model=type][,mac=addr][,hostfwd=...]",
           "create a NIC of the board with a user-mode network behind it"),
    Option("net", "nic[,model=type][,macaddr=addr]|user[,...]",
           "legacy: a board NIC (nic) and the network it joins (user)"),
) + tuple(Option(n, a, "", False) for n, a in (
    ("pflash", "file"), ("sd", "file"), ("mtdblock", "file"), ("hda", "file"),
    ("hdb", "file"), ("hdc", "file"), ("hdd", "file"), ("cdrom", "file"), ("fda", "file"),
    ("fdb", "file"), ("blockdev", "opts"),
    ("vga", "type"), ("usb", None), ("usbdevice", "name"), ("audiodev", "opts"),
    ("soundhw", "card"), ("incoming", "uri"), ("trace", "opts"), ("object", "opts"),
    ("boot", "opts"), ("L", "path"), ("plugin", "opts"), ("semihosting", None),
    ("semihosting-config", "opts"), ("watchdog-action", "action"), ("action", "opts"),
    ("overcommit", "opts"), ("parallel", "dev"), ("virtfs", "opts"), ("fsdev", "opts"),
    ("vnc", "display"), ("spice", "opts"), ("sandbox", "opts"), ("msg", "opts"),
    ("uuid", "uuid"), ("k", "lang"), ("full-screen", None), ("g", "WxH"), ("singlestep", None),
    ("daemonize", None), ("pidfile", "file"), ("option-rom", "file"), ("readconfig", "file"),
    ("writeconfig", "file"), ("add-fd", "opts"), ("mem-path", "path"), ("mem-prealloc", None),
    ("numa", "opts"), ("smbios", "opts"), ("fw_cfg", "opts"), ("runas", "user"),
    ("chroot", "dir"), ("preconfig", None), ("watchdog", "model"),
))

_BY_NAME: Dict[str, Option] = {o.name: o for o in OPTIONS}


def split_argv(argv: List[str]) -> List[Tuple[str, Option, Optional[str]]]:
    """[(as written, option, argument)] in order; CLIError for unknown options."""
    out = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if not word.startswith("-") or word == "-":
            raise CLIError(f"'{word}': disk image arguments are not supported yet (use -drive)")
        name = word[2:] if word.startswith("--") else word[1:]
        opt = _BY_NAME.get(name)
        if opt is None:
            raise CLIError("invalid option", word)
        value = None
        if opt.arg is not None:
            if i >= len(argv):
                raise CLIError("requires an argument", word)
            value = argv[i]
            i += 1
        out.append((word, opt, value))
    return out


def parse_keyval(text: str, implied: Optional[str] = None) -> Dict[str, str]:
    """QEMU's ``key=value,key=value`` lists (see the module docstring)."""
    items: List[str] = []
    cur = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if text[i + 1:i + 2] == ",":
                cur.append(",")
                i += 2
                continue
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    out: Dict[str, str] = {}
    for n, item in enumerate(items):
        if n == 0 and item in ("help", "?"):
            out["help"] = "on"
        elif "=" in item:
            key, value = item.split("=", 1)
            if not key:
                raise CLIError(f"Invalid parameter ''")
            out[key] = value
        elif n == 0 and implied is not None:
            out[implied] = item
        elif item == "":
            if n != len(items) - 1:
                raise CLIError("Invalid parameter ''")
        elif item in ("help", "?"):
            out["help"] = "on"
        else:
            out[item] = "on"
    return out


def parse_bool(key: str, value: str) -> bool:
    if value in ("on", "yes", "true"):
        return True
    if value in ("off", "no", "false"):
        return False
    raise CLIError(f"Parameter '{key}' expects 'on' or 'off'")


def usage(prog: str) -> str:
    lines = [f"usage: {prog} [options]", "",
             "Options (also written --option); 'not supported yet' ones are refused:"]
    for opt in OPTIONS:
        if not opt.help:
            continue
        left = f"-{opt.name}" + (f" {opt.arg}" if opt.arg else "")
        note = "" if opt.supported else " (not supported yet)"
        if len(left) > 30:
            lines.append(left)
            lines.append(" " * 31 + opt.help + note)
        else:
            lines.append(f"{left:<30} {opt.help}{note}")
    lines += ["", "During emulation with -nographic, C-a h lists the console keys."]
    return "\n".join(lines)
