"""Galileo GT-64120 system controller: Malta's PCI host bridge (QEMU type "gt64120").

Interface:
  * MMIO: the internal register block "gt64120-isd", 0x1000 bytes, placed by the device
    itself in ``system-memory`` at ISD << 21 (0x14000000 after reset; Malta's boot code
    writes ISD to move it to 0x1be00000).  Accesses of 1-4 bytes are handled as 4-byte
    ones (QEMU's impl size 4); values are in the CPU's byte order and swapped when the
    CPU Configuration register's Endianness bit (12) is clear, as QEMU does.
  * PCI windows, also placed in ``system-memory``: "pci0-io" (an alias of the PCI I/O
    space, ``self.io``, from 0) at PCI0IOLD << 21, "pci0-mem0"/"pci0-mem1" (aliases of
    the PCI memory space, ``self.pci_mem``, at the same address) at PCI0M0LD/PCI0M1LD
    << 21; each is (HD + 1 - (LD & 0x7f)) << 21 bytes and moves when its low or high
    decode register is written (QEMU ignores the remap registers for mapping, and so do
    we).  An "empty-slot" region covers 0-0x1fffffff at priority -10000: the GT-64120
    does not fault on undecoded addresses there.
  * ``self.bus``: the PCIBus (devices from slot 18 when placed automatically), with
    the host bridge's own function "gt64120_pci" (11ab:4620) at 00.0.
  * PCI configuration through PCI_0 Configuration Address (0xcf8) / Data (0xcfc).
    Data is swapped when PCI_0 Command's MByteSwap bit (0) is clear and the target is
    not bus 0 device 0, before the CPU-endianness swap: a big-endian CPU then reads
    other devices' registers natively and the bridge's own little-endian, which is
    what Linux's GT_READ/__GT_READ expect.  Reads with the enable bit (31) clear
    return all ones.
  * PCI_0 Interrupt Acknowledge (0xc34) returns what ``self.iack`` (a callable the
    board sets: the i8259's vector read) returns.
Properties:
  cpu-little-endian  bool (default off): reset value of the Endianness bit and of the
                     PCI_0/1 Command byte-swap bits (0x00010001).
  system-memory      any: the container the ISD, the windows and the empty slot go in.
  dma                any: the AddressSpace PCI bus masters read and write.

Register behaviour is QEMU 7.2's: decode registers of the CPU interface and CS/SCS
are read-only, SDRAM registers store what is written, the DMA engines, timers and
device parameters log under ``-d unimp`` and keep their reset values, INTRCAUSE bits
clear when written with 0 (bit 0 summarises the others), the sync barriers read
0xc000ffee.  Not modelled: PCI_1, DMA, the timer/counters, interrupts to the CPU,
the PCI slave BARs' decoding.
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem import log
from pysystem.memory import AliasRegion, ContainerRegion, IORegion
from pysystem.pci import CfgReg, PCIBus, PCIDevice
from pysystem.qdev import SysBusDevice
from pysystem.qom import Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

from .isa import unassigned_ports

ISD_SIZE = 0x1000
CPU_ENDIAN = 1 << 12
CMD_BYTESWAP = 0x00010001
CFGADDR, CFGDATA = 0xCF8, 0xCFC
CFG_ENABLE = 0x80000000


def _bswap32(v: int) -> int:
    return int.from_bytes((v & 0xFFFFFFFF).to_bytes(4, "little"), "big")


def _ro(name: str, offset: int, reset: int = 0, count: int = 1) -> Reg:
    return Reg(name, offset, reset=reset, count=count, access="ro")


def _unimp(name: str, offset: int, reset: int = 0, count: int = 1) -> Reg:
    """Kept at its reset value; writes are logged under -d unimp (QEMU: not implemented)."""
    return Reg(name, offset, reset=reset, count=count,
               write="_w_unimp_array" if count > 1 else "_w_unimp")


def _ignored(name: str, offset: int) -> Reg:
    """Reserved with only PCI_0: writes are dropped silently, reads give the reset value."""
    return Reg(name, offset, write="_w_ignore")


@register
class GT64120PCI(PCIDevice):
    """The host bridge's PCI function (QEMU "gt64120_pci"): registers as QEMU 7.2 resets them."""

    TYPE = "gt64120_pci"
    VENDOR_ID, DEVICE_ID, REVISION = 0x11AB, 0x4620, 0x10
    CLASS_CODE = 0x060000
    STATUS = 0x0280           # fast back-to-back, DEVSEL medium
    INTERRUPT_PIN = 1
    # The slave BARs read as the GT-64120's reset decode; QEMU 7.2 makes them read-only.
    CONFIG = (
        CfgReg("SCS10_BAR", 0x10, 4, 0x00000008, wmask=0),
        CfgReg("SCS32_BAR", 0x14, 4, 0x01000008, wmask=0),
        CfgReg("CS20_BAR", 0x18, 4, 0x1C000000, wmask=0),
        CfgReg("CS3BT_BAR", 0x1C, 4, 0x1F000000, wmask=0),
        CfgReg("ISD_MEM_BAR", 0x20, 4, 0x14000000, wmask=0),
        CfgReg("ISD_IO_BAR", 0x24, 4, 0x14000001, wmask=0),
    )


