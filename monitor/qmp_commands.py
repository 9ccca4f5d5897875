"""The QMP commands: a table of ``QMPCommand(name, args, handler)``.

    @register("query-foo", {"bar": ("str", True), "baz": ("int", False)})
    def _query_foo(qmp, args) -> result       # raise QMPError(class, desc) on failure

``args`` declares each argument's type (``str``, ``int``, ``bool``, ``number``,
``object``, ``any``, ``[str]`` for a list of strings) and whether it is
required; ``check_args`` gives QEMU's texts for a missing, unexpected or
mistyped one before the handler runs.

Commands: qmp_capabilities, query-version, query-status, query-commands,
query-name, query-target, query-kvm, query-cpus-fast, query-chardev,
query-block, query-jobs, stop, cont, system_reset, system_powerdown, quit,
human-monitor-command, qom-list, qom-get, qom-set, qom-list-types,
device-list-properties, ringbuf-read,
ringbuf-write, memsave, pmemsave (arguments as values, HMP's save_memory), snapshot-save,
snapshot-load, snapshot-delete, job-dismiss, job-cancel (and job-finalize: a
no-op, the snapshot jobs finalize themselves).

Snapshot jobs follow QEMU 7.2: the command returns ``{}`` right after the job
is created and started (JOB_STATUS_CHANGE created, running); the work runs
at the main loop's next poll, between CPU slices, then the job goes through
waiting, pending and concluded (or aborting and concluded with an
``error`` that query-jobs shows) and stays until ``job-dismiss`` (status
null); query-jobs lists the newest first, as QEMU.  The work itself is
pysystem.snapshot's ``save``/``load``/``delete``, which also stops the VM
around it (STOP ... RESUME, as QEMU).  The ``vmstate``/``devices`` block-node
names are checked for shape (QEMU refuses an empty ``devices``) but otherwise
not used: our snapshots do not live in block nodes.
"""
from __future__ import annotations

import base64
import os
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

from pysystem import QEMU_VERSION_COMPAT, __version__


class QMPError(Exception):
    """A command failed: an error class (GenericError, CommandNotFound, ...) and text."""

    def __init__(self, cls: str, desc: str):
        super().__init__(desc)
        self.cls, self.desc = cls, desc

    def reply(self) -> Dict[str, Any]:
        return {"error": {"class": self.cls, "desc": self.desc}}


class QMPCommand(NamedTuple):
    name: str
    args: Dict[str, Tuple[str, bool]]
    handler: Callable
    allow_oob: bool = False


COMMANDS: Dict[str, QMPCommand] = {}

_TYPE_NAMES = {"str": "string", "int": "integer", "bool": "boolean", "number": "number",
               "object": "object", "[str]": "array"}


def register(name: str, args: Dict[str, Tuple[str, bool]] = None, allow_oob: bool = False):
    def deco(fn):
        COMMANDS[name] = QMPCommand(name, dict(args or {}), fn, allow_oob)
        return fn
    return deco


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "[str]":
        return isinstance(value, list)
    return False


def check_args(cmd: QMPCommand, args: Dict[str, Any]) -> None:
    for key in args:
        if key not in cmd.args and "*" not in cmd.args:    # "*": the handler checks the rest
            raise QMPError("GenericError", f"Parameter '{key}' is unexpected")
    for key, (kind, required) in cmd.args.items():
        if key == "*":
            continue
        if key not in args:
            if required:
                raise QMPError("GenericError", f"Parameter '{key}' is missing")
            continue
        value = args[key]
        if not _type_ok(kind, value):
            raise QMPError("GenericError", f"Invalid parameter type for '{key}', "
                                           f"expected: {_TYPE_NAMES.get(kind, kind)}")
        if kind == "[str]":
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise QMPError("GenericError", f"Invalid parameter type for "
                                                   f"'{key}[{i}]', expected: string")


def _machine(qmp):
    if qmp.machine is None:
        raise QMPError("GenericError", "no machine")
    return qmp.machine


# --- negotiation and queries -----------------------------------------------------------

@register("qmp_capabilities", {"enable": ("[str]", False)})
def _qmp_capabilities(qmp, args):
    return {}       # the monitor handles negotiation itself; this entry lists it


