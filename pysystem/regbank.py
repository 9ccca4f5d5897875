"""Device registers declared once, as data.

A device lists its registers in one ``RegisterBank``; MMIO dispatch, reset
values, migratable state, tracing (by register name) and "unimplemented
register" logging all come from that table:

    REGS = RegisterBank("pl011",
        Reg("DR",   0x000, read="_read_dr", write="_write_dr", stored=False),
        Reg("IBRD", 0x024, mask=0xFFFF),
        Reg("IMSC", 0x038, mask=0x7FF, on_write="_update_irq"),
        Reg("RIS",  0x03C, access="ro", read="_read_ris", stored=False),
        Reg("PID",  0xFE0, count=4, access="ro", reset=[0x11, 0x10, 0x14, 0x00]),
    )
    STATE = REGS.fields() + (Field("read_fifo", "u32[16]"), ...)

* A *stored* register (the default) is a declared state field named after the
  register in lower case (``self.imsc``; ``attr=`` names it otherwise, e.g. when the
  register's name is also a method's); ``count > 1`` makes it a list, one entry
  per ``stride`` bytes.  Guest writes keep the bits outside ``mask``.
* ``read="method"`` computes the value instead of returning the stored one;
  ``write="method"`` handles a write entirely (the method stores what it wants);
  ``on_write="method"`` runs after a stored register took the new value.
  Methods of array registers get the index first: ``_read_x(self, i)``,
  ``_write_x(self, i, value)``; scalar ones ``_read_x(self)``, ``_write_x(self, value)``.
* ``access``: "rw", "ro" (guest writes are ignored and logged under
  ``guest_errors``), "wo" (reads return 0 and are logged).
* Offsets nobody declared read as zero and ignore writes, logged under ``unimp``;
  every access is logged with the register's name under ``trace``.
* ``width`` is the register's size in bytes (1, 2 or 4); accesses narrower than
  the register read and write the addressed bytes of it, so byte-wide arrays (GIC
  priorities) and word accesses to them both work.  Which bytes an offset addresses
  is the device's byte order (``region(..., endianness=)``): in a little-endian
  register offset 0 is the least significant byte, in a big-endian one the most.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import log
from .qom import Field

_FIELD_KIND = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


class Reg:
    __slots__ = ("name", "offset", "reset", "mask", "access", "read", "write", "on_write",
                 "count", "stride", "width", "stored", "doc", "attr")

    def __init__(self, name: str, offset: int, reset: Any = 0, mask: Optional[int] = None,
                 access: str = "rw", read: Optional[str] = None, write: Optional[str] = None,
                 on_write: Optional[str] = None, count: int = 1, stride: Optional[int] = None,
                 width: int = 4, stored: bool = True, doc: str = "", attr: Optional[str] = None):
        if access not in ("rw", "ro", "wo"):
            raise ValueError(f"register {name}: access must be rw, ro or wo")
        self.name, self.offset, self.reset, self.access = name, offset, reset, access
        self.mask = ((1 << (8 * width)) - 1) if mask is None else mask
        self.read, self.write, self.on_write = read, write, on_write
        self.count, self.stride, self.width = count, stride or width, width
        self.stored, self.doc = stored, doc
        self.attr = attr or name.lower()

    def field(self) -> Field:
        kind = _FIELD_KIND[self.width]
        if self.count > 1:
            kind = f"{kind}[{self.count}]"
        return Field(self.attr, kind, self.reset, self.doc or self.name)


class RegisterBank:
    """The register table of one device type; see the module docstring."""

    def __init__(self, device_name: str, *regs: Reg):
        self.device_name = device_name
        self.regs: Tuple[Reg, ...] = regs
        # byte offset of every register slot -> (reg, index)
        self._slots: Dict[int, Tuple[Reg, int]] = {}
        for reg in regs:
            for i in range(reg.count):
                base = reg.offset + i * reg.stride
                if base in self._slots:
                    raise ValueError(f"{device_name}: {reg.name} overlaps "
                                     f"{self._slots[base][0].name} at 0x{base:x}")
                self._slots[base] = (reg, i)

    def fields(self) -> Tuple[Field, ...]:
        return tuple(r.field() for r in self.regs if r.stored)

    def find(self, offset: int) -> Optional[Tuple[Reg, int, int]]:
        """The register slot holding byte ``offset``: (reg, index, byte within the slot)."""
        slot = self._slots.get(offset)
        if slot is not None:
            return slot[0], slot[1], 0
        for back in (1, 2, 3):
            slot = self._slots.get(offset - back)
            if slot is not None and back < slot[0].width:
                return slot[0], slot[1], back
        return None

    # --- dispatch -------------------------------------------------------------------
    def _get(self, dev: Any, reg: Reg, index: int) -> int:
        if reg.read is not None:
            method = getattr(dev, reg.read)
            return method(index) if reg.count > 1 else method()
        if not reg.stored:
            return 0
        value = getattr(dev, reg.attr)
        return value[index] if reg.count > 1 else value

    def _put(self, dev: Any, reg: Reg, index: int, value: int) -> None:
        if reg.write is not None:
            method = getattr(dev, reg.write)
            if reg.count > 1:
                method(index, value)
            else:
                method(value)
            return
        if reg.stored:
            if reg.count > 1:
                store = getattr(dev, reg.attr)
                store[index] = (store[index] & ~reg.mask) | (value & reg.mask)
            else:
                old = getattr(dev, reg.attr)
                setattr(dev, reg.attr, (old & ~reg.mask) | (value & reg.mask))
        if reg.on_write is not None:
            method = getattr(dev, reg.on_write)
            if reg.count > 1:
                method(index)
            else:
                method()

    def read(self, dev: Any, offset: int, size: int, big: bool = False) -> int:
        """Read ``size`` bytes at ``offset``; may span consecutive byte-wide registers.
        ``big``: the registers are big-endian."""
        result, done = 0, 0
        while done < size:
            found = self.find(offset + done)
            if found is None:
                if done == 0:
                    log.log("unimp", f"{self.device_name}: read of unimplemented register "
                                     f"0x{offset:03x} (size {size})")
                    return 0
                if big:  # the bytes read so far are the most significant
                    result <<= 8 * (size - done)
                break
            reg, index, byte = found
            if reg.access == "wo":
                log.log("guest_errors", f"{self.device_name}: read of write-only register {reg.name}")
                value = 0
            else:
                value = self._get(dev, reg, index)
            take = min(reg.width - byte, size - done)
            shift = 8 * (reg.width - byte - take) if big else 8 * byte
            part = (value >> shift) & ((1 << (8 * take)) - 1)
            if big:
                result = (result << (8 * take)) | part
            else:
                result |= part << (8 * done)
            if "trace" in log.mask:
                log.write(f"{self.device_name}: read {self._label(reg, index)} -> 0x{value:x}\n")
            done += take
        return result

    def write(self, dev: Any, offset: int, value: int, size: int, big: bool = False) -> None:
        done = 0
        while done < size:
            found = self.find(offset + done)
            if found is None:
                if done == 0:
                    log.log("unimp", f"{self.device_name}: write of unimplemented register "
                                     f"0x{offset:03x} value 0x{value:x} (size {size})")
                return
            reg, index, byte = found
            take = min(reg.width - byte, size - done)
            from_value = 8 * (size - done - take) if big else 8 * done
            part = (value >> from_value) & ((1 << (8 * take)) - 1)
            if "trace" in log.mask:
                log.write(f"{self.device_name}: write {self._label(reg, index)} <- 0x{part:x}\n")
            if reg.access == "ro":
                log.log("guest_errors", f"{self.device_name}: write to read-only register {reg.name}")
            else:
                if take < reg.width:  # partial write: merge into the current value
                    old = self._get(dev, reg, index)
                    shift = 8 * (reg.width - byte - take) if big else 8 * byte
                    lane = ((1 << (8 * take)) - 1) << shift
                    part = (old & ~lane) | ((part << shift) & lane)
                self._put(dev, reg, index, part)
            done += take

    @staticmethod
    def _label(reg: Reg, index: int) -> str:
        return f"{reg.name}[{index}]" if reg.count > 1 else reg.name

    def region(self, dev: Any, name: str, size: int, min_access: int = 1, max_access: int = 4,
               impl_min: int = 1, impl_max: int = 4, endianness: str = "little"):
        """An IORegion dispatching through this table.

        ``impl_min=4`` makes narrower guest accesses reach the table as 4-byte
        ones (QEMU's ``.impl.min_access_size = 4``): a 16-bit write to a data
        register then writes it whole instead of merging with a read of it.
        ``endianness`` ("little" or "big") is the registers' byte order: the memory
        layer swaps values against the guest's, and narrow accesses address the
        register's bytes in that order.
        """
        from pysystem.memory import IORegion
        if endianness not in ("little", "big"):
            raise ValueError(f"{self.device_name}: register banks are little- or big-endian")
        big = endianness == "big"
        return IORegion(dev, name, size,
                        read=lambda off, sz: self.read(dev, off, sz, big),
                        write=lambda off, val, sz: self.write(dev, off, val, sz, big),
                        min_access=min_access, max_access=max_access,
                        impl_min=impl_min, impl_max=impl_max, endianness=endianness)

    def banked_region(self, dev: Any, name: str, size: int, cpu: Optional[int] = None,
                      min_access: int = 4, max_access: int = 4, impl_min: Optional[int] = None,
                      impl_max: Optional[int] = None):
        """An IORegion for registers banked per CPU (the A9 MPCore's private peripherals).

        Before each access it sets ``dev._cur``: to ``cpu``, or with ``cpu=None`` to the
        accessing CPU, ``dev.current_cpu()`` (a CPU the device does not have, as far as
        ``dev.num_cpu`` says, is logged under guest_errors and taken as CPU 0).
        """
        from pysystem.memory import IORegion

        def select() -> None:
            if cpu is not None:
                dev._cur = cpu
                return
            this = dev.current_cpu()
            if not 0 <= this < dev.num_cpu:
                log.log("guest_errors", f"{self.device_name}: access from CPU {this} "
                                        f"of {dev.num_cpu}")
                this = 0
            dev._cur = this

        def read(off: int, sz: int) -> int:
            select()
            return self.read(dev, off, sz)

        def write(off: int, value: int, sz: int) -> None:
            select()
            self.write(dev, off, value, sz)
        return IORegion(dev, name, size, read=read, write=write, min_access=min_access,
                        max_access=max_access, impl_min=impl_min, impl_max=impl_max)

    def names(self) -> List[str]:
        return [r.name for r in self.regs]

