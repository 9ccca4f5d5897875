"""The PCI bus: devices with a declared configuration space, BARs, INTx routing.

A ``PCIDevice`` subclass declares, as class data:

* its identity: ``VENDOR_ID``, ``DEVICE_ID``, ``REVISION``, ``CLASS_CODE`` (24 bits:
  base class, sub-class, programming interface), ``HEADER_TYPE``, ``SUBSYSTEM``
  ((vendor, id); QEMU's default 1af4:1100 unless a device says otherwise),
  ``INTERRUPT_PIN`` (0 none, 1..4 INTA..INTD), ``STATUS`` (reset value);
* ``BARS``: ``Bar(index, size, "io" | "mem", prefetch=False)``; index 6 is the
  expansion ROM.  ``realize()`` gives each declared BAR its MemoryRegion with
  ``self.init_bar(index, region)`` (a BAR without a region is a definition error);
* ``CONFIG``: further configuration registers, ``CfgReg(name, offset, width, reset,
  wmask, on_write)``: the reset value, which bits the guest may write (default:
  QEMU's, all bits from 0x40 up) and a method run after a guest write touched it.

Config space is one 256-byte ``config`` state field; ``wmask``/``w1cmask`` come from
the declarations (QEMU's generic masks: COMMAND 0x0507, cache line size, interrupt
line, BARs as sized, STATUS error bits write-one-to-clear).  A write to COMMAND, a
BAR or the ROM BAR remaps the BARs in the bus's ``mem``/``io`` containers exactly
as QEMU's pci_update_mappings decides (I/O needs COMMAND.IO, memory COMMAND.MEMORY,
the ROM its enable bit; address 0 and wrapping ranges stay unmapped).

``PCIBus(name, mem, io, dma=None, devfn_min=0)``: ``plug(dev, devfn=None)`` places a
device (``None``: its ``addr`` property, else the first free slot from
``devfn_min``), ``config_read(addr, size)``/``config_write(addr, value, size)``
take QEMU's CONFIG_ADDRESS layout (bus 16-23, devfn 8-15, register 0-7); only bus
0 exists and empty functions read as all ones.  Lifecycle: construct, realize, plug,
reset (a host bridge plugs its own function in its realize).  ``dma`` is the
AddressSpace bus masters use (PCI address = CPU physical address on Malta).

INTx: a device calls ``self.set_irq(level)``; the bus maps (device, pin) to one of
``nirq`` lines with the function its bridge gave ``set_irq_router(map_irq, set_irq,
nirq)`` (QEMU pci_bus_irqs) and keeps a count of raised pins per line, so shared
lines fan in: ``set_irq(line, level)`` is called when a line's level changes.
COMMAND.INTX_DISABLE masks a device's pin; STATUS.INTERRUPT shows its level.

Wiring QEMU 7.2's Malta PCI side (each function realized before it is plugged; reset
after; ``system`` the board's root region, ``mem`` its AddressSpace, ``isa_bus`` the
ISA bus of devices/isa.py, ``pic`` the i8259 pair):

    gt = GT64120(**{"system-memory": system, "cpu-little-endian": not big_endian,
                    "dma": mem})                          # ISD at 0x14000000, windows
    gt.realize(); gt.iack = pic.ack                       # PCI_0 IACK -> i8259 vector
    piix4 = PIIX4(); piix4.realize(); gt.bus.plug(piix4, 10 << 3)
    gt.bus.set_irq_router(*piix4.pirq_router())          # INTx -> PIRQA-D -> ISA IRQ
    for n in range(16): piix4.isa_irqs[n].connect(isa_bus.set_irq, n)  # PIRQ targets;
    #   a line only drives when a PIRQ is routed to it (10, 11 by default); where an ISA
    #   device shares it, put an irq.OrGate in front of set_irq (QEMU just lets the last
    #   writer win)
    piix4.isa_io.add_subregion(0, isa_bus.io)            # ISA ports under the I/O window
    piix4.reset_request = machine.request_reset           # port 0xcf9
    ide = PIIX4IDE(); ide.realize(); ide.attach(0, backend, "hd"); ide.attach(2, None, "cd")
    gt.bus.plug(ide, 10 << 3 | 1)
    ide.irqs[0].connect(isa_bus.set_irq, 14); ide.irqs[1].connect(isa_bus.set_irq, 15)
    usb = PIIX4USB(clock=clock); ...plug(usb, 10 << 3 | 2)
    pm = PIIX4PM(clock=clock, **{"ram-size": ram}); ...plug(pm, 10 << 3 | 3)
    pm.power_off = machine.request_shutdown; pm.sci.connect(isa_bus.set_irq, 9)
    PCNet() at 11 << 3, CirrusVGA() at 18 << 3; -device functions: gt.bus.plug(dev)

Capabilities are plain config registers a device declares (with wmask 0, as QEMU's
pci_add_capability leaves them).  Not modelled: PCI-PCI bridges and buses other than
0, MSI/MSI-X, parity/SERR signalling.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Tuple

from . import log
from .qdev import Device
from .qom import Field, Property, QOMError, register

__all__ = ["Bar", "CfgReg", "PCIDevice", "PCIBus", "parse_devfn", "BAR_UNMAPPED",
           "MAPPING_PRIORITY", "PCI_COMMAND", "PCI_STATUS", "CMD_IO", "CMD_MEMORY", "CMD_MASTER",
           "CMD_INTX_DISABLE", "CONFIG_SIZE"]

CONFIG_SIZE = 256
BAR_UNMAPPED = (1 << 64) - 1          # QEMU's PCI_BAR_UNMAPPED, as `info pci` prints it

PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_COMMAND, PCI_STATUS = 0x00, 0x02, 0x04, 0x06
PCI_REVISION_ID, PCI_CLASS_PROG, PCI_CACHE_LINE_SIZE, PCI_HEADER_TYPE = 0x08, 0x09, 0x0C, 0x0E
PCI_BASE_ADDRESS_0, PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_ID = 0x10, 0x2C, 0x2E
PCI_ROM_ADDRESS, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN = 0x30, 0x3C, 0x3D
CMD_IO, CMD_MEMORY, CMD_MASTER, CMD_SERR, CMD_INTX_DISABLE = 0x1, 0x2, 0x4, 0x100, 0x400
STATUS_INTERRUPT = 0x08
# STATUS bits that are write-one-to-clear (QEMU pci_init_w1cmask)
STATUS_W1C = 0x8000 | 0x4000 | 0x2000 | 0x1000 | 0x0800 | 0x0100
ROM_SLOT = 6
# BARs and the fixed-port regions functions place themselves (legacy IDE, VGA, PM) sit
# at this priority in the bus's spaces: above an ISA bus container mapped over the whole
# I/O space at priority 0, whose background of unassigned ports would hide them.
MAPPING_PRIORITY = 1
QEMU_SUBSYSTEM = (0x1AF4, 0x1100)


class Bar:
    """One base address register: ``index`` 0-5, or 6 for the expansion ROM; a 64-bit
    memory BAR (``mem64``) takes the next register for its high half."""

    __slots__ = ("index", "size", "kind", "prefetch", "mem64")

    def __init__(self, index: int, size: int, kind: str = "mem", prefetch: bool = False,
                 mem64: bool = False):
        if kind not in ("io", "mem"):
            raise ValueError(f"BAR{index}: kind must be io or mem")
        if size < 4 or size & (size - 1):
            raise ValueError(f"BAR{index}: size must be a power of two of at least 4")
        if index == ROM_SLOT and kind != "mem":
            raise ValueError("the expansion ROM BAR is a memory BAR")
        if mem64 and (kind != "mem" or index >= 5):
            raise ValueError(f"BAR{index}: only memory BARs 0-4 can be 64-bit")
        self.index, self.size, self.kind, self.prefetch = index, size, kind, prefetch
        self.mem64 = mem64

    @property
    def offset(self) -> int:
        return PCI_ROM_ADDRESS if self.index == ROM_SLOT else PCI_BASE_ADDRESS_0 + 4 * self.index

    @property
    def type_bits(self) -> int:
        """The low bits the register reads back: I/O bit, prefetchable bit."""
        if self.index == ROM_SLOT:
            return 0
        if self.kind == "io":
            return 1
        return (0x8 if self.prefetch else 0) | (0x4 if self.mem64 else 0)

    @property
    def wmask(self) -> int:
        mask = ~(self.size - 1) & 0xFFFFFFFF
        return mask | 1 if self.index == ROM_SLOT else mask


class CfgReg:
    """A device-specific configuration register (see the module docstring)."""

    __slots__ = ("name", "offset", "width", "reset", "wmask", "on_write", "doc")

    def __init__(self, name: str, offset: int, width: int = 1, reset: int = 0,
                 wmask: Optional[int] = None, on_write: Optional[str] = None, doc: str = ""):
        if width not in (1, 2, 4) or not 0 <= offset <= CONFIG_SIZE - width:
            raise ValueError(f"config register {name}: bad offset or width")
        self.name, self.offset, self.width, self.reset = name, offset, width, reset
        self.wmask, self.on_write, self.doc = wmask, on_write, doc


def parse_devfn(text: str) -> int:
    """QEMU's PCI address syntax: ``SLOT`` or ``SLOT.FN`` in hex (``0b.0``, ``12``)."""
    m = re.fullmatch(r"\s*(?:0[xX])?([0-9a-fA-F]{1,2})(?:\.([0-7]))?\s*", str(text))
    if not m:
        raise QOMError(f"Property 'addr' doesn't take value '{text}'")
    slot = int(m.group(1), 16)
    if slot > 31:
        raise QOMError(f"Property 'addr' doesn't take value '{text}'")
    return slot << 3 | int(m.group(2) or 0)


