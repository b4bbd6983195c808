"""The tracker's cache hints (lguapi.calls.hints): they run where they can and change nothing.

``warm`` prefetches the memory of the calls whose ends the deadline queue confirms next. A
prefetch changes no value, so a tracker fed in batches (which warms every WARM_EVERY events)
must give exactly what one fed an event at a time (which never warms) gives, on traffic whose
queue is longer than every step's reach. Runs on whichever twin is selected (the CI runs it on
both): the compiled twin's steps advance, the pure twin's ``warm`` does nothing.
"""
from __future__ import annotations

import itertools

from lgucore import tokenize
from lguapi.calls import CallTracker
from lguapi.calls._twin import COMPILED, hot
from lguapi.events import parse_event

from kit.clock import Clock

EXTENS = 300


def _flows(calls_per_exten: int) -> list:
    """Every extension's answered and missed inbound calls, the extensions taking turns (as a
    monitor of many connections sees them), 1 ms apart: hundreds of ends wait in the grace."""
    per = []
    for x in range(EXTENS):
        exten = str(20000 + x)
        texts = []
        for k in range(calls_per_exten):
            n = (x * calls_per_exten + k) * 3
            ring, conn, trunk = f"SIP/{exten}-{n:08x}", f"SIP/{exten}-{n + 1:08x}", f"SIP/gw2.eicn-{n:08x}"
            texts.append(f"RINGEVENT|ISDIAL:0|CHANNEL:{ring}|RECHANNEL:{trunk}|AGENT:{exten}|CALLERID:0101234{x:04d}"
                         f"|UNIQUEID:1700.{n}")
            if k % 3 == 2:
                texts.append(f"CHANNELOUT|CHANNEL:{ring}|RECHANNEL:{trunk}|UNIQUEID:1700.{n + 1}"
                             f"|SRCUNIQUEID:1700.{n}|HCAUSE:19")
            else:
                texts.append(f"CHANNELLIST|CHANNEL1:{trunk}|CHANNEL2:{conn}|CALLER1ID:0101234{x:04d}"
                             f"|CALLER2ID:{exten}|UNIQUEID1:1700.{n}|UNIQUEID2:1700.{n + 2}")
                texts.append(f"CHANNELOUT|CHANNEL:{conn}|RECHANNEL:{trunk}|UNIQUEID:1700.{n + 2}"
                             f"|SRCUNIQUEID:1700.{n}|HCAUSE:16")
        per.append([(exten, t) for t in texts])
    turns = [et for turn in zip(*per) for et in turn]
    return [parse_event(tokenize(t.encode()), exten=e, ts=1.0 + i * 0.001) for i, (e, t) in enumerate(turns)]


def _shape(updates) -> list[tuple]:
    return [(u.kind, u.call.id, u.state, u.event) for u in updates]


def test_batches_that_warm_give_what_single_events_give():
    evs = _flows(4)
    times = [ev.ts for ev in evs]
    one_clock = Clock(0.0)
    one = CallTracker(clock=one_clock, end_grace=2.0)
    # feed_many reads the clock once per event: it follows the events (after the one read at creation)
    many = CallTracker(clock=itertools.chain([0.0], times, itertools.repeat(times[-1])).__next__, end_grace=2.0)
    want, got = [], []
    for ev in evs:
        one_clock.t = ev.ts
        want += one.feed(ev)
    dl = many._book.deadlines
    longest = 0
    for i in range(0, len(evs), 64):
        got += many.feed_many(evs[i:i + 64])
        longest = max(longest, len(dl.fifo))
    got += many.flush()
    want += one.flush()
    warm = hot("hints")
    assert longest > warm.FAR  # every step had entries to reach
    assert _shape(got) == _shape(want) and sum(u.kind == "ended" for u in got) == EXTENS * 4
    assert [c.to_dict() for c in many.ended] == [c.to_dict() for c in one.ended]
    assert many.stats == one.stats
    steps = (dl.warm_far, dl.warm_mid, dl.warm_near)
    if COMPILED:
        assert all(s > 0 for s in steps) and dl.warm_far >= dl.warm_mid >= dl.warm_near
    else:
        assert steps == (0, 0, 0)


def test_recorded_batches_warm_too_and_change_nothing():
    evs = _flows(2)
    clock = Clock(0.0)
    one = CallTracker(clock=clock, end_grace=2.0)
    want = []
    for ev in evs:
        clock.t = ev.ts
        want += one.feed(ev)
    rec = CallTracker(clock=Clock(0.0), end_grace=2.0)
    got = rec.feed_recorded(evs)  # one batch: warm runs inside it, every WARM_EVERY events
    assert _shape(got) == _shape(want)
    assert (rec._book.deadlines.warm_near > 0) is COMPILED


def test_warm_skips_entries_without_a_state():
    dl = hot("timers").Deadlines(5.0, 0.0)
    for i in range(300):  # the queue's shape, (deadline, seq, call id, token, state), with no state
        dl.fifo.append((10.0 + i, i + 1, f"c{i}", i + 1, None))
    hot("hints").warm(dl)
    assert (dl.warm_far, dl.warm_mid, dl.warm_near) == (0, 0, 0) and len(dl.fifo) == 300
