"""Versatile Express motherboard system registers (QEMU's ``realview_sysctl``).

The RealView/Versatile/Versatile Express "system controller" block, modelled for
the way QEMU's vexpress boards configure it (``sys_id`` 0x1190f500, board id 0x190).

Interface:
  * MMIO region 0: the registers, 0x1000 bytes.
  * No IRQ outputs.
  * Properties: ``sys_id`` (SYS_ID), ``proc_id`` (SYS_PROCID0), ``db-voltage`` and
    ``db-clock`` (sequences of uint32, or a comma-separated string: the daughterboard's
    voltage sensors in uV and oscillator reset values in Hz, reported through
    SYS_CFGCTRL; at most 16 each), ``mmc-cardin``/``mmc-wprot`` (bool: the initial
    levels of the card-detect and write-protect inputs shown in SYS_MCI).
    ``A9_DB_VOLTAGES``/``A9_DB_CLOCKS`` hold QEMU's values for the CoreTile A9x4.
  * Inputs: ``gpio_in(n, level)``, an IRQ-line handler (``line.connect(sysctl.gpio_in,
    n)``): n=0 MMC write-protect (SYS_MCI bit 1; bit 2 on PB926/EB), n=1 MMC card
    inserted (SYS_MCI bit 0).
  * Outputs to the board, plain attributes the board sets (None: ignored):
    ``on_shutdown()`` is called when the guest requests SYS_CFG_SHUTDOWN,
    ``on_reset()`` for SYS_CFG_REBOOT (and RESETCTL on the older RealView boards).
    They are called from inside the guest's register write: the board should only
    record the request and act on it outside the CPU loop, as QEMU's
    qemu_system_shutdown_request()/qemu_system_reset_request() do.
  * Attribute ``clock``: the board's ``VirtualClock`` (set before ``realize()``), for
    SYS_100HZ and SYS_24MHZ.

Registers: SYS_ID, SYS_SW (0), SYS_LED, SYS_OSC0-4 (RAZ/WI), SYS_LOCK, SYS_100HZ and
SYS_24MHZ (counters derived from virtual time; QEMU 7.2 reads SYS_100HZ as 0),
SYS_CFGDATA1/2, SYS_FLAGS/SET/CLR, SYS_NVFLAGS/SET/CLR (kept across reset),
SYS_RESETCTL, SYS_PCICTL (1), SYS_MCI, SYS_FLASH, SYS_CLCD (RAZ/WI on vexpress),
SYS_CLCDSER, SYS_BOOTCS, SYS_MISC, SYS_DMAPSR0-2, SYS_IOSEL, SYS_PLDCTL, SYS_BUSID,
SYS_PROCID0/1, SYS_OSCRESET0-4, SYS_TEST_OSC0-4, and on vexpress SYS_CFGDATA,
SYS_CFGCTRL, SYS_CFGSTAT with the configuration functions QEMU implements: OSC
(motherboard oscillators 0-5 and the daughterboard's, read and write), VOLT
(daughterboard sensors, the motherboard's 3.3 V), MUXFPGA and DVIMODE (accepted,
no effect), SHUTDOWN, REBOOT.  Other functions set the error bit of SYS_CFGSTAT
and are logged under ``-d unimp``.

Not modelled: the RealView PL110 mux output, SYS_OSCx on the older boards, the
switches, the boot chip-select.
"""
from __future__ import annotations

from typing import Callable, List, Optional

from pysystem import log
from pysystem.clock import NS_PER_SEC, VirtualClock
from pysystem.qdev import SysBusDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

LOCK_VALUE = 0xA05F

BOARD_ID_PB926 = 0x100
BOARD_ID_EB = 0x140
BOARD_ID_PBA8 = 0x178
BOARD_ID_PBX = 0x182
BOARD_ID_VEXPRESS = 0x190

# SYS_CFGCTRL functions and sites
CFG_OSC, CFG_VOLT, CFG_MUXFPGA, CFG_SHUTDOWN, CFG_REBOOT, CFG_DVIMODE = 1, 2, 7, 8, 9, 11
SITE_MB, SITE_DB1 = 0, 1
CFGCTRL_START, CFGCTRL_WRITE = 1 << 31, 1 << 30
CFGSTAT_COMPLETE, CFGSTAT_ERROR = 1, 2

# Motherboard oscillators at reset, in Hz (QEMU's values)
MB_CLOCKS = (
    50_000_000,  # OSC0: static memory clock
    23_750_000,  # OSC1: motherboard CLCD clock
    24_000_000,  # OSC2: IO FPGA peripheral clock
    24_000_000,  # OSC3: IO FPGA reserved
    24_000_000,  # OSC4: system bus global clock
    24_000_000,  # OSC5: IO FPGA reserved
)
MB_VOLTAGE = 3_300_000  # VIO, the only motherboard voltage sensor, in uV

