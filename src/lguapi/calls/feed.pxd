# Types lguapi/calls/feed.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).
@cython.locals(dl=Deadlines, exten=str)
cpdef apply(Book b, event, double now, list out)
cpdef apply_many(Book b, events, clock, list out)
cpdef apply_recorded(Book b, events, list out)
@cython.locals(dl=Deadlines, n=Py_ssize_t, mask=Py_ssize_t)
cdef void _apply_each(Book b, events, clock, list out) except *
