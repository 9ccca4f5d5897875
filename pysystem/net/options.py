"""The network options of the command line: ``-netdev``, ``-nic``, ``-net``.

    opts = NetOptions()
    opts.netdev("user,id=n0,hostfwd=tcp::5555-:22")
    opts.nic("user,model=lan9118,mac=52:54:00:12:34:57")
    opts.net("nic,model=pcnet")
    opts.net("user")
    opts.backends      # [UserNet, ...] in order
    opts.nics          # [NICSpec(model, backend, mac), ...]: the boards' NICs

Keys may repeat (``hostfwd=`` several times), so options are read as a list of
(key, value) pairs; ``,,`` stands for a comma as everywhere else.  Errors are
``ValueError``s with one line (the command line adds the option to it).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from pysystem.cli_opts import CLIError, parse_bool

from .client import NetBackend
from .guestfwd import parse_guestfwd
from .hostfwd import parse_hostfwd
from .socket_net import SocketNet
from .tap import DEFAULT_HELPER, TAP_KEYS, TapNet
from .user import UserConfig, UserNet, env_resolver

USER_KEYS = ("id", "net", "host", "dns", "dhcpstart", "hostname", "restrict", "hostfwd",
             "guestfwd", "ipv4", "ipv6")
NETDEV_TYPES = ("user", "socket", "tap", "bridge", "vde", "l2tpv3", "stream", "dgram", "hubport")


class NICSpec:
    """A NIC a board should create (``-nic``, ``-net nic``) and its backend."""

    def __init__(self, model: Optional[str], backend: Optional[NetBackend], mac: Optional[str],
                 text: str):
        self.model, self.backend, self.mac, self.text = model, backend, mac, text
        self.claimed = False

    def props(self) -> dict:
        out = {}
        if self.backend is not None:
            out["netdev"] = self.backend
        if self.mac:
            out["mac"] = self.mac
        return out


def split_items(text: str) -> List[Tuple[str, str]]:
    """``type,key=value,...`` as [(key, value)]; the first bare word is ("type", word)."""
    items, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "," and text[i + 1:i + 2] == ",":
            cur.append(",")
            i += 2
            continue
        if ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    out = []
    for n, item in enumerate(items):
        if "=" in item:
            key, value = item.split("=", 1)
            if not key:
                raise ValueError("Invalid parameter ''")
            out.append((key, value))
        elif n == 0:
            out.append(("type", item))
        elif item:
            out.append((item, "on"))
    return out


def _bool(key: str, value: str) -> bool:
    """QEMU's on/off (cli_opts.parse_bool), its error as the net layer's ValueError."""
    try:
        return parse_bool(key, value)
    except CLIError as e:
        raise ValueError(str(e)) from None


def make_user(netdev_id: str, items: List[Tuple[str, str]]) -> UserNet:
    """A ``user`` backend from its keys (not listening yet: ``bind_forwards``)."""
    conf = {}
    forwards, guestfwds = [], []
    for key, value in items:
        if key not in USER_KEYS:
            raise ValueError(f"Invalid parameter '{key}'")
        if key == "hostfwd":
            forwards.append(parse_hostfwd(value))
        elif key == "guestfwd":
            guestfwds.append(parse_guestfwd(value))
        elif key in ("ipv4", "ipv6"):
            if key == "ipv4" and not _bool(key, value):
                raise ValueError("ipv4=off is not supported")
        elif key == "restrict":
            conf["restrict"] = _bool(key, value)
        elif key != "id":
            conf[key] = value
    try:
        config = UserConfig(**conf)
    except (ValueError, OSError) as e:
        raise ValueError(str(e) or "invalid address") from None
    env_resolver()                      # a malformed PYSYSTEM_DNS_SERVER: one line, now
    net = UserNet(netdev_id, config)
    for fwd in forwards:
        net.add_forward(fwd)
    for gfwd in guestfwds:
        try:
            net.add_guestfwd(gfwd)
        except ValueError:
            net.close()
            raise
    return net


class NetOptions:
    def __init__(self):
        self.backends: List[NetBackend] = []
        self.nics: List[NICSpec] = []
        self.disabled = False          # -nic none / -net none
        self.loop = None               # the main loop, once open (net.open_all)
        self.orphan_nics: list = []    # NICs whose backend netdev_del removed
        self.default = False           # QEMU's default -net nic -net user (no option given)
        self._auto = 0

    def _check_id(self, netdev_id: str) -> None:
        if not netdev_id:
            raise ValueError("Parameter 'id' is missing")
        if any(b.id == netdev_id for b in self.backends):
            raise ValueError(f"Duplicate ID '{netdev_id}' for netdev")

    def _backend(self, kind: str, netdev_id: str, items) -> NetBackend:
        if kind == "user":
            return make_user(netdev_id, items)
        if kind == "socket":
            conf = {}
            for key, value in items:
                if key not in ("id", "listen", "connect", "mcast", "udp", "localaddr"):
                    raise ValueError(f"Invalid parameter '{key}'")
                if key != "id":
                    conf[key] = value
            return SocketNet(netdev_id, **conf)
        if kind == "tap":
            conf = {}
            for key, value in items:
                if key not in TAP_KEYS:
                    raise ValueError(f"Invalid parameter '{key}'")
                if key != "id":
                    conf[key] = value
            return TapNet(netdev_id, **conf)
        if kind == "bridge":            # a tap from the bridge helper (tap.py)
            conf = {"helper": DEFAULT_HELPER}
            for key, value in items:
                if key not in ("id", "br", "helper"):
                    raise ValueError(f"Invalid parameter '{key}'")
                if key != "id":
                    conf[key] = value
            return TapNet(netdev_id, **conf)
        if kind in NETDEV_TYPES:
            raise ValueError(f"network backend '{kind}' is not supported yet "
                             "(only 'user', 'socket', 'tap' and 'bridge')")
        raise ValueError("Parameter 'type' expects a netdev backend type")

    def netdev(self, text: str) -> NetBackend:
        return self.netdev_items(split_items(text))

    def netdev_items(self, items: List[Tuple[str, str]]) -> NetBackend:
        """``netdev`` from (key, value) pairs, the type as ("type", kind)."""
        kind = dict(items).get("type", "")
        if not kind:
            raise ValueError("Parameter 'type' is missing")
        rest = [(k, v) for k, v in items if k != "type"]
        netdev_id = dict(rest).get("id", "")
        self._check_id(netdev_id)
        backend = self._backend(kind, netdev_id, rest)
        self.backends.append(backend)
        return backend

    def nic(self, text: str) -> None:
        items = split_items(text)
        kind = dict(items).get("type", "")
        if kind == "none":
            self.disabled = True
            return
        model = mac = None
        rest = []
        for key, value in items:
            if key == "model":
                model = value
            elif key == "mac":
                mac = value
            elif key != "type":
                rest.append((key, value))
        netdev_id = dict(rest).get("id") or f"#net{self._auto}"
        self._auto += 1
        self._check_id(netdev_id)
        backend = self._backend(kind, netdev_id, [(k, v) for k, v in rest])
        self.backends.append(backend)
        self.nics.append(NICSpec(model, backend, mac, text))

    def net(self, text: str) -> None:
        items = split_items(text)
        kind = dict(items).get("type", "")
        rest = [(k, v) for k, v in items if k != "type"]
        if kind == "none":
            self.disabled = True
            return
        if kind == "nic":
            conf = dict(rest)
            for key in conf:
                if key not in ("model", "macaddr", "netdev", "name", "vlan", "id"):
                    raise ValueError(f"Invalid parameter '{key}'")
            backend = None
            if "netdev" in conf:
                backend = self.lookup(conf["netdev"])
            self.nics.append(NICSpec(conf.get("model"), backend, conf.get("macaddr"), text))
            self._pair_legacy()
            return
        rest = [(k, v) for k, v in rest if k not in ("name", "vlan")]
        if "id" not in dict(rest):
            rest.append(("id", f"#net{self._auto}"))
            self._auto += 1
        netdev_id = dict(rest)["id"]
        self._check_id(netdev_id)
        backend = self._backend(kind, netdev_id, rest)
        backend.legacy = True
        self.backends.append(backend)
        self._pair_legacy()

    def _pair_legacy(self) -> None:
        """``-net nic`` and ``-net user`` meet on QEMU's hub 0: pair them in order."""
        free = [b for b in self.backends if getattr(b, "legacy", False)
                and not any(n.backend is b for n in self.nics)]
        for spec in self.nics:
            if spec.backend is None and free:
                spec.backend = free.pop(0)

    def lookup(self, netdev_id: str) -> NetBackend:
        for b in self.backends:
            if b.id == netdev_id:
                return b
        raise ValueError(f"Property 'netdev' can't find value '{netdev_id}'")

    def finish(self) -> None:
        """After parsing: a ``-net user`` without ``-net nic`` gets the board's default NIC."""
        for b in self.backends:
            if getattr(b, "legacy", False) and not any(n.backend is b for n in self.nics):
                self.nics.append(NICSpec(None, b, None, "user"))
