import pytest

from pysystem import qom
from pysystem.qom import Field, Object, Property, QOMError, register


@register
class _Widget(Object):
    TYPE = "test-widget"
    PROPERTIES = (
        Property("num-irq", "uint32", 32, "interrupt lines"),
        Property("enabled", "bool", True, "power on"),
        Property("label", "str", "w", "a name", choices=("w", "x")),
    )
    STATE = (Field("ctrl", "u32", 0x300), Field("fifo", "u8[4]", 0), Field("name", "str", "idle"))


@register
class _BigWidget(_Widget):
    TYPE = "test-big-widget"
    PROPERTIES = (Property("size", "size", 4096, "window size"),)


def test_properties_default_and_parse():
    w = _BigWidget(size="64K")
    assert (w.num_irq, w.enabled, w.size) == (32, True, 65536)
    w.set_prop("num-irq", "0x40")
    w.set_prop("enabled", "off")
    assert (w.num_irq, w.enabled) == (64, False)


@pytest.mark.parametrize("name,value,msg", [
    ("bogus", "1", "has no property 'bogus'"),
    ("num-irq", "many", "not an integer"),
    ("num-irq", "-1", "out of range"),
    ("enabled", "maybe", "not a boolean"),
    ("label", "y", "must be one of"),
])
def test_bad_properties_are_clear_errors(name, value, msg):
    with pytest.raises(QOMError, match=msg):
        _Widget().set_prop(name, value)


def test_properties_frozen_after_realize():
    w = _Widget()
    w.realize()
    with pytest.raises(QOMError, match="after realize"):
        w.set_prop("num-irq", 3)


def test_abstract_types_refuse_instances():
    with pytest.raises(QOMError, match="abstract"):
        Object()


def test_type_listing_and_lookup():
    assert "test-big-widget" in qom.type_names("test-widget")
    with pytest.raises(QOMError, match="unknown type"):
        qom.lookup_type("nosuch")


def test_reset_and_state_from_declaration():
    w = _Widget()
    w.reset()
    assert (w.ctrl, w.fifo, w.name) == (0x300, [0, 0, 0, 0], "idle")
    w.ctrl, w.fifo[2] = 5, 9
    data = w.save_state()
    assert data == {"ctrl": 5, "fifo": [0, 0, 9, 0], "name": "idle"}
    fresh = _Widget()
    fresh.reset()
    fresh.load_state(data)
    assert fresh.state_bytes() == w.state_bytes()
    with pytest.raises(QOMError):
        fresh.load_state(dict(data, ctrl=1 << 40))
    with pytest.raises(QOMError):
        fresh.load_state(dict(data, fifo=[1, 2]))
    assert fresh.ctrl == 5  # a refused load changes nothing


def test_globals_apply_to_subtypes():
    table: qom.GlobalTable = {}
    qom.set_global("test-widget.num-irq=7", table)
    with qom.globals_in_effect(table):
        assert _BigWidget().num_irq == 7
    assert _BigWidget().num_irq != 7            # only while the table is in effect
    with pytest.raises(QOMError):
        qom.set_global("test-widget.nosuch=1", table)


def test_tree_paths():
    qom.reset_root()
    machine = qom.root().add_child("machine", qom.Container())
    w = machine.add_child("uart0", _Widget())
    assert w.path == "/machine/uart0"
    assert qom.resolve_path("/machine/uart0") is w
    assert qom.resolve_path("/machine/nope") is None
    with pytest.raises(QOMError):
        machine.add_child("uart0", _Widget())


@pytest.mark.parametrize("text,value", [("256", 256), ("256M", 256 << 20), ("1G", 1 << 30),
                                        ("0x1000", 4096), ("1.5k", 1536)])
def test_parse_size(text, value):
    assert qom.parse_size(text) == value


def test_parse_size_rejects_junk():
    with pytest.raises(QOMError):
        qom.parse_size("banana")


def test_state_of_an_older_version_gets_the_new_fields_defaults():
    from pysystem.qom import Field, Object, QOMError

    class Old(Object):
        TYPE = "test-versioned"
        ABSTRACT = False
        STATE = (Field("a", "u32", 1),)

    class New(Object):
        TYPE = "test-versioned"
        ABSTRACT = False
        STATE_VERSION = 3
        STATE = (Field("a", "u32", 1), Field("b", "u32[2]", 9, since=2),
                 Field("c", "str", "x", since=3))

    old = Old()
    old.reset()
    old.a = 5
    saved = old.save_state()
    assert saved == {"a": 5}                       # version 1 state carries no version
    new = New()
    new.load_state(saved)
    assert (new.a, new.b, new.c) == (5, [9, 9], "x")
    new.b = [1, 2]
    blob = new.state_bytes()
    again = New()
    again.load_state_bytes(blob)
    assert again.state_bytes() == blob and again.b == [1, 2]
    with pytest.raises(QOMError, match="newer than this pysystem"):
        old.load_state(new.save_state())
    with pytest.raises(QOMError, match="does not match"):
        new.load_state({"a": 5, "c": "y"})         # version 1 state has no c


def test_a_link_path_names_an_object_of_the_setters_tree():
    """Each machine has a tree of its own: a link property set by path resolves in the
    tree of the object being set, not in the process's."""
    from pysystem.qom import Container, Object, Property, QOMError

    class Linker(Object):
        TYPE = "test-linker"
        ABSTRACT = False
        PROPERTIES = (Property("peer", "link<container>", None, "a container"),)

    top = Container()
    machine = top.add_child("machine", Container())
    target = machine.add_child("target", Container())
    dev = machine.add_child("dev", Linker())
    dev.set_prop("peer", "/machine/target")
    assert dev.peer is target
    with pytest.raises(QOMError, match="no object at path"):
        dev.set_prop("peer", "/machine/nothing")
