"""The call tracker on scrambled event sequences (tests/kit/scrambled.py): both twins make the
same calls, every call keeps the rules of a call whatever the events say (``scrambled.Rules``),
and a batch fed at its events' own times makes what one event at a time makes.

The sequences mix well-formed and nonsensical events over small pools of names, so that calls
merge, conferences meet, memories rotate and clocks jump.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys

import pytest

from lguapi.calls import CallTracker

from kit import scrambled
from kit.text import ev

from test_calls_twin import ROOT, SRC, _env

#: cases per twin in the comparison (~1 s compiled, ~2 s pure), in the rules' check and in the batches'
TWIN_CASES = 1500
RULE_CASES = 1500
BATCH_CASES = 600

_DIGESTS = r"""
import json, logging, sys
logging.disable(logging.WARNING)
sys.path.insert(0, sys.argv[1])
from kit import scrambled
from lguapi.calls import _twin
print(json.dumps({"compiled": _twin.COMPILED, "digests": scrambled.run_cases(int(sys.argv[2]), int(sys.argv[3]))}))
"""


def _digests(seed: int, count: int, **env: str) -> dict:
    r = subprocess.run([sys.executable, "-c", _DIGESTS, str(ROOT / "tests"), str(seed), str(count)],
                       capture_output=True, text=True, timeout=300, env=_env(PYTHONPATH=str(SRC), **env), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_both_twins_make_the_same_calls_of_scrambled_events():
    pure = _digests(11, TWIN_CASES, LGUCORE_NO_EXTENSIONS="1")
    default = _digests(11, TWIN_CASES)
    assert pure["compiled"] is False
    assert default["compiled"] is (importlib.util.find_spec("lguapi.calls._c.core") is not None)
    differ = [k for k, (a, b) in enumerate(zip(pure["digests"], default["digests"])) if a != b]
    assert len(pure["digests"]) == len(default["digests"]) == TWIN_CASES
    # a case that differs is replayed by scrambled.run_case(11, k) in each twin
    assert not differ, f"the twins differ on cases {differ[:10]} of seed 11"


def test_scrambled_events_never_break_the_rules_of_a_call(caplog):
    caplog.set_level(logging.ERROR, "lguapi.calls")  # (the refused events' warnings)
    failures = {}
    for k in range(RULE_CASES):
        broken = scrambled.broken_rules(*scrambled.case_events(5, k))
        if broken:
            failures[k] = broken[:3]
    # a failing case is replayed by scrambled.broken_rules(*scrambled.case_events(5, k))
    assert not failures, dict(list(failures.items())[:5])


def _made(tracker: CallTracker, updates: list) -> list:
    return [(u.kind, u.state, u.call.to_dict()) for u in updates + tracker.flush()] + [tracker.stats]


def test_scrambled_events_in_batches_at_their_own_times_make_what_one_at_a_time_makes(caplog):
    # feed_recorded (replay) takes each event's ts as the time; feed, one at a time, the clock
    caplog.set_level(logging.ERROR, "lguapi.calls")
    for k in range(BATCH_CASES):
        options, events = scrambled.case_events(9, k)
        now = [events[0].ts]
        one = CallTracker(clock=lambda: now[0], **options)
        updates = []
        for ev in events:
            now[0] = ev.ts
            updates += one.feed(ev)
        now[0] = events[0].ts  # (a tracker reads its clock once, when made: the same start for both)
        batched = CallTracker(clock=lambda: now[0], **options)
        size = (1, 3, 8, 64)[k % 4]
        again = [u for i in range(0, len(events), size) for u in batched.feed_recorded(events[i:i + size])]
        assert _made(batched, again) == _made(one, updates), k


def _events(exten: str, lines: list[tuple[float, str]]) -> list:
    return [ev(text, exten, ts) for ts, text in lines]


def test_a_room_of_a_merged_call_no_longer_reaches_it():
    # two calls in two rooms; a CHANNELLIST naming a channel of one and an id of the other
    # merges them; the next events of the absorbed call's room must not bring it back
    options = {"end_grace": 0.0, "tombstone_ttl": 20.0, "max_tombstones": 8}
    events = _events("3337", [
        (2695.1, "CONFERENCEEVENT|CMD:JOIN|CONFNAME:8002|CHANNEL:SIP/gw0.eicn-b70fcaa5|UNIQUEID:1700000936.43"
                 "|MEMBER:SIP/3337-3c678130"),
        (2758.1, "CONFERENCEEVENT|CMD:GETSTATUSPEERS|CONFNAME:8001|CHANNEL:SIP/3337-3c678130|UNIQUEID:1700000936.99"
                 "|COUNT:28|MEMBER:Local/3337@ctx-c85e;2"),
        (3161.2, "CHANNELLIST|CHANNEL1:SIP/3337-3c678130|CHANNEL2:|CALLER1ID:3337|INEXTEN:07012343300"
                 "|UNIQUEID1:1700000936.43|UNIQUEID2:null"),
        (3562.2, "CONFERENCEEVENT|CMD:HOLD|CONFNAME:8001|CHANNEL:Local/3337@ctx-c85e;2|UNIQUEID:|COUNT:2"),
        (3563.2, "CHANNELLIST|CHANNEL1:Local/3337@ctx-c85e;2|CHANNEL2:SIP/3337-3c678130|CALLER1ID:3337"
                 "|INEXTEN:0212345678|UNIQUEID1:1700000936.23|UNIQUEID2:1700000936.23"),
    ])
    assert scrambled.broken_rules(options, events) == []


@pytest.mark.parametrize("duration, billsec", [(0, 2), (None, 19), (5, -3), (1, 127)])
def test_a_cdr_with_odd_times_makes_a_call_answered_between_its_ring_and_end(duration, billsec):
    now = [1000.0]
    tracker = CallTracker(clock=lambda: now[0])
    out = "CHANNELOUT|CHANNEL:SIP/3315-00000001|RECHANNEL:SIP/3317-00000002|UNIQUEID:1700000006.8|HCAUSE:16"
    cdr = "CDREVENT|CHANNEL:SIP/3315-00000001|UNIQUEID:1700000006.8|SRC:3315|DST:3317|DISPOSITION:ANSWERED"
    cdr += "".join(f"|{k}:{v}" for k, v in (("DURATION", duration), ("BILLSEC", billsec)) if v is not None)
    updates = []
    for ev in _events("3315", [(1000.0, out), (1003.0, cdr)]):
        now[0] = ev.ts
        updates += tracker.feed(ev)
    (call,) = {u.call for u in updates if u.kind == "ended"}
    assert call.end_at == 1000.0 and call.ring_at <= call.answer_at <= call.end_at
    assert call.ring_seconds >= 0 and call.talk_seconds == call.end_at - call.answer_at
    # what the CDR says, where it makes sense: the talk time, and a call at least that long
    assert call.talk_seconds == max(0, billsec)
    assert call.end_at - call.ring_at == max(0, duration or 0, billsec)


def test_a_channellist_twice_changes_nothing_when_the_device_is_not_named_by_its_extension():
    # a call first seen by its CHANNELLIST, on a phone whose channel does not carry the
    # extension's number, bridged to an outside number: the far end answered (answered_by None).
    # The same CHANNELLIST again (a repeat after a reconnect) connects no leg: it names nobody.
    now = [1000.0]
    tracker = CallTracker(clock=lambda: now[0])
    text = ("CHANNELLIST|CHANNEL1:SIP/gw0.eicn-00000001|CHANNEL2:SIP/phone-a-00000002|CALLER1ID:0212345678"
            "|CALLER2ID:01012345678|UNIQUEID1:1700000000.1|UNIQUEID2:1700000000.2")
    (first, again) = _events("3321", [(1000.0, text), (1001.0, text)])
    (update,) = tracker.feed(first)
    assert update.kind == "new" and update.call.answered_by is None
    now[0] = again.ts
    assert tracker.feed(again) == []
    assert update.call.answered_by is None


def test_an_outbound_call_transferred_after_a_consultation_is_answered_by_the_target():
    # what a repeated CHANNELLIST must not do, the CHANNELLIST that completes an attended
    # transfer still does: 3321 dialled out (the far end answered: answered_by None), consulted
    # 3322 and handed the call over; 3322's leg, connected since the consultation, now has the
    # outside party, and 3322 is the first extension that answered the call
    texts = [
        ("3321", "RINGEVENT|ISDIAL:1|CHANNEL:SIP/3321-00000001|RECHANNEL:SIP/gw2.eicn-00000002|CALLERID:01012345678"
                 "|UNIQUEID:1700000100.1"),
        ("3321", "CHANNELLIST|CHANNEL1:SIP/3321-00000001|CHANNEL2:SIP/gw2.eicn-00000002|CALLER1ID:3321"
                 "|CALLER2ID:01012345678|UNIQUEID1:1700000100.1|UNIQUEID2:1700000100.2"),
        ("3321", "RINGEVENT|ISDIAL:1|CHANNEL:SIP/3321-00000003|RECHANNEL:SIP/3322-00000004|CALLERID:3322"
                 "|UNIQUEID:1700000100.3"),
        ("3322", "RINGEVENT|ISDIAL:0|CHANNEL:SIP/3322-00000004|RECHANNEL:SIP/3321-00000003|CALLERID:3321"
                 "|UNIQUEID:1700000100.4"),
        ("3322", "CHANNELLIST|CHANNEL1:SIP/3321-00000003|CHANNEL2:SIP/3322-00000004|CALLER1ID:3321|CALLER2ID:3322"
                 "|UNIQUEID1:1700000100.3|UNIQUEID2:1700000100.4"),
        ("3322", "CHANNELLIST|CHANNEL1:SIP/gw2.eicn-00000002|CHANNEL2:SIP/3322-00000004|CALLER1ID:01012345678"
                 "|CALLER2ID:3322|UNIQUEID1:1700000100.2|UNIQUEID2:1700000100.4"),
    ]
    now = [1000.0]
    tracker = CallTracker(clock=lambda: now[0], end_grace=2.0)
    for i, (exten, text) in enumerate(texts):
        (event,) = _events(exten, [(1000.0 + i, text)])
        now[0] = event.ts
        tracker.feed(event)
        if i == 1:
            assert tracker.active["1700000100.1"].answered_by is None
    (call,) = tracker.active.values()
    assert (call.id, call.direction, call.answered_by, call.handled_by) == ("1700000100.1", "outbound", "3322",
                                                                           ("3321", "3322"))
    assert tracker.feed(event) == []  # and the same CHANNELLIST again changes nothing
