"""MIPS Malta Core LV (``-M malta``), as QEMU 7.2 models it; one board, both byte orders.

``pysystem-mipsel`` builds it little-endian, ``pysystem-mips`` big-endian (the
front end calls ``set_arch``; the byte order follows it everywhere: the address
space, the CPU, the FPGA's STATUS register, the flash, the GT-64120's reset value).

Physical memory map::

    0x00000000  RAM, the first 256 MiB (alias "mips_malta_low_preio.ram")
    0x00000000  empty-slot: what the GT-64120 decodes to nothing reads 0 (to 0x1fffffff)
    0x10000000  PCI0 I/O window (the GT's reset place; the boot code moves it to 0x18000000)
    0x12000000  PCI0 memory window 0 (reset; then 0x10000000, 126 MiB)
    0x14000000  GT-64120 registers (reset; the boot code moves them to 0x1be00000)
    0x1e000000  CFI flash "mips_malta.bios", 4 MiB (-drive if=pflash, or if=mtd: below)
    0x1f000000  Malta FPGA (LEDs, ASCII display, SOFTRES, I2C); its CBUS 16550 at +0x900
    0x1fc00000  boot ROM "bios.1fc": a copy of the flash, board ID 0x420 at +0x10
    0x20000000  RAM above 512 MiB (alias "mips_malta_low_postio.ram", -m over 512 MiB)
    0x80000000  all RAM ("mips_malta.ram", up to 2 GiB), where Linux finds its high memory
    0xf2000000  PCI0 memory window 1 (reset; then 0x18200000, 188 MiB)

PCI bus 0 (GT-64120 host bridge at 00.0): PIIX4 at device 10 (ISA bridge 10.0, IDE
10.1, USB UHCI 10.2, power management and SMBus 10.3), pcnet in slot 11, the
Cirrus VGA at the first free slot from 18, ``-device`` PCI devices after it.  INTx
pins go through PIIX4's PIRQ routing to the i8259 pair.

ISA (PIIX4 and the FDC37M817 super-I/O) in the PCI I/O space: i8259 pair (0x20,
0xa0, ELCR 0x4d0/1), i8254 (0x40, IRQ 0), DMA (0x00, 0xc0, pages 0x80), i8042
(0x60/0x64, IRQ 1 and 12), MC146818 (0x70, IRQ 8), 16550A UARTs at 0x3f8 (serial0,
IRQ 4) and 0x2f8 (serial1, IRQ 3); the floppy controller and parallel port are
named unimplemented holes.  IDE on IRQ 14/15, PM's SCI on IRQ 9.

CPU interrupt inputs: the i8259's INT on IP2, the CBUS UART (serial2) on IP4.  The
GT-64120's interrupt-acknowledge register reads the i8259's vector.  Power-off
through PIIX4 PM (SLP_EN) ends the process with status 0; SOFTRES (0x42 to
0x1f000500) and port 0xcf9 reset the board (``-no-reboot``: exit).

Boot (machines/mips_boot.py): ``-kernel`` takes an ELF only; the boot loader QEMU
writes is generated into the flash, the argument table at 0x2000, the initrd below
the top of low RAM.  Without ``-kernel``, ``-bios FILE`` (``-machine firmware=``)
is loaded into the flash, or the flash holds its ``-drive if=pflash`` image (or a
``-drive if=mtd`` image, padded with erased bytes: ``Machine.claim_flash``); on
little-endian the words of either are byte-swapped in memory, as QEMU does (so one
image serves both byte orders), and the CPU starts from reset at 0xbfc00000.
"""
from __future__ import annotations

from typing import Optional, Tuple

