# Declarations of the compiled frame codec (PROTOCOL.md §2).

cdef class FrameDecoder:
    cdef bint _big
    cdef Py_ssize_t _max_body
    cdef object _max_buffer
    cdef unsigned char* _buf       # the partial frame held between feeds: _buf[0:_len]
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap           # grows by doubling, never past _limit
    cdef Py_ssize_t _limit         # 4 + max_body: the most a partial frame can hold
    cdef long long _offset
    cdef Py_ssize_t _pending_after_error
    cdef object _error
    cdef bint _feeding

    cdef int _reserve(self, Py_ssize_t need) except -1
    cdef int _hold(self, const unsigned char* p, Py_ssize_t n) except -1
    cdef int _fail(self, unsigned int length, long long offset, object excerpt, list frames,
                   Py_ssize_t pending) except -1