@register("query-version")
def _query_version(qmp, args):
    major, minor, micro = (int(x) for x in QEMU_VERSION_COMPAT.split("."))
    return {"qemu": {"micro": micro, "minor": minor, "major": major},
            "package": f"pysystem {__version__}"}


@register("query-status")
def _query_status(qmp, args):
    m = _machine(qmp)
    state = m.run_state
    return {"status": state, "singlestep": False, "running": state == "running"}


@register("query-commands")
def _query_commands(qmp, args):
    return [{"name": name} for name in COMMANDS]


@register("query-name")
def _query_name(qmp, args):
    name = getattr(qmp.machine, "guest_name", None)
    return {"name": name} if name else {}


@register("query-target")
def _query_target(qmp, args):
    return {"arch": _machine(qmp).arch}


@register("query-cpus-fast")
def _query_cpus_fast(qmp, args):
    m = _machine(qmp)
    target = _query_target(qmp, {})["arch"]
    out = []
    for i, cpu in enumerate(m.cpus):
        path = getattr(cpu, "path", None) if getattr(cpu, "parent", None) is not None else None
        # no "props": QEMU gives them only for boards with CPU topology (not vexpress, malta)
        entry = {"thread-id": os.getpid()}       # one thread runs every CPU
        if path:
            entry["qom-path"] = path
        entry.update({"cpu-index": i, "target": target})      # QEMU's key order
        out.append(entry)
    return out


@register("query-kvm")
def _query_kvm(qmp, args):
    return {"enabled": False, "present": False}


@register("query-chardev")
def _query_chardev(qmp, args):
    out = []
    for c in _machine(qmp).all_chardevs():
        out.append({"frontend-open": bool(c.claimed or c._read is not None),
                    "filename": c.filename(), "label": c.label})
    return out


# --- run control -----------------------------------------------------------------------

@register("stop")
def _stop(qmp, args):
    _machine(qmp).pause()
    return {}


@register("cont")
def _cont(qmp, args):
    m = _machine(qmp)
    m.resume()
    return {}


@register("system_reset")
def _system_reset(qmp, args):
    _machine(qmp).request_reset("host-qmp-system-reset")
    return {}


@register("system_powerdown")
def _system_powerdown(qmp, args):
    m = _machine(qmp)
    m._emit("POWERDOWN")
    fn = getattr(m, "request_powerdown", None)
    if fn is not None:
        fn()
    return {}


@register("quit")
def _quit(qmp, args):
    _machine(qmp).quit()
    return {}


@register("human-monitor-command", {"command-line": ("str", True), "cpu-index": ("int", False)})
def _hmp(qmp, args):
    from .hmp import Monitor
    mon = getattr(qmp, "_hmp", None)
    if mon is None:
        mon = qmp._hmp = Monitor(qmp.machine)
    # QEMU runs each command line in a fresh HMP monitor: its CPU is the first one, or
    # cpu-index, and a `cpu N` inside the command line lasts only for that call.
    index = args.get("cpu-index", 0)
    cpus = qmp.machine.cpus if qmp.machine is not None else []
    if "cpu-index" in args and not 0 <= index < len(cpus):
        raise QMPError("GenericError", "Parameter 'cpu-index' expects a CPU number")
    mon.cpu_index = index
    out = mon.execute(args["command-line"])
    return out.replace("\r\n", "\n").replace("\n", "\r\n")


@register("memsave", {"val": ("int", True), "size": ("int", True),
                      "filename": ("str", True), "cpu-index": ("int", False)})
def _memsave(qmp, args):
    return _save(qmp, args, physical=False)


@register("pmemsave", {"val": ("int", True), "size": ("int", True), "filename": ("str", True)})
def _pmemsave(qmp, args):
    return _save(qmp, args, physical=True)


def _save(qmp, args, physical: bool):
    """memsave/pmemsave with the arguments as values (a file name may hold blanks)."""
    from .hmp import Monitor
    from .hmp_memory import save_memory
    from .hmp_table import MonitorError
    mon = getattr(qmp, "_hmp", None)
    if mon is None:
        mon = qmp._hmp = Monitor(qmp.machine)
    try:
        save_memory(mon, args["val"], args["size"], args["filename"], physical)
    except MonitorError as e:
        raise QMPError("GenericError", str(e)) from None
    return {}