# The CoreTile Express A9x4 daughterboard as QEMU's vexpress-a9 describes it
A9_DB_VOLTAGES = (1_000_000, 1_000_000, 1_000_000, 1_800_000, 900_000, 3_300_000)
A9_DB_CLOCKS = (45_000_000, 23_750_000, 66_670_000)
MAX_DB = 16


def _uint32_list(name: str, value) -> List[int]:
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            value = [int(p, 0) for p in parts]
        except ValueError:
            raise QOMError(f"property '{name}' expects comma-separated integers") from None
    try:
        items = list(value)
    except TypeError:
        raise QOMError(f"property '{name}' expects a list of integers") from None
    if len(items) > MAX_DB:
        raise QOMError(f"property '{name}' holds at most {MAX_DB} values")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
            raise QOMError(f"property '{name}' expects uint32 values")
    return items


def _raz_wi(name: str, offset: int, count: int = 1, doc: str = "") -> Reg:
    return Reg(name, offset, count=count, read="_raz", write="_wi", stored=False,
               doc=doc or "reads as zero, writes ignored")


def _raz_ro(name: str, offset: int, count: int = 1, doc: str = "") -> Reg:
    return Reg(name, offset, count=count, access="ro", read="_raz", stored=False,
               doc=doc or "reads as zero")


