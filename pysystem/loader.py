"""Loading guest images into an address space (QEMU's hw/core/loader.c in spirit).

Every function raises ``LoaderError`` with a one-line message for the user
(missing, empty, unreadable, corrupt or unknown-format file, image too big or
outside memory).

Images:
* ``load_elf(path, space, translate=None, big_endian=None, machine=None) -> ElfInfo``
  loads the PT_LOAD segments at their physical address (``p_paddr``, or
  ``translate(p_paddr)`` as QEMU does for MIPS kseg0 kernels), zero-filling
  to ``p_memsz``; ``machine`` (an e_machine number: ``EM_ARM``, ``EM_MIPS``) and
  ``big_endian`` refuse files for another target.
  ``ElfInfo(entry, low, high, big_endian, machine)``: ``entry``
  is the ELF entry (moved to the physical address when an executable segment's
  physical and virtual addresses differ and no ``translate`` is given, as QEMU
  does), ``low``/``high`` the loaded physical range (``high`` exclusive).
* ``load_raw(path, space, addr, max_size=None) -> size``;
  ``load_ramdisk(path, space, addr, max_size=None) -> size`` (a U-Boot ramdisk
  image's payload, else the raw file, as QEMU's -initrd).
* ``parse_uimage(path) -> UImage`` (U-Boot legacy image; header and data CRCs
  checked, gzip payloads decompressed); ``load_uimage(path, space)``.
* ``is_zimage(data)``: an ARM zImage (magic 0x016f2818 at 0x24).

Device trees (a ``fdt.FDT`` object from the ``fdt`` package):
* ``load_dtb(path)``, ``parse_dtb_bytes(data)``, ``dtb_bytes(dtb, total_size=None)``.
* ``set_memory(dtb, base, size)``: replace the root's memory nodes with one
  ``memory@BASE`` (device_type "memory", reg in the root's cell sizes); the old ones
  become NOP tags in the blob, as QEMU's fdt_nop_node leaves them.
* ``set_chosen(dtb, bootargs=None, initrd_start=None, initrd_end=None)``:
  bootargs if not empty; linux,initrd-start/-end as one 32-bit cell each.
* ``add_node(dtb, path, properties)``; ``sized_cells(dtb, addr, size)``;
  ``find_compatible(dtb, compatible)``; ``phandle_of(dtb, path)``.
  Nodes and properties are added as libfdt adds them (each new one first), so
  a board that makes the calls in QEMU's order gets QEMU's DTB.

Where a board puts these and how its CPU enters them is the board's business
(machines/arm_boot.py for ARM).

The ROM registry: every blob loaded is recorded (``add_rom``) in the list its address
space holds (``space.roms``), so two machines in one process never see each other's;
``roms(space)`` lists them by address, ``roms_text(space)`` is ``info roms``,
``rom_reset(space)`` copies them into memory again (at system reset, as QEMU does).
"""
from __future__ import annotations

import struct
import zlib
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from pysystem.memory import AddressSpace, BusError

__all__ = [
    "LoaderError", "ElfInfo", "UImage", "Rom", "load_elf", "load_raw", "parse_uimage",
    "load_uimage", "load_ramdisk", "is_zimage", "load_dtb", "parse_dtb_bytes", "dtb_bytes", "set_memory",
    "set_chosen", "add_node", "sized_cells", "find_compatible", "phandle_of", "get_cells",
    "add_rom", "roms", "roms_text", "rom_reset", "read_image",
]

EM_ARM = 40
EM_MIPS = 8
IH_MAGIC = 0x27051956
IH_OS_LINUX = 5
IH_ARCH_ARM = 2
IH_ARCH_MIPS = 5
IH_TYPE_KERNEL = 2
IH_TYPE_RAMDISK = 3
IH_TYPE_KERNEL_NOLOAD = 14
IH_COMP_NONE = 0
IH_COMP_GZIP = 1
ZIMAGE_MAGIC = 0x016F2818
MAX_GUNZIP = 64 << 20            # QEMU's LOAD_IMAGE_MAX_GUNZIP_BYTES
FDT_MAGIC = 0xD00DFEED


