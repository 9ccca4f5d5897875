"""End-to-end: Debian's armmp kernel on -M vexpress-a9 with ``-nic user``.

One boot (CI cost): the guest's smsc911x driver drives the LAN9118 model, busybox
``udhcpc`` gets 10.0.2.15 from the user network's DHCP server, ``ping`` reaches the
gateway, busybox ``nslookup`` and ``ping NAME`` resolve a name through the DNS
forwarder (10.0.2.3) against a DNS server this test runs on 127.0.0.1 (named by
PYSYSTEM_DNS_SERVER), ``nc`` reaches a ``guestfwd=...-cmd:`` command, ``wget``
fetches a 10 MiB file from an HTTP server this test runs on the host's 127.0.0.1
(through 10.0.2.2) and the guest prints its SHA-256; then busybox ``httpd`` in the
guest serves the file back through ``hostfwd`` and the test fetches it from
127.0.0.1 with urllib: both checksums must equal the original.  Both transfers'
throughputs are printed (bench/RESULTS.md records them).

Then the booted guest is saved (``savevm`` on the HMP socket) and restored by new
processes, which costs seconds where a boot costs minutes: two of them joined by
``-netdev socket`` (listen/connect, then mcast) take static addresses and new MACs,
ping each other and move a file with busybox ``wget`` (checksums equal); one on
``-netdev tap`` (as root with /dev/net/tun) pings the host's address on the tap.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import socket
import time
import urllib.request

import pytest

from guest_session import GuestSession
from net_guest_tools import DNS_NAME as NAME, NET_INIT_HEAD, UDHCPC_SCRIPT, DNSServer, free_port, serve
from tools import NO_TAP, guest_images, module, program

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
SIZE = 10 << 20

NET_INIT = NET_INIT_HEAD + """echo "NS-BEGIN"
nslookup files.pysystem.test
echo "NS-END"
if ping -c 1 -W 5 files.pysystem.test >/dev/null; then echo "PING-NAME-OK"; else echo "PING-NAME-FAILED"; fi
echo "GFWD <$(echo hello guestfwd | nc 10.0.2.100 1234)>"
echo "WGET-START"
start=$(cat /proc/uptime)
wget -q -O /www/file.bin "http://10.0.2.2:$httpport/file.bin" && echo "WGET-OK"
echo "UPTIME $start $(cat /proc/uptime)"
echo "SUM $(sha256sum /www/file.bin)"
httpd -p 8080 -h /www
echo "HTTPD-READY"
setsid cttyhack sh
poweroff -f
"""


def _hmp(path: str, command: str, timeout: float = 600) -> str:
    """One HMP command on the ``-monitor unix:`` socket at ``path``; its output."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        data = b""
        while not data.endswith(b"(qemu) "):
            data += sock.recv(4096)
        sock.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"(qemu) "):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def _restore(boot_args, tmp_path, name: str, nic: str) -> GuestSession:
    """A new process at the saved shell, its NIC on ``nic`` (a -nic value)."""
    args = list(boot_args) + ["-nic", nic, "-loadvm", "net"]
    return GuestSession("arm", args, log_path=str(tmp_path / f"{name}.log"))


def _run(s: GuestSession, line: str, pattern: str, timeout: float = 300):
    """Type ``line``; wait for ``pattern`` in what follows (not in the echo: patterns
    match output computed by the shell, e.g. ``$((40+2))``)."""
    return s.expect(pattern, timeout, s.send(line))


def _static(s: GuestSession, mac: str, addr: str) -> None:
    _run(s, f"ifconfig eth0 down; ifconfig eth0 hw ether {mac}; "
            f"ifconfig eth0 {addr} netmask 255.255.255.0 up && echo UP-$((40+2))", r"UP-42")


