"""Pure-Python columnar batch decoding: the reference twin of ``_batch_c``.

Lifetime rules (both twins): a :class:`FrameBatch` keeps a read-only memoryview of
the caller's buffer; every offset in it and in its :class:`TokenBatch` points into
that buffer, and no body is copied. While the batch is alive a ``bytearray`` buffer
cannot be resized (the export pins it); writing into the buffer in place makes the
batch describe the new bytes. Drop the batch (and any views from :meth:`FrameBatch.body`)
before reusing the buffer.
"""
from __future__ import annotations

import struct

import numpy as np

from ._tokens_py import Message, _check_charset, _decoder, build_message, scan
from ._types import Frame
from .errors import FrameError

__all__ = ["FrameBatch", "TokenBatch", "build_events", "decode_batch", "tokenize_batch"]

_FMT = {"big": struct.Struct(">HH"), "little": struct.Struct("<HH")}


class FrameBatch:
    """Frames found in one buffer, as columns.

    Attributes:
        buffer: read-only ``memoryview`` of the caller's buffer (format ``B``).
        types: ``uint16`` frame types.
        offsets: ``int64`` offset of each body in ``buffer``.
        lengths: ``int64`` length of each body.
        consumed: bytes covered by whole frames; a partial frame after them is left.
    """

    __slots__ = ("buffer", "types", "offsets", "lengths", "consumed")

    def __init__(self, buffer, types, offsets, lengths, consumed: int) -> None:
        self.buffer = buffer
        self.types = types
        self.offsets = offsets
        self.lengths = lengths
        self.consumed = consumed

    def __len__(self) -> int:
        return len(self.types)

    def body(self, i: int) -> memoryview:
        """A zero-copy view of body ``i`` (valid while the buffer is unchanged)."""
        o = int(self.offsets[i])
        return self.buffer[o : o + int(self.lengths[i])]

    def frame(self, i: int) -> Frame:
        """Frame ``i`` as a :class:`Frame` with a copied body."""
        return Frame(int(self.types[i]), bytes(self.body(i)))

    def frames(self) -> list:
        return [self.frame(i) for i in range(len(self))]

    def __repr__(self) -> str:
        return f"<FrameBatch frames={len(self)} consumed={self.consumed}>"


class TokenBatch:
    """Fields of every frame of a :class:`FrameBatch`, as columns into its buffer.

    Per frame ``i``: ``name_offsets[i]``/``name_lengths[i]`` and its fields
    ``field_index[i]:field_index[i+1]``. Per field ``j``: ``field_frame[j]`` (frame
    index), ``key_offsets``/``key_lengths`` (``-1``/``-1`` for a positional field) and
    ``value_offsets``/``value_lengths``. All ``int64``; offsets are into
    ``frames.buffer``. No Python string exists until :meth:`messages` is called.
    """

    __slots__ = (
        "frames", "charset", "name_offsets", "name_lengths", "field_index", "field_frame",
        "key_offsets", "key_lengths", "value_offsets", "value_lengths",
    )

    def __init__(self, frames, charset, name_offsets, name_lengths, field_index, field_frame,
                 key_offsets, key_lengths, value_offsets, value_lengths) -> None:
        self.frames = frames
        self.charset = charset
        self.name_offsets = name_offsets
        self.name_lengths = name_lengths
        self.field_index = field_index
        self.field_frame = field_frame
        self.key_offsets = key_offsets
        self.key_lengths = key_lengths
        self.value_offsets = value_offsets
        self.value_lengths = value_lengths

    def __len__(self) -> int:
        return len(self.name_offsets)

    @property
    def nfields(self) -> int:
        return len(self.field_frame)

    def message(self, i: int) -> Message:
        """Frame ``i`` as a :class:`Message`, equal to ``tokenize(body)``."""
        n = len(self)
        i = i.__index__()
        if i < 0:
            i += n  # field_index[i + 1] must not wrap around
        if not 0 <= i < n:
            raise IndexError("message index out of range")
        return self._messages(i, i + 1)[0]

    def messages(self) -> list:
        """Every frame as a :class:`Message` (this creates the Python strings)."""
        return self._messages(0, len(self))

    def _messages(self, first: int, stop: int) -> list:
        """Messages ``first:stop``; columns edited by hand give ``ValueError`` as in the compiled twin."""
        if not 0 <= first <= stop <= len(self):
            raise IndexError(f"message range {first}:{stop} is outside 0:{len(self)}")
        nf = len(self.key_offsets)
        if (len(self.frames.offsets) < stop or len(self.frames.lengths) < stop or len(self.name_lengths) < stop
                or len(self.field_index) <= stop
                or not len(self.key_lengths) == len(self.value_offsets) == len(self.value_lengths) == nf):
            raise ValueError("TokenBatch columns do not match its frames")
        buf = bytes(self.frames.buffer)  # pure twin: simplicity over speed
        dec = _decoder(self.charset)
        return [self._message_at(buf, dec, i, nf) for i in range(first, stop)]

    def _message_at(self, buf: bytes, dec, i: int, nf: int) -> Message:
        a = int(self.frames.offsets[i])
        n = int(self.frames.lengths[i])
        ns = int(self.name_offsets[i])
        first, stop = int(self.field_index[i]), int(self.field_index[i + 1])
        if not (_span_ok(a, n, 0, len(buf)) and _span_ok(ns, int(self.name_lengths[i]), a, a + n)
                and 0 <= first <= stop <= nf):
            raise ValueError(f"TokenBatch columns do not match frame {i}")
        b = a + n
        spans = []
        for j in range(first, stop):
            ko, kl = int(self.key_offsets[j]), int(self.key_lengths[j])
            vo, vl = int(self.value_offsets[j]), int(self.value_lengths[j])
            if not (_span_ok(vo, vl, a, b) and (kl < 0 or _span_ok(ko, kl, a, b))):
                raise ValueError(f"TokenBatch columns do not match frame {i}")
            spans.append((-1, -1, vo, vo + vl) if kl < 0 else (ko, ko + kl, vo, vo + vl))
        return build_message(buf, ns, ns + int(self.name_lengths[i]), spans, dec, buf[a:b])


