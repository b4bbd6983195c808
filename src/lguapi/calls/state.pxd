# Types lguapi/calls/state.py for the call tracker's compiled twin (joined into lguapi.calls._c.core):
# legs and call states as final extension types with C attributes and C methods.
cdef int UID, LIVE, DEAD, GONE
cdef Py_ssize_t BIG

cdef extern from *:
    """
    static CYTHON_INLINE void lgu_untrack(PyObject *o) { PyObject_GC_UnTrack(o); }
    """
    void untrack "lgu_untrack"(object obj)

cdef bint is_xfer(str ch) except -1
@cython.locals(legs=list)
cdef list new_legs()
@cython.locals(st=CallState)
cpdef CallState open_state(call, long long seq, ts, double now)

@cython.final
cdef class Leg:
    cdef public str exten, own, status
    cdef public tuple remotes
    cdef public double since, clock
    cdef public object dial, cause
    cdef public bint transfer, xfer, held

    cdef void add_remote(self, str remote) except *
    cdef void drop_remote(self, str remote) except *

@cython.locals(leg=Leg)
cdef Leg new_leg(str exten, str own, str remote, str status, double since, double clock, dial)

@cython.final
cdef class CallState:
    cdef public object call, last_seen, orig, dest, hint, pending, last_cause, conf, conf_chans
    cdef public long long seq
    cdef public double touched
    cdef public tuple extens, handled
    cdef public list legs
    cdef public dict by_exten, by_own, by_pair, keys
    cdef public set ext_set, handled_set
    cdef public Py_ssize_t n_ringing, n_connected, n_held, n_xfer, n_transfer
    cdef public int orig_strength, dest_strength
    cdef public bint rung, conf_start, shown
    cdef object s_state, s_direction, s_answered, s_remote, s_dialled, s_room
    cdef Py_ssize_t s_parties
    cdef public str c_state, c_direction, c_remote

    cdef void show(self) except *
    cdef void withdraw(self) except *
    cdef bint is_dead(self, str key) except -1
    cdef bint has_channel(self, str key) except -1
    cdef void mark_dead(self, str ch) except *
    cdef list own_keys(self)
    @cython.locals(keys=dict)
    cdef void absorb_keys(self, CallState other) except *
    cdef bint indexed(self) except -1
    @cython.locals(leg=Leg)
    cdef Leg leg(self, str exten, str own)
    @cython.locals(leg=Leg, legs=list)
    cdef list legs_of(self, str exten)
    @cython.locals(leg=Leg, legs=list)
    cdef list legs_on(self, str own)
    @cython.locals(leg=Leg)
    cdef dict index_legs(self)
    @cython.locals(legs=list, pair=tuple)
    cdef void index_leg(self, Leg leg) except *
    cdef bint has_live(self) except -1
    @cython.locals(leg=Leg)
    cdef bint has_live_of(self, str exten) except -1
    cdef void add_leg(self, Leg leg) except *
    @cython.locals(leg=Leg, indexed=bint)
    cdef void add_legs(self, list legs) except *
    # (no Python error can arise in these: string comparisons and C stores)
    @cython.locals(status=str)
    cdef void tally(self, Leg leg, int d) noexcept
    cdef void set_status(self, Leg leg, str status) noexcept
    cdef void set_held(self, Leg leg, bint held) noexcept
    cdef void set_xfer(self, Leg leg, bint xfer) noexcept
    cdef void set_transfer(self, Leg leg, bint transfer) noexcept
    @cython.locals(members=set)
    cdef bint has_exten(self, str exten) except -1
    cdef void add_exten(self, str exten) except *
    @cython.locals(members=set)
    cdef bint has_handled(self, str exten) except -1
    cdef void add_handled(self, str exten) except *
    cdef void conf_add(self, str ch, member) except *
    cdef bint in_conf_chans(self, str ch) except -1
    cdef void absorb_conf(self, CallState other) except *
    cdef void evidence(self, int strength, orig, dest) except *
    cdef void snap(self) except *
    cdef bint changed(self) except -1
    @cython.locals(connected=bint, direction=str, state=str)
    cdef void refresh(self) except *
