"""Pure-Python frame codec (docs/protocol.md §2): the reference twin of ``_frames_c``.

A frame is ``type:u16 | length:u16 | body``, big-endian unless told otherwise.
"""
from __future__ import annotations

import operator
import struct

from ._types import Frame
from .errors import FrameError

__all__ = ["encode_frame", "FrameDecoder", "MAX_BODY"]

MAX_BODY = 65535
_HEADER = 4
_FMT = {"big": struct.Struct(">HH"), "little": struct.Struct("<HH")}


def _header_struct(byteorder: str) -> struct.Struct:
    try:
        return _FMT[byteorder]
    except KeyError:
        raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}") from None


def encode_frame(ftype: int, body=b"", *, byteorder: str = "big") -> bytes:
    """Return one frame holding ``body``.

    Raises :class:`FrameError` when ``body`` is longer than 65535 bytes (it never
    truncates) or ``ftype`` does not fit 16 bits.

    >>> from lgucore import TEXT
    >>> encode_frame(TEXT, b"PING")
    b'\\x00\\x01\\x00\\x04PING'
    """
    st = _header_struct(byteorder)
    mv = memoryview(body)
    if mv.itemsize != 1:
        mv = mv.cast("B")
    n = mv.nbytes
    if not 0 <= ftype <= 0xFFFF:
        raise FrameError(f"frame type {ftype} does not fit 16 bits")
    ftype = operator.index(ftype)  # TypeError for 1.5, not struct.error
    if n > MAX_BODY:
        raise FrameError(f"frame body of {n} bytes exceeds the 65535-byte limit; split it (docs/protocol.md §7)")
    return st.pack(ftype, n) + mv.tobytes()


class FrameDecoder:
    """Incremental frame decoder.

    Feed it the stream in pieces of any size; each :meth:`feed` returns the frames
    completed by that piece, in order. ``max_body`` caps the length a header may
    claim; ``max_buffer`` caps the bytes the decoder may hold between calls (a
    partial frame) and must leave room for one header plus ``max_body``.

    After an error the decoder is closed: the stream is out of step and the
    connection should be dropped. The frames decoded before the error in the same
    call travel on the exception (``FrameError.frames``).
    """

    __slots__ = ("_st", "_buf", "_max_body", "_max_buffer", "_offset", "_error", "_feeding", "_pending_after_error")

    def __init__(self, *, byteorder: str = "big", max_body: int = MAX_BODY, max_buffer: int = 1 << 20) -> None:
        self._st = _header_struct(byteorder)
        if not 0 <= max_body <= MAX_BODY:
            raise ValueError(f"max_body must be within 0..65535, not {max_body}")
        if max_buffer < _HEADER + max_body:
            raise ValueError(f"max_buffer ({max_buffer}) must be at least max_body + 4 ({max_body + _HEADER})")
        self._buf = bytearray()
        self._max_body = max_body
        self._max_buffer = max_buffer
        self._offset = 0  # stream offset of _buf[0]
        self._error: FrameError | None = None
        self._feeding = False
        self._pending_after_error = 0

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame (after an error: those left unread)."""
        if self._error is not None:
            return self._pending_after_error
        return len(self._buf)

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned in a frame."""
        return self._offset

    def feed(self, data) -> list:
        """Add ``data`` (any bytes-like object) and return the frames it completes.

        Whole frames are cut straight out of ``data``; only a partial frame (fewer than
        ``4 + max_body`` bytes, so never more than ``max_buffer``) is copied and held.
        """
        if self._error is not None:
            raise FrameError("decoder is closed after an earlier error: " + str(self._error.args[0]))
        if self._feeding:
            raise RuntimeError("FrameDecoder.feed() is not re-entrant")
        self._feeding = True
        try:
            mv = memoryview(data)
            if mv.itemsize != 1:
                mv = mv.cast("B")
            elif not mv.c_contiguous:
                raise TypeError("can't concat memoryview to bytearray: a C-contiguous bytes-like object is required")
            frames: list[Frame] = []
            pos = self._finish_held(mv, frames)
            if pos < 0:
                return frames
            pos = self._cut_whole(mv, pos, frames)
            self._buf += mv[pos:]
            return frames
        finally:
            self._feeding = False

    def _finish_held(self, mv: memoryview, frames: list) -> int:
        """Complete the held partial frame from ``mv``; the next unread offset, or -1 if still partial."""
        buf = self._buf
        if not buf:
            return 0
        pos = 0
        if len(buf) < _HEADER:
            pos = min(_HEADER - len(buf), len(mv))
            buf += mv[:pos]
            if len(buf) < _HEADER:
                return -1
        ftype, length = self._st.unpack_from(buf, 0)
        if length > self._max_body:
            excerpt = (bytes(buf[:16]) + bytes(mv[pos : pos + 16]))[:16]
            self._fail(length, self._offset, excerpt, frames, len(buf) + len(mv) - pos)
        need = _HEADER + length - len(buf)
        if len(mv) - pos < need:
            buf += mv[pos:]
            return -1
        buf += mv[pos : pos + need]
        frames.append(Frame(ftype, bytes(buf[_HEADER:])))
        self._offset += _HEADER + length
        buf.clear()
        return pos + need

    def _cut_whole(self, mv: memoryview, pos: int, frames: list) -> int:
        """Append the whole frames of ``mv`` from ``pos``; the offset of the partial tail."""
        end = len(mv)
        unpack = self._st.unpack_from
        max_body = self._max_body
        while end - pos >= _HEADER:
            ftype, length = unpack(mv, pos)
            if length > max_body:
                self._fail(length, self._offset, bytes(mv[pos : pos + 16]), frames, end - pos)
            if end - pos - _HEADER < length:
                break
            start = pos + _HEADER
            frames.append(Frame(ftype, bytes(mv[start : start + length])))
            pos = start + length
            self._offset += _HEADER + length
        return pos

    def _fail(self, length: int, offset: int, excerpt: bytes, frames: list, pending: int) -> None:
        """Close the decoder on a header over ``max_body``; nothing more is held."""
        self._pending_after_error = pending
        self._buf = bytearray()
        self._error = FrameError(
            f"frame claims a {length}-byte body, over the {self._max_body}-byte limit",
            offset=offset,
            excerpt=excerpt,
            frames=frames,
        )
        raise self._error

    def eof(self) -> None:
        """Declare the end of the stream; raise :class:`FrameError` if a frame is cut short."""
        if self._error is not None:
            return
        n = len(self._buf)
        if n == 0:
            return
        if n < _HEADER:
            msg = f"stream ended inside a frame header ({n} of 4 bytes)"
        else:
            _, length = self._st.unpack_from(self._buf, 0)
            msg = f"stream ended inside a frame ({n - _HEADER} of {length} body bytes)"
        self._pending_after_error = n
        self._error = FrameError(msg, offset=self._offset, excerpt=bytes(self._buf[:16]))
        raise self._error
