"""Sink records and idempotency keys are pinned byte for byte: files and databases written by
an earlier version dedupe with ones written now (``tests/data/sink_pins.json`` was written by
the code before the records were made cheap, and is never regenerated to make a test pass)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgucore import tokenize
from lguapi import events as E
from lguapi.calls import Call
from lguapi.sinks import _digest, _dumps, call_json, call_key, event_json, event_key

PINS = Path(__file__).parent / "data" / "sink_pins.json"

BODIES = [
    b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-09b4afc0|RECHANNEL:SIP/gw2-09b25a90|INEXTEN:null|AGENT:3001"
    b"|CALLERID:01012345678|UNIQUEID:1.5",
    b"RINGEVENT|ISDIAL:1|CHANNEL:SIP/3001-1|ISDIAL:0|UNIQUEID:2.5|ATXFER:",
    b"CHANNELLIST|CHANNEL1:SIP/a-1|CHANNEL2:SIP/b-2|CALLER1ID:010|CALLER2ID:3001|INEXTEN:|UNIQUEID1:1.1|UNIQUEID2:1.2",
    b"CHANNELOUT|CHANNEL:SIP/a-1|RECHANNEL:SIP/b-2|UNIQUEID:1.1|SRCUNIQUEID:1.0|HCAUSE:16",
    # beyond 64 bits: no number since lgucore's field_int (4bc3e86), so this one pinned record was
    # edited by hand to say null there (its key, all that dedupes records, is the one pinned before)
    b"CHANNELOUT|CHANNEL:SIP/a-1|UNIQUEID:1.1|HCAUSE:99999999999999999999999",
    b"CHANNELOUT|CHANNEL:SIP/a-1|UNIQUEID:1.1|HCAUSE:-3",
    b"CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN|3457:OK:NOT|RES:OK",
    b"CMDRESULTEND|CMD:GETPEERINFO",
    "RECVSMS FROM:01011112222 MESSAGE: 안녕 하세요 SMSTO:07012345678".encode("cp949"),
    b"RECVPEERMSG|FROM:3002|MSG:line one@@line \"two\"\\",
    b"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:7001|CHANNEL:SIP/a-1|COUNT:2|MEMBER:3001",
    b"CDREVENT|CHANNEL:SIP/a-1|UNIQUEID:1.1|SRC:010|DST:3001|DISPOSITION:ANSWERED|DURATION:65|BILLSEC:60",
    b"DTMFEVENT|CHANNEL:SIP/a-1|UNIQUEID:1.1|DIGIT:#",
    b"LOGINRESULT|STATUS:1|EXTEN:3001|CALLERID:070|DOMAIN:d|MSG:3001,ok",
    b"CMDERROR|CMD:HOLD|MSG:no channel",
    b"WHATEVER|X:1|2|Y:\x01\x1f",
    b"PING",
    b"BYE|REASON:duplicate login",
]


def _login_result() -> E.LoginResultEvent:
    ev = E.parse_event(tokenize(b"LOGINRESULT|STATUS:1|EXTEN:3001"), ts=1.5)
    assert isinstance(ev, E.LoginResultEvent)
    return ev


def _events() -> list[tuple[str, E.Event]]:
    out = []
    for i, body in enumerate(BODIES):
        text = body.decode("cp949")
        out.append((f"wire{i}", E.parse_event(tokenize(body), exten="3001", ts=1700000000.123456 + i, raw=text)))
    ring = E.parse_event(tokenize(BODIES[0]), exten=None, ts=1e17, raw=BODIES[0].decode())
    out += [
        ("no-exten-huge-ts", ring),
        ("ring-init", E.RingEvent(is_dial=True, channel="SIP/1-1", unique_id="9.9", raw="RINGEVENT|x", exten="1", ts=2.0)),
        ("ring-no-raw", E.RingEvent(channel="SIP/1-1", exten="1", ts=2.5)),
        ("ping-init", E.PingEvent(name="PING", raw="PING", exten="3321", ts=1.0)),
        ("connected", E.Connected(address="127.0.0.1:8086", exten="3001", ts=1.0)),
        ("logged-in", E.LoggedIn(address="a", result=_login_result(), ts=2.0)),
        ("disconnected", E.Disconnected(address="a", deliberate=True, reason="bye", ts=3.0)),
        ("reconnecting", E.Reconnecting(address="a", attempt=2, ts=3.5)),
        ("reconnected", E.Reconnected(address="a", downtime=0.25, ts=3.75)),
        ("reconciled", E.Reconciled(address="a", statuses=(("3001", "Up", "Dial"), ("3002", None, None)), ts=4.0)),
        ("surrogate", E.UnknownEvent(name="X", raw="X|\ud800", fields=(("K", "\ud800"),), ts=5.0)),
        ("controls", E.UnknownEvent(name="Y", raw="Y|\x00\x7f\u2028", fields=((None, "\t\n"),), exten="é", ts=-0.0)),
    ]
    return out


def _call(cid: str, ring_at: float, **fields) -> Call:
    keys = fields.pop("keys", {})
    extens = fields.pop("extens", ())
    handled = fields.pop("handled", ())
    call = Call(cid, ring_at, **fields)
    call.bind(extens, handled, keys, ())
    return call


def _calls() -> list[tuple[str, Call]]:
    return [
        ("answered", _call("1700000000.1", 1700000000.25, direction="inbound", state="ended",
                           remote_number="01012345678", dialled_number="07012343001", answered_by="3001",
                           caller="01012345678", callee="3001", hangup_cause=16, end_reason="hangup",
                           answer_at=1700000003.5, end_at=1700000065.125, extens=("3001",), handled=("3001", "3002"),
                           keys={"SIP/3001-b": 2, "SIP/gw-a": 1, "1700000000.1": 0, "SIP/3001-a": 2,
                                 "1700000000.3": 0, "SIP/x-gone": 3})),
        ("missed", _call("1.5", 10.0, direction="inbound", state="ended", remote_number="010", end_at=25.0,
                         end_reason="hangup", missed=True, extens=("3001", "3002"), keys={"1.5": 0})),
        ("abandoned-room", _call("2.5", 0.1, state="ended", end_at=0.30000000000000004, abandoned=True, room="7001",
                                 continued_from="2.4", end_reason="cancel", keys={})),
        ("huge-times", _call("3.5", 1e16, state="ended", answer_at=2e16, end_at=3.5e17, end_reason="hangup")),
        ("non-ascii", _call("4.5", 5.0, state="ended", end_at=5.0, remote_number="홍길동", caller="\"q\"\\",
                            end_reason="hangup", keys={"SIP/é-1": 1})),
        ("big-cause", _call("5.5", 6.0, state="ended", end_at=7.0, hangup_cause=2**70, end_reason="hangup")),
    ]


def _records() -> dict[str, list[str]]:
    out = {}
    for name, ev in _events():
        key = event_key(ev)
        out["event:" + name] = [key, event_json(key, ev).decode("utf-8", "surrogatepass")]
    for name, call in _calls():
        key = call_key(call)
        out["call:" + name] = [key, call_json(key, call).decode("utf-8", "surrogatepass")]
    return out


@pytest.fixture(scope="module")
def pins() -> dict[str, list[str]]:
    return json.loads(PINS.read_text("utf-8"))


@pytest.mark.parametrize("case", [f"event:{n}" for n, _ in _events()] + [f"call:{n}" for n, _ in _calls()])
def test_key_and_record_are_byte_identical_to_the_pinned_ones(pins, case):
    assert _records()[case] == pins[case]


def test_every_pinned_case_is_still_built(pins):
    assert sorted(_records()) == sorted(pins)


if __name__ == "__main__":  # writes the pins: only ever from the code the pins describe
    PINS.write_text(json.dumps(_records(), ensure_ascii=True, indent=1) + "\n", "utf-8")


@pytest.mark.parametrize("name, call", _calls(), ids=[n for n, _ in _calls()])
def test_call_views_agree(name, call):
    """to_dict's keys are CALL_FIELDS in order and its values are to_tuple's (lists or tuples);
    a call rebuilt from its dict (the cluster stream's) writes the same record."""
    from lguapi.calls.model import CALL_FIELDS
    from lguapi.cluster.stream import CallRecord

    d = call.to_dict()
    assert tuple(d) == CALL_FIELDS
    def seq_as_tuple(vs):
        return tuple(tuple(v) if isinstance(v, list) else v for v in vs)

    assert seq_as_tuple(d.values()) == seq_as_tuple(call.to_tuple())
    assert (call.channels, call.unique_ids) == (tuple(d["channels"]), tuple(d["unique_ids"]))
    assert (call.ring_seconds, call.talk_seconds) == (d["ring_seconds"], d["talk_seconds"])
    assert call_json("k" * 24, CallRecord(d)) == call_json("k" * 24, call)


_floats = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0,
                                                   1700000000.123456, 1e-5]))
