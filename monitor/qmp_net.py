"""QMP's ``netdev_add`` and ``netdev_del`` (QEMU 7.2's Netdev arguments: ``type``,
``id`` and the backend's members; a bool is on/off, ``hostfwd``/``guestfwd`` are
lists of ``{"str": RULE}``).  Importing registers them.

    {"execute": "netdev_add", "arguments": {"type": "user", "id": "n1",
                                            "hostfwd": [{"str": "tcp::5555-:22"}]}}
    {"execute": "netdev_del", "arguments": {"id": "n1"}}
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from pysystem import net

from .qmp_commands import QMPError, _machine, register


def _items(args: Dict[str, Any]) -> List[Tuple[str, str]]:
    items = []
    for key, value in args.items():
        if isinstance(value, bool):
            items.append((key, "on" if value else "off"))
        elif isinstance(value, (str, int)):
            items.append((key, str(value)))
        elif isinstance(value, list) and all(isinstance(v, dict) and set(v) == {"str"}
                                             and isinstance(v["str"], str) for v in value):
            items += [(key, v["str"]) for v in value]
        else:
            raise QMPError("GenericError", f"Invalid parameter type for '{key}'")
    return items


@register("netdev_add", {"type": ("str", True), "id": ("str", True), "*": ("any", False)})
def _netdev_add(qmp, args):
    try:
        net.netdev_add(_machine(qmp), _items(args))
    except net.NetError as e:
        text = str(e)
        if text.startswith("Invalid parameter '"):          # QAPI's words for a member
            text = f"Parameter '{text.split(chr(39))[1]}' is unexpected"
        raise QMPError("GenericError", text) from None
    return {}


@register("netdev_del", {"id": ("str", True)})
def _netdev_del(qmp, args):
    try:
        net.netdev_del(_machine(qmp), args["id"])
    except net.NetError as e:
        cls = "DeviceNotFound" if "not found" in str(e) else "GenericError"
        raise QMPError(cls, str(e)) from None
    return {}
