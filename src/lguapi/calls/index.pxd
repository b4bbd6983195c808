# Types lguapi/calls/index.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).
@cython.final
cdef class Memory:
    cdef public dict new, old
    cdef public Py_ssize_t half_len
    cdef public double half_ttl, rotate_at
    cdef public bint started

    cdef void _rotate(self, double now) except *
    cdef void put(self, str key, object value, double now) except *
    @cython.locals(new=dict)
    cdef void put_many(self, list keys, object value, double now) except *
    cdef object get(self, str key, double now)
    @cython.locals(new=dict, old=dict)
    cdef object first(self, keys, double now)
    cdef void pop(self, str key) except *

cdef tuple out_keys(ev)

@cython.final
cdef class Orphans:
    cdef public Memory mem
    cdef public bint maybe

    @cython.locals(mem=Memory, lst=list)
    cdef void keep(self, ev, tuple keys, double now) except *
    cdef object get(self, str key, double now)
    @cython.locals(mem=Memory, lst=list)
    cdef void take(self, ev, double now) except *
    @cython.locals(mem=Memory, todo=list)
    cdef list for_call(self, list keys, has_uid, double now)
