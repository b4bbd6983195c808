# Types lguapi/calls/handlers_more.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).
@cython.locals(st=CallState, created=bint)
cpdef on_conf(Book b, ev, list out)
@cython.locals(leg=Leg)
cdef void _conf_add(Book b, CallState st, str exten, str c, member, bint mine, bint created, ts) except *
@cython.locals(leg=Leg)
cdef void _conf_del(Book b, CallState st, str c, ev, list out) except *
@cython.locals(st=CallState)
cpdef on_cdr(Book b, ev, list out)
@cython.locals(st=CallState, leg=Leg)
cpdef on_cmdresult(Book b, ev, list out)
@cython.locals(st=CallState)
cpdef on_reconciled(Book b, ev, list out)
@cython.locals(st=CallState)
cpdef on_disconnected(Book b, ev, list out)
cpdef on_session(Book b, ev, list out)
