# Types lguapi/calls/timers.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).
@cython.final
cdef class Deadlines:
    cdef public object fifo
    cdef public list heap
    cdef public double sweep_every, next_sweep, due
    cdef long long _seq
    cdef public long long warm_far, warm_mid, warm_near

    cdef long long token(self)
    @cython.locals(entry=tuple)
    cdef void push(self, double deadline, str call_id, long long token, state=*) except *
    @cython.locals(entry=tuple)
    cdef list pop_due(self, double now)
    @cython.locals(heap=list, due=list)
    cdef list pop_due_entries(self, double now)
    @cython.locals(heap=list)
    cdef tuple pop_next(self)
    cpdef bint sweep_due(self, double now)
    cdef void swept(self, double now)
    @cython.locals(due=double)
    cdef void rearm(self) except *
    cdef void prune(self, active, Py_ssize_t live) except *
