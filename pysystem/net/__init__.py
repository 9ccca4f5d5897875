"""Networking: NIC <-> backend seam (client.py), the user-mode network (user.py with
packet.py, dhcp.py, tcp.py, hostfwd.py), and the command-line options (options.py).

How a board wires its on-board NIC::

    props = net.board_nic(machine, "lan9118")    # {} or {"netdev": backend, "mac": ...}

The command line puts the parsed options on the machine (``machine.net_options``);
``bind_all(machine)`` creates the hostfwd listeners before the guest starts (errors
are one line), ``open_all(machine, loop)`` hooks every backend into the main loop.
"""
from __future__ import annotations

from typing import List

from .client import NetBackend, backends_text
from .hostfwd import ForwardError, parse_hostfwd
from .options import NetOptions, NICSpec
from .user import UserConfig, UserNet

__all__ = ["NetBackend", "UserNet", "UserConfig", "NetOptions", "NICSpec", "ForwardError",
           "parse_hostfwd", "board_nic", "nic_model", "nic_count", "backends", "bind_all", "open_all", "close_all",
           "backends_text", "NetError"]


class NetError(Exception):
    """A network configuration the machine cannot honour (one line)."""


def _options(machine) -> NetOptions:
    opts = getattr(machine, "net_options", None)
    return opts if opts is not None else NetOptions()


def backends(machine) -> List[NetBackend]:
    return _options(machine).backends


def nic_model(machine, index: int = 0):
    """The model the index-th ``-nic``/``-net nic`` asks for (None: the board's own)."""
    nics = _options(machine).nics
    return nics[index].model if index < len(nics) else None


def nic_count(machine) -> int:
    """How many NICs QEMU's board would make from the options (it makes one by default
    when no network option is given): the default MACs of ``-device`` NICs count on."""
    opts = getattr(machine, "net_options", None)
    if opts is None:
        return 1
    return len(opts.nics)


def board_nic(machine, model: str, index: int = 0, aliases=()) -> dict:
    """The properties of the board's NIC number ``index`` (a ``model``, or one of its
    ``aliases``): its backend and MAC from the index-th ``-nic``/``-net nic``, or {}
    when none was given."""
    nics = _options(machine).nics
    if index >= len(nics):
        return {}
    spec = nics[index]
    if spec.model not in (None, model) + tuple(aliases):
        raise NetError(f"Unsupported NIC model: {spec.model} (this board's is {model})")
    spec.claimed = True
    return spec.props()


def check_claims(machine) -> None:
    """QEMU's warnings: a NIC the board has no place for, a backend without a NIC."""
    opts = _options(machine)
    for spec in opts.nics:
        if not spec.claimed:
            machine.warn(f"requested NIC ({spec.backend.id if spec.backend else 'anonymous'}, "
                         f"model {spec.model or 'unspecified'}) was not created "
                         "(not supported by this machine?)")
    for b in opts.backends:
        if b.nic is None:
            machine.warn(f"netdev {b.id} has no peer")


def bind_all(machine) -> None:
    for b in backends(machine):
        for fwd in getattr(b, "forwards", ()):
            try:
                fwd.bind()
            except ForwardError as e:
                raise NetError(str(e)) from None


def open_all(machine, loop) -> None:
    for b in backends(machine):
        b.open(loop)


def close_all(machine) -> None:
    for b in backends(machine):
        b.close()