class LoaderError(Exception):
    """An image that cannot be loaded; the message is one line for the user."""


# --- files ---------------------------------------------------------------------------

def read_image(path: str, what: str = "image") -> bytes:
    """The bytes of ``path``; LoaderError if missing, unreadable, a directory or empty."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise LoaderError(f"could not load {what} '{path}': No such file or directory") from None
    except IsADirectoryError:
        raise LoaderError(f"could not load {what} '{path}': Is a directory") from None
    except OSError as e:
        raise LoaderError(f"could not load {what} '{path}': {e.strerror or e}") from None
    if not data:
        raise LoaderError(f"could not load {what} '{path}': the file is empty")
    return data


# --- the ROM registry ------------------------------------------------------------------

class Rom:
    """A blob copied into guest memory at load time and again at every reset."""

    __slots__ = ("name", "addr", "data", "romsize", "space", "isrom")

    def __init__(self, name: str, addr: int, data: bytes, romsize: int, space: AddressSpace,
                 isrom: bool):
        self.name, self.addr, self.data, self.romsize = name, addr, data, romsize
        self.space, self.isrom = space, isrom

    @property
    def size(self) -> int:
        return self.romsize

    def __repr__(self) -> str:
        return f"<Rom {self.name!r} at 0x{self.addr:x} size 0x{self.romsize:x}>"


def _check_fits(space: AddressSpace, addr: int, size: int, name: str) -> bool:
    """Raise LoaderError unless ``[addr, addr+size)`` is all RAM/ROM; return True if any is ROM."""
    end = addr + size
    pos = addr
    isrom = False
    while pos < end:
        r = space.lookup(pos)
        if r is None or r.backing is None:
            if pos == addr:
                raise LoaderError(f"could not load '{name}' at 0x{addr:x}: no memory there")
            raise LoaderError(f"could not load '{name}' at 0x{addr:x}: too big "
                              f"(0x{size:x} bytes, only 0x{pos - addr:x} fit in memory there)")
        isrom = isrom or r.readonly
        pos = r.end
    return isrom


def add_rom(name: str, addr: int, data: bytes, space: AddressSpace,
            romsize: Optional[int] = None) -> Rom:
    """Copy ``data`` to ``addr`` (zero-filled up to ``romsize``) and record it.

    LoaderError if it does not fit in memory or overlaps a blob already loaded
    into the same address space (QEMU refuses overlapping ROMs too).
    """
    data = bytes(data)
    romsize = len(data) if romsize is None else romsize
    if romsize < len(data):
        raise LoaderError(f"could not load '{name}': file size exceeds memory size")
    isrom = _check_fits(space, addr, romsize, name) if romsize else False
    for other in space.roms:
        if other.romsize and romsize and \
                addr < other.addr + other.romsize and other.addr < addr + romsize:
            raise LoaderError(f"rom: requested regions overlap (rom {name}. "
                              f"free=0x{other.addr + other.romsize:016x}, addr=0x{addr:016x})")
    rom = Rom(name, addr, data, romsize, space, isrom)
    _write_rom(rom)
    space.roms.append(rom)
    space.roms.sort(key=lambda r: r.addr)
    return rom


def _write_rom(rom: Rom) -> None:
    try:
        if rom.data:
            rom.space.write_bytes(rom.addr, rom.data)
        if rom.romsize > len(rom.data):
            rom.space.write_bytes(rom.addr + len(rom.data), bytes(rom.romsize - len(rom.data)))
    except BusError as e:
        raise LoaderError(f"could not load '{rom.name}' at 0x{rom.addr:x}: "
                          f"no memory at 0x{e.addr:x}") from None


def roms(space: AddressSpace) -> List[Rom]:
    """The blobs loaded into ``space`` so far, by address."""
    return list(space.roms)


def roms_text(space: AddressSpace) -> str:
    """``info roms`` of ``space``, in QEMU's format."""
    return "".join(f"addr={r.addr:016x} size=0x{r.romsize:06x} mem={'rom' if r.isrom else 'ram'} "
                   f"name=\"{r.name}\"\n" for r in space.roms)


