"""Compiled columnar batch decoding: the twin of ``lgucore._batch_py``.

Lifetime rules (both twins): a :class:`FrameBatch` keeps a read-only memoryview of
the caller's buffer; every offset in it and in its :class:`TokenBatch` points into
that buffer, and no body is copied. While the batch is alive a ``bytearray`` buffer
cannot be resized (the export pins it); writing into the buffer in place makes the
batch describe the new bytes. Drop the batch (and any views from :meth:`FrameBatch.body`)
before reusing the buffer.

The columns are numpy arrays allocated through numpy's Python API and filled
through typed memoryviews (no numpy C headers at build time). Every offset read
back from a column is checked against the buffer before it is used.
"""
from __future__ import annotations

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM
from libc.stdint cimport int64_t, uint16_t
from libc.string cimport memcpy

from lgucore._frames_c cimport Cursor, cursor_header, cursor_take
from lgucore._tokens_c cimport (
    Message, _Charset, charset_of, lgu_field, lgu_scan, lgu_scan_free, lgu_scan_init,
    lgu_scan_t, message_from_scan,
)

import numpy as np

from lgucore._types import Frame
from lgucore.errors import FrameError

__all__ = ["FrameBatch", "TokenBatch", "build_events", "decode_batch", "tokenize_batch"]


cdef class FrameBatch:
    """Frames found in one buffer, as columns.

    Attributes:
        buffer: read-only ``memoryview`` of the caller's buffer (format ``B``).
        types: ``uint16`` frame types.
        offsets: ``int64`` offset of each body in ``buffer``.
        lengths: ``int64`` length of each body.
        consumed: bytes covered by whole frames; a partial frame after them is left.
    """

    def __init__(self, buffer, types, offsets, lengths, consumed):
        self.buffer = buffer
        self.types = types
        self.offsets = offsets
        self.lengths = lengths
        self.consumed = consumed

    def __len__(self):
        return len(self.types)

    def body(self, i):
        """A zero-copy view of body ``i`` (valid while the buffer is unchanged)."""
        o = int(self.offsets[i])
        return self.buffer[o : o + int(self.lengths[i])]

    def frame(self, i):
        """Frame ``i`` as a :class:`Frame` with a copied body."""
        return Frame(int(self.types[i]), bytes(self.body(i)))

    def frames(self):
        return [self.frame(i) for i in range(len(self))]

    def __repr__(self):
        return f"<FrameBatch frames={len(self)} consumed={self.consumed}>"


cdef extern from "lgu_batch.h":
    void _prefetch "lgu_prefetch"(const void* p) noexcept nogil


cdef object _regrow(object arr, Py_ssize_t cap, Py_ssize_t used):
    """A column of ``cap`` items holding the first ``used`` items of ``arr``."""
    out = np.empty(cap, dtype=arr.dtype)
    out[:used] = arr[:used]
    return out


cdef object _shrink(object arr, Py_ssize_t used):
    """``arr`` cut to ``used`` items, in place when numpy can (realloc), else copied."""
    if arr.shape[0] == used:
        return arr
    try:
        arr.resize(used, refcheck=False)
        return arr
    except ValueError:
        return arr[:used].copy()