@register
class VexpressSysctl(SysBusDevice):
    TYPE = "realview_sysctl"
    DESC = "RealView / Versatile Express system registers"

    PROPERTIES = (
        Property("sys_id", "uint32", 0, "SYS_ID value (vexpress: 0x1190f500)"),
        Property("proc_id", "uint32", 0, "SYS_PROCID0 value (CoreTile A9x4: 0x0c000191)"),
        Property("db-voltage", "any", (), "daughterboard voltage sensors in uV"),
        Property("db-clock", "any", (), "daughterboard oscillator reset values in Hz"),
        Property("mmc-cardin", "bool", False, "initial level of the MMC card-detect input"),
        Property("mmc-wprot", "bool", False, "initial level of the MMC write-protect input"),
    )

    REGS = RegisterBank(
        "realview_sysctl",
        Reg("ID", 0x00, access="ro", read="_read_id", stored=False, doc="SYS_ID"),
        _raz_ro("SW", 0x04, doc="SYS_SW: user switches"),
        Reg("LED", 0x08, doc="SYS_LED"),
        _raz_wi("OSC", 0x0C, count=5, doc="SYS_OSC0-4 (RealView): RAZ/WI"),
        Reg("LOCK", 0x20, write="_write_lock", doc="SYS_LOCK"),
        Reg("HZ100", 0x24, access="ro", read="_read_100hz", stored=False, doc="SYS_100HZ counter"),
        Reg("CFGDATA1", 0x28, doc="SYS_CFGDATA1"),
        Reg("CFGDATA2", 0x2C, doc="SYS_CFGDATA2"),
        Reg("FLAGS", 0x30, write="_write_flagsset", doc="SYS_FLAGS / SYS_FLAGSSET"),
        Reg("FLAGSCLR", 0x34, access="wo", write="_write_flagsclr", stored=False, doc="SYS_FLAGSCLR"),
        Reg("NVFLAGS", 0x38, write="_write_nvflagsset", doc="SYS_NVFLAGS / SYS_NVFLAGSSET"),
        Reg("NVFLAGSCLR", 0x3C, access="wo", write="_write_nvflagsclr", stored=False,
            doc="SYS_NVFLAGSCLR"),
        Reg("RESETCTL", 0x40, read="_read_resetctl", write="_write_resetctl",
            doc="SYS_RESETCTL (reserved on vexpress)"),
        Reg("PCICTL", 0x44, read="_read_one", write="_wi", stored=False, doc="SYS_PCICTL"),
        Reg("MCI", 0x48, access="ro", doc="SYS_MCI: bit 0 card inserted, bit 1 write-protected"),
        _raz_wi("FLASH", 0x4C, doc="SYS_FLASH"),
        Reg("CLCD", 0x50, write="_write_clcd", doc="SYS_CLCD (RAZ/WI on vexpress)"),
        _raz_wi("CLCDSER", 0x54, doc="SYS_CLCDSER"),
        _raz_ro("BOOTCS", 0x58, doc="SYS_BOOTCS"),
        Reg("MHZ24", 0x5C, access="ro", read="_read_24mhz", stored=False, doc="SYS_24MHZ counter"),
        _raz_ro("MISC", 0x60, doc="SYS_MISC"),
        _raz_wi("DMAPSR", 0x64, count=3, doc="SYS_DMAPSR0-2"),
        _raz_wi("IOSEL", 0x70, doc="SYS_IOSEL"),
        _raz_wi("PLDCTL", 0x74, doc="SYS_PLDCTL"),
        _raz_wi("BUSID", 0x80, doc="SYS_BUSID"),
        Reg("PROCID0", 0x84, read="_read_procid0", write="_wi", stored=False, doc="SYS_PROCID0"),
        Reg("PROCID1", 0x88, read="_read_procid1", write="_wi", stored=False, doc="SYS_PROCID1"),
        _raz_wi("OSCRESET", 0x8C, count=5, doc="SYS_OSCRESET0-4"),
        Reg("CFGDATA", 0xA0, read="_read_cfgdata", write="_write_cfgdata", doc="SYS_CFGDATA"),
        Reg("CFGCTRL", 0xA4, read="_read_cfgctrl", write="_write_cfgctrl", doc="SYS_CFGCTRL"),
        Reg("CFGSTAT", 0xA8, read="_read_cfgstat", write="_write_cfgstat", doc="SYS_CFGSTAT"),
        _raz_ro("TEST_OSC", 0xC0, count=5, doc="SYS_TEST_OSC0-4"),
    )
    STATE = REGS.fields() + (
        Field("mb_clock", f"u32[{len(MB_CLOCKS)}]", list(MB_CLOCKS), "motherboard oscillators (Hz)"),
        Field("db_clock", f"u32[{MAX_DB}]", 0, "daughterboard oscillators (Hz)"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.clock: Optional[VirtualClock] = None
        self.on_shutdown: Optional[Callable[[], None]] = None
        self.on_reset: Optional[Callable[[], None]] = None
        self.nvflags = 0
        self._voltages: List[int] = []
        self._clocks: List[int] = []
        self._mmc_in = [False, False]  # input wire levels: write-protect, card inserted

    @classmethod
    def example(cls):
        dev = cls(sys_id=0x1190F500, proc_id=0x0C000191,
                  db_voltage=A9_DB_VOLTAGES, db_clock=A9_DB_CLOCKS)
        dev.clock = VirtualClock()
        dev.realize()
        dev.reset()
        return dev

    def realize(self) -> None:
        if self.clock is None:
            raise QOMError(f"{self.TYPE}: no clock (the board sets dev.clock before realize)")
        self._voltages = _uint32_list("db-voltage", self.db_voltage)
        self._clocks = _uint32_list("db-clock", self.db_clock)
        self._mmc_in = [bool(self.mmc_wprot), bool(self.mmc_cardin)]
        self.init_mmio(self.REGS.region(self, "arm-sysctl", 0x1000))
        super().realize()

    def reset(self) -> None:
        nvflags = self.nvflags
        super().reset()
        self.nvflags = nvflags
        self.db_clock = self._clocks + [0] * (MAX_DB - len(self._clocks))
        self.clcd = 0 if self._board() == BOARD_ID_VEXPRESS else 0x1F00
        self.mci = self._mci_from_inputs()

    def post_load(self) -> None:
        """No outputs derive from the state."""

    def _board(self) -> int:
        return (self.sys_id >> 16) & 0xFFF

    def _vexpress(self) -> bool:
        return self._board() == BOARD_ID_VEXPRESS

    # --- MMC inputs -------------------------------------------------------------------
    def _wprot_bit(self) -> int:
        return 4 if self._board() in (BOARD_ID_PB926, BOARD_ID_EB) else 2

    def _mci_from_inputs(self) -> int:
        return (1 if self._mmc_in[1] else 0) | (self._wprot_bit() if self._mmc_in[0] else 0)

    def gpio_in(self, n: int, level: int) -> None:
        """Input line ``n`` (0: MMC write-protect, 1: MMC card inserted) changed level."""
        if n not in (0, 1):
            return
        self._mmc_in[n] = bool(level)
        bit = self._wprot_bit() if n == 0 else 1
        self.mci = (self.mci | bit) if level else (self.mci & ~bit)

    # --- simple registers -------------------------------------------------------------
    def _raz(self, *index) -> int:
        return 0

    def _wi(self, *args) -> None:
        pass

    def _read_one(self) -> int:
        return 1

    def _read_id(self) -> int:
        return self.sys_id

    def _read_procid0(self) -> int:
        return self.proc_id

    def _read_procid1(self) -> int:
        return 0xFF000000

    def _read_100hz(self) -> int:
        return (self.clock.now() * 100 // NS_PER_SEC) & 0xFFFFFFFF

    def _read_24mhz(self) -> int:
        return (self.clock.now() * 24_000_000 // NS_PER_SEC) & 0xFFFFFFFF

    def _write_lock(self, value: int) -> None:
        self.lock = value & 0xFFFF if value & 0xFFFF == LOCK_VALUE else value & 0x7FFF

    def _write_flagsset(self, value: int) -> None:
        self.flags |= value

    def _write_flagsclr(self, value: int) -> None:
        self.flags &= ~value

    def _write_nvflagsset(self, value: int) -> None:
        self.nvflags |= value

    def _write_nvflagsclr(self, value: int) -> None:
        self.nvflags &= ~value

    def _read_resetctl(self) -> int:
        return 0 if self._vexpress() else self.resetctl

    def _write_resetctl(self, value: int) -> None:
        board = self._board()
        if board == BOARD_ID_PB926:
            trigger = 0x100
        elif board in (BOARD_ID_PBX, BOARD_ID_PBA8):
            trigger = 0x04
        else:
            return  # reserved: RAZ/WI
        if self.lock == LOCK_VALUE:
            self.resetctl = value
            if value & trigger:
                self._request(self.on_reset)

    def _write_clcd(self, value: int) -> None:
        board = self._board()
        if board in (BOARD_ID_PB926, BOARD_ID_EB):
            self.clcd = (self.clcd & 0x3F00) | (value & ~0x3F00)
        elif board in (BOARD_ID_PBA8, BOARD_ID_PBX):
            self.clcd = (self.clcd & ~0x80) | (value & 0x80)
        # vexpress and others: RAZ/WI

    # --- the configuration bus (vexpress only) ----------------------------------------
    def _cfg_ok(self, name: str) -> bool:
        if not self._vexpress():
            log.log("guest_errors", f"arm_sysctl: {name} exists only on vexpress")
            return False
        return True

    def _read_cfgdata(self) -> int:
        return self.cfgdata if self._cfg_ok("SYS_CFGDATA") else 0

    def _read_cfgctrl(self) -> int:
        return self.cfgctrl if self._cfg_ok("SYS_CFGCTRL") else 0

    def _read_cfgstat(self) -> int:
        return self.cfgstat if self._cfg_ok("SYS_CFGSTAT") else 0

    def _write_cfgdata(self, value: int) -> None:
        if self._cfg_ok("SYS_CFGDATA"):
            self.cfgdata = value

    def _write_cfgstat(self, value: int) -> None:
        if self._cfg_ok("SYS_CFGSTAT"):
            self.cfgstat = value & 3

    def _write_cfgctrl(self, value: int) -> None:
        if not self._cfg_ok("SYS_CFGCTRL"):
            return
        # bits 19:18 are RAZ/WI; the start bit triggers the transfer and reads as zero
        self.cfgctrl = value & ~((3 << 18) | CFGCTRL_START)
        if not value & CFGCTRL_START:
            return
        ctrl = self.cfgctrl
        dcc, function = (ctrl >> 26) & 0xF, (ctrl >> 20) & 0x3F
        site, position, device = (ctrl >> 16) & 3, (ctrl >> 12) & 0xF, ctrl & 0xFFF
        self.cfgstat = CFGSTAT_COMPLETE
        if dcc != 0 or position != 0 or site not in (SITE_MB, SITE_DB1):
            ok = False
        elif ctrl & CFGCTRL_WRITE:
            ok = self._cfg_write(function, site, device, self.cfgdata)
        else:
            result = self._cfg_read(function, site, device)
            ok = result is not None
            if ok:
                self.cfgdata = result
        if not ok:
            self.cfgstat |= CFGSTAT_ERROR
            log.log("unimp", f"arm_sysctl: Unimplemented SYS_CFGCTRL "
                             f"{'write' if ctrl & CFGCTRL_WRITE else 'read'} of function 0x{function:x} "
                             f"DCC 0x{dcc:x} site 0x{site:x} position 0x{position:x} device 0x{device:x}")

    def _cfg_read(self, function: int, site: int, device: int) -> Optional[int]:
        if function == CFG_VOLT:
            if site == SITE_DB1 and device < len(self._voltages):
                return self._voltages[device]
            if site == SITE_MB and device == 0:
                return MB_VOLTAGE
        elif function == CFG_OSC:
            if site == SITE_MB and device < len(self.mb_clock):
                return self.mb_clock[device]
            if site == SITE_DB1 and device < len(self._clocks):
                return self.db_clock[device]
        return None

    def _cfg_write(self, function: int, site: int, device: int, value: int) -> bool:
        if function == CFG_OSC:
            if site == SITE_MB and device < len(self.mb_clock):
                self.mb_clock[device] = value
                return True
            if site == SITE_DB1 and device < len(self._clocks):
                self.db_clock[device] = value
                return True
        elif site == SITE_MB and device == 0:
            if function == CFG_MUXFPGA:
                log.log("unimp", "arm_sysctl: selection of video output not supported, ignoring")
                return True
            if function == CFG_DVIMODE:
                return True
            if function == CFG_SHUTDOWN:
                self._request(self.on_shutdown)
                return True
            if function == CFG_REBOOT:
                self._request(self.on_reset)
                return True
        return False

    @staticmethod
    def _request(callback: Optional[Callable[[], None]]) -> None:
        if callback is not None:
            callback()