@register("query-block")
def _query_block(qmp, args):
    """The -drive's, shaped as QEMU's BlockInfo; the node name is the drive's id."""
    out = []
    for spec in _machine(qmp).drives:
        name = spec.id or f"{spec.interface}{spec.index}"
        try:
            size = os.path.getsize(spec.file)
        except OSError:
            size = 0
        removable = spec.interface in ("sd", "floppy") or spec.media == "cdrom"
        out.append({
            "device": name, "locked": False, "removable": removable, "type": "unknown",
            "io-status": "ok",
            "inserted": {"file": spec.file, "node-name": name, "ro": bool(spec.readonly),
                         "drv": spec.format, "encrypted": False, "backing_file_depth": 0,
                         "image": {"filename": spec.file, "format": spec.format,
                                   "virtual-size": size}},
        })
    return out


# --- the object tree -------------------------------------------------------------------

def _resolve(qmp, path: str):
    from pysystem.qom import resolve_path
    top = _machine(qmp).root
    if path.startswith("/"):
        obj = resolve_path(path, top)
        if obj is None:
            raise QMPError("DeviceNotFound", f"Device '{path}' not found")
        return obj
    found = [o for o in top.walk() if o.path == "/" + path or o.path.endswith("/" + path)]
    if not found:
        raise QMPError("DeviceNotFound", f"Device '{path}' not found")
    if len(found) > 1:
        raise QMPError("GenericError", f"Path '{path}' does not uniquely identify an object")
    return found[0]


_KIND_NAMES = {"str": "string", "any": "string", "int": "int64"}


def _properties(obj) -> List[Dict[str, str]]:
    out = [{"name": "type", "type": "string"}]
    for name, p in obj.class_properties().items():
        out.append({"name": name, "type": _KIND_NAMES.get(p.kind, p.kind)})
    for name, child in obj.children.items():
        out.append({"name": name, "type": f"child<{child.TYPE}>"})
    return out


def _json_value(value: Any) -> Any:
    from pysystem.qom import Object
    if isinstance(value, Object):
        return value.path
    if value is None or isinstance(value, (bool, int, float, str)):
        return "" if value is None else value
    label = getattr(value, "label", None)
    if isinstance(label, str):
        return label
    return str(value)


@register("qom-list", {"path": ("str", True)})
def _qom_list(qmp, args):
    return _properties(_resolve(qmp, args["path"]))


@register("qom-get", {"path": ("str", True), "property": ("str", True)})
def _qom_get(qmp, args):
    obj = _resolve(qmp, args["path"])
    name = args["property"]
    if name == "type":
        return obj.TYPE
    if name in obj.children:
        return obj.children[name].path
    if name not in obj.class_properties():
        raise QMPError("GenericError", f"Property '{obj.TYPE}.{name}' not found")
    return _json_value(obj.get_prop(name))


@register("qom-set", {"path": ("str", True), "property": ("str", True), "value": ("any", True)})
def _qom_set(qmp, args):
    from pysystem.qom import QOMError
    obj = _resolve(qmp, args["path"])
    name = args["property"]
    if name == "type" or name in obj.children:
        raise QMPError("GenericError", f"Property '{obj.TYPE}.{name}' is not writable")
    if name not in obj.class_properties():
        raise QMPError("GenericError", f"Property '{obj.TYPE}.{name}' not found")
    value = args["value"]
    if isinstance(value, (dict, list)):
        raise QMPError("GenericError", f"Invalid parameter type for '{name}'")
    try:
        obj.set_prop(name, value)
    except QOMError as e:
        raise QMPError("GenericError", str(e).splitlines()[0]) from None
    return {}


def _parent_type(cls) -> str:
    for base in cls.__mro__[1:]:
        name = base.__dict__.get("TYPE")
        if name and name != cls.TYPE:
            return name
    return ""


