# Types lguapi/calls/book.py for the call tracker's compiled twin (joined into lguapi.calls._c.core).

cpdef bint looks_external(str number) except -1

@cython.final
cdef class Book:
    cdef public dict active, states, idx, ext, stats
    cdef public object ended, end_grace
    cdef public Memory tomb
    cdef public Orphans orphans
    cdef public Deadlines deadlines
    cdef public set tracked
    cdef public double now, ring_expiry, call_expiry
    cdef public Py_ssize_t clients
    cdef public bint created
    cdef public Py_ssize_t max_active, max_keys, max_call_keys
    cdef public list overgrown
    cdef object _warnings
    cdef Py_ssize_t _shed
    cdef long long _seq

    cpdef double grace(self) except? -1
    cdef void note_exten(self, str exten) except *
    cdef str exten_of(self, ev)
    @cython.locals(local=bint, peer=str)
    cdef object party(self, str chan, str number)
    @cython.locals(st=CallState)
    cdef CallState conference_of(self, str exten)
    @cython.locals(idx=dict, found=CallState, st=CallState, others=list, other=CallState)
    cdef CallState find(self, tuple keys, ev, list out)
    @cython.locals(st=CallState, tomb=Memory, idx=dict)
    cdef CallState start(self, ev, tuple chans, tuple keys, tuple ids, list out, str create_id)
    cdef void refuse(self, ev) except *
    @cython.locals(st=CallState, active=dict, tomb=Memory, n=Py_ssize_t)
    cdef CallState new_call(self, str call_id, ts, bint unseen=*)
    @cython.locals(idx=dict, keys=dict, new=list, other=CallState)
    cdef list index(self, CallState st, tuple chans, tuple uids, bint looked=*)
    cdef void add_leg(self, CallState st, Leg leg) except *
    @cython.locals(calls=dict)
    cdef void leg_exten(self, CallState st, str exten) except *
    cdef void begin(self, CallState st, bint created, ts) except *
    @cython.locals(state=str)
    cdef void settle(self, CallState st, bint created, ev, list out) except *
    @cython.locals(grace=double, dl=Deadlines, token=cython.longlong)
    cdef void schedule_end(self, CallState st, ts, cause, ev, list out, double min_grace=*) except *
    @cython.locals(leg=Leg)
    cdef void close_legs(self, CallState st, str exten, str reason, ev, ts, list out) except *
    @cython.locals(leg=Leg)
    cdef void finish(self, CallState st, ts, cause, str reason, ev, list out) except *
    @cython.locals(idx=dict, keys=list, other=CallState, ext=dict, calls=dict, cid=str)
    cdef void forget(self, CallState st) except *
    @cython.locals(leg=Leg, idx=dict, have=set, added=list, pair=tuple)
    cdef void merge(self, CallState keep, CallState gone, ev, list out) except *
    @cython.locals(dl=Deadlines, entry=tuple, st=CallState)
    cpdef run_deadlines(self, double now, list out, bint sweep, double swept_at)
    @cython.locals(st=CallState)
    cdef void _confirm(self, str cid, long long token, list out) except *
    cdef void _confirm_state(self, CallState st, long long token, list out) except *
    @cython.locals(st=CallState, leg=Leg, ring_limit=double)
    cdef void sweep(self, double now, list out, double swept_at) except *
    cdef void shed(self, list out) except *
    cdef void overgrow(self, CallState st) except *
    @cython.locals(st=CallState, states=list)
    cdef void end_overgrown(self, list out) except *
    @cython.locals(st=CallState, oldest=list, n=Py_ssize_t, calls_over=Py_ssize_t, keys_over=Py_ssize_t,
                   before=Py_ssize_t, states=dict, idx=dict, calls_to=Py_ssize_t, keys_to=Py_ssize_t,
                   dl=Deadlines, early=Py_ssize_t, entry=tuple)
    cdef void evict(self, list out) except *
    @cython.locals(leg=Leg)
    cdef void expire_rings(self, CallState st, double ring_limit, list out) except *
    @cython.locals(st=CallState)
    cpdef flush(self, list out)
    @cython.locals(st=CallState, calls=list)
    cpdef list calls_of(self, str exten)
