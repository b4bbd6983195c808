"""Compiled twin of ``lgucore._fields_py``: same rules, no Python loop per field."""
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

__all__ = ["project", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG"]

FIELD_TEXT, FIELD_INT, FIELD_FLAG = 0, 1, 2

cdef str _NULL = "null"
cdef str _ONE = "1"


def project(fields, dict spec not None, dict out not None):
    """Store the first value of each key of ``spec`` found in ``fields`` into ``out``."""
    cdef tuple seq = fields if type(fields) is tuple else tuple(fields)
    cdef Py_ssize_t i = PyTuple_GET_SIZE(seq)
    cdef object pair, key, value, name, m
    cdef PyObject* found
    cdef long kind
    while i > 0:  # backwards, so the first value of a repeated key is written last
        i -= 1
        pair = <object>PyTuple_GET_ITEM(seq, i)
        if type(pair) is not tuple or PyTuple_GET_SIZE(pair) != 2:
            raise TypeError("fields must be (key, value) pairs")
        key = <object>PyTuple_GET_ITEM(pair, 0)
        if key is None:
            continue
        found = PyDict_GetItem(spec, key)  # borrowed; never raises for str keys
        if found == NULL:
            continue
        m = <object>found
        name, kind = m
        value = <object>PyTuple_GET_ITEM(pair, 1)
        if value is None or not value or value == _NULL:
            out[name] = None
        elif kind == 0:
            out[name] = value
        elif kind == 1:
            try:
                out[name] = int(value)
            except ValueError:
                out[name] = None
        elif kind == 2:
            out[name] = value == _ONE
        else:
            raise ValueError(f"unknown field kind {kind!r}")
