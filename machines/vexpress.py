"""ARM Versatile Express for Cortex-A9 (``-M vexpress-a9``), as QEMU 7.2 models it.

Memory map (the motherboard's "legacy" map plus the CoreTile A9x4 daughterboard)::

    0x00000000  vexpress.lowmem: the first 64 MiB of RAM (alias), under the flash alias
    0x10000000  system registers (realview_sysctl)     0x10011000  SP804 timers 0/1  SPI 2
    0x10001000  SP810 system controller                0x10012000  SP804 timers 2/3  SPI 3
    0x10004000  PL041 AACI (audio)          SPI 11     0x10013000  virtio-mmio x4 (0x200 each)  SPI 40-43
    0x10005000  PL181 MMCI (SD card)        SPI 9, 10  0x10016000  SBCon I2C (DVI)
    0x10006000  PL050 KMI keyboard          SPI 12     0x10017000  PL031 RTC          SPI 4
                                                       0x4e000000  LAN9118 Ethernet   SPI 15
    0x10007000  PL050 KMI mouse             SPI 13     0x1001f000  PL111 CLCD         SPI 14
    0x10009000  PL011 UART0-3 (0x1000 each) SPI 5-8    0x10020000  PL111 CLCD (daughterboard) SPI 44
    0x100e4000  SP804 timer (daughterboard) SPI 48     0x1e000000  Cortex-A9 MPCore private region
    0x1e00a000  L2C-310 cache controller               0x40000000  NOR flash 0, 0x44000000 flash 1
    0x48000000  SRAM (32 MiB)                          0x4c000000  video RAM (8 MiB)
    0x60000000  RAM (vexpress.highmem, up to 1 GiB)

SPI n is GIC interrupt 32 + n.  Parts of the real board that are not modelled are
named unimplemented regions (reads as zero, logged under ``-d unimp``).

CPUs (``-smp 1..4``): Cortex-A9 cores 0..n-1, MPIDR 0x80000000 | n (cluster 0), sharing
the private region; its GIC CPU interface, SGI/PPI state, private timer and watchdog are
those of the CPU making the access (``current_cpu``, which the main loop sets while a CPU
runs).  The cores run round-robin in one thread (pysystem/main_loop.py).

Boot: QEMU's ARM protocol (machines/arm_boot.py): a Linux image at 0x60010000 entered
through a stub at 0x60000000, initrd and DTB above (the DTB gets /memory, /chosen and
four virtio_mmio nodes), or ATAGs at 0x60000100 without -dtb; an ELF at its own
addresses, entered directly by every CPU.  With several CPUs a Linux boot also gets
QEMU's secondary stub in SRAM (0x48000000): the other cores enable their GIC CPU
interface and wait in WFI until SYS_FLAGS (0x10000030) holds an address, then jump there
(Linux's vexpress SMP code writes its secondary entry there and sends an SGI).
Without -kernel the CPU starts at 0, in flash 0 (its alias there covers the low RAM
alias): ``-drive if=pflash`` (64 MiB images) or ``-drive if=mtd`` (any size up to
64 MiB, padded with erased bytes: ``Machine.claim_flash``) holds the firmware.
Guest power-off (SYS_CFG_SHUTDOWN) ends the process with status 0; reboot
(SYS_CFG_REBOOT) resets the machine, or exits under ``-no-reboot``.
"""
from __future__ import annotations

from typing import Tuple

from pysystem import loader, net
from pysystem.machine import Machine
from pysystem.memory import AliasRegion, RAMRegion
from pysystem.qom import QOMError, new_object, register
from pysystem.devices import (  # noqa: F401  (importing registers the device types)
    a9mpcore, arm_sbcon_i2c, i2c_ddc, l2x0, lan9118, pflash_cfi01, pl011, pl031, pl041,
    pl050, pl111, pl181, sii9022, sp804, sp810, unimplemented, vexpress_sysctl, virtio_blk,
    virtio_mmio, virtio_net)

