"""Memory commands of HMP: x, xp, print/p, memsave, pmemsave.

``x /fmt addr`` reads through the current CPU's MMU (``cpu.read_virt``), ``xp``
the system address space; formats x d u o c i and sizes b h w g, with QEMU's
sticky defaults and line layout (16 bytes a line, 8 for bytes; ``x`` prints the
address with 8 hex digits, ``xp`` with 16), items in the guest's byte order (the CPU's
``big_endian``).  ``/i`` disassembles with capstone in the mode the CPU names for its
current state (``cpu.disassembler()``: ARM or Thumb), one instruction a line as QEMU's
capstone printer: ``0x60010000:  e1a00000  mov      r0, r0`` (Thumb:
``0x60010008:  2111       movs     r1, #0x11``, 32-bit Thumb as two halfwords).
Undecodable words print as ``.byte``.  Unreadable memory prints QEMU's
``Cannot access memory`` / ``unable to read memory``.

Arguments: ``x``/``xp``/``print`` take the rest of the line as one expression;
``memsave``/``pmemsave`` take three blank-separated words (QEMU would read
``16 /tmp/f`` as a division; here a file name may start with ``/``).
"""
from __future__ import annotations

from typing import List, Optional

from .hmp_table import MonitorError, UsageError, command
from .hmp_expr import ExprError, Format, evaluate, parse_format

MAX_SAVE = 1 << 32          # memsave/pmemsave bytes at most (the 32-bit address space)
MAX_ITEMS = 1 << 16         # x/xp items per command (QEMU has no limit; a typo must not hang us)
MAX_DUMP_TEXT = 1 << 18     # x/xp output bytes at most: a socket chardev keeps 1 MiB for a
                            # slow reader, and a QMP reply escapes each line end to 4 bytes
INSN_TEXT = 64              # bytes of one /i line at most (address, encoding, operands)


def registers_of(mon):
    cpu = mon.cpu()

    def lookup(name: str) -> Optional[int]:
        return None if cpu is None else cpu.read_register(name)
    return lookup


def expr_value(mon, cmd: str, text: str) -> int:
    """Evaluate ``text`` for command ``cmd`` (its table name); errors as QEMU words them."""
    try:
        return evaluate(text, registers_of(mon))[0]
    except ExprError as e:
        msg = str(e)
        if msg == "extraneous":
            msg = f"{cmd}: extraneous characters at the end of line"
        raise UsageError(cmd.split("|")[-1], msg) from None


def printc(v: int) -> str:
    """QEMU's monitor_printc: a quoted character or escape."""
    c = v & 0xFFFFFFFF
    c = c - (1 << 32) if c >> 31 else c
    special = {39: "\\'", 92: "\\\\", 10: "\\n", 13: "\\r"}
    if c in special:
        body = special[c]
    elif 32 <= c <= 126:
        body = chr(c)
    else:
        body = f"\\x{c & 0xFFFFFFFF:02x}"
    return f"'{body}'"


def _disassemble(mon, addr: int, count: int, physical: bool) -> str:
    try:
        import capstone
    except ImportError:
        raise MonitorError("x /i needs the capstone disassembler (pip install capstone)") from None
    cpu = mon.cpu()
    if cpu is None:
        raise MonitorError("No CPU available")
    how = cpu.disassembler()
    if how is None:
        raise MonitorError("x /i: this CPU has no disassembler")
    arch, mode, unit = how
    order = "big" if cpu.big_endian else "little"
    cs = capstone.Cs(arch, mode | (capstone.CS_MODE_BIG_ENDIAN if cpu.big_endian else 0))
    cs.skipdata = True
    out = []
    for _ in range(count):
        addr &= 0xFFFFFFFF
        try:
            code = _read(mon, addr, 4, physical)
        except MonitorError:
            try:
                code = _read(mon, addr, unit, physical) if unit < 4 else None
            except MonitorError:
                code = None
            if code is None:
                out.append(f"0x{addr:08x}: unable to read memory")
                break
        insn = next(iter(cs.disasm(code, addr, 1)), None)
        if insn is None:
            out.append(f"0x{addr:08x}: unable to read memory")
            break
        raw = bytes(insn.bytes)
        if unit < 4:
            units = " ".join(f"{int.from_bytes(raw[i:i + unit], order):0{2 * unit}x}"
                             for i in range(0, len(raw), unit))
            enc = units.ljust(9)
        else:
            word = int.from_bytes(raw[:4].ljust(4, bytes(1)), order)
            enc = f"{word:08x}"
        out.append(f"0x{addr:08x}:  {enc}  {insn.mnemonic:<8} {insn.op_str}")
        addr += insn.size
    return "\n".join(out)