@register
class PCIDevice(Device):
    TYPE = "pci-device"
    ABSTRACT = True

    VENDOR_ID = 0
    DEVICE_ID = 0
    REVISION = 0
    CLASS_CODE = 0
    HEADER_TYPE = 0
    SUBSYSTEM: Optional[Tuple[int, int]] = QEMU_SUBSYSTEM
    INTERRUPT_PIN = 0
    STATUS = 0
    BARS: Tuple[Bar, ...] = ()
    CONFIG: Tuple[CfgReg, ...] = ()

    PROPERTIES = (
        Property("addr", "str", "", "slot[.function] on the bus, in hex (default: first free)"),
        Property("multifunction", "bool", False, "set the multifunction bit of the header type"),
    )
    STATE = (
        Field("config", f"u8[{CONFIG_SIZE}]", 0, "the 256-byte configuration space"),
        Field("intx_level", "u8", 0, "the level the device drives on its INTx pin"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.bus: Optional["PCIBus"] = None
        self.devfn: Optional[int] = None
        self.bar_regions: Dict[int, object] = {}
        self.bar_addr: Dict[int, int] = {b.index: BAR_UNMAPPED for b in self.BARS}
        self._masks()
        self.config = bytearray(self._image)
        self.intx_level = 0

    # --- class data -> masks and reset image ------------------------------------------
    @classmethod
    def _check_class(cls) -> None:
        for reg in cls.CONFIG:
            if reg.on_write is not None and not callable(getattr(cls, reg.on_write, None)):
                raise TypeError(f"{cls.__name__}: config register {reg.name} names a "
                                f"missing method {reg.on_write}")

    def _masks(self) -> None:
        cls = type(self)
        cached = cls.__dict__.get("_mask_cache")
        if cached is None:
            cls._check_class()
            wmask = bytearray(CONFIG_SIZE)
            w1c = bytearray(CONFIG_SIZE)
            image = bytearray(CONFIG_SIZE)
            hooks: Dict[int, List[CfgReg]] = {}
            _put(wmask, PCI_COMMAND, 2, CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_SERR
                 | CMD_INTX_DISABLE)
            wmask[PCI_CACHE_LINE_SIZE] = 0xFF
            wmask[PCI_INTERRUPT_LINE] = 0xFF
            _put(w1c, PCI_STATUS, 2, STATUS_W1C)
            for i in range(0x40, CONFIG_SIZE):
                wmask[i] = 0xFF
            _put(image, PCI_VENDOR_ID, 2, cls.VENDOR_ID)
            _put(image, PCI_DEVICE_ID, 2, cls.DEVICE_ID)
            _put(image, PCI_STATUS, 2, cls.STATUS)
            _put(image, PCI_REVISION_ID, 4, cls.REVISION | cls.CLASS_CODE << 8)
            image[PCI_HEADER_TYPE] = cls.HEADER_TYPE
            if cls.SUBSYSTEM is not None:
                _put(image, PCI_SUBSYSTEM_VENDOR_ID, 2, cls.SUBSYSTEM[0])
                _put(image, PCI_SUBSYSTEM_ID, 2, cls.SUBSYSTEM[1])
            image[PCI_INTERRUPT_PIN] = cls.INTERRUPT_PIN
            for bar in cls.BARS:
                _put(wmask, bar.offset, 4, bar.wmask)
                _put(image, bar.offset, 4, bar.type_bits)
                if bar.mem64:
                    _put(wmask, bar.offset + 4, 4, 0xFFFFFFFF)
            for reg in cls.CONFIG:
                _put(image, reg.offset, reg.width, reg.reset)
                if reg.wmask is not None:
                    _put(wmask, reg.offset, reg.width, reg.wmask)
                if reg.on_write is not None:
                    for i in range(reg.offset, reg.offset + reg.width):
                        hooks.setdefault(i, []).append(reg)
            cached = (bytes(wmask), bytes(w1c), bytes(image), hooks)
            cls._mask_cache = cached
        self.wmask, self.w1cmask, self._image, self._hooks = cached

    # --- lifecycle --------------------------------------------------------------------
    def init_bar(self, index: int, region) -> None:
        if index not in self.bar_addr:
            raise QOMError(f"{self.TYPE}: BAR{index} is not declared")
        self.bar_regions[index] = region

    def realize(self) -> None:
        missing = [b.index for b in self.BARS if b.index not in self.bar_regions]
        if missing:
            raise QOMError(f"{self.TYPE}: BAR{missing[0]} has no memory region")
        super().realize()

    def reset(self) -> None:
        super().reset()
        self.config = bytearray(self._image)
        if self.multifunction:
            self.config[PCI_HEADER_TYPE] |= 0x80
        self.device_reset()
        self.update_mappings()
        self._update_intx()

    def device_reset(self) -> None:
        """Device-specific reset, after the config space took its reset image."""

    def plugged(self) -> None:
        """Called once the bus placed the device (``self.bus``/``self.devfn`` set): map
        fixed-address regions (ISA ports) here, with ``map_fixed``."""

    def map_fixed(self, port: int, region, priority: int = 0) -> None:
        """Place ``region`` at a fixed ``port`` of the bus's I/O space (QEMU maps those at
        0, beside the ISA ports; BARs go at MAPPING_PRIORITY)."""
        self.bus.io.add_subregion(port, region, priority=priority)

    def post_load(self) -> None:
        """Re-map the BARs and re-drive the INTx pin from the restored state (which is
        not recomputed: a restored machine continues exactly where it was saved)."""
        self.config = bytearray(self.config)
        self.update_mappings()
        self._drive_intx()

    # --- config space -----------------------------------------------------------------
    def cfg(self, offset: int, width: int = 1) -> int:
        return int.from_bytes(self.config[offset:offset + width], "little")

    def set_cfg(self, offset: int, value: int, width: int = 1) -> None:
        """Device-side store, regardless of wmask (QEMU pci_set_*)."""
        _put(self.config, offset, width, value)

    def config_read(self, offset: int, size: int) -> int:
        return self.cfg(offset, size)

    def config_write(self, offset: int, value: int, size: int) -> None:
        """QEMU pci_default_write_config: wmask, write-one-to-clear, then side effects."""
        config, wmask, w1c = self.config, self.wmask, self.w1cmask
        old_cmd = self.cfg(PCI_COMMAND, 2)
        touched: List[CfgReg] = []
        for i in range(size):
            addr = offset + i
            if addr >= CONFIG_SIZE:
                break
            byte = (value >> (8 * i)) & 0xFF
            wm = wmask[addr]
            config[addr] = (config[addr] & ~wm & 0xFF) | (byte & wm)
            config[addr] &= ~(byte & w1c[addr]) & 0xFF
            for reg in self._hooks.get(addr, ()):
                if reg not in touched:
                    touched.append(reg)
        end = offset + size
        if _overlaps(offset, end, PCI_BASE_ADDRESS_0, 0x28) or \
                _overlaps(offset, end, PCI_ROM_ADDRESS, PCI_ROM_ADDRESS + 4) or \
                _overlaps(offset, end, PCI_COMMAND, PCI_COMMAND + 2):
            self.update_mappings()
        if (old_cmd ^ self.cfg(PCI_COMMAND, 2)) & CMD_INTX_DISABLE:
            self._update_intx()
        for reg in touched:
            getattr(self, reg.on_write)()

    # --- BARs -------------------------------------------------------------------------
    def bar_address(self, bar: Bar) -> int:
        """Where ``bar`` is mapped now, or BAR_UNMAPPED (QEMU pci_bar_address)."""
        cmd = self.cfg(PCI_COMMAND, 2)
        value = self.cfg(bar.offset, 4)
        if bar.kind == "io":
            if not cmd & CMD_IO:
                return BAR_UNMAPPED
            base = value & ~(bar.size - 1) & 0xFFFFFFFF
            last = base + bar.size - 1
            if last <= base or last >= 0xFFFFFFFF or base == 0:
                return BAR_UNMAPPED
            return base
        if not cmd & CMD_MEMORY:
            return BAR_UNMAPPED
        if bar.index == ROM_SLOT and not value & 1:
            return BAR_UNMAPPED
        limit = 0xFFFFFFFF
        if bar.mem64:
            value |= self.cfg(bar.offset + 4, 4) << 32
            limit = BAR_UNMAPPED
        base = value & ~(bar.size - 1) & limit
        last = base + bar.size - 1
        if last <= base or base == 0 or last >= limit:
            return BAR_UNMAPPED
        return base

    def update_mappings(self) -> None:
        if self.bus is None:
            return
        for bar in self.BARS:
            new = self.bar_address(bar)
            old = self.bar_addr[bar.index]
            if new == old:
                continue
            region = self.bar_regions.get(bar.index)
            space = self.bus.io if bar.kind == "io" else self.bus.mem
            if region is None or space is None:
                continue
            if old != BAR_UNMAPPED:
                space.del_subregion(region)
            if new != BAR_UNMAPPED:
                space.add_subregion(new, region, priority=MAPPING_PRIORITY)
            self.bar_addr[bar.index] = new
            log.log("trace", f"{self.TYPE}: BAR{bar.index} "
                             f"{'unmapped' if new == BAR_UNMAPPED else f'at 0x{new:x}'}")

    # --- INTx -------------------------------------------------------------------------
    def set_irq(self, level: int) -> None:
        """Drive this function's INTx pin (QEMU pci_set_irq)."""
        level = 1 if level else 0
        if level != self.intx_level:
            self.intx_level = level
            self._update_intx()

    def _update_intx(self) -> None:
        status = self.cfg(PCI_STATUS, 2) & ~STATUS_INTERRUPT
        if self.intx_level:
            status |= STATUS_INTERRUPT
        self.set_cfg(PCI_STATUS, status, 2)
        self._drive_intx()

    def _drive_intx(self) -> None:
        asserted = self.intx_level and not self.cfg(PCI_COMMAND, 2) & CMD_INTX_DISABLE
        if self.bus is not None:
            self.bus._pin_changed(self, 1 if asserted else 0)

    @property
    def bus_master(self) -> bool:
        return bool(self.cfg(PCI_COMMAND, 2) & CMD_MASTER)

    def dma_read(self, addr: int, n: int) -> bytes:
        return self.bus.dma.read_bytes(addr, n)

    def dma_write(self, addr: int, data: bytes) -> None:
        self.bus.dma.write_bytes(addr, data)

    @classmethod
    def example(cls) -> "PCIDevice":
        obj = cls()
        obj.realize()
        obj.reset()
        return obj


def _put(buf: bytearray, offset: int, width: int, value: int) -> None:
    buf[offset:offset + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


class PCIBus:
    """Bus 0 of a host bridge; see the module docstring."""

    def __init__(self, name: str = "pci.0", mem=None, io=None, dma=None, devfn_min: int = 0):
        self.name = name
        self.mem, self.io, self.dma = mem, io, dma
        self.devfn_min = devfn_min
        self.devices: List[Optional[PCIDevice]] = [None] * 256
        self._map_irq: Optional[Callable[[PCIDevice, int], int]] = None
        self._set_irq: Optional[Callable[[int, int], None]] = None
        self.irq_count: List[int] = []
        self._asserted: Dict[int, int] = {}     # devfn -> line it raised

    # --- placement --------------------------------------------------------------------
    def plug(self, dev: PCIDevice, devfn: Optional[int] = None) -> int:
        """Put ``dev`` at ``devfn`` (or its addr property, or the first free slot)."""
        if devfn is None and dev.addr:
            devfn = parse_devfn(dev.addr)
        if devfn is None:
            for slot_devfn in range(self.devfn_min, 256, 8):
                if all(d is None for d in self.devices[slot_devfn:slot_devfn + 8]):
                    devfn = slot_devfn
                    break
            else:
                raise QOMError(f"PCI: no slot/function available for {dev.TYPE}, "
                               "all in use or reserved")
        if not 0 <= devfn < 256:
            raise QOMError(f"PCI: bad devfn {devfn}")
        if self.devices[devfn] is not None:
            raise QOMError(f"PCI: slot {devfn >> 3} function {devfn & 7} not available for "
                           f"{dev.TYPE}, in use by {self.devices[devfn].TYPE}")
        self.devices[devfn] = dev
        dev.bus, dev.devfn = self, devfn
        dev.addr = f"{devfn >> 3:02x}.{devfn & 7:x}"      # as QEMU's qtree shows it
        dev.update_mappings()
        dev.plugged()
        return devfn

    def functions(self) -> List[PCIDevice]:
        return [d for d in self.devices if d is not None]

    def find(self, devfn: int) -> Optional[PCIDevice]:
        return self.devices[devfn] if 0 <= devfn < 256 else None

    # --- configuration cycles ---------------------------------------------------------
    def _target(self, addr: int) -> Tuple[Optional[PCIDevice], int]:
        bus_num = (addr >> 16) & 0xFF
        if bus_num != 0:
            return None, 0
        return self.devices[(addr >> 8) & 0xFF], addr & 0xFF

    def config_read(self, addr: int, size: int) -> int:
        """A configuration read (QEMU pci_data_read): ``addr`` as CONFIG_ADDRESS lays it out."""
        dev, reg = self._target(addr)
        if dev is None:
            return (1 << (8 * size)) - 1
        size = min(size, CONFIG_SIZE - reg)
        value = dev.config_read(reg, size)
        if "trace" in log.mask:
            log.write(f"pci: config read {dev.TYPE} [0x{reg:02x}] -> 0x{value:x}\n")
        return value

    def config_write(self, addr: int, value: int, size: int) -> None:
        dev, reg = self._target(addr)
        if dev is None:
            return
        if "trace" in log.mask:
            log.write(f"pci: config write {dev.TYPE} [0x{reg:02x}] <- 0x{value:x}\n")
        dev.config_write(reg, value, min(size, CONFIG_SIZE - reg))

    # --- interrupts -------------------------------------------------------------------
    def set_irq_router(self, map_irq: Callable[[PCIDevice, int], int],
                       set_irq: Callable[[int, int], None], nirq: int) -> None:
        """The bridge's routing: ``map_irq(dev, pin 0-3) -> line``, ``set_irq(line, level)``."""
        self._map_irq, self._set_irq = map_irq, set_irq
        self.irq_count = [0] * nirq
        self._asserted.clear()
        for dev in self.functions():
            dev._update_intx()

    def _pin_changed(self, dev: PCIDevice, level: int) -> None:
        if self._map_irq is None:
            return
        held = self._asserted.get(dev.devfn)
        if level and held is None:
            pin = dev.cfg(PCI_INTERRUPT_PIN)
            if not pin:
                log.log("guest_errors", f"{dev.TYPE}: raises INTx without an interrupt pin")
                return
            line = self._map_irq(dev, pin - 1)
            self._asserted[dev.devfn] = line
            self._change(line, +1)
        elif not level and held is not None:
            del self._asserted[dev.devfn]
            self._change(held, -1)

    def _change(self, line: int, delta: int) -> None:
        before = self.irq_count[line]
        self.irq_count[line] = before + delta
        if (before == 0) != (self.irq_count[line] == 0):
            self._set_irq(line, 1 if self.irq_count[line] else 0)

    def irq_level(self, line: int) -> int:
        """Whether any device holds ``line`` (QEMU pci_bus_get_irq_level)."""
        return 1 if self.irq_count[line] else 0