@register
class GT64120(SysBusDevice):
    TYPE = "gt64120"
    DESC = "GT-64120 system controller and PCI host bridge"
    PROPERTIES = (
        Property("cpu-little-endian", "bool", False, "the CPU bus is little-endian"),
        Property("system-memory", "any", None, "container for the ISD and the PCI windows"),
        Property("dma", "any", None, "AddressSpace PCI bus masters access"),
    )

    REGS = RegisterBank(
        "gt64120",
        # CPU configuration
        Reg("CPU", 0x000, write="_w_cpu"),
        _ro("MULTI", 0x120, 0x3),
        # CPU address decode
        _ro("SCS10LD", 0x008, 0x00), _ro("SCS10HD", 0x010, 0x07),
        _ro("SCS32LD", 0x018, 0x08), _ro("SCS32HD", 0x020, 0x0F),
        _ro("CS20LD", 0x028, 0xE0), _ro("CS20HD", 0x030, 0x70),
        _ro("CS3BOOTLD", 0x038, 0xF8), _ro("CS3BOOTHD", 0x040, 0x7F),
        Reg("PCI0IOLD", 0x048, reset=0x080, write="_w_pci0iold"),
        Reg("PCI0IOHD", 0x050, reset=0x0F, mask=0x7F, on_write="_map_windows"),
        Reg("PCI0M0LD", 0x058, reset=0x090, write="_w_pci0m0ld"),
        Reg("PCI0M0HD", 0x060, reset=0x1F, mask=0x7F, on_write="_map_windows"),
        Reg("ISD", 0x068, reset=0x0A0, mask=0x7FFF, on_write="_map_isd", attr="isd_value"),
        _ro("CPUERR_ADDRLO", 0x070), _ro("CPUERR_ADDRHI", 0x078),
        Reg("PCI0M1LD", 0x080, reset=0x790, write="_w_pci0m1ld"),
        Reg("PCI0M1HD", 0x088, reset=0x1F, mask=0x7F, on_write="_map_windows"),
        Reg("PCI1IOLD", 0x090, reset=0x100, write="_w_pci1iold"),
        Reg("PCI1IOHD", 0x098, reset=0x0F, mask=0x7F),
        Reg("PCI1M0LD", 0x0A0, reset=0x110, write="_w_pci1m0ld"),
        Reg("PCI1M0HD", 0x0A8, reset=0x1F, mask=0x7F),
        Reg("PCI1M1LD", 0x0B0, reset=0x120, write="_w_pci1m1ld"),
        Reg("PCI1M1HD", 0x0B8, reset=0x2F, mask=0x7F),
        Reg("PCI0SYNC", 0x0C0, access="ro", read="_r_sync", stored=False),
        Reg("PCI1SYNC", 0x0C8, access="ro", read="_r_sync", stored=False),
        _ro("SCS10AR", 0x0D0, 0x00), _ro("SCS32AR", 0x0D8, 0x08),
        _ro("CS20R", 0x0E0, 0xE0), _ro("CS3BOOTR", 0x0E8, 0xF8),
        Reg("PCI0IOREMAP", 0x0F0, reset=0x080, mask=0x7FF),
        Reg("PCI0M0REMAP", 0x0F8, reset=0x090, mask=0x7FF),
        Reg("PCI0M1REMAP", 0x100, reset=0x790, mask=0x7FF),
        Reg("PCI1IOREMAP", 0x108, reset=0x100, mask=0x7FF),
        Reg("PCI1M0REMAP", 0x110, reset=0x110, mask=0x7FF),
        Reg("PCI1M1REMAP", 0x118, reset=0x120, mask=0x7FF),
        _ro("CPUERR_DATALO", 0x128, 0xFFFFFFFF), _ro("CPUERR_DATAHI", 0x130, 0xFFFFFFFF),
        _ro("CPUERR_PARITY", 0x138, 0xFF),
        # SDRAM and device address decode, SDRAM configuration and parameters
        Reg("SCSLD", 0x400, count=18, stride=4,
            reset=[0x00, 0x07, 0x08, 0x0F, 0x10, 0x17, 0x18, 0x1F, 0xC0, 0xC7, 0xC8, 0xCF,
                   0xD0, 0xDF, 0xF0, 0xFB, 0xFC, 0xFF],
            doc="SCS0LD..CS3HD, BOOTLD, BOOTHD (stored, not decoded)"),
        Reg("SDRAM_CFG", 0x448, reset=0x200),
        Reg("SDRAM_B", 0x44C, count=4, reset=5, doc="SDRAM bank parameters (stored)"),
        _unimp("DEV_B", 0x45C, 0x386FFFFF, count=4),
        _unimp("DEV_BOOT", 0x46C, 0x146FFFFF),
        Reg("ADERR", 0x470, reset=0xFFFFFFFF),
        Reg("SDRAM_OPMODE", 0x474), Reg("SDRAM_BM", 0x478, reset=0x7),
        Reg("SDRAM_ADDRDECODE", 0x47C, reset=0x2),
        _ro("ECC", 0x480, count=5),
        # DMA, timers
        _unimp("DMA_REC", 0x800, count=16),
        _unimp("DMA_CTRL", 0x840, count=4),
        _unimp("TC", 0x850, [0xFFFFFFFF, 0x00FFFFFF, 0x00FFFFFF, 0x00FFFFFF], count=4),
        _unimp("DMA_ARB", 0x860),
        _unimp("TC_CONTROL", 0x864),
        _unimp("DMA_CUR", 0x870, count=4),
        # PCI internal
        Reg("PCI0_CMD", 0xC00, mask=0x0401FC0F),
        _unimp("PCI0_TOR", 0xC04, 0x70F),
        _unimp("PCI0_BS", 0xC08, [0x00FFF000, 0x00FFF000, 0x01FFF000, 0x00FFF000], count=4),
        Reg("INTRCAUSE", 0xC18, write="_w_intrcause"),
        Reg("INTRMASK", 0xC1C, mask=0x3C3FFFFE),
        Reg("PCI0_ICMASK", 0xC24, mask=0x03FFFFFE),
        Reg("PCI0_SERR0MASK", 0xC28, mask=0x3F),
        _unimp("PCI1_IACK", 0xC30),
        Reg("PCI0_IACK", 0xC34, read="_r_iack", write="_w_unimp", stored=False),
        _unimp("PCI0_BARE", 0xC3C, 0xF),
        _unimp("PCI0_PREFMBR", 0xC40, 0x40),
        _unimp("PCI0_SBAR", 0xC48, [0x0, 0x01000000, 0x1C000000, 0x1F000000, 0x0,
                                    0x01000000, 0x0, 0x1F000000], count=8),
        _ignored("CPU_INTSEL", 0xC70), _ignored("PCI0_INTSEL", 0xC74),
        Reg("PCI1_CMD", 0xC80, mask=0x0401FC0F),
        _unimp("PCI1_TOR", 0xC84, 0x70F),
        _unimp("PCI1_BS", 0xC88, [0x00FFF000, 0x00FFF000, 0x01FFF000, 0x00FFF000], count=4),
        _ignored("HINTRCAUSE", 0xC98), _ignored("HINTRMASK", 0xC9C),
        _ignored("PCI0_HICMASK", 0xCA4), _ignored("PCI1_SERR1MASK", 0xCA8),
        _unimp("PCI1_BARE", 0xCBC, 0xF),
        _unimp("PCI1_PREFMBR", 0xCC0, 0x40),
        _unimp("PCI1_SBAR", 0xCC8, [0x0, 0x01000000, 0x1C000000, 0x1F000000, 0x0,
                                    0x01000000, 0x0, 0x1F000000], count=8),
        _unimp("PCI1_CFGADDR", 0xCF0), _unimp("PCI1_CFGDATA", 0xCF4),
        Reg("PCI0_CFGADDR", CFGADDR, mask=0x80FFFFFC),
        Reg("PCI0_CFGDATA", CFGDATA, read="_r_cfgdata", write="_w_cfgdata", stored=False),
    )
    STATE = REGS.fields()

    def __init__(self, **props):
        super().__init__(**props)
        self.iack: Optional[Callable[[], int]] = None
        self._isd_at: Optional[int] = None
        self._windows = {}

    @classmethod
    def example(cls) -> "GT64120":
        obj = cls(**{"system-memory": ContainerRegion(None, "system", 1 << 64)})
        obj.realize()
        obj.reset()
        return obj

    def realize(self) -> None:
        if self.system_memory is None:
            raise QOMError("gt64120: property 'system-memory' not set")
        self.isd = IORegion(self, "gt64120-isd", ISD_SIZE, read=self._isd_read,
                            write=self._isd_write, min_access=1, max_access=4,
                            impl_min=4, impl_max=4, endianness="native")
        self.init_mmio(self.isd)
        self.pci_mem = ContainerRegion(self, "pci0-mem", 1 << 32)
        self.io = unassigned_ports(self, "io")      # QEMU's "io": all ones where unused
        self.bus = PCIBus("pci.0", mem=self.pci_mem, io=self.io, dma=self.dma,
                          devfn_min=18 << 3)
        self.host = GT64120PCI()
        self.add_child("gt64120_pci", self.host)
        self.host.realize()
        self.bus.plug(self.host, 0)
        self.empty = IORegion(self, "empty-slot", 0x20000000, read=lambda off, size: 0,
                              write=lambda off, value, size: None, min_access=1,
                              max_access=8)
        self.system_memory.add_subregion(0, self.empty, priority=-10000)
        super().realize()

    def reset(self) -> None:
        super().reset()
        if self.cpu_little_endian:
            self.cpu |= CPU_ENDIAN
            self.pci0_cmd = self.pci1_cmd = CMD_BYTESWAP
        self.host.reset()
        self._map_isd()
        self._map_windows()

    def post_load(self) -> None:
        self._map_isd()
        self._map_windows()

    # --- the ISD block and its byte order ---------------------------------------------
    def _swaps(self) -> bool:
        return not self.cpu & CPU_ENDIAN

    def _isd_read(self, offset: int, size: int) -> int:
        value = self.REGS.read(self, offset & ~3, 4)
        return _bswap32(value) if self._swaps() else value

    def _isd_write(self, offset: int, value: int, size: int) -> None:
        if self._swaps():
            value = _bswap32(value)
        self.REGS.write(self, offset & ~3, value, 4)

    # --- register handlers --------------------------------------------------------------
    def _w_cpu(self, value: int) -> None:
        self.cpu = value

    # a low decode register: its remap register takes the low 11 bits too (QEMU)
    def _w_pci0iold(self, value: int) -> None:
        self.pci0iold, self.pci0ioremap = value & 0x7FFF, value & 0x7FF
        self._map_windows()

    def _w_pci0m0ld(self, value: int) -> None:
        self.pci0m0ld, self.pci0m0remap = value & 0x7FFF, value & 0x7FF
        self._map_windows()

    def _w_pci0m1ld(self, value: int) -> None:
        self.pci0m1ld, self.pci0m1remap = value & 0x7FFF, value & 0x7FF
        self._map_windows()

    def _w_pci1iold(self, value: int) -> None:
        self.pci1iold, self.pci1ioremap = value & 0x7FFF, value & 0x7FF

    def _w_pci1m0ld(self, value: int) -> None:
        self.pci1m0ld, self.pci1m0remap = value & 0x7FFF, value & 0x7FF

    def _w_pci1m1ld(self, value: int) -> None:
        self.pci1m1ld, self.pci1m1remap = value & 0x7FFF, value & 0x7FF

    def _w_unimp(self, value: int) -> None:
        log.log("unimp", f"gt64120: unimplemented register write value 0x{value:08x}")

    def _w_unimp_array(self, index: int, value: int) -> None:
        self._w_unimp(value)

    def _w_ignore(self, value: int) -> None:
        pass

    def _r_sync(self) -> int:
        return 0xC000FFEE

    def _w_intrcause(self, value: int) -> None:
        cause = self.intrcause & value & 0xFFFFFFFE
        self.intrcause = cause | (1 if cause else 0)

    def _r_iack(self) -> int:
        if self.iack is None:
            log.log("unimp", "gt64120: interrupt acknowledge with no interrupt controller")
            return 0
        return self.iack() & 0xFFFFFFFF

    # configuration cycles
    def _data_swaps(self) -> bool:
        return not self.pci0_cmd & 1 and bool(self.pci0_cfgaddr & 0x00FFF800)

    def _r_cfgdata(self) -> int:
        addr = self.pci0_cfgaddr
        value = self.bus.config_read(addr, 4) if addr & CFG_ENABLE else 0xFFFFFFFF
        return _bswap32(value) if self._data_swaps() else value

    def _w_cfgdata(self, value: int) -> None:
        if self._data_swaps():
            value = _bswap32(value)
        if self.pci0_cfgaddr & CFG_ENABLE:
            self.bus.config_write(self.pci0_cfgaddr, value, 4)

    # --- mappings ---------------------------------------------------------------------
    def _map_isd(self) -> None:
        start = _reserved_start((self.isd_value << 21) & 0xFFFE00000)
        if start == self._isd_at:
            return
        if self._isd_at is not None:
            self.system_memory.del_subregion(self.isd)
        self.system_memory.add_subregion(start, self.isd)
        self._isd_at = start

    def _map_windows(self) -> None:
        for name, ld, hd, target in (("pci0-io", "pci0iold", "pci0iohd", "io"),
                                     ("pci0-mem0", "pci0m0ld", "pci0m0hd", "mem"),
                                     ("pci0-mem1", "pci0m1ld", "pci0m1hd", "mem")):
            low, high = getattr(self, ld), getattr(self, hd)
            if (low & 0x7F) > high:
                continue
            start = (low << 21) & 0xFFFFFFFFF
            length = ((high + 1) - (low & 0x7F)) << 21
            old = self._windows.pop(name, None)
            if old is not None:
                if (old.addr, old.size) == (start, length):
                    self._windows[name] = old
                    continue
                self.system_memory.del_subregion(old)
            if length:
                if target == "io":
                    alias = AliasRegion(self, name, self.io, 0, length)
                else:
                    alias = AliasRegion(self, name, self.pci_mem, start & 0xFFFFFFFF, length)
                self.system_memory.add_subregion(start, alias)
                self._windows[name] = alias

    def window(self, name: str):
        """The alias currently mapped for "pci0-io", "pci0-mem0" or "pci0-mem1" (or None)."""
        return self._windows.get(name)


def _reserved_start(start: int) -> int:
    """QEMU's check_reserved_space for the ISD: never over the flash or the boot ROM."""
    if 0x1E000000 <= start < 0x1F100000:
        start = 0x1F100000
    if 0x1FC00000 <= start < 0x1FD00000:
        start = 0x1FD00000
    return start
