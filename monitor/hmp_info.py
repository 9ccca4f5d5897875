"""``info`` commands of HMP, in QEMU 7.2's formats.

version, status, registers [-a|vcpu], cpus, mtree [-f][-d], qtree, qom-tree
[path], roms, irq, pic, chardev, block.  ``info irq`` and ``info pic`` print
nothing on vexpress-a9, as QEMU 7.2 does there (its GIC provides no
interrupt statistics or PIC dump).  ``info registers`` prints what the CPU
gives (``registers_text()``: QEMU's layout for ARM, with the PSR's security
state, the VFP registers and FPSCR).
"""
from __future__ import annotations

import threading
from typing import List

from pysystem import QEMU_VERSION_COMPAT, __version__

from .hmp_table import INFO_COMMANDS, COMMANDS, MonitorError, UsageError, command, find, info_command


@command("info", "[subcommand]", "show various information about the system state",
         raw=True, args=("info",))
def _info(mon, rest: str) -> str:
    from .hmp_table import split_args, split_name
    name, sub = split_name(rest)
    if not name:
        return "\n".join(c.help_line("info ") for c in sorted(INFO_COMMANDS, key=lambda c: c.name))
    cmd = find(INFO_COMMANDS, name)
    if cmd is None:
        return f"unknown command: 'info {name}'"
    if cmd.raw:
        return cmd.handler(mon, sub)
    args = split_args(sub)
    cmd.check_args(args, "info ")
    return cmd.handler(mon, args)


@command("help|?", "[cmd]", "show the help", args=("command",))
def _help(mon, args: List[str]) -> str:
    if not args:
        return "\n".join(c.help_line() for c in sorted(COMMANDS, key=lambda c: c.name))
    if args[0] == "info":
        if len(args) > 1:
            cmd = find(INFO_COMMANDS, args[1])
            if cmd is None:
                return f"unknown command: 'info {args[1]}'"
            return cmd.help_line("info ")
        return "\n".join(c.help_line("info ") for c in sorted(INFO_COMMANDS, key=lambda c: c.name))
    if args[0] == "log":
        from pysystem import log
        return log.help_text()
    cmd = find(COMMANDS, args[0])
    if cmd is None:
        return f"unknown command: '{args[0]}'"
    return cmd.help_line()


_STATES = {"running": "running", "paused": "paused", "prelaunch": "paused (prelaunch)",
           "shutdown": "paused (shutdown)", "debug": "paused (debug)"}


@info_command("status", "", "show the current VM status (running|paused)")
def _info_status(mon, args: List[str]) -> str:
    state = mon.need_machine().run_state
    return f"VM status: {_STATES.get(state, state)}"


@info_command("version", "", "show the version of QEMU")
def _info_version(mon, args: List[str]) -> str:
    return f"{__version__} (pysystem, QEMU {QEMU_VERSION_COMPAT} compatible)"


@info_command("mtree", "[-f][-d][-o][-D]",
              "show memory tree (-f: dump flat view for address spaces;-d: dump dispatch tree, "
              "valid with -f only);-o: dump region owners/parents;-D: dump disabled regions")
def _info_mtree(mon, args: List[str]) -> str:
    """QEMU's flags; -d (the dispatch tree) and -o (owners) add nothing here."""
    from pysystem.memory import mtree_text
    flags = set()
    for a in args:
        if not a.startswith("-") or len(a) < 2:
            raise UsageError("info mtree", "mtree: extraneous characters at the end of line")
        for c in a[1:]:
            if c not in "fdoD":
                raise UsageError("info mtree", f"mtree: unsupported option -{c}")
            flags.add(c)
    space = getattr(mon.machine, "address_space", None)
    spaces = [space] if space is not None else []     # this machine's, not every live one
    return mtree_text(spaces, flatview="f" in flags, disabled="D" in flags)


