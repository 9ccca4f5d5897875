"""End-to-end: Debian 12's 4kc-malta kernel on -M malta (little-endian), to a busybox shell.

The guest comes from images/ (Debian's own packages, cached after the first run).  The
console is the emulator's stdio under -nographic, as a user has it.  dmesg is compared
with QEMU 7.2's boot log of the same guest (tests/reference/): every line there is here,
and no line reporting a problem is here that is not there.

The same boot checks the disks: an ext4 image on IDE (``-drive if=ide``, PIIX4's IDE
function, Debian's ata_piix module) and one on virtio-blk-pci (virtio_pci, virtio_blk),
with ext4 loaded from the initramfs; the guest mounts both, writes a file on each,
syncs, and after power-off e2fsprogs' debugfs reads the files back from the images. A
third, the IDE slave with snapshot=on (-snapshot's per-drive form), takes the guest's
write too, and its image must come out as the host made it.

And the network: pcnet (``-nic user``, Debian's pcnet32) and a virtio-net-pci on a
second user network.  ``set_link`` through the monitor drops and restores pcnet's
carrier (pcnet32's watchdog reads BCR4); through pcnet, busybox ``udhcpc`` gets
10.0.2.15, ``nslookup`` and ``ping`` resolve a name through the DNS forwarder
(10.0.2.3) against a DNS server this test runs on 127.0.0.1 (PYSYSTEM_DNS_SERVER),
and ``wget`` fetches a 10 MiB file by that name from this test's HTTP server on
127.0.0.1 (checksum equal; the throughput is printed, bench/RESULTS.md records it);
a guest program floods pcnet with malformed frames through an AF_PACKET socket
(net_guest_tools.FLOOD_C, built here by mipsel-linux-gnu-gcc), after which the gateway
answers a ping and a download through pcnet is right; then, with pcnet down, busybox ``udhcpc``
gets 10.0.2.15 through virtio-net and ``wget`` fetches a file from this test's HTTP
server (checksum equal), and ``set_link`` flips virtio-net's carrier (its STATUS bit
and configuration interrupt), and virtio-net takes the same flood.  The emulator
prints no traceback, and the user networks log the dropped frames (-d guest_errors).
``info pci`` shows the function as QEMU 7.2 does.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from guest_session import GuestSession
from net_guest_tools import (GUEST_FILES, DNSServer, Monitor, build_flood, dns_and_wget, flood,
                             free_port, iface, link_drop, serve, virtio_net_checks)
from pysystem.images import build_initramfs
from tools import guest_images, module, program

pytestmark = [pytest.mark.slow, pytest.mark.network]

BOOT_TIMEOUT = float(os.environ.get("PYSYSTEM_BOOT_TIMEOUT", "3000"))
REFERENCE = Path(__file__).parent / "reference" / "qemu-7.2-malta-debian-4kc-malta-boot.txt"
PROMPT = r"/ # "

# Lines of QEMU's boot log that do not appear here, each with its reason.  Patterns are
# matched against the normalised line (timestamps dropped, numbers replaced by '#').
KNOWN_MISSING = {
    r"^reboot: Power down": "printed at power-off, after the test has read dmesg",
}
# Error and warning lines that appear here and not under QEMU, each with its reason.
KNOWN_EXTRA = {
}
PROBLEM = re.compile(r"error|fail|warn|unable|can't|cannot|bug|oops|unhandled|timeout|timed out", re.I)


def _normalise(line: str) -> str:
    line = re.sub(r"^\[\s*\d+\.\d+\]\s?", "", line.rstrip("\r\n"))
    line = re.sub(r"0x[0-9a-fA-F]+", "#", line)    # addresses (the initrd's moves with its size)
    return re.sub(r"\d+", "#", line).strip()


def _kernel_lines(text: str):
    return [_normalise(l) for l in text.splitlines() if re.match(r"^\[\s*\d+\.\d+\]", l)]


def _compare_dmesg(dmesg: str) -> None:
    ours = _kernel_lines(dmesg)
    theirs = _kernel_lines(REFERENCE.read_text())
    ours_set = set(ours)
    missing = [l for l in theirs if l not in ours_set
               and not any(re.search(p, l) for p in KNOWN_MISSING)]
    theirs_set = set(theirs)
    extra = [l for l in ours if l not in theirs_set and PROBLEM.search(l)
             and not any(re.search(p, l) for p in KNOWN_EXTRA)]
    assert not missing and not extra, (
        "dmesg differs from QEMU's:\nmissing here:\n  " + "\n  ".join(missing) +
        "\nproblems only here:\n  " + "\n  ".join(extra))


MODULES = ["ata_piix", "virtio_pci", "virtio_blk", "ext4", "pcnet32", "virtio_net"]
NET_FILE_SIZE = 256 << 10
BIG_FILE_SIZE = 10 << 20
FLOOD_FRAMES = int(os.environ.get("PYSYSTEM_FLOOD_FRAMES", "600"))   # per NIC (CI time)
# QEMU 7.2's ``info pci`` for the virtio-net-pci function once the guest has placed it
# (slot 19: QEMU takes the first free slot too, after cirrus-vga at 18); the brackets
# hold each BAR's last address, so the sizes are QEMU's 32 bytes, 16 KiB and the
# 256 KiB ROM the guest leaves unassigned (tests/test_dev_virtio_net.py compares
# the whole block with QEMU's before the guest runs)
VIRTIO_NET_PCI = re.compile(
    r"  Bus  0, device  19, function 0:\n    Ethernet controller: PCI device 1af4:1000\n"
    r"      PCI subsystem 1af4:0001\n      IRQ \d+, pin A\n"
    r"      BAR0: I/O at 0x([0-9a-f]+) \[0x([0-9a-f]+)\]\.\n"
    r"      BAR4: 64 bit prefetchable memory at 0x([0-9a-f]+) \[0x([0-9a-f]+)\]\.\n"
    r"      BAR6: 32 bit memory at 0xffffffffffffffff \[0x0003fffe\]\.\n      id \"\"\n")
# name, device in the guest, how it is attached
DISKS = [
    ("ide.img", "/dev/sda", lambda path: ["-drive", f"file={path},if=ide,format=raw"]),
    ("vd.img", "/dev/vda", lambda path: ["-drive", f"if=none,id=vd0,file={path},format=raw",
                                         "-device", "virtio-blk-pci,drive=vd0"]),
    # the IDE slave with snapshot=on (what -snapshot gives every drive): the guest's
    # write goes to a temporary overlay, the image keeps what the host put there
    ("snap.img", "/dev/sdb", lambda path: ["-drive",
                                           f"file={path},if=ide,index=1,format=raw,snapshot=on"]),
]
SNAPSHOT_DISKS = {"snap.img"}


def _disks(tmp_path):
    mke2fs = program("mke2fs")
    args = []
    for name, _, attach in DISKS:
        (tmp_path / name / "root").mkdir(parents=True)
        (tmp_path / name / "root" / "host.txt").write_text(f"from the host on {name}\n")
        image = tmp_path / name / name
        subprocess.run([mke2fs, "-q", "-F", "-t", "ext4", "-d", str(tmp_path / name / "root"),
                        str(image), "8M"], check=True, capture_output=True)
        args += attach(image)
    return args


def _last_line(text: str) -> str:
    """A command's own output: its last line (the kernel's messages, "EXT4-fs (sda):
    mounted...", share the console)."""
    return text.strip().splitlines()[-1].strip()


