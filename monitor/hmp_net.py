"""The network's monitor commands: ``info network``, ``info usernet``,
``hostfwd_add``, ``hostfwd_remove``, ``netdev_add``, ``netdev_del`` and ``set_link``
(QEMU's wording; importing registers them).  QMP's own ``netdev_add``/``netdev_del``
are in qmp_net.py.

    hostfwd_add [netdev_id] [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport
    hostfwd_remove [netdev_id] [tcp|udp]:[hostaddr]:hostport

Without a netdev id the first user-mode network is meant.  QMP reaches them through
``human-monitor-command`` (labgrid's QEMUDriver forwards ports so).
"""
from __future__ import annotations

from typing import List

from pysystem import net
from pysystem.net.options import split_items

from .hmp_table import MonitorError, command, info_command


def _user_nets(mon) -> list:
    return [b for b in net.backends(mon.machine) if isinstance(b, net.UserNet)]


def _pick(mon, args: List[str], name: str):
    nets = _user_nets(mon)
    if len(args) == 2:
        found = [b for b in nets if b.id == args[0]]
        if not found:
            raise MonitorError(f"unknown netdev '{args[0]}'" if not
                               any(b.id == args[0] for b in net.backends(mon.machine))
                               else f"netdev '{args[0]}' is not a user-mode network")
        return found[0], args[1]
    if len(args) != 1:
        raise MonitorError(f"{name}: expects [netdev_id] rule")
    if not nets:
        raise MonitorError("No usernet device found")
    return nets[0], args[0]


@info_command("network", "", "show the network state")
def _info_network(mon, args: List[str]) -> str:
    if mon.machine is None:
        return ""
    return net.network_text(mon.machine)


@info_command("usernet", "", "show user network stack connection states")
def _info_usernet(mon, args: List[str]) -> str:
    return "\n".join(b.usernet_text() for b in _user_nets(mon))


@command("hostfwd_add", "[netdev_id] [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport",
         "redirect TCP or UDP connections from host to guest (e.g. tcp::5555-:22)")
def _hostfwd_add(mon, args: List[str]) -> str:
    backend, rule = _pick(mon, args, "hostfwd_add")
    try:
        fwd = net.parse_hostfwd(rule)
        if any(f.host_addr == fwd.host_addr and f.host_port == fwd.host_port and fwd.host_port
               and f.proto == fwd.proto for f in backend.forwards):
            raise net.ForwardError(f"Could not set up host forwarding rule '{rule}'")
        fwd.bind()
    except net.ForwardError as e:
        raise MonitorError(str(e)) from None
    backend.add_forward(fwd)
    return ""


@command("hostfwd_remove", "[netdev_id] [tcp|udp]:[hostaddr]:hostport",
         "remove host-to-guest TCP or UDP redirection")
def _hostfwd_remove(mon, args: List[str]) -> str:
    backend, rule = _pick(mon, args, "hostfwd_remove")
    proto, _, rest = rule.partition(":")
    addr, _, port = rest.rpartition(":")
    if proto not in ("tcp", "udp", "") or not port.isdigit():
        raise MonitorError("invalid format")
    addr = addr or "127.0.0.1"
    for fwd in list(backend.forwards):
        if fwd.host_addr == addr and fwd.host_port == int(port) and \
                fwd.proto == (proto or "tcp"):
            backend.remove_forward(fwd)
            return f"host forwarding rule for {rule} removed"
    return f"host forwarding rule for {rule} not found"


@command("set_link", "name on|off", "change the link status of a network adapter")
def _set_link(mon, args: List[str]) -> str:
    if len(args) != 2 or args[1] not in ("on", "off"):
        raise MonitorError("set_link: expects name on|off")
    up = args[1] == "on"
    nic = net.find_nic(mon.machine, args[0])   # a NIC's name (info network), else a netdev id
    backend = next((b for b in net.backends(mon.machine) if b.id == args[0]), None)
    if nic is not None:
        backend = next((b for b in net.backends(mon.machine) if b.nic is nic), None)
    elif backend is not None:
        nic = backend.nic
    if nic is not None or backend is not None:
        if backend is not None:
            backend.link_up = up            # frames both ways are lost while down
        notify = getattr(nic, "set_link_status", None)
        if notify is not None:              # the NIC shows it to the guest (carrier)
            notify(up)
        return ""
    raise MonitorError(f"Error: Device '{args[0]}' not found")


@command("netdev_add", "[user|socket],id=str[,prop=value][,...]", "add host network device")
def _netdev_add(mon, args: List[str]) -> str:
    if len(args) != 1:
        raise MonitorError("netdev_add: expects type,id=str[,prop=value][,...]")
    try:
        net.netdev_add(mon.machine, split_items(args[0]))
    except (net.NetError, ValueError) as e:
        raise MonitorError(f"Error: {e}") from None
    return ""


@command("netdev_del", "id", "remove host network device")
def _netdev_del(mon, args: List[str]) -> str:
    if len(args) != 1:
        raise MonitorError("netdev_del: expects id")
    try:
        net.netdev_del(mon.machine, args[0])
    except net.NetError as e:
        raise MonitorError(f"Error: {e}") from None
    return ""