def rom_reset(space: AddressSpace) -> None:
    """Copy every blob of ``space`` into memory again (QEMU does this at each system reset)."""
    for rom in space.roms:
        _write_rom(rom)


# --- raw images ---------------------------------------------------------------------------

def load_raw(path: str, space: AddressSpace, addr: int, max_size: Optional[int] = None,
             name: Optional[str] = None) -> int:
    """Copy the file to ``addr``; return its size."""
    data = read_image(path)
    if max_size is not None:
        max_size = max(max_size, 0)       # RAM smaller than the load offset
    if max_size is not None and len(data) > max_size:
        raise LoaderError(f"could not load '{path}': too big ({len(data)} bytes, "
                          f"at most {max_size} fit)")
    add_rom(name or path, addr, data, space)
    return len(data)


def load_ramdisk(path: str, space: AddressSpace, addr: int, max_size: Optional[int] = None) -> int:
    """An initrd: a U-Boot ramdisk image's payload if it is one, else the raw file; return its size."""
    with_magic = read_image(path, "initrd")
    if len(with_magic) >= 64 and int.from_bytes(with_magic[:4], "big") == IH_MAGIC:
        img = parse_uimage(path)
        if img.image_type == IH_TYPE_RAMDISK:
            if max_size is not None and len(img.data) > max_size:
                raise LoaderError(f"could not load initrd '{path}': too big to fit into RAM "
                                  f"after the kernel")
            add_rom(path, addr, img.data, space)
            return len(img.data)
    if max_size is not None and len(with_magic) > max_size:
        raise LoaderError(f"could not load initrd '{path}': too big to fit into RAM after the kernel")
    add_rom(path, addr, with_magic, space)
    return len(with_magic)


def is_zimage(data: bytes) -> bool:
    """True for an ARM zImage (either byte order)."""
    if len(data) < 0x28:
        return False
    word = data[0x24:0x28]
    return word in (ZIMAGE_MAGIC.to_bytes(4, "little"), ZIMAGE_MAGIC.to_bytes(4, "big"))


# --- ELF ------------------------------------------------------------------------------------

class ElfInfo(NamedTuple):
    entry: int
    low: int
    high: int
    big_endian: bool
    machine: int


def load_elf(path: str, space: AddressSpace, translate: Optional[Callable[[int], int]] = None,
             big_endian: Optional[bool] = None, machine: Optional[int] = None) -> ElfInfo:
    """Load an ELF executable's PT_LOAD segments; see the module docstring.

    ``machine`` is the ELF e_machine number the target needs (``EM_ARM``, ``EM_MIPS``),
    or None to accept any; anything else is a programming error (TypeError).
    """
    if machine is not None and (not isinstance(machine, int) or isinstance(machine, bool)):
        raise TypeError(f"load_elf: machine must be an e_machine number such as "
                        f"loader.EM_ARM, not {machine!r}")
    from io import BytesIO

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    data = read_image(path, "kernel")
    if data[:4] != b"\x7fELF":
        raise LoaderError(f"could not load '{path}': not an ELF file")
    try:
        elf = ELFFile(BytesIO(data))
        header = elf.header
        file_big = not elf.little_endian
        e_machine = elf["e_machine"]
        segments = []
        for i, seg in enumerate(elf.iter_segments()):
            if seg["p_type"] != "PT_LOAD":
                continue
            filesz, memsz = seg["p_filesz"], seg["p_memsz"]
            if filesz > memsz:
                raise LoaderError(f"could not load '{path}': segment {i} has file size "
                                  f"larger than memory size")
            if seg["p_offset"] + filesz > len(data):
                raise LoaderError(f"could not load '{path}': truncated ELF file "
                                  f"(segment {i} runs past the end)")
            segments.append((i, seg, data[seg["p_offset"]:seg["p_offset"] + filesz]))
    except ELFError as e:
        raise LoaderError(f"could not load '{path}': corrupt ELF file ({e})") from None
    except (struct.error, ValueError, KeyError):
        raise LoaderError(f"could not load '{path}': corrupt or truncated ELF file") from None
    if header["e_type"] not in ("ET_EXEC", "ET_DYN"):
        raise LoaderError(f"could not load '{path}': not an executable ELF file")
    mach_num = _machine_number(e_machine)
    if machine is not None and mach_num != machine:
        raise LoaderError(f"could not load '{path}': ELF file is for another architecture "
                          f"({e_machine})")
    if big_endian is not None and file_big != big_endian:
        raise LoaderError(f"could not load '{path}': ELF file is "
                          f"{'big' if file_big else 'little'}-endian, the target is not")
    if not segments:
        raise LoaderError(f"could not load '{path}': no loadable segments")

    entry = header["e_entry"]
    low, high = None, None
    placed = []
    for i, seg, blob in segments:
        paddr, vaddr, memsz = seg["p_paddr"], seg["p_vaddr"], seg["p_memsz"]
        addr = translate(paddr) if translate else paddr
        if translate is None and vaddr != paddr and vaddr <= header["e_entry"] < vaddr + seg["p_filesz"] \
                and seg["p_flags"] & 1:
            entry = header["e_entry"] - vaddr + paddr
        if memsz == 0:
            continue
        placed.append((f"{path} ELF program header segment {i}", addr, blob, memsz))
        low = addr if low is None else min(low, addr)
        high = addr + memsz if high is None else max(high, addr + memsz)
    for name, addr, blob, memsz in placed:      # check all before writing any
        _check_fits(space, addr, memsz, path)
    for name, addr, blob, memsz in placed:
        add_rom(name, addr, blob, space, memsz)
    return ElfInfo(entry, low if low is not None else 0, high if high is not None else 0,
                   file_big, mach_num)


