"""Columnar batch decoding on both twins: columns, consumed, lifetime, messages, differential."""
from __future__ import annotations

import array
import gc
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgucore import batch as _batch
from lgucore import frames as _frames
from lgucore.errors import FrameError

PY = _batch.py
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAME_COLUMNS = {"types": np.uint16, "offsets": np.int64, "lengths": np.int64}
TOKEN_COLUMNS = ("name_offsets", "name_lengths", "field_index", "field_frame",
                 "key_offsets", "key_lengths", "value_offsets", "value_lengths")


def enc(t, body, order="big"):
    return _frames.py.encode_frame(t, body, byteorder=order)


@pytest.mark.parametrize("order", ["big", "little"])
def test_frame_columns_and_consumed(impl, order):
    bodies = [b"A|K:1", b"", b"PING", b"x" * 300]
    buf = b"".join(enc(t, b, order) for t, b in zip((1, 0x10, 0x99, 3), bodies)) + enc(1, b"partial", order)[:6]
    fb = impl.decode_batch(buf, byteorder=order)
    assert len(fb) == 4
    for name, dtype in FRAME_COLUMNS.items():
        assert getattr(fb, name).dtype == dtype
    assert fb.types.tolist() == [1, 0x10, 0x99, 3]
    assert fb.lengths.tolist() == [5, 0, 4, 300]
    assert fb.offsets.tolist() == [4, 13, 17, 25]
    assert fb.consumed == len(buf) - 6
    assert [bytes(fb.body(i)) for i in range(4)] == bodies
    assert fb.frame(2) == (0x99, b"PING") and fb.frames()[0] == (1, b"A|K:1")
    assert bytes(fb.body(-1)) == bodies[-1]
    assert repr(fb) == f"<FrameBatch frames=4 consumed={fb.consumed}>"


def test_empty_and_tiny_buffers(impl):
    for buf in (b"", b"\x00", b"\x00\x01\x00"):
        fb = impl.decode_batch(buf)
        assert len(fb) == 0 and fb.consumed == 0
        tb = impl.tokenize_batch(fb)
        assert len(tb) == 0 and tb.nfields == 0 and tb.messages() == [] and tb.field_index.tolist() == [0]


def test_over_max_body(impl):
    buf = enc(1, b"ok") + enc(1, bytes(200)) + enc(1, b"later")
    with pytest.raises(FrameError, match="200-byte body") as ei:
        impl.decode_batch(buf, max_body=100)
    assert ei.value.offset == 6 and ei.value.excerpt == buf[6:22]
    fb = impl.decode_batch(buf[: ei.value.offset], max_body=100)   # the frames before it are whole
    assert fb.frames() == [(1, b"ok")]
    with pytest.raises(ValueError, match="byteorder"):
        impl.decode_batch(buf, byteorder="pdp")


def test_token_columns(impl):
    bodies = [b"CMDRESULT|CMD:HOLD|RES:OK", b"CMD|HANGUP|SIP/1-2", b"RECVSMS FROM:1 MESSAGE: a b", b"PING", b""]
    buf = b"".join(enc(1, b) for b in bodies)
    fb = impl.decode_batch(buf)
    tb = impl.tokenize_batch(fb)
    for name in TOKEN_COLUMNS:
        assert getattr(tb, name).dtype == np.int64, name
    assert tb.frames is fb and tb.charset == "cp949" and len(tb) == 5 and tb.nfields == 6
    assert tb.field_index.tolist() == [0, 2, 4, 6, 6, 6]
    assert tb.field_frame.tolist() == [0, 0, 1, 1, 2, 2]
    text = bytes(fb.buffer)

    def span(o, n):
        return text[o : o + n]

    assert [span(o, n) for o, n in zip(tb.name_offsets, tb.name_lengths)] == [b"CMDRESULT", b"CMD", b"RECVSMS", b"PING", b""]
    keys = [None if n < 0 else span(o, n) for o, n in zip(tb.key_offsets, tb.key_lengths)]
    assert keys == [b"CMD", b"RES", None, None, b"FROM", b"MESSAGE"]
    assert tb.key_offsets[2] == -1 and tb.key_lengths[2] == -1
    values = [span(o, n) for o, n in zip(tb.value_offsets, tb.value_lengths)]
    assert values == [b"HOLD", b"OK", b"HANGUP", b"SIP/1-2", b"1", b"a b"]


@pytest.mark.parametrize("charset", ["cp949", "utf-8"])
def test_messages_equal_tokenize(impl, charset):
    texts = ["RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-09b4afc0|INEXTEN:null", "RECVPEERMSG FROM:3458 MSG:우리는 민족",
             "CMDRESULT|CMD:GETSTATUSPEERS|3456:Up:Dial(SIP/070@1.2.3.4|90|)", "E|K:\udcff"]
    bodies = [t.encode(charset, "surrogateescape") for t in texts] + [b"E|\xb0|\xff:\x80"]
    fb = impl.decode_batch(b"".join(enc(1, b) for b in bodies))
    tb = impl.tokenize_batch(fb, charset=charset)
    want = [impl.tokenize(b, charset=charset) for b in bodies]
    got = tb.messages()
    assert got == want and [m.raw for m in got] == bodies
    assert all(type(m) is impl.Message for m in got)
    assert tb.message(1) == want[1] and tb.message(-1) == want[-1] and tb.message(-1).raw == bodies[-1]
    with pytest.raises(IndexError):
        tb.message(len(bodies))
    with pytest.raises(IndexError):
        tb.message(-len(bodies) - 1)
    with pytest.raises(ValueError, match="unknown charset"):
        impl.tokenize_batch(fb, charset="nope")