from . import arm_boot

RAM_BASE = 0x60000000
PERIPHBASE = 0x1E000000
GIC_CPU_IF = PERIPHBASE + 0x100
SMP_LOADER_START = 0x48000000    # vexpress.sram: QEMU's smp_loader_start
SMP_BOOTREG = 0x10000030         # SYS_FLAGS(SET) of the system registers
BOARD_ID = 0x8E0
NUM_VIRTIO = 4
VIRTIO_BASE, VIRTIO_SIZE, VIRTIO_SPI = 0x10013000, 0x200, 40

# the two 64 MiB NOR flash banks, as QEMU's ve_pflash_cfi01_register makes them
FLASH = {"num-blocks": 256, "sector-length": 256 << 10, "width": 4, "device-width": 2,
         "big-endian": False, "id0": 0x89, "id1": 0x18, "id2": 0x00, "id3": 0x00}

# name, QOM type, base address, SPIs of its IRQ outputs in order, properties
DEVICES: Tuple[Tuple[str, str, int, Tuple[int, ...], dict], ...] = (
    ("sysctl", "realview_sysctl", 0x10000000, (), {}),
    ("sp810", "sp810", 0x10001000, (), {}),
    ("aaci", "pl041", 0x10004000, (11,), {"nc_fifo_depth": 512}),
    ("mmci", "pl181", 0x10005000, (9, 10), {}),
    ("kmi0", "pl050_keyboard", 0x10006000, (12,), {}),
    ("kmi1", "pl050_mouse", 0x10007000, (13,), {}),
    ("uart0", "pl011", 0x10009000, (5,), {}),
    ("uart1", "pl011", 0x1000A000, (6,), {}),
    ("uart2", "pl011", 0x1000B000, (7,), {}),
    ("uart3", "pl011", 0x1000C000, (8,), {}),
    ("timer01", "sp804", 0x10011000, (2,), {}),
    ("timer23", "sp804", 0x10012000, (3,), {}),
) + tuple(
    (f"virtio{i}", "virtio-mmio", VIRTIO_BASE + VIRTIO_SIZE * i, (VIRTIO_SPI + i,), {})
    for i in range(NUM_VIRTIO)
) + (
    ("dvi-i2c", "arm_sbcon_i2c", 0x10016000, (), {}),
    ("rtc", "pl031", 0x10017000, (4,), {}),
    ("clcd", "pl111", 0x1001F000, (14,), {}),
    ("db-clcd", "pl111", 0x10020000, (44,), {}),
    ("db-timer", "sp804", 0x100E4000, (48,), {}),
    ("l2x0", "l2x0", 0x1E00A000, (), {}),
    ("lan9118", "lan9118", 0x4E000000, (15,), {}),
    ("flash0", "cfi.pflash01", 0x40000000, (), dict(FLASH, name="vexpress.flash0")),
    ("flash1", "cfi.pflash01", 0x44000000, (), dict(FLASH, name="vexpress.flash1")),
)

# RAM regions other than main memory: name, base, size
EXTRA_RAM = (
    ("vexpress.sram", 0x48000000, 0x2000000),
    ("vexpress.vram", 0x4C000000, 0x800000),
)

# Parts of the real board we do not model: name, base, size
UNIMPLEMENTED = (
    ("serial-pci", 0x10002000, 0x1000),
    ("sp805-wdt", 0x1000F000, 0x1000),
    ("compact-flash", 0x1001A000, 0x1000),
    ("axi-ram", 0x10060000, 0x10000),
    ("pl341-dmc", 0x100E0000, 0x1000),
    ("pl354-smc", 0x100E1000, 0x1000),
    ("scc", 0x100E2000, 0x1000),
    ("db-sp805-wdt", 0x100E5000, 0x1000),
    ("bp147-tzpc", 0x100E6000, 0x1000),
    ("pl301-fast", 0x100E9000, 0x1000),
    ("pl301-slow", 0x100EA000, 0x1000),
    ("tzasc", 0x100EC000, 0x1000),
    ("coresight", 0x10200000, 0x100000),
    ("usb", 0x4F000000, 0x20000),
)

