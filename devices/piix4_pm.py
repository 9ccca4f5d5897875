"""Intel PIIX4 function 3: power management and SMBus (8086:7113; QEMU type "PIIX4_PM").

Interface:
  * PCI function (Malta: device 10, function 3), config space as QEMU 7.2 resets it:
    PMBA (0x40) = 0x0001, PMREGMISC (0x80) = 0, SMBBA (0x90) = 0x1101, SMBHSTCFG
    (0xd2) = 0x09 (host enabled).
  * I/O regions in the PCI I/O space, placed when the function is plugged:
    - "piix4-pm", 64 bytes at PMBA & 0xffc0 while PMREGMISC bit 0 is set (Linux's Malta
      fixup writes PMBA 0x1000 and sets it), holding QEMU's "acpi-evt" (PM1_STS at +0,
      write one to clear; PM1_EN at +2), "acpi-cnt" (PM1_CNT, +4) and "acpi-tmr"
      (PM_TMR, +8: a 24-bit 3.579545 MHz counter of ``clock``'s guest time).
    - "pm-smbus", 64 bytes at SMBBA & 0xfff0 while SMBHSTCFG bit 0 is set: the SMBus host
      controller (HST_STS, HST_CNT, HST_CMD, HST_ADD, HST_D0, HST_D1) running quick,
      byte, byte-data and word-data transactions on its own bus, where eight 256-byte
      EEPROMs answer at 0x50-0x57 (as in QEMU 7.2, HST_STS reads HOST_BUSY right after
      START and the transaction runs at that read): 0x50 holds the SPD data of the RAM and 0x56 the
      board serial (QEMU malta.c's generate_eeprom_spd/generate_eeprom_serial).  A
      transaction to an absent address sets DEV_ERR, a finished one INTR.
    - "acpi-gpe0" at 0xafe0 (GPE0_STS, GPE0_EN) and "apm-io" at 0xb2 (APM_CNT: 0xf1
      sets PM1_CNT.SCI_EN, 0xf0 clears it; APM_STS).
  * ``power_off``: callable the board sets; PM1_CNT written with SLP_EN (bit 13) and
    sleep type 0 (soft off) or 2 (S4) calls it (QEMU: shutdown, exit status 0).
    Sleep type 1 (suspend) is logged under -d unimp.
  * ``sci``: IRQ output, high while PM1_STS & PM1_EN has TMROF, GBL, PWRBTN or RTC set,
    or GPE0_STS & GPE0_EN is non-zero (Malta wires it to ISA IRQ 9).
  * ``power_button()``: sets PWRBTN_STS (the monitor's system_powerdown).
Properties: ``clock`` (the VirtualClock the PM timer counts), ``ram-size`` (bytes,
for the SPD data; default 128 MiB).

Not modelled: the PM timer overflow interrupt (TMROF_STS is never set by the timer),
SMBus block and I2C-block transfers (DEV_ERR), SMBus interrupts, device
monitoring/idle registers, suspend/resume.
"""
from __future__ import annotations

from typing import Callable, Optional

from pysystem import log
from pysystem.irq import IRQ
from pysystem.memory import ContainerRegion, IORegion
from pysystem.pci import CfgReg, PCIDevice
from pysystem.qom import Field, Property, QOMError, register
from pysystem.regbank import Reg, RegisterBank

PM_TIMER_HZ = 3579545
PM_IO_SIZE = 64
SMBUS_IO_SIZE = 64
GPE0_PORT, APM_PORT = 0xAFE0, 0xB2

# PM1 status / enable bits
TMROF, BM, GBL, PWRBTN, SLPBTN, RTC, WAK = 1 << 0, 1 << 4, 1 << 5, 1 << 8, 1 << 9, 1 << 10, 1 << 15
SCI_EVENTS = TMROF | GBL | PWRBTN | RTC
SCI_EN, SLP_EN = 1 << 0, 1 << 13
ACPI_ENABLE, ACPI_DISABLE = 0xF1, 0xF0
S4_TYPE = 2

# SMBus
STS_HOST_BUSY, STS_INTR, STS_DEV_ERR = 0x01, 0x02, 0x04
CTL_START, CTL_RETURN_MASK = 0x40, 0x1F
PROT_QUICK, PROT_BYTE, PROT_BYTE_DATA, PROT_WORD_DATA = 0, 1, 2, 3
EEPROM_BASE, EEPROM_COUNT, EEPROM_SIZE = 0x50, 8, 256

