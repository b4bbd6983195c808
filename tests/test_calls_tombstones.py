"""The tombstones' promise that lets a new call's id skip a look-up (Book.new_call, ``unseen``).

An ended call's id is remembered under ``"\\x00id:" + id`` and, in the same put, under the id
itself as a key. When ``start`` has just looked a new call's id up as a key and not found it,
the ``\\x00id:`` name cannot be there either, and ``new_call`` does not look. That holds only if
every generation of the tombstone memory that holds an ``\\x00id:`` name holds the plain id too:
checked here after every event of generated traffic (transfers, pickups, conferences, merges,
duplicates, late legs that continue ended calls), with a memory small enough to rotate often.
Runs on whichever twin is selected (the CI runs it on both).
"""
from __future__ import annotations

import pytest

from lgucore import tokenize
from lguapi.calls import CallTracker
from lguapi.events import parse_event

from kit.clock import Clock
from test_calls_random import GRACE, generate

_ID = "\x00id:"


def _promise_kept(tracker: CallTracker) -> None:
    for gen in tracker._book.tomb.generations():
        for key in gen:
            if key.startswith(_ID):
                assert key[len(_ID):] in gen, f"{key[len(_ID):]!r} remembered by name only"


@pytest.mark.parametrize("seed, max_tombstones", [(3, 200_000), (41, 64), (97, 16)])
def test_an_ended_calls_id_is_remembered_with_its_name(seed, max_tombstones):
    _, stream = generate(seed, calls=200, window=60.0)
    clock = Clock(0.0)
    t = CallTracker(clock=clock, end_grace=GRACE, max_tombstones=max_tombstones)
    for d, exten, text in stream:
        clock.t = d
        t.feed(parse_event(tokenize(text.encode()), exten=exten, ts=d))
        _promise_kept(t)
    clock.t += 60.0
    t.expire()
    t.flush()
    _promise_kept(t)
    ids = [c.id for c in t.ended]
    assert len(ids) == len(set(ids)) and t.stats["merged"] > 0  # merged calls' ids are no keys of theirs


def test_an_id_without_a_key_of_its_own_is_remembered_under_it():
    """A call made with no unique id at all (``call-<n>``) has no key named as its id: the
    tombstones get the name with the ended call's keys."""
    clock = Clock(1.0)
    t = CallTracker(clock=clock, end_grace=0.0)
    t.feed(parse_event(tokenize(b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-00000001|RECHANNEL:SIP/gw2.x-00000001"
                                b"|CALLERID:01012345678"), exten="3001", ts=1.0))
    (call,) = t.active.values()
    assert call.id.startswith("call-")
    t.feed(parse_event(tokenize(b"CHANNELOUT|CHANNEL:SIP/3001-00000001|RECHANNEL:SIP/gw2.x-00000001|HCAUSE:16"),
                       exten="3001", ts=2.0))
    assert t.ended[-1].id == call.id
    _promise_kept(t)
    assert call.id in t._book.tomb.generations()[0]


def _feed(t: CallTracker, clock: Clock, ts: float, exten: str, text: str) -> list:
    clock.t = ts
    return t.feed(parse_event(tokenize(text.encode()), exten=exten, ts=ts))


def test_late_legs_continue_an_ended_call_under_numbered_ids():
    """docs/calls.md, rule 14 and the ``id`` field: a leg that joins after the end was
    confirmed is a call of its own, ``N#2`` (then ``N#3``), continued from the call that had
    ``N`` last; the same leg again is a stale duplicate."""
    clock = Clock(0.0)
    t = CallTracker(clock=clock, end_grace=0.0)
    n = "1319339116.486"
    _feed(t, clock, 1.0, "3321", f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-0000000a|RECHANNEL:SIP/gw2.eicn-0000000b"
                                 f"|CALLERID:01012345678|UNIQUEID:{n}")
    _feed(t, clock, 2.0, "3321", f"CHANNELOUT|CHANNEL:SIP/3321-0000000a|RECHANNEL:SIP/gw2.eicn-0000000b"
                                 f"|UNIQUEID:{n}|SRCUNIQUEID:{n}|HCAUSE:16")
    assert [c.id for c in t.ended] == [n]
    for k, (ts, chan, before) in enumerate([(5.0, "SIP/3322-0000000c", n), (9.0, "SIP/3323-0000000d", f"{n}#2")],
                                           start=2):
        exten = chan[4:8]
        ups = _feed(t, clock, ts, exten, f"CHANNELLIST|CHANNEL1:SIP/gw2.eicn-0000000b|CHANNEL2:{chan}"
                                         f"|CALLER1ID:01012345678|CALLER2ID:{exten}|UNIQUEID1:{n}"
                                         f"|UNIQUEID2:{n}{k}")
        # continued from the latest ended call that had the id
        assert [(u.kind, u.call.id, u.call.continued_from) for u in ups] == [("new", f"{n}#{k}", before)]
        _feed(t, clock, ts + 1, exten, f"CHANNELOUT|CHANNEL:{chan}|RECHANNEL:SIP/gw2.eicn-0000000b"
                                       f"|UNIQUEID:{n}{k}|SRCUNIQUEID:{n}|HCAUSE:16")
    assert [c.id for c in t.ended] == [n, f"{n}#2", f"{n}#3"]
    stale = t.stats["stale"]
    assert _feed(t, clock, 20.0, "3323", f"CHANNELOUT|CHANNEL:SIP/3323-0000000d|RECHANNEL:SIP/gw2.eicn-0000000b"
                                         f"|UNIQUEID:{n}3|SRCUNIQUEID:{n}|HCAUSE:16") == []
    assert t.stats["stale"] == stale + 1
    _promise_kept(t)