def _pair(boot_args, tmp_path, kind: str, nic_a: str, nic_b: str, pair_sum: str,
          qemu: str = "") -> None:
    """Two guests on one segment: B pings A and fetches /www/pair.bin from A's httpd
    (still running from the saved boot).  A is restored; B too, or with ``qemu`` it is
    that qemu-system-arm booting the same kernel and initramfs (its DHCP, DNS and
    wget fail quickly on a segment without a gateway, then its shell starts)."""
    a = _restore(boot_args, tmp_path, f"{kind}-a", nic_a)
    b = None
    try:
        # A answers first, so its listener is there before B connects (a probe would
        # take the listener's one peer place)
        _static(a, "52:54:00:00:aa:01", "192.168.78.1")
        if qemu:
            machine = boot_args.index("-M") + 1
            args = boot_args[:machine] + ["vexpress-a9"] + boot_args[machine + 1:]
            b = GuestSession("arm", args + ["-nic", nic_b], log_path=str(tmp_path / "qemu.log"),
                             program=qemu)
            b.expect(r"/ # ", 300, b.expect(r"HTTPD-READY", 300).end())
        else:
            b = _restore(boot_args, tmp_path, f"{kind}-b", nic_b)
        _static(b, "52:54:00:00:aa:02", "192.168.78.2")
        _run(b, "ping -c 2 -W 10 192.168.78.1 >/dev/null && echo PINGED-$((40+2))", r"PINGED-42")
        got = _run(b, "wget -q -O /tmp/pair.bin http://192.168.78.1:8080/pair.bin && "
                      "echo \"GOT-$((40+2)) $(sha256sum /tmp/pair.bin)\"",
                   r"GOT-42 ([0-9a-f]{64})", 600).group(1).decode()
        assert got == pair_sum, f"{kind}: the file differs after the transfer"
    finally:
        for s in (a, b):
            if s is not None:
                s.close()


def _tap(boot_args, tmp_path) -> None:
    from test_net_tap import ifup_script
    name = f"pstg{os.getpid() % 100000}"
    up = ifup_script(tmp_path, "192.168.79.1")
    s = _restore(boot_args, tmp_path, "tap", f"tap,ifname={name},script={up},downscript=no")
    try:
        _static(s, "52:54:00:00:aa:03", "192.168.79.2")
        _run(s, "ping -c 2 -W 10 192.168.79.1 >/dev/null && echo TAPPED-$((40+2))", r"TAPPED-42")
    finally:
        s.close()


