# Types lguapi/calls/hints.py for the call tracker's compiled twin (joined into lguapi.calls._c.core):
# the hints are C: __builtin_prefetch (GCC, Clang) of each cache line, for writing (the
# reference counts change), to be kept; a no-op where the compiler has no such builtin.
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define LGU_PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3)
    #else
    #define LGU_PREFETCH(p) ((void)(p))
    #endif
    static CYTHON_INLINE void lgu_hint(PyObject *o, Py_ssize_t nbytes) {
        const char *p = (const char *)o;
        for (Py_ssize_t off = 0; off < nbytes; off += 64) LGU_PREFETCH(p + off);
    }
    static CYTHON_INLINE void lgu_hint_dict_table(PyObject *d, Py_ssize_t nbytes) {
        lgu_hint((PyObject *)((PyDictObject *)d)->ma_keys, nbytes);
    }
    static CYTHON_INLINE void lgu_hint_fields(PyObject *o, Py_ssize_t nbytes) {
        /* every word after the object's header, taken as a pointer: the objects its fields refer
           to (a word that is a number instead only asks for an address that is never read) */
        const char *p = (const char *)o;
        for (Py_ssize_t off = sizeof(PyObject); off + (Py_ssize_t)sizeof(void *) <= nbytes; off += sizeof(void *)) {
            const void *q = *(const void * const *)(p + off);
            if (q != NULL) LGU_PREFETCH(q);
        }
    }
    """
    void hint "lgu_hint"(object obj, Py_ssize_t nbytes)
    void hint_dict_table "lgu_hint_dict_table"(dict d, Py_ssize_t nbytes)
    void hint_fields "lgu_hint_fields"(object obj, Py_ssize_t nbytes)

@cython.locals(i=Py_ssize_t, seq=cython.longlong, entry=tuple, st=CallState, leg=Leg, near=Py_ssize_t,
               mid=Py_ssize_t, far=Py_ssize_t, state_b=Py_ssize_t, call_b=Py_ssize_t, leg_b=Py_ssize_t,
               table_b=Py_ssize_t, legs_max=Py_ssize_t, n=Py_ssize_t, p=tuple)
cpdef void warm(Deadlines dl) except *