def _machine_number(e_machine: Any) -> int:
    if isinstance(e_machine, int):
        return e_machine
    from elftools.elf.enums import ENUM_E_MACHINE
    return ENUM_E_MACHINE.get(e_machine, -1)


# --- U-Boot images --------------------------------------------------------------------------

class UImage(NamedTuple):
    load_addr: int
    entry: int
    image_type: int
    os: int
    arch: int
    compression: int
    data: bytes
    name: str


_UIMAGE_HDR = struct.Struct(">IIIIIIIBBBB32s")


def parse_uimage(path: str) -> UImage:
    """Parse a legacy U-Boot image; ``data`` is the payload, decompressed if it was gzip."""
    raw = read_image(path)
    if len(raw) < _UIMAGE_HDR.size or int.from_bytes(raw[:4], "big") != IH_MAGIC:
        raise LoaderError(f"could not load '{path}': not a U-Boot image")
    (magic, hcrc, _time, size, load, ep, dcrc, os_, arch, itype, comp,
     name) = _UIMAGE_HDR.unpack_from(raw)
    header = bytearray(raw[:_UIMAGE_HDR.size])
    header[4:8] = bytes(4)
    if zlib.crc32(bytes(header)) != hcrc:
        raise LoaderError(f"could not load '{path}': U-Boot image header CRC mismatch")
    payload = raw[_UIMAGE_HDR.size:_UIMAGE_HDR.size + size]
    if len(payload) < size:
        raise LoaderError(f"could not load '{path}': truncated U-Boot image "
                          f"({len(payload)} of {size} data bytes)")
    if zlib.crc32(payload) != dcrc:
        raise LoaderError(f"could not load '{path}': U-Boot image data CRC mismatch")
    if comp == IH_COMP_GZIP:
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            payload = d.decompress(payload, MAX_GUNZIP)
            if d.unconsumed_tail:
                raise LoaderError(f"could not load '{path}': decompressed image larger "
                                  f"than {MAX_GUNZIP >> 20} MiB")
            if not d.eof:
                raise LoaderError(f"could not load '{path}': truncated gzip data in U-Boot image")
        except zlib.error:
            raise LoaderError(f"could not load '{path}': corrupt gzip data in U-Boot image") from None
    elif comp != IH_COMP_NONE:
        raise LoaderError(f"could not load '{path}': Unable to load u-boot images with "
                          f"compression type {comp}")
    return UImage(load, ep, itype, os_, arch, comp, bytes(payload),
                  name.split(b"\0", 1)[0].decode("latin-1"))


