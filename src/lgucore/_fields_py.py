"""Copy chosen fields of a tokenized message into a dict, converted (pure twin of ``_fields_c``).

A *spec* maps a field key to ``(name, kind)``: the field's first value is stored in the
output dict under ``name``, as text (``FIELD_TEXT``), an integer (``FIELD_INT``) or a ``"1"`` flag
(``FIELD_FLAG``). An empty value or the literal ``null`` is stored as ``None``, and so is a
``FIELD_INT`` value that is not a number or lies outside the signed 64-bit range (no field of
the protocol means such a number, and a database column could not hold it). Keys not in the spec, and positional fields, are
skipped. This is what typed events are made of, without a Python loop per field when the
compiled twin is built.

>>> out = {}
>>> project((("A", "x"), ("N", "42"), ("A", "y"), ("F", "1"), ("E", "null")),
...         {"A": ("a", FIELD_TEXT), "N": ("n", FIELD_INT), "F": ("f", FIELD_FLAG), "E": ("e", FIELD_TEXT)}, out)
>>> out == {"a": "x", "n": 42, "f": True, "e": None}
True
"""
from __future__ import annotations

from typing import Any

__all__ = ["project", "build", "Builder", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG", "builder_layout", "check_builder", "check_names", "check_plain_class", "check_spec",
           "MAX_ATTRS", "MAX_EXTRA", "INT_MIN", "INT_MAX", "field_int"]

FIELD_TEXT, FIELD_INT, FIELD_FLAG = 0, 1, 2
#: the integers a ``FIELD_INT`` may hold (signed 64 bits); any other is "not a number"
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


def field_int(value: str) -> int | None:
    """``int(value)`` within ``INT_MIN..INT_MAX``, else None (not a number, or out of range)."""
    try:
        v = int(value)
    except ValueError:
        return None
    return v if INT_MIN <= v <= INT_MAX else None

#: bounds of a Builder: attributes it sets, extra values per instance (the compiled twin's stack arrays)
MAX_ATTRS, MAX_EXTRA = 64, 8


def project(fields, spec: dict, out: dict) -> None:
    """Store the first value of each key of ``spec`` found in ``fields`` into ``out``."""
    if not isinstance(spec, dict) or not isinstance(out, dict):
        raise TypeError("spec and out must be dicts")
    _project(fields if type(fields) is tuple else tuple(fields), spec, out)


def _project(seq: tuple, spec: dict, out: dict) -> None:
    get = spec.get
    for pair in reversed(seq):  # backwards, so the first value of a repeated key is written last
        if type(pair) is not tuple or len(pair) != 2:
            raise TypeError("fields must be (key, value) pairs")
        key = pair[0]
        if key is None:
            continue
        m = get(key)
        if m is None:
            continue
        value = pair[1]
        name, kind = m
        if not value or value == "null":  # None and "" included
            out[name] = None
        elif kind == FIELD_TEXT:
            out[name] = value
        elif kind == FIELD_INT:
            out[name] = field_int(value)
        elif kind == FIELD_FLAG:
            out[name] = value == "1"
        else:
            raise ValueError(f"unknown field kind {kind!r}")


def build(cls: type, base: dict, spec: dict, fields):
    """A new ``cls`` instance, without calling ``__init__``, whose ``__dict__`` is a copy of
    ``base`` updated by :func:`project` of ``fields``. ``cls`` must be a plain Python class
    whose instances have a ``__dict__``.

    >>> class Point:
    ...     pass
    >>> p = build(Point, {"x": None, "y": 0}, {"X": ("x", FIELD_INT)}, (("X", "3"),))
    >>> (p.x, p.y)
    (3, 0)
    """
    if not isinstance(cls, type):
        raise TypeError("cls must be a class")
    if not isinstance(base, dict):
        raise TypeError("base must be a dict")
    d = dict(base)
    project(fields, spec, d)
    obj: Any = object.__new__(cls)
    object.__setattr__(obj, "__dict__", d)
    return obj


_object_new = object.__new__
_set_attr = object.__setattr__