@register("qom-list-types", {"implements": ("str", False), "abstract": ("bool", False)})
def _qom_list_types(qmp, args):
    from pysystem.qom import QOMError, lookup_type, type_names
    base = args.get("implements", "object")
    try:
        names = type_names(base, include_abstract=args.get("abstract", False))
    except QOMError:
        return []
    out = []
    for name in names:
        cls = lookup_type(name)
        entry = {"name": name}
        parent = _parent_type(cls)
        if parent:
            entry["parent"] = parent
        if cls.ABSTRACT:
            entry["abstract"] = True
        out.append(entry)
    return out


@register("device-list-properties", {"typename": ("str", True)})
def _device_list_properties(qmp, args):
    from pysystem.qom import QOMError, lookup_type
    name = args["typename"]
    try:
        cls = lookup_type(name)
    except QOMError:
        cls = None
    if cls is None:
        raise QMPError("GenericError", f"The device type '{name}' not found")
    if not any(k.__dict__.get("TYPE") == "device" for k in cls.__mro__):
        raise QMPError("GenericError", "Parameter 'typename' expects device type")
    if cls.ABSTRACT:
        raise QMPError("GenericError",
                       "Parameter 'typename' expects a non-abstract device type")
    out = []
    for pname, p in cls.class_properties().items():
        entry = {"name": pname, "type": _KIND_NAMES.get(p.kind, p.kind)}
        if p.doc:
            entry["description"] = p.doc
        if p.default is not None and isinstance(p.default, (bool, int, str)):
            entry["default-value"] = p.default
        out.append(entry)
    return out


# --- ringbuf ---------------------------------------------------------------------------

def _ringbuf(label: str):
    from pysystem.chardev import ChardevError, lookup
    from pysystem.chardev.ringbuf import RingbufChardev
    try:
        chardev = lookup(label)
    except ChardevError:
        raise QMPError("GenericError", f"Chardev '{label}' not found") from None
    if not isinstance(chardev, RingbufChardev):
        raise QMPError("GenericError", f"{label} is not a ringbuf device")
    return chardev


@register("ringbuf-write", {"device": ("str", True), "data": ("str", True),
                            "format": ("str", False)})
def _ringbuf_write(qmp, args):
    chardev = _ringbuf(args["device"])
    data = _decode(args["data"], args.get("format", "utf8"))
    chardev.write(data)
    return {}


@register("ringbuf-read", {"device": ("str", True), "size": ("int", True),
                           "format": ("str", False)})
def _ringbuf_read(qmp, args):
    chardev = _ringbuf(args["device"])
    size = args["size"]
    if size < 0:
        raise QMPError("GenericError", "size must be greater than zero")
    data = chardev.read(size)
    fmt = args.get("format", "utf8")
    if fmt == "base64":
        return base64.b64encode(data).decode()
    if fmt != "utf8":
        raise QMPError("GenericError", f"Parameter 'format' does not accept value '{fmt}'")
    return data.decode("utf-8", "replace").replace("\ufffd", "\\uFFFD")


def _decode(data: str, fmt: str) -> bytes:
    if fmt == "base64":
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise QMPError("GenericError", "base64 data is invalid") from None
    if fmt != "utf8":
        raise QMPError("GenericError", f"Parameter 'format' does not accept value '{fmt}'")
    return data.encode()


# --- jobs: snapshot-save / -load / -delete ---------------------------------------------

class Job:
    def __init__(self, job_id: str, kind: str, work: Callable[[], None]):
        self.id, self.type, self.work = job_id, kind, work
        self.status = "created"
        self.error = None
        self.progress = 0

    def info(self) -> Dict[str, Any]:
        out = {"current-progress": self.progress, "status": self.status,
               "total-progress": 1, "type": self.type, "id": self.id}
        if self.error is not None:
            out["error"] = self.error
        return out


