"""QMP, the QEMU Machine Protocol, served on a chardev.

    qmp = QMPMonitor(machine, pretty=False)
    qmp.attach(chardev)            # -qmp SPEC / -mon chardev=ID,mode=control
    qmp.handle_line(text) -> [replies]      # the dispatcher without a chardev (tests)

What a client sees (QEMU 7.2's wire format, checked against qemu-system-arm):

* On every new connection the greeting
  ``{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},
  "package": "pysystem 0.1.0"}, "capabilities": ["oob"]}}``.
* Until ``qmp_capabilities`` (optionally ``{"enable": ["oob"]}``) every command
  gets ``CommandNotFound`` "Expecting capabilities negotiation with
  'qmp_capabilities'"; afterwards a second ``qmp_capabilities`` gets
  "Capabilities negotiation is already complete, command ignored".
* Replies are ``{"return": ...}`` or ``{"error": {"class": C, "desc": D}}``,
  with the request's ``id`` (any JSON value) echoed.  Each reply and event is
  one line ending in CRLF (``pretty``: indented, as -qmp-pretty).
* Events go to every negotiated client: ``{"timestamp": {"seconds": S,
  "microseconds": U}, "event": NAME[, "data": {...}]}`` (host wall-clock time).
  STOP, RESUME, POWERDOWN carry no data; RESET and SHUTDOWN carry
  ``{"guest": bool, "reason": ...}``; JOB_STATUS_CHANGE ``{"status", "id"}``.
* The input is a byte stream split into JSON values as QEMU's streamer does
  (brace and bracket depth outside strings); a byte 0xFF, invalid in JSON,
  resets the parser.  Bad input never closes the connection: malformed JSON
  gets ``GenericError`` "JSON parse error, ..."; a value that is not an
  object "QMP input must be a JSON object"; unknown members, a non-string
  ``execute``, non-object ``arguments`` get QEMU's texts; unknown commands
  ``CommandNotFound`` "The command foo has not been found"; bad arguments
  "Parameter 'x' is missing", "Parameter 'x' is unexpected",
  "Invalid parameter type for 'x', expected: string".

The commands are in qmp_commands.py; ``commands.register`` there adds more.
A command that raises something unexpected gets a GenericError reply with
the exception's one-line text: a command never takes the emulator down.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Dict, List, Optional

from pysystem import QEMU_VERSION_COMPAT, __version__

from . import qmp_commands, qmp_net  # noqa: F401  (qmp_net registers its commands)
from .qmp_commands import QMPError

MAX_TOKEN = 1 << 20             # bytes in one JSON value before we give up on it
MAX_DEPTH = 1024                # nesting, as QEMU's parser
REPLY_CAPABILITIES = ["oob"]


def version_info() -> Dict[str, Any]:
    major, minor, micro = (int(x) for x in QEMU_VERSION_COMPAT.split("."))
    return {"qemu": {"micro": micro, "minor": minor, "major": major},
            "package": f"pysystem {__version__}"}


def timestamp() -> Dict[str, int]:
    now = time.time()
    seconds = int(now)
    return {"seconds": seconds, "microseconds": int((now - seconds) * 1e6)}


class JSONSplitter:
    """Cut a byte stream into top-level JSON texts (QEMU's json-streamer rules).

    ``feed(data)`` returns a list of items: ``("value", bytes)`` for a complete
    value to be parsed, ``("error", message)`` for input that can never become
    one.
    """

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.buf = bytearray()
        self.depth = 0
        self.in_string = False
        self.quote = 0
        self.escape = False
        self.word = bytearray()
        self.bad: Optional[str] = None      # first parse error inside the current value
        self.recovering = False             # after a lexical error: skip to white space

    def _emit_value(self, out: List[tuple]) -> None:
        if self.bad is not None:
            out.append(("error", self.bad))
        else:
            out.append(("value", bytes(self.buf)))
        self.buf.clear()
        self.bad = None

    def _lexical_error(self, out: List[tuple], message: str) -> None:
        out.append(("error", message))
        self.reset()
        self.recovering = True

    def feed(self, data: bytes) -> List[tuple]:
        out: List[tuple] = []
        data = bytes(data)
        i, n = 0, len(data)
        while i < n:
            if self.in_string and not self.escape:
                # a run of ordinary string bytes in one step
                special = (_STRING_END_DQ if self.quote == 0x22 else _STRING_END_SQ).search(data, i)
                end = special.start() if special is not None else n
                if end > i:
                    self.buf += data[i:end]
                    i = end
                    self._check_size(out)
                    continue
            b = data[i]
            i += 1
            if b == 0xFF:
                if self.buf or self.word:
                    out.append(("error", "JSON parse error, stray '\\xff'"))
                self.reset()
                continue
            if self.recovering:
                if b in b" \t\r\n":
                    self.recovering = False
                continue
            if self.in_string:
                self.buf.append(b)
                if self.escape:
                    self.escape = False
                elif b == 0x5C:
                    self.escape = True
                elif b == self.quote:
                    self.in_string = False
                    if self.depth == 0:
                        self._emit_value(out)
                self._check_size(out)
                continue
            if self.word:
                if _is_word_byte(b):
                    self.word.append(b)
                    self._check_size(out)
                    continue
                self._end_word(out)
            if b in b" \t\r\n":
                if self.depth:
                    self.buf.append(b)
                continue
            if b in (0x22, 0x27):               # " or ': QEMU accepts both quotes
                self.in_string, self.quote = True, b
                self.buf.append(b)
            elif b in b"{[":
                self.depth += 1
                self.buf.append(b)
                if self.depth > MAX_DEPTH:
                    self._lexical_error(out, "JSON parse error, nesting too deep")
            elif b in b"}]":
                if self.depth == 0:
                    out.append(("error", "JSON parse error, expecting value"))
                    continue
                self.depth -= 1
                self.buf.append(b)
                if self.depth == 0:
                    self._emit_value(out)
            elif b in b":,":
                if self.depth == 0:
                    out.append(("error", "JSON parse error, expecting value"))
                else:
                    self.buf.append(b)
            elif _is_word_byte(b):
                self.word.append(b)
            else:
                ch = chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}"
                self._lexical_error(out, f"JSON parse error, stray '{ch}'")
            self._check_size(out)
        return out

    def _end_word(self, out: List[tuple]) -> None:
        word = bytes(self.word)
        self.word.clear()
        text = word.decode("latin-1")
        valid = text in ("true", "false", "null") or _is_number(text)
        if not valid:
            if len(text) > 64:
                text = text[:64] + "..."
            message = f"JSON parse error, invalid keyword '{text}'"
            if self.depth == 0:
                out.append(("error", message))
            elif self.bad is None:
                self.bad = message
            return
        if self.depth == 0:
            out.append(("value", word))
        else:
            self.buf += word

    def _check_size(self, out: List[tuple]) -> None:
        if len(self.buf) + len(self.word) > MAX_TOKEN:
            self._lexical_error(out, "JSON parse error, token too large")


_STRING_END_DQ = re.compile(rb'["\\\xff]')
_STRING_END_SQ = re.compile(rb"['\\\xff]")


def _is_word_byte(b: int) -> bool:
    return (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A
            or b in b"+-.")


class _OutOfRange(ValueError):
    """A number JSON can spell but a double cannot hold (1e400)."""


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _OutOfRange(text)
    return value


def strict_loads(text: str) -> Any:
    """json.loads for strict JSON only: no NaN/Infinity, no number that overflows."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _is_number(text: str) -> bool:
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return False
    return True


def parse_value(raw: bytes) -> Any:
    """One JSON text (with QEMU's single-quoted strings); QMPError on bad JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise QMPError("GenericError",
                       "JSON parse error, invalid UTF-8 sequence in string") from None
    try:
        return strict_loads(text)
    except RecursionError:
        raise QMPError("GenericError", "JSON parse error, nesting too deep") from None
    except _OutOfRange as e:
        raise QMPError("GenericError", f"JSON parse error, number '{e}' out of range") from None
    except ValueError:
        pass
    if "'" in text:
        try:
            return strict_loads(_requote(text))
        except _OutOfRange as e:
            raise QMPError("GenericError",
                           f"JSON parse error, number '{e}' out of range") from None
        except (ValueError, RecursionError):
            pass
    raise QMPError("GenericError", "JSON parse error, expecting value")


def _requote(text: str) -> str:
    """Turn QEMU's single-quoted strings into double-quoted ones."""
    out = []
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is None:
            if ch in "'\"":
                quote = ch
                out.append('"')
            else:
                out.append(ch)
        elif ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append('\\"' if nxt == '"' else "'" if nxt == "'" else ch + nxt)
            i += 1
        elif ch == quote:
            quote = None
            out.append('"')
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class QMPMonitor:
    """One QMP monitor; it serves whatever client its chardev connects."""

    def __init__(self, machine=None, pretty: bool = False):
        self.machine = machine
        self.pretty = pretty
        self.chardev = None
        self.splitter = JSONSplitter()
        self.negotiated = False
        self.oob = False
        self.connected = False
        self.jobs = qmp_commands.jobs_of(machine)
        self.on_event: Optional[Callable[[Dict[str, Any]], None]] = None
        if machine is not None:
            machine.add_listener(self._machine_event)
        self.jobs.sinks.append(self)        # the job events of its machine

    # --- the chardev side -----------------------------------------------------------
    def attach(self, chardev) -> None:
        self.chardev = chardev
        chardev.set_handlers(lambda: 4096, self._receive, self._chardev_event)

    def _chardev_event(self, ev: str) -> None:
        if ev in ("opened", "mux-in"):
            if not self.connected:
                self.connected = True
                self.negotiated = False
                self.oob = False
                self.splitter.reset()
                self._send({"QMP": {"version": version_info(),
                                    "capabilities": list(REPLY_CAPABILITIES)}})
        elif ev == "closed":
            self.connected = False
            self.negotiated = False
            self.splitter.reset()

    def _receive(self, data: bytes) -> None:
        if not self.connected:          # a chardev without open/close events (stdio)
            self._chardev_event("opened")
        for reply in self.handle_bytes(data):
            self._send(reply)

    def _send(self, msg: Dict[str, Any]) -> None:
        if self.chardev is None:
            return
        try:
            text = json.dumps(msg, indent=4 if self.pretty else None, allow_nan=False)
        except ValueError:              # a NaN or infinity somewhere: never send bad JSON
            text = json.dumps(_error("GenericError", "reply holds a number JSON cannot carry"))
        self.chardev.write((text + "\r\n").encode())

    # --- requests -------------------------------------------------------------------
    def handle_bytes(self, data: bytes) -> List[Dict[str, Any]]:
        replies = []
        for kind, item in self.splitter.feed(data):
            if kind == "error":
                replies.append(_error("GenericError", item))
                continue
            try:
                request = parse_value(item)
            except QMPError as e:
                replies.append(e.reply())
                continue
            replies.append(self.handle_request(request))
        return replies

    def handle_line(self, text: str) -> List[Dict[str, Any]]:
        return self.handle_bytes(text.encode())

    def handle_request(self, request: Any) -> Dict[str, Any]:
        if not isinstance(request, dict):
            return _error("GenericError", "QMP input must be a JSON object")
        has_id = "id" in request
        req_id = request.get("id")
        try:
            name, args, oob = self._check_request(request)
            result = self._dispatch(name, args, oob)
            reply: Dict[str, Any] = {"return": result}
        except QMPError as e:
            reply = e.reply()
        except Exception as e:  # noqa: BLE001 - a broken command must not kill the monitor
            text = (str(e).strip() or type(e).__name__).splitlines()[0]
            reply = _error("GenericError", text)
        if has_id:
            reply["id"] = req_id
        return reply

    def _check_request(self, request: Dict[str, Any]):
        for key in request:
            if key not in ("execute", "exec-oob", "arguments", "id"):
                raise QMPError("GenericError", f"QMP input member '{key}' is unexpected")
        if "execute" in request and "exec-oob" in request:
            raise QMPError("GenericError", "QMP input must not have both 'execute' and 'exec-oob'")
        oob = "exec-oob" in request
        key = "exec-oob" if oob else "execute"
        if key not in request:
            raise QMPError("GenericError", "QMP input lacks member 'execute'")
        name = request[key]
        if not isinstance(name, str):
            raise QMPError("GenericError", f"QMP input member '{key}' must be a string")
        args = request.get("arguments", {})
        if not isinstance(args, dict):
            raise QMPError("GenericError", "QMP input member 'arguments' must be an object")
        if oob and not self.oob:
            raise QMPError("GenericError", "QMP input member 'exec-oob' is unexpected")
        return name, args, oob

    def _dispatch(self, name: str, args: Dict[str, Any], oob: bool) -> Any:
        if not self.negotiated:
            if name != "qmp_capabilities":
                raise QMPError("CommandNotFound",
                               "Expecting capabilities negotiation with 'qmp_capabilities'")
            qmp_commands.check_args(qmp_commands.COMMANDS[name], args)
            enable = args.get("enable", [])
            for cap in enable:
                if cap != "oob":
                    raise QMPError("GenericError",
                                   f"Parameter 'enable' does not accept value '{cap}'")
            self.oob = "oob" in enable
            self.negotiated = True
            return {}
        if name == "qmp_capabilities":
            raise QMPError("CommandNotFound",
                           "Capabilities negotiation is already complete, command ignored")
        cmd = qmp_commands.COMMANDS.get(name)
        if cmd is None:
            raise QMPError("CommandNotFound", f"The command {name} has not been found")
        if oob and not cmd.allow_oob:
            raise QMPError("GenericError", f"The command {name} does not support OOB")
        qmp_commands.check_args(cmd, args)
        return cmd.handler(self, args)

    # --- events ---------------------------------------------------------------------
    def _machine_event(self, event: str, reason: str = "") -> None:
        data: Optional[Dict[str, Any]] = None
        if event in ("RESET", "SHUTDOWN"):
            data = {"guest": reason.startswith("guest"), "reason": reason}
        self.send_event(event, data)

    def send_event(self, event: str, data: Optional[Dict[str, Any]] = None) -> None:
        msg: Dict[str, Any] = {"timestamp": timestamp(), "event": event}
        if data is not None:
            msg["data"] = data
        if self.on_event is not None:       # an in-process subscriber (pysystem.api)
            self.on_event(msg)
        if self.connected and self.negotiated:
            self._send(msg)

    def close(self) -> None:
        if self in self.jobs.sinks:
            self.jobs.sinks.remove(self)
        if self.machine is not None and self._machine_event in self.machine.listeners:
            self.machine.listeners.remove(self._machine_event)


def _error(cls: str, desc: str) -> Dict[str, Any]:
    return {"error": {"class": cls, "desc": desc}}