from pysystem import net
from pysystem.net.options import split_items
from pysystem.irq import OrGate
from pysystem.loader import LoaderError
from pysystem.machine import Machine, MachineError
from pysystem.memory import AliasRegion, RAMRegion, ROMRegion
from pysystem.qom import Property, QOMError, register
from pysystem.cpu.mips import models as mips_models
from pysystem.devices import (  # noqa: F401  (importing registers the device types)
    cirrus_vga, gt64120, i8042, i8254, i8257, i8259, malta_fpga, mc146818, pcnet,
    pflash_cfi01, piix4, piix4_ide, piix4_pm, piix4_usb, serial_16550, unimplemented,
    virtio_net, virtio_pci)
from pysystem.devices.isa import ISABus

from . import mips_boot

MiB = 1 << 20
RAM_HIGH_BASE = 0x80000000
LOW_RAM_MAX = 256 * MiB
POSTIO_BASE = 512 * MiB
MAX_RAM = 2048 * MiB
FLASH_BASE, FLASH_SIZE = 0x1E000000, 0x400000
BOOT_ROM_BASE, BOOT_ROM_SIZE = mips_boot.RESET_ADDRESS, 0x400000
BIOS_SWAP_LIMIT = 0x3E0000            # QEMU swaps the words of at most this much
BOARD_ID_OFFSET, BOARD_ID = 0x10, 0x420   # Malta board with a CoreLV
FPGA_BASE = 0x1F000000
CBUS_UART_BASE = FPGA_BASE + 0x900
# QEMU 7.2's CPU clock is 320 MHz, but its Count period is a whole 6 ns (166.67 MHz,
# half of 333.33 MHz): Linux reports "CPU frequency 333.33 MHz" there and here.
CPU_CLOCK_HZ = 333333333

# CPU hardware interrupt inputs (0-5 = Cause.IP2-IP7)
CPU_IRQ_I8259 = 0       # IP2
CPU_IRQ_CBUS_UART = 2   # IP4

FLASH_PROPS = {"num-blocks": FLASH_SIZE // 0x10000, "sector-length": 0x10000, "width": 4,
               "device-width": 0, "id0": 0, "id1": 0, "id2": 0, "id3": 0,
               "name": "mips_malta.bios"}

# PCI functions QEMU's Malta has: name, QOM type, (slot, function) or None (first free)
PCI_DEVICES: Tuple[Tuple[str, str, Optional[Tuple[int, int]]], ...] = (
    ("piix4", "piix4-isa", (10, 0)),
    ("ide", "piix4-ide", (10, 1)),
    ("usb", "piix4-usb-uhci", (10, 2)),
    ("pm", "PIIX4_PM", (10, 3)),
    ("pcnet", "pcnet", (11, 0)),
    ("cirrus", "cirrus-vga", None),
)

# -nic model= names that make QEMU's Malta put a virtio-net-pci where pcnet would be
VIRTIO_NET_MODELS = ("virtio-net-pci", "virtio")

# ISA devices: name, QOM type, ports (None: the type's own), ISA IRQs, properties
# (in QEMU's creation order: ``info qtree`` lists the newest first)
ISA_DEVICES = (
    ("pit", "isa-pit", (0x40, None), None, {}),      # QEMU's Malta has no port 0x61
    ("dma1", "i8257", i8257.DMA1_PORTS, (), {}),
    ("dma2", "i8257", i8257.DMA2_PORTS, (), {"dshift": 1}),
    ("rtc", "mc146818rtc", None, None, {}),
    ("parallel", "unimplemented-device", (0x378,), (), {"name": "parallel", "size": 8}),
    ("serial0", "serial-16550a", (0x3F8,), (4,), {}),
    ("serial1", "serial-16550a", (0x2F8,), (3,), {}),
    ("fdc", "unimplemented-device", (0x3F1,), (), {"name": "fdc", "size": 5}),
    ("fdc-dir", "unimplemented-device", (0x3F7,), (), {"name": "fdc", "size": 1}),
    ("i8042", "i8042", None, None, {}),
)
ISA_IRQ_SCI = 9


