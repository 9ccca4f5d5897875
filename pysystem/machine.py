"""The machine (board) base type: what a board file subclasses.

A board is a registered subclass of ``Machine`` with class data::

    NAME = "vexpress-a9"            # the -M name
    DESC = "ARM Versatile Express for Cortex-A9"   # the -M help line
    ARCHES = ("arm",)               # binaries that list it: arm, mipsel, mips
    DEFAULT_RAM_SIZE, MAX_RAM_SIZE, DEFAULT_CPU, VALID_CPUS, MAX_CPUS
    IS_DEFAULT = False              # chosen without -M ("(default)" in -M help)
    AVAILABLE = True                # False: listed, but choosing it is an error
    BIG_ENDIAN = False              # the byte order when the front end names none

and implements ``build()`` (create CPUs, memory and devices), optionally
``load_images()`` (kernel/initrd/dtb) and ``reset_cpus()`` (put the boot state
into the CPUs after their reset).

The front end's architecture reaches the board as ``set_arch(arch)`` (before
``realize()``): ``arch`` (``arm``, ``mipsel``, ``mips``: QMP's target) and
``big_endian`` (the system address space's and the CPUs' byte order), so that one board
class serves both byte orders of an architecture.

Lifecycle: the command line constructs it with properties (ram-size, kernel,
initrd, dtb, append, cpu-type, smp, icount-shift, rtc-base, no-reboot,
no-shutdown, snapshot, snapshot-dir), fills ``serial_hds``, ``drives`` and ``device_specs``,
then calls ``realize()`` (clock, system memory, ``build()``, ``load_images()``,
checks that every -drive/-device found a home) and ``reset()``.

What a board gets:
  ``clock`` (VirtualClock), ``cpus`` (it fills the list), ``system_memory`` (the
  root container) and ``address_space`` (its AddressSpace "memory"),
  ``make_cpu(index, **props)`` (a realized CPU of ``cpu_type`` from the CPU factory,
  cpu/models.py, in the board's byte order), ``add_device(name, type, base, props,
  irqs)`` (a device from its table row: realized, in the QOM tree, its first MMIO
  region mapped at ``base``, its IRQ outputs connected to ``irqs``' ``(handler, n)``),
  ``serial_hd(i)`` (QEMU's serial_hd: the chardev for serialN or None),
  ``claim_drive(interface, index)`` -> DriveSpec or None, ``open_drive(spec)`` ->
  block backend, ``claim_flash(index, size)`` -> the backend of NOR flash ``index``
  (``-drive if=pflash``; for flash 0 also ``if=mtd``) or None, ``attach_drive(id,
  share_rw)`` (a -device's drive=), ``user_devices(base_type)`` -> [(name, device)] made
  by ``-device`` (not realized), ``add_child_device(name, dev)`` (puts it in the
  QOM tree: /machine/unattached/NAME, or /machine/peripheral[-anon]/ for
  -device ones), ``warn(msg)``.
What a machine owns (nothing of it is process-wide, so machines can live side by side):
its object tree (``root``: the QOM root whose ``machine`` child it is), its ROMs
(``roms()``: the blobs loaded into its address space, written again at each reset),
its chardevs (``chardevs``: a ``ChardevRegistry``, or None when they were attached
directly), its program name (``program``, for messages) and its log configuration
(``log``: ``-d``/``-D``; made active while it runs).  ``run_for(insns)`` runs it for a
number of guest instructions without host I/O (the embedding API; the command line
uses the main loop).
Requests (from devices, the monitor, signals), acted on by the main loop between
slices: ``request_shutdown()`` (guest power-off: exit status 0, or pause with
-no-shutdown), ``request_reset()`` (guest reboot: system reset, or exit with
-no-reboot), ``pause()``/``resume()`` (monitor stop/cont, -S), ``quit()``.
``run_state`` is QEMU's: prelaunch, running, paused, shutdown.
``add_listener(fn)``: ``fn(event, reason)`` is called with QMP's event names as
they happen: STOP, RESUME, RESET, SHUTDOWN (reason: guest-shutdown,
guest-reset, host-qmp-quit, host-qmp-system-reset, ...).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import loader, log, qom
from .clock import DEFAULT_SHIFT, VirtualClock
from .qdev import Device
from .qom import Container, Object, Property, QOMError, register, type_names, lookup_type

__all__ = ["Machine", "MachineError", "DriveSpec", "DeviceSpec", "machine_classes",
           "find_machine"]


BIG_ENDIAN_ARCHES = ("mips",)   # front ends whose guests are big-endian

INTERFACES = ("none", "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen")


class MachineError(Exception):
    """A machine cannot be built from what the user asked for; one line."""


class DriveSpec:
    """One parsed ``-drive``: the board claims it by interface and index."""

    def __init__(self, file: str, interface: str, index: int, *, id: Optional[str] = None,
                 format: Optional[str] = None, readonly: bool = False, snapshot: bool = False,
                 media: str = "disk", text: str = "", locking: str = "auto"):
        self.file, self.interface, self.index, self.id = file, interface, index, id
        self.format, self.readonly, self.snapshot, self.media = format, readonly, snapshot, media
        self.locking = locking      # QEMU's file.locking: auto, on, off
        self.text = text            # the option as written, for messages
        self.claimed = False
        self.backend = None

    def __repr__(self) -> str:
        return f"<DriveSpec {self.interface}{self.index} {self.file!r}>"


class DeviceSpec:
    """One ``-device``: the object made from it, waiting for its board."""

    def __init__(self, device: Device, text: str, id: Optional[str] = None):
        self.device, self.text, self.id = device, text, id
        self.claimed = False


@register
class Machine(Object):
    TYPE = "machine"
    ABSTRACT = True

    NAME = ""
    DESC = ""
    ARCHES: Tuple[str, ...] = ()
    DEFAULT_RAM_SIZE = 128 << 20
    MAX_RAM_SIZE: Optional[int] = None
    DEFAULT_CPU: Optional[str] = None
    VALID_CPUS: Tuple[str, ...] = ()
    MAX_CPUS = 1
    IS_DEFAULT = False
    AVAILABLE = True
    BIG_ENDIAN = False
    BLOCK_DEFAULT_TYPE = "ide"

    PROPERTIES = (
        Property("ram-size", "size", None, "RAM size in bytes (default: the board's)", fixed=True),
        Property("kernel", "str", None, "kernel image (-kernel)"),
        Property("initrd", "str", None, "initial ram disk (-initrd)"),
        Property("dtb", "str", None, "device tree blob (-dtb)"),
        Property("append", "str", "", "kernel command line (-append)"),
        Property("cpu-type", "str", None, "CPU model (-cpu; default: the board's)",
                 fixed=True),
        Property("smp", "int", 1, "number of CPUs (-smp)", fixed=True),
        Property("icount-shift", "int", DEFAULT_SHIFT, "each instruction takes 2**shift ns"),
        Property("icount-sleep", "bool", False, "an idle guest waits in host time"),
        Property("rtc-base", "str", "utc", "guest wall clock at start: utc, localtime or a date"),
        Property("no-reboot", "bool", False, "exit instead of rebooting"),
        Property("no-shutdown", "bool", False, "stop instead of exiting at guest power-off"),
        Property("snapshot", "bool", False, "write to temporary files instead of disk images"),
        Property("accel", "str", "tcg", "accelerator (only tcg)", choices=("tcg",)),
        Property("snapshot-dir", "str", None, "where savevm keeps snapshots "
                 "(default: IMAGE.pysnap/ beside the first writable disk)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.cpus: List[Any] = []
        self.running_cpu = 0        # index of the CPU that runs now (or ran last)
        self.system_memory = None
        self.address_space = None
        self.serial_hds: List[Any] = []
        self.drives: List[DriveSpec] = []
        self.device_specs: List[DeviceSpec] = []
        self.loop = None
        self.monitors: List[Any] = []
        self.listeners: List[Any] = []
        self.run_state = "prelaunch"
        self.start_paused = False
        self._requests: List[str] = []
        self._anon = 0
        self._unattached = 0
        self.shutdown_reason: Optional[str] = None
        cls = type(self)
        self.arch = cls.ARCHES[0] if cls.ARCHES else ""
        self.big_endian = cls.BIG_ENDIAN
        self.program = "pysystem"
        self.root: Optional[Container] = None
        self.chardevs = None
        self.log = log.Log()                        # its -d/-D
        self.globals: qom.GlobalTable = {}          # its -global defaults

    def set_arch(self, arch: str) -> None:
        """The front end this board runs under (``pysystem-mips``: big-endian)."""
        if type(self).ARCHES and arch not in type(self).ARCHES:
            raise MachineError(f"machine '{type(self).NAME}' does not run on {arch}")
        self.arch = arch
        self.big_endian = arch in BIG_ENDIAN_ARCHES
        self.program = f"pysystem-{arch}"

    # --- the board's hooks ----------------------------------------------------------
    def build(self) -> None:
        """Create CPUs, memory and devices.  Boards implement it."""

    def load_images(self) -> None:
        """Load kernel/initrd/dtb into memory.  Boards implement it."""

    def reset_cpus(self) -> None:
        for cpu in self.cpus:
            cpu.reset()

    # --- construction ---------------------------------------------------------------
    def realize(self) -> None:
        cls = type(self)
        if not cls.AVAILABLE:
            raise MachineError(f"machine '{cls.NAME}' is not implemented yet")
        if self.ram_size is None:
            self.ram_size = cls.DEFAULT_RAM_SIZE
        if cls.MAX_RAM_SIZE is not None and self.ram_size > cls.MAX_RAM_SIZE:
            raise MachineError(f"{cls.NAME}: cannot model more than "
                               f"{_size_text(cls.MAX_RAM_SIZE)} of RAM")
        if self.smp < 1:
            raise MachineError(f"Invalid SMP CPUs {self.smp}")
        if self.smp > cls.MAX_CPUS:
            raise MachineError(f"Invalid SMP CPUs {self.smp}. The max CPUs supported by "
                               f"machine '{cls.NAME}' is {cls.MAX_CPUS}")
        if self.cpu_type is None:
            self.cpu_type = cls.DEFAULT_CPU
        elif cls.VALID_CPUS and self.cpu_type not in cls.VALID_CPUS:
            raise MachineError(f"Invalid CPU model '{self.cpu_type}' for machine '{cls.NAME}' "
                               f"(valid: {', '.join(cls.VALID_CPUS)})")
        self.clock = VirtualClock(shift=self.icount_shift)
        try:
            self.clock.set_rtc_base(self.rtc_base)
        except QOMError as e:
            raise MachineError(str(e)) from None
        from .memory import AddressSpace, ContainerRegion
        self.system_memory = ContainerRegion(self, "system", 1 << 64)
        self.address_space = AddressSpace("memory", self.system_memory, big_endian=self.big_endian)
        if self.root is not None:
            raise MachineError("this machine is built already")
        self.root = Container()
        self.root.add_child("machine", self)
        for name in ("unattached", "peripheral", "peripheral-anon"):
            self.add_child(name, Container())
        self.check_images()
        self.build()
        self.load_images()
        self._check_claims()
        super().realize()

    def check_images(self) -> None:
        """Every -kernel/-initrd/-dtb must be a readable file (QEMU's messages)."""
        for what, path in (("kernel", self.kernel), ("initrd", self.initrd), ("dtb", self.dtb)):
            if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
                if what == "dtb":
                    raise loader.LoaderError(f"Couldn't open dtb file {path}")
                raise loader.LoaderError(f"could not load {what} '{path}'")

    def _check_claims(self) -> None:
        from . import block
        for d in self.drives:
            if d.format is None and d.backend is None:      # unused: info block shows
                try:                                        # what probing finds
                    d.format = block.probe_file(d.file)
                except block.BlockError:
                    pass
            if not d.claimed and d.interface != "none":
                raise MachineError(f"machine type does not support if={d.interface},"
                                   f"index={d.index} (-drive {d.text})")
        for spec in self.device_specs:
            if not spec.claimed:
                raise MachineError(f"-device {spec.text}: no place for a "
                                   f"'{spec.device.TYPE}' on machine '{type(self).NAME}'")

    def serial_hd(self, index: int):
        return self.serial_hds[index] if index < len(self.serial_hds) else None

    def claim_drive(self, interface: str, index: int) -> Optional[DriveSpec]:
        for d in self.drives:
            if d.interface == interface and d.index == index and not d.claimed:
                d.claimed = True
                return d
        return None

    def claim_flash(self, index: int, size: int):
        """The block backend for the board's NOR flash ``index`` of ``size`` bytes, or None.

        ``-drive if=pflash,index=N`` is that flash, and its image must be ``size`` bytes
        (the flash device refuses another size, as QEMU's does).  Neither board has an
        MTD slot, so the boot flash (index 0) also takes ``-drive if=mtd`` (index 0),
        the way pytest-embedded's QEMU plugin passes its firmware (QEMU refuses if=mtd
        on these boards): its image may be smaller than the flash, the rest (from the
        file's end) reads as erased bytes (0xff, ``block.ErasedTail``); a larger one is
        refused."""
        from .block import ErasedTail
        spec = self.claim_drive("pflash", index)
        if spec is not None:
            return self.open_drive(spec)
        spec = self.claim_drive("mtd", 0) if index == 0 else None
        if spec is None:
            return None
        backend = self.open_drive(spec)
        length = backend.size
        if backend.format == "raw" and os.path.isfile(spec.file):
            length = os.path.getsize(spec.file)     # not rounded up to whole sectors
        if length > size:
            raise MachineError(f"-drive {spec.text}: an image of {length} bytes does not "
                               f"fit the boot flash of {size} bytes")
        return backend if length == size else ErasedTail(backend, size, length)

    def find_drive(self, drive_id: str) -> DriveSpec:
        for d in self.drives:
            if d.id == drive_id:
                return d
        raise MachineError(f"Property 'drive' can't find value '{drive_id}'")

    def open_drive(self, spec: DriveSpec, share_rw: bool = False):
        """The drive's backend, opened (and locked as QEMU's devices lock) on first use.
        Lock conflicts read as QEMU's, without the -drive prefix."""
        from . import block
        try:
            return self._backend(spec, share_rw)
        except block.LockError as e:
            raise MachineError(str(e)) from None
        except block.BlockError as e:
            raise MachineError(f"-drive {spec.text}: {e}") from None

    def attach_drive(self, drive_id: str, share_rw: bool = False):
        """A -device's drive=ID: one device per drive, as QEMU's.  A lock conflict is the
        device's error (MachineError); an image that cannot be opened is the -drive's
        (a BlockError naming it, which the -device option does not re-word)."""
        from . import block
        spec = self.find_drive(drive_id)
        if spec.claimed:
            raise MachineError(f"Drive '{drive_id}' is already in use by another device")
        spec.claimed = True
        try:
            return self._backend(spec, share_rw)
        except block.LockError as e:
            raise MachineError(str(e)) from None
        except block.BlockError as e:
            raise block.BlockError(f"-drive {spec.text}: {e}") from None

    def _backend(self, spec: DriveSpec, share_rw: bool):
        from . import block
        if spec.backend is None:
            spec.backend = block.open_drive(spec.file, readonly=spec.readonly,
                                            snapshot=spec.snapshot or self.snapshot,
                                            format=spec.format, locking=spec.locking,
                                            share_rw=share_rw, warn=self.warn_verbatim)
            spec.format = spec.backend.format       # probed: what info block shows
        return spec.backend

    def user_devices(self, base_type: str = "device") -> List[Tuple[str, Device]]:
        """The -device objects that are ``base_type``s, claimed by the caller in order."""
        out = []
        for spec in self.device_specs:
            if not spec.claimed and spec.device.is_a(base_type):
                spec.claimed = True
                out.append((spec.id or spec.device.TYPE, spec.device))
        return out

    def add_child_device(self, name: str, dev: Object) -> Object:
        spec = next((s for s in self.device_specs if s.device is dev), None)
        if spec is not None and spec.id:
            return self.children["peripheral"].add_child(spec.id, dev)
        if spec is not None:
            self._anon += 1
            return self.children["peripheral-anon"].add_child(f"device[{self._anon - 1}]", dev)
        return self.children["unattached"].add_child(name, dev)

    def make_cpu(self, index: int, **props):
        """CPU ``index``: the factory's ``cpu_type`` for this front end, on the board's
        address space, clock and byte order, realized and in the QOM tree."""
        from pysystem.cpu.models import create_cpu
        cpu = create_cpu(self.cpu_type, self.arch, **props)
        cpu.address_space = self.address_space
        cpu.clock = self.clock
        cpu.big_endian = self.big_endian
        cpu.realize()
        self.add_child_device(f"cpu[{index}]", cpu)
        return cpu

    def add_device(self, name: str, type_name: str, base: Optional[int] = None,
                   props: Optional[Dict[str, Any]] = None, irqs=()) -> Device:
        """Create, wire and realize one device of the board's table: ``props`` set, the
        board's clock (and address space, for devices that DMA: a ``memory``
        attribute), in the QOM tree as ``name``, its first MMIO region mapped at
        ``base`` (None: not mapped), its IRQ outputs connected in order to ``irqs``
        (``(handler, n)`` pairs)."""
        from .qom import new_object
        dev = new_object(type_name, **dict(props or {}))
        dev.clock = self.clock
        if hasattr(dev, "memory"):
            dev.memory = self.address_space
        dev.realize()
        self.add_child_device(name, dev)
        if base is not None:
            self.system_memory.add_subregion(base, dev.mmio[0])
        for line, (handler, n) in zip(getattr(dev, "irqs", ()), irqs):
            line.connect(handler, n)
        return dev

    def warn(self, msg: str) -> None:
        sys.stderr.write(f"{self.program}: warning: {msg}\n")

    def warn_verbatim(self, text: str) -> None:
        """A warning printed as it is (QEMU's multi-line block warnings)."""
        sys.stderr.write(text + "\n")

    # --- running --------------------------------------------------------------------
    def add_listener(self, fn) -> None:
        self.listeners.append(fn)

    def _emit(self, event: str, reason: str = "") -> None:
        for fn in list(self.listeners):
            fn(event, reason)

    def reset(self) -> None:
        """System reset: every device in the tree, the ROM blobs, then the CPUs."""
        cpus = set(id(c) for c in self.cpus)
        for obj in self.walk():
            if obj is not self and id(obj) not in cpus and isinstance(obj, Device):
                type(obj).reset(obj)    # through the class: a state field may be called "reset"
        if self.address_space is not None:
            loader.rom_reset(self.address_space)
        self.reset_cpus()

    def all_chardevs(self) -> List[Any]:
        """The machine's chardevs: its registry's, else those attached to its serial ports."""
        if self.chardevs is not None:
            return self.chardevs.all()
        return [c for c in self.serial_hds if c is not None]

    def roms(self) -> List[Any]:
        """The blobs loaded into this machine's memory (``info roms``), by address."""
        return loader.roms(self.address_space) if self.address_space is not None else []

    @contextmanager
    def in_effect(self) -> Iterator["Machine"]:
        """Inside the block the process-level hooks serve this machine: ``pysystem.log``
        writes to its ``-d``/``-D`` log and objects made take its ``-global`` defaults
        (its run, its monitors and the embedding API's calls hold it); what was in
        effect before is again after, so machines in one process stay apart."""
        with log.using(self.log), qom.globals_in_effect(self.globals):
            yield self

    def run_for(self, insns: int) -> int:
        """Run ``insns`` guest instructions (or until a request: shutdown, reset...),
        firing timers, and warping the clock when every CPU waits; no host I/O.
        Returns the instructions run."""
        with self.in_effect():
            return self._run_for(insns)

    def _run_for(self, insns: int) -> int:
        from .main_loop import has_work, run_cpu
        clock = self.clock
        start = clock.icount
        target = start + insns
        while clock.icount < target and not self.has_requests():
            budget = min(clock.insns_until_deadline(self.cpu_slice()), target - clock.icount)
            executed = 0
            for i, cpu in enumerate(self.cpus):
                if has_work(cpu):
                    executed += run_cpu(self, i, cpu, budget)
            clock.run_timers()
            if not executed and not any(has_work(c) for c in self.cpus):
                if not clock.warp_to_next_deadline():
                    break           # idle with no timer: nothing can happen
                clock.run_timers()
        return clock.icount - start

    def current_cpu_index(self) -> int:
        """The CPU making an access now: what per-CPU (banked) devices see."""
        return self.running_cpu

    def cpu_slice(self) -> int:
        """Instructions a CPU runs at most before the next gets its turn (round robin):
        shorter with several CPUs, so that one spinning on another's progress wastes less."""
        from .main_loop import SLICE, SMP_SLICE
        return SLICE if len(self.cpus) <= 1 else SMP_SLICE

    @property
    def running(self) -> bool:
        return self.run_state == "running"

    def start(self) -> None:
        """Leave prelaunch: run, or stay paused under -S."""
        self.run_state = "prelaunch" if self.start_paused else "running"

    def _kick(self) -> None:
        for cpu in self.cpus:
            cpu.exit_request = True

    def request_shutdown(self, reason: str = "guest-shutdown") -> None:
        self._requests.append("shutdown:" + reason)
        self._kick()

    def request_reset(self, reason: str = "guest-reset") -> None:
        self._requests.append("reset:" + reason)
        self._kick()

    def quit(self) -> None:
        self._requests.append("quit:host-qmp-quit")
        self._kick()

    def pause(self, state: str = "paused") -> None:
        """Stop the CPUs; ``state`` "debug": for the gdb stub (QEMU's RUN_STATE_DEBUG)."""
        if self.run_state == "running":
            self.run_state = state
            self._kick()
            self._emit("STOP")

    def resume(self) -> None:
        if self.run_state == "shutdown":
            self.reset()
        if self.run_state in ("paused", "debug", "prelaunch", "shutdown"):
            self.run_state = "running"
            self._emit("RESUME")

    def has_requests(self) -> bool:
        return bool(self._requests)

    def handle_requests(self) -> None:
        """Act on pending requests (the main loop calls this between slices)."""
        while self._requests:
            kind, reason = self._requests.pop(0).split(":", 1)
            if kind == "quit":
                self._emit("SHUTDOWN", reason)
                self._exit(0, reason)
            elif kind == "shutdown" or (kind == "reset" and self.no_reboot):
                self._emit("SHUTDOWN", reason)
                if self.no_shutdown and kind == "shutdown":
                    self.run_state = "shutdown"
                    self.shutdown_reason = reason
                    self._emit("STOP")
                else:
                    self._exit(0, reason)
            elif kind == "reset":
                self.reset()
                self._emit("RESET", reason)

    def _exit(self, status: int, reason: str) -> None:
        self.shutdown_reason = reason
        self._requests.clear()
        if self.loop is not None:
            self.loop.request_exit(status)


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def machine_classes(arch: Optional[str] = None) -> List[type]:
    """Registered boards (for ``arch`` only if given), sorted by name."""
    out = []
    for tname in type_names("machine"):
        cls = lookup_type(tname)
        if cls.NAME and (arch is None or arch in cls.ARCHES):
            out.append(cls)
    return sorted(out, key=lambda c: c.NAME)


def find_machine(name: str, arch: Optional[str] = None) -> Optional[type]:
    """The board called ``name``; an available one wins over a placeholder."""
    found = [c for c in machine_classes(arch) if c.NAME == name]
    found.sort(key=lambda c: not c.AVAILABLE)
    return found[0] if found else None