def test_dhcp_dns_wget_and_hostfwd_on_vexpress(tmp_path, monkeypatch):
    module("scapy")
    from pysystem.images import build_initramfs
    g = guest_images("arm")
    body = random.Random(25).getrandbits(SIZE * 8).to_bytes(SIZE, "little")
    want = hashlib.sha256(body).hexdigest()
    www = tmp_path / "www"
    www.mkdir()
    (www / "file.bin").write_bytes(body)

    server = serve(str(www))
    dns = DNSServer()
    monkeypatch.setenv("PYSYSTEM_DNS_SERVER", f"127.0.0.1:{dns.sock.getsockname()[1]}")
    initrd = build_initramfs("arm", NET_INIT, modules=("smsc911x",),
                             extra_files={"/udhcpc.script": UDHCPC_SCRIPT},
                             out=tmp_path / "initrd.cpio.gz")
    fwd_port = free_port()
    snapdir, monitor = tmp_path / "snap", str(tmp_path / "hmp.sock")
    boot_args = ["-M", f"vexpress-a9,snapshot-dir={snapdir}", "-m", "256M",
                 "-kernel", str(g.kernel), "-dtb", str(g.dtb), "-initrd", str(initrd),
                 "-nographic", "-rtc", "base=2026-01-01T00:00:00",
                 "-append", f"console=ttyAMA0 rdinit=/init httpport={server.server_address[1]}"]
    args = boot_args + [
            "-monitor", f"unix:{monitor},server=on,wait=off",
            "-nic", f"user,hostfwd=tcp:127.0.0.1:{fwd_port}-:8080,"
                    "guestfwd=tcp:10.0.2.100:1234-cmd:head -n 1 | tr a-z A-Z",
            "-d", "net,guest_errors", "-D", str(tmp_path / "net.log")]
    s = GuestSession("arm", args, log_path=str(tmp_path / "console.log"))
    try:
        # each pattern ends at the line's end: the console arrives a few bytes at a time,
        # and "dns (\S+)" alone matched "dns 1" of "dns 10.0.2.3" once
        lease = s.expect(r"LEASE (\S+) router (\S+) dns (\S+)\r?\n", BOOT_TIMEOUT)
        assert lease.groups() == (b"10.0.2.15", b"10.0.2.2", b"10.0.2.3")
        s.expect(r"PING-OK", 300)
        ns = s.expect(r"(?s)NS-BEGIN(.*?)NS-END", 300).group(1).decode()
        assert re.search(NAME.replace(".", r"\.") + r"\s+Address:\s*10\.0\.2\.2\b", ns), ns
        assert (NAME, 1) in dns.asked
        s.expect(r"PING-NAME-OK", 120)
        assert s.expect(r"GFWD <(.*)>", 120).group(1) == b"HELLO GUESTFWD"
        s.expect(r"WGET-START", 60)
        started = time.monotonic()
        s.expect(r"WGET-OK", 1800)
        wget_host_seconds = time.monotonic() - started
        up = s.expect(r"UPTIME (\S+) \S+ (\S+) \S+\r?\n", 60)   # two /proc/uptime
        got = s.expect(r"SUM ([0-9a-f]{64})", 60).group(1).decode()
        assert got == want
        s.expect(r"HTTPD-READY", 60)
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{fwd_port}/file.bin", timeout=1800) as r:
            back = r.read()
        host_seconds = time.monotonic() - started
        assert hashlib.sha256(back).hexdigest() == want
        guest_seconds = float(up.group(2)) - float(up.group(1))
        mib = SIZE / (1 << 20)
        print(f"guest wget {mib:.0f} MiB: {guest_seconds:.2f} s guest time, "
              f"{wget_host_seconds:.1f} s host time ({mib / wget_host_seconds:.2f} MiB/s); "
              f"host fetch through hostfwd: {host_seconds:.1f} s host time "
              f"({mib / host_seconds:.2f} MiB/s)")
        pair_sum = _run(s, "dd if=/dev/urandom of=/www/pair.bin bs=1024 count=512 2>/dev/null; "
                           "echo \"PAIRSUM-$((40+2)) $(sha256sum /www/pair.bin)\"",
                        r"PAIRSUM-42 ([0-9a-f]{64})", 300).group(1).decode()
        out = _hmp(monitor, "savevm net")
        assert "Error" not in out, out
        s.send("poweroff -f")
        assert s.wait(300) == 0
    finally:
        s.close()
        dns.close()
        server.shutdown()
        server.server_close()
    assert re.search(r"smsc911x", s.text), s.text[-2000:]
    port = free_port()
    _pair(boot_args, tmp_path, "stream", f"socket,listen=127.0.0.1:{port}",
          f"socket,connect=127.0.0.1:{port}", pair_sum)
    group = f"mcast=230.0.0.1:{free_port()},localaddr=127.0.0.1"
    _pair(boot_args, tmp_path, "mcast", f"socket,{group}", f"socket,{group}", pair_sum)
    port = free_port()                                 # a peer that is not us
    _pair(boot_args, tmp_path, "qemu", f"socket,listen=127.0.0.1:{port}",
          f"socket,connect=127.0.0.1:{port}", pair_sum, qemu=program("qemu-system-arm"))
    if os.geteuid() == 0 and os.path.exists("/dev/net/tun"):
        _tap(boot_args, tmp_path)
    else:
        pytest.skip(NO_TAP)                             # the rest of this test passed
