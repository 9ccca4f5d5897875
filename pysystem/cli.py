"""The command line: ``pysystem-arm``, ``pysystem-mipsel``, ``pysystem-mips``.

    main_arm() / main_mipsel() / main_mips()    # console script entry points
    main(arch, argv) -> exit status             # what they call
    main(arch, argv, on_start=fn)               # fn(machine, loop) just before the guest starts

QEMU's options and syntax (cli_opts.py holds the table and the key=value
parser).  Every user error is one line on stderr, ``PROG: -opt arg: message``,
and exit status 1; help outputs (-h, -version, -M help, -cpu help, -d help,
-device help, -device TYPE,help, -chardev help, -display help, -accel help)
exit 0.  An unexpected exception is one line ``PROG: internal error: ...``;
its traceback goes to the -D log, and to stderr too when PYSYSTEM_DEBUG=1.

Start-up, in QEMU's order: parse everything; -chardev; the machine object
with its properties; -drive specs; -device objects; serial ports and monitors
(default with -nographic, or without any -display: serial0 and the monitor on
one mux over stdio); ``machine.realize()``; ``reset()``; then the main loop
until the guest powers off, ``quit``, Ctrl-A x, or a signal.  The terminal is
restored on every one of those paths (``finally`` + atexit + signal handlers).
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import sys
import traceback
from typing import Callable, Dict, List, Optional, Tuple

from . import QEMU_VERSION_COMPAT, __version__, log, main_loop, pypy_gc
from . import chardev as chardevs
from .cli_opts import CLIError, parse_bool, parse_keyval, split_argv, usage
from .block import BlockError, check_file, check_format
from .block_lock import LOCKING_MODES
from .machine import DeviceSpec, DriveSpec, INTERFACES, Machine, MachineError, \
    find_machine, machine_classes
from .qom import QOMError, globals_in_effect, lookup_type, parse_size, set_global, type_names

__all__ = ["main", "main_arm", "main_mipsel", "main_mips", "CLIError"]

ARCHES = ("arm", "mipsel", "mips")
MAX_SERIAL_PORTS = 4
DRIVE_KEYS = ("file", "if", "index", "unit", "bus", "media", "format", "id", "readonly",
              "snapshot", "cache", "aio", "discard", "werror", "rerror", "detect-zeroes",
              "auto-read-only", "force-share", "copy-on-read", "file.locking")
UNITS_PER_BUS = {"ide": 2, "scsi": 7}
RAM_ALIGN = 8192                # QEMU rounds -m up to a multiple of this


def main_arm() -> None:
    pypy_gc.restart_if_needed()
    sys.exit(main("arm"))


def main_mipsel() -> None:
    pypy_gc.restart_if_needed()
    sys.exit(main("mipsel"))


def main_mips() -> None:
    pypy_gc.restart_if_needed()
    sys.exit(main("mips"))


def main(arch: str, argv: Optional[List[str]] = None,
         on_start: Optional[Callable[[Machine, object], None]] = None) -> int:
    """Run ``pysystem-ARCH argv``; ``on_start(machine, loop)`` is called once the machine
    is built (after -loadvm) and its chardevs are open, before the guest runs
    (``pysystem-images --boot`` restores or watches the guest there)."""
    prog = f"pysystem-{arch}"
    chardevs.registry().program = prog
    if argv is None:
        argv = sys.argv[1:]
    saved = _install_signal_handlers(prog)
    try:
        return _run(arch, prog, argv, on_start)
    except _USER_ERRORS as e:
        sys.stderr.write(f"{prog}: {_one_line(e)}\n{_hint(e)}")
        return 1
    except KeyboardInterrupt:
        return 1
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the one place that turns bugs into one line
        detail = traceback.format_exc()
        try:
            if log._out is not sys.stderr:     # a -D file: the traceback goes there
                log.write(detail)
        except Exception:  # noqa: BLE001
            pass
        sys.stderr.write(f"{prog}: internal error: {type(e).__name__}: {_one_line(e)}\n")
        if os.environ.get("PYSYSTEM_DEBUG") == "1":
            sys.stderr.write(detail)
        return 1
    finally:
        chardevs.close_all()
        for sig, old in saved.items():
            signal.signal(sig, old)
        main_loop.termination_requested = False     # main() called again in one process


def _user_errors():
    from .block import BlockError
    from .loader import LoaderError
    from .memory import MemoryTreeError
    from .snapshot import SnapshotError
    from .net import NetError
    return (CLIError, QOMError, MachineError, chardevs.ChardevError, log.LogError,
            LoaderError, BlockError, MemoryTreeError, SnapshotError, NetError)


_USER_ERRORS = _user_errors()


def _hint(e: Optional[BaseException]) -> str:
    """QEMU's second line after some errors (block.BlockError.hint), found along the
    chain of errors that re-worded it; "" or the line with its newline."""
    while e is not None:
        if getattr(e, "hint", None):
            return e.hint + "\n"
        e = e.__context__
    return ""


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _install_signal_handlers(prog: str) -> dict:
    """SIGTERM/SIGHUP/SIGINT: QEMU's message, then an orderly exit (status 0) through
    every ``finally``; returns the previous handlers."""
    def handler(signum, frame):
        main_loop.termination_requested = True
        try:
            sys.stderr.write(f"\r\n{prog}: terminating on signal {signum}\r\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - the terminal may be gone (SIGHUP): exit anyway
            pass
        raise SystemExit(0)

    main_loop.termination_requested = False
    saved = {}
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        try:
            saved[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):      # not the main thread (tests calling main())
            pass
    return saved


def load_types() -> None:
    """Import every board and device module so that they register their types."""
    from . import machines, devices
    machines.load_all()
    for info in pkgutil.iter_modules(devices.__path__):
        importlib.import_module(f"{devices.__name__}.{info.name}")


# --- the configuration gathered from argv ---------------------------------------------

class Config:
    def __init__(self, registry=None):
        self.chardevs = registry if registry is not None else chardevs.registry()
        self.machine: Dict[str, str] = {}
        self.machine_text: Optional[str] = None
        self.machine_word = "-machine"
        self.word = ""
        self.props: Dict[str, object] = {}
        self.cpu: Optional[str] = None
        self.nographic = False
        self.display: Optional[str] = None
        self.serials: List[str] = []
        self.monitors: List[Tuple[str, str]] = []       # (kind, spec): legacy or chardev id
        self.qmps: List[Tuple[str, str, bool]] = []     # (kind, spec, pretty): QMP monitors
        self.guest_name: Optional[str] = None           # -name (QMP query-name)
        self.drives: List[Tuple[str, Dict[str, str]]] = []
        self.devices: List[Tuple[str, Dict[str, str]]] = []
        self.start_paused = False
        self.gdb: Optional[str] = None                  # -gdb DEV / -s
        self.nodefaults = False
        self.net = None                                 # net.NetOptions: -netdev/-nic/-net
        self.help: Optional[Tuple[str, str]] = None     # (what, detail)
        self.log = log.Log()                            # -d/-D: the machine's log
        self.globals: Dict[Tuple[str, str], str] = {}   # -global: the machine's defaults


def _parse(arch: str, argv: List[str], registry=None) -> Config:
    cfg = Config(registry)
    for word, opt, value in split_argv(argv):
        name = opt.name
        if not opt.supported:
            raise CLIError("not supported yet", word, value)
        handler = _HANDLERS.get(name)
        cfg.word = word
        try:
            handler(cfg, value, arch)
        except CLIError as e:
            if str(e).startswith(word):
                raise
            raise CLIError(str(e), word, value) from None
        except (QOMError, chardevs.ChardevError, log.LogError) as e:
            raise CLIError(_one_line(e), word, value) from None
        if cfg.help is not None:
            break
    return cfg


def _opt_help(cfg: Config, value, arch) -> None:
    cfg.help = ("usage", "")


def _opt_version(cfg: Config, value, arch) -> None:
    cfg.help = ("version", "")


def _opt_machine(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "type")
    if opts.get("type") in ("help", "?") or (opts.get("help") and "type" not in opts):
        cfg.help = ("machine", "")
        return
    if opts.get("help"):
        cfg.help = ("machine-props", opts["type"])
        return
    if "type" in opts:
        cfg.machine_text = value
        cfg.machine_word = cfg.word
    cfg.machine.update(opts)


def _opt_cpu(cfg: Config, value: str, arch) -> None:
    if value in ("help", "?"):
        cfg.help = ("cpu", "")
        return
    model, _, features = value.partition(",")
    if features:
        raise CLIError("CPU features are not supported yet")
    cfg.cpu = model


def _opt_accel(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "accel")
    if opts.get("help"):
        cfg.help = ("accel", "")
        return
    accel = opts.pop("accel", "tcg")
    opts.pop("thread", None)
    if accel != "tcg":
        raise CLIError(f"accelerator '{accel}' is not supported (pysystem emulates: tcg only)")
    for key in opts:
        raise CLIError(f"Invalid parameter '{key}'")


def _opt_kvm(cfg: Config, value, arch) -> None:
    raise CLIError("accelerator 'kvm' is not supported (pysystem emulates: tcg only)")


def _opt_m(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "size")
    for key in opts:
        if key in ("slots", "maxmem"):
            raise CLIError("memory hotplug (slots, maxmem) is not supported yet")
        if key != "size":
            raise CLIError(f"Invalid parameter '{key}'")
    text = opts.get("size", "")
    try:
        size = parse_size(text, "m")
    except QOMError:
        raise CLIError("Parameter 'size' expects a non-negative number below 2^64") from None
    if size >= 1 << 64:
        raise CLIError("Parameter 'size' expects a non-negative number below 2^64")
    if size:
        cfg.props["ram-size"] = -(-size // RAM_ALIGN) * RAM_ALIGN


def _opt_smp(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "cpus")
    numbers = {}
    for key, text in opts.items():
        if key not in ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads"):
            raise CLIError(f"Invalid parameter '{key}'")
        try:
            numbers[key] = int(text, 10)
        except ValueError:
            raise CLIError(f"Parameter '{key}' expects a number") from None
    cpus = numbers.get("cpus")
    if cpus is None:
        cpus = 1
        for key in ("sockets", "dies", "clusters", "cores", "threads"):
            cpus *= numbers.get(key, 1)
    cfg.props["smp"] = cpus


def _opt_image(key: str):
    def handler(cfg: Config, value: str, arch) -> None:
        cfg.props[key] = value
    return handler


def _opt_flag(key: str, value=True):
    def handler(cfg: Config, _value, arch) -> None:
        cfg.props[key] = value
    return handler


def _opt_nographic(cfg: Config, value, arch) -> None:
    cfg.nographic = True


def _opt_display(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "type")
    kind = opts.get("type")
    if opts.get("help") and kind is None:
        cfg.help = ("display", "")
        return
    if kind != "none":
        raise CLIError(f"Display '{kind}' is not available (pysystem has no graphical display; "
                       "use -nographic or -display none)")
    cfg.display = "none"


def _opt_serial(cfg: Config, value: str, arch) -> None:
    if len(cfg.serials) >= MAX_SERIAL_PORTS:
        raise CLIError("too many serial ports")
    chardevs.parse_legacy(value)              # reject bad specs in order
    cfg.serials.append(value)


def _opt_monitor(cfg: Config, value: str, arch) -> None:
    chardevs.parse_legacy(value)
    cfg.monitors.append(("legacy", value))


def _opt_mon(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "chardev")
    for key in opts:
        if key not in ("chardev", "mode", "pretty"):
            raise CLIError(f"Invalid parameter '{key}'")
    mode = opts.get("mode", "readline")
    if mode not in ("readline", "control"):
        raise CLIError(f"Parameter 'mode' does not accept value '{mode}'")
    if "chardev" not in opts:
        raise CLIError("Parameter 'chardev' is missing")
    if mode == "control":
        pretty = parse_bool("pretty", opts.get("pretty", "off"))
        cfg.qmps.append(("chardev", opts["chardev"], pretty))
        return
    cfg.monitors.append(("chardev", opts["chardev"]))


def _opt_name(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "guest")
    for key in opts:
        if key not in ("guest", "process", "debug-threads"):
            raise CLIError(f"Invalid parameter '{key}'")
    cfg.guest_name = opts.get("guest")


def _opt_qmp(pretty: bool):
    def handler(cfg: Config, value: str, arch) -> None:
        chardevs.parse_legacy(value)          # reject bad specs in order
        cfg.qmps.append(("legacy", value, pretty))
    return handler


def _opt_chardev(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "backend")
    if opts.get("help") and "backend" not in opts:
        cfg.help = ("chardev", "")
        return
    if "id" not in opts:
        raise CLIError("chardev: no id specified")
    cfg.chardevs.create(opts, origin=f"{cfg.word} {value}")


def _opt_drive(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value)
    for key in opts:
        if key not in DRIVE_KEYS:
            raise CLIError(f"Invalid parameter '{key}'")
    interface = opts.get("if")
    if interface is not None and interface not in INTERFACES:
        raise CLIError(f"unsupported bus type '{interface}'")
    if opts.get("file.locking", "auto") not in LOCKING_MODES:
        raise CLIError(f"invalid parameter value: {opts['file.locking']}")
    media = opts.get("media", "disk")
    if media not in ("disk", "cdrom"):
        raise CLIError(f"'{media}' invalid media")
    for key in ("readonly", "snapshot"):
        if key in opts:
            parse_bool(key, opts[key])
    path = opts.get("file")
    if not path:
        raise CLIError("a drive without a medium is not supported yet (give file=)")
    try:
        check_format(opts.get("format"))
        check_file(path)
    except BlockError as e:
        raise CLIError(str(e)) from None
    cfg.drives.append((value, opts))


def _check_writable(spec: DriveSpec, snapshot: bool) -> None:
    """A drive the guest may write to must be writable, unless it is read-only or a snapshot."""
    if spec.readonly or spec.snapshot or snapshot:
        return
    if not os.access(spec.file, os.W_OK):
        raise CLIError(f"Could not open '{spec.file}': Permission denied "
                       "(add readonly=on or snapshot=on)", "-drive", spec.text)


def _opt_device(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "driver")
    driver = opts.get("driver")
    if driver is None and opts.get("help"):
        cfg.help = ("device", "")
        return
    if driver is None:
        raise CLIError("Parameter 'driver' is missing")
    _device_class(driver)
    if opts.get("help"):
        cfg.help = ("device-props", driver)
        return
    cfg.devices.append((value, opts))


def _opt_global(cfg: Config, value: str, arch) -> None:
    if "." in value.split("=", 1)[0]:
        set_global(value, cfg.globals)
        return
    opts = parse_keyval(value)
    if set(opts) != {"driver", "property", "value"}:
        raise CLIError("expects TYPE.PROPERTY=VALUE or driver=TYPE,property=PROPERTY,value=VALUE")
    set_global(f"{opts['driver']}.{opts['property']}={opts['value']}", cfg.globals)


def _opt_start_paused(cfg: Config, value, arch) -> None:
    cfg.start_paused = True


def _opt_gdb(cfg: Config, value: Optional[str], arch) -> None:
    from .monitor.gdbstub import chardev_options
    device = value if value is not None else "tcp::1234"
    chardev_options(device)                   # reject bad specs in order
    cfg.gdb = device
    cfg.gdb_word = cfg.word


def _opt_icount(cfg: Config, value: str, arch) -> None:
    opts = parse_keyval(value, "shift")
    for key, text in opts.items():
        if key == "shift":
            if text == "auto":
                continue
            try:
                shift = int(text, 10)
            except ValueError:
                raise CLIError("Parameter 'shift' expects a number or 'auto'") from None
            if not 0 <= shift <= 10:
                raise CLIError("icount shift must be between 0 and 10")
            cfg.props["icount-shift"] = shift
        elif key == "sleep":
            cfg.props["icount-sleep"] = parse_bool(key, text)
        elif key in ("align", "rr", "rrfile", "rrsnapshot"):
            raise CLIError(f"icount option '{key}' is not supported yet")
        else:
            raise CLIError(f"Invalid parameter '{key}'")


def _opt_d(cfg: Config, value: str, arch) -> None:
    if value in ("help", "?"):
        cfg.help = ("log", "")
        return
    cfg.log.set_mask(value)


def _opt_log_file(cfg: Config, value: str, arch) -> None:
    cfg.log.set_file(value)


def _opt_rtc(cfg: Config, value: str, arch) -> None:
    from .clock import VirtualClock
    opts = parse_keyval(value)
    for key, text in opts.items():
        if key == "base":
            VirtualClock().set_rtc_base(text)          # validates; QOMError otherwise
            cfg.props["rtc-base"] = text
        elif key == "clock":
            if text not in ("host", "rt", "vm"):
                raise CLIError(f"Parameter 'clock' does not accept value '{text}'")
        elif key == "driftfix":
            if text not in ("none", "slew"):
                raise CLIError(f"Parameter 'driftfix' does not accept value '{text}'")
        else:
            raise CLIError(f"Invalid parameter '{key}'")


def _opt_loadvm(cfg: Config, value: str, arch) -> None:
    cfg.loadvm = value


def _opt_nodefaults(cfg: Config, value, arch) -> None:
    cfg.nodefaults = True


def _opt_ignore(cfg: Config, value, arch) -> None:
    pass


def _opt_net(kind: str):
    """-netdev, -nic, -net: parsed by pysystem/net/options.py."""
    def handler(cfg: Config, value: str, arch) -> None:
        from . import net
        if cfg.net is None:
            cfg.net = net.NetOptions()
        try:
            getattr(cfg.net, kind)(value)
        except ValueError as e:
            raise CLIError(str(e)) from None
    return handler


_HANDLERS = {
    "h": _opt_help, "help": _opt_help, "version": _opt_version,
    "machine": _opt_machine, "M": _opt_machine, "cpu": _opt_cpu, "accel": _opt_accel,
    "enable-kvm": _opt_kvm, "m": _opt_m, "smp": _opt_smp,
    "kernel": _opt_image("kernel"), "dtb": _opt_image("dtb"), "bios": _opt_image("firmware"), "initrd": _opt_image("initrd"),
    "append": _opt_image("append"), "nographic": _opt_nographic, "display": _opt_display,
    "serial": _opt_serial, "monitor": _opt_monitor, "mon": _opt_mon, "chardev": _opt_chardev,
    "qmp": _opt_qmp(False), "qmp-pretty": _opt_qmp(True),
    "drive": _opt_drive, "device": _opt_device, "global": _opt_global,
    "S": _opt_start_paused, "s": _opt_gdb, "gdb": _opt_gdb, "icount": _opt_icount, "d": _opt_d, "D": _opt_log_file,
    "snapshot": _opt_flag("snapshot"), "no-reboot": _opt_flag("no-reboot"),
    "no-shutdown": _opt_flag("no-shutdown"), "rtc": _opt_rtc, "nodefaults": _opt_nodefaults,
    "no-user-config": _opt_ignore, "nodefconfig": _opt_ignore, "name": _opt_name,
    "loadvm": _opt_loadvm, "netdev": _opt_net("netdev"), "nic": _opt_net("nic"),
    "net": _opt_net("net"),
}


# --- help outputs ---------------------------------------------------------------------

def _device_class(name: str):
    from .qdev import Device
    try:
        cls = lookup_type(name)
    except QOMError:
        cls = None
    if cls is None or not issubclass(cls, Device) or cls.ABSTRACT:
        raise CLIError(f"'{name}' is not a valid device model name")
    return cls


def _kind_name(kind: str) -> str:
    return {"any": "str", "int": "int64"}.get(kind, kind)


def _default_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def props_help(cls, title: str) -> str:
    props = cls.class_properties()
    if not props:
        return f"There are no options for {title}."
    lines = [f"{title} options:"]
    for name in sorted(props):
        p = props[name]
        left = f"{name}=<{_kind_name(p.kind)}>"
        text = f"  {left:<22} - {p.doc}"
        if p.default is not None:
            text += f" (default: {_default_text(p.default)})"
        lines.append(text)
    return "\n".join(lines)


def machine_help(arch: str) -> str:
    lines = ["Supported machines are:"]
    for cls in machine_classes(arch):
        note = " (default)" if cls.IS_DEFAULT else ""
        if not cls.AVAILABLE:
            note += " (not implemented yet)"
        lines.append(f"{cls.NAME:<20} {cls.DESC}{note}")
    return "\n".join(lines)


def cpu_models(arch: str) -> List[str]:
    """The CPU models of this front end (the CPU factory's: cpu/models.py)."""
    from .cpu.models import cpu_models as factory_models
    return factory_models(arch)


def device_help() -> str:
    from .qdev import SysBusDevice
    groups: Dict[str, List[str]] = {}
    for name in type_names("device"):
        cls = lookup_type(name)
        if not cls.USER_CREATABLE:
            continue
        bus = getattr(cls, "BUS", None) or ("System" if issubclass(cls, SysBusDevice) else None)
        line = f'name "{name}"'
        if bus:
            line += f", bus {bus}"
        if cls.DESC:
            line += f', desc "{cls.DESC}"'
        groups.setdefault(getattr(cls, "CATEGORY", "Uncategorized"), []).append(line)
    out = []
    for group in sorted(groups):
        out.append(f"{group} devices:")
        out += groups[group]
        out.append("")
    return "\n".join(out).rstrip("\n") if out else "No devices can be added with -device yet."


def _print_help(arch: str, prog: str, what: str, detail: str) -> int:
    if what == "usage":
        text = usage(prog)
    elif what == "version":
        text = (f"pysystem version {__version__} (QEMU {QEMU_VERSION_COMPAT} compatible)\n"
                "A full-system emulator in Python")
    elif what == "machine":
        text = machine_help(arch)
    elif what == "machine-props":
        cls = find_machine(detail, arch)
        if cls is None:
            raise CLIError(f"unsupported machine type '{detail}' (use -M help to list them)",
                           "-machine", f"{detail},help")
        text = props_help(cls, cls.TYPE)
    elif what == "cpu":
        text = "Available CPUs:\n" + "\n".join(f"  {n}" for n in cpu_models(arch))
    elif what == "log":
        text = log.help_text()
    elif what == "device":
        text = device_help()
    elif what == "device-props":
        text = props_help(_device_class(detail), detail)
    elif what == "chardev":
        text = "Available chardev backend types:\n" + "\n".join(
            f"  {n}" for n in sorted(chardevs.BACKENDS))
    elif what == "display":
        text = "Available display backend types:\nnone"
    else:  # accel
        text = "Accelerators supported in pysystem binary:\ntcg"
    sys.stdout.write(text + "\n")
    return 0


# --- building and running -------------------------------------------------------------

def _choose_machine(arch: str, cfg: Config):
    name = cfg.machine.pop("type", None)
    if name is None:
        defaults = [c for c in machine_classes(arch) if c.IS_DEFAULT]
        if not defaults:
            raise CLIError("No machine specified, and there is no default "
                           "(use -machine help to list supported machines)")
        cls = defaults[0]
    else:
        cls = find_machine(name, arch)
        if cls is None:
            raise CLIError(f"unsupported machine type '{name}' "
                           "(use -machine help to list supported machines)",
                           cfg.machine_word, cfg.machine_text)
    if not cls.AVAILABLE:
        if name is None:
            raise CLIError(f"machine '{cls.NAME}' (the default) is not implemented yet")
        raise CLIError(f"machine '{cls.NAME}' is not implemented yet",
                       cfg.machine_word, cfg.machine_text)
    return cls


def _make_machine(arch: str, cfg: Config) -> Machine:
    cls = _choose_machine(arch, cfg)
    if cfg.cpu is not None:
        if cfg.cpu not in cpu_models(arch):
            raise CLIError(f"unable to find CPU model '{cfg.cpu}'", "-cpu", cfg.cpu)
        cfg.props["cpu-type"] = cfg.cpu
    if "kernel" not in cfg.props:
        for opt in ("append", "initrd"):      # QEMU checks them in this order
            if opt in cfg.props:
                raise CLIError(f"-{opt} only allowed with -kernel option")
    machine = cls()
    machine.set_arch(arch)
    if "firmware" in cfg.props and "firmware" not in cls.class_properties():
        raise CLIError("not supported yet", "-bios", cfg.props["firmware"])
    for key, value in cfg.props.items():
        machine.set_prop(key, value)
    for key, value in cfg.machine.items():
        try:
            machine.set_prop(key, value)
        except QOMError as e:
            raise CLIError(_one_line(e), cfg.machine_word, cfg.machine_text or key) from None
    machine.start_paused = cfg.start_paused
    return machine


def _make_drives(machine: Machine, cfg: Config) -> None:
    used = set()
    next_index: Dict[str, int] = {}
    for text, opts in cfg.drives:
        interface = opts.get("if", machine.BLOCK_DEFAULT_TYPE)
        if "index" in opts:
            try:
                index = int(opts["index"], 10)
            except ValueError:
                raise CLIError("Parameter 'index' expects a number", "-drive", text) from None
        elif "unit" in opts or "bus" in opts:
            try:
                index = int(opts.get("bus", "0"), 10) * UNITS_PER_BUS.get(interface, 1) + \
                    int(opts.get("unit", "0"), 10)
            except ValueError:
                raise CLIError("Parameters 'bus' and 'unit' expect numbers", "-drive", text) from None
        else:
            index = next_index.get(interface, 0)
            while (interface, index) in used:
                index += 1
        if (interface, index) in used and interface != "none":
            raise CLIError(f"drive with if={interface}, index={index} exists", "-drive", text)
        used.add((interface, index))
        next_index[interface] = index + 1
        drive_id = opts.get("id") or f"{interface}{index}"
        if any(d.id == drive_id for d in machine.drives):
            raise CLIError(f"Duplicate ID '{drive_id}' for drive", "-drive", text)
        machine.drives.append(DriveSpec(
            opts["file"], interface, index, id=drive_id, format=opts.get("format"),
            locking=opts.get("file.locking", "auto"),
            readonly=parse_bool("readonly", opts.get("readonly", "off")),
            snapshot=parse_bool("snapshot", opts.get("snapshot", "off")),
            media=opts.get("media", "disk"), text=text))
        _check_writable(machine.drives[-1], machine.snapshot)


def _make_devices(machine: Machine, cfg: Config) -> None:
    for text, opts in cfg.devices:
        opts = dict(opts)
        driver = opts.pop("driver")
        cls = _device_class(driver)
        if not getattr(cls, "USER_CREATABLE", False):
            raise CLIError(f"Device '{driver}' can not be dynamically instantiated", "-device", text)
        dev_id = opts.pop("id", None)
        if "bus" in opts:
            raise CLIError("bus= is not supported yet", "-device", text)
        try:
            dev = cls()
            for key, value in opts.items():
                props = cls.class_properties()
                if key in props and props[key].kind == "any" and key == "drive":
                    value = machine.attach_drive(
                        value, share_rw=parse_bool("share-rw", opts.get("share-rw", "off")))
                elif key in props and props[key].kind == "any" and key == "chardev":
                    value = cfg.chardevs.lookup(value).claim()
                elif key in props and props[key].kind == "any" and key == "netdev":
                    value = _lookup_netdev(cfg, value)
                dev.set_prop(key, value)
        except (QOMError, MachineError, chardevs.ChardevError) as e:
            raise CLIError(_one_line(e), "-device", text) from None
        dev.id = dev_id
        machine.device_specs.append(DeviceSpec(dev, text, dev_id))


def _lookup_netdev(cfg: Config, netdev_id: str):
    from . import net
    try:
        return (cfg.net or net.NetOptions()).lookup(netdev_id)
    except ValueError as e:
        raise QOMError(str(e)) from None


def _make_consoles(machine: Machine, cfg: Config):
    """Serial ports and monitors; returns the monitors' chardevs."""
    serials = list(cfg.serials)
    monitors = list(cfg.monitors)
    has_monitor = bool(monitors) or bool(cfg.qmps) or any(s.startswith("mon:") for s in serials)
    if not cfg.nodefaults:
        graphic_default = not cfg.nographic and cfg.display is None
        if cfg.nographic or graphic_default:
            if not serials and not has_monitor:
                serials = ["mon:stdio"]
            else:
                if not serials:
                    serials = ["stdio"]
                if not has_monitor:
                    monitors = [("legacy", "stdio")]
        else:                                   # -display none: QEMU's vc, shown nowhere
            if not serials:
                serials = ["null"]
    mon_chardevs = []
    for i, spec in enumerate(serials):
        opts = chardevs.parse_legacy(spec)
        if opts is None:
            machine.serial_hds.append(None)
            continue
        try:
            if "chardev" in opts:
                machine.serial_hds.append(cfg.chardevs.lookup(opts["chardev"]).claim())
                continue
            mux = cfg.chardevs.create(dict(opts, id=f"serial{i}"), origin=f"-serial {spec}")
        except chardevs.ChardevError as e:
            raise CLIError(_one_line(e), "-serial", spec) from None
        if spec.startswith("mon:"):
            mon_chardevs.append(mux.claim())
        machine.serial_hds.append(mux.claim())
    for n, (kind, spec) in enumerate(monitors):
        try:
            if kind == "chardev":
                mon_chardevs.append(cfg.chardevs.lookup(spec).claim())
                continue
            opts = chardevs.parse_legacy(spec)
            if opts is None:
                continue
            if "chardev" in opts:
                mon_chardevs.append(cfg.chardevs.lookup(opts["chardev"]).claim())
            else:
                mon_chardevs.append(cfg.chardevs.create(dict(opts, id=f"compat_monitor{n}"),
                                                    origin=f"-monitor {spec}").claim())
        except chardevs.ChardevError as e:
            raise CLIError(_one_line(e), "-monitor" if kind == "legacy" else "-mon", spec) from None
    return mon_chardevs


def _make_qmp_monitors(machine: Machine, cfg: Config) -> list:
    """The -qmp/-qmp-pretty/-mon mode=control monitors (made after the HMP ones)."""
    from .monitor.qmp import QMPMonitor
    out = []
    for kind, spec, pretty in cfg.qmps:
        word = "-mon" if kind == "chardev" else ("-qmp-pretty" if pretty else "-qmp")
        try:
            if kind == "chardev":
                chardev = cfg.chardevs.lookup(spec).claim()
            else:
                opts = chardevs.parse_legacy(spec)
                if opts is None:
                    continue
                if "chardev" in opts:
                    chardev = cfg.chardevs.lookup(opts["chardev"]).claim()
                else:
                    n = 0
                    labels = {c.label for c in cfg.chardevs.all()}
                    while f"compat_monitor{n}" in labels:
                        n += 1
                    chardev = cfg.chardevs.create(dict(opts, id=f"compat_monitor{n}"),
                                              origin=f"{word} {spec}").claim()
        except chardevs.ChardevError as e:
            raise CLIError(_one_line(e), word, spec) from None
        qmp = QMPMonitor(machine, pretty=pretty)
        qmp.attach(chardev)
        out.append(qmp)
    return out


def _run(arch: str, prog: str, argv: List[str], on_start=None) -> int:
    from .main_loop import MainLoop
    built = build(arch, prog, argv, activate_log=True)
    if isinstance(built, int):
        return built                        # a help output was printed
    machine, sleep = built
    loop = MainLoop(machine, sleep=sleep)
    open_backends(machine, loop)
    if on_start is not None:
        on_start(machine, loop)
    machine.start()
    return loop.run()


def open_backends(machine: Machine, loop) -> None:
    """Open what a built machine talks to the host through, in the main loop: its
    chardevs, and its networks when it has any."""
    machine.chardevs.open_all(loop)
    if getattr(machine, "net_options", None) is not None:
        from . import net
        net.open_all(machine, loop)


def build(arch: str, prog: str, argv: List[str], registry=None, activate_log: bool = False):
    """Build the machine ``pysystem-ARCH argv`` runs: realized, reset, ``-loadvm``
    applied, its monitors and gdb stub made, its chardevs not yet open.  Returns
    ``(machine, sleep)`` (``sleep``: MainLoop's sleep mode for an idle guest), or the exit
    status after printing a help output.  ``registry`` (a ChardevRegistry) holds the
    chardevs made (default: the command line's); user errors raise the exceptions
    of ``_USER_ERRORS``.  The embedding API (pysystem.api) builds through this too.
    The machine is built with its own ``-d``/``-D`` log and ``-global`` defaults in
    effect; ``activate_log`` (the command line, one machine a process) leaves its log
    active afterwards, so that an internal error's traceback reaches the ``-D`` file
    even when the build fails."""
    from .monitor.hmp import Monitor
    if arch not in ARCHES:
        raise CLIError(f"unknown architecture '{arch}'")
    load_types()
    cfg = _parse(arch, argv, registry)
    if cfg.help is not None:
        return _print_help(arch, prog, *cfg.help)
    if activate_log:
        log.activate(cfg.log)
    with log.using(cfg.log), globals_in_effect(cfg.globals):
        return _build(arch, cfg)


def _build(arch: str, cfg: Config):
    from .monitor.hmp import Monitor
    machine = _make_machine(arch, cfg)
    machine.log = cfg.log
    machine.globals = cfg.globals
    machine.chardevs = cfg.chardevs         # the -chardev/-serial/-monitor ones
    machine.nodefaults = cfg.nodefaults     # no default NIC (pysystem/net board_nics)
    if cfg.net is None and not cfg.nodefaults:
        # QEMU's default network when no -net/-netdev/-nic is given: -net nic -net user
        from . import net
        cfg.net = net.NetOptions()
        cfg.net.net("nic")
        cfg.net.net("user")
        cfg.net.default = True
    if cfg.net is not None:
        cfg.net.finish()
        machine.net_options = cfg.net
    _make_drives(machine, cfg)
    _make_devices(machine, cfg)
    monitors = []
    for chardev in _make_consoles(machine, cfg):
        mon = Monitor(machine)
        mon.attach(chardev)
        monitors.append(mon)
    machine.guest_name = cfg.guest_name
    monitors += _make_qmp_monitors(machine, cfg)
    machine.realize()
    if cfg.net is not None:
        from . import net
        net.check_claims(machine)
        net.bind_all(machine)
    machine.reset()
    if getattr(cfg, "loadvm", None) is not None:
        from . import snapshot
        snapshot.load(machine, cfg.loadvm)
    # no sleep= given: an interactive run sleeps while idle; a scripted one (stdin not a
    # terminal) warps over idle time while the guest lags the host, then sleeps (PACE)
    if "icount-sleep" in cfg.props:
        sleep = bool(machine.icount_sleep)
    else:
        from .main_loop import PACE
        sleep = True if os.isatty(0) else PACE
    if cfg.gdb is not None:
        from .monitor.gdbstub import GdbServerError, start_gdbserver
        try:
            start_gdbserver(machine, cfg.gdb, hmp=lambda line: Monitor(machine).execute(line))
        except GdbServerError as e:
            raise CLIError(_one_line(e), cfg.gdb_word,
                           None if cfg.gdb_word.lstrip("-") == "s" else cfg.gdb) from None
    machine.monitors.extend(monitors)
    return machine, sleep
