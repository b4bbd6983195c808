"""Calls of many legs: a queue ringing hundreds of agents at once, or many monitored
extensions reporting one call. Past ``lguapi.calls.state.BIG`` legs a call keeps its legs by
extension and its members in sets, and every call keeps counts of its legs by status; these
tests hold those to what the legs say, and a big call to what a small one of the same shape
makes. (What they save is measured by ``bench/bench_calls.py``, "one call on many extensions".)
"""
from __future__ import annotations

import gc
import logging

import pytest

from lguapi.calls import CallTracker, _twin
from lguapi.calls.state import BIG, leg_counts

from kit import scrambled
from kit.scrambled import Rules
from kit.text import ev

TRUNK = "SIP/gw2.eicn-0000abcd"
UID = "1700000000.77"


def _counts(st) -> tuple[int, int, int, int, int]:
    return st.n_ringing, st.n_connected, st.n_held, st.n_xfer, st.n_transfer


def _check_state(tracker: CallTracker) -> None:
    """Every call's counts are its legs' (``leg_counts``), its indexes hold every leg of each
    extension and of each own channel in order and the first of each pair of them, and its sets
    hold its extensions and handlers."""
    for st in tracker._book.states.values():
        assert _counts(st) == leg_counts(st.legs), st.call.id
        if st.by_exten is not None:
            assert {e: list(legs) for e, legs in st.by_exten.items()} == _by(st.legs, "exten")
            assert {o: list(legs) for o, legs in st.by_own.items()} == _by(st.legs, "own")
            firsts: dict = {}
            for leg in st.legs:
                firsts.setdefault((leg.exten, leg.own), leg)
            assert st.by_pair == firsts
        if st.ext_set is not None:
            assert st.ext_set == set(st.extens)
        if st.handled_set is not None:
            assert st.handled_set == set(st.handled)


def _by(legs, field: str) -> dict:
    out: dict = {}
    for leg in legs:
        out.setdefault(getattr(leg, field), []).append(leg)
    return out


def _ring_all(agents: list[str], answering: str, hold: bool = True) -> list:
    """A caller's call rung on every agent at once (one unique id, each agent's own channel):
    ``answering`` answers, puts the caller on hold and back, the other rings go out, then
    the agent hangs up. Each event as the agent's own connection receives it."""
    t = 1000.0
    out = []

    def add(text: str, exten: str) -> None:
        nonlocal t
        t += 0.01
        out.append(ev(text, exten, ts=t))

    for a in agents:
        add(f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/{a}-0000{a}|RECHANNEL:{TRUNK}|INEXTEN:07012340000|AGENT:{a}"
            f"|CALLERID:01012345678|UNIQUEID:{UID}", a)
    add(f"CHANNELLIST|CHANNEL1:{TRUNK}|CHANNEL2:SIP/{answering}-0000{answering}|CALLER1ID:01012345678"
        f"|CALLER2ID:{answering}|INEXTEN:07012340000|UNIQUEID1:{UID}|UNIQUEID2:1700000001.{answering}", answering)
    if hold:
        add("CMDRESULT|CMD:HOLD|RES:OK", answering)
        add("CMDRESULT|CMD:UNHOLD|RES:OK", answering)
    for a in agents:
        if a != answering:
            add(f"CHANNELOUT|CHANNEL:SIP/{a}-0000{a}|RECHANNEL:{TRUNK}|UNIQUEID:1700000002.{a}"
                f"|SRCUNIQUEID:{UID}|HCAUSE:26", a)
    add(f"CHANNELOUT|CHANNEL:SIP/{answering}-0000{answering}|RECHANNEL:{TRUNK}|UNIQUEID:1700000001.{answering}"
        f"|SRCUNIQUEID:{UID}|HCAUSE:16", answering)
    return out


def _feed(events: list, **options) -> tuple[CallTracker, list]:
    now = [events[0].ts]
    tracker = CallTracker(clock=lambda: now[0], end_grace=0.5, **options)
    rules = Rules()
    updates = []
    for e in events:
        now[0] = e.ts
        ups = tracker.feed(e)
        rules.see(ups)
        _check_state(tracker)
        updates += ups
    now[0] += 10.0
    ups = tracker.expire(now[0])
    rules.see(ups)
    assert rules.finish(tracker) == []
    return tracker, updates + ups


def _shape(updates: list, agents: list[str]) -> list:
    """The updates with each agent named by its place in ``agents`` (a big call and a small
    one compared)."""
    place = {a: f"agent{i}" for i, a in enumerate(agents)}

    def name(x):
        if isinstance(x, str):
            for a, p in place.items():
                x = x.replace(a, p)
            return x
        if isinstance(x, (list, tuple)):
            return [name(y) for y in x]
        if isinstance(x, dict):
            return {name(k): name(v) for k, v in x.items()}
        return x

    keep = ("kind", "state", "direction", "answered_by", "handled_by", "remote_number", "end_reason", "hangup_cause")
    return [name([u.kind, u.state, {k: u.call.to_dict()[k] for k in keep[2:]}, u.call.active_extens,
                  u.call.exten[:2]]) for u in updates]