# The Malta SPD EEPROM image before the RAM fields are filled in (QEMU malta.c).
SPD_TEMPLATE = bytes([
    0x80, 0x08, 0xFF, 0x0D, 0x0A, 0xFF, 0x40, 0x00, 0x01, 0x75, 0x54, 0x00, 0x82, 0x08, 0x00,
    0x01, 0x8F, 0x04, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x0F, 0x14,
    0x2D, 0xFF, 0x15, 0x08, 0x15, 0x08]) + bytes(26) + bytes([0x12, 0xD0]) + bytes(62) + \
    bytes([0x64, 0xF4])


def malta_spd(ram_size: int) -> bytes:
    """The 128-byte SPD EEPROM QEMU's Malta builds for ``ram_size`` bytes of RAM."""
    spd = bytearray(SPD_TEMPLATE)
    mib = ram_size >> 20
    nbanks, density = 0, 0
    while mib >= 4 and nbanks <= 2:
        sz_log2 = min(mib.bit_length() - 1, 14)
        nbanks += 1
        density |= 1 << (sz_log2 - 2)
        mib -= 1 << sz_log2
    if nbanks == 1 and density > 1:
        nbanks += 1
        density >>= 1
    if density & 0xFF00:
        density = (density & 0xE0) | ((density >> 8) & 0x1F)
        kind = 0x8   # DDR2
    elif not density & 0x1F:
        kind = 0x8
    else:
        kind = 0x4   # SDR
    if mib:
        log.log("guest_errors", f"SPD cannot represent final {mib}MB of SDRAM")
    spd[2], spd[5], spd[31] = kind, nbanks, density & 0xFF
    spd[63] = sum(spd[:63]) & 0xFF
    return bytes(spd)


def malta_serial_eeprom() -> bytes:
    """The board serial EEPROM: version 1, a zero MAC and serial number 0123456789."""
    data = bytearray([0x01, 0x02, 0x01, 0x06]) + bytes(6) + bytes([0x02, 0x05, 0x01, 0x23,
                                                                   0x45, 0x67, 0x89])
    data.append(sum(data) & 0xFF)
    return bytes(data)