def load_uimage(path: str, space: AddressSpace, image_type: int = IH_TYPE_KERNEL,
                noload_addr: Optional[int] = None) -> Tuple[UImage, int, int]:
    """Load a U-Boot image; return (image, load address, entry).

    As QEMU: a kernel_noload image is placed where it would sit if the whole file
    were loaded at ``noload_addr`` (just after the 64-byte header) and its entry is
    relative to that; other types must match ``image_type``.
    """
    img = parse_uimage(path)
    load, entry = img.load_addr, img.entry
    if img.image_type != image_type:
        if not (image_type == IH_TYPE_KERNEL and img.image_type == IH_TYPE_KERNEL_NOLOAD):
            raise LoaderError(f"could not load '{path}': wrong U-Boot image type "
                              f"{img.image_type} (want {image_type})")
        if noload_addr is None:
            raise LoaderError(f"could not load '{path}': kernel_noload image needs a load address")
        load = noload_addr + _UIMAGE_HDR.size
        entry = load + img.entry
    add_rom(path, load, img.data, space)
    return img, load, entry


# --- device trees ------------------------------------------------------------------------

def _strip_nops(blob: bytes, path: str) -> bytes:
    """Check the structure block and drop its NOP tokens (libfdt leaves them; fdt cannot read them)."""
    corrupt = LoaderError(f"could not load dtb '{path}': corrupt device tree blob")
    total, off_struct, off_strings, off_rsv, version = struct.unpack_from(">IIIII", blob, 4)
    size_struct = int.from_bytes(blob[36:40], "big") if version >= 17 else off_strings - off_struct
    if not (off_struct < total and off_strings <= total and off_rsv < total
            and off_struct + size_struct <= total):
        raise corrupt
    out = bytearray()
    pos, end, depth = off_struct, off_struct + size_struct, 0
    while True:
        if pos + 4 > end:
            raise corrupt
        tag = int.from_bytes(blob[pos:pos + 4], "big")
        if tag == 1:                                    # BEGIN_NODE name\0 padded
            nul = blob.find(b"\0", pos + 4, end)
            if nul < 0:
                raise corrupt
            nxt = (nul + 1 + 3) & ~3
            depth += 1
        elif tag == 2:                                  # END_NODE
            nxt = pos + 4
            depth -= 1
            if depth < 0:
                raise corrupt
        elif tag == 3:                                  # PROP len nameoff value padded
            if pos + 12 > end:
                raise corrupt
            length = int.from_bytes(blob[pos + 4:pos + 8], "big")
            nxt = (pos + 12 + length + 3) & ~3
        elif tag == 4:                                  # NOP
            pos += 4
            continue
        elif tag == 9:                                  # END
            out += blob[pos:pos + 4]
            break
        else:
            raise corrupt
        if nxt > end:
            raise corrupt
        out += blob[pos:nxt]
        pos = nxt
    if depth != 0:
        raise corrupt
    if len(out) == size_struct:
        return blob
    # rebuild: header, reserve map, structure, strings (offsets updated)
    strings = blob[off_strings:total] if version < 17 else \
        blob[off_strings:off_strings + int.from_bytes(blob[32:36], "big")]
    head = bytearray(blob[:off_struct])
    new_strings_off = off_struct + len(out)
    struct.pack_into(">I", head, 4, new_strings_off + len(strings))
    struct.pack_into(">I", head, 12, new_strings_off)
    if version >= 17:
        struct.pack_into(">I", head, 36, len(out))
    return bytes(head) + bytes(out) + bytes(strings)


