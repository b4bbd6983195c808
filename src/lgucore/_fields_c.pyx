"""Compiled twin of ``lgucore._fields_py``: same rules, no Python loop per field."""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING
from cpython.dict cimport PyDict_Copy, PyDict_GetItem, PyDict_SetItem
from cpython.long cimport PyLong_AsLong, PyLong_AsSsize_t, PyLong_FromLongLong
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from libc.string cimport memcmp, memset
from cpython.object cimport PyObject, PyTypeObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_Check

from ._tokens_c cimport Message

from ._fields_py import INT_MAX, INT_MIN, MAX_ATTRS, MAX_EXTRA, builder_layout, field_int  # (shared, one definition)

__all__ = ["project", "build", "Builder", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG"]

FIELD_TEXT, FIELD_INT, FIELD_FLAG = 0, 1, 2

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    int PyObject_GenericSetDict(object o, object value, void* context) except -1
    int PyObject_GenericSetAttr(object o, object name, object value) except -1
    void PyObject_GC_UnTrack(object o)
    PyTypeObject* Py_TYPE(PyObject* o)
    PyTypeObject PyUnicode_Type
    PyTypeObject PyLong_Type
    PyTypeObject PyFloat_Type
    PyTypeObject PyBool_Type
    ctypedef PyObject* (*newfunc)(PyTypeObject* t, PyObject* args, PyObject* kw) except NULL
    void* PyType_GetSlot(PyTypeObject* t, int slot) except? NULL
    enum: Py_tp_new

cdef str _NULL = "null"
cdef str _ONE = "1"
# object.__new__ as Python sees it: it refuses classes whose C layout needs another
# constructor (calling the slot directly would hand back an uninitialised object)
_object_new = object.__new__
# the same function, called directly by Builder once check_plain_class() has allowed the class
cdef newfunc _object_tp_new = <newfunc>PyType_GetSlot(<PyTypeObject*>object, Py_tp_new)
cdef tuple _EMPTY = ()


cdef inline object _convert(object value, long kind):
    cdef Py_ssize_t n
    if value is None:
        return None
    if PyUnicode_Check(value):
        n = PyUnicode_GET_LENGTH(value)
        if n == 0 or (n == 4 and value == _NULL):
            return None
        if kind == 1 and n <= 18 and PyUnicode_IS_ASCII(value):
            fast = _ascii_int(<const char*>PyUnicode_DATA(value), n)
            if fast is not None:
                return fast
    elif not value:
        return None
    if kind == 0:
        return value
    if kind == 1:  # (not plain digits, or 19 characters or more: the pure twin's rule, range included)
        return field_int(value)
    if kind == 2:
        return value == _ONE
    raise ValueError(f"unknown field kind {kind!r}")


cdef inline object _ascii_int(const char* p, Py_ssize_t n):
    """``int()`` of ``-?[0-9]+`` (at most 18 characters) without the generic parser, else None."""
    cdef long long v = 0
    cdef Py_ssize_t i = 1 if p[0] == c'-' else 0
    if i == n:
        return None
    while i < n:
        if p[i] < c'0' or p[i] > c'9':
            return None
        v = v * 10 + (p[i] - c'0')
        i += 1
    return PyLong_FromLongLong(-v if p[0] == c'-' else v)


cdef PyObject* _next_match(tuple seq, Py_ssize_t* i, dict spec, PyObject** value) except? NULL:
    """Walking ``seq`` backwards from ``i[0]`` (so the first value of a repeated key comes last):
    the spec entry (borrowed) of the next ``(key, value)`` pair whose key the spec names, its value
    (borrowed) in ``value``; NULL at the start of ``seq``. Positional fields are skipped."""
    cdef PyObject* found
    while i[0] > 0:
        i[0] -= 1
        pair = <object>PyTuple_GET_ITEM(seq, i[0])
        if type(pair) is not tuple or PyTuple_GET_SIZE(pair) != 2:
            raise TypeError("fields must be (key, value) pairs")
        key = <object>PyTuple_GET_ITEM(pair, 0)
        if key is None:
            continue
        found = PyDict_GetItem(spec, key)
        if found != NULL:
            value[0] = PyTuple_GET_ITEM(pair, 1)
            return found
    return NULL


cdef int _project(tuple seq, dict spec, dict out) except -1:
    cdef Py_ssize_t i = PyTuple_GET_SIZE(seq)
    cdef PyObject* found
    cdef PyObject* value
    while True:
        found = _next_match(seq, &i, spec, &value)
        if found == NULL:
            return 0
        m = <object>found
        if type(m) is not tuple or PyTuple_GET_SIZE(m) != 2:
            raise TypeError("spec values must be (name, kind) tuples")
        PyDict_SetItem(out, <object>PyTuple_GET_ITEM(m, 0),
                       _convert(<object>value, PyLong_AsLong(<object>PyTuple_GET_ITEM(m, 1))))


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


cdef enum:
    _MAX_ATTRS = 64    # attributes a Builder sets (its values live on the C stack)
    _MAX_EXTRA = 8

if MAX_ATTRS > _MAX_ATTRS or MAX_EXTRA > _MAX_EXTRA:  # the checked bounds must fit the arrays
    raise ImportError("lgucore._fields_py's Builder bounds exceed the compiled twin's arrays: rebuild")


cdef inline bint _atomic(PyObject* v) noexcept:
    """A value the garbage collector need not see through (it holds no references)."""
    cdef PyTypeObject* t = Py_TYPE(v)
    return (v == <PyObject*>None or t == &PyUnicode_Type or t == &PyLong_Type or t == &PyFloat_Type
            or t == &PyBool_Type)


cdef int _project_slots(tuple seq, dict spec, PyObject** vals) except -1:
    """:func:`_project` into ``vals`` (owned references or NULL): ``spec`` maps a key to
    ``(index, kind)``, indexes checked by the Builder."""
    cdef Py_ssize_t i = PyTuple_GET_SIZE(seq), idx
    cdef PyObject* found
    cdef PyObject* value
    while True:
        found = _next_match(seq, &i, spec, &value)
        if found == NULL:
            return 0
        m = <object>found
        idx = PyLong_AsSsize_t(<object>PyTuple_GET_ITEM(m, 0))
        v = _convert(<object>value, PyLong_AsLong(<object>PyTuple_GET_ITEM(m, 1)))
        Py_INCREF(v)
        Py_XDECREF(vals[idx])
        vals[idx] = <PyObject*>v


ctypedef struct _KeySlot:
    const unsigned char* key   # an ASCII spec key's bytes (kept alive by Builder._key_bytes)
    Py_ssize_t n
    Py_ssize_t idx             # where its value goes
    long kind


cdef int _project_lazy(Message msg, Py_ssize_t n, _KeySlot* slots, Py_ssize_t nslots,
                             PyObject** vals) except -1:
    """:func:`_project_slots` of a message whose fields are not decoded yet, for a spec whose keys
    are all ASCII: keys are compared as bytes and only the values the spec names become strings
    (forwards: a key already stored is skipped, first wins). The search starts after the last
    match (fields mostly come in the spec's order)."""
    cdef Py_ssize_t i, j = 0, tries, kn
    cdef const unsigned char* k
    cdef _KeySlot* s
    for i in range(n):
        k = msg.lazy_key_ascii(i, &kn)
        if k == NULL:  # positional, or not ASCII: no ASCII key is equal to it
            continue
        for tries in range(nslots):
            s = &slots[j]
            j += 1
            if j == nslots:
                j = 0
            if s.n == kn and memcmp(s.key, k, <size_t>kn) == 0:
                if vals[s.idx] == NULL:
                    v = _convert(msg.lazy_value(i), s.kind)
                    Py_INCREF(v)
                    vals[s.idx] = <PyObject*>v
                break
    return 0


cdef int _project_any(object fields, dict spec, _KeySlot* slots, Py_ssize_t nslots, PyObject** vals) except -1:
    """Project pairs, or a tokenized message (lazily when none of its fields is decoded yet and
    the spec's keys are compared as bytes: ``nslots >= 0``)."""
    cdef Py_ssize_t n
    if type(fields) is Message:
        n = (<Message>fields).lazy_count()
        if n >= 0 and nslots >= 0:
            return _project_lazy(<Message>fields, n, slots, nslots, vals)
        fields = fields.fields
    elif type(fields) is not tuple and hasattr(fields, "fields"):  # the pure twin's message
        fields = fields.fields
    return _project_slots(fields if type(fields) is tuple else tuple(fields), spec, vals)


@cython.final
@cython.auto_pickle(False)  # it holds pointers into its own bytes: made again, never pickled
cdef class Builder:
    """Makes instances of one plain class from tokenized fields, as :func:`build` does, with the
    class, base and spec checked once, and ``extra`` attributes (at most 8) set from a tuple of
    values. ``base`` names every attribute (at most 64), in order, with its default value.

    The instance is made by ``object.__new__`` and its attributes are stored one by one in
    ``base``'s order, as an ``__init__`` would store them but never through the class's own
    ``__setattr__``: it keeps Python's compact per-class attribute storage, a third of a dict
    copy's memory and cheaper to make. An instance whose attributes are all strings, numbers,
    booleans or None is not tracked by the garbage collector (as CPython does for such tuples
    and dicts): do not store a container into it afterwards.
    """

    cdef readonly type cls
    cdef readonly tuple extra
    cdef tuple _names      # every attribute, base's order
    cdef tuple _defaults   # their values before the fields
    cdef dict _spec        # field key -> (index in _names, kind)
    cdef Py_ssize_t _nextra
    cdef Py_ssize_t _xi[_MAX_EXTRA]
    cdef tuple _key_bytes          # (key bytes, index, kind) per spec key, alive as long as _slots
    cdef _KeySlot _slots[_MAX_ATTRS]
    cdef Py_ssize_t _nslots        # -1: a key is not ASCII (a lazy message is decoded, then read)

    def __init__(self, type cls not None, dict base not None, dict spec not None, extra=()):
        cdef Py_ssize_t i
        self.extra, self._names, self._defaults, self._spec, extra_at, ascii_keys = builder_layout(
            cls, base, spec, extra)
        self.cls = cls
        self._nextra = len(extra_at)
        for i in range(self._nextra):
            self._xi[i] = extra_at[i]
        self._nslots = -1
        if ascii_keys is not None:
            if len(ascii_keys) > _MAX_ATTRS:  # builder_layout never gives more: the array's bound
                raise ValueError(f"at most {_MAX_ATTRS} keys are compared as bytes")
            self._key_bytes = ascii_keys
            for i in range(len(ascii_keys)):
                key, self._slots[i].idx, self._slots[i].kind = ascii_keys[i]
                self._slots[i].key = <const unsigned char*>PyBytes_AS_STRING(key)
                self._slots[i].n = len(key)
            self._nslots = len(ascii_keys)

    def build(self, fields, tuple values not None=()):
        """A new instance: ``base`` updated by :func:`project` of ``fields`` (pairs, or a tokenized
        message: of a message not decoded yet, only the values the spec names are decoded), then
        each ``extra`` name set to the value at the same place in ``values``."""
        cdef Py_ssize_t i, n = PyTuple_GET_SIZE(self._names)
        cdef PyObject* vals[_MAX_ATTRS]
        cdef PyObject* v
        cdef bint atomic = True
        if PyTuple_GET_SIZE(values) != self._nextra:
            raise TypeError(f"{self._nextra} extra values expected, got {PyTuple_GET_SIZE(values)}")
        memset(vals, 0, n * sizeof(PyObject*))
        try:
            _project_any(fields, self._spec, self._slots, self._nslots, vals)
            for i in range(self._nextra):
                v = PyTuple_GET_ITEM(values, i)
                Py_INCREF(<object>v)
                Py_XDECREF(vals[self._xi[i]])
                vals[self._xi[i]] = v
            obj = <object>_object_tp_new(<PyTypeObject*>self.cls, <PyObject*>_EMPTY, NULL)
            Py_DECREF(obj)  # <object> took a second reference
            for i in range(n):
                v = vals[i] if vals[i] != NULL else PyTuple_GET_ITEM(self._defaults, i)
                atomic = atomic and _atomic(v)
                PyObject_GenericSetAttr(obj, <object>PyTuple_GET_ITEM(self._names, i), <object>v)
        finally:
            for i in range(n):
                Py_XDECREF(vals[i])
        if atomic:
            PyObject_GC_UnTrack(obj)
        return obj
