# Declarations of the compiled tokenizer, shared with _batch_c.
#
# The scanner is C (in lgu_scan.h beside this file) so that both modules inline it: it is the
# grammar of docs/protocol.md §4.2 exactly as lgucore._tokens_py.scan() states it, on
# bytes, returning spans. Every read is inside [start, end), which the caller
# has checked against its buffer; the 16-byte vector loads never pass `end`.
from libc.stdint cimport int64_t

cdef extern from "lgu_scan.h":
    ctypedef struct lgu_field:
        int64_t ks
        int64_t ke
        int64_t vs
        int64_t ve

    ctypedef struct lgu_scan_t:
        lgu_field* f
        Py_ssize_t n
        Py_ssize_t cap
        int64_t name_start
        int64_t name_end
        int ascii

    void lgu_scan_init(lgu_scan_t* s)
    void lgu_scan_free(lgu_scan_t* s)
    int lgu_scan(const unsigned char* p, int64_t start, int64_t end, int64_t limit, lgu_scan_t* s) except -1
    int lgu_is_ascii(const unsigned char* p, Py_ssize_t n)


cdef class Message:
    cdef readonly object name
    cdef readonly object raw
    cdef object _fields        # tuple once materialised, else None
    cdef bytes _cs             # codec name for non-ASCII spans (lazy decoding)
    cdef lgu_field* _spans     # spans relative to raw until the fields are materialised
    cdef Py_ssize_t _nfields
    cdef bint _ascii           # the whole raw body is ASCII

    cdef object _span(self, int64_t start, int64_t stop, bint key)
    cdef int _materialize(self) except -1
    cdef Py_ssize_t _find(self, key) except -2
    cdef bint _lazy_for(self, key)
    # reading one field of a lazy message without decoding the others (lgucore._fields_c.Builder)
    cdef Py_ssize_t lazy_count(self)
    cdef object lazy_key(self, Py_ssize_t i)
    cdef const unsigned char* lazy_key_ascii(self, Py_ssize_t i, Py_ssize_t* n)
    cdef object lazy_value(self, Py_ssize_t i)


cdef class _Charset:
    cdef readonly str name     # codecs.lookup(charset).name
    cdef bytes cname           # the same, for PyUnicode_Decode
    cdef bint lazy_ok          # a codec that never raises with errors="replace"


cdef _Charset charset_of(object charset)
cdef Message message_from_scan(object raw, const unsigned char* base, int64_t offset,
                               lgu_scan_t* s, _Charset cs)
cdef object decode_span(const unsigned char* p, Py_ssize_t n, bint ascii, bint key, bytes cname)