@cython.boundscheck(False)
@cython.wraparound(False)
def decode_batch(buffer, *, byteorder="big", max_body=65535):
    """Find every whole frame in ``buffer`` without copying a body.

    Stops at a partial frame at the end (``consumed`` says where). A header that
    claims more than ``max_body`` raises :class:`FrameError` at its offset: the frames
    before it are whole and can be decoded again from ``buffer[:offset]``.
    """
    cdef bint big
    if byteorder == "big":
        big = True
    elif byteorder == "little":
        big = False
    else:
        raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}")
    mv = memoryview(buffer)
    if mv.itemsize != 1 or mv.ndim != 1 or not mv.c_contiguous:
        mv = mv.cast("B")
    mv = mv.toreadonly()
    # headers carry 16 bits: a limit of 65535 or more never trips, one below 0 always does
    cdef long mb = -1 if max_body < 0 else (0xFFFF if max_body >= 0xFFFF else int(max_body))
    cdef Py_buffer view
    cdef const unsigned char* p
    cdef Py_ssize_t end, pos = 0, count = 0, cap
    cdef unsigned int n, ftype
    cdef Cursor cur
    cdef uint16_t[::1] tv
    cdef int64_t[::1] ov, lv
    PyObject_GetBuffer(mv, &view, PyBUF_SIMPLE)
    try:
        p = <const unsigned char*>view.buf
        end = view.len
        # One pass. Columns start at one frame per 32 bytes (untouched pages of a
        # numpy array cost nothing) and double when heartbeat-sized frames need more.
        cap = end // 32 + 64
        if cap > end // 4 + 1:
            cap = end // 4 + 1
        types = np.empty(cap, dtype=np.uint16)
        offsets = np.empty(cap, dtype=np.int64)
        lengths = np.empty(cap, dtype=np.int64)
        tv = types
        ov = offsets
        lv = lengths
        cur.p = p
        cur.pos = 0
        cur.end = end
        while cursor_header(&cur, big, &ftype, &n):
            if end - cur.pos > 2048:
                _prefetch(p + cur.pos + 2048)  # the next headers: frames are consecutive
            if <long>n > mb:
                raise FrameError(f"frame claims a {n}-byte body, over the {max_body}-byte limit",
                                 offset=cur.pos, excerpt=mv[cur.pos : cur.pos + 16])
            if cursor_take(&cur, 4 + n) == NULL:
                break
            if count == cap:
                cap *= 2
                types, offsets, lengths = _regrow(types, cap, count), _regrow(offsets, cap, count), _regrow(lengths, cap, count)
                tv = types
                ov = offsets
                lv = lengths
            tv[count] = <uint16_t>ftype
            ov[count] = cur.pos - n
            lv[count] = n
            count += 1
        pos = cur.pos
    finally:
        PyBuffer_Release(&view)
    tv = None
    ov = lv = None
    types, offsets, lengths = _shrink(types, count), _shrink(offsets, count), _shrink(lengths, count)
    return FrameBatch(mv, types, offsets, lengths, pos)