@register
class Malta(Machine):
    TYPE = "malta-machine"
    NAME = "malta"
    DESC = "MIPS Malta Core LV"
    ARCHES = ("mipsel", "mips")
    IS_DEFAULT = True
    DEFAULT_RAM_SIZE = 128 * MiB
    DEFAULT_CPU = mips_models.DEFAULT
    VALID_CPUS = tuple(mips_models.MODELS)
    MAX_CPUS = 1
    BLOCK_DEFAULT_TYPE = "ide"
    PROPERTIES = Machine.PROPERTIES + (
        Property("firmware", "str", None, "boot ROM image loaded into the flash (-bios)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.dev = {}
        self.kernel_entry: Optional[int] = None

    # --- construction --------------------------------------------------------------------
    def build(self) -> None:
        if self.ram_size > MAX_RAM:
            raise MachineError(f"Too much memory for this machine: {self.ram_size // MiB}MB, "
                               f"maximum {MAX_RAM // MiB}MB")
        be = self.big_endian
        self.cpus = [self._make_cpu()]
        self._build_memory()
        self._build_fpga(be)
        self._build_flash()
        self._build_pci(be)
        self._plug_user_devices()

    def _make_cpu(self):
        cpu = self.make_cpu(0, **{"clock-frequency": CPU_CLOCK_HZ})
        cpu.reset()          # CP0 defined before the memory map changes under it
        return cpu

    def _build_memory(self) -> None:
        sysmem = self.system_memory
        self.ram = RAMRegion(self, "mips_malta.ram", self.ram_size)
        sysmem.add_subregion(RAM_HIGH_BASE, self.ram)
        sysmem.add_subregion(0, AliasRegion(self, "mips_malta_low_preio.ram", self.ram, 0,
                                            min(self.ram_size, LOW_RAM_MAX)))
        if self.ram_size > POSTIO_BASE:
            sysmem.add_subregion(POSTIO_BASE, AliasRegion(
                self, "mips_malta_low_postio.ram", self.ram, POSTIO_BASE,
                self.ram_size - POSTIO_BASE))

    def _build_flash(self) -> None:
        sysmem = self.system_memory
        backend = self.claim_flash(0, FLASH_SIZE)
        props = dict(FLASH_PROPS, **{"big-endian": self.big_endian})
        if backend is not None:
            props["drive"] = backend
        self.flash = self._device("flash", "cfi.pflash01", props, FLASH_BASE)
        self.boot_rom = ROMRegion(self, "bios.1fc", BOOT_ROM_SIZE)
        sysmem.add_subregion(BOOT_ROM_BASE, self.boot_rom)

    def _build_fpga(self, be: bool) -> None:
        fpga = self._device("fpga", "malta-fpga", {"big-endian": be, "ram-size": self.ram_size},
                            None)
        self.system_memory.add_subregion(FPGA_BASE, fpga.mmio[0])
        self.system_memory.add_subregion(FPGA_BASE + 0xA00, fpga.mmio[1])
        fpga.irqs[0].connect(self._reset_line)
        cbus = self._device("cbus-uart", "serial-16550a",
                            {"regshift": 3, "baudbase": 230400, "endianness": "native",
                             "chardev": self.serial_hd(2)}, CBUS_UART_BASE)
        cbus.irqs[0].connect(self.cpus[0].set_irq_line, CPU_IRQ_CBUS_UART)

    def _build_pci(self, be: bool) -> None:
        gt = self.gt = self._device("gt64120", "gt64120", {
            "cpu-little-endian": not be, "system-memory": self.system_memory,
            "dma": self.address_space})
        self.pci_bus = gt.bus
        self.pci_buses = [gt.bus]
        for name, type_name, place in PCI_DEVICES:
            props = {}
            if name == "pm":
                props = {"clock": self.clock, "ram-size": self.ram_size}
            elif name == "usb":
                props = {"clock": self.clock}
            elif name == "pcnet":            # every -nic / -net nic, in order
                self._build_nics(gt.bus)
                continue
            elif name == "cirrus" and getattr(self, "nodefaults", False):
                continue                     # QEMU: -nodefaults makes no default VGA
            dev = self._device(name, type_name, props)
            gt.bus.plug(dev, None if place is None else place[0] << 3 | place[1])
            if name == "piix4":              # its ISA devices come with it, as in QEMU
                self._build_isa()
        piix, pm = self.dev["piix4"], self.dev["pm"]
        gt.bus.set_irq_router(*piix.pirq_router())
        piix.reset_request = self.request_reset
        pm.power_off = self.request_shutdown
        self._attach_ide_drives()
        for n, line in zip((14, 15), self.dev["ide"].irqs):
            line.connect(self.isa_bus.set_irq, n)
        pm.sci.connect(self.isa_bus.set_irq, ISA_IRQ_SCI)

    def _build_nics(self, bus) -> None:
        """QEMU's network_init: each NIC the command line asks for goes on the PCI bus
        in order, the first in slot 11 when it is a pcnet (the board's own), the others
        in the first free slot (before the VGA card takes one); MACs without a
        ``mac=`` are QEMU's defaults in that order."""
        defaults = 0
        for i, spec in enumerate(net.board_nics(self)):
            model = spec.model or "pcnet"
            if model in VIRTIO_NET_MODELS:
                type_name = "virtio-net-pci"
            elif model == "pcnet":
                type_name = "pcnet"
            else:
                raise net.NetError(f"Unsupported NIC model: {model} (this board's are "
                                   "pcnet and virtio-net-pci)")
            spec.claimed = True
            props = spec.props()
            if "mac" not in props:
                props["mac"] = virtio_net.default_mac(defaults)
                defaults += 1
            name = type_name.replace("-pci", "") if i == 0 else f"nic{i}"
            dev = self._device(name, type_name, props)
            dev.clock = self.clock           # the network's timers run in guest time
            bus.plug(dev, 11 << 3 if i == 0 and type_name == "pcnet" else None)
            net.add_nic(self, getattr(dev, "vdev", dev))
        self.nic_defaults = defaults         # -device NICs' default MACs count on

    def _attach_ide_drives(self) -> None:
        ide = self.dev["ide"]
        for index in range(4):
            drive = self.claim_drive("ide", index)
            if drive is not None:
                ide.attach(index, self.open_drive(drive), "cd" if drive.media == "cdrom" else "hd")
            elif index == 2:                 # QEMU's default (empty) CD-ROM: ide1-cd0
                ide.attach(index, None, "cd")

    def _build_isa(self) -> None:
        isa = self.isa_bus = ISABus(io=self.gt.io)   # ISA ports beside the PCI ones, as QEMU
        self.dev["piix4"].isa_bus = isa      # QEMU's isa.0 hangs off PIIX4 function 0
        pic = self.pic = i8259.make_pair()
        self.add_child_device("i8259-slave", pic.slave)
        self.add_child_device("i8259", pic)
        isa.attach(pic)
        isa.attach(pic.slave, ports=i8259.SLAVE_PORTS)
        # each ISA line is the OR of the ISA devices' level and PIIX4's PCI routing
        gates = [OrGate(2, f"isa-irq[{n}]") for n in range(16)]
        for n, gate in enumerate(gates):
            gate.out.connect(pic.set_isa_irq, n)
            self.dev["piix4"].isa_irqs[n].connect(gate.set_input, 1)
        isa.connect_irqs(lambda n, level: gates[n].set_input(0, level))
        self.isa_gates = gates
        pic.irqs[0].connect(self.cpus[0].set_irq_line, CPU_IRQ_I8259)
        self.gt.iack = pic.ack
        for name, type_name, ports, irqs, props in ISA_DEVICES:
            if name.startswith("serial"):
                props = dict(props, chardev=self.serial_hd(int(name[6:])))
            dev = self._device(name, type_name, props)
            dev.reset()
            isa.attach(dev, ports, irqs)

    def _plug_user_devices(self) -> None:
        nics = getattr(self, "nic_defaults", 0)
        specs = {id(spec.device): spec for spec in self.device_specs}
        for name, dev in self.user_devices("pci-device"):
            dev.clock = self.clock
            spec = specs[id(dev)]
            is_nic = isinstance(dev, (virtio_net.VirtIONetPCI, pcnet.PCNet))
            if is_nic and "mac" not in dict(split_items(spec.text)):
                dev.mac = virtio_net.default_mac(nics)
                nics += 1
            dev.realize()
            self.pci_bus.plug(dev)
            self.add_child_device(name, dev)
            if is_nic:
                net.add_nic(self, getattr(dev, "vdev", dev), spec.id or "")

    def _device(self, name: str, type_name: str, props: dict, base: Optional[int] = None):
        try:
            dev = self.add_device(name, type_name, base, props)
        except QOMError as e:
            raise MachineError(f"{name}: {e}") from None
        self.dev[name] = dev
        return dev


    def _reset_line(self, n: int, level: int) -> None:
        if level:
            self.request_reset()

    # --- boot ------------------------------------------------------------------------------
    def check_images(self) -> None:
        """QEMU's Malta reports a missing kernel as an ELF failure (mips_boot.check_elf)."""
        if self.initrd and self.kernel:
            try:
                with open(self.initrd, "rb"):
                    pass
            except OSError:
                raise LoaderError(f"could not load initial ram disk '{self.initrd}'") from None

    @property
    def ram_low_size(self) -> int:
        return min(self.ram_size, LOW_RAM_MAX)

    def load_images(self) -> None:
        flash = self.flash.storage
        be = self.big_endian
        if self.kernel:
            self._load_kernel()
            mips_boot.write_words(flash, mips_boot.bootloader(
                self.kernel_entry, self.ram_low_size, be), be)
        elif self.flash.drive is not None:
            # QEMU swaps the words of a pflash image in memory too (the image keeps its bytes)
            if not be:
                flash[:BIOS_SWAP_LIMIT] = mips_boot.swap_words(bytes(flash[:BIOS_SWAP_LIMIT]),
                                                               BIOS_SWAP_LIMIT)
        elif self.firmware:
            self._load_firmware(flash)
        rom = self.boot_rom.data
        rom[:BOOT_ROM_SIZE] = bytes(flash[:BOOT_ROM_SIZE])
        mips_boot.write_words(rom, [(BOARD_ID_OFFSET, BOARD_ID)], be)

    def _load_kernel(self) -> None:
        from pysystem import loader
        be = self.big_endian
        kernel = mips_boot.load_kernel(self.kernel, self.address_space, be)
        self.kernel_entry = kernel.entry
        initrd = None
        if self.initrd:
            data = loader.read_image(self.initrd, "initrd")
            if data:
                offset = mips_boot.initrd_offset(self.ram_low_size, len(data))
                if kernel.high >= offset:
                    raise LoaderError(f"memory too small for initial ram disk '{self.initrd}'")
                loader.add_rom(self.initrd, offset, data, self.address_space)
                initrd = (offset, len(data))
        prom = mips_boot.prom_table(self.kernel, self.append or "", initrd, self.ram_low_size,
                                    self.ram_size, be)
        loader.add_rom("prom", mips_boot.ENVP_PADDR, prom, self.address_space)

    def _load_firmware(self, flash) -> None:
        try:
            with open(self.firmware, "rb") as f:
                data = f.read(FLASH_SIZE + 1)
        except OSError:
            data = None
        if data is None or len(data) > FLASH_SIZE:
            raise LoaderError(f"Could not load MIPS bios '{self.firmware}'")
        if not self.big_endian:
            data = mips_boot.swap_words(data, BIOS_SWAP_LIMIT)
        flash[:len(data)] = data

    def reset_cpus(self) -> None:
        for cpu in self.cpus:
            cpu.reset()
            if self.kernel:      # QEMU's main_cpu_reset: the boot loader runs with ERL clear
                old = cpu.cp0.status
                cpu.cp0.status = old & ~(1 << 2)
                cpu.cp0_status_written(old)