class Builder:
    """Makes instances of one plain class from tokenized fields, as :func:`build` does, with the
    class, base and spec checked once, and ``extra`` attributes (at most 8) set from a tuple of
    values. ``base`` names every attribute (at most 64), in order, with its default value.

    >>> class Point:
    ...     pass
    >>> b = Builder(Point, {"x": None, "tag": None}, {"X": ("x", FIELD_INT)}, extra=("tag",))
    >>> p = b.build((("X", "3"),), ("first",))
    >>> (p.x, p.tag)
    (3, 'first')
    """

    __slots__ = ("cls", "extra", "_base", "_spec")

    def __init__(self, cls: type, base: dict, spec: dict, extra: tuple = ()) -> None:
        self.extra = builder_layout(cls, base, spec, extra)[0]
        self.cls = cls
        self._base = dict(base)
        self._spec = dict(spec)

    def build(self, fields, values: tuple = ()) -> Any:
        """A new instance: a copy of ``base`` updated by :func:`project` of ``fields`` (pairs, or
        a tokenized message), then each ``extra`` name set to the value at the same place in ``values``."""
        extra = self.extra
        if type(values) is not tuple or len(values) != len(extra):
            raise TypeError(f"{len(extra)} extra values expected, got {values!r}")
        if type(fields) is not tuple:
            pairs = getattr(fields, "fields", None)  # a tokenized message's, else any iterable's
            fields = tuple(fields) if pairs is None else pairs if type(pairs) is tuple else tuple(pairs)
        d = self._base.copy()
        _project(fields, self._spec, d)
        if len(extra) == 3:  # parse_event's raw, exten, ts: a third of update(zip())'s cost
            a, b, c = extra
            d[a], d[b], d[c] = values
        elif values:
            d.update(zip(extra, values))
        obj: Any = _object_new(self.cls)
        _set_attr(obj, "__dict__", d)
        return obj

    def __reduce__(self) -> Any:
        raise TypeError("a Builder is not pickled: make it again (as the compiled twin requires)")


def builder_layout(cls: Any, base: Any, spec: Any, extra: Any) -> tuple:
    """A Builder's arguments checked (both twins) and laid out for the compiled one: the extra
    names, every attribute name and its default (tuples, ``base``'s order), the spec by attribute
    index (key -> (index, kind)), each extra name's index, and ``(key bytes, index, kind)`` per
    spec key when they are ASCII strs, at most MAX_ATTRS of them (compared as bytes), else None."""
    names = check_builder(cls, base, spec, extra)
    attrs = tuple(base)
    index = {k: (attrs.index(name), kind) for k, (name, kind) in spec.items()}
    ascii_keys = None
    if len(index) <= MAX_ATTRS and all(type(k) is str and k.isascii() for k in index):
        ascii_keys = tuple((k.encode("ascii"), i, kind) for k, (i, kind) in index.items())
    return names, attrs, tuple(base.values()), index, tuple(attrs.index(x) for x in names), ascii_keys


def check_builder(cls: Any, base: Any, spec: Any, extra: Any) -> tuple[str, ...]:
    """Every check of a Builder's arguments (both twins); the ``extra`` names as a tuple."""
    check_plain_class(cls)
    if not isinstance(base, dict):
        raise TypeError("base must be a dict")
    check_spec(spec)
    names = tuple(extra)
    if len(names) > MAX_EXTRA or not all(type(name) is str for name in names):
        raise TypeError(f"extra must be at most {MAX_EXTRA} attribute names (str)")
    if not all(type(name) is str for name in base):
        raise TypeError("base keys must be attribute names (str)")
    check_names(base, spec, names)
    if len(base) > MAX_ATTRS:
        raise ValueError(f"a Builder sets at most {MAX_ATTRS} attributes, not {len(base)}")
    return names


def check_plain_class(cls: Any) -> None:
    """TypeError unless instances of ``cls`` can be made without ``__init__`` and have a ``__dict__``."""
    if not isinstance(cls, type):
        raise TypeError("cls must be a class")
    if cls.__new__ is not object.__new__ or cls.__itemsize__:
        raise TypeError(f"{cls.__name__} instances need their own constructor")
    if getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"{cls.__name__} is abstract")
    if not cls.__dictoffset__:
        raise TypeError(f"{cls.__name__} instances have no __dict__")


def check_names(base: dict, spec: dict, extra: tuple) -> None:
    """ValueError unless every name of ``spec`` and ``extra`` is an attribute of ``base``."""
    missing = [name for name in (*(m[0] for m in spec.values()), *extra) if name not in base]
    if missing:
        raise ValueError(f"attributes missing from base: {', '.join(sorted(set(missing)))}")


def check_spec(spec: Any) -> None:
    """TypeError or ValueError unless ``spec`` maps keys to ``(name, kind)`` with a known kind."""
    if not isinstance(spec, dict):
        raise TypeError("spec must be a dict")
    for m in spec.values():
        if type(m) is not tuple or len(m) != 2 or type(m[0]) is not str:
            raise TypeError("spec values must be (name, kind) tuples")
        if m[1] not in (FIELD_TEXT, FIELD_INT, FIELD_FLAG):
            raise ValueError(f"unknown field kind {m[1]!r}")
