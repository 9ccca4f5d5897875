"""Character devices: the host side of serial ports and the monitor.

    from pysystem.chardev import (Chardev, ChardevError, create, parse_legacy, lookup,
                                  close_all, EVENT_BREAK, ...)

* ``create(opts)`` makes a chardev from ``-chardev`` options (a dict:
  ``backend``, ``id``, backend options, ``mux=on`` to share it,
  ``logfile=F[,logappend=on]`` to copy its output to F); the chardev is
  kept under its id for ``lookup(id)`` and ``chardev:ID`` references.
* ``parse_legacy(text)`` turns the ``-serial``/``-monitor`` shorthand (``stdio``,
  ``mon:stdio``, ``null``, ``file:PATH``, ``pty``, ``chardev:ID``, ``none``, ...)
  into such options.
* Backends, one per module: stdio, null, file, pty, socket (tcp, telnet and
  unix; servers and clients), ringbuf (alias memory), serial (alias tty: host
  serial ports through pyserial) and mux (the multiplexer behind
  ``-nographic``).  The other QEMU backends (udp, pipe, vc, ...) are
  recognised and refused with "not supported yet".
* The legacy forms ``tcp:[HOST]:PORT[,server=on][,wait=off]`` (also the old
  ``server,nowait``), ``telnet:...``, ``unix:PATH[,...]`` and ``/dev/...`` (a
  host serial port) are understood by ``parse_legacy``.  A listener without a
  host binds to 127.0.0.1 (QEMU: every interface): see socket.py.
* ``open_all(loop)`` starts host I/O once the machine is built; ``close_all()``
  releases everything and restores the terminal (every exit path calls it).
* The chardevs made belong to a ``ChardevRegistry`` (ids, ``lookup``, ``all``,
  ``open_all``, ``close_all``): a machine has one (``machine.chardevs``); the
  module's functions use the command line's, ``registry()``.

The frontend interface (``write``, ``set_handlers``, ``accept_input``, events)
is described in base.py.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from ..qom import QOMError
from .base import (EVENT_BREAK, EVENT_CLOSED, EVENT_MUX_IN, EVENT_MUX_OUT, EVENT_OPENED,
                   Chardev, ChardevError)
from .file import FileChardev
from .mux import MuxChardev, MuxPort
from .null import NullChardev
from .pty import PtyChardev
from .ringbuf import MemoryChardev, RingbufChardev
from .serial import SerialChardev, TtyChardev
from .socket import SocketChardev, parse_socket_legacy
from .stdio import StdioChardev, restore_terminal

__all__ = [
    "Chardev", "ChardevError", "EVENT_BREAK", "EVENT_CLOSED", "EVENT_MUX_IN",
    "EVENT_MUX_OUT", "EVENT_OPENED", "MuxChardev", "MuxPort", "StdioChardev", "NullChardev",
    "FileChardev", "PtyChardev", "SocketChardev", "RingbufChardev", "SerialChardev",
    "BACKENDS", "UNSUPPORTED", "create", "parse_legacy",
    "lookup", "all_chardevs", "open_all", "close_all", "restore_terminal",
    "ChardevRegistry", "registry",
]

BACKENDS = {cls.BACKEND: cls for cls in (StdioChardev, NullChardev, FileChardev, PtyChardev,
                                         SocketChardev, RingbufChardev, MemoryChardev,
                                         SerialChardev, TtyChardev)}
UNSUPPORTED = ("websocket", "udp", "pipe", "parallel", "parport", "vc", "msmouse", "wctablet",
               "braille", "testdev", "spicevmc", "spiceport", "qemu-vdagent", "dbus")
COMMON_OPTIONS = ("backend", "id", "mux", "logfile", "logappend")

class ChardevRegistry:
    """The chardevs of one machine, by id (and those without one); ``program`` names
    the emulator in their messages (``pysystem-arm: -serial ...: info: QEMU waiting...``)."""

    def __init__(self, program: str = "pysystem") -> None:
        self.program = program
        self.by_id: Dict[str, Chardev] = {}
        self.anonymous: List[Chardev] = []

    def create(self, opts: Dict[str, str], origin: str = "") -> Chardev:
        return _create(self, opts, origin)

    def lookup(self, label: str) -> Chardev:
        try:
            return self.by_id[label]
        except KeyError:
            raise ChardevError(f"chardev '{label}' not found") from None

    def all(self) -> List[Chardev]:
        return list(self.by_id.values()) + list(self.anonymous)

    def forget(self, chardev: Chardev) -> None:
        """Drop a closed chardev (its id may be used again: HMP ``gdbserver``)."""
        for label, ch in list(self.by_id.items()):
            if ch is chardev:
                del self.by_id[label]
        if chardev in self.anonymous:
            self.anonymous.remove(chardev)

    def open_all(self, loop) -> None:
        for chardev in self.all():
            chardev.open(loop)

    def close_all(self) -> None:
        """Close every chardev; safe on every exit path."""
        for chardev in self.all():
            try:
                chardev.close()
            except Exception:  # noqa: BLE001 - closing must never hide the real exit reason
                pass
        self.by_id.clear()
        self.anonymous.clear()


_default = ChardevRegistry()


def registry() -> ChardevRegistry:
    """The command line's registry (the module's functions use it)."""
    return _default


def create(opts: Dict[str, str], origin: str = "") -> Chardev:
    return _create(_default, opts, origin)


def _create(reg: ChardevRegistry, opts: Dict[str, str], origin: str) -> Chardev:
    """A chardev from ``-chardev`` style options; ``mux=on`` wraps it in a mux.

    ``origin`` (the option as written, ``-serial tcp::4444,server=on``) prefixes
    the backend's start-up messages, as QEMU's do.
    """
    opts = dict(opts)
    backend = opts.pop("backend", None)
    label = opts.pop("id", None)
    mux = opts.pop("mux", "off")
    if not backend:
        raise ChardevError("chardev: no backend given")
    if backend in UNSUPPORTED:
        raise ChardevError(f"chardev backend '{backend}' is not supported yet")
    cls = BACKENDS.get(backend)
    if cls is None:
        raise ChardevError(f"'{backend}' is not a valid char driver name")
    if label is not None and label in reg.by_id:
        raise ChardevError(f"attempt to add duplicate property '{label}' to object (type 'container')")
    if backend == "socket" and opts.pop("nowait", None) is not None:
        opts["wait"] = "off"            # QEMU's old spelling of wait=off
    logfile = opts.pop("logfile", None)
    logappend = opts.pop("logappend", "off")
    props = cls.class_properties()
    for key in opts:
        if key not in props or key == "id":
            raise ChardevError(f"Invalid parameter '{key}'")
    try:
        mux_on = {"on": True, "yes": True, "off": False, "no": False}[mux]
    except KeyError:
        raise ChardevError(f"Parameter 'mux' expects 'on' or 'off'") from None
    try:
        chardev = cls(id=(label + "-base") if (mux_on and label) else label, **opts)
        if mux_on:
            chardev = MuxChardev(backend=chardev, id=label)
    except QOMError as e:
        raise ChardevError(str(e)) from None
    backend_chardev = chardev.backend if mux_on else chardev
    backend_chardev.origin = origin
    backend_chardev.program = reg.program
    if logfile:
        backend_chardev.set_logfile(logfile, logappend)
    if label is not None:
        reg.by_id[label] = chardev
    else:
        reg.anonymous.append(chardev)
    return chardev


def parse_legacy(text: str) -> Optional[Dict[str, str]]:
    """Options for the ``-serial``/``-monitor`` shorthand; None for ``none``.

    A ``mon:`` prefix adds ``mux=on`` (the caller also puts a monitor on it) and,
    for stdio, ``signal=off`` as QEMU does.  ``chardev:ID`` gives ``{"chardev": ID}``.
    """
    mux = text.startswith("mon:")
    if mux:
        text = text[4:]
    if text == "none":
        return None
    if text.startswith("chardev:"):
        return {"chardev": text[8:]}
    if text in ("stdio", "null", "pty"):
        opts = {"backend": text}
    elif text.startswith("file:"):
        opts = {"backend": "file", "path": text[5:]}
    elif text.startswith("vc"):
        opts = {"backend": "null"}          # no graphical console: the vc shows nowhere
    elif text.split(":", 1)[0] in ("tcp", "telnet", "unix") and ":" in text:
        kind, rest = text.split(":", 1)
        opts = parse_socket_legacy(kind, rest)
    elif text.startswith("/dev/"):
        opts = {"backend": "serial", "path": text}
    else:
        name = text.split(":", 1)[0]
        if name in UNSUPPORTED or name in ("udp", "pipe"):
            raise ChardevError(f"chardev backend '{name}' is not supported yet")
        raise ChardevError(f"'{text}' is not a valid char driver")
    if mux:
        opts["mux"] = "on"
        if opts["backend"] == "stdio":
            opts["signal"] = "off"
    return opts


def lookup(label: str) -> Chardev:
    return _default.lookup(label)


def all_chardevs() -> List[Chardev]:
    return _default.all()


def open_all(loop) -> None:
    _default.open_all(loop)


def close_all() -> None:
    """Close every chardev of the command line's registry and restore the terminal."""
    _default.close_all()
    restore_terminal()
