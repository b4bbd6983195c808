# Types lguapi/calls/handlers.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).
@cython.locals(st=CallState, created=bint, looked=bint, known_own=bint, exten=str, ch=str, rch=str, uid=str,
               number=str, own=str, remote=str, new_keys=list, inbound=str, atxfer=str, link=str)
cpdef on_ring(Book b, ev, list out)
@cython.locals(leg=Leg)
cdef void _ring_leg(Book b, CallState st, str exten, str own, str remote, ts, is_dial, bint known_own,
                    atxfer) except *
cdef void _ring_parties(Book b, CallState st, str exten, str remote, is_dial, str number, str inbound) except *
@cython.locals(st=CallState, created=bint, exten=str, c1=str, c2=str, u1=str, u2=str, mine=list, own=str,
               by_peer=bint, remote=str, xfer_list=bint, new_keys=list, inbound=str, m=Leg, joined=bint)
cpdef on_list(Book b, ev, list out)
@cython.locals(leg=Leg, m=Leg, joined=bint)
cdef bint _list_leg(Book b, CallState st, str exten, str own, str remote, list mine, bint xfer_list,
                    ts) except -1
@cython.locals(m=Leg)
cdef void _retire_rings(CallState st, list mine, Leg keep) except *
cdef void _answer(Book b, CallState st, str exten, str own, str c1, str c2, bint by_peer, ev, ts,
                  str inbound) except *
@cython.locals(st=CallState, exten=str, keys=tuple, c=str, u=str, rc=str, su=str, ended=list, leg=Leg, m=Leg,
               dropped=Py_ssize_t)
cpdef on_out(Book b, ev, list out)
@cython.locals(idx=dict, st=CallState)
cdef CallState _call_of_out(Book b, str c, str u, str rc, str su)
cdef bint _late_cause(Book b, CallState st, Leg leg, ev, list out) except -1
@cython.locals(mine=list, matched=bint, m=Leg)
cdef void _out_legs(CallState st, str exten, str c, list ended) except *
@cython.locals(todo=list, orphans=Orphans)
cdef void adopt_orphans(Book b, CallState st, list keys, list out) except *
@cython.locals(m=Leg, dialled=bint)
cdef str _own_by_layout(list mine, str c1, str c2)
