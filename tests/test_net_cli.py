"""The network options and monitor commands, through the command line's own entry
point (``pysystem.cli.main``) and a real host client of a hostfwd listener."""
from __future__ import annotations

import socket

import pytest

from pysystem.cli import main
from pysystem.monitor.hmp import Monitor
from pysystem.monitor.qmp import QMPMonitor


def _run(capsys, *argv, on_start=None):
    status = main("arm", ["-M", "vexpress-a9", "-display", "none", "-S", *argv], on_start=on_start)
    return status, capsys.readouterr().err


@pytest.mark.parametrize("argv,msg", [
    (("-netdev", "user"), "-netdev user: Parameter 'id' is missing"),
    (("-netdev", "user,id=a,bogus=1"), "Invalid parameter 'bogus'"),
    (("-netdev", "user,id=a", "-netdev", "user,id=a"), "Duplicate ID 'a' for netdev"),
    (("-netdev", "vde,id=t"), "network backend 'vde' is not supported yet"),
    (("-netdev", "tap,id=t,helper=/nonexistent/qemu-bridge-helper"),
     "bridge helper failed: /nonexistent/qemu-bridge-helper: No such file or directory"),
    (("-netdev", "bridge,id=t,helper=/nonexistent/qemu-bridge-helper"),
     "bridge helper failed: /nonexistent/qemu-bridge-helper: No such file or directory"),
    (("-netdev", "bridge,id=t,bogus=1"), "Invalid parameter 'bogus'"),
    (("-netdev", "tap,id=t,ifname=pst-nonexistent-name-too-long"),
     "Parameter 'ifname' expects a name of at most 15 characters"),
    (("-nic", "user,hostfwd=tcp::99999-:22"), "(bad port '99999')"),
    (("-nic", "user,net=10.0.2.0/24,host=10.0.3.2"), "is not in the network"),
    (("-nic", "user,restrict=maybe"), "Parameter 'restrict' expects 'on' or 'off'"),
    (("-nic", "user,model=pcnet"), "Unsupported NIC model: pcnet"),
    (("-net", "nic,model=e1000", "-net", "user"), "Unsupported NIC model: e1000"),
    (("-device", "lan9118,netdev=n0"), "can not be dynamically instantiated"),
])
def test_bad_network_options_are_one_line_errors(capsys, argv, msg):
    status, err = _run(capsys, *argv)
    assert status == 1 and msg in err and err.count("\n") == 1, err


def test_hostfwd_port_in_use_is_one_line_error(capsys):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        status, err = _run(capsys, "-nic", f"user,hostfwd=tcp::{port}-:22")
    finally:
        busy.close()
    assert status == 1 and "Could not set up host forwarding rule" in err and err.count("\n") == 1


def test_info_network_and_hostfwd_through_hmp_and_qmp(capsys):
    seen = {}

    def on_start(machine, loop):
        mon = Monitor(machine)
        seen["network"] = mon.execute("info network")
        qmp = QMPMonitor(machine)
        assert qmp.handle_request({"execute": "qmp_capabilities"}) == {"return": {}}
        reply = qmp.handle_request({"execute": "human-monitor-command",
                                    "arguments": {"command-line": "hostfwd_add n0 tcp::0-:23"}})
        seen["add"] = reply
        seen["usernet"] = mon.execute("info usernet")
        fwd = [f for f in machine.net_options.backends[0].forwards if f.guest_port == 23][0]
        with socket.create_connection(("127.0.0.1", fwd.host_port), timeout=5):
            pass                                     # the listener is real
        seen["remove"] = mon.execute(f"hostfwd_remove n0 tcp::{fwd.host_port}")
        seen["again"] = mon.execute(f"hostfwd_remove tcp::{fwd.host_port}")
        seen["bad"] = mon.execute("hostfwd_add nosuch tcp::0-:23")
        seen["link"] = (mon.execute("set_link n1 off"), machine.net_options.backends[1].link_up,
                        mon.execute("set_link lan9118.0 on"), machine.net_options.backends[1].link_up,
                        mon.execute("set_link nosuch on"))
        loop.request_exit(0)

    status, err = _run(capsys, "-netdev", "user,id=n0,restrict=on",
                       "-nic", "user,id=n1", "-net", "nic", on_start=on_start)
    assert status == 0, err
    assert "warning: requested NIC (anonymous, model unspecified) was not created" in err
    assert "warning: netdev n0 has no peer" in err
    assert "lan9118.0: index=0,type=nic,model=lan9118,macaddr=52:54:00:12:34:56" in seen["network"]
    assert " \\ n1: index=0,type=user,net=10.0.2.0,restrict=off" in seen["network"]
    assert "n0: index=0,type=user,net=10.0.2.0,restrict=on" in seen["network"]
    assert seen["add"] == {"return": ""}
    assert "TCP[HOST_FORWARD]" in seen["usernet"] and "10.0.2.15    23" in seen["usernet"]
    assert "removed" in seen["remove"] and "not found" in seen["again"]
    assert "unknown netdev 'nosuch'" in seen["bad"]
    assert seen["link"] == ("", False, "", True, "Error: Device 'nosuch' not found\n")