@info_command("qom-tree", "[path]", "show QOM composition tree", args=("qom-path",))
def _info_qom_tree(mon, args: List[str]) -> str:
    from pysystem.qom import resolve_path
    path = args[0] if args else "/machine"
    top = resolve_path(path, mon.need_machine().root)
    if top is None:
        raise MonitorError(f"Path '{path}' could not be resolved")
    lines: List[str] = []

    def walk(obj, depth: int) -> None:
        lines.append(f"{'  ' * depth}/{obj.name or ''} ({obj.TYPE})")
        for name in sorted(obj.children):
            walk(obj.children[name], depth + 1)
    walk(top, 0)
    return "\n".join(lines)


@info_command("chardev", "", "show the character devices")
def _info_chardev(mon, args: List[str]) -> str:
    return "\n".join(f"{c.label}: filename={c.filename()}"
                     for c in mon.need_machine().all_chardevs())


@info_command("registers", "[-a|vcpu]",
              "show the cpu registers (-a: show register info for all cpus; vcpu: specific "
              "vCPU to query; show the current CPU's registers if no argument is specified)")
def _info_registers(mon, args: List[str]) -> str:
    cpus = mon.need_machine().cpus
    if not cpus:
        raise MonitorError("No CPU available")
    if len(args) > 1:
        raise UsageError("info registers", "info registers: extraneous characters at the end of line")
    if not args:
        chosen = [mon.cpu_index if mon.cpu_index < len(cpus) else 0]
    elif args[0] == "-a":
        chosen = list(range(len(cpus)))
    elif args[0].startswith("-"):
        raise UsageError("info registers", f"registers: unsupported option {args[0]}")
    else:
        try:
            n = int(args[0], 0)
        except ValueError:
            raise UsageError("info registers", f"invalid char '{args[0][0]}' in expression") from None
        if not 0 <= n < len(cpus):
            return f"CPU#{n} not available"
        chosen = [n]
    return "".join(f"\nCPU#{i}\n{cpus[i].registers_text()}\n" for i in chosen)


@info_command("cpus", "", "show infos for each CPU")
def _info_cpus(mon, args: List[str]) -> str:
    cpus = mon.need_machine().cpus
    tid = threading.get_native_id() if hasattr(threading, "get_native_id") else 0
    cur = mon.cpu_index if mon.cpu_index < len(cpus) else 0
    return "".join(f"{'*' if i == cur else ' '} CPU #{i}: thread_id={tid}\n"
                   for i in range(len(cpus)))


@info_command("history", "", "show the command line history")
def _info_history(mon, args: List[str]) -> str:
    return "".join(f"{i}: '{line}'\n" for i, line in enumerate(mon.history))


@info_command("roms", "", "show roms")
def _info_roms(mon, args: List[str]) -> str:
    return "".join(f"addr={r.addr:016x} size=0x{r.romsize:06x} mem={'rom' if r.isrom else 'ram'} "
                   f"name=\"{r.name}\"\n" for r in mon.need_machine().roms())


@info_command("irq", "", "show the interrupts statistics (if available)")
def _info_irq(mon, args: List[str]) -> str:
    return ""


@info_command("pic", "", "show PIC state")
def _info_pic(mon, args: List[str]) -> str:
    pic = getattr(mon.machine, "pic", None)       # a board's i8259 master (Malta)
    if pic is None:
        return ""
    from pysystem.devices.i8259 import info_pic_text
    return info_pic_text(pic).rstrip("\n")


def _drive_name(spec) -> str:
    if spec.id:
        return spec.id
    return f"{spec.interface}{spec.index}"


def _attached_to(machine, backend) -> str:
    if backend is None:
        return ""
    for obj in machine.walk():
        for attr in ("drive", "blk"):
            if getattr(obj, attr, None) is backend and obj is not machine:
                return obj.path
    return ""


@info_command("block", "[-n] [-v] [device]",
              "show info of one block device or all block devices (-n: show named nodes; "
              "-v: show details)")
