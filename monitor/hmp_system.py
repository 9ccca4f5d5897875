"""System and object commands of HMP.

quit|q, stop|s, cont|c, system_reset, system_powerdown, cpu, log, logfile,
dumpdtb, qom-list, qom-get, qom-set.

``system_powerdown`` emits QMP's POWERDOWN event and calls the machine's
``request_powerdown()`` if it has one; vexpress-a9 has no power button (QEMU 7.2 does
nothing visible there either: the guest keeps running).  ``qom-set`` writes a
property of an object that is not a realized device (the machine, containers,
chardevs); a realized device refuses with QEMU's message.  ``qom-list`` shows
``type``, the declared properties with QEMU's type names, ``realized`` for
devices, and children as ``child<TYPE>``.
"""
from __future__ import annotations

import json
from typing import Any, List, Tuple

from .hmp_table import MonitorError, UsageError, command

_KIND_NAMES = {"str": "string", "any": "str", "size": "size"}


@command("quit|q", "", "quit the emulator")
def _quit(mon, args: List[str]) -> str:
    mon.need_machine().quit()
    mon.quitting = True
    return ""


@command("stop|s", "", "stop emulation")
def _stop(mon, args: List[str]) -> str:
    mon.need_machine().pause()
    return ""


@command("cont|c", "", "resume emulation")
def _cont(mon, args: List[str]) -> str:
    mon.need_machine().resume()
    return ""


@command("gdbserver", "[device]", "start gdbserver on given device (default 'tcp::1234'), "
         "stop with 'none'")
def _gdbserver(mon, args: List[str]) -> str:
    from .gdbstub import DEFAULT_DEVICE, GdbServerError, start_gdbserver
    machine = mon.need_machine()
    device = args[0] if args else DEFAULT_DEVICE
    try:
        start_gdbserver(machine, device, getattr(machine, "loop", None),
                        hmp=lambda line: type(mon)(machine).execute(line))
    except GdbServerError as e:
        return f"{e}\nCould not open gdbserver on device '{device}'"
    if device == "none":
        return "Disabled gdbserver"
    return f"Waiting for gdb connection on device '{device}'"


@command("system_reset", "", "reset the system")
def _system_reset(mon, args: List[str]) -> str:
    mon.need_machine().request_reset("host-qmp-system-reset")
    return ""


@command("system_powerdown", "", "send system power down event")
def _system_powerdown(mon, args: List[str]) -> str:
    machine = mon.need_machine()
    emit = getattr(machine, "_emit", None)
    if emit is not None:
        emit("POWERDOWN")
    fn = getattr(machine, "request_powerdown", None)
    if callable(fn):
        fn()
    return ""


@command("cpu", "index", "set the default CPU")
def _cpu(mon, args: List[str]) -> str:
    if not args:
        raise UsageError("cpu", "cpu: integer expected")
    try:
        n = int(args[0], 0)
    except ValueError:
        raise UsageError("cpu", "cpu: integer expected") from None
    if not 0 <= n < len(mon.need_machine().cpus):
        raise MonitorError("invalid CPU index")
    mon.cpu_index = n
    return ""


# --- logging --------------------------------------------------------------------------

@command("log", "item1[,...]", "activate logging of the specified items", args=("log",))
def _log(mon, args: List[str]) -> str:
    from pysystem import log
    if not args:
        raise UsageError("log", "log: string expected")
    spec = args[0]
    target = mon.machine.log if mon.machine is not None else log.active()
    if spec == "none":
        target.mask.clear()
    else:
        try:
            target.set_mask(spec)
        except log.LogError:
            return log.help_text()
    for cpu in getattr(mon.machine, "cpus", None) or []:
        flush = getattr(cpu, "flush_all", None)
        if flush is not None:
            flush()             # translated code checked the old mask
    return ""


@command("logfile", "filename", "output logs to 'filename'", args=("file",))
def _logfile(mon, args: List[str]) -> str:
    from pysystem import log
    if not args:
        raise UsageError("logfile", "logfile: filename expected")
    target = mon.machine.log if mon.machine is not None else log.active()
    try:
        target.set_file(args[0])
    except log.LogError as e:
        raise MonitorError(f"Error: {e}") from None
    if target is log.active():
        log.activate(target)   # the module's output follows the new file
    return ""