def test_lifetime_rules(impl):
    buf = bytearray(enc(1, b"A|K:1") + enc(1, b"B|K:2"))
    fb = impl.decode_batch(buf)
    assert fb.buffer.readonly and fb.buffer.format == "B" and fb.buffer.obj is buf
    with pytest.raises(BufferError):
        buf += b"more"            # pinned while the batch is alive
    tb = impl.tokenize_batch(fb)
    view = fb.body(0)
    del fb
    gc.collect()
    with pytest.raises(BufferError):
        buf.extend(b"x")          # the token batch keeps its frames (and the view) alive
    # writing in place makes the batch describe the new bytes: no body was copied
    buf[buf.index(b"K:1") + 2] = ord("9")
    assert bytes(view) == b"A|K:9"
    assert tb.message(0).get("K") == "9"
    del tb, view
    gc.collect()
    buf += b"more"                # released once every batch and view is gone
    assert buf.endswith(b"more")


def test_any_buffer_type(impl):
    raw = enc(1, b"A|K:1") + enc(2, b"xyz")
    ref = impl.decode_batch(raw).frames()
    arr = np.frombuffer(raw, dtype=np.uint8)
    for form in (bytearray(raw), memoryview(raw), arr, arr.reshape(1, -1), array.array("B", raw)):
        assert impl.decode_batch(form).frames() == ref
    if len(raw) % 2 == 0:
        assert impl.decode_batch(array.array("H", raw)).frames() == ref
    with pytest.raises(TypeError):
        impl.decode_batch(memoryview(raw + raw)[::2])
    with pytest.raises(TypeError):
        impl.decode_batch("text")


def test_megabytes_of_random_bytes(impl):
    data = os.urandom(4 << 20)
    try:
        fb = impl.decode_batch(data)
    except FrameError as exc:
        assert exc.offset is not None and 0 <= exc.offset < len(data)
    else:
        assert fb.consumed <= len(data)
        tb = impl.tokenize_batch(fb)
        assert len(tb.messages()) == len(fb)
    # the random bytes as bodies: tokenizing never fails
    bodies = [data[i : i + 1000] for i in range(0, 1 << 20, 1000)]
    fb = impl.decode_batch(b"".join(enc(1, b) for b in bodies))
    tb = impl.tokenize_batch(fb)
    assert [m.raw for m in tb.messages()] == bodies


# ---------------------------------------------------------------- differential

def outcome(mod, buf, **kw):
    try:
        fb = mod.decode_batch(buf, **kw)
    except FrameError as exc:
        return ("error", str(exc), exc.offset, exc.excerpt)
    tb = mod.tokenize_batch(fb, charset="cp949")
    return ("ok", fb.consumed, [getattr(fb, c).tolist() for c in FRAME_COLUMNS],
            [getattr(tb, c).tolist() for c in TOKEN_COLUMNS], tb.messages())


_ATOMS = [b"|", b":", b"(", b")", b" ", b"K", b"V1", b"\xb0\xa1", b"\xff", b"\x80"]
bodies_st = st.lists(st.lists(st.sampled_from(_ATOMS), max_size=40).map(b"".join), max_size=12)


@given(bodies=bodies_st, order=st.sampled_from(["big", "little"]), tail=st.binary(max_size=6))
@SETTINGS
def test_twins_agree_on_event_buffers(bodies, order, tail):
    c = _batch.c or PY
    buf = b"".join(enc(1, b, order) for b in bodies) + tail
    assert outcome(c, buf, byteorder=order) == outcome(PY, buf, byteorder=order)


@given(buf=st.binary(max_size=800), max_body=st.sampled_from([0, 10, 300, 65535]))
@SETTINGS
def test_twins_agree_on_arbitrary_bytes(buf, max_body):
    c = _batch.c or PY
    assert outcome(c, buf, max_body=max_body) == outcome(PY, buf, max_body=max_body)


def test_columns_changed_by_hand_never_read_outside_the_buffer(impl):
    buf = enc(1, b"A|K:1|L:22") + enc(1, b"B|M:3")
    tb = impl.tokenize_batch(impl.decode_batch(buf))
    for column, value in (("key_offsets", 1 << 40), ("value_lengths", 1 << 40), ("value_offsets", -5),
                          ("name_lengths", 1 << 30), ("field_index", 1 << 30)):
        arr = getattr(tb, column)
        saved = arr.copy()
        arr[0] = value
        try:
            msgs = tb.messages()   # the pure twin slices (and may return nonsense); never a crash
        except (ValueError, IndexError):
            pass
        else:
            assert len(msgs) == 2
        arr[:] = saved
    assert tb.messages()[1].get("M") == "3"
