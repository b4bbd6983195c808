"""Compiled twin of ``lgucore._fields_py``: same rules, no Python loop per field."""
from cpython.dict cimport PyDict_Copy, PyDict_GetItem, PyDict_SetItem
from cpython.long cimport PyLong_AsLong
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_Check

__all__ = ["project", "build", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG"]

FIELD_TEXT, FIELD_INT, FIELD_FLAG = 0, 1, 2

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyObject_GenericSetDict(object o, object value, void* context) except -1

cdef str _NULL = "null"
cdef str _ONE = "1"
# object.__new__ as Python sees it: it refuses classes whose C layout needs another
# constructor (calling the slot directly would hand back an uninitialised object)
_object_new = object.__new__


cdef inline object _convert(object value, long kind):
    if value is None:
        return None
    if PyUnicode_Check(value):
        n = PyUnicode_GET_LENGTH(value)
        if n == 0 or (n == 4 and value == _NULL):
            return None
    elif not value:
        return None
    if kind == 0:
        return value
    if kind == 1:
        try:
            return int(value)
        except ValueError:
            return None
    if kind == 2:
        return value == _ONE
    raise ValueError(f"unknown field kind {kind!r}")


cdef int _project(tuple seq, dict spec, dict out) except -1:
    cdef Py_ssize_t i = PyTuple_GET_SIZE(seq)
    cdef object pair, key, m
    cdef PyObject* found
    while i > 0:  # backwards, so the first value of a repeated key is written last
        i -= 1
        pair = <object>PyTuple_GET_ITEM(seq, i)
        if type(pair) is not tuple or PyTuple_GET_SIZE(pair) != 2:
            raise TypeError("fields must be (key, value) pairs")
        key = <object>PyTuple_GET_ITEM(pair, 0)
        if key is None:
            continue
        found = PyDict_GetItem(spec, key)  # borrowed reference
        if found == NULL:
            continue
        m = <object>found
        if type(m) is not tuple or PyTuple_GET_SIZE(m) != 2:
            raise TypeError("spec values must be (name, kind) tuples")
        PyDict_SetItem(out, <object>PyTuple_GET_ITEM(m, 0),
                       _convert(<object>PyTuple_GET_ITEM(pair, 1), PyLong_AsLong(<object>PyTuple_GET_ITEM(m, 1))))
    return 0


def project(fields, dict spec not None, dict out not None):
    """Store the first value of each key of ``spec`` found in ``fields`` into ``out``."""
    _project(fields if type(fields) is tuple else tuple(fields), spec, out)


def build(type cls not None, dict base not None, dict spec not None, fields):
    """A new ``cls`` instance, without calling ``__init__``, whose ``__dict__`` is a copy of
    ``base`` updated by :func:`project` of ``fields``. ``cls`` must be a plain Python class
    whose instances have a ``__dict__``."""
    cdef dict d = PyDict_Copy(base)
    _project(fields if type(fields) is tuple else tuple(fields), spec, d)
    obj = _object_new(cls)
    PyObject_GenericSetDict(obj, d, NULL)
    return obj