def _info_block(mon, args: List[str]) -> str:
    machine = mon.need_machine()
    want = [a for a in args if not a.startswith("-")]
    out = []
    for spec in machine.drives:
        name = _drive_name(spec)
        if want and name != want[0]:
            continue
        removable = spec.interface in ("sd", "floppy") or spec.media == "cdrom"
        lines = [f"{name}: {spec.file} ({spec.format}{', read-only' if spec.readonly else ''})"]
        where = _attached_to(machine, spec.backend)
        if where:
            lines.append(f"    Attached to:      {where}")
        if removable:
            lines.append("    Removable device: not locked, tray closed")
        snapshot = spec.snapshot or machine.snapshot
        lines.append("    Cache mode:       writeback" + (", ignore flushes" if snapshot else ""))
        if snapshot:
            lines.append(f"    Backing file:     {spec.file} (chain depth: 1)")
        out.append("\n".join(lines) + "\n")
    if want and not out:
        raise MonitorError(f"Device '{want[0]}' not found")
    return "\n".join(out)


# --- info qtree ---------------------------------------------------------------------------

def _prop_text(prop, value, machine=None) -> str:
    kind = prop.kind
    if kind == "any" and value is not None and machine is not None:
        for spec in machine.drives:
            if spec.backend is value:
                return f'"{_drive_name(spec)}"'

    if value is None:
        return '""'
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("int", "uint8", "uint16", "uint32", "uint64", "size") and isinstance(value, int):
        return f"{value} (0x{value & 0xFFFFFFFFFFFFFFFF:x})"
    if kind.startswith("link<"):
        return f'"{getattr(value, "path", value)}"'
    if kind == "any":
        label = getattr(value, "label", None) or getattr(value, "id", None)
        return f'"{label}"' if isinstance(label, str) else '""'
    return f'"{value}"'


def _region_addr(machine, region) -> int:
    """Where a sysbus region is mapped in system memory; -1 (QEMU's "unmapped") if it is
    not mapped there directly (e.g. inside a container of another device)."""
    if region.container is not None and region.container is machine.system_memory:
        return region.addr
    return -1


def _buses(dev, all_devs):
    """(bus name, bus type, devices) hanging off ``dev``: an ``I2CBus`` attribute
    (``bus: i2c``/``type i2c-bus``), a virtio PCI proxy's ``virtio-bus``, or devices that are QOM children of a sysbus device
    without being sysbus devices themselves (``sd-card`` under ``pl181``)."""
    from pysystem.pci import PCIBus, PCIDevice
    from pysystem.qdev import Device, SysBusDevice
    out = []
    for value in vars(dev).values():
        devices = getattr(value, "devices", None)
        if type(value).__name__ == "I2CBus" and isinstance(devices, dict):
            out.append((value.name, "i2c-bus", [devices[a] for a in sorted(devices, reverse=True)]))
        elif isinstance(value, PCIBus) and not isinstance(dev, PCIDevice):
            # a host bridge's bus: QEMU lists the newest (highest devfn) function first
            out.append(("pci", "PCI", [d for d in reversed(value.functions()) if d in all_devs]))
        elif type(value).__name__ == "ISABus" and isinstance(devices, list):
            out.append(("isa.0", "ISA", [d for d in reversed(devices) if d in all_devs]))
    if dev.TYPE == "virtio-mmio":
        # QEMU numbers the transports' buses in creation order; the plugged device sits there
        n = [d for d in all_devs if d.TYPE == "virtio-mmio"].index(dev)
        vdev = getattr(dev, "vdev", None)
        out.append((f"virtio-mmio-bus.{n}", "virtio-mmio-bus",
                    [vdev] if vdev is not None and vdev in all_devs else []))
    if isinstance(dev, PCIDevice) and getattr(dev, "VDEV_TYPE", None) is not None:
        # a virtio PCI proxy: its virtio device on the proxy's own bus, as QEMU shows it
        vdev = getattr(dev, "vdev", None)
        out.append(("virtio-bus", "virtio-pci-bus", [vdev] if vdev is not None else []))
    listed = set(id(k) for _, _, ks in out for k in ks)
    kids = [c for c in dev.children.values() if isinstance(c, Device)
            and not isinstance(c, SysBusDevice) and c in all_devs and id(c) not in listed]
    if kids and isinstance(dev, SysBusDevice):
        out.append((f"{dev.TYPE}-bus" if dev.TYPE != "pl181" else "sd-bus",
                    f"{dev.TYPE}-bus", kids))
    return out