cdef class TokenBatch:
    """Fields of every frame of a :class:`FrameBatch`, as columns into its buffer.

    Per frame ``i``: ``name_offsets[i]``/``name_lengths[i]`` and its fields
    ``field_index[i]:field_index[i+1]``. Per field ``j``: ``field_frame[j]`` (frame
    index), ``key_offsets``/``key_lengths`` (``-1``/``-1`` for a positional field) and
    ``value_offsets``/``value_lengths``. All ``int64``; offsets are into
    ``frames.buffer``. No Python string exists until :meth:`messages` is called.
    """

    def __init__(self, frames, charset, name_offsets, name_lengths, field_index, field_frame,
                 key_offsets, key_lengths, value_offsets, value_lengths):
        self._cs = charset_of(charset)
        self.frames = frames
        self.charset = self._cs.name
        self.name_offsets = name_offsets
        self.name_lengths = name_lengths
        self.field_index = field_index
        self.field_frame = field_frame
        self.key_offsets = key_offsets
        self.key_lengths = key_lengths
        self.value_offsets = value_offsets
        self.value_lengths = value_lengths

    def __len__(self):
        return len(self.name_offsets)

    @property
    def nfields(self):
        return len(self.field_frame)

    def message(self, i):
        """Frame ``i`` as a :class:`Message`, equal to ``tokenize(body)``."""
        cdef Py_ssize_t n = len(self)
        i = i.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("message index out of range")
        return self._messages(i, i + 1)[0]

    def messages(self):
        """Every frame as a :class:`Message` (this creates the Python strings)."""
        return self._messages(0, len(self))

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _messages(self, Py_ssize_t first, Py_ssize_t stop):
        """Messages ``first:stop`` (``0 <= first <= stop <= len(self)``, else IndexError).

        Every column value is checked before it is used, without overflow: a column
        edited by hand gives ``ValueError``, never a read outside the buffer.
        """
        cdef Py_buffer view
        cdef lgu_scan_t s
        cdef const int64_t[::1] fo = self.frames.offsets
        cdef const int64_t[::1] fl = self.frames.lengths
        cdef const int64_t[::1] no = self.name_offsets
        cdef const int64_t[::1] nl = self.name_lengths
        cdef const int64_t[::1] idx = self.field_index
        cdef const int64_t[::1] ko = self.key_offsets
        cdef const int64_t[::1] kl = self.key_lengths
        cdef const int64_t[::1] vo = self.value_offsets
        cdef const int64_t[::1] vl = self.value_lengths
        cdef Py_ssize_t i, j, k, nf
        cdef int64_t a, b
        cdef list out = []
        if not 0 <= first <= stop <= no.shape[0]:
            raise IndexError(f"message range {first}:{stop} is outside 0:{no.shape[0]}")
        if (fo.shape[0] < stop or fl.shape[0] < stop or nl.shape[0] < stop or idx.shape[0] <= stop
                or kl.shape[0] != ko.shape[0] or vo.shape[0] != ko.shape[0] or vl.shape[0] != ko.shape[0]):
            raise ValueError("TokenBatch columns do not match its frames")
        nf = ko.shape[0]
        lgu_scan_init(&s)
        PyObject_GetBuffer(self.frames.buffer, &view, PyBUF_SIMPLE)
        try:
            for i in range(first, stop):
                a = fo[i]
                if not (_span_ok(a, fl[i], 0, view.len) and _span_ok(no[i], nl[i], a, a + fl[i])
                        and 0 <= idx[i] <= idx[i + 1] <= nf):
                    raise ValueError(f"TokenBatch columns do not match frame {i}")
                b = a + fl[i]
                s.n = 0
                s.name_start = no[i]
                s.name_end = no[i] + nl[i]
                s.ascii = 0
                for j in range(idx[i], idx[i + 1]):
                    if not (_span_ok(vo[j], vl[j], a, b) and (kl[j] < 0 or _span_ok(ko[j], kl[j], a, b))):
                        raise ValueError(f"TokenBatch columns do not match frame {i}")
                    if s.n == s.cap:
                        _grow(&s)
                    k = s.n
                    s.n += 1
                    if kl[j] < 0:
                        s.f[k].ks = -1
                        s.f[k].ke = -1
                    else:
                        s.f[k].ks = ko[j]
                        s.f[k].ke = ko[j] + kl[j]
                    s.f[k].vs = vo[j]
                    s.f[k].ve = vo[j] + vl[j]
                raw = PyBytes_FromStringAndSize(<const char*>view.buf + a, b - a)
                s.ascii = _is_ascii_bytes(raw)
                out.append(message_from_scan(raw, <const unsigned char*>view.buf, a, &s, self._cs))
        finally:
            PyBuffer_Release(&view)
            lgu_scan_free(&s)
        return out


cdef inline bint _span_ok(int64_t start, int64_t length, int64_t lo, int64_t hi) noexcept nogil:
    """``[start, start + length)`` lies inside ``[lo, hi)``, decided without overflow."""
    return lo <= start <= hi and 0 <= length <= hi - start


cdef extern from "lgu_batch.h":
    int _grow "lgu_grow_public"(lgu_scan_t* s) except -1


cdef inline bint _is_ascii_bytes(bytes raw):
    return raw.isascii()


cdef inline int _check_frame(int64_t a, int64_t n, Py_ssize_t buflen, Py_ssize_t i) except -1:
    if not _span_ok(a, n, 0, buflen):
        raise ValueError(f"frame {i} lies outside the batch buffer")
    return 0


cdef object _fresh(Py_ssize_t n):
    return np.empty(n, dtype=np.int64)