def parse_dtb_bytes(data: bytes, path: str = "dtb"):
    import fdt
    if len(data) < 40 or int.from_bytes(data[:4], "big") != FDT_MAGIC:
        raise LoaderError(f"could not load dtb '{path}': not a device tree blob")
    total = int.from_bytes(data[4:8], "big")
    if total > len(data):
        raise LoaderError(f"could not load dtb '{path}': truncated device tree blob "
                          f"({len(data)} of {total} bytes)")
    try:
        blob = _strip_nops(bytes(data[:total]), path)
        tree = fdt.parse_dtb(blob)
    except Exception:       # the fdt package raises assorted types on corrupt blobs
        raise LoaderError(f"could not load dtb '{path}': corrupt device tree blob") from None
    if tree.root is None:
        raise LoaderError(f"could not load dtb '{path}': corrupt device tree blob")
    off_strings, version = struct.unpack_from(">I", blob, 12)[0], struct.unpack_from(">I", blob, 20)[0]
    end = off_strings + struct.unpack_from(">I", blob, 32)[0] if version >= 3 else len(blob)
    try:                    # libfdt keeps the file's string table and appends to it
        tree.root.pysystem_strings = blob[off_strings:end].decode("ascii")
    except UnicodeDecodeError:
        tree.root.pysystem_strings = None
    return tree


def load_dtb(path: str):
    """Parse a DTB file into a ``fdt.FDT`` object."""
    return parse_dtb_bytes(read_image(path, "dtb"), path)


def dtb_bytes(dtb, total_size: Optional[int] = None) -> bytes:
    """The blob of ``dtb``; ``total_size`` pads it (QEMU loads (file size + 10000) * 2 bytes).

    As libfdt writes it: the string table is the one of the file it was read from with
    the names of new properties appended as they were added, and nodes that
    ``set_memory`` replaced are NOP tags in place.
    """
    blob = dtb.to_dtb(strings=getattr(dtb.root, "pysystem_strings", None))
    if total_size is not None and total_size > len(blob):
        blob = blob[:4] + total_size.to_bytes(4, "big") + blob[8:] + bytes(total_size - len(blob))
    return blob


def _node(dtb, path: str):
    if path in ("", "/"):
        return dtb.root
    node = dtb.root
    for part in [p for p in path.split("/") if p]:
        node = next((n for n in node.nodes if n.name == part), None)
        if node is None:
            raise LoaderError(f"device tree has no node '{path}'")
    return node


def get_cells(dtb, name: str, path: str = "/", default: Optional[int] = None) -> int:
    """A one-cell property such as #address-cells."""
    prop = _node(dtb, path).get_property(name)
    if prop is None or not hasattr(prop, "data") or not prop.data:
        if default is not None:
            return default
        raise LoaderError(f"device tree has no '{name}' in '{path}'")
    return int(prop.data[0])


def sized_cells(dtb, addr: int, size: int, parent: str = "/") -> List[int]:
    """``addr`` and ``size`` as 32-bit cells in ``parent``'s #address-cells/#size-cells."""
    acells = get_cells(dtb, "#address-cells", parent)
    scells = get_cells(dtb, "#size-cells", parent)
    out: List[int] = []
    for value, n, what in ((addr, acells, "address"), (size, scells, "size")):
        if value >> (32 * n):
            raise LoaderError(f"device tree: {what} 0x{value:x} does not fit in {n} cell(s)")
        out += [(value >> (32 * (n - 1 - i))) & 0xFFFFFFFF for i in range(n)]
    return out