@register
class PIIX4PM(PCIDevice):
    TYPE = "PIIX4_PM"
    DESC = "PM"
    VENDOR_ID, DEVICE_ID, REVISION = 0x8086, 0x7113, 0x03
    CLASS_CODE = 0x068000
    STATUS = 0x0280
    INTERRUPT_PIN = 1
    CONFIG = (
        CfgReg("PMBA", 0x40, 4, 0x00000001, on_write="_map_pm", doc="PM I/O base"),
        CfgReg("DEVACTB", 0x58, 4, 0x02000000, doc="device activity B"),
        CfgReg("DEVRESD", 0x5C, 4, 0x90000000, doc="device resource D"),
        CfgReg("DEVRESE", 0x60, 4, 0x60000000, doc="device resource E"),
        CfgReg("DEVRESF", 0x64, 4, 0x98000000, doc="device resource F"),
        CfgReg("PMREGMISC", 0x80, 1, 0x00, on_write="_map_pm", doc="bit 0: PM I/O enable"),
        CfgReg("SMBBA", 0x90, 4, 0x00001101, on_write="_map_smbus", doc="SMBus I/O base"),
        CfgReg("SMBHSTCFG", 0xD2, 1, 0x09, on_write="_map_smbus", doc="bit 0: SMBus enable"),
    )
    PROPERTIES = (
        Property("clock", "any", None, "the VirtualClock the PM timer counts"),
        Property("ram-size", "size", 128 << 20, "RAM size the SPD EEPROM describes"),
    )

    PM_REGS = RegisterBank(
        "piix4-pm",
        Reg("PM1_STS", 0x0, width=2, write="_w_pm1_sts", attr="pm1_sts"),
        Reg("PM1_EN", 0x2, width=2, on_write="_update_sci", attr="pm1_en"),
        Reg("PM1_CNT", 0x4, width=2, write="_w_pm1_cnt", attr="pm1_cnt"),
        Reg("PM_TMR", 0x8, access="ro", read="_r_pm_tmr", stored=False),
    )
    SMB_REGS = RegisterBank(
        "pm-smbus",
        Reg("HST_STS", 0x0, width=1, read="_r_smb_sts", write="_w_smb_sts", attr="smb_stat"),
        Reg("HST_CNT", 0x2, width=1, read="_r_smb_ctl", write="_w_smb_ctl", attr="smb_ctl"),
        Reg("HST_CMD", 0x3, width=1, attr="smb_cmd"),
        Reg("HST_ADD", 0x4, width=1, attr="smb_addr"),
        Reg("HST_D0", 0x5, width=1, attr="smb_data0"),
        Reg("HST_D1", 0x6, width=1, attr="smb_data1"),
    )
    GPE_REGS = RegisterBank(
        "acpi-gpe0",
        Reg("GPE0_STS", 0x0, width=2, write="_w_gpe_sts", attr="gpe_sts"),
        Reg("GPE0_EN", 0x2, width=2, on_write="_update_sci", attr="gpe_en"),
    )
    APM_REGS = RegisterBank(
        "apm-io",
        Reg("APM_CNT", 0x0, width=1, on_write="_apm_written", attr="apm_cnt"),
        Reg("APM_STS", 0x1, width=1, attr="apm_sts"),
    )
    STATE = PM_REGS.fields() + SMB_REGS.fields() + GPE_REGS.fields() + APM_REGS.fields() + (
        Field("eeprom", f"u8[{EEPROM_COUNT * EEPROM_SIZE}]", 0,
              "the SMBus EEPROMs at 0x50-0x57, 256 bytes each"),
        Field("eeprom_offset", f"u8[{EEPROM_COUNT}]", 0, "each EEPROM's address counter"),
        Field("smb_pending", "bool", False, "a started transaction runs at the next status read"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        self.power_off: Optional[Callable[[], None]] = None
        self.sci = IRQ("PIIX4_PM.sci")

    def realize(self) -> None:
        if self.clock is not None and not hasattr(self.clock, "now"):
            raise QOMError("PIIX4_PM: property 'clock' expects a virtual clock")
        self.pm_io = ContainerRegion(self, "piix4-pm", PM_IO_SIZE)
        # QEMU's access sizes: events and control take 1-2 bytes (handled as 2), the timer 1-4
        for name, base, size, max_access, impl in (("acpi-evt", 0, 4, 2, 2),
                                                   ("acpi-cnt", 4, 2, 2, 2),
                                                   ("acpi-tmr", 8, 4, 4, 4)):
            self.pm_io.add_subregion(base, IORegion(
                self, name, size, read=lambda o, sz, b=base: self.PM_REGS.read(self, b + o, sz),
                write=lambda o, v, sz, b=base: self.PM_REGS.write(self, b + o, v, sz),
                min_access=1, max_access=max_access, impl_min=impl, impl_max=impl))
        self.smb_io = self.SMB_REGS.region(self, "pm-smbus", SMBUS_IO_SIZE)
        self.gpe_io = self.GPE_REGS.region(self, "acpi-gpe0", 4)
        self.apm_io = self.APM_REGS.region(self, "apm-io", 2)
        for region in (self.pm_io, self.smb_io):
            region.set_enabled(False)
        super().realize()

    def plugged(self) -> None:
        self.map_fixed(0, self.pm_io)
        self.map_fixed(0, self.smb_io)
        self.map_fixed(GPE0_PORT, self.gpe_io)
        self.map_fixed(APM_PORT, self.apm_io)

    def device_reset(self) -> None:
        eeprom = bytearray(EEPROM_COUNT * EEPROM_SIZE)
        spd = malta_spd(self.ram_size)
        eeprom[0:len(spd)] = spd
        serial = malta_serial_eeprom()
        eeprom[6 * EEPROM_SIZE:6 * EEPROM_SIZE + len(serial)] = serial
        self.eeprom = list(eeprom)
        self._map_pm()
        self._map_smbus()
        self._update_sci()

    def post_load(self) -> None:
        super().post_load()
        self._map_pm()
        self._map_smbus()
        self._update_sci()

    # --- where the register blocks are --------------------------------------------------
    def _place(self, region, enabled: bool, base: int) -> None:
        if region.container is None:
            return
        region.set_address(base)
        region.set_enabled(enabled)

    def _map_pm(self) -> None:
        self._place(self.pm_io, bool(self.config[0x80] & 1), self.cfg(0x40, 4) & 0xFFC0)

    def _map_smbus(self) -> None:
        self._place(self.smb_io, bool(self.config[0xD2] & 1), self.cfg(0x90, 4) & 0xFFF0)

    # --- power management -----------------------------------------------------------------
    def _update_sci(self) -> None:
        level = (self.pm1_sts & self.pm1_en & SCI_EVENTS) or (self.gpe_sts & self.gpe_en)
        self.sci.set(1 if level else 0)

    def _w_pm1_sts(self, value: int) -> None:
        self.pm1_sts &= ~value & 0xFFFF
        self._update_sci()

    def _w_pm1_cnt(self, value: int) -> None:
        self.pm1_cnt = value & ~SLP_EN & 0xFFFF
        if not value & SLP_EN:
            return
        sleep_type = (value >> 10) & 7
        if sleep_type in (0, S4_TYPE):
            if self.power_off is None:
                log.log("unimp", "PIIX4_PM: soft-off requested with no board handler")
            else:
                self.power_off()
        elif sleep_type == 1:
            log.log("unimp", "PIIX4_PM: suspend to RAM is not implemented")

    def _r_pm_tmr(self) -> int:
        if self.clock is None:
            return 0
        return (self.clock.now() * PM_TIMER_HZ // 1_000_000_000) & 0xFFFFFF

    def _w_gpe_sts(self, value: int) -> None:
        self.gpe_sts &= ~value & 0xFFFF
        self._update_sci()

    def _apm_written(self) -> None:
        if self.apm_cnt == ACPI_ENABLE:
            self.pm1_cnt |= SCI_EN
        elif self.apm_cnt == ACPI_DISABLE:
            self.pm1_cnt &= ~SCI_EN

    def power_button(self) -> None:
        """The power button was pressed (system_powerdown)."""
        self.pm1_sts |= PWRBTN
        self._update_sci()

    # --- SMBus host -------------------------------------------------------------------------
    def _r_smb_sts(self) -> int:
        value = self.smb_stat
        if self.smb_pending:      # QEMU runs a started transaction when status is read
            self.smb_pending = False
            self.smb_stat &= ~STS_HOST_BUSY
            self._transaction()
        return value

    def _w_smb_sts(self, value: int) -> None:
        self.smb_stat &= ~(value & ~STS_HOST_BUSY) & 0xFF

    def _r_smb_ctl(self) -> int:
        return self.smb_ctl & CTL_RETURN_MASK

    def _w_smb_ctl(self, value: int) -> None:
        self.smb_ctl = value & ~CTL_START & 0xFF
        if value & CTL_START:
            self.smb_stat |= STS_HOST_BUSY
            self.smb_pending = True

    def _eeprom(self, addr: int) -> Optional[int]:
        index = addr - EEPROM_BASE
        return index if 0 <= index < EEPROM_COUNT else None

    def _recv(self, index: int) -> int:
        off = self.eeprom_offset[index]
        self.eeprom_offset[index] = (off + 1) & 0xFF
        return self.eeprom[index * EEPROM_SIZE + off]

    def _send(self, index: int, data: bytes) -> None:
        """An SMBus write: the first byte sets the address counter, the rest are stored."""
        self.eeprom_offset[index] = data[0]
        for b in data[1:]:
            off = self.eeprom_offset[index]
            self.eeprom[index * EEPROM_SIZE + off] = b
            self.eeprom_offset[index] = (off + 1) & 0xFF

    def _transaction(self) -> None:
        prot = (self.smb_ctl >> 2) & 7
        read = self.smb_addr & 1
        index = self._eeprom(self.smb_addr >> 1)
        ok = index is not None
        if ok:
            if prot == PROT_QUICK:
                pass
            elif prot == PROT_BYTE:
                if read:
                    self.smb_data0 = self._recv(index)
                else:
                    self._send(index, bytes((self.smb_cmd,)))
            elif prot == PROT_BYTE_DATA:
                if read:
                    self.eeprom_offset[index] = self.smb_cmd
                    self.smb_data0 = self._recv(index)
                else:
                    self._send(index, bytes((self.smb_cmd, self.smb_data0)))
            elif prot == PROT_WORD_DATA:
                if read:
                    self.eeprom_offset[index] = self.smb_cmd
                    self.smb_data0 = self._recv(index)
                    self.smb_data1 = self._recv(index)
                else:
                    self._send(index, bytes((self.smb_cmd, self.smb_data0, self.smb_data1)))
            else:
                log.log("unimp", f"pm-smbus: protocol {prot} is not implemented")
                ok = False
        self.smb_stat = (self.smb_stat & ~STS_HOST_BUSY) | (STS_INTR if ok else STS_DEV_ERR)
