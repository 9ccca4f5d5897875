"""``info pci`` against QEMU 7.2's HMP output for the default Malta PCI side."""
import os
import socket
import subprocess
import tempfile
import time

from malta_pci_rig import Rig
from qtest_malta import qemu_binary

from pysystem.monitor.hmp_pci import info_pci_text, machine_buses
from pysystem.qom import Container


def _qemu_info_pci(*extra):
    qemu = qemu_binary(False)
    out = subprocess.run([qemu, "-M", "malta", "-S", "-display", "none", "-monitor", "stdio",
                          "-serial", "null", *extra], input="info pci\nquit\n",
                         capture_output=True, text=True, timeout=60).stdout
    body = out[out.index("  Bus  0, device   0"):]
    return body.split("(qemu)")[0].replace("\r", "").rstrip()


def test_default_malta_info_pci_matches_qemu():
    want = _qemu_info_pci()
    rig = Rig(functions=("piix4", "ide", "usb", "pm", "pcnet", "cirrus"))
    assert info_pci_text([rig.bus]) == want


def test_info_pci_after_bars_are_assigned():
    """Linux's assignment from the reference boot log, programmed into both."""
    prog = [(18 << 3, 0x10, 0x10000000), (11 << 3, 0x30, 0x12000000),
            (18 << 3, 0x30, 0x12040000), (18 << 3, 0x14, 0x12050000),
            ((10 << 3) | 2, 0x20, 0x1040), (11 << 3, 0x10, 0x1060), (11 << 3, 0x14, 0x12051000),
            ((10 << 3) | 1, 0x20, 0x1080), (18 << 3, 0x04, 0x3), (11 << 3, 0x04, 0x7),
            ((10 << 3) | 1, 0x04, 0x5), ((10 << 3) | 2, 0x04, 0x1), (11 << 3, 0x3C, 10)]
    script = "".join(f"writel 0x14000cf8 0x{0x80000000 | devfn << 8 | reg:x}\n"
                     f"writel 0x14000cfc 0x{value:x}\n" for devfn, reg, value in prog)
    qemu = qemu_binary(False)
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "mon")
        proc = subprocess.Popen([qemu, "-M", "malta", "-S", "-display", "none", "-serial", "null",
                                 "-qtest", "stdio", "-monitor", f"unix:{sock},server=on,wait=off"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            for line in script.splitlines():
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
                assert proc.stdout.readline().startswith("OK")
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.sendall(b"info pci\n")
            data = b""
            deadline = time.time() + 20
            while b"id \"\"\r\n(qemu)" not in data[-4000:] or data.count(b"id \"\"") < 7:
                if time.time() > deadline:
                    break
                s.settimeout(1)
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                data += chunk
            s.close()
        finally:
            proc.kill()
            proc.wait()
    text = data.decode(errors="replace").replace("\r", "")
    want = text[text.index("  Bus  0, device   0"):].split("(qemu)")[0].rstrip()
    rig = Rig(functions=("piix4", "ide", "usb", "pm", "pcnet", "cirrus"))
    for devfn, reg, value in prog:
        rig.cfg_write(devfn, reg, value)
    assert info_pci_text([rig.bus]) == want


def test_machine_buses_found_in_the_object_tree():
    rig = Rig(functions=("piix4", "pm"))
    machine = Container()
    machine.add_child("gt64120", rig.gt)
    assert machine_buses(machine) == [rig.bus]


def test_info_pci_through_the_monitor():
    import pysystem.monitor.hmp_info  # noqa: F401 - registers "info"
    from pysystem.monitor.hmp import Monitor
    want = _qemu_info_pci()
    rig = Rig(functions=("piix4", "ide", "usb", "pm", "pcnet", "cirrus"))
    machine = Container()
    machine.add_child("gt64120", rig.gt)
    out = Monitor(machine).execute("info pci")
    assert out == want + "\n"
    assert "pci" in Monitor(machine).execute("help info")
