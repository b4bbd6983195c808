"""Copy chosen fields of a tokenized message into a dict, converted (pure twin of ``_fields_c``).

A *spec* maps a field key to ``(name, kind)``: the field's first value is stored in the
output dict under ``name``, as text (``FIELD_TEXT``), an integer (``FIELD_INT``) or a ``"1"`` flag
(``FIELD_FLAG``). An empty value or the literal ``null`` is stored as ``None``, and so is a
``FIELD_INT`` value that is not a number. Keys not in the spec, and positional fields, are
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

__all__ = ["project", "build", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG"]

FIELD_TEXT, FIELD_INT, FIELD_FLAG = 0, 1, 2


def project(fields, spec: dict, out: dict) -> None:
    """Store the first value of each key of ``spec`` found in ``fields`` into ``out``."""
    if not isinstance(spec, dict) or not isinstance(out, dict):
        raise TypeError("spec and out must be dicts")
    seq = fields if type(fields) is tuple else tuple(fields)
    for pair in reversed(seq):  # backwards, so the first value of a repeated key is written last
        if type(pair) is not tuple or len(pair) != 2:
            raise TypeError("fields must be (key, value) pairs")
        key, value = pair
        if key is None:
            continue
        m = spec.get(key)
        if m is None:
            continue
        name, kind = m
        if value is None or not value or value == "null":
            out[name] = None
        elif kind == FIELD_TEXT:
            out[name] = value
        elif kind == FIELD_INT:
            try:
                out[name] = int(value)
            except ValueError:
                out[name] = None
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