def _span_ok(start: int, length: int, lo: int, hi: int) -> bool:
    """``[start, start + length)`` lies inside ``[lo, hi)``."""
    return lo <= start <= hi and 0 <= length <= hi - start


def decode_batch(buffer, *, byteorder: str = "big", max_body: int = 65535) -> FrameBatch:
    """Find every whole frame in ``buffer`` without copying a body.

    Stops at a partial frame at the end (``consumed`` says where). A header that
    claims more than ``max_body`` raises :class:`FrameError` at its offset: the frames
    before it are whole and can be decoded again from ``buffer[:offset]``.
    """
    try:
        st = _FMT[byteorder]
    except KeyError:
        raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}") from None
    mv = memoryview(buffer)
    if mv.itemsize != 1 or mv.ndim != 1 or not mv.c_contiguous:
        mv = mv.cast("B")  # TypeError for a strided view
    mv = mv.toreadonly()
    end = mv.nbytes
    types, offsets, lengths = [], [], []
    pos = 0
    unpack = st.unpack_from
    while end - pos >= 4:
        t, n = unpack(mv, pos)
        if n > max_body:
            raise FrameError(f"frame claims a {n}-byte body, over the {max_body}-byte limit",
                             offset=pos, excerpt=mv[pos : pos + 16])
        if end - pos - 4 < n:
            break
        types.append(t)
        offsets.append(pos + 4)
        lengths.append(n)
        pos += 4 + n
    return FrameBatch(
        mv,
        np.array(types, dtype=np.uint16),
        np.array(offsets, dtype=np.int64),
        np.array(lengths, dtype=np.int64),
        pos,
    )


def tokenize_batch(batch: FrameBatch, *, charset: str = "cp949") -> TokenBatch:
    """Tokenize every body of ``batch`` into columns (see :class:`TokenBatch`)."""
    charset = _check_charset(charset)
    buf = bytes(batch.buffer)  # the pure twin copies once; the compiled one never does
    n = len(batch)
    if len(batch.offsets) < n or len(batch.lengths) < n:
        raise ValueError("FrameBatch columns are shorter than the batch")
    name_o = np.empty(n, dtype=np.int64)
    name_l = np.empty(n, dtype=np.int64)
    index = np.empty(n + 1, dtype=np.int64)
    ff: list[int] = []
    ko: list[int] = []
    kl: list[int] = []
    vo: list[int] = []
    vl: list[int] = []
    for i in range(n):
        s = int(batch.offsets[i])
        if not _span_ok(s, int(batch.lengths[i]), 0, len(buf)):
            raise ValueError(f"frame {i} lies outside the batch buffer")
        e = s + int(batch.lengths[i])
        ns, ne, fields = scan(buf, s, e)
        name_o[i] = ns
        name_l[i] = ne - ns
        index[i] = len(ff)
        for a, b, c, d in fields:
            ff.append(i)
            ko.append(a)
            kl.append(-1 if a < 0 else b - a)
            vo.append(c)
            vl.append(d - c)
    index[n] = len(ff)
    arr = lambda x: np.array(x, dtype=np.int64)  # noqa: E731
    return TokenBatch(batch, charset, name_o, name_l, index, arr(ff), arr(ko), arr(kl), arr(vo), arr(vl))


def build_events(buffer, starts, ends, keys, stamps, labels: dict, builders: dict, other) -> list:
    """One object per body ``buffer[starts[i]:ends[i]]`` (``starts``, ``ends``, ``keys``: int64
    columns; ``stamps``: a list of floats, used as they are), in order, built as a live client builds an event:

    * ``(label, charset) = labels[keys[i]]`` (``KeyError(keys[i])`` when it is missing);
    * the body tokenized as ``tokenize(body, charset=charset)`` does (a lazy message);
    * its text: ASCII, else decoded with ``charset``, undecodable bytes replaced;
    * ``values = (text, label, stamps[i])``; the object is ``builders[msg.name].build(msg, values)``
      (a :class:`lgucore.fields.Builder`) when ``builders`` has the name, else
      ``other(msg, values, keys[i])``, called in order.

    A span outside ``buffer`` or columns of different lengths raise ``ValueError`` (the objects
    built before are dropped). The compiled twin makes it in one pass: no Python step per frame
    but the builder's (or ``other``'s) call.
    """
    from ._tokens_py import tokenize

    n = len(starts)
    if type(stamps) is not list:
        raise TypeError(f"stamps must be a list, not {type(stamps).__name__}")
    if len(ends) != n or len(keys) != n or len(stamps) != n:
        raise ValueError("build_events columns differ in length")
    buf = memoryview(buffer).cast("B")
    out: list = []
    append = out.append
    for i, (a, b, key, ts) in enumerate(zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(),
                                            np.asarray(keys).tolist(), stamps)):
        if not 0 <= a <= b <= len(buf):
            raise ValueError(f"body {i} ({a}:{b}) lies outside the buffer")
        label, charset = labels[key]
        raw = bytes(buf[a:b])
        msg = tokenize(raw, charset=charset)
        text = raw.decode("ascii") if raw.isascii() else raw.decode(charset, "replace")
        values = (text, label, ts)
        builder = builders.get(msg.name)
        append(builder.build(msg, values) if builder is not None else other(msg, values, key))
    return out
