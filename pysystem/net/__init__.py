"""Networking: NIC <-> backend seam (client.py), the user-mode network (user.py with
packet.py, dhcp.py, tcp.py, hostfwd.py), and the command-line options (options.py).

How a board wires its on-board NIC::

    props = net.board_nic(machine, "lan9118")    # {} or {"netdev": backend, "mac": ...}

The command line puts the parsed options on the machine (``machine.net_options``);
``bind_all(machine)`` creates the hostfwd listeners before the guest starts (errors
are one line), ``open_all(machine, loop)`` hooks every backend into the main loop.
``netdev_add(machine, items)`` and ``netdev_del(machine, id)`` do the monitor's
``netdev_add``/``netdev_del`` while the machine runs.
"""
from __future__ import annotations

from typing import List

from .client import NetBackend, backends_text, find, nic_info
from .hostfwd import ForwardError, parse_hostfwd
from .options import NetOptions, NICSpec
from .user import UserConfig, UserNet

__all__ = ["NetBackend", "UserNet", "UserConfig", "NetOptions", "NICSpec", "ForwardError",
           "parse_hostfwd", "board_nic", "nic_model", "nic_count", "backends", "bind_all",
           "open_all", "close_all", "backends_text", "NetError", "netdev_add", "netdev_del",
           "network_text"]


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
    _options(machine).loop = loop
    for b in backends(machine):
        b.open(loop)


def network_text(machine) -> str:
    """``info network``: the backends (a NIC before its peer) and the NICs whose
    backend ``netdev_del`` removed."""
    opts = _options(machine)
    text = backends_text(opts.backends)
    lost = "\n".join(nic_info(nic) for nic in opts.orphan_nics)
    return "\n".join(t for t in (text, lost) if t)


def netdev_add(machine, items) -> NetBackend:
    """A backend from ``type,id=..,key=value`` items, created and opened now (NetError
    with QEMU's words when the options are wrong or a host port cannot be had)."""
    opts = getattr(machine, "net_options", None)
    if opts is None:
        opts = machine.net_options = NetOptions()
    try:
        backend = opts.netdev_items(items)
    except ValueError as e:
        raise NetError(str(e)) from None
    try:
        for fwd in getattr(backend, "forwards", ()):
            fwd.bind()
    except ForwardError as e:
        opts.backends.remove(backend)
        backend.close()
        raise NetError(str(e)) from None
    loop = opts.loop if opts.loop is not None else getattr(machine, "loop", None)
    if loop is not None:
        backend.open(loop)
    return backend


def netdev_del(machine, netdev_id: str) -> None:
    """Remove a backend; its NIC stays, with no peer (its frames are lost), as QEMU."""
    opts = _options(machine)
    backend = find(opts.backends, netdev_id)
    if backend is None:
        raise NetError(f"Device '{netdev_id}' not found")
    backend.close()
    backend.link_up = False             # the NIC still holds it: what it sends is lost
    opts.backends.remove(backend)
    if backend.nic is not None:
        opts.orphan_nics.append(backend.nic)


def close_all(machine) -> None:
    for b in backends(machine):
        b.close()
