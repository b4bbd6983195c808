# Types lguapi/channels.py for the call tracker's compiled twin (lguapi.calls._c.core, see setup.py);
# the client and everything else use the pure module.
cpdef str normalize_channel(str channel)
cpdef str normalize_unique_id(str unique_id)
@cython.locals(start=Py_ssize_t, at=Py_ssize_t, dash=Py_ssize_t)
cpdef str channel_peer(str channel)
cpdef str own_channel(str exten, str a, str b)
@cython.locals(s=Py_ssize_t, e=Py_ssize_t, at=Py_ssize_t, d=Py_ssize_t)
cdef bint _is_peer(str ch, str exten) except -1
