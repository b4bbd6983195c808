"""Compiled event tokenizer (docs/protocol.md §3, §4.2): the twin of ``lgucore._tokens_py``.

Same grammar, same results; see the pure module's docstring for the rules. What is
different is cost: the body is scanned once in C (``lgu_scan`` in ``_tokens_c.pxd``),
the name and field keys come from a small cache of interned strings, and the field
strings are only created when they are first asked for (``fields``, ``get``,
``to_dict``...). ASCII pieces become ``str`` by a plain copy; only pieces with a byte
``>= 0x80`` go through the codec, with ``errors="replace"``.
"""
from __future__ import annotations

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import codecs
from sys import intern as _intern

__all__ = ["Message", "tokenize"]

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    bint PyUnicode_IS_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_Decode(const char* s, Py_ssize_t size, const char* encoding, const char* errors)


# ---------------------------------------------------------------- strings

cdef enum:
    _KEYMAX = 24        # longest key/name kept in the cache
    _NCACHE = 1024      # direct-mapped entries (power of two)

ctypedef struct _CacheEntry:
    Py_ssize_t n
    PyObject* s         # owned reference, or NULL
    unsigned char data[_KEYMAX]

cdef _CacheEntry _cache[_NCACHE]


cdef inline object _ascii_str(const unsigned char* p, Py_ssize_t n):
    """A new str of the n ASCII bytes at p (the caller checked they are ASCII)."""
    if n == 0:
        return ""
    cdef object s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), p, <size_t>n)
    return s