@command("dumpdtb", "filename", "dump the FDT in dtb format to 'filename'", args=("file",))
def _dumpdtb(mon, args: List[str]) -> str:
    if not args:
        raise UsageError("dumpdtb", "dumpdtb: filename expected")
    rom = next((r for r in mon.need_machine().roms() if r.name == "dtb"), None)
    if rom is None or len(rom.data) < 8:
        raise MonitorError("Error: This machine doesn't have a FDT")
    data = bytes(rom.data)
    total = int.from_bytes(data[4:8], "big")
    if 8 <= total <= len(data):
        data = data[:total]
    try:
        with open(args[0], "wb") as f:
            f.write(data)
    except OSError as e:
        raise MonitorError(f"Error: Failed to save dtb to '{args[0]}': {e.strerror}") from None
    return ""


# --- QOM ------------------------------------------------------------------------------

def qom_properties(obj) -> List[Tuple[str, str]]:
    """(name, QEMU type name) of what qom-list shows for ``obj``."""
    from pysystem.qdev import Device
    out = [("type", "string")]
    for p in type(obj).class_properties().values():
        out.append((p.name, _KIND_NAMES.get(p.kind, p.kind)))
    if isinstance(obj, Device):
        out.append(("realized", "bool"))
    for name, child in obj.children.items():
        out.append((name, f"child<{child.TYPE}>"))
    return out


def _resolve(mon, path: str):
    from pysystem.qom import resolve_path
    obj = resolve_path(path, mon.need_machine().root) if path.startswith("/") else None
    if obj is None:
        raise MonitorError(f"Error: Device '{path}' not found")
    return obj


def _json(value: Any, kind: str) -> str:
    from pysystem.qom import Object
    if isinstance(value, Object):
        return json.dumps(value.path)
    if value is None:
        return '""' if kind in ("str", "any") or kind.startswith("link<") else "null"
    if isinstance(value, (bool, int, str)):
        return json.dumps(value)
    label = getattr(value, "label", None)
    if isinstance(label, str):
        return json.dumps(label)
    return json.dumps(str(value))


@command("qom-list", "path", "list QOM properties", args=("qom-path",))
def _qom_list(mon, args: List[str]) -> str:
    if not args:
        return "/"
    obj = _resolve(mon, args[0])
    return "\n".join(f"{name} ({kind})" for name, kind in qom_properties(obj))


@command("qom-get", "path property", "print QOM property", args=("qom-path", "qom-prop"))
def _qom_get(mon, args: List[str]) -> str:
    if len(args) < 2:
        raise UsageError("qom-get", "qom-get: string expected")
    obj = _resolve(mon, args[0])
    name = args[1]
    if name == "type":
        return json.dumps(obj.TYPE)
    if name == "realized" and "realized" in dict(qom_properties(obj)):
        return json.dumps(bool(obj.realized))
    if name in obj.children:
        return json.dumps(obj.children[name].path)
    props = type(obj).class_properties()
    if name not in props:
        raise MonitorError(f"Error: Property '{obj.TYPE}.{name}' not found")
    return _json(getattr(obj, props[name].attr), props[name].kind)


@command("qom-set", "[-j] path property value", "set QOM property.\n\t\t\t"
         "-j: the value is specified in json format.", args=("qom-path", "qom-prop"))
def _qom_set(mon, args: List[str]) -> str:
    from pysystem.qdev import Device
    from pysystem.qom import QOMError
    as_json = bool(args) and args[0] == "-j"
    if as_json:
        args = args[1:]
    if len(args) < 3:
        raise UsageError("qom-set", "qom-set: string expected")
    if len(args) > 3:
        raise UsageError("qom-set", "qom-set: extraneous characters at the end of line")
    obj = _resolve(mon, args[0])
    name, text = args[1], args[2]
    props = type(obj).class_properties()
    if name in ("type", "realized") or name in obj.children:
        raise MonitorError(f"Error: Property '{obj.TYPE}.{name}' is not writable")
    if name not in props:
        raise MonitorError(f"Error: Property '{obj.TYPE}.{name}' not found")
    prop = props[name]
    if isinstance(obj, Device) and obj.realized:
        who = f"device '{obj.id}'" if getattr(obj, "id", None) else "anonymous device"
        raise MonitorError(f"Error: Attempt to set property '{name}' on {who} "
                           f"(type '{obj.TYPE}') after it was realized")
    if obj.realized and prop.fixed:     # a machine's RAM size, CPUs: realize built them
        raise MonitorError(f"Error: property '{name}' of '{obj.TYPE}' cannot be set after "
                           "realize")
    if prop.kind == "any":
        raise MonitorError(f"Error: Property '{obj.TYPE}.{name}' cannot be set from the monitor")
    value: Any = text
    if as_json:
        try:
            value = json.loads(text)
        except ValueError as e:
            raise MonitorError(f"Error: JSON parse error, {e}") from None
    try:
        setattr(obj, prop.attr, prop.convert(value))
    except QOMError as e:
        raise MonitorError(f"Error: {e}") from None
    return ""