def _write_on_disks(s):
    """In the guest: mount each disk, read the host's file, write one, sync, unmount
    (each command fits on one 80-column line: a longer one wraps in the echo)."""
    for n, (name, dev, _) in enumerate(DISKS):
        assert _last_line(s.command(f"mkdir -p /m{n} && mount -t ext4 {dev} /m{n} && "
                                    f"cat /m{n}/host.txt")) == f"from the host on {name}"
        s.command(f"echo 'written by the guest on {dev}' > /m{n}/guest.txt && sync")
        assert _last_line(s.command(f"umount /m{n} && echo unmounted")) == "unmounted"


def _read_back(tmp_path):
    debugfs = program("debugfs")
    for name, dev, _ in DISKS:
        image = str(tmp_path / name / name)
        out = subprocess.run([debugfs, "-R", "cat /guest.txt", image],
                             check=True, capture_output=True, text=True).stdout
        if name in SNAPSHOT_DISKS:
            assert out == "", (name, out)
            out = subprocess.run([debugfs, "-R", "cat /host.txt", image],
                                 check=True, capture_output=True, text=True).stdout
            assert out == f"from the host on {name}\n", (name, out)
        else:
            assert out == f"written by the guest on {dev}\n", (name, out)


def _network(s, mon, dns, http_port: int, want: str, big: str) -> None:
    pci = mon.cmd("info pci").replace("\r\n", "\n")
    m = VIRTIO_NET_PCI.search(pci)
    assert m, pci
    bar0, end0, bar4, end4 = (int(x, 16) for x in m.groups())
    assert (end0 - bar0 + 1, end4 - bar4 + 1) == (0x20, 0x4000), pci
    pcnet = iface(s, "pcnet32")
    s.command(f"ifconfig {pcnet} up")
    link_drop(s, mon, "n0", pcnet)          # pcnet32's watchdog polls BCR4 every 2 s
    print(dns_and_wget(s, dns, pcnet, http_port, big, BIG_FILE_SIZE))
    print(flood(s, pcnet, FLOOD_FRAMES, 3, http_port, want))
    vif = virtio_net_checks(s, mon, http_port, want, "n1", "52:54:00:12:34:57")
    print(flood(s, vif, FLOOD_FRAMES, 4, http_port, want))


