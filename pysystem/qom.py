"""The object model: named types, typed properties, declared state, an object tree.

A QOM-like model, kept small:

* Types register by name with ``@register``; the class attribute ``TYPE`` is the
  name, ``ABSTRACT = True`` keeps a type from being instantiated.  Variants are
  subclasses that override data.
* Properties are declared per class as ``Property`` objects (typed, with a
  default and a one-line doc).  They are set between construction and
  ``realize()``; an unknown name or a bad value raises ``QOMError`` with a
  one-line message.  The value is kept as an attribute named after the
  property (``num-irq`` -> ``self.num_irq``).
* Migratable state is declared once per class as ``Field`` objects.  ``reset()``
  gives every field its reset value, ``save_state()``/``load_state()`` turn the
  fields into plain data and back, and the monitor prints them; nothing else
  lists the state a second time.  Field values are plain instance attributes,
  so device code reads ``self.cr`` at full speed.
* State is versioned per type: ``STATE_VERSION`` (1 unless raised) counts changes to
  a type's fields, and a field added later says since which version it exists
  (``Field(..., since=2)``).  Saved state records its version (when above 1);
  loading state of an older version gives the fields it lacks their declared reset
  value, and state of a newer version is refused.
* Lifecycle: construct -> set properties -> ``realize()`` -> ``reset()``.
* Objects live in a tree of child properties and can be looked up by path: a
  machine is the root's ``machine`` child of a tree of its own (``machine.root``,
  ``/machine/...``), so that two machines in a process stay apart; objects built
  outside a machine (tests) hang under ``root()``.
* ``-global TYPE.prop=value`` defaults belong to one machine: ``set_global(spec,
  table)`` checks one into the machine's table (``machine.globals``), and while
  ``globals_in_effect(table)`` holds (the machine's build, run and monitors:
  ``Machine.in_effect``) every object of that type (or a subtype) made takes it.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

__all__ = [
    "QOMError", "Property", "Field", "Object", "Container", "register",
    "lookup_type", "type_names", "new_object", "set_global", "globals_in_effect",
    "GlobalTable", "root",
    "resolve_path", "parse_size",
]


class QOMError(Exception):
    """A bad type name, property or state value; the message is one line for the user."""


# --- sizes and integers as the command line writes them -----------------------------

_SIZE_SUFFIX = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str, default_suffix: str = "") -> int:
    """Parse ``256``, ``256M``, ``1G``, ``0x1000``, ``1.5G`` as QEMU does."""
    m = re.fullmatch(r"\s*(0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?)\s*([bBkKmMgGtT]?)\s*", str(text))
    if not m:
        raise QOMError(f"invalid size '{text}'")
    number, suffix = m.group(1), (m.group(2) or default_suffix).lower()
    if number.lower().startswith("0x"):
        value = int(number, 16)
    else:
        value = float(number) if "." in number else int(number)
    result = int(value * _SIZE_SUFFIX[suffix])
    if result < 0:
        raise QOMError(f"invalid size '{text}'")
    return result


def _parse_int(text: str) -> int:
    try:
        return int(str(text), 0)
    except ValueError:
        raise QOMError(f"'{text}' is not an integer") from None


def _parse_bool(text: str) -> bool:
    t = str(text).lower()
    if t in ("on", "yes", "true", "1"):
        return True
    if t in ("off", "no", "false", "0"):
        return False
    raise QOMError(f"'{text}' is not a boolean (use on/off)")


_INT_KINDS = {
    "uint8": (0, 0xFF), "uint16": (0, 0xFFFF), "uint32": (0, 0xFFFFFFFF),
    "uint64": (0, 0xFFFFFFFFFFFFFFFF), "int": (-(1 << 63), (1 << 63) - 1),
    "size": (0, 0xFFFFFFFFFFFFFFFF),
}


class Property:
    """A typed, documented, settable parameter of an object type.

    ``kind`` is one of bool, int, uint8/16/32/64, size, str, or ``link<TYPE>``
    (a reference to another object, given as the object or its path), or
    ``any`` for host-side handles (chardevs, block backends) that the command
    line resolves before setting.  ``choices`` restricts a str property.  ``fixed``
    marks one that what realize built depends on (a machine's RAM size, its CPU
    count): the monitors refuse to set it afterwards, as QEMU's qom-set does.
    """

    __slots__ = ("name", "kind", "default", "doc", "choices", "fixed")

    def __init__(self, name: str, kind: str, default: Any = None, doc: str = "",
                 choices: Optional[Tuple[str, ...]] = None, fixed: bool = False):
        self.name, self.kind, self.default, self.doc, self.choices = name, kind, default, doc, choices
        self.fixed = fixed

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    def convert(self, value: Any) -> Any:
        """Return ``value`` (a string from the command line, or a Python value) checked."""
        kind = self.kind
        if value is None:
            return None
        if kind == "bool":
            return _parse_bool(value) if isinstance(value, str) else bool(value)
        if kind in _INT_KINDS:
            if isinstance(value, str):
                value = parse_size(value) if kind == "size" else _parse_int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise QOMError(f"property '{self.name}' expects an integer")
            lo, hi = _INT_KINDS[kind]
            if not lo <= value <= hi:
                raise QOMError(f"property '{self.name}' value {value} is out of range for {kind}")
            return value
        if kind == "str":
            value = str(value)
            if self.choices and value not in self.choices:
                raise QOMError(f"property '{self.name}' must be one of {', '.join(self.choices)}")
            return value
        if kind.startswith("link<"):
            if isinstance(value, str):
                target = resolve_path(value)
                if target is None:
                    raise QOMError(f"property '{self.name}': no object at path '{value}'")
                value = target
            want = kind[5:-1]
            if not isinstance(value, Object) or not value.is_a(want):
                raise QOMError(f"property '{self.name}' expects a link to a {want}")
            return value
        return value  # "any"

    def describe(self) -> str:
        default = "" if self.default is None else f" (default: {self.default!r})"
        return f"  {self.name}=<{self.kind}>{default} - {self.doc}"


# --- declared state ------------------------------------------------------------------

_FIELD_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64}
_FIELD_SIGNED = {"i32": 32, "i64": 64}


class Field:
    """One named, typed piece of migratable state.

    Kinds: u8 u16 u32 u64 i32 i64 bool int str bytes, arrays ``u32[N]`` (and of
    the other integer kinds and bool), and ``timer`` (a ``Timer`` attribute whose
    deadline is the state).  ``reset`` is the reset value (for arrays, a scalar
    repeated or a list; for bytes, ``b""`` or a length given by ``size``).
    A ``bytes`` field holds a bytearray; its length is part of its value.
    """

    __slots__ = ("name", "kind", "reset", "doc", "base", "count", "since")

    def __init__(self, name: str, kind: str, reset: Any = 0, doc: str = "", since: int = 1):
        self.name, self.kind, self.reset, self.doc = name, kind, reset, doc
        self.since = since  # the type's state version that added this field
        m = re.fullmatch(r"(\w+)\[(\d+)\]", kind)
        self.base, self.count = (m.group(1), int(m.group(2))) if m else (kind, None)
        if self.base not in _FIELD_BITS and self.base not in _FIELD_SIGNED and \
                self.base not in ("bool", "int", "str", "bytes", "timer"):
            raise QOMError(f"field '{name}': unknown kind '{kind}'")

    def reset_value(self) -> Any:
        if self.count is not None:
            if isinstance(self.reset, (list, tuple)):
                return list(self.reset)
            return [self.reset] * self.count
        if self.base == "bytes":
            return bytearray(self.reset)
        return self.reset

    def _check_scalar(self, v: Any) -> Any:
        base = self.base
        if base == "bool":
            if not isinstance(v, bool):
                raise QOMError(f"state field '{self.name}' expects a boolean")
            return v
        if base == "str":
            if not isinstance(v, str):
                raise QOMError(f"state field '{self.name}' expects a string")
            return v
        if isinstance(v, bool) or not isinstance(v, int):
            raise QOMError(f"state field '{self.name}' expects an integer")
        if base in _FIELD_BITS and not 0 <= v < (1 << _FIELD_BITS[base]):
            raise QOMError(f"state field '{self.name}' value {v} out of range for {base}")
        if base in _FIELD_SIGNED:
            bits = _FIELD_SIGNED[base]
            if not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
                raise QOMError(f"state field '{self.name}' value {v} out of range for {base}")
        return v

    def default_data(self) -> Any:
        """The saved form of the reset value (what older state lacking the field gets)."""
        return None if self.base == "timer" else self.to_data(self.reset_value())

    def to_data(self, value: Any) -> Any:
        """Plain data (ints, bools, str, lists, hex strings) for serialisation."""
        if self.base == "bytes":
            return bytes(value).hex()
        if self.base == "timer":
            return value.deadline if value is not None else None
        if self.count is not None:
            return list(value)
        return value

    def from_data(self, data: Any, current: Any = None) -> Any:
        """Validate ``data`` and return the attribute value (timers are re-armed in place)."""
        if self.base == "bytes":
            if not isinstance(data, str):
                raise QOMError(f"state field '{self.name}' expects hex bytes")
            try:
                return bytearray.fromhex(data)
            except ValueError:
                raise QOMError(f"state field '{self.name}' holds bad hex") from None
        if self.base == "timer":
            if data is not None and (isinstance(data, bool) or not isinstance(data, int) or data < 0):
                raise QOMError(f"state field '{self.name}' expects a deadline")
            if current is not None:
                current.restore(data)
            return current
        if self.count is not None:
            if not isinstance(data, list) or len(data) != self.count:
                raise QOMError(f"state field '{self.name}' expects {self.count} values")
            return [self._check_scalar(v) for v in data]
        return self._check_scalar(data)


# --- the type registry ---------------------------------------------------------------

_TYPES: Dict[str, Type["Object"]] = {}
VERSION_KEY = "@version"   # in saved state: the type's STATE_VERSION, when above 1
GlobalTable = Dict[Tuple[str, str], str]
_globals: GlobalTable = {}          # the table in effect: globals_in_effect()


def register(cls):
    """Class decorator: register ``cls`` under ``cls.TYPE``."""
    name = cls.__dict__.get("TYPE")
    if not name:
        raise TypeError(f"{cls.__name__} needs a TYPE name to register")
    if name in _TYPES and _TYPES[name] is not cls:
        raise TypeError(f"type '{name}' registered twice")
    cls.ABSTRACT = cls.__dict__.get("ABSTRACT", False)
    for f in cls.__dict__.get("STATE", ()):
        if callable(getattr(cls, f.name, None)):
            raise TypeError(f"type '{name}': state field '{f.name}' would hide the method of that name")
    late = [f.name for f in cls.class_fields() if f.since > cls.STATE_VERSION]
    if late:
        raise TypeError(f"type '{name}': fields {late} are newer than STATE_VERSION "
                        f"{cls.STATE_VERSION}")
    _TYPES[name] = cls
    return cls


def lookup_type(name: str) -> Type["Object"]:
    try:
        return _TYPES[name]
    except KeyError:
        raise QOMError(f"unknown type '{name}'") from None


def type_names(base: str = "object", include_abstract: bool = False) -> List[str]:
    """Registered type names that are ``base`` or derive from it, sorted."""
    want = lookup_type(base)
    return sorted(n for n, c in _TYPES.items()
                  if issubclass(c, want) and (include_abstract or not c.ABSTRACT))


def set_global(spec: str, table: GlobalTable) -> None:
    """Check ``TYPE.prop=value`` (the argument of ``-global``) and put it in ``table``."""
    m = re.fullmatch(r"([\w.-]+?)\.([\w-]+)=(.*)", spec)
    if not m:
        raise QOMError(f"-global expects TYPE.PROPERTY=VALUE, got '{spec}'")
    tname, prop, value = m.groups()
    cls = lookup_type(tname)
    props = cls.class_properties()
    if prop not in props:
        raise QOMError(f"type '{tname}' has no property '{prop}'")
    props[prop].convert(value)
    table[(tname, prop)] = value


@contextmanager
def globals_in_effect(table: GlobalTable) -> Iterator[GlobalTable]:
    """Objects made inside the block take the defaults of ``table``; the table in
    effect before it is again after."""
    global _globals
    before, _globals = _globals, table
    try:
        yield table
    finally:
        _globals = before


def new_object(type_name: str, **props: Any) -> "Object":
    cls = lookup_type(type_name)
    return cls(**props)


# --- objects -------------------------------------------------------------------------

class Object:
    """The root of all types.  See the module docstring for the lifecycle."""

    TYPE = "object"
    ABSTRACT = True
    PROPERTIES: Tuple[Property, ...] = ()
    STATE: Tuple[Field, ...] = ()
    STATE_VERSION = 1   # raise it when the type's fields change (see the module docstring)

    def __init__(self, **props: Any):
        self.parent: Optional[Object] = None
        self.name: Optional[str] = None
        self.children: Dict[str, Object] = {}
        self.realized = False
        if type(self).ABSTRACT:
            raise QOMError(f"type '{type(self).TYPE}' is abstract")
        for p in self.class_properties().values():
            setattr(self, p.attr, p.convert(p.default))
        for (tname, pname), value in _globals.items():
            if self.is_a(tname):
                self.set_prop(pname, value)
        for name, value in props.items():
            self.set_prop(name.replace("_", "-") if name.replace("_", "-") in
                          self.class_properties() else name, value)

    # types
    @classmethod
    def class_properties(cls) -> Dict[str, Property]:
        out: Dict[str, Property] = {}
        for klass in reversed(cls.__mro__):
            for p in klass.__dict__.get("PROPERTIES", ()):
                out[p.name] = p
        return out

    @classmethod
    def class_fields(cls) -> List[Field]:
        seen: Dict[str, Field] = {}
        for klass in reversed(cls.__mro__):
            for f in klass.__dict__.get("STATE", ()):
                seen[f.name] = f
        return list(seen.values())

    def is_a(self, type_name: str) -> bool:
        return any(k.__dict__.get("TYPE") == type_name for k in type(self).__mro__)

    # properties
    def set_prop(self, name: str, value: Any) -> None:
        props = self.class_properties()
        if name not in props:
            raise QOMError(f"type '{self.TYPE}' has no property '{name}'")
        if self.realized:
            raise QOMError(f"property '{name}' of '{self.TYPE}' cannot be set after realize")
        prop = props[name]
        if prop.kind.startswith("link<") and isinstance(value, str):
            top = self
            while top.parent is not None:   # a path names an object of this one's tree
                top = top.parent
            found = resolve_path(value, top if top is not self else None)
            if found is None:
                raise QOMError(f"property '{name}': no object at path '{value}'")
            value = found
        setattr(self, prop.attr, prop.convert(value))

    def get_prop(self, name: str) -> Any:
        props = self.class_properties()
        if name not in props:
            raise QOMError(f"type '{self.TYPE}' has no property '{name}'")
        return getattr(self, props[name].attr)

    # tree
    def add_child(self, name: str, child: "Object") -> "Object":
        if name in self.children:
            raise QOMError(f"'{self.path}' already has a child called '{name}'")
        child.parent, child.name = self, name
        self.children[name] = child
        return child

    @property
    def path(self) -> str:
        if self.parent is None:
            return "/" if self.name is None else "/" + self.name
        base = self.parent.path
        return (base if base.endswith("/") else base + "/") + self.name

    def walk(self) -> Iterator["Object"]:
        yield self
        for child in self.children.values():
            yield from child.walk()

    # lifecycle
    def realize(self) -> None:
        """Check properties and create what depends on them.  Subclasses extend."""
        self.realized = True

    def reset(self) -> None:
        """Give every declared field its reset value.  Subclasses extend."""
        for f in self.class_fields():
            if f.base == "timer":
                timer = getattr(self, f.name, None)
                if timer is not None:
                    timer.cancel()
            else:
                setattr(self, f.name, f.reset_value())

    # state
    def save_state(self) -> Dict[str, Any]:
        out = {f.name: f.to_data(getattr(self, f.name)) for f in self.class_fields()}
        if self.STATE_VERSION > 1:
            out[VERSION_KEY] = self.STATE_VERSION
        return out

    @classmethod
    def upgrade_state(cls, data: Any) -> Dict[str, Any]:
        """Saved state as this version of the type holds it (field name -> data): the
        fields added since the version it was saved at get their declared reset value.
        QOMError when it is not this type's state, or is newer than this pysystem."""
        if not isinstance(data, dict):
            raise QOMError(f"state of '{cls.TYPE}' does not match its declared fields")
        version = data.get(VERSION_KEY, 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise QOMError(f"state of '{cls.TYPE}' has a bad version")
        if version > cls.STATE_VERSION:
            raise QOMError(f"state of '{cls.TYPE}' is version {version}, newer than this "
                           f"pysystem's {cls.STATE_VERSION}")
        fields = cls.class_fields()
        out = {k: v for k, v in data.items() if k != VERSION_KEY}
        if set(out) != {f.name for f in fields if f.since <= version}:
            raise QOMError(f"state of '{cls.TYPE}' does not match its declared fields")
        for f in fields:
            if f.since > version:
                out[f.name] = f.default_data()
        return out

    def load_state(self, data: Dict[str, Any]) -> None:
        """Restore from ``save_state()`` data (of this or an older version of the type);
        all fields are checked before any is set."""
        fields = self.class_fields()
        data = self.upgrade_state(data)
        values = {}
        for f in fields:
            if f.base != "timer":
                values[f.name] = f.from_data(data[f.name])
            else:
                f.from_data(data[f.name], None)  # validate only
        for f in fields:
            if f.base == "timer":
                f.from_data(data[f.name], getattr(self, f.name, None))
            else:
                setattr(self, f.name, values[f.name])
        self.post_load()

    def state_bytes(self) -> bytes:
        """The declared state in a canonical encoding (identical state, identical bytes)."""
        return json.dumps(self.save_state(), separators=(",", ":")).encode()

    def load_state_bytes(self, blob: bytes) -> None:
        try:
            data = json.loads(blob)
        except (ValueError, UnicodeDecodeError):
            raise QOMError(f"state of '{self.TYPE}' is not readable") from None
        self.load_state(data)

    @classmethod
    def example(cls) -> "Object":
        """A realized, reset instance for generic tests; types with required properties override."""
        obj = cls()
        obj.realize()
        obj.reset()
        return obj

    def post_load(self) -> None:
        """Recompute what derives from restored state (IRQ levels, caches)."""

    def describe_state(self) -> List[str]:
        lines = []
        for f in self.class_fields():
            v = getattr(self, f.name)
            if f.base in _FIELD_BITS and f.count is None:
                text = f"0x{v:0{_FIELD_BITS[f.base] // 4}x}"
            elif f.base == "bytes":
                text = f"<{len(v)} bytes>"
            elif f.base == "timer":
                text = "off" if v is None or v.deadline is None else f"at {v.deadline} ns"
            else:
                text = repr(v)
            lines.append(f"{f.name} = {text}")
        return lines


register(Object)


@register
class Container(Object):
    """A plain node of the object tree (``/``, ``/machine/unattached``, ...)."""

    TYPE = "container"


_ROOT: List[Object] = []


def root() -> Object:
    """The root of the object tree, created on first use."""
    if not _ROOT:
        _ROOT.append(Container())
    return _ROOT[0]


def reset_root() -> None:
    """Drop the object tree (tests build several machines in one process)."""
    _ROOT.clear()


def resolve_path(path: str, top: Optional[Object] = None) -> Optional[Object]:
    """The object at ``path`` in the tree of ``top`` (a machine's ``root``; default
    ``root()``)."""
    node = root() if top is None else top
    for part in [p for p in path.split("/") if p]:
        node = node.children.get(part)
        if node is None:
            return None
    return node