def _big_endian(mon) -> bool:
    """The guest's byte order: the current CPU's, else the system address space's."""
    cpu = mon.cpu()
    if cpu is not None:
        return bool(cpu.big_endian)
    machine = mon.need_machine()
    return bool(getattr(machine.address_space, "big_endian", False))


def _read(mon, addr: int, n: int, physical: bool) -> bytes:
    machine = mon.need_machine()
    if physical:
        space = machine.address_space
        if space is None:
            raise MonitorError("no memory")
        try:
            return space.read_bytes(addr, n)
        except Exception:  # noqa: BLE001 - any bus error is "cannot access"
            raise MonitorError("Cannot access memory") from None
    cpu = mon.cpu()
    if cpu is None:
        raise MonitorError("No CPU available")
    try:
        return cpu.read_virt(addr, n)
    except Exception:  # noqa: BLE001
        raise MonitorError("Cannot access memory") from None


def memory_dump(mon, fmt: Format, addr: int, physical: bool) -> str:
    if fmt.count > MAX_ITEMS:
        raise MonitorError(f"count {fmt.count} is too large (at most {MAX_ITEMS})")
    if fmt.format == "i":
        _check_dump_size(fmt.count * INSN_TEXT)
        return _disassemble(mon, addr, fmt.count, physical)
    wsize = fmt.size
    length = wsize * fmt.count
    line_size = 8 if wsize == 1 else 16
    fmtc = fmt.format
    if fmtc == "c":
        wsize = 1
    digits = {"o": -(-wsize * 8 // 3), "x": wsize * 2, "u": -(-wsize * 80 // 33),
              "d": -(-wsize * 80 // 33)}.get(fmtc, wsize * 2)
    lines = -(-length // line_size)
    _check_dump_size(lines * 20 + (length // wsize) * (max(digits, 6) + 3))
    out: List[str] = []
    mask = (1 << 64) - 1 if physical else 0xFFFFFFFF
    order = "big" if _big_endian(mon) else "little"
    while length > 0:
        addr &= mask
        head = f"{addr:016x}:" if physical else f"{addr:08x}:"
        n = min(length, line_size)
        try:
            data = _read(mon, addr, n, physical)
        except MonitorError as e:
            out.append(f"{head} {e}")
            break
        items = [head]
        for i in range(0, n, wsize):
            v = int.from_bytes(data[i:i + wsize], order)
            if fmtc == "o":
                items.append((f"0{v:o}" if v else "0").rjust(digits))     # C's %#*o
            elif fmtc == "u":
                items.append(f"{v}".rjust(digits))
            elif fmtc == "d":
                sv = v - (1 << 64) if v >> 63 else v
                items.append(f"{sv}".rjust(digits))
            elif fmtc == "c":
                items.append(printc(v))
            else:
                items.append("0x" + f"{v:x}".rjust(digits, "0"))
        out.append(" ".join(items))
        addr += n
        length -= n
    return "\n".join(out)


def _check_dump_size(estimate: int) -> None:
    """Refuse up front a dump whose text would not reach the client whole."""
    if estimate > MAX_DUMP_TEXT:
        raise MonitorError(f"output of up to {estimate} bytes is too large (at most "
                           f"{MAX_DUMP_TEXT} a command): dump fewer items at a time")


def _x_common(mon, cmd: str, rest: str, physical: bool) -> str:
    try:
        fmt, rest = parse_format(rest, mon.fmt)
    except ExprError as e:
        raise UsageError(cmd, str(e)) from None
    addr = expr_value(mon, cmd, rest)
    return memory_dump(mon, fmt, addr, physical)


@command("x", "/fmt addr", "virtual memory dump starting at 'addr'", raw=True, args=("expr",))
def _x(mon, rest: str) -> str:
    return _x_common(mon, "x", rest, physical=False)


@command("xp", "/fmt addr", "physical memory dump starting at 'addr'", raw=True, args=("expr",))
def _xp(mon, rest: str) -> str:
    return _x_common(mon, "xp", rest, physical=True)


@command("print|p", "/fmt expr", "print expression value (use $reg for CPU register access)",
         raw=True, args=("expr",))
def _print(mon, rest: str) -> str:
    try:
        fmt, rest = parse_format(rest, mon.fmt)
    except ExprError as e:
        raise UsageError("p", str(e)) from None
    v = expr_value(mon, "print|p", rest) & ((1 << 64) - 1)
    f = fmt.format
    if f == "o":
        return f"0{v:o}" if v else "0"
    if f == "x":
        return f"0x{v:x}" if v else "0"
    if f == "u":
        return f"{v}"
    if f == "c":
        return printc(v)
    return f"{v - (1 << 64) if v >> 63 else v}"


def _save_args(mon, cmd: str, args: List[str]):
    if len(args) < 3:
        if len(args) < 2:
            raise UsageError(cmd, "unexpected end of expression")
        raise UsageError(cmd, f"{cmd}: string expected")
    if len(args) > 3:
        raise UsageError(cmd, f"{cmd}: extraneous characters at the end of line")
    return expr_value(mon, cmd, args[0]), expr_value(mon, cmd, args[1]), args[2]


def save_memory(mon, addr: int, size: int, path: str, physical: bool) -> None:
    """memsave/pmemsave with their arguments as values (QMP calls this directly);
    MonitorError with QEMU's texts, without HMP's ``Error:`` prefix."""
    if addr < 0 or size < 0 or size > MAX_SAVE or addr + size > 1 << 64:
        raise MonitorError(f"Invalid addr 0x{addr & ((1 << 64) - 1):016x}/size {size} specified")
    if physical:
        space = mon.need_machine().address_space
    else:
        cpu = mon.cpu()
        if cpu is None:
            raise MonitorError("No CPU available")
    try:
        fh = open(path, "wb")
    except OSError as e:
        raise MonitorError(f"Could not open '{path}': {e.strerror}") from None
    try:
        with fh:
            for off in range(0, size, 1 << 16):
                n = min(1 << 16, size - off)
                if physical:
                    try:
                        chunk = space.read_bytes(addr + off, n)
                    except Exception:  # noqa: BLE001 - holes read as zeros, as QEMU's do
                        chunk = bytes(n)
                else:
                    try:
                        chunk = cpu.read_virt((addr + off) & 0xFFFFFFFF, n)
                    except Exception:  # noqa: BLE001 - an unmapped page ends the dump
                        raise MonitorError(f"Invalid addr 0x{addr:016x}/size {size} "
                                           "specified") from None
                fh.write(chunk)
    except OSError:
        raise MonitorError("An IO error has occurred") from None     # QEMU's QERR_IO_ERROR


def _hmp_save(mon, cmd: str, args: List[str], physical: bool) -> str:
    addr, size, path = _save_args(mon, cmd, args)
    try:
        save_memory(mon, addr, size, path, physical)
    except MonitorError as e:
        raise MonitorError(f"Error: {e}") from None
    return ""


@command("memsave", "addr size file",
         "save to disk virtual memory dump starting at 'addr' of size 'size'",
         args=("expr", "expr", "file"))
def _memsave(mon, args: List[str]) -> str:
    return _hmp_save(mon, "memsave", args, physical=False)


@command("pmemsave", "addr size file",
         "save to disk physical memory dump starting at 'addr' of size 'size'",
         args=("expr", "expr", "file"))
def _pmemsave(mon, args: List[str]) -> str:
    return _hmp_save(mon, "pmemsave", args, physical=True)