def test_debian_4kc_malta_boots_to_a_shell(tmp_path, monkeypatch):
    module("scapy")
    g = guest_images("mipsel")
    flooder = (build_flood("mipsel", tmp_path), 0o755)
    initrd = build_initramfs("mipsel", modules=MODULES,
                             extra_files=dict(GUEST_FILES, **{"/flood": flooder}),
                             out=tmp_path / "initramfs.cpio.gz")
    body = random.Random(25).getrandbits(NET_FILE_SIZE * 8).to_bytes(NET_FILE_SIZE, "little")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "file.bin").write_bytes(body)
    big = random.Random(26).getrandbits(BIG_FILE_SIZE * 8).to_bytes(BIG_FILE_SIZE, "little")
    (tmp_path / "www" / "big.bin").write_bytes(big)
    server = serve(str(tmp_path / "www"))
    dns = DNSServer()
    monkeypatch.setenv("PYSYSTEM_DNS_SERVER", f"127.0.0.1:{dns.sock.getsockname()[1]}")
    mon_port = free_port()
    args = ["-M", "malta", "-m", "256M", "-kernel", str(g.kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 rdinit=/init", "-nographic",
            "-rtc", "base=2026-11-21T19:08:25",
            "-nic", "user,id=n0", "-netdev", "user,id=n1", "-device", "virtio-net-pci,netdev=n1",
            "-monitor", f"tcp:127.0.0.1:{mon_port},server=on,wait=off",
            "-d", "guest_errors", "-D", str(tmp_path / "errors.log")] + _disks(tmp_path)
    s = GuestSession("mipsel", args, log_path=str(tmp_path / "console.log"))
    mon = None
    try:
        mon = Monitor(mon_port)
        s.expect(PROMPT, BOOT_TIMEOUT)
        s.command("")
        assert s.command("uname -m").strip() == "mips"
        cpuinfo = s.command("cat /proc/cpuinfo")
        assert re.search(r"^system type\s*: MIPS Malta\r?$", cpuinfo, re.M), cpuinfo
        assert s.command("echo $((6*7))").strip() == "42"
        interrupts = s.command("cat /proc/interrupts")
        # the console's UART interrupts arrive through the i8259 (XT-PIC) on IRQ 4
        assert re.search(r"^\s*4:\s+[1-9]\d*\s+XT-PIC\s.*ttyS0", interrupts, re.M), interrupts
        dmesg = s.command("dmesg")
        _write_on_disks(s)
        _network(s, mon, dns, server.server_address[1], hashlib.sha256(body).hexdigest(),
                 hashlib.sha256(big).hexdigest())
        s.send("poweroff -f")
        assert s.wait(300) == 0
    finally:
        if mon is not None:
            mon.close()
        s.close()
        dns.close()
        server.shutdown()
        server.server_close()
    _compare_dmesg(dmesg)
    _read_back(tmp_path)
    assert "Traceback" not in s.text, s.text[-3000:]
    dropped = re.findall(r"net (n[01]): dropped a frame from the guest",
                         (tmp_path / "errors.log").read_text(errors="replace"))
    assert set(dropped) == {"n0", "n1"}, "the user networks logged no dropped frame"