def _make_prop(name: str, value: Any):
    import fdt
    if value is None or value is True:
        return fdt.Property(name)
    if isinstance(value, str):
        return fdt.PropStrings(name, value)
    if isinstance(value, (bytes, bytearray)):
        return fdt.PropBytes(name, data=bytes(value))
    if isinstance(value, int):
        return fdt.PropWords(name, value & 0xFFFFFFFF)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return fdt.PropStrings(name, *value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return fdt.PropWords(name, *[v & 0xFFFFFFFF for v in value])
    raise LoaderError(f"device tree: cannot encode property '{name}' value {value!r}")


def _set_prop(node, name: str, value: Any) -> None:
    """Replace in place if present, else add it first (as libfdt does)."""
    prop = _make_prop(name, value)
    prop.set_parent(node)
    for i, old in enumerate(node.props):
        if old.name == name:
            node.props[i] = prop
            return
    node.props.insert(0, prop)
    root = node
    while root.parent is not None:
        root = root.parent
    table = getattr(root, "pysystem_strings", None)
    if table is not None and name + "\0" not in table:     # libfdt appends a new name
        root.pysystem_strings = table + name + "\0"


def _add_subnode(parent, name: str):
    import fdt
    if any(n.name == name for n in parent.nodes):
        raise LoaderError(f"device tree already has node '{name}' under '{parent.path}'")
    node = fdt.Node(name)
    node.set_parent(parent)
    parent.nodes.insert(0, node)
    return node


def add_node(dtb, path: str, properties: Optional[Dict[str, Any]] = None):
    """Add the node ``path`` (its parent must exist) with ``properties`` set in order.

    Values: str (a string), list of str, int (one cell), list of int (cells),
    bytes, None/True (an empty property such as dma-coherent).
    """
    parent_path, _, name = path.rstrip("/").rpartition("/")
    node = _add_subnode(_node(dtb, parent_path or "/"), name)
    for key, value in (properties or {}).items():
        _set_prop(node, key, value)
    return node


def set_memory(dtb, base: int, size: int) -> None:
    """Replace the root's /memory and /memory@* nodes with one memory@BASE node."""
    root = dtb.root
    acells = get_cells(dtb, "#address-cells")
    scells = get_cells(dtb, "#size-cells")
    if acells == 0 or scells == 0:
        raise LoaderError("dtb file invalid (#address-cells or #size-cells 0)")
    if scells < 2 and size >= 1 << 32:
        raise LoaderError("dtb file not compatible with RAM size > 4GB")
    root.nodes[:] = [_nop_node(n) if n.name == "memory" or n.name.startswith("memory@") else n
                     for n in root.nodes]
    add_node(dtb, f"/memory@{base:x}", {"device_type": "memory",
                                        "reg": sized_cells(dtb, base, size)})


_NOP_NODE_CLASS: List[Any] = []


def _nop_node(node):
    """What libfdt's fdt_nop_node leaves of ``node``: NOP tags over its bytes in the
    blob, nothing in the source form; no name a lookup can match."""
    if not _NOP_NODE_CLASS:
        import fdt

        class NopNode(fdt.Node):
            def __init__(self, size: int):
                super().__init__("(nop)")
                self.nop_size = size

            def to_dtb(self, strings, pos=0, version=17):
                return struct.pack(">I", 4) * (self.nop_size // 4), strings, pos + self.nop_size

            def to_dts(self, tabsize=4, depth=0):
                return ""
        _NOP_NODE_CLASS.append(NopNode)
    return _NOP_NODE_CLASS[0](len(node.to_dtb("")[0]))


def set_chosen(dtb, bootargs: Optional[str] = None, initrd_start: Optional[int] = None,
               initrd_end: Optional[int] = None) -> None:
    """Set /chosen (created if missing) as QEMU's arm_load_dtb does."""
    node = next((n for n in dtb.root.nodes if n.name == "chosen"), None)
    if node is None:
        node = _add_subnode(dtb.root, "chosen")
    if bootargs:
        _set_prop(node, "bootargs", bootargs)
    if initrd_start is not None and initrd_end is not None and initrd_end > initrd_start:
        _set_prop(node, "linux,initrd-start", initrd_start)
        _set_prop(node, "linux,initrd-end", initrd_end)


def find_compatible(dtb, compatible: str) -> Optional[str]:
    """The path of the first node (in blob order) whose compatible lists ``compatible``."""
    def visit(node, path):
        prop = node.get_property("compatible")
        if prop is not None and compatible in list(getattr(prop, "data", [])):
            return path
        for child in node.nodes:
            found = visit(child, f"{path.rstrip('/')}/{child.name}")
            if found:
                return found
        return None
    return visit(dtb.root, "/")


def phandle_of(dtb, path: str) -> int:
    """The phandle of ``path`` (0 if it has none)."""
    node = _node(dtb, path)
    for name in ("phandle", "linux,phandle"):
        prop = node.get_property(name)
        if prop is not None and getattr(prop, "data", None):
            return int(prop.data[0])
    return 0
