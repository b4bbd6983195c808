"""Frames (docs/protocol.md §2) on both twins: encoding, incremental decoding, limits, bad streams."""
from __future__ import annotations

import array
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lgucore
from lgucore import frames as _frames
from lgucore.errors import FrameError, ProtocolError

PY = _frames.py
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

frame_lists = st.lists(
    st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=300)),
    max_size=12,
)
orders = st.sampled_from(["big", "little"])


def cut(data: bytes, points) -> list:
    points = sorted({p % (len(data) + 1) for p in points})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def feed_all(dec, pieces) -> list:
    out = []
    for p in pieces:
        out += dec.feed(p)
    return out


# ---------------------------------------------------------------- encoding

def test_encode_layout(impl):
    assert impl.encode_frame(lgucore.TEXT, b"PING") == b"\x00\x01\x00\x04PING"
    assert impl.encode_frame(lgucore.TEXT, b"PING", byteorder="little") == b"\x01\x00\x04\x00PING"
    assert impl.encode_frame(0x1234, b"") == b"\x12\x34\x00\x00"
    assert impl.encode_frame(lgucore.HEARTBEAT_ACK, bytearray(b"ab")) == b"\x00\x11\x00\x02ab"
    assert impl.encode_frame(1, memoryview(b"abcdef")[::2]) == b"\x00\x01\x00\x03ace"
    assert impl.encode_frame(1, array.array("H", [0x0102])) == b"\x00\x01\x00\x02" + array.array("H", [0x0102]).tobytes()


def test_encode_limits(impl):
    assert len(impl.encode_frame(1, bytes(65535))) == 65539
    with pytest.raises(FrameError, match="65535"):
        impl.encode_frame(1, bytes(65536))
    for bad in (-1, 0x10000):
        with pytest.raises(FrameError, match="16 bits"):
            impl.encode_frame(bad, b"")
    with pytest.raises(TypeError):
        impl.encode_frame(1.5, b"")
    with pytest.raises(TypeError):
        impl.encode_frame(1, "text")
    with pytest.raises(ValueError, match="byteorder"):
        impl.encode_frame(1, b"", byteorder="middle")
    assert issubclass(FrameError, ProtocolError) and issubclass(ProtocolError, ValueError)


@given(frames=frame_lists, order=orders)
@SETTINGS
def test_round_trip(frames, order):
    for mod in (PY, _frames.c or PY):
        data = b"".join(mod.encode_frame(t, b, byteorder=order) for t, b in frames)
        dec = mod.FrameDecoder(byteorder=order)
        got = dec.feed(data)
        dec.eof()
        assert [(f.type, f.body) for f in got] == frames
        assert dec.pending == 0 and dec.offset == len(data)


@given(frames=frame_lists, order=orders, points=st.lists(st.integers(0, 1 << 16), max_size=20))
@SETTINGS
def test_any_chunking_gives_the_same_frames(frames, order, points):
    for mod in (PY, _frames.c or PY):
        data = b"".join(mod.encode_frame(t, b, byteorder=order) for t, b in frames)
        whole = mod.FrameDecoder(byteorder=order).feed(data)
        one = mod.FrameDecoder(byteorder=order)
        assert feed_all(one, [data[i : i + 1] for i in range(len(data))]) == whole
        pieces = mod.FrameDecoder(byteorder=order)
        assert feed_all(pieces, cut(data, points)) == whole
        pieces.eof()
        one.eof()


# ---------------------------------------------------------------- decoding

def test_frames_are_frame_tuples(impl):
    dec = impl.FrameDecoder()
    (f,) = dec.feed(impl.encode_frame(lgucore.HEARTBEAT, b"tok"))
    assert type(f) is lgucore.Frame
    assert f == (0x10, b"tok") and f.type == 0x10 and f.body == b"tok" and type(f.body) is bytes
    assert f.known and f.type_name == "HEARTBEAT"


def test_unknown_type_is_reported_not_dropped(impl):
    data = impl.encode_frame(0x99, b"?") + impl.encode_frame(1, b"PING")
    got = impl.FrameDecoder().feed(data)
    assert [f.type for f in got] == [0x99, 1]
    assert not got[0].known and got[0].type_name == "UNKNOWN(0x0099)"


def test_pending_and_offset(impl):
    data = impl.encode_frame(1, b"hello") + impl.encode_frame(2, b"world")
    dec = impl.FrameDecoder()
    assert dec.feed(data[:3]) == [] and dec.pending == 3 and dec.offset == 0
    assert [f.body for f in dec.feed(data[3:12])] == [b"hello"]
    assert dec.pending == 3 and dec.offset == 9
    assert [f.body for f in dec.feed(data[12:])] == [b"world"]
    assert dec.pending == 0 and dec.offset == len(data)
    dec.eof()


def test_a_largest_frame_fed_one_byte_at_a_time(impl):
    body = bytes(range(256)) * 255 + bytes(range(255))
    data = impl.encode_frame(1, body) + impl.encode_frame(1, b"tail")
    dec = impl.FrameDecoder()
    out = []
    for i in range(len(data)):
        out += dec.feed(data[i : i + 1])
        assert dec.pending <= 4 + 65535
    assert [f.body for f in out] == [body, b"tail"]


