# Declarations of the compiled frame codec (docs/protocol.md §2), and the checked cursor
# that every header and body read goes through (also used by _batch_c).


cdef struct Cursor:
    const unsigned char* p     # the bytes being read
    Py_ssize_t pos             # next unread byte
    Py_ssize_t end             # one past the last readable byte


cdef inline bint cursor_header(Cursor* c, bint big, unsigned int* ftype,
                               unsigned int* length) noexcept nogil:
    """Peek the 4-byte header at the cursor; False (nothing read) when fewer remain."""
    cdef const unsigned char* h
    if c.end - c.pos < 4:
        return False
    h = c.p + c.pos
    if big:
        ftype[0] = (<unsigned int>h[0] << 8) | h[1]
        length[0] = (<unsigned int>h[2] << 8) | h[3]
    else:
        ftype[0] = (<unsigned int>h[1] << 8) | h[0]
        length[0] = (<unsigned int>h[3] << 8) | h[2]
    return True


cdef inline const unsigned char* cursor_take(Cursor* c, Py_ssize_t n) noexcept nogil:
    """The n bytes at the cursor, moving past them; NULL (cursor unchanged) when fewer remain."""
    cdef const unsigned char* out
    if n < 0 or c.end - c.pos < n:
        return NULL
    out = c.p + c.pos
    c.pos += n
    return out

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