# sysctl values for the CoreTile A9x4 (QEMU's a9_daughterboard)
SYS_ID, PROC_ID = 0x1190F500, 0x0C000191
DB_VOLTAGES = (1000000, 1000000, 1000000, 1800000, 900000, 3300000)
DB_CLOCKS = (45000000, 23750000, 66670000)


@register
class VexpressA9(Machine):
    TYPE = "vexpress-a9-machine"
    NAME = "vexpress-a9"
    DESC = "ARM Versatile Express for Cortex-A9"
    ARCHES = ("arm",)
    DEFAULT_RAM_SIZE = 128 << 20
    MAX_RAM_SIZE = 1 << 30
    DEFAULT_CPU = "cortex-a9"
    VALID_CPUS = ("cortex-a9",)
    MAX_CPUS = 4

    def build(self) -> None:
        if self.ram_size > self.MAX_RAM_SIZE:
            raise QOMError("vexpress-a9: cannot model more than 1GB RAM")
        sysmem = self.system_memory
        ram = RAMRegion(self, "vexpress.highmem", self.ram_size)
        sysmem.add_subregion(RAM_BASE, ram)
        sysmem.add_subregion(0, AliasRegion(self, "vexpress.lowmem", ram, 0,
                                            min(self.ram_size, 0x4000000)))
        for name, base, size in EXTRA_RAM:
            sysmem.add_subregion(base, RAMRegion(self, name, size))

        self.cpus = [self.make_cpu(i, **{"mp-affinity": i, "reset-cbar": PERIPHBASE})
                     for i in range(self.smp)]
        for cpu in self.cpus:
            cpu.wfe_yields = self.smp > 1
        self.mpcore = self.add_device("a9mpcore", "a9mpcore_priv", PERIPHBASE,
                                      {"num-cpu": self.smp, "num-irq": 96})
        self.mpcore.current_cpu = self.current_cpu_index
        for i, cpu in enumerate(self.cpus):
            self.mpcore.irqs[i].connect(cpu.set_irq_line, 0)
            self.mpcore.irqs[self.smp + i].connect(cpu.set_irq_line, 1)

        self.dev = {}
        for name, type_name, base, spis, props in DEVICES:
            if name == "lan9118" and not net.board_nics(self):
                continue                     # QEMU: a LAN9118 only for a first NIC
            self.dev[name] = self.add_device(name, type_name, base,
                                             dict(props, **self._props_for(name)),
                                             [(self.mpcore.set_irq, spi) for spi in spis])
        for name, base, size in UNIMPLEMENTED:
            dev = new_object("unimplemented-device", name=name, size=size)
            dev.realize()
            self.add_child_device(name, dev)
            sysmem.add_subregion(base, dev.mmio[0], priority=-1000)
        if "lan9118" in self.dev:
            net.add_nic(self, self.dev["lan9118"])
        flash0 = self.dev["flash0"].mmio[0]
        sysmem.add_subregion(0, AliasRegion(self, "vexpress.flashalias", flash0, 0, flash0.size))

        sysctl, mmci = self.dev["sysctl"], self.dev["mmci"]
        sysctl.on_shutdown = self.request_shutdown
        sysctl.on_reset = self.request_reset
        mmci.card_readonly.connect(sysctl.gpio_in, 0)
        mmci.card_inserted.connect(sysctl.gpio_in, 1)
        self._plug_virtio_drives()
        # the DVI transmitter and the monitor's EDID on the SBCon I2C bus
        bus = self.dev["dvi-i2c"].bus
        for name, type_name, address in (("sii9022", "sii9022", 0x39), ("i2c-ddc", "i2c-ddc", 0x50)):
            chip = new_object(type_name, address=address)
            chip.realize()
            bus.attach(chip)
            self.add_child_device(name, chip)

    # --- construction helpers -------------------------------------------------------
    def _props_for(self, name: str) -> dict:
        """Properties that come from the command line (drives, chardevs) or board data."""
        if name == "sysctl":
            return {"sys_id": SYS_ID, "proc_id": PROC_ID,
                    "db-voltage": list(DB_VOLTAGES), "db-clock": list(DB_CLOCKS)}
        if name.startswith("uart"):
            return {"chardev": self.serial_hd(int(name[4:]))}
        if name == "mmci":
            drive = self.claim_drive("sd", 0)
            return {"drive": self.open_drive(drive)} if drive else {}
        if name.startswith("flash"):
            backend = self.claim_flash(int(name[5:]), FLASH["num-blocks"] * FLASH["sector-length"])
            return {"drive": backend} if backend else {}
        if name == "lan9118":                # the first -nic / -net nic
            return net.board_nic(self, "lan9118")
        return {}

    def _plug_virtio_drives(self) -> None:
        """-drive if=virtio and -device virtio-*-device go to the free transports,
        highest address first, as QEMU's sysbus hands them out."""
        transports = [self.dev[f"virtio{i}"] for i in reversed(range(NUM_VIRTIO))]
        devices = []
        index = 0
        while True:
            drive = self.claim_drive("virtio", index)
            if drive is None:
                break
            blk = new_object("virtio-blk-device", drive=self.open_drive(drive))
            devices.append((f"virtio-blk{index}", blk))
            index += 1
        devices += self.user_devices("virtio-device")
        nics = min(net.nic_count(self), 1)   # QEMU's vexpress makes a LAN9118 for the first
        ids = {id(spec.device): spec.id for spec in self.device_specs}
        for name, dev in devices:
            if isinstance(dev, virtio_net.VirtIONet):
                net.add_nic(self, dev, ids.get(id(dev)) or "")
                dev.clock = self.clock
                if not dev.mac:
                    dev.mac = virtio_net.default_mac(nics)
                nics += 1
            free = [t for t in transports if t.is_free()]
            if not free:
                raise QOMError(f"-device {dev.TYPE}: no free virtio-mmio transport (the board has {NUM_VIRTIO})")
            dev.realize()
            free[0].plug(dev)
            self.add_child_device(name, dev)

    # --- boot ----------------------------------------------------------------------
    def load_images(self) -> None:
        if not self.kernel:
            return

        def patch(tree) -> None:
            node = loader.find_compatible(tree, "arm,cortex-a9-gic")
            if node is None:
                self.warn("couldn't find interrupt controller in dtb; "
                          "will not include virtio-mmio devices in the dtb.")
                return
            phandle = loader.phandle_of(tree, node)
            for i in reversed(range(NUM_VIRTIO)):
                addr = VIRTIO_BASE + VIRTIO_SIZE * i
                loader.add_node(tree, f"/virtio_mmio@{addr:x}", {
                    "compatible": "virtio,mmio",
                    "reg": loader.sized_cells(tree, addr, VIRTIO_SIZE),
                    "interrupt-parent": phandle,
                    "interrupts": [0, VIRTIO_SPI + i, 1],
                    "dma-coherent": None,
                })

        self.boot = arm_boot.load_kernel(self.address_space, RAM_BASE, self.ram_size,
                                         self.kernel, self.initrd, self.dtb, self.append,
                                         BOARD_ID, patch, nb_cpus=self.smp,
                                         smp_loader_start=SMP_LOADER_START,
                                         smp_bootreg_addr=SMP_BOOTREG,
                                         gic_cpu_if_addr=GIC_CPU_IF)

    def reset_cpus(self) -> None:
        for cpu in self.cpus:
            cpu.reset()
        boot = getattr(self, "boot", None)
        if boot is not None:
            for cpu in self.cpus:
                boot.reset_cpu(cpu, self.address_space, first=cpu is self.cpus[0])