@pytest.mark.parametrize("n", [3, BIG - 1, BIG, 300])
def test_a_queue_ringing_many_agents_makes_one_call_answered_by_one(n):
    agents = [str(4000 + i) for i in range(n)]
    answering = agents[n // 2]
    tracker, updates = _feed(_ring_all(agents, answering))
    (call,) = {u.call.id: u.call for u in updates}.values()
    assert call.exten == tuple(agents) and call.handled_by == (answering,)
    assert (call.direction, call.answered_by, call.end_reason, call.hangup_cause) == ("inbound", answering,
                                                                                       "hangup", 16)
    assert call.remote_number == "01012345678" and not call.active_extens
    states = [u.state for u in updates]
    assert [s for k, s in enumerate(states) if k == 0 or s != states[k - 1]] == [
        "ringing", "connected", "held", "connected", "ended"]
    assert [u.kind for u in updates[:n]] == ["new"] + ["changed"] * (n - 1)  # an update per agent rung


def test_a_big_call_makes_what_a_small_one_of_the_same_shape_makes():
    small = [str(4000 + i) for i in range(4)]
    big = [str(5000 + i) for i in range(400)]
    _, few = _feed(_ring_all(small, small[2]))
    tracker, many = _feed(_ring_all(big, big[2]))
    # the big call: one update per ring (an extension joins), then what the small one made
    assert _shape(few[4:], small) == _shape(many[400:], big)
    assert [u.kind for u in many[:400]] == ["new"] + ["changed"] * 399


def test_the_indexes_of_a_big_call_are_made_and_kept_as_it_grows():
    agents = [str(4000 + i) for i in range(BIG * 3)]
    events = _ring_all(agents, agents[-1], hold=False)
    now = [events[0].ts]
    tracker = CallTracker(clock=lambda: now[0])
    for e in events[:BIG * 3]:  # every ring
        now[0] = e.ts
        tracker.feed(e)
        _check_state(tracker)
    (st,) = tracker._book.states.values()
    assert st.by_exten is not None and st.ext_set == set(agents) and len(st.legs) == BIG * 3
    assert _counts(st) == (BIG * 3, 0, 0, 0, 0)
    if _twin.COMPILED:  # the indexes, their lists and the sets hold no cycle: the collector never sees them
        held = [st.legs, st.by_exten, st.by_own, st.by_pair, st.ext_set, *st.by_exten.values(),
                *st.by_own.values()]
        assert not any(gc.is_tracked(x) for x in held)


def test_the_counts_of_legs_by_status_are_the_legs_after_every_scrambled_event(caplog):
    caplog.set_level(logging.ERROR, "lguapi.calls")
    for k in range(300):
        options, events = scrambled.case_events(13, k)
        now = [events[0].ts]
        tracker = CallTracker(clock=lambda: now[0], **options)
        for e in events:
            now[0] = e.ts
            tracker.feed(e)
            _check_state(tracker)
        now[0] += scrambled.PAST_EVERY_EXPIRY
        tracker.expire(now[0])
        assert not tracker._book.states, k


def _conference(members: list[str]) -> list:
    """Every member joins room 7001 from its own channel, then each leaves in turn."""
    out = []
    t = 1000.0
    for action in ("CONFMEMBERADD", "CONFMEMBERDEL"):
        for i, m in enumerate(members):
            t += 0.01
            count = i + 1 if action == "CONFMEMBERADD" else len(members) - i - 1
            out.append(ev(f"CONFERENCEEVENT|CMD:{action}|CONFNAME:7001|CHANNEL:SIP/{m}-0000{m}|UNIQUEID:1700.{m}"
                          f"|COUNT:{count}|MEMBER:{m}", m, ts=t))
    return out


def test_a_big_conference_makes_what_a_small_one_of_the_same_shape_makes():
    for n in (4, 300):
        members = [str(5000 + i) for i in range(n)]
        events = _conference(members)
        now = [events[0].ts]
        tracker = CallTracker(clock=lambda: now[0], end_grace=0.5)
        updates = []
        for k, e in enumerate(events):
            now[0] = e.ts
            updates += tracker.feed(e)
            _check_state(tracker)
            if k == n - 1:  # everyone joined
                (call,) = tracker.active.values()
                assert call.active_extens == {m: "connected" for m in members}
            elif k == 2 * n - 2:  # all but the last left
                assert call.active_extens == {members[-1]: "connected"}
        now[0] += 10.0
        updates += tracker.expire(now[0])
        assert [(u.kind, u.state) for u in updates] == [("new", "conference")] + [("changed", "conference")] * (
            n - 1) + [("ended", "ended")], n
        assert call.room == "7001" and call.exten == call.handled_by == tuple(members)
        assert (call.end_reason, call.end_at) == ("hangup", events[-1].ts) and not call.active_extens