@cython.boundscheck(False)
@cython.wraparound(False)
def tokenize_batch(batch, *, charset="cp949"):
    """Tokenize every body of ``batch`` into columns (see :class:`TokenBatch`)."""
    cdef _Charset cs = charset_of(charset)
    cdef Py_buffer view
    cdef lgu_scan_t s
    cdef Py_ssize_t n = len(batch), i, k, j = 0, cap, sample, want
    cdef const int64_t[::1] fo = batch.offsets
    cdef const int64_t[::1] fl = batch.lengths
    cdef int64_t[::1] no, nl, idx, ff, ko, kl, vo, vl
    cdef int64_t a, b
    cdef const unsigned char* p
    cdef lgu_field* f
    if fo.shape[0] < n or fl.shape[0] < n:
        raise ValueError("FrameBatch columns are shorter than the batch")
    name_o = np.empty(n, dtype=np.int64)
    name_l = np.empty(n, dtype=np.int64)
    index = np.empty(n + 1, dtype=np.int64)
    no = name_o
    nl = name_l
    idx = index
    lgu_scan_init(&s)
    PyObject_GetBuffer(batch.buffer, &view, PyBUF_SIMPLE)
    try:
        p = <const unsigned char*>view.buf
        # size the field columns from a sample; they grow by doubling if it was short
        sample = n if n < 64 else 64
        want = 0
        for i in range(sample):
            a = fo[i]
            _check_frame(a, fl[i], view.len, i)
            b = a + fl[i]
            lgu_scan(p, a, b, view.len, &s)
            want += s.n
        # a body of L bytes yields at most L fields, so the buffer bounds the total of
        # real frames (hand-built overlapping frames may need more: the columns grow)
        cap = want * n // sample if sample else 0
        cap += cap // 8
        if cap > view.len:
            cap = view.len
        cap += 64
        cols = [_fresh(cap) for _ in range(5)]
        ff, ko, kl, vo, vl = cols
        for i in range(n):
            a = fo[i]
            _check_frame(a, fl[i], view.len, i)
            b = a + fl[i]
            lgu_scan(p, a, b, view.len, &s)
            no[i] = s.name_start
            nl[i] = s.name_end - s.name_start
            idx[i] = j
            if j + s.n > cap:
                while j + s.n > cap:
                    cap *= 2
                cols = [_regrow(c, cap, j) for c in cols]
                ff, ko, kl, vo, vl = cols
            f = s.f
            for k in range(s.n):
                ff[j] = i
                if f[k].ks < 0:
                    ko[j] = -1
                    kl[j] = -1
                else:
                    ko[j] = f[k].ks
                    kl[j] = f[k].ke - f[k].ks
                vo[j] = f[k].vs
                vl[j] = f[k].ve - f[k].vs
                j += 1
        idx[n] = j
    finally:
        PyBuffer_Release(&view)
        lgu_scan_free(&s)
    # release the typed views, then give back the unused tail of each column
    ff = ko = kl = vo = vl = None
    cols = [_shrink(c, j) for c in cols]
    return TokenBatch(batch, cs.name, name_o, name_l, index, *cols)


@cython.boundscheck(False)
@cython.wraparound(False)
def build_events(buffer, const int64_t[::1] starts not None, const int64_t[::1] ends not None,
                 const int64_t[::1] keys not None, list stamps not None, dict labels not None,
                 dict builders not None, other):
    """One object per body ``buffer[starts[i]:ends[i]]``, in order, in one pass without a Python
    step per frame (see ``lgucore._batch_py.build_events`` for the rules both twins follow)."""
    cdef Py_ssize_t n = starts.shape[0], i
    cdef int64_t a, b
    cdef Py_buffer view
    cdef lgu_scan_t s
    cdef const unsigned char* p
    cdef _Charset cs
    cdef Message msg
    cdef bint ascii
    cdef bytes raw
    cdef list out = []
    if ends.shape[0] != n or keys.shape[0] != n or len(stamps) != n:
        raise ValueError("build_events columns differ in length")
    mv = memoryview(buffer)
    if mv.itemsize != 1 or mv.ndim != 1 or not mv.c_contiguous:
        mv = mv.cast("B")
    lgu_scan_init(&s)
    PyObject_GetBuffer(mv, &view, PyBUF_SIMPLE)
    try:
        p = <const unsigned char*>view.buf
        for i in range(n):
            a = starts[i]
            b = ends[i]
            if not (0 <= a <= b <= view.len):
                raise ValueError(f"body {i} ({a}:{b}) lies outside the buffer")
            key = keys[i]
            found = labels.get(key)
            if found is None:
                raise KeyError(key)
            label, charset = <tuple?>found
            cs = charset_of(charset)
            lgu_scan(p, a, b, view.len, &s)
            ascii = s.ascii
            raw = PyBytes_FromStringAndSize(<const char*>p + a, b - a)
            msg = message_from_scan(raw, p, a, &s, cs)
            text = raw.decode("ascii") if ascii else raw.decode(cs.name, "replace")
            values = (text, label, <object>PyList_GET_ITEM(stamps, i))  # the list's own float
            builder = builders.get(msg.name)
            out.append(builder.build(msg, values) if builder is not None else other(msg, values, key))
    finally:
        PyBuffer_Release(&view)
        lgu_scan_free(&s)
    return out
