"""The gdb stub: gdb's remote protocol on a chardev, as gdb-multiarch uses it with QEMU 7.2.

    stub = start_gdbserver(machine, "tcp::1234", hmp=run_line)   # -s, -gdb DEV, HMP
    stub = GdbStub(machine, hmp=run_line); stub.attach(chardev)  # gdbserver; "none" stops

``hmp`` runs one HMP command line and returns its output (``qRcmd``, gdb's ``monitor``);
the caller (the command line, the HMP ``gdbserver`` command) passes it, so this module
does not import the monitor that imports it.  Without it ``qRcmd`` gets the empty reply.

Run control.  A debugger connecting stops the guest (QEMU does the same).  ``c``,
``C``, ``vCont;c`` resume the machine; the stop reply comes when a CPU reaches a
breakpoint or touches a watchpoint (cpu/engine/debug.py), when the debugger sends the
interrupt byte (Ctrl-C: ``T02``), or when something else stops the VM (the monitor's
``stop``).  ``s``, ``S``, ``vCont;s`` execute one instruction of the chosen CPU right
away, with interrupts and timers held off as QEMU's default (a MIPS branch runs with
its delay slot).  The machine's run state is ``debug`` while a breakpoint, watchpoint or
step holds it (``info status``: "paused (debug)").

Packets (replies as QEMU 7.2 gives them): ``qSupported`` (PacketSize=1000,
qXfer:features:read+, vContSupported+, QStartNoAckMode+, multiprocess+ when gdb offers
it), ``qXfer:features:read`` (gdbstub_targets.py; chunked), ``QStartNoAckMode``, ``?``,
``H``, ``T``, ``qC``, ``qfThreadInfo``/``qsThreadInfo`` (one thread per CPU),
``qThreadExtraInfo``, ``qAttached``, ``qRcmd`` (any HMP command; its output in ``O``
packets, hex, ``\\r\\n`` line ends), ``g``/``G``/``p``/``P``, ``m``/``M``/``X``,
``c``/``C``/``s``/``S``/``vCont``, ``Z0``-``Z4``/``z0``-``z4`` (software and hardware
breakpoints are the same here; any kind: ARM 2/3/4), ``D`` (breakpoints and watchpoints
go, the guest continues), ``k``/``vKill`` (the emulator exits), ``bs``/``bc``
(reverse-stepi, reverse-continue: gdbstub_reverse.py; one-CPU machines; after going back,
``c``/``s`` replay the recorded history before running live).  ``qOffsets`` gets the
empty reply, as from QEMU's system emulator.  Unknown packets get the empty reply;
malformed ones ``E22`` (a bad signal number in ``C``/``S``/``vCont`` too: the guest does not
run); memory that does not translate ``E14``.  Addresses that gdb sign-extends (MIPS's
kseg0/kseg1) are taken modulo 2^32, as QEMU does; an ``X`` packet carries up to
PacketSize bytes.  A debugger that goes
away (even in the middle of a packet) leaves the guest as it was and the stub listening.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional

from pysystem import log

from .gdbstub_packet import PacketReader, escape_binary, frame, unescape_binary
from .gdbstub_reverse import History
from .gdbstub_targets import target_for

MAX_PACKET = 4096
SIGINT, SIGTRAP = 2, 5
DEFAULT_DEVICE = "tcp::1234"
WATCH_TYPES = {2: ("", 1), 3: ("r", 2), 4: ("a", 3)}   # Z type -> (stop reply prefix, kind)


class GdbError(Exception):
    """A packet the stub refuses: its E code."""

    def __init__(self, code: int = 22):
        super().__init__(code)
        self.code = code


def _hex_int(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise GdbError(22) from None


class GdbStub:
    def __init__(self, machine, hmp: Optional[Callable[[str], str]] = None):
        self.machine = machine
        self.hmp = hmp
        self.chardev = None
        self.reader = PacketReader(MAX_PACKET)
        self.target = target_for(machine.cpus[0]) if machine.cpus else None
        self.breakpoints: set = set()
        self.watchpoints: set = set()
        # reverse execution: one CPU only
        self.history = History(machine, machine.cpus[0]) if len(machine.cpus) == 1 else None
        self._reset_session()
        self.waiting = False        # a resume was sent: a stop reply is owed
        self.stepping = False
        self.detached = False
        machine.add_listener(self._machine_event)
        for cpu in machine.cpus:
            cpu.on_debug_stop = self._debug_stop

    def _reset_session(self) -> None:
        self.no_ack = False
        self.multiprocess = False
        self.xml_read = False
        self.g_cpu = 0
        self.c_cpu = 0

    # --- the chardev ----------------------------------------------------------------
    def attach(self, chardev) -> None:
        self.chardev = chardev
        if self.history is not None:
            self.history.recorder.skip = chardev    # not guest input: not recorded
        chardev.set_handlers(lambda: 4096, self.receive, self._event)

    def close(self) -> None:
        """Stop serving (``gdbserver none`` or another device)."""
        self._forget_history()
        for cpu in self.machine.cpus:
            if cpu.on_debug_stop == self._debug_stop:
                cpu.on_debug_stop = None
        self._remove_all()
        if self.chardev is not None:
            self.chardev.set_handlers(None, None, None)
            self.chardev = None
        try:
            self.machine.listeners.remove(self._machine_event)
        except ValueError:
            pass

    def _event(self, ev: str) -> None:
        if ev == "opened":
            self.reader.reset()
            self._reset_session()
            self.detached = False
            self.waiting = False
            self.machine.pause()           # QEMU stops the guest for a new debugger
        elif ev == "closed":
            self.reader.reset()            # a half-received packet dies with its connection
            self.waiting = False
            self._forget_history()

    def _forget_history(self) -> None:
        """No debugger: no history, and nothing recorded (what recording wraps is put back)."""
        if self.history is not None:
            self.history.stop()

    def _send(self, payload: str) -> None:
        self._send_bytes(payload.encode("latin-1"))

    def _send_bytes(self, payload: bytes) -> None:
        if self.chardev is not None:
            self.chardev.write(frame(payload))

    def receive(self, data: bytes) -> None:
        for kind, payload in self.reader.feed(data):
            if kind == "interrupt":
                self._interrupt()
            elif kind == "bad":
                if not self.no_ack:
                    self.chardev.write(b"-")
            else:
                if not self.no_ack and self.chardev is not None:
                    self.chardev.write(b"+")
                try:
                    reply = self.handle(payload)
                except GdbError as e:
                    reply = f"E{e.code:02d}"
                except Exception as e:  # noqa: BLE001 - a packet must never stop the VM
                    log.log("guest_errors", f"gdbstub: packet {payload[:40]!r}: "
                                            f"{type(e).__name__}: {e}")
                    reply = "E22"
                if reply is not None:
                    self._send_bytes(reply if isinstance(reply, bytes) else reply.encode("latin-1"))
                if self.chardev is None:
                    return

    # --- threads (one per CPU) ----------------------------------------------------------
    def _tid(self, index: int) -> str:
        return f"p01.{index + 1:02x}" if self.multiprocess else f"{index + 1:02x}"

    def _parse_tid(self, text: str) -> Optional[int]:
        """A thread id -> CPU index; -1 for all, None for any (0)."""
        if text.startswith("p"):
            _, _, text = text[1:].partition(".")
            if not text:
                return -1
        if text == "-1":
            return -1
        n = _hex_int(text)
        if n == 0:
            return None
        return self._thread_index(n)

    def _thread_index(self, n: int) -> int:
        """The index of thread id ``n`` (>0): here one thread per CPU, numbered from 1."""
        if not 1 <= n <= len(self.machine.cpus):
            raise GdbError(22)
        return n - 1

    def _cpu(self, index: Optional[int] = None):
        cpus = self.machine.cpus
        i = self.g_cpu if index is None else index
        return cpus[i if 0 <= i < len(cpus) else 0]

    # --- stop replies --------------------------------------------------------------------
    def _stop_reply(self, signal: int, index: int, watch=None) -> str:
        text = f"T{signal:02x}thread:{self._tid(index)};"
        if watch is not None:
            addr, _, kind = watch
            prefix = {1: "", 2: "r", 3: "a"}[kind]
            text += f"{prefix}watch:{addr:08x};"
        return text

    def _debug_stop(self, cpu) -> None:
        """A CPU stopped at a breakpoint or watchpoint while running (engine callback)."""
        if self.stepping:
            return
        waiting, self.waiting = self.waiting, False   # this reply, not the STOP listener's
        self.machine.pause("debug")
        if self.history is not None:
            self.history.after_run()
        if not waiting:
            return
        index = self.machine.cpus.index(cpu)
        self.g_cpu = self.c_cpu = index
        ev = cpu.debug_event
        self._send(self._stop_reply(SIGTRAP, index, ev.watch if ev else None))

    def _machine_event(self, event: str, reason: str) -> None:
        if event == "STOP" and self.waiting:
            self.waiting = False           # stopped from elsewhere (Ctrl-C, monitor stop)
            if self.history is not None:
                self.history.after_run()
            self._send(self._stop_reply(SIGINT, self.c_cpu))
        elif event == "SHUTDOWN" and self.chardev is not None and not self.detached:
            self.waiting = False
            self._send("W00")

    def _interrupt(self) -> None:
        if self.waiting and self.machine.running:
            self.machine.pause()           # the STOP listener sends T02

    # --- run control --------------------------------------------------------------------------
    def _continue(self) -> None:
        if self.history is not None and self.history.replaying:
            self.stepping = True        # replay forward through the history first
            try:
                found, watch = self.history.continue_forward()
            finally:
                self.stepping = False
            if found:
                self.g_cpu = self.c_cpu = 0
                self._send(self._stop_reply(SIGTRAP, 0, watch))
                return
        for cpu in self.machine.cpus:
            pc = cpu.key_pc(cpu.key())
            cpu.resume_at(pc if pc in cpu.breakpoints else None)
        if self.history is not None:
            self.history.before_resume(False)
        self.waiting = True
        self.machine.resume()
        if self.machine.running:
            return
        self.waiting = False                # cannot run (shut down): report at once
        self._send(self._stop_reply(SIGTRAP, self.c_cpu))

    def _step(self, index: int) -> str:
        cpu = self._cpu(index)
        if self.history is not None and self.history.replaying:
            self.stepping = True
            try:
                watch = self.history.step_forward()
            finally:
                self.stepping = False
            self.g_cpu = self.c_cpu = index
            return self._stop_reply(SIGTRAP, index, watch)
        if self.history is not None:
            self.history.before_resume(True)
        self.stepping = True
        try:
            cpu.debug_step()
        finally:
            self.stepping = False
        if self.history is not None:
            self.history.after_step()
        ev = cpu.debug_event
        self.g_cpu = self.c_cpu = index
        if self.machine.run_state == "running":
            self.machine.pause("debug")
        return self._stop_reply(SIGTRAP, index, ev.watch if ev else None)

    def _resume(self, step: Optional[int]) -> Optional[str]:
        if step is not None:
            return self._step(step)
        self._continue()
        return None

    # --- packets ------------------------------------------------------------------------------
    def handle(self, payload: bytes):
        """The reply to one packet (None: no reply now)."""
        if not payload:
            return ""
        text = payload.decode("latin-1")
        c = text[0]
        if c == "X":
            return self._write_binary(payload[1:])
        handler = _SIMPLE.get(c)
        if handler is not None:
            return handler(self, text[1:])
        if c in "qQv":
            name = text.split(":", 1)[0].split(",", 1)[0].split(";", 1)[0]
            if name == "vCont?":
                name = "vCont"
            handler = _NAMED.get(name)
            if handler is not None:
                return handler(self, text[len(name):])
        return ""

    def _h_query_stop(self, rest: str) -> str:
        return self._stop_reply(SIGTRAP, self.c_cpu)

    def _h_set_thread(self, rest: str) -> str:
        if len(rest) < 2 or rest[0] not in "gc":
            raise GdbError(22)
        index = self._parse_tid(rest[1:])
        if index is None or index < 0:
            index = 0
        if rest[0] == "g":
            self.g_cpu = index
        else:
            self.c_cpu = index
        return "OK"

    def _h_thread_alive(self, rest: str) -> str:
        index = self._parse_tid(rest)
        return "OK" if index is None or index >= 0 else "E22"

    # registers
    def _reg_bytes(self, reg, cpu) -> bytes:
        return (reg.get(cpu) & ((1 << reg.bits) - 1)).to_bytes(
            reg.bits // 8, "big" if cpu.big_endian else "little")

    def _h_read_regs(self, rest: str) -> str:
        cpu = self._cpu()
        return "".join(self._reg_bytes(r, cpu).hex() for r in self.target.g_regs(self.xml_read))

    def _h_write_regs(self, rest: str) -> str:
        cpu = self._cpu()
        try:
            data = bytes.fromhex(rest)
        except ValueError:
            raise GdbError(22) from None
        pos = 0
        for reg in self.target.g_regs(self.xml_read):
            size = reg.bits // 8
            if pos + size > len(data):
                break
            if reg.set is not None:
                reg.set(cpu, int.from_bytes(data[pos:pos + size],
                                            "big" if cpu.big_endian else "little"))
            pos += size
        self._changed()
        return "OK"

    def _h_read_reg(self, rest: str) -> str:
        if not self.xml_read:       # QEMU 7.2 answers p/P only once gdb has the XML
            return ""
        reg = self.target.regs.get(_hex_int(rest))
        if reg is None or not reg.feature:
            return "E14"
        return self._reg_bytes(reg, self._cpu()).hex()

    def _h_write_reg(self, rest: str) -> str:
        if not self.xml_read:
            return ""
        num, eq, value = rest.partition("=")
        if not eq:
            raise GdbError(22)
        reg = self.target.regs.get(_hex_int(num))
        if reg is None or not reg.feature:
            return "E14"
        cpu = self._cpu()
        try:
            data = bytes.fromhex(value)
        except ValueError:
            raise GdbError(22) from None
        if len(data) != reg.bits // 8:
            raise GdbError(22)
        if reg.set is not None:
            reg.set(cpu, int.from_bytes(data, "big" if cpu.big_endian else "little"))
        self._changed()
        return "OK"

    # memory
    def _addr_len(self, text: str, limit: int = MAX_PACKET // 2):
        """``addr,length`` of m/M/X (at most ``limit`` bytes: what a packet can hold)."""
        addr, comma, length = text.partition(",")
        if not comma:
            raise GdbError(22)
        a, n = _hex_int(addr), _hex_int(length)
        if a >> 32 == 0xFFFFFFFF:
            a &= 0xFFFFFFFF     # gdb sign-extends MIPS's kseg addresses (QEMU truncates)
        if n > limit or a > 0xFFFFFFFF:
            raise GdbError(22)
        return a, n

    def _h_read_mem(self, rest: str) -> str:
        addr, n = self._addr_len(rest)
        try:
            return self._cpu().read_virt(addr, n).hex()
        except Exception:  # noqa: BLE001 - VirtualAccessError or a device refusing
            return "E14"

    def _write(self, addr: int, data: bytes) -> str:
        try:
            self._cpu().write_virt(addr, data)
        except Exception:  # noqa: BLE001
            return "E14"
        self._changed()
        return "OK"

    def _changed(self) -> None:
        """The debugger changed the machine: the recorded future no longer follows."""
        if self.history is not None:
            self.history.state_changed()

    def _h_write_mem(self, rest: str) -> str:
        head, colon, hexdata = rest.partition(":")
        if not colon:
            raise GdbError(22)
        addr, n = self._addr_len(head)
        try:
            data = bytes.fromhex(hexdata)
        except ValueError:
            raise GdbError(22) from None
        if len(data) != n:
            raise GdbError(22)
        return self._write(addr, data)

    def _write_binary(self, payload: bytes) -> str:
        head, colon, data = payload.partition(b":")
        if not colon:
            raise GdbError(22)
        addr, n = self._addr_len(head.decode("latin-1"), MAX_PACKET)    # binary: 1 byte each
        data = unescape_binary(data)
        if len(data) != n:
            raise GdbError(22)
        if n == 0:
            return "OK"
        return self._write(addr, data)

    # execution
    def _h_continue(self, rest: str):
        if rest:
            self._set_pc(_hex_int(rest))
        return self._resume(None)

    def _h_continue_sig(self, rest: str):
        sig, _, addr = rest.partition(";")
        _hex_int(sig)               # the signal is not delivered (QEMU: likewise), but checked
        if addr:
            self._set_pc(_hex_int(addr))
        return self._resume(None)

    def _h_step(self, rest: str):
        if rest:
            self._set_pc(_hex_int(rest))
        return self._resume(self.c_cpu)

    def _h_step_sig(self, rest: str):
        sig, _, addr = rest.partition(";")
        _hex_int(sig)
        if addr:
            self._set_pc(_hex_int(addr))
        return self._resume(self.c_cpu)

    def _h_backward(self, rest: str) -> str:
        """``bs``/``bc``: reverse-stepi / reverse-continue (gdbstub_reverse.py)."""
        if self.history is None or rest not in ("s", "c"):
            return ""
        self.stepping = True
        try:
            if rest == "s":
                found, watch = self.history.step_back(), None
            else:
                found, watch = self.history.continue_back()
        finally:
            self.stepping = False
        self.g_cpu = self.c_cpu = 0
        reply = self._stop_reply(SIGTRAP, 0, watch)
        return reply if found else reply + "replaylog:begin;"

    def _set_pc(self, pc: int) -> None:
        cpu = self._cpu(self.c_cpu)
        cpu.set_key(cpu.key_with_pc(cpu.key(), pc))
        self._changed()

    def _h_vcont(self, rest: str):
        if rest == "?":
            return "vCont;c;C;s;S"
        if not rest.startswith(";"):
            return ""
        step = None
        for action in rest[1:].split(";"):
            verb, _, tid = action.partition(":")
            if not verb or verb[0] not in "cCsS" or (verb[0] in "cs") != (len(verb) == 1):
                raise GdbError(22)
            if len(verb) > 1:
                _hex_int(verb[1:])      # C/S: the signal number
            index = self._parse_tid(tid) if tid else self.c_cpu
            if verb[0] in "sS" and step is None:
                step = self.c_cpu if index is None or index < 0 else index
        return self._resume(step)

    # breakpoints and watchpoints
    def _bp_args(self, rest: str):
        parts = rest.split(";", 1)[0].split(",")
        if len(parts) != 3:
            raise GdbError(22)
        return _hex_int(parts[0]), _hex_int(parts[1]), _hex_int(parts[2])

    def _h_insert(self, rest: str) -> str:
        kind, addr, length = self._bp_args(rest)
        if kind in (0, 1):
            for cpu in self.machine.cpus:
                cpu.insert_breakpoint(addr)
            self.breakpoints.add(addr)
            return "OK"
        if kind in WATCH_TYPES:
            if length == 0:
                raise GdbError(22)
            for cpu in self.machine.cpus:
                cpu.insert_watchpoint(addr, length, WATCH_TYPES[kind][1])
            self.watchpoints.add((addr, length, WATCH_TYPES[kind][1]))
            return "OK"
        return ""

    def _h_remove(self, rest: str) -> str:
        kind, addr, length = self._bp_args(rest)
        if kind in (0, 1):
            found = False
            for cpu in self.machine.cpus:
                found = cpu.remove_breakpoint(addr) or found
            self.breakpoints.discard(addr)
            return "OK" if found else "E22"
        if kind in WATCH_TYPES:
            found = False
            for cpu in self.machine.cpus:
                found = cpu.remove_watchpoint(addr, length, WATCH_TYPES[kind][1]) or found
            self.watchpoints.discard((addr, length, WATCH_TYPES[kind][1]))
            return "OK" if found else "E22"
        return ""

    def _remove_all(self) -> None:
        for cpu in self.machine.cpus:
            for addr in list(cpu.breakpoints):
                cpu.remove_breakpoint(addr)
            for wp in list(cpu.watchpoints):
                cpu.remove_watchpoint(*wp)
        self.breakpoints.clear()
        self.watchpoints.clear()

    def _h_detach(self, rest: str) -> str:
        if self.multiprocess and not rest.startswith(";"):
            raise GdbError(22)          # QEMU 7.2: a multiprocess gdb must name the process
        self._remove_all()
        self._forget_history()
        self.detached = True
        self.waiting = False
        if self.machine.run_state in ("paused", "debug", "prelaunch"):
            self.machine.resume()
        return "OK"

    def _h_kill(self, rest: str):
        sys.stderr.write("pysystem: Terminated via GDBstub\n")
        self.detached = True
        self.machine.quit()
        return None

    def _h_vkill(self, rest: str):
        self._h_kill(rest)
        return "OK"

    # queries
    def _h_supported(self, rest: str) -> str:
        features = rest[1:].split(";") if rest.startswith(":") else []
        self.multiprocess = "multiprocess+" in features
        xml = "qXfer:features:read+;" if self.target.offer_xml else ""
        reply = f"PacketSize={MAX_PACKET:x};{xml}vContSupported+;QStartNoAckMode+"
        if self.multiprocess:
            reply += ";multiprocess+"
        if self.history is not None:
            reply += ";ReverseStep+;ReverseContinue+"
        return reply

    def _h_no_ack(self, rest: str) -> str:
        self.no_ack = True
        return "OK"

    def _h_xfer(self, rest: str):
        parts = rest.split(":")
        if len(parts) != 5 or parts[1] != "features" or parts[2] != "read":
            return ""
        body = self.target.xml(parts[3])
        if body is None:
            return "E00"
        offset, comma, length = parts[4].partition(",")
        if not comma:
            raise GdbError(22)
        off, n = _hex_int(offset), _hex_int(length)
        self.xml_read = True
        data = body.encode()
        n = min(n, (MAX_PACKET - 5) // 2)
        if off > len(data):
            return "E00"           # QEMU 7.2's answer to an offset past the end
        if off == len(data):
            return b"l"
        chunk = data[off:off + n]
        return (b"m" if off + n < len(data) else b"l") + escape_binary(chunk)

    def _h_current_thread(self, rest: str) -> str:
        return "QC" + self._tid(self.g_cpu)

    def _h_first_thread(self, rest: str) -> str:
        return "m" + ",".join(self._tid(i) for i in range(len(self.machine.cpus)))

    def _h_next_thread(self, rest: str) -> str:
        return "l"

    def _h_thread_extra(self, rest: str) -> str:
        index = self._parse_tid(rest.lstrip(","))
        cpu = self._cpu(0 if index is None or index < 0 else index)
        state = "halted " if getattr(cpu, "halted", False) else "running"
        text = f"CPU#{cpu.cpu_index} [{state}]"
        return text.encode().hex()

    def _h_attached(self, rest: str) -> str:
        return "1"

    def _h_rcmd(self, rest: str) -> Optional[str]:
        if self.hmp is None:
            return ""
        try:
            line = bytes.fromhex(rest.lstrip(",")).decode("utf-8", "replace")
        except ValueError:
            raise GdbError(22) from None
        out = self.hmp(line).replace("\r\n", "\n").replace("\n", "\r\n").encode()
        self._changed()             # a monitor command may change anything
        step = MAX_PACKET // 2 - 2
        for i in range(0, len(out), step):
            self._send("O" + out[i:i + step].hex())
        return "OK"

    def _h_empty(self, rest: str) -> str:
        return ""


_SIMPLE = {
    "?": GdbStub._h_query_stop, "H": GdbStub._h_set_thread, "T": GdbStub._h_thread_alive,
    "g": GdbStub._h_read_regs, "G": GdbStub._h_write_regs, "p": GdbStub._h_read_reg,
    "P": GdbStub._h_write_reg, "m": GdbStub._h_read_mem, "M": GdbStub._h_write_mem,
    "c": GdbStub._h_continue, "C": GdbStub._h_continue_sig, "s": GdbStub._h_step,
    "S": GdbStub._h_step_sig, "Z": GdbStub._h_insert, "z": GdbStub._h_remove,
    "D": GdbStub._h_detach, "k": GdbStub._h_kill, "b": GdbStub._h_backward,
}
_NAMED = {
    "qSupported": GdbStub._h_supported, "QStartNoAckMode": GdbStub._h_no_ack,
    "qXfer": GdbStub._h_xfer, "qC": GdbStub._h_current_thread,
    "qfThreadInfo": GdbStub._h_first_thread, "qsThreadInfo": GdbStub._h_next_thread,
    "qThreadExtraInfo": GdbStub._h_thread_extra, "qAttached": GdbStub._h_attached,
    "qRcmd": GdbStub._h_rcmd, "qOffsets": GdbStub._h_empty, "vCont": GdbStub._h_vcont,
    "vKill": GdbStub._h_vkill,
}


# --- where the stub listens ----------------------------------------------------------------

class GdbServerError(Exception):
    """The device could not be opened; one line for the user."""


def chardev_options(device: str) -> Optional[dict]:
    """``-gdb DEV`` -> chardev options (QEMU: a tcp listener never waits for its client
    and sets nodelay); None for ``none``."""
    from pysystem import chardev as chardevs
    if device == "none":
        return None
    opts = chardevs.parse_legacy(device)
    if opts is None:
        return None
    if device.startswith("tcp:"):
        opts.update(server="on", wait="off", nodelay="on")
    return opts


def start_gdbserver(machine, device: str = DEFAULT_DEVICE, loop=None,
                    hmp: Optional[Callable[[str], str]] = None) -> Optional[GdbStub]:
    """Serve gdb on ``device`` (replacing a stub already there); ``none`` stops it.
    ``loop``: the running main loop (the chardev is opened at once), else the chardev is
    opened with the others.  ``hmp``: runs a ``monitor`` command line (see above)."""
    from pysystem import chardev as chardevs
    reg = getattr(machine, "chardevs", None) or chardevs.registry()
    old = getattr(machine, "gdbstub", None)
    if device != "none" and not machine.cpus:
        raise GdbServerError("gdbstub: meaningless to attach gdb to a machine without any CPU.")
    try:
        opts = chardev_options(device)
        if opts is not None and "chardev" in opts:
            chardev = reg.lookup(opts["chardev"]).claim()
        elif opts is not None:
            if old is not None:
                _drop_chardev(old, reg)
            chardev = reg.create(dict(opts, id="gdb"), origin=f"-gdb {device}")
    except chardevs.ChardevError as e:
        raise GdbServerError(str(e)) from None
    if old is not None:
        if opts is None:
            _drop_chardev(old, reg)
        old.close()
        machine.gdbstub = None
    if opts is None:
        return None
    stub = GdbStub(machine, hmp)
    machine.gdbstub = stub
    if loop is not None and not chardev.is_open:
        chardev.open(loop)
    stub.attach(chardev)
    return stub


def _drop_chardev(stub: GdbStub, reg) -> None:
    ch = stub.chardev
    if ch is not None and getattr(ch, "id", None) == "gdb":
        ch.close()
        reg.forget(ch)
