"""labgrid's QEMUDriver ``add_port_forward``/``remove_port_forward`` against
pysystem-arm: labgrid sends ``hostfwd_add``/``hostfwd_remove`` through QMP's
``human-monitor-command`` (its own QMP client on the emulator's stdio), and the
forwards must be real host sockets: a TCP listener a client connects to, a UDP
port that is taken, both gone after the removal.  The guest kernel runs but is
not waited for (the forwards live on the host side of the user network).
"""
from __future__ import annotations

import socket

from labgrid_env import labgrid
from tools import guest_images, guest_script

LABGRID_ENV = """\
targets:
  main:
    drivers:
      QEMUDriver:
        qemu_bin: pysystem
        machine: vexpress-a9
        cpu: cortex-a9
        memory: 256M
        kernel: kernel
        dtb: dtb
        extra_args: "-initrd {initrd}"
        boot_args: "console=ttyAMA0"
        display: none
        nic: "user,id=n0"
tools:
  pysystem: {script}
images:
  kernel: {kernel}
  dtb: {dtb}
"""


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _udp_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    except ConnectionRefusedError:
        return False
    return True


def test_labgrid_add_and_remove_port_forward(tmp_path):
    labgrid()
    from labgrid import Environment
    g = guest_images("arm")
    env_file = tmp_path / "labgrid.yaml"
    env_file.write_text(LABGRID_ENV.format(initrd=g.initrd, kernel=g.kernel, dtb=g.dtb,
                                           script=guest_script("pysystem-arm")))
    target = Environment(str(env_file)).get_target("main")
    qemu = target.get_driver("QEMUDriver")
    qemu.on()
    try:
        tcp, udp = _free_port(), _free_port(socket.SOCK_DGRAM)
        qemu.add_port_forward("tcp", "127.0.0.1", tcp, "10.0.2.15", 22)
        qemu.add_port_forward("udp", "127.0.0.1", udp, "10.0.2.15", 69, netdev="n0")
        assert _listening(tcp) and _udp_taken(udp)
        usernet = qemu.monitor_command("human-monitor-command", {"command-line": "info usernet"})
        assert "TCP[HOST_FORWARD]" in usernet and f"{tcp}       10.0.2.15    22" in usernet
        assert "UDP[HOST_FORWARD]" in usernet and f"{udp}       10.0.2.15    69" in usernet
        qemu.remove_port_forward("tcp", "127.0.0.1", tcp)
        qemu.remove_port_forward("udp", "127.0.0.1", udp, netdev="n0")
        assert not _listening(tcp) and not _udp_taken(udp)
        assert "HOST_FORWARD" not in qemu.monitor_command(
            "human-monitor-command", {"command-line": "info usernet"})
    finally:
        qemu.off()
