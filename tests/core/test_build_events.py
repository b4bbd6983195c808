"""lgucore.batch.build_events on both twins: the same objects as tokenize + Builder (and as
lguapi's parse_event), in order, with clear errors on bad columns or a missing key."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lguapi import events as E
from lgucore import tokenize

BODIES = [
    b"EV|A:x|N:42|F:1",
    b"EV|A:|A:again|N:4x",                       # the first value wins, not a number
    "EV|A:\uac00\ub098|N:-7".encode("cp949"),    # not ASCII: decoded with the label's charset
    b"OTHER|K:v",                                # no builder: handed to other()
    b"",                                         # an empty body
    b"EV|A:bad \xff\xfe|F:0",                    # undecodable bytes: replaced
]
BASE = {"name": "EV", "a": None, "n": None, "f": None, "raw": "", "exten": None, "ts": None}
SPEC = {"A": ("a", 0), "N": ("n", 1), "F": ("f", 2)}
EXTRA = ("raw", "exten", "ts")


class _Plain:
    pass


def _columns(bodies, keys):
    """A buffer holding ``bodies`` between filler bytes, and the build_events columns over it."""
    buf, starts, ends = bytearray(b"\x00\x01"), [], []
    for body in bodies:
        starts.append(len(buf))
        buf += body
        ends.append(len(buf))
        buf += b"\xaa\x00"
    stamps = [i + 0.25 for i in range(len(bodies))]
    return (bytes(buf), np.array(starts, np.int64), np.array(ends, np.int64), np.array(keys, np.int64), stamps)


def _text(body: bytes, charset: str) -> str:
    return body.decode("ascii") if body.isascii() else body.decode(charset, "replace")


def test_same_objects_as_tokenize_and_builder(impl):
    keys = [1, 2, 2, 1, 2, 1]
    labels = {1: ("201", "cp949"), 2: (None, "utf-8")}
    buf, starts, ends, kcol, stamps = _columns(BODIES, keys)
    builder = impl.Builder(_Plain, BASE, SPEC, EXTRA)
    seen = []

    def other(msg, values, key):
        seen.append((msg.name, msg.fields, values, key))
        return ("other", key)

    out = impl.build_events(buf, starts, ends, kcol, stamps, labels, {"EV": builder}, other)
    assert len(out) == len(BODIES)
    expected_other = []
    for i, (body, key) in enumerate(zip(BODIES, keys)):
        label, charset = labels[key]
        values = (_text(body, charset), label, stamps[i])
        msg = impl.tokenize(body, charset=charset)
        if msg.name == "EV":
            want = builder.build(msg, values)
            assert type(out[i]) is _Plain
            assert list(vars(out[i]).items()) == list(vars(want).items())
        else:
            assert out[i] == ("other", key)
            expected_other.append((msg.name, msg.fields, values, key))
    assert seen == expected_other  # called in order, with the message, the values and the key


def test_a_buffer_of_any_contiguous_kind(impl):
    buf, starts, ends, keys, stamps = _columns([b"OTHER|X:1"], [5])
    for kind in (bytearray, memoryview):
        (out,) = impl.build_events(kind(buf), starts, ends, keys, stamps, {5: ("e", "cp949")}, {},
                                   lambda m, v, k: (m.get("X"), v))
        assert out == ("1", ("OTHER|X:1", "e", 0.25))


def test_errors(impl):
    buf, starts, ends, keys, stamps = _columns([b"EV|A:1", b"EV|A:2"], [1, 7])
    labels = {1: ("201", "cp949")}

    def call(**kw):
        cols = dict(starts=starts, ends=ends, keys=keys, stamps=stamps)
        cols.update(kw)
        return impl.build_events(buf, cols["starts"], cols["ends"], cols["keys"], cols["stamps"], labels, {},
                                 lambda m, v, k: k)

    with pytest.raises(KeyError) as err:
        call()
    assert err.value.args == (7,)
    with pytest.raises(ValueError, match="outside the buffer"):
        call(ends=np.array([ends[0], len(buf) + 1], np.int64), keys=np.array([1, 1], np.int64))
    with pytest.raises(ValueError, match="outside the buffer"):
        call(starts=np.array([ends[0] + 1, starts[1]], np.int64), keys=np.array([1, 1], np.int64))
    with pytest.raises(ValueError, match="differ in length"):
        call(stamps=stamps[:1])
    with pytest.raises(TypeError):
        call(stamps=np.array(stamps))
    assert call(keys=np.array([1, 1], np.int64)) == [1, 1]


WIRE = [
    "RINGEVENT|ISDIAL:0|INEXTEN:3001|PEERNUMBER:01012345678|CHANNEL:SIP/3001-1|UNIQUEID:1.1|CALLERID:x",
    "CHANNELOUTEVENT|CHANNEL:SIP/3001-1|UNIQUEID:1.1|CAUSE:16",
    "CDREVENT|CHANNEL:SIP/3321-1|UNIQUEID:1.2|SRC:3321|DST:010|DISPOSITION:ANSWERED|DURATION:12|BILLSEC:9",
    "LOGINRESULT|STATUS:0|EXTEN:3001|MSG:3001,ok",
    "CMDRESULT CMD:MONITOR ACT:STOP RES:OK",
    "NOSUCHEVENT|A:1",
    "PING",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(WIRE), min_size=1, max_size=12), st.sampled_from(["3001", None]))
def test_equals_parse_event(bodies, exten):
    """With lguapi's builders: every event equal (and of the same class) to parse_event's."""
    from lgucore import implementations

    raw = [b.encode("ascii") for b in bodies]
    buf, starts, ends, keys, stamps = _columns(raw, [9] * len(raw))
    builders = E.event_builders()

    def other(msg, values, key):
        text, label, ts = values
        return E.parse_event(msg, exten=label, ts=ts, raw=text)

    for twin in implementations().values():
        out = twin.build_events(buf, starts, ends, keys, stamps, {9: (exten, "cp949")}, builders, other)
        for ev, body, ts in zip(out, raw, stamps):
            want = E.parse_event(tokenize(body), exten=exten, ts=ts, raw=body.decode("ascii"))
            assert type(ev) is type(want) and ev == want