_plain = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), _floats,
                   st.text(max_size=6), st.sampled_from(["\ud800", "\x00\x1f\x7f\u2028", "\"\\/"]))
_values = st.recursive(_plain, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(_values, min_size=1, max_size=4), _floats, st.one_of(st.none(), st.text(max_size=4)))
def test_keys_of_id_less_events_are_the_json_dumps_keys(values, ts, exten):
    """An event without ids in its text is keyed by the digest of json.dumps(to_dict()); the fast
    path (msgspec) must give that very digest for any value it takes, and leave the rest alone."""
    ev = E.UnknownEvent(name="X", raw="X|1", fields=tuple(("K", v) for v in values), exten=exten, ts=ts)
    for e in (ev, E.PingEvent(name="PING", raw="PING", exten=exten, ts=ts), E.Reconnected(downtime=ts, ts=1.0)):
        assert event_key(e) == _digest(_dumps(e.to_dict()))


async def test_the_jsonl_batch_path_writes_the_pinned_records(tmp_path):
    """JsonlSink.write_batch builds the records of wire events with ids in line (the monitor's
    bulk): every event, wire or not, must come out exactly as event_key/event_json make it."""
    from lguapi.sinks import JsonlSink

    evs = [ev for _, ev in _events()]
    evs += [ev for _, ev in _events()]  # the same events again: each key is written once
    expected, seen = [], set()
    for ev in evs:
        key = event_key(ev)
        if key not in seen:
            seen.add(key)
            expected.append(event_json(key, ev))
    sink = JsonlSink(tmp_path / "batch.jsonl", batch=10_000)
    assert sink.write_batch([("event", ev) for ev in evs]) == []
    await sink.close()
    written = (tmp_path / "batch.jsonl").read_bytes().split(b"\n")
    assert written[-1] == b"" and written[:-1] == expected
    assert sink.stats["duplicates"] == len(evs) - len(expected)
