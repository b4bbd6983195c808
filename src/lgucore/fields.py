"""Facade for fields: the compiled twin (_fields_c) when built, else the pure one (_fields_py)."""
from . import _fields_py as py
from ._select import compiled

c = compiled("_fields_c")
_impl = c if c is not None else py

project = _impl.project
build = _impl.build
Builder = _impl.Builder
FIELD_TEXT, FIELD_INT, FIELD_FLAG = py.FIELD_TEXT, py.FIELD_INT, py.FIELD_FLAG
#: what a FIELD_INT value becomes, in both twins: an int of signed 64 bits, else None
field_int = py.field_int
INT_MIN, INT_MAX = py.INT_MIN, py.INT_MAX

__all__ = ["project", "build", "Builder", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG", "field_int", "INT_MIN", "INT_MAX",
           "py", "c"]