cdef inline uint64_t _load_le(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """Up to 8 bytes at p as one integer (a cheap hash input)."""
    cdef uint64_t x = 0
    if n >= 8:
        memcpy(&x, p, 8)
    else:
        memcpy(&x, p, <size_t>n)
    return x


cdef object _cached_ascii(const unsigned char* p, Py_ssize_t n):
    """An interned str for a short ASCII key or name, from a direct-mapped cache.

    Keys and event names repeat on every event; the cache saves creating them and
    gives dict lookups on them identity hits. A collision simply replaces the entry.
    """
    if n > _KEYMAX or n == 0:
        return _ascii_str(p, n)
    # first and last 8 bytes (overlapping for short keys) and the length
    cdef uint64_t h = (_load_le(p, n) * <uint64_t>0x9E3779B97F4A7C15u) ^ <uint64_t>n
    if n > 8:
        h ^= _load_le(p + n - 8, 8) * <uint64_t>0xC2B2AE3D27D4EB4Fu
    h ^= h >> 29
    cdef _CacheEntry* e = &_cache[h & (_NCACHE - 1)]
    if e.s != NULL and e.n == n and memcmp(e.data, p, <size_t>n) == 0:
        return <object>e.s
    s = _intern(_ascii_str(p, n))
    Py_INCREF(s)
    Py_XDECREF(e.s)
    e.s = <PyObject*>s
    e.n = n
    memcpy(e.data, p, <size_t>n)
    return s


cdef _CacheEntry _pairs[_NCACHE]


cdef object _field_pair(const unsigned char* raw, lgu_field* f, bint ascii, bytes cname):
    """The ``(key, value)`` tuple of one field.

    A short all-ASCII field whose value follows its first colon directly is a function
    of its bytes ``KEY:VALUE``, so its tuple is shared from a direct-mapped cache
    (``ISDIAL:0``, ``HCAUSE:16``, ``RES:OK`` repeat on every event; tuples of str are
    immutable). Anything else is built afresh.
    """
    cdef Py_ssize_t n
    cdef const unsigned char* p
    cdef uint64_t h
    cdef _CacheEntry* e
    if f.ks < 0:
        return (None, decode_span(raw + f.vs, <Py_ssize_t>(f.ve - f.vs), ascii, False, cname))
    n = <Py_ssize_t>(f.ve - f.ks)
    p = raw + f.ks
    if n > _KEYMAX or f.vs != f.ke + 1 or not (ascii or lgu_is_ascii(p, n)):
        return (decode_span(p, <Py_ssize_t>(f.ke - f.ks), ascii, True, cname),
                decode_span(raw + f.vs, <Py_ssize_t>(f.ve - f.vs), ascii, False, cname))
    h = (_load_le(p, n) * <uint64_t>0x9E3779B97F4A7C15u) ^ <uint64_t>n
    if n > 8:
        h ^= _load_le(p + n - 8, 8) * <uint64_t>0xC2B2AE3D27D4EB4Fu
    h ^= h >> 29
    e = &_pairs[h & (_NCACHE - 1)]
    if e.s != NULL and e.n == n and memcmp(e.data, p, <size_t>n) == 0:
        return <object>e.s
    pair = (_cached_ascii(p, <Py_ssize_t>(f.ke - f.ks)), _ascii_str(raw + f.vs, <Py_ssize_t>(f.ve - f.vs)))
    Py_INCREF(pair)
    Py_XDECREF(e.s)
    e.s = <PyObject*>pair
    e.n = n
    memcpy(e.data, p, <size_t>n)
    return pair


cdef inline object decode_span(const unsigned char* p, Py_ssize_t n, bint ascii, bint key, bytes cname):
    """The text of one piece: ASCII by copy (keys cached), anything else via the codec."""
    if ascii or lgu_is_ascii(p, n):
        if key:
            return _cached_ascii(p, n)
        return _ascii_str(p, n)
    return PyUnicode_Decode(<const char*>p, n, <const char*>cname, "replace")


# ---------------------------------------------------------------- charsets

# Codecs known to be stateless text codecs that never raise with errors="replace":
# for these a message may decode its fields later; any other codec decodes at once,
# so that an error (a non-text codec, say) surfaces from tokenize() as in the pure twin.
_LAZY_SAFE = frozenset({
    "cp949", "euc_kr", "johab", "utf-8", "ascii", "iso8859-1", "cp1252", "latin-1",
})

cdef dict _charsets = {}
cdef object _last_key = None
cdef _Charset _last_cs = None


cdef class _Charset:
    """A resolved charset: its codec name and whether decoding may be deferred."""


cdef _Charset charset_of(object charset):
    """Resolve (and cache) a charset name; ValueError when Python does not know it."""
    global _last_key, _last_cs
    if charset is _last_key and _last_cs is not None:
        return _last_cs
    cdef _Charset cs = None
    if type(charset) is str:
        cs = _charsets.get(charset)
    if cs is None:
        try:
            name = codecs.lookup(charset).name
        except LookupError:
            raise ValueError(f"unknown charset {charset!r}") from None
        cs = _Charset.__new__(_Charset)
        cs.name = name
        cs.cname = name.encode("ascii", "replace")
        cs.lazy_ok = name in _LAZY_SAFE
        if type(charset) is str and len(_charsets) < 64:
            _charsets[charset] = cs
        else:
            return cs
    _last_key = charset
    _last_cs = cs
    return cs


# ---------------------------------------------------------------- Message

@cython.no_gc
@cython.freelist(64)
cdef class Message:
    """One tokenized event: ``name``, ordered ``fields`` and the ``raw`` body bytes.

    ``fields`` is a tuple of ``(key, value)`` string pairs in wire order; ``key`` is
    ``None`` for a positional field and a repeated key keeps every value. Equality is
    by ``name`` and ``fields`` (a compiled and a pure message compare equal).

    The compiled message decodes its field strings on first use; the result is the
    same as the pure twin's in every respect. It holds strings only, so it is not
    tracked by the cyclic garbage collector (do not put containers in its fields).

    >>> m = tokenize(b"CMDRESULT|CMD:HOLD|RES:OK")
    >>> m.name, m.get("RES")
    ('CMDRESULT', 'OK')
    """

    def __init__(self, name, fields, raw=b""):
        self.name = name
        self._fields = tuple(fields)
        self.raw = raw

    def __dealloc__(self):
        if self._spans != NULL:
            PyMem_Free(self._spans)
            self._spans = NULL

    cdef object _span(self, int64_t start, int64_t stop, bint key):
        return decode_span(<const unsigned char*>PyBytes_AS_STRING(self.raw) + start,
                           <Py_ssize_t>(stop - start), self._ascii, key, self._cs)

    cdef int _materialize(self) except -1:
        cdef Py_ssize_t i, n = self._nfields
        cdef lgu_field* f = self._spans
        cdef const unsigned char* raw = <const unsigned char*>PyBytes_AS_STRING(self.raw)
        cdef bint ascii = self._ascii
        cdef bytes cs = self._cs
        out = PyTuple_New(n)
        for i in range(n):
            pair = _field_pair(raw, &f[i], ascii, cs)
            Py_INCREF(pair)
            PyTuple_SET_ITEM(out, i, pair)
        self._fields = out
        if self._spans != NULL:
            PyMem_Free(self._spans)
            self._spans = NULL
        return 0

    @property
    def fields(self):
        """Ordered ``(key, value)`` pairs; ``key`` is ``None`` for a positional field."""
        if self._fields is None:
            self._materialize()
        return self._fields

    cdef Py_ssize_t _find(self, key) except -2:
        """Index of the first field whose key is the ASCII str ``key`` (lazy state), or -1."""
        cdef Py_ssize_t i, kn = PyUnicode_GET_LENGTH(key)
        cdef const unsigned char* kp = <const unsigned char*>PyUnicode_DATA(key)
        cdef const unsigned char* raw = <const unsigned char*>PyBytes_AS_STRING(self.raw)
        cdef lgu_field* f = self._spans
        for i in range(self._nfields):
            if f[i].ks < 0:
                continue
            if f[i].ke - f[i].ks == kn and memcmp(raw + f[i].ks, kp, <size_t>kn) == 0:
                return i
            if not self._ascii and not lgu_is_ascii(raw + f[i].ks, <Py_ssize_t>(f[i].ke - f[i].ks)):
                if self._span(f[i].ks, f[i].ke, True) == key:
                    return i
        return -1

    cdef bint _lazy_for(self, key):
        return self._fields is None and type(key) is str and PyUnicode_IS_ASCII(key)

    cdef Py_ssize_t lazy_count(self):
        """How many fields while none is decoded yet, else -1 (then read ``fields``)."""
        return self._nfields if self._fields is None else -1

    cdef object lazy_key(self, Py_ssize_t i):
        """The key of field ``i`` of a lazy message (``0 <= i < lazy_count()``, unchecked): the
        string ``fields[i][0]`` would be, None for a positional field. Nothing else is decoded."""
        if self._spans[i].ks < 0:
            return None
        return self._span(self._spans[i].ks, self._spans[i].ke, True)

    cdef const unsigned char* lazy_key_ascii(self, Py_ssize_t i, Py_ssize_t* n):
        """The bytes of field ``i``'s key (unchecked) and their count in ``n`` when the key is all
        ASCII (it is exactly these characters); NULL for a positional field or a key with other
        bytes (it decodes to text with a non-ASCII character). Valid while the message lives."""
        cdef lgu_field* f = &self._spans[i]
        if f.ks < 0:
            return NULL
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(self.raw) + f.ks
        n[0] = <Py_ssize_t>(f.ke - f.ks)
        if self._ascii or lgu_is_ascii(p, n[0]):
            return p
        return NULL

    cdef object lazy_value(self, Py_ssize_t i):
        """The value of field ``i`` of a lazy message (unchecked), equal to ``fields[i][1]``."""
        return self._span(self._spans[i].vs, self._spans[i].ve, False)

    def get(self, key, default=None):
        """The first value of ``key``, or ``default``."""
        cdef Py_ssize_t i
        cdef lgu_field* f
        if self._lazy_for(key):
            i = self._find(key)
            if i < 0:
                return default
            f = self._spans
            return self._span(f[i].vs, f[i].ve, False)
        for k, v in self.fields:
            if k == key:
                return v
        return default

    def getall(self, key):
        """Every value of ``key``, in order (``None`` selects the positional fields)."""
        return [v for k, v in self.fields if k == key]

    def __contains__(self, key):
        if self._lazy_for(key):
            return self._find(key) >= 0
        return any(k == key for k, _ in self.fields)

    def to_dict(self):
        """Keys to their first value; positional fields are left out."""
        cdef dict d = {}
        cdef Py_ssize_t i
        cdef lgu_field* f
        cdef const unsigned char* raw
        if self._fields is None:
            f = self._spans
            raw = <const unsigned char*>PyBytes_AS_STRING(self.raw)
            for i in range(self._nfields):
                if f[i].ks < 0:
                    continue
                k = decode_span(raw + f[i].ks, <Py_ssize_t>(f[i].ke - f[i].ks), self._ascii, True, self._cs)
                d.setdefault(k, decode_span(raw + f[i].vs, <Py_ssize_t>(f[i].ve - f[i].vs), self._ascii, False,
                                            self._cs))
            return d
        for k, v in self._fields:
            if k is not None and k not in d:
                d[k] = v
        return d

    def __eq__(self, other):
        if type(other).__name__ != "Message" or not hasattr(other, "fields"):
            return NotImplemented
        return self.name == other.name and tuple(self.fields) == tuple(other.fields)

    def __ne__(self, other):
        r = self.__eq__(other)
        if r is NotImplemented:
            return r
        return not r

    def __hash__(self):
        return hash((self.name, self.fields))

    def __repr__(self):
        return f"Message({self.name!r}, {self.fields!r})"

    def __reduce__(self):
        return (Message, (self.name, self.fields, self.raw))


cdef Message message_from_scan(object raw, const unsigned char* base, int64_t offset,
                               lgu_scan_t* s, _Charset cs):
    """A lazy Message for the body ``raw`` (bytes) whose spans ``s`` are relative to
    ``base`` with the body starting at ``base + offset``.

    The spans are copied before anything that could run Python code (a codec, a
    finalizer during an allocation): that code could tokenize again and reuse ``s``.
    """
    cdef Py_ssize_t i, n = s.n
    cdef lgu_field* f = NULL
    cdef int64_t name_start = s.name_start - offset, name_end = s.name_end - offset
    cdef bint ascii = s.ascii
    if n:
        f = <lgu_field*>PyMem_Malloc(<size_t>n * sizeof(lgu_field))
        if f == NULL:
            raise MemoryError()
        for i in range(n):
            f[i].ks = s.f[i].ks - offset if s.f[i].ks >= 0 else -1
            f[i].ke = s.f[i].ke - offset if s.f[i].ks >= 0 else -1
            f[i].vs = s.f[i].vs - offset
            f[i].ve = s.f[i].ve - offset
    cdef Message m
    try:
        m = Message.__new__(Message)
    except BaseException:
        PyMem_Free(f)
        raise
    m._spans = f
    m._nfields = n
    m.raw = raw
    m._cs = cs.cname
    m._ascii = ascii
    m.name = m._span(name_start, name_end, True)
    if n == 0:
        m._fields = ()
    elif not cs.lazy_ok:
        m._materialize()
    return m


cdef lgu_scan_t _scan
lgu_scan_init(&_scan)


def tokenize(body, *, charset="cp949"):
    """Split one event body into a :class:`Message` (never raises on bad text).

    ``body`` is any bytes-like object; the message keeps a ``bytes`` copy as ``raw``
    (none is made when ``body`` is already ``bytes``).

    >>> tokenize(b"RINGEVENT|ISDIAL:0|INEXTEN:").fields
    (('ISDIAL', '0'), ('INEXTEN', ''))
    >>> tokenize(b"CMDRESULT CMD:MONITOR ACT:STOP RES:OK").get("ACT")
    'STOP'
    """
    cdef _Charset cs = charset_of(charset)
    raw = body if type(body) is bytes else bytes(body)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n
    n = PyBytes_GET_SIZE(raw)
    lgu_scan(p, 0, n, n, &_scan)
    return message_from_scan(raw, p, 0, &_scan, cs)