def test_any_bytes_like_input(impl):
    data = impl.encode_frame(1, b"abcd")
    for form in (bytearray(data), memoryview(data), array.array("B", data)):
        assert impl.FrameDecoder().feed(form) == [(1, b"abcd")]
    with pytest.raises(TypeError):
        impl.FrameDecoder().feed("text")
    with pytest.raises(TypeError):
        impl.FrameDecoder().feed(memoryview(data + data)[::2])


def test_truncated_stream_is_an_error_at_eof(impl):
    data = impl.encode_frame(1, b"hello")
    for n, msg in ((2, "header"), (6, "inside a frame")):
        dec = impl.FrameDecoder()
        dec.feed(b"\x00\x01\x00\x00" + data[:n])
        with pytest.raises(FrameError, match=msg) as ei:
            dec.eof()
        assert ei.value.offset == 4 and ei.value.excerpt == data[:n]
        with pytest.raises(FrameError, match="closed"):
            dec.feed(b"")
    dec = impl.FrameDecoder()
    dec.feed(data)
    dec.eof()  # nothing pending: fine


@pytest.mark.parametrize("order", ["big", "little"])
def test_length_over_max_body(impl, order):
    good = impl.encode_frame(1, b"ok", byteorder=order)
    bad = impl.encode_frame(1, bytes(101), byteorder=order)
    dec = impl.FrameDecoder(byteorder=order, max_body=100)
    assert dec.feed(good[:3]) == []
    with pytest.raises(FrameError, match="101-byte body, over the 100-byte limit") as ei:
        dec.feed(good[3:] + good + bad + good)
    err = ei.value
    assert err.offset == 2 * len(good)
    assert err.excerpt == (bad + good)[:16]
    assert [f.body for f in err.frames] == [b"ok", b"ok"]   # nothing that arrived whole is lost
    assert dec.offset == 2 * len(good) and dec.pending == len(bad + good)
    with pytest.raises(FrameError, match="closed after an earlier error"):
        dec.feed(good)
    dec.eof()  # the error was already reported


def test_header_over_the_limit_split_across_feeds(impl):
    dec = impl.FrameDecoder(max_body=10)
    dec.feed(b"\x00\x01")
    with pytest.raises(FrameError) as ei:
        dec.feed(b"\x00\x0b" + bytes(11))
    assert ei.value.offset == 0 and ei.value.frames == [] and ei.value.excerpt == b"\x00\x01\x00\x0b" + bytes(11)


def test_decoder_settings_are_checked(impl):
    with pytest.raises(ValueError, match="byteorder"):
        impl.FrameDecoder(byteorder="network")
    with pytest.raises(ValueError, match="max_body"):
        impl.FrameDecoder(max_body=70000)
    with pytest.raises(ValueError, match="max_buffer"):
        impl.FrameDecoder(max_body=100, max_buffer=103)
    impl.FrameDecoder(max_body=100, max_buffer=104)
    with pytest.raises(TypeError):
        impl.FrameDecoder("big")


def test_megabytes_of_random_bytes(impl):
    rnd = random.Random(2024)
    data = os.urandom(4 << 20)
    for max_body in (65535, 300):
        dec = impl.FrameDecoder(max_body=max_body)
        pos = 0
        total = 0
        try:
            while pos < len(data):
                n = rnd.choice((1, 7, 4096, 65536, 1 << 20))
                total += sum(4 + len(f.body) for f in dec.feed(data[pos : pos + n]))
                pos += n
            with pytest.raises(FrameError):
                dec.eof()   # random bytes end inside a frame unless by luck
        except FrameError as exc:
            total += sum(4 + len(f.body) for f in exc.frames)
            assert exc.offset == total and exc.offset == dec.offset
        assert dec.offset == total


# ---------------------------------------------------------------- differential

def run_decoder(mod, pieces, **kw):
    dec = mod.FrameDecoder(**kw)
    out = []
    try:
        for p in pieces:
            out.append(dec.feed(p))
        dec.eof()
        return ("ok", out, dec.pending, dec.offset)
    except FrameError as exc:
        return ("error", out, str(exc), exc.offset, exc.excerpt, exc.frames, dec.pending, dec.offset)


@given(data=st.one_of(st.binary(max_size=600),
                      frame_lists.map(lambda fs: b"".join(PY.encode_frame(t, b) for t, b in fs))),
       points=st.lists(st.integers(0, 1 << 12), max_size=8),
       order=orders, max_body=st.sampled_from([0, 5, 100, 65535]))
@SETTINGS
def test_twins_agree_on_arbitrary_streams(data, points, order, max_body):
    c = _frames.c or PY
    pieces = cut(data, points)
    assert run_decoder(c, pieces, byteorder=order, max_body=max_body) == \
        run_decoder(PY, pieces, byteorder=order, max_body=max_body)