def _pci_lines(dev, pad: str) -> List[str]:
    """QEMU's summary of a PCI function (pcibus_dev_print): class, address, ids, BARs."""
    from pysystem.pci import BAR_UNMAPPED, PCIDevice
    if not isinstance(dev, PCIDevice) or getattr(dev, "devfn", None) is None:
        return []
    from .hmp_pci import CLASS_DESC
    cls = dev.cfg(0x0A, 2)
    desc = CLASS_DESC.get(cls, f"Class {cls:04x}")
    out = [f"{pad}  class {desc}, addr 00:{dev.devfn >> 3:02x}.{dev.devfn & 7}, pci id "
           f"{dev.cfg(0, 2):04x}:{dev.cfg(2, 2):04x} (sub {dev.cfg(0x2C, 2):04x}:"
           f"{dev.cfg(0x2E, 2):04x})"]
    for bar in sorted(dev.BARS, key=lambda b: b.index):
        addr = dev.bar_addr[bar.index]
        last = addr + bar.size - 1
        kind = "i/o" if bar.kind == "io" else "mem"
        out.append(f"{pad}  bar {bar.index}: {kind} at 0x{addr:x} [0x{last & BAR_UNMAPPED:x}]")
    return out


def _dev_lines(machine, dev, depth: int, all_devs, placed, on_isa: bool = False) -> List[str]:
    from pysystem.pci import PCIDevice
    from pysystem.qdev import SysBusDevice
    pad = "  " * depth
    out = [f'{pad}dev: {dev.TYPE}, id "{dev.id or ""}"']
    if isinstance(dev, SysBusDevice) and dev.irqs:
        out.append(f'{pad}  gpio-out "sysbus-irq" {len(dev.irqs)}')
    for prop in type(dev).class_properties().values():
        try:
            value = getattr(dev, prop.attr)
        except AttributeError:
            continue
        if prop.name == "addr" and isinstance(dev, PCIDevice) and getattr(dev, "devfn", None) is not None:
            out.append(f"{pad}  addr = {dev.devfn >> 3:02x}.{dev.devfn & 7}")
            continue
        out.append(f"{pad}  {prop.name} = {_prop_text(prop, value, machine)}")
    if isinstance(dev, SysBusDevice) and not on_isa:
        for region in dev.mmio:
            addr = _region_addr(machine, region)
            out.append(f"{pad}  mmio {addr & 0xFFFFFFFFFFFFFFFF:016x}/{region.size:016x}")
    out.extend(_pci_lines(dev, pad))
    for name, kind, kids in _buses(dev, all_devs):
        out.append(f"{pad}  bus: {name}")
        out.append(f"{pad}    type {kind}")
        for kid in kids:
            placed.add(id(kid))
            out.extend(_dev_lines(machine, kid, depth + 2, all_devs, placed, kind == "ISA"))
    return out


def qtree_text(machine) -> str:
    """``info qtree``: QEMU's layout, built from the QOM tree (newest device first, as
    QEMU lists them); devices on an I2C bus or an SD bus are nested under it."""
    from pysystem.qdev import Device
    devs = [o for o in machine.walk() if isinstance(o, Device) and o not in machine.cpus]
    placed: set = set()
    for dev in devs:
        for _, _, kids in _buses(dev, devs):
            placed.update(id(k) for k in kids)
    out = ["bus: main-system-bus", "  type System"]
    for dev in reversed(devs):
        if id(dev) not in placed:
            out.extend(_dev_lines(machine, dev, 1, devs, set()))
    return "\n".join(out)


@info_command("qtree", "", "show device tree")
def _info_qtree(mon, args: List[str]) -> str:
    return qtree_text(mon.need_machine())
