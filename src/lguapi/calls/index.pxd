# Types lguapi/calls/index.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).
# the generations' tables (lgu_keytab.h, beside this file)
cdef extern from "lgu_keytab.h":
    ctypedef struct lgu_kt:
        Py_ssize_t cap, used
    int kt_put "lgu_kt_put"(lgu_kt *t, str key, Py_hash_t h, object value) except -1
    object kt_lookup2 "lgu_kt_lookup2"(lgu_kt *a, lgu_kt *b, str key, Py_hash_t h)
    void kt_pop "lgu_kt_pop"(lgu_kt *t, str key, Py_hash_t h)
    dict kt_dict "lgu_kt_dict"(lgu_kt *t)
    void kt_recycle "lgu_kt_recycle"(lgu_kt *t)
    void kt_swap "lgu_kt_swap"(lgu_kt *a, lgu_kt *b)
    void kt_clear "lgu_kt_clear"(lgu_kt *t)

@cython.final
cdef class Memory:
    cdef lgu_kt t_new, t_old
    cdef public Py_ssize_t half_len
    cdef public double half_ttl, rotate_at
    cdef public bint started

    @cython.locals(keep=bint)
    cdef void _rotate(self, double now) except *
    cdef bint _due(self, double now) except -1
    cpdef void put(self, str key, object value, double now) except *
    cpdef void put_many(self, list keys, object value, double now) except *
    cpdef object get(self, str key, double now)
    cpdef object first(self, keys, double now)
    @cython.locals(h=Py_hash_t)
    cpdef void pop(self, str key) except *

cdef tuple out_keys(ev)

@cython.final
cdef class Orphans:
    cdef public Memory mem
    cdef public bint maybe

    @cython.locals(mem=Memory, lst=list, dropped=Py_ssize_t)
    cdef Py_ssize_t keep(self, ev, tuple keys, double now) except -1
    cdef object get(self, str key, double now)
    @cython.locals(mem=Memory, lst=list)
    cdef void take(self, ev, double now) except *
    @cython.locals(mem=Memory, todo=list)
    cdef list for_call(self, list keys, has_uid, double now)
