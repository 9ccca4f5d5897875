"""Networking: NIC <-> backend seam (client.py), the user-mode network (user.py with
packet.py, dhcp.py, tcp.py, hostfwd.py), and the command-line options (options.py).

How a board wires its NICs::

    props = net.board_nic(machine, "lan9118")    # {} or {"netdev": backend, "mac": ...}
    for spec in net.board_nics(machine): ...     # every -nic / -net nic (Malta)
    net.add_nic(machine, nic, dev_id)            # each NIC made: its ``info network`` name

``board_nics`` is QEMU's nd_table: the ``-nic``/``-net nic`` NICs in order; without
any network option one default NIC; none with ``-nodefaults`` (``machine.nodefaults``),
``-nic none`` or only ``-netdev``s.

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
           "network_text", "board_nics", "add_nic", "nic_names", "find_nic"]


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


def board_nics(machine) -> List[NICSpec]:
    """The NICs the command line asks the board for, in order (QEMU's nd_table): the
    ``-nic``/``-net nic`` ones; with no network option at all QEMU's default NIC
    (``default_net``: the command line puts it on a user network, cli._build; a board
    built without the command line gets the NIC alone), none under ``-nodefaults``."""
    opts = getattr(machine, "net_options", None)
    if opts is not None:
        return opts.nics
    if getattr(machine, "nodefaults", False):
        return []
    return [NICSpec(None, None, None, "default")]


def nic_count(machine) -> int:
    """How many NICs QEMU's board would make from the options (it makes one by default
    when no network option is given): the default MACs of ``-device`` NICs count on."""
    return len(board_nics(machine))


def add_nic(machine, nic, dev_id: str = "") -> str:
    """Record a NIC the board made (``nic``: the object with ``mac`` and ``netdev``;
    ``dev_id``: its ``-device id=``); returns its net client name as QEMU's
    ``info network`` shows it: the id, else ``MODEL.N``, N counting the NICs of that
    model made before (named ones too)."""
    records = machine.__dict__.setdefault("net_nics", [])
    model = _model(nic)
    name = dev_id or f"{model}.{sum(1 for _, n in records if _model(n) == model)}"
    records.append((name, nic))
    return name


def _model(nic) -> str:
    return getattr(nic, "nic_model", None) or getattr(nic, "TYPE", type(nic).__name__)


def nic_names(machine) -> list:
    """[(name, nic)] in the order the board made them."""
    return list(getattr(machine, "net_nics", ()))


def find_nic(machine, name: str):
    for nic_name, nic in nic_names(machine):
        if nic_name == name:
            return nic
    return None


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
    if opts.default:
        return          # QEMU's default network warns of nothing (-M none has no NIC)
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
    """``info network`` in QEMU's order (its list of net clients, oldest first, a
    backend with a NIC shown under it): the command line's backends without a NIC,
    the NICs as the board made them (each with its backend, if ``netdev_del`` left
    it one), then backends ``netdev_add`` made.  NICs the board did not record
    (a device built outside a board) come with their backends, as before."""
    opts = _options(machine)
    named = nic_names(machine)
    lines = [b.info() for b in opts.backends if b.nic is None and not b.hotplugged]
    for name, nic in named:
        lines.append(nic_info(nic, name))
        peer = getattr(nic, "netdev", None)
        if peer is not None and any(peer is b for b in opts.backends):
            lines.append(" \\ " + peer.info())
    known = [nic for _, nic in named]
    rest = [b for b in opts.backends if (b.nic is not None and not any(b.nic is n for n in known))
            or (b.nic is None and b.hotplugged)]
    lines += [line for line in backends_text(rest).split("\n") if line]
    lines += [nic_info(nic) for nic in opts.orphan_nics if not any(nic is n for n in known)]
    return "\n".join(lines)


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
    backend.hotplugged = True
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