def test_one_backend_two_nics_is_refused_on_malta(capsys):
    status = main("mipsel", ["-M", "malta", "-display", "none", "-S", "-netdev", "user,id=n0",
                             "-device", "pcnet,netdev=n0", "-device", "pcnet,netdev=n0"])
    err = capsys.readouterr().err
    assert status == 1 and "Property 'netdev' can't use value 'n0': already in use" in err
    assert err.count("\n") == 1


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_netdev_add_and_del_through_hmp_and_qmp(capsys):
    seen = {}

    def on_start(machine, loop):
        mon = Monitor(machine)
        qmp = QMPMonitor(machine)
        qmp.handle_request({"execute": "qmp_capabilities"})

        def qmp_do(name, **arguments):
            return qmp.handle_request({"execute": name, "arguments": arguments})

        seen["add"] = mon.execute("netdev_add user,id=h1,hostfwd=tcp::0-:22,restrict=on")
        seen["net1"] = mon.execute("info network")
        h1 = [b for b in machine.net_options.backends if b.id == "h1"][0]
        port = h1.forwards[0].host_port
        socket.create_connection(("127.0.0.1", port), timeout=5).close()   # listening
        seen["dup"] = mon.execute("netdev_add user,id=h1")
        seen["notype"] = mon.execute("netdev_add id=h9")
        seen["badkey"] = mon.execute("netdev_add user,id=h9,bogus=1")
        seen["tap"] = mon.execute("netdev_add vde,id=h9")
        seen["qadd"] = qmp_do("netdev_add", type="user", id="q1", restrict=True,
                              hostfwd=[{"str": "udp::0-:53"}, {"str": "tcp::0-:80"}])
        seen["net2"] = mon.execute("info network")
        q1 = [b for b in machine.net_options.backends if b.id == "q1"][0]
        seen["q1"] = [(f.proto, f.guest_port, f.sock is not None) for f in q1.forwards]
        seen["qdup"] = qmp_do("netdev_add", type="user", id="q1")
        seen["qbad"] = qmp_do("netdev_add", type="user", id="q2", bogus="1")
        seen["qmiss"] = qmp_do("netdev_add", id="q2")
        seen["del"] = mon.execute("netdev_del h1")
        seen["refused"] = _refused(port)
        seen["net3"] = mon.execute("info network")
        seen["delagain"] = mon.execute("netdev_del h1")
        seen["qdel"] = qmp_do("netdev_del", id="q1")
        seen["qdelagain"] = qmp_do("netdev_del", id="q1")
        seen["delnic"] = qmp_do("netdev_del", id="n0")
        seen["net4"] = mon.execute("info network")
        loop.request_exit(0)

    status, err = _run(capsys, "-nic", "user,id=n0", on_start=on_start)
    assert status == 0, err
    assert seen["add"] == ""
    assert "h1: index=0,type=user,net=10.0.2.0,restrict=on" in seen["net1"]
    assert seen["dup"] == "Error: Duplicate ID 'h1' for netdev\n"
    assert seen["notype"] == "Error: Parameter 'type' is missing\n"
    assert seen["badkey"] == "Error: Invalid parameter 'bogus'\n"
    assert "Error: network backend 'vde' is not supported yet" in seen["tap"]
    assert seen["qadd"] == {"return": {}}
    assert "q1: index=0,type=user,net=10.0.2.0,restrict=on" in seen["net2"]
    assert seen["q1"] == [("udp", 53, True), ("tcp", 80, True)]
    assert seen["qdup"]["error"] == {"class": "GenericError", "desc": "Duplicate ID 'q1' for netdev"}
    assert seen["qbad"]["error"]["desc"] == "Parameter 'bogus' is unexpected"
    assert seen["qmiss"]["error"]["desc"] == "Parameter 'type' is missing"
    assert seen["del"] == "" and seen["refused"]
    assert "h1:" not in seen["net3"] and "q1:" in seen["net3"]
    assert seen["delagain"] == "Error: Device 'h1' not found\n"
    assert seen["qdel"] == {"return": {}}
    assert seen["qdelagain"]["error"] == {"class": "DeviceNotFound", "desc": "Device 'q1' not found"}
    assert seen["delnic"] == {"return": {}}
    # the NIC stays without its peer, as QEMU shows it
    assert seen["net4"] == "lan9118.0: index=0,type=nic,model=lan9118,macaddr=52:54:00:12:34:56\n"
