"""QMP's dispatcher and JSON stream splitter in-process, fuzzed with hypothesis.

Random bytes, random JSON values and random requests go into one QMPMonitor;
it must answer with QMP replies only (return or error, classes QEMU uses),
never raise, and answer a well-formed request right after a 0xFF reset.
"""
from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from pysystem.monitor.qmp import JSONSplitter, QMPMonitor

ERROR_CLASSES = {"GenericError", "CommandNotFound", "DeviceNotFound"}
SAFE = ["query-status", "query-version", "query-commands", "query-name", "query-chardev",
        "query-jobs", "qom-list", "qom-get", "qom-set", "human-monitor-command",
        "ringbuf-read", "job-dismiss", "nosuch", "query-kvm", "query-target"]


class FakeMachine:
    """The machine interface QMP uses, without a board (stop/cont/quit are not fuzzed)."""

    run_state = "running"

    def __init__(self):
        self.listeners = []

    def add_listener(self, fn):
        self.listeners.append(fn)


def negotiated() -> QMPMonitor:
    qmp = QMPMonitor(FakeMachine())
    assert qmp.handle_line('{"execute":"qmp_capabilities"}') == [{"return": {}}]
    return qmp


def check_reply(reply) -> None:
    assert isinstance(reply, dict)
    json.dumps(reply)
    if "error" in reply:
        assert reply["error"]["class"] in ERROR_CLASSES, reply
        assert isinstance(reply["error"]["desc"], str) and "\n" not in reply["error"]["desc"]
    else:
        assert "return" in reply, reply


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_get_replies_and_a_reset_recovers(data):
    qmp = negotiated()
    try:
        for reply in qmp.handle_bytes(data):
            check_reply(reply)
        replies = qmp.handle_bytes(b'\xff{"execute":"query-status","id":"x"}')
        assert replies[-1] == {"return": {"status": "running", "singlestep": False,
                                          "running": True}, "id": "x"}
        for reply in replies:
            check_reply(reply)
    finally:
        qmp.close()


# strict JSON only: NaN and infinities are not JSON (QMP refuses them, see test_hostile_qmp)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=3),
    max_leaves=10)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(SAFE), st.dictionaries(
    st.sampled_from(["path", "property", "value", "command-line", "device", "size", "id",
                     "x", "format"]), json_values, max_size=4), json_values)
def test_random_requests_get_one_reply_each(name, args, req_id):
    qmp = negotiated()
    try:
        request = {"execute": name, "arguments": args, "id": req_id}
        replies = qmp.handle_line(json.dumps(request))
        assert len(replies) == 1
        check_reply(replies[0])
        assert replies[0]["id"] == req_id
    finally:
        qmp.close()


@settings(max_examples=100, deadline=None)
@given(json_values, st.integers(min_value=1, max_value=20))
def test_any_split_of_a_value_gives_the_same_value(value, cut):
    text = json.dumps({"v": value}).encode()
    sp = JSONSplitter()
    items = sp.feed(text[:cut]) + sp.feed(text[cut:])
    assert items == [("value", text)]


def test_qemu_single_quotes_and_many_values_in_one_chunk():
    qmp = negotiated()
    try:
        replies = qmp.handle_line("{'execute': 'query-name', 'id': 'a'}\n"
                                  '{"execute":"query-name"}  [] 1 true\n')
        assert replies == [{"return": {}, "id": "a"}, {"return": {}},
                           {"error": {"class": "GenericError",
                                      "desc": "QMP input must be a JSON object"}}] + \
            [{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}] * 2
    finally:
        qmp.close()


def test_commands_before_negotiation_and_oob():
    qmp = QMPMonitor(FakeMachine())
    try:
        assert qmp.handle_line('{"execute":"query-status"}') == [{"error": {
            "class": "CommandNotFound",
            "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}]
        assert qmp.handle_line('{"execute":"qmp_capabilities","arguments":{"enable":["x"]}}')[0][
            "error"]["desc"] == "Parameter 'enable' does not accept value 'x'"
        assert qmp.handle_line('{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}') \
            == [{"return": {}}]
        assert qmp.handle_line('{"exec-oob":"query-status"}')[0]["error"]["desc"] == \
            "The command query-status does not support OOB"
    finally:
        qmp.close()


def test_deep_nesting_and_huge_tokens_give_one_error_each():
    qmp = negotiated()
    try:
        replies = qmp.handle_line("[" * 2000 + "]" * 2000 + '\n{"execute":"query-kvm"}')
        assert replies == [{"error": {"class": "GenericError",
                                      "desc": "JSON parse error, nesting too deep"}},
                           {"return": {"enabled": False, "present": False}}]
        replies = qmp.handle_line('{"execute":"query-kvm","id":' + "9" * 5000 + "}\n")
        assert len(replies) == 1 and len(replies[0]["error"]["desc"]) < 120
        replies = qmp.handle_line('"' + "x" * (2 << 20) + '"\n{"execute":"query-kvm"}')
        assert replies[0]["error"]["desc"] == "JSON parse error, token too large"
        assert replies[-1] == {"return": {"enabled": False, "present": False}}
    finally:
        qmp.close()


def test_type_introspection():
    from pysystem.cli import load_types
    load_types()
    qmp = negotiated()
    try:
        types, = qmp.handle_line('{"execute":"qom-list-types","arguments":{"implements":"device"}}')
        names = {t["name"]: t for t in types["return"]}
        assert names["pl011"]["parent"] == "sys-bus-device"
        props, = qmp.handle_line('{"execute":"device-list-properties",'
                                 '"arguments":{"typename":"pl011"}}')
        assert {"name": "chardev", "type": "string"}.items() <= props["return"][0].items()
        err, = qmp.handle_line('{"execute":"device-list-properties",'
                               '"arguments":{"typename":"nope"}}')
        assert err["error"]["desc"] == "The device type 'nope' not found"
    finally:
        qmp.close()
