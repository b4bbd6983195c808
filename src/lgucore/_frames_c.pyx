"""Compiled frame codec (docs/protocol.md §2): the twin of ``lgucore._frames_py``.

A frame is ``type:u16 | length:u16 | body``, big-endian unless told otherwise.
Behaviour, messages and errors are those of the pure twin; only the receive buffer
differs: whole frames are cut straight out of the caller's data, and only a partial
frame is copied into a window that grows by doubling up to one header plus
``max_body`` (so feeding is linear in the bytes fed, whatever the piece sizes).
"""
from __future__ import annotations

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject
from libc.string cimport memcpy

from operator import index as _index

from lgucore._types import Frame
from lgucore.errors import FrameError

__all__ = ["encode_frame", "FrameDecoder", "MAX_BODY"]

MAX_BODY = 65535

cdef enum:
    _HEADER = 4

cdef extern from "lgu_frame.h":
    object lgu_frame(object cls, long ftype, object body)

if not issubclass(Frame, tuple) or len(Frame._fields) != 2:
    raise ImportError("lgucore._types.Frame must be a 2-field NamedTuple")

cdef object _Frame = Frame


cdef inline bint _order(object byteorder) except -1:
    """True for big-endian; ValueError (as the pure twin) for anything else."""
    if byteorder == "big":
        return True
    if byteorder == "little":
        return False
    raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}")


cdef object _byte_view(object data, bint copy_strided):
    """``data`` as a C-contiguous memoryview of bytes.

    As in the pure twin, an item size other than 1 is cast (TypeError when the
    view is not contiguous); a strided byte view is copied when ``copy_strided``
    (encode) and refused with TypeError otherwise (feed).
    """
    mv = memoryview(data)
    if mv.itemsize != 1:
        mv = mv.cast("B")
    elif not mv.c_contiguous:
        if not copy_strided:
            raise TypeError("can't concat memoryview to bytearray: a C-contiguous bytes-like object is required")
        mv = memoryview(mv.tobytes())
    return mv


def encode_frame(ftype, body=b"", *, byteorder="big"):
    """Return one frame holding ``body``.

    Raises :class:`FrameError` when ``body`` is longer than 65535 bytes (it never
    truncates) or ``ftype`` does not fit 16 bits; ``TypeError`` when ``ftype`` is not
    an integer.

    >>> from lgucore import TEXT
    >>> encode_frame(TEXT, b"PING")
    b'\\x00\\x01\\x00\\x04PING'
    """
    cdef bint big = _order(byteorder)
    cdef Py_buffer view
    cdef Py_ssize_t n
    cdef long t
    mv = _byte_view(body, True)
    PyObject_GetBuffer(mv, &view, PyBUF_SIMPLE)
    try:
        n = view.len
        if not 0 <= ftype <= 0xFFFF:
            raise FrameError(f"frame type {ftype} does not fit 16 bits")
        t = _index(ftype)
        if n > MAX_BODY:
            raise FrameError(f"frame body of {n} bytes exceeds the 65535-byte limit; split it (docs/protocol.md §7)")
        out = PyBytes_FromStringAndSize(NULL, _HEADER + n)
        p = <unsigned char*>PyBytes_AS_STRING(out)
        if big:
            p[0] = <unsigned char>(t >> 8); p[1] = <unsigned char>t
            p[2] = <unsigned char>(n >> 8); p[3] = <unsigned char>n
        else:
            p[1] = <unsigned char>(t >> 8); p[0] = <unsigned char>t
            p[3] = <unsigned char>(n >> 8); p[2] = <unsigned char>n
        if n:
            memcpy(p + _HEADER, view.buf, <size_t>n)
        return out
    finally:
        PyBuffer_Release(&view)