class Jobs:
    """The machine's jobs (shared by every QMP monitor of the machine), and the
    monitors that hear their events (``sinks``: the machine's, no other's)."""

    def __init__(self, machine):
        self.machine = machine
        self.sinks: List[Any] = []      # QMPMonitors: send_event(event, data)
        self.jobs: Dict[str, Job] = {}
        self.queue: List[Job] = []
        self.hooked = False

    def _status(self, job: Job, status: str) -> None:
        job.status = status
        for sink in list(self.sinks):
            sink.send_event("JOB_STATUS_CHANGE", {"status": status, "id": job.id})

    def start(self, job: Job) -> None:
        if job.id in self.jobs:
            raise QMPError("GenericError", f"Job ID '{job.id}' already in use")
        self.jobs[job.id] = job
        self._status(job, "created")
        self._status(job, "running")
        self.queue.append(job)
        loop = getattr(self.machine, "loop", None)
        if loop is not None:
            if not self.hooked:
                loop.add_poll_hook(self.run_pending)
                self.hooked = True
        # without a main loop (tests of the dispatcher) the caller runs run_pending()

    def run_pending(self) -> None:
        while self.queue:
            job = self.queue.pop(0)
            try:
                job.work()
            except Exception as e:  # noqa: BLE001 - SnapshotError and anything else: job error
                job.error = (str(e).strip() or type(e).__name__).splitlines()[0]
            job.progress = 1
            if job.error is None:
                self._status(job, "waiting")
                self._status(job, "pending")
            else:
                self._status(job, "aborting")
            self._status(job, "concluded")

    def dismiss(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            raise QMPError("GenericError", "Job not found")
        if job.status != "concluded":
            raise QMPError("GenericError", f"Job '{job_id}' in state '{job.status}' cannot "
                                           "accept command verb 'dismiss'")
        del self.jobs[job_id]
        self._status(job, "null")


def jobs_of(machine) -> Jobs:
    jobs = getattr(machine, "_qmp_jobs", None) if machine is not None else None
    if jobs is None:
        jobs = Jobs(machine)
        if machine is not None:
            machine._qmp_jobs = jobs
    return jobs


def _snapshot_call(name: str, machine, tag: str):
    def work():
        try:
            from pysystem import snapshot
        except ImportError:
            raise RuntimeError("snapshots are not supported yet") from None
        fn = getattr(snapshot, name, None)
        if fn is None:
            raise RuntimeError(f"snapshot {name} is not supported yet")
        fn(machine, tag)
    return work


@register("snapshot-save", {"job-id": ("str", True), "tag": ("str", True),
                            "vmstate": ("str", True), "devices": ("[str]", True)})
def _snapshot_save(qmp, args):
    m = _machine(qmp)
    job = Job(args["job-id"], "snapshot-save", _snapshot_call("save", m, args["tag"]))
    if not args["devices"]:
        job.work = _fail("At least one device is required for snapshot")
    qmp.jobs.start(job)
    return {}


@register("snapshot-load", {"job-id": ("str", True), "tag": ("str", True),
                            "vmstate": ("str", True), "devices": ("[str]", True)})
def _snapshot_load(qmp, args):
    m = _machine(qmp)
    job = Job(args["job-id"], "snapshot-load", _snapshot_call("load", m, args["tag"]))
    if not args["devices"]:
        job.work = _fail("At least one device is required for snapshot")
    qmp.jobs.start(job)
    return {}


@register("snapshot-delete", {"job-id": ("str", True), "tag": ("str", True),
                              "devices": ("[str]", True)})
def _snapshot_delete(qmp, args):
    m = _machine(qmp)
    job = Job(args["job-id"], "snapshot-delete", _snapshot_call("delete", m, args["tag"]))
    qmp.jobs.start(job)
    return {}


def _fail(message: str):
    def work():
        raise RuntimeError(message)
    return work


@register("query-jobs")
def _query_jobs(qmp, args):
    return [job.info() for job in reversed(list(qmp.jobs.jobs.values()))]   # newest first


@register("job-dismiss", {"id": ("str", True)})
def _job_dismiss(qmp, args):
    qmp.jobs.dismiss(args["id"])
    return {}


@register("job-finalize", {"id": ("str", True)})
def _job_finalize(qmp, args):
    if args["id"] not in qmp.jobs.jobs:
        raise QMPError("GenericError", "Job not found")
    return {}


@register("job-cancel", {"id": ("str", True)})
def _job_cancel(qmp, args):
    job = qmp.jobs.jobs.get(args["id"])
    if job is None:
        raise QMPError("GenericError", "Job not found")
    if job in qmp.jobs.queue:
        qmp.jobs.queue.remove(job)
        job.error = "operation cancelled"
        qmp.jobs._status(job, "aborting")
        qmp.jobs._status(job, "concluded")
    return {}