cdef class FrameDecoder:
    """Incremental frame decoder.

    Feed it the stream in pieces of any size; each :meth:`feed` returns the frames
    completed by that piece, in order. ``max_body`` caps the length a header may
    claim; ``max_buffer`` caps the bytes the decoder may hold between calls (a
    partial frame) and must leave room for one header plus ``max_body``.

    After an error the decoder is closed: the stream is out of step and the
    connection should be dropped. The frames decoded before the error in the same
    call travel on the exception (``FrameError.frames``).
    """

    def __cinit__(self):
        self._buf = NULL
        self._len = 0
        self._cap = 0

    def __init__(self, *, byteorder="big", max_body=MAX_BODY, max_buffer=1 << 20):
        self._big = _order(byteorder)
        if not 0 <= max_body <= MAX_BODY:
            raise ValueError(f"max_body must be within 0..65535, not {max_body}")
        if max_buffer < _HEADER + max_body:
            raise ValueError(f"max_buffer ({max_buffer}) must be at least max_body + 4 ({max_body + _HEADER})")
        self._max_body = int(max_body)
        self._max_buffer = max_buffer
        self._limit = _HEADER + self._max_body
        self._len = 0
        self._offset = 0
        self._error = None
        self._feeding = False

    def __dealloc__(self):
        PyMem_Free(self._buf)
        self._buf = NULL

    @property
    def pending(self):
        """Bytes held that do not yet make a whole frame."""
        if self._error is not None:
            return self._pending_after_error
        return self._len

    @property
    def offset(self):
        """Stream offset of the first byte not yet returned in a frame."""
        return self._offset

    cdef int _reserve(self, Py_ssize_t need) except -1:
        # The window doubles from 256 bytes up to 4 + max_body: a partial frame never
        # needs more, so the decoder holds at most that between calls.
        cdef Py_ssize_t cap = self._cap if self._cap else 256
        cdef unsigned char* nb
        if need <= self._cap:
            return 0
        while cap < need:
            cap *= 2
        if cap > self._limit:
            cap = self._limit if self._limit >= need else need
        nb = <unsigned char*>PyMem_Realloc(self._buf, <size_t>cap)
        if nb == NULL:
            raise MemoryError()
        self._buf = nb
        self._cap = cap
        return 0

    cdef int _hold(self, const unsigned char* p, Py_ssize_t n) except -1:
        if n > 0:
            self._reserve(self._len + n)
            memcpy(self._buf + self._len, p, <size_t>n)
            self._len += n
        return 0

    def feed(self, data):
        """Add ``data`` (any bytes-like object) and return the frames it completes."""
        if self._error is not None:
            raise FrameError("decoder is closed after an earlier error: " + str(self._error.args[0]))
        if self._feeding:
            raise RuntimeError("FrameDecoder.feed() is not re-entrant")
        cdef Py_buffer view
        cdef bint have_view = False
        cdef const unsigned char* d
        cdef Py_ssize_t n, pos = 0, need, t
        cdef unsigned int ftype, length
        cdef Cursor cur
        cdef const unsigned char* frame
        cdef list frames = []
        self._feeding = True
        try:
            if type(data) is bytes:
                d = <const unsigned char*>PyBytes_AS_STRING(data)
                n = PyBytes_GET_SIZE(data)
            else:
                mv = _byte_view(data, False)
                PyObject_GetBuffer(mv, &view, PyBUF_SIMPLE)
                have_view = True
                d = <const unsigned char*>view.buf
                n = view.len

            # 1. finish the partial frame held from earlier feeds
            if self._len:
                if self._len < _HEADER:
                    t = _HEADER - self._len
                    if t > n:
                        t = n
                    self._hold(d, t)
                    pos = t
                cur.p = self._buf
                cur.pos = 0
                cur.end = self._len
                if not cursor_header(&cur, self._big, &ftype, &length):
                    return frames
                if length > <unsigned int>self._max_body:
                    head = PyBytes_FromStringAndSize(<const char*>self._buf, self._len if self._len < 16 else 16)
                    if len(head) < 16:
                        head += PyBytes_FromStringAndSize(<const char*>d + pos, min(16 - len(head), n - pos))
                    self._fail(length, self._offset, head, frames, self._len + n - pos)
                need = _HEADER + length - self._len
                if n - pos < need:
                    self._hold(d + pos, n - pos)
                    return frames
                self._hold(d + pos, need)
                pos += need
                frames.append(lgu_frame(_Frame, ftype, PyBytes_FromStringAndSize(
                    <const char*>self._buf + _HEADER, length)))
                self._offset += _HEADER + length
                self._len = 0

            # 2. whole frames straight from the caller's data
            cur.p = d
            cur.pos = pos
            cur.end = n
            while cursor_header(&cur, self._big, &ftype, &length):
                if length > <unsigned int>self._max_body:
                    self._fail(length, self._offset,
                               PyBytes_FromStringAndSize(<const char*>d + cur.pos, min(16, n - cur.pos)),
                               frames, n - cur.pos)
                frame = cursor_take(&cur, _HEADER + length)
                if frame == NULL:
                    break
                frames.append(lgu_frame(_Frame, ftype, PyBytes_FromStringAndSize(
                    <const char*>frame + _HEADER, length)))
                self._offset += _HEADER + length
            pos = cur.pos

            # 3. keep the tail (shorter than one header plus max_body)
            self._hold(d + pos, n - pos)
            return frames
        finally:
            if have_view:
                PyBuffer_Release(&view)
            self._feeding = False

    cdef int _fail(self, unsigned int length, long long offset, object excerpt, list frames,
                   Py_ssize_t pending) except -1:
        self._pending_after_error = pending
        self._len = 0
        self._error = FrameError(
            f"frame claims a {length}-byte body, over the {self._max_body}-byte limit",
            offset=offset,
            excerpt=excerpt,
            frames=frames,
        )
        raise self._error

    def eof(self):
        """Declare the end of the stream; raise :class:`FrameError` if a frame is cut short."""
        if self._error is not None:
            return
        cdef Py_ssize_t n = self._len
        if n == 0:
            return
        cdef Cursor cur
        cdef unsigned int ftype, length
        cur.p = self._buf
        cur.pos = 0
        cur.end = n
        if not cursor_header(&cur, self._big, &ftype, &length):
            msg = f"stream ended inside a frame header ({n} of 4 bytes)"
        else:
            msg = f"stream ended inside a frame ({n - _HEADER} of {length} body bytes)"
        self._pending_after_error = n
        self._error = FrameError(msg, offset=self._offset,
                                 excerpt=PyBytes_FromStringAndSize(<const char*>self._buf, n if n < 16 else 16))
        raise self._error
